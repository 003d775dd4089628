"""Dynamic bundles (`lyra_sim.exporters.dynamic_bundle`): the dynamic box room exported, verified, opened in USD
and MuJoCo; a sphere in the cart's path is pushed by the cart's mocap body."""

import json
import shutil

import numpy as np
import open3d  # noqa: F401  (before mujoco: mujoco 4 imported first breaks open3d's bindings)
import pytest

from _dynamic import CART, box_room_dynamic, box_room_dynamic_bundle
from _scenes import fast_export_config
from lyra_sim.dynamic import write_scene4d
from lyra_sim.exporters.dynamic_bundle import export_dynamic_bundle, verify_bundle
from lyra_sim.exporters.mesh_metrics import EvalConfig, evaluate_mesh
from lyra_sim.exporters.motion_track import read_motion, read_motion_npz, set_mocap
from lyra_sim.exporters.usd import validate
from lyra_sim.manifest import read_manifest, write_manifest
from lyra_sim.ply import read_ply

FORMATS = ("usd", "usdz", "mjcf", "urdf", "glb")


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    root = tmp_path_factory.mktemp("dynamic")
    dynamic, _ = box_room_dynamic()
    write_scene4d(root / "scene" / "scene4d", dynamic)
    return root / "scene"


@pytest.fixture(scope="module")
def bundle():
    return box_room_dynamic_bundle()  # the same source, exported with FORMATS


def test_layout_and_verification(bundle, source):
    assert verify_bundle(bundle) == []
    manifest = read_manifest(bundle)
    files = set(manifest["files"])
    for name in ("scene.ply", "collision.obj", "nav.npz", "scene.usda", "splats.usdc", "scene.usdz", "scene.xml",
                 "scene.urdf", "motion.json", "motion.npz", "scene4d/index.json", "scene4d/t0007.ply",
                 "parts/cart_0/splats.ply", "parts/cart_0/collision.obj", "parts/cart_0/splats.usdc",
                 "parts/door_0_leaf/collision.obj"):
        assert name in files, name
    assert (bundle / "scene4d" / "t0003.ply").read_bytes() == (source / "scene4d" / "t0003.ply").read_bytes()
    assert manifest["dynamic"]["parts"] == ["cart_0", "door_0.leaf"] and manifest["dynamic"]["fps"] == 4.0
    static = read_ply(bundle / "scene.ply")
    gone = [static.label_names.index(n) for n in ("cart_0", "door_0.leaf")]
    assert not np.isin(static.labels.numpy(), gone).any()  # the static part only
    assert manifest["num_gaussians"] == len(static)


def test_motion_files_hold_the_true_poses(bundle):
    _, truth = box_room_dynamic()
    motion = read_motion(bundle)
    assert [p["name"] for p in motion.parts] == ["cart_0", "door_0.leaf"]
    for track, part in zip(motion.tracks, motion.parts):
        poses = track.pose_at(np.array(motion.times))
        true = truth.motions[part["name"]] @ poses[0]  # the part frame at the first time, moved as the truth moves
        np.testing.assert_allclose(poses, true, atol=1e-6)
        assert part["loop"] == "wrap" and part["pose_method"] == "kabsch"
        box = np.array(truth.boxes[part["name"]]) - np.array(part["position"][0])  # the true box, part frame
        assert np.abs(np.array(part["bounds"]["collision"]) - box).max() < 0.07  # within two 3 cm voxels
    for a, b in zip(read_motion_npz(bundle), motion.tracks):
        assert a.name == b.name and np.array_equal(a.positions, b.positions) and a.loop == b.loop


def test_part_collision_meshes_match_their_boxes(bundle):
    import trimesh

    _, truth = box_room_dynamic()
    motion = read_motion(bundle)
    for part in motion.parts:
        mesh = trimesh.load(bundle / part["files"]["collision"], process=False)
        lo, hi = truth.boxes[part["name"]]
        box = trimesh.creation.box(extents=hi - lo)
        box.apply_translation((lo + hi) / 2 - np.array(part["position"][0]))  # into the part frame
        result = evaluate_mesh(mesh.vertices, mesh.faces, [(box.vertices, box.faces)],
                               config=EvalConfig(num_points=20000, visible_only=False))
        assert result.fscore[0.05] > 0.95, (part["name"], result.fscore)


def test_motion_times_that_differ_from_scene4d_are_one_clear_error(bundle, tmp_path):
    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    data = json.loads((copy / "motion.json").read_text())
    data["times"] = [t * 2 for t in data["times"]]
    for part in data["parts"]:
        part["times"] = data["times"]
    (copy / "motion.json").write_text(json.dumps(data))
    manifest = read_manifest(copy)
    write_manifest(copy, {k: v for k, v in manifest.items() if k not in ("files", "format", "format_version")})
    problems = verify_bundle(copy)
    assert len(problems) == 1 and "do not match scene4d/index.json" in problems[0] and "0.5 vs 0.25 s" in problems[0]
    (copy / "motion.json").write_text("{}")  # and a changed file is caught by the manifest
    assert any("motion.json: sha256 differs" in p for p in verify_bundle(copy))


def test_usd_validates_and_animates_the_parts(bundle):
    pytest.importorskip("pxr")
    from pxr import Usd, UsdGeom, UsdPhysics, UsdVol

    assert validate(bundle / "scene.usda") == []
    assert validate(bundle / "scene.usdz") == []
    stage = Usd.Stage.Open(str(bundle / "scene.usda"))
    assert stage.GetTimeCodesPerSecond() == 4.0
    assert (stage.GetStartTimeCode(), stage.GetEndTimeCode()) == (0.0, 8.0)  # one loop: 8 frames and the return
    motion = read_motion(bundle)
    for track in motion.tracks:
        prim = stage.GetPrimAtPath(f"/World/Moving/{track.name.replace('.', '_')}")
        body = UsdPhysics.RigidBodyAPI(prim)
        assert body and body.GetKinematicEnabledAttr().Get() is True
        xform = UsdGeom.Xformable(prim)
        for code in (0.0, 3.0, 5.5):
            m = np.array(xform.ComputeLocalToWorldTransform(Usd.TimeCode(code))).T  # USD matrices are row-major, x' = x M
            np.testing.assert_allclose(m, track.pose_at(code / 4.0), atol=1e-6)
        splats = [p for p in Usd.PrimRange(prim) if p.IsA(UsdVol.ParticleField3DGaussianSplat)]
        colliders = [p for p in Usd.PrimRange(prim) if p.HasAPI(UsdPhysics.CollisionAPI)]
        assert len(splats) == 1 and len(colliders) >= 6
    static = [p for p in stage.Traverse() if p.IsA(UsdVol.ParticleField3DGaussianSplat) and "Moving" not in str(p.GetPath())]
    assert len(static) == 1


def test_mujoco_mocap_part_pushes_a_sphere_in_its_path(bundle):
    mujoco = pytest.importorskip("mujoco")
    spec = mujoco.MjSpec.from_file(str(bundle / "scene.xml"))
    ball = spec.worldbody.add_body(name="ball", pos=[0.95, (CART[0][1] + CART[1][1]) / 2, 0.09])
    ball.add_freejoint()
    ball.add_geom(type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[0.08, 0, 0], mass=0.3, condim=6, friction=[0.5, 0.01, 0.01])
    model = spec.compile()
    assert model.nmocap == 2
    data = mujoco.MjData(model)
    tracks = read_motion_npz(bundle)
    while data.time < 0.95:  # the cart drives +x for a second (its front from 0.65 m to 1.65 m)
        set_mocap(model, data, tracks, data.time)
        mujoco.mj_step(model, data)
    cart = read_motion(bundle).tracks[0].pose_at(data.time)[0, 3]
    x = float(data.qpos[0])
    assert x > 1.2  # pushed well along (it started at 0.95 m)
    assert x > cart + 0.1  # and ahead of the cart's center, not run through
    assert 0.05 < float(data.qpos[2]) < 0.2  # still on the floor


def test_same_scene_same_bytes(bundle, source, tmp_path):
    again = tmp_path / "again"
    export_dynamic_bundle(source, again, FORMATS, fast_export_config())
    assert read_manifest(again)["files"] == read_manifest(bundle)["files"]


def test_refusals(source, tmp_path):
    dynamic, _ = box_room_dynamic()
    still = tmp_path / "still"
    write_scene4d(still / "scene4d", type(dynamic)(dynamic.times[:2], (dynamic[0],) * 2, 4.0))  # two identical times
    with pytest.raises(ValueError, match="nothing moves more than 0.02 m"):
        export_dynamic_bundle(still, tmp_path / "b1", ("mjcf",), fast_export_config())
    (tmp_path / "plain").mkdir()
    with pytest.raises(ValueError, match="not a dynamic scene"):
        export_dynamic_bundle(tmp_path / "plain", tmp_path / "b2", ("mjcf",), fast_export_config())
    assert not (tmp_path / "b1").exists() and not (tmp_path / "b2").exists()
