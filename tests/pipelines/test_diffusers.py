"""The diffusers world as a scene source (`lyra_sim.pipelines.diffusers`) on tiny random models: the scene
directory, its manifest, byte-identical reruns, and the bundle exported from it."""

import math

import pytest
from PIL import Image

pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from lyra_sim.cameras import TRAJECTORIES, ViewConfig  # noqa: E402
from lyra_sim.decoder import PRESETS, LyraDecoder  # noqa: E402
from lyra_sim.exporters.bundle import export_bundle  # noqa: E402
from lyra_sim.manifest import verify  # noqa: E402
from lyra_sim.pipelines import generate_scene  # noqa: E402
from lyra_sim.pipelines.diffusers import diffusers_source  # noqa: E402


def test_image_to_scene_directory_and_bundle(tiny_models, tiny_photo, tiny_decoder, tmp_path):
    kwargs = dict(image=tiny_photo, prompt="a red table", seed=3, video_model=tiny_models["vace"],
                  depth_model=tiny_models["depth"], decoder=tiny_decoder, steps=2, guidance_scale=1.0)
    stages, timings = [], {}
    manifest = generate_scene(tmp_path / "scene", diffusers_source(**kwargs), view=ViewConfig(48, 48),
                              stage=stages.append, timings=timings)
    files = sorted(p.name for p in (tmp_path / "scene").iterdir())
    assert files == ["manifest.json", "preview.png", "scene.ply"] and verify(tmp_path / "scene") == []
    assert manifest["world_model"]["name"] == "diffusers" and manifest["world_model"]["pipeline"] == "WanVACEPipeline"
    assert manifest["video"]["trajectories"] == list(TRAJECTORIES) and manifest["video"]["num_frames"] == 5
    assert manifest["num_gaussians"] == math.ceil(0.2 * (6 * LyraDecoder(PRESETS["tiny"]).gaussians_per_view(5, 4, 4)))
    assert manifest["condition"]["image_sha256"] and manifest["prompt"] == "a red table"
    assert Image.open(tmp_path / "scene" / "preview.png").size == (48, 48)
    assert any("imagining" in s for s in stages)
    assert {"depth", "cache_render", "video", "encode", "decode", "write"} <= set(timings)
    # Same inputs + seed → byte-identical files.
    generate_scene(tmp_path / "again", diffusers_source(**kwargs), view=ViewConfig(48, 48))
    for name in files:
        assert (tmp_path / "scene" / name).read_bytes() == (tmp_path / "again" / name).read_bytes(), name
    bundle = export_bundle(tmp_path / "scene", tmp_path / "bundle", ["mjcf"])
    assert verify(tmp_path / "bundle") == [] and bundle["world_model"]["name"] == "diffusers"
    assert {"scene.ply", "collision.obj", "scene.xml"} <= set(bundle["files"])
