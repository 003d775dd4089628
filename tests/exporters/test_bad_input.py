"""Exporters under bad input (issue 17, section 3): labels of any length or spelling never collide, merge
or overflow a file name; degenerate scenes are refused with a message about the scene."""

from dataclasses import replace

import numpy as np
import pytest
import torch
import trimesh

from _scenes import box_room_scene, fast_export_config
from lyra_sim.exporters.bundle import export_bundle
from lyra_sim.exporters.convex import ConvexConfig
from lyra_sim.manifest import verify
from lyra_sim.ply import PlyFormatError, read_ply, write_ply
from lyra_sim.scene import GaussianScene

LONG = "a very long label " * 17  # 306 characters: "<label>_000.obj" was too long a file name


def test_duplicate_label_names_are_refused_not_merged(tmp_path):
    scene = box_room_scene(spacing=0.3)
    with pytest.raises(ValueError, match="'wall' appear.* more than once"):
        replace(scene, label_names=("floor", "wall", "wall", "table_0"))
    path = tmp_path / "dup.ply"
    write_ply(path, scene)
    data = path.read_bytes().replace(b'"ceiling"', b'"wall"')  # a file that says it: refused when read
    path.write_bytes(data)
    with pytest.raises(PlyFormatError, match="dup.ply: label_names: 'wall' appear"):
        read_ply(path)


def test_labels_that_spell_alike_get_their_own_usd_subsets(tmp_path):
    pytest.importorskip("pxr")
    from pxr import Usd, UsdGeom, UsdSemantics

    from lyra_sim.exporters.usd import ColliderMesh, write_usd

    box = trimesh.creation.box(extents=(2.0, 2.4, 1.6))
    collider = ColliderMesh(np.asarray(box.vertices), np.asarray(box.faces))
    names = ("wall a", "wall_a", LONG)  # one prim name each, none too long
    scene = replace(box_room_scene(spacing=0.3), labels=None, label_names=())
    scene = replace(scene, labels=torch.zeros(len(scene), dtype=torch.int64), label_names=names)
    face_labels = np.array([0, 0, 1, 1, 1, 2] + [-1] * (len(box.faces) - 6))
    write_usd(tmp_path, scene, collider, face_labels=face_labels, label_names=names)
    stage = Usd.Stage.Open(str(tmp_path / "scene.usda"))
    static = UsdGeom.Imageable(stage.GetPrimAtPath("/World/Collision/Static"))
    subsets = UsdGeom.Subset.GetGeomSubsets(static, "face", "semantics")
    by_label = {UsdSemantics.LabelsAPI(s.GetPrim(), "instance").GetLabelsAttr().Get()[0]: s for s in subsets}
    assert sorted(by_label) == sorted(names)
    assert [list(by_label[n].GetIndicesAttr().Get()) for n in names] == [[0, 1], [2, 3, 4], [5]]
    assert all(len(s.GetPrim().GetName()) <= 64 for s in subsets)


def test_a_300_character_label_exports_with_convex_parts(tmp_path):
    scene = box_room_scene(spacing=0.05)
    scene = replace(scene, label_names=(*scene.label_names[:3], LONG))  # the block's label
    write_ply(tmp_path / "room.ply", scene)
    config = replace(fast_export_config(), convex=ConvexConfig(threshold=0.1, max_parts=4, resolution=400,
                                                               preprocess_resolution=20, mcts_iterations=20))
    manifest = export_bundle(tmp_path / "room.ply", tmp_path / "b", ("mjcf", "urdf"), config)
    out = tmp_path / "b"
    assert verify(out) == [] and list(manifest["convex"]["parts"]) == [LONG]
    parts = sorted(p.name for p in (out / "collision_parts").iterdir())
    assert parts and all(len(p) < 80 and p.startswith("a_very_long_label_") for p in parts)
    assert manifest["label_names"][3] == LONG  # the label itself is kept whole
    mujoco = pytest.importorskip("mujoco")
    model = mujoco.MjModel.from_xml_path(str(out / "scene.xml"))
    assert model.nbody == 2  # world + the object


def _scene(means):
    n = len(means)
    return GaussianScene.from_rgb(torch.tensor(means, dtype=torch.float32), torch.tensor([[1.0, 0, 0, 0]]).repeat(n, 1),
                                  torch.full((n, 3), 0.02), torch.full((n,), 0.9), torch.full((n, 3), 0.5))


@pytest.mark.parametrize("means", [
    [[0.0, 0.0, 0.0]],  # one splat
    [[1.0, 2.0, 3.0]] * 50,  # all at one point
    [[x, 0.0, 0.0] for x in np.linspace(0, 2, 50)],  # a line
])
def test_a_degenerate_scene_is_refused_by_what_is_wrong_with_it(tmp_path, means):
    write_ply(tmp_path / "s.ply", _scene(means))
    with pytest.raises(ValueError, match=r"s.ply: collision: the Gaussians span .* m: too (few|flat) .*collision mesh") as info:
        export_bundle(tmp_path / "s.ply", tmp_path / "out", ("obj",), fast_export_config())
    assert "look_at" not in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.ply"]


def test_a_voxel_too_fine_for_the_scene_is_refused_before_fusion(tmp_path):
    from lyra_sim.exporters.collision import CollisionConfig, plan_views

    big = box_room_scene(spacing=0.3, room=(20.0, 24.0, 6.0))
    with pytest.raises(ValueError, match=r"voxel_size: 0.005 m is too fine for a scene 31.8 m across: at least 0.0159 m"):
        plan_views(big, CollisionConfig(voxel_size=0.005))
