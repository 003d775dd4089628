"""`lyra_sim.pipelines.generate_bundle`: any source straight to a bundle; scratch space never outlives the call."""

import pytest
import torch

from lyra_sim.cameras import ViewConfig, look_at_cameras
from lyra_sim.exporters import bundle as bundle_module
from lyra_sim.exporters.bundle import ExportConfig
from lyra_sim.exporters.collision import CollisionConfig
from lyra_sim.manifest import read_manifest, verify
from lyra_sim.pipelines import MadeScene, ProceduralSource, generate_bundle
from lyra_sim.scene import GaussianScene

SMALL_ROOM = {"room": {"type": "kitchen", "size": [2.4, 2.0, 2.2]}, "objects": [{"kind": "table"}]}
VIEW = ViewConfig(width=32, height=24)
FAST = ExportConfig(collision=CollisionConfig(resolution=64, voxel_size=0.05, num_viewpoints=6))


class Recording:
    def __init__(self, inner):
        self.inner, self.calls = inner, 0

    def make(self, view, stage):
        self.calls += 1
        return self.inner.make(view, stage)


class Failing:
    def make(self, view, stage):
        raise RuntimeError("the world model crashed")


class Empty:
    """A source whose scene has no Gaussians: the scene directory is written, the export refuses it."""

    def make(self, view, stage):
        z = torch.zeros(0, 3)
        scene = GaussianScene.from_rgb(z, torch.zeros(0, 4), z, torch.zeros(0), z)
        return MadeScene(scene, look_at_cameras(torch.tensor([[0.0, -2.0, 1.0]]), torch.zeros(1, 3), 8, 8), {}, {})


def _entries(directory):
    return sorted(p.name for p in directory.iterdir())


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("bundles")
    timings, stages = {}, []
    manifest = generate_bundle(root / "bundle", ProceduralSource(SMALL_ROOM, 3), ("obj",), FAST, view=VIEW,
                               stage=stages.append, timings=timings)
    return root, manifest, timings, stages


def test_the_bundle_verifies_and_nothing_else_is_left(built):
    root, manifest, _, _ = built
    assert _entries(root) == ["bundle"]  # no .gen scratch, no .tmp
    out = root / "bundle"
    assert verify(out) == [] and read_manifest(out) == manifest
    assert _entries(out) == ["collision.obj", "manifest.json", "nav.npz", "preview.png", "scene.ply", "visual.obj"]
    assert manifest["kind"] == "bundle" and manifest["formats"] == ["obj"]
    assert manifest["seed"] == 3 and manifest["world_model"]["name"] == "procedural"  # carried from the scene
    assert manifest["bounds"]["room"] == [[-1.2, -1.0, 0.0], [1.2, 1.0, 2.2]]


def test_timings_include_generation(built):
    _, _, timings, stages = built
    assert {"generation", "write", "nav"} <= set(timings) and timings["generation"] > 0
    assert stages[0].startswith("imagining")


def test_refuses_an_existing_non_empty_out_before_the_source_runs(tmp_path):
    out = tmp_path / "bundle"
    out.mkdir()
    (out / "keep.txt").write_text("keep")
    source = Recording(ProceduralSource(SMALL_ROOM, 3))
    with pytest.raises(FileExistsError, match="not empty"):
        generate_bundle(out, source, ("obj",), FAST, view=VIEW)
    assert source.calls == 0 and _entries(out) == ["keep.txt"] and _entries(tmp_path) == ["bundle"]


def test_a_bad_format_fails_before_any_work(tmp_path):
    source = Recording(ProceduralSource(SMALL_ROOM, 3))
    with pytest.raises(ValueError, match=r"unknown format\(s\) 'fbx'"):
        generate_bundle(tmp_path / "bundle", source, ("obj", "fbx"), FAST, view=VIEW)
    assert source.calls == 0 and _entries(tmp_path) == []


def test_a_failing_source_leaves_no_scratch(tmp_path):
    with pytest.raises(RuntimeError, match="the world model crashed"):
        generate_bundle(tmp_path / "bundle", Failing(), ("obj",), FAST, view=VIEW)
    assert _entries(tmp_path) == []


def test_a_failing_export_leaves_no_scratch(tmp_path):
    with pytest.raises(ValueError, match="the scene has no Gaussians"):
        generate_bundle(tmp_path / "bundle", Empty(), ("obj",), FAST, view=VIEW)
    assert _entries(tmp_path) == []


def test_a_failure_inside_the_bundle_directory_leaves_nothing(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("mesh extraction failed")

    monkeypatch.setattr(bundle_module, "extract_collision_mesh", broken)  # after scene.ply is copied into the temp
    with pytest.raises(RuntimeError, match="mesh extraction failed"):
        generate_bundle(tmp_path / "sub" / "bundle", ProceduralSource(SMALL_ROOM, 3), ("obj",), FAST, view=VIEW)
    assert _entries(tmp_path / "sub") == []


def test_overwrite_keeps_the_old_bundle_when_the_new_one_fails(tmp_path, built):
    import shutil

    root, _, _, _ = built
    out = tmp_path / "bundle"
    shutil.copytree(root / "bundle", out)
    before = {name: (out / name).read_bytes() for name in _entries(out)}
    with pytest.raises(RuntimeError, match="the world model crashed"):
        generate_bundle(out, Failing(), ("obj",), FAST, view=VIEW, overwrite=True)
    assert {name: (out / name).read_bytes() for name in _entries(out)} == before and _entries(tmp_path) == ["bundle"]
