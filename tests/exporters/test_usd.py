"""USD export (`lyra_sim.exporters.usd`): re-open the stage and compare with the source."""

import numpy as np
import pytest
import trimesh

from _scenes import box_room_scene
from lyra_sim.exporters.usd import ColliderMesh, validate, write_usd, write_usd_bundle, write_usdz

pxr = pytest.importorskip("pxr")
from pxr import Usd, UsdGeom, UsdPhysics, UsdSemantics, UsdVol  # noqa: E402


@pytest.fixture(scope="module")
def scene():
    return box_room_scene(spacing=0.08, sh_degree=2)  # view-dependent color: 9 coefficients


@pytest.fixture(scope="module")
def collider():
    box = trimesh.creation.box(extents=(2.0, 2.4, 1.6))
    box.invert()
    return ColliderMesh(np.asarray(box.vertices), np.asarray(box.faces))


@pytest.fixture(scope="module")
def part():
    box = trimesh.creation.box(extents=(0.6, 0.8, 0.5))
    return ColliderMesh(np.asarray(box.vertices), np.asarray(box.faces))


@pytest.fixture(scope="module")
def written(tmp_path_factory, scene, collider, part):
    out = tmp_path_factory.mktemp("usd")
    labels = np.full(len(collider.faces), -1)
    labels[:4] = scene.label_names.index("floor")
    labels[4:6] = scene.label_names.index("table_0")
    paths = write_usd_bundle(
        out, scene, collider, usdz=True, parts=[part], face_labels=labels, label_names=scene.label_names,
        custom_data={"prompt": "a box room", "seed": 7, "packages": {"usd-core": "26.11"}, "skipped": None},
    )
    return out, paths


def test_files_and_stage_metadata(written):
    out, paths = written
    assert sorted(p.name for p in paths) == ["scene.usda", "scene.usdz", "splats.usdc"]
    stage = Usd.Stage.Open(str(out / "scene.usda"))
    assert UsdGeom.GetStageUpAxis(stage) == UsdGeom.Tokens.z
    assert UsdGeom.GetStageMetersPerUnit(stage) == 1.0
    assert stage.GetDefaultPrim().GetPath() == "/World"
    data = stage.GetRootLayer().customLayerData["lyra_sim"]
    assert data["prompt"] == "a box room" and data["seed"] == 7 and data["packages"]["usd-core"] == "26.11"
    assert "skipped" not in data


def test_one_splat_prim_with_the_source_values(written, scene):
    out, _ = written
    stage = Usd.Stage.Open(str(out / "scene.usda"))
    splats = [p for p in stage.Traverse() if p.IsA(UsdVol.ParticleField3DGaussianSplat)]
    assert len(splats) == 1
    g = UsdVol.ParticleField3DGaussianSplat(splats[0])
    n = len(scene)
    positions = np.asarray(g.GetPositionsAttr().Get())
    assert positions.shape == (n, 3) and np.allclose(positions, scene.means.numpy())
    quats = g.GetOrientationsAttr().Get()
    wxyz = np.array([[q.GetReal(), *q.GetImaginary()] for q in quats])
    assert np.allclose(wxyz, scene.quats.numpy(), atol=1e-6)
    assert np.allclose(np.asarray(g.GetScalesAttr().Get()), scene.scales.numpy())
    assert np.allclose(np.asarray(g.GetOpacitiesAttr().Get()), scene.opacities.numpy())
    assert g.GetRadianceSphericalHarmonicsDegreeAttr().Get() == 2
    coeffs = np.asarray(g.GetRadianceSphericalHarmonicsCoefficientsAttr().Get())
    assert coeffs.shape == (n * 9, 3) and np.allclose(coeffs.reshape(n, 9, 3), scene.sh.numpy())
    labels = np.asarray(UsdGeom.PrimvarsAPI(splats[0]).GetPrimvar("semantics:labelIndex").Get())
    assert np.array_equal(labels, scene.labels.numpy())
    assert list(splats[0].GetAttribute("semantics:labelNames").Get()) == list(scene.label_names)


def test_colliders_and_physics(written, collider):
    out, _ = written
    stage = Usd.Stage.Open(str(out / "scene.usda"))
    static = stage.GetPrimAtPath("/World/Collision/Static")
    assert static.HasAPI(UsdPhysics.CollisionAPI) and static.HasAPI(UsdPhysics.MeshCollisionAPI)
    assert UsdPhysics.MeshCollisionAPI(static).GetApproximationAttr().Get() == UsdPhysics.Tokens.none
    mesh = UsdGeom.Mesh(static)
    assert mesh.GetPurposeAttr().Get() == UsdGeom.Tokens.guide
    assert np.allclose(np.asarray(mesh.GetPointsAttr().Get()), collider.vertices)
    assert np.array_equal(np.asarray(mesh.GetFaceVertexIndicesAttr().Get()).reshape(-1, 3), collider.faces)
    part = stage.GetPrimAtPath("/World/Collision/Parts/part_000")
    assert UsdPhysics.MeshCollisionAPI(part).GetApproximationAttr().Get() == UsdPhysics.Tokens.convexHull
    scenes = [p for p in stage.Traverse() if p.IsA(UsdPhysics.Scene)]
    assert len(scenes) == 1
    assert UsdPhysics.Scene(scenes[0]).GetGravityDirectionAttr().Get() == (0, 0, -1)


def test_semantic_subsets(written):
    out, _ = written
    stage = Usd.Stage.Open(str(out / "scene.usda"))
    subsets = UsdGeom.Subset.GetGeomSubsets(UsdGeom.Imageable(stage.GetPrimAtPath("/World/Collision/Static")), "face", "semantics")
    by_name = {s.GetPrim().GetName(): s for s in subsets}
    assert sorted(by_name) == ["floor", "table_0"]
    assert list(by_name["table_0"].GetIndicesAttr().Get()) == [4, 5]
    labels = UsdSemantics.LabelsAPI(by_name["table_0"].GetPrim(), "class").GetLabelsAttr().Get()
    assert list(labels) == ["table"]


def test_stage_passes_the_validators(written):
    out, _ = written
    assert validate(out / "scene.usda") == []
    assert validate(out / "scene.usdz") == []


def test_validators_report_a_bad_stage(tmp_path):
    # usd-core 26 has no UsdUtils.ComplianceChecker; the UsdValidation validators stand in
    # for it, so show they do catch something: a stage without its metadata.
    stage = Usd.Stage.CreateNew(str(tmp_path / "bad.usda"))
    stage.DefinePrim("/World", "Xform")
    stage.GetRootLayer().Save()
    problems = validate(tmp_path / "bad.usda")
    assert [p.split(":")[1].split(".")[1] for p in problems] == [
        "MissingMetersPerUnitMetadata", "MissingUpAxisMetadata", "MissingDefaultPrim"]


def test_usdz_holds_everything_and_is_reproducible(written, tmp_path):
    out, _ = written
    stage = Usd.Stage.Open(str(out / "scene.usdz"))
    splats = [p for p in stage.Traverse() if p.IsA(UsdVol.ParticleField3DGaussianSplat)]
    assert len(splats) == 1
    again = write_usdz(out / "scene.usda", tmp_path / "again.usdz")
    assert again.read_bytes() == (out / "scene.usdz").read_bytes()


def test_same_input_same_bytes(tmp_path, scene, collider):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    for d in (a, b):
        write_usd(d, scene, collider, custom_data={"seed": 1})
    for name in ("scene.usda", "splats.usdc"):
        assert (a / name).read_bytes() == (b / name).read_bytes()


def test_empty_inputs_are_refused(tmp_path, scene, collider):
    with pytest.raises(ValueError, match="no faces"):
        write_usd(tmp_path, scene, ColliderMesh(np.zeros((0, 3)), np.zeros((0, 3), int)))
    with pytest.raises(FileNotFoundError):
        write_usd(tmp_path / "missing", scene, collider)
