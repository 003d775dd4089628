"""`lyra_sim.pipelines.scene_dir`: the one writer of scene directories (scene.ply, preview.png, manifest.json)."""

import numpy as np
import pytest
import torch
from PIL import Image

from lyra_sim.cameras import ViewConfig, look_at_cameras
from lyra_sim.manifest import read_manifest, verify
from lyra_sim.pipelines import MadeScene, ProceduralSource, generate_scene, write_scene_dir
from lyra_sim.pipelines import scene_dir as scene_dir_module
from lyra_sim.ply import read_ply
from lyra_sim.scene import GaussianScene
from lyra_sim.worlds import procedural

SMALL_ROOM = {"room": {"type": "kitchen", "size": [2.4, 2.0, 2.2]}, "objects": [{"kind": "table"}]}
VIEW = ViewConfig(width=40, height=30)
FILES = ["manifest.json", "preview.png", "scene.ply"]


class Recording:
    """A source that records whether it was asked to make anything."""

    def __init__(self, inner):
        self.inner, self.calls = inner, 0

    def make(self, view, stage):
        self.calls += 1
        return self.inner.make(view, stage)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("scene") / "scene"
    stages, timings = [], {}
    manifest = generate_scene(out, ProceduralSource(SMALL_ROOM, 3), view=VIEW, stage=stages.append, timings=timings)
    return out, manifest, stages, timings


def test_writes_exactly_the_three_files_and_they_verify(written):
    out, manifest, _, _ = written
    assert sorted(p.name for p in out.iterdir()) == FILES
    assert verify(out) == [] and read_manifest(out) == manifest
    assert sorted(p.name for p in out.parent.iterdir()) == ["scene"]  # no temporary directory left


def test_the_ply_holds_the_sources_gaussians(written):
    out, manifest, _, _ = written
    world = procedural.generate(SMALL_ROOM, seed=3)
    scene = read_ply(out / "scene.ply")
    assert len(scene) == len(world.gaussians) == manifest["num_gaussians"]
    assert torch.equal(scene.means, world.gaussians.means) and torch.equal(scene.labels, world.gaussians.labels)
    torch.testing.assert_close(scene.scales, world.gaussians.scales, rtol=1e-6, atol=0)
    assert list(scene.label_names) == list(world.gaussians.label_names) == manifest["label_names"]


def test_manifest_adds_what_follows_from_the_scene(written):
    out, manifest, _, _ = written
    scene = read_ply(out / "scene.ply")
    lo, hi = scene.bounds()
    assert manifest["bounds"]["gaussians"] == [lo.tolist(), hi.tolist()]
    assert manifest["bounds"]["room"] == [[-1.2, -1.0, 0.0], [1.2, 1.0, 2.2]]  # from the source's fields, merged
    assert manifest["sh_degree"] == scene.sh_degree == 0
    cam = manifest["preview_camera"]
    assert (cam["width"], cam["height"]) == (40, 30) and np.asarray(cam["viewmat"]).shape == (4, 4)
    assert {"python", "torch", "numpy"} <= set(manifest["packages"])
    assert manifest["seed"] == 3 and manifest["world_model"] == {"name": "procedural",
                                                                 "version": procedural.GENERATOR_VERSION}
    assert set(manifest["files"]) == {"preview.png", "scene.ply"}


def test_preview_is_the_scene_seen_from_the_preview_camera(written):
    out, _, _, _ = written
    image = Image.open(out / "preview.png")
    assert image.size == (40, 30) and image.mode == "RGB"
    pixels = np.asarray(image)
    assert pixels.std() > 5  # a room, not a blank frame


def test_stages_and_timings(written):
    _, _, stages, timings = written
    assert stages[0].startswith("imagining") and any("scene.ply" in s for s in stages)
    assert any("preview.png" in s for s in stages) and "write" in timings and timings["write"] >= 0


def test_same_source_same_bytes(written, tmp_path):
    out, _, _, _ = written
    generate_scene(tmp_path / "again", ProceduralSource(SMALL_ROOM, 3), view=VIEW)
    for name in FILES:
        assert (tmp_path / "again" / name).read_bytes() == (out / name).read_bytes(), name


def test_refuses_a_non_empty_out_before_any_work(tmp_path):
    out = tmp_path / "scene"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    source = Recording(ProceduralSource(SMALL_ROOM, 3))
    with pytest.raises(FileExistsError, match="directory exists and is not empty"):
        generate_scene(out, source, view=VIEW)
    assert source.calls == 0 and [p.name for p in out.iterdir()] == ["notes.txt"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileExistsError, match="exists and is not a directory"):
        generate_scene(tmp_path / "file", source, view=VIEW)
    assert source.calls == 0


def test_overwrite_replaces_the_directory(tmp_path):
    out = tmp_path / "scene"
    out.mkdir()
    (out / "old.txt").write_text("old")
    generate_scene(out, ProceduralSource(SMALL_ROOM, 3), view=VIEW, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == FILES and verify(out) == []


def _tiny_scene():
    means = torch.tensor([[0.0, 0.0, 0.0], [0.2, 0.0, 0.1]])
    return GaussianScene.from_rgb(means, torch.tensor([[1.0, 0, 0, 0]]).expand(2, 4).clone(), torch.full((2, 3), 0.1),
                                  torch.full((2,), 0.9), torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]),
                                  labels=torch.tensor([0, 1]), label_names=["floor", "thing"])


def test_write_scene_dir_merges_the_given_fields(tmp_path):
    cams = look_at_cameras(torch.tensor([[0.0, -2.0, 0.5]]), torch.zeros(1, 3), 16, 12)
    manifest = write_scene_dir(tmp_path / "s", _tiny_scene(), cams, {"seed": 9, "bounds": {"room": [[0] * 3, [1] * 3]},
                                                                     "custom": {"a": 1}})
    assert manifest["custom"] == {"a": 1} and manifest["seed"] == 9 and manifest["num_gaussians"] == 2
    assert set(manifest["bounds"]) == {"gaussians", "room"} and manifest["label_names"] == ["floor", "thing"]
    assert Image.open(tmp_path / "s" / "preview.png").size == (16, 12)


def test_a_failure_while_writing_leaves_nothing(tmp_path, monkeypatch):
    def broken_write_ply(path, scene):
        path.write_bytes(b"ply\nhalf")
        raise OSError("disk full")

    monkeypatch.setattr(scene_dir_module, "write_ply", broken_write_ply)
    cams = look_at_cameras(torch.tensor([[0.0, -2.0, 0.5]]), torch.zeros(1, 3), 16, 12)
    source = Recording(type("Fixed", (), {"make": lambda self, view, stage: MadeScene(_tiny_scene(), cams, {}, {})})())
    with pytest.raises(OSError, match="disk full"):
        generate_scene(tmp_path / "s", source, view=VIEW)
    assert source.calls == 1 and list(tmp_path.iterdir()) == []
