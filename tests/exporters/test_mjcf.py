"""MuJoCo export (`lyra_sim.exporters.mjcf`): load the scene and drop spheres into it."""

import xml.etree.ElementTree as ET

import numpy as np
import pytest

from _scenes import BLOCK, ROOM, box_room_bundle
from lyra_sim.exporters.mjcf import SceneGeometry, mjcf_tree, write_mjcf

mujoco = pytest.importorskip("mujoco")

RADIUS = 0.08


def _drop(xml_path, position, seconds=2.0):
    """Add a free sphere at ``position``, simulate, return its final position and vertical speed."""
    spec = mujoco.MjSpec.from_file(str(xml_path))
    body = spec.worldbody.add_body(name="ball", pos=list(position))
    body.add_freejoint()
    # condim 6 adds rolling friction, so the ball settles instead of rolling on forever
    body.add_geom(type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[RADIUS, 0, 0], mass=0.5, condim=6, friction=[1.0, 0.01, 0.01])
    model = spec.compile()
    data = mujoco.MjData(model)
    for _ in range(int(seconds / model.opt.timestep)):
        mujoco.mj_step(model, data)
    return data.qpos[:3].copy(), abs(float(data.qvel[2]))


@pytest.fixture(scope="module")
def bundle():
    return box_room_bundle()


def test_scene_loads_with_static_convex_geoms(bundle):
    model = mujoco.MjModel.from_xml_path(str(bundle / "scene.xml"))
    assert model.nbody == 1  # the world only: everything is static
    assert model.ngeom > 10
    assert model.nmesh == model.ngeom - 1  # one mesh asset per geom (visual included), plus the floor box
    assert model.geom("floor").type[0] == mujoco.mjtGeom.mjGEOM_BOX


def test_sphere_dropped_in_the_room_rests_on_the_floor(bundle):
    pos, speed = _drop(bundle / "scene.xml", (1.5, 1.9, 1.2))
    assert speed < 0.05
    assert 0.3 < pos[0] < ROOM[0] and 0.3 < pos[1] < ROOM[1]  # still in the room
    assert pos[2] == pytest.approx(RADIUS, abs=0.03)  # on the floor, not through it


def test_sphere_dropped_on_the_block_rests_on_its_top(bundle):
    (x0, y0, _), (x1, y1, top) = BLOCK
    pos, speed = _drop(bundle / "scene.xml", ((x0 + x1) / 2, (y0 + y1) / 2, top + 0.3))
    assert speed < 0.05
    assert x0 < pos[0] < x1 and y0 < pos[1] < y1
    assert pos[2] == pytest.approx(top + RADIUS, abs=0.03)


def test_bodies_hold_their_parts_and_paths_are_relative(tmp_path):
    (tmp_path / "p").mkdir()
    for name in ("p/a.stl", "p/b.stl", "v.obj"):
        (tmp_path / name).write_text("solid x\nendsolid x\n")
    root = mjcf_tree(SceneGeometry(["p/a.stl"], {"chair_0": ["p/b.stl"]}, "v.obj")).getroot()
    assert root.find("compiler").get("meshdir") == "."
    body = root.find("worldbody/body")
    assert body.get("name") == "chair_0" and body.find("geom").get("mesh") == "chair_0_part_000"
    visual = root.find("worldbody/geom[@name='scene_visual']")
    assert visual.get("class") == "visual"
    path = write_mjcf(tmp_path / "scene.xml", SceneGeometry(["p/a.stl"], {}, "v.obj"))
    assert ET.parse(path).getroot().tag == "mujoco"


def test_missing_mesh_files_are_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing"):
        write_mjcf(tmp_path / "scene.xml", SceneGeometry(["nope.stl"]))
    assert not (tmp_path / "scene.xml").exists()


def test_a_sliver_static_piece_still_compiles(tmp_path):
    """MuJoCo computes every mesh's inertia; static pieces take a shell's, so a sliver below MuJoCo's
    volume tolerance (one came out of a fused warehouse: a near-collinear triangle's slab) does
    not stop the scene loading."""
    from lyra_sim.exporters.meshes import write_mesh

    (tmp_path / "p").mkdir()
    vertices = np.array([[0, 0, 4.2e-7], [0, 5.71442e-3, 3.6e-7], [0, 0.04, 0], [2.776728e-3, 0, 4.2e-7],
                         [2.776728e-3, 5.71442e-3, 3.6e-7], [2.776728e-3, 0.04, 0]])
    faces = np.array([[1, 2, 0], [3, 5, 4], [0, 2, 5], [5, 3, 0], [0, 3, 4], [4, 1, 0], [4, 5, 2], [2, 1, 4]])
    write_mesh(tmp_path / "p" / "sliver.stl", vertices, faces)
    path = write_mjcf(tmp_path / "scene.xml", SceneGeometry(["p/sliver.stl"]))
    model = mujoco.MjModel.from_xml_path(str(path))
    assert model.nmesh == 1
