"""A monocular video lifted into a dynamic scene on tiny random models (`diffusers_video_source`): per-frame depth,
a dynamic 3D cache, the video model along the six trajectories, the time-conditioned decoder per target time."""

import numpy as np
import pytest

pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from lyra_sim.cameras import TRAJECTORIES, ViewConfig  # noqa: E402
from lyra_sim.dynamic import read_scene4d  # noqa: E402
from lyra_sim.manifest import verify  # noqa: E402
from lyra_sim.pipelines import generate_scene  # noqa: E402
from lyra_sim.pipelines.diffusers import diffusers_video_source  # noqa: E402
from lyra_sim.worlds.model_dirs import CheckpointError  # noqa: E402
from lyra_sim.worlds.video_lift import load_video, pick_frames  # noqa: E402


def test_a_video_becomes_a_dynamic_scene(tiny_models, tiny_clip, tiny_dynamic_decoder, tmp_path):
    kwargs = dict(video=tiny_clip, prompt="a red box", seed=1, frames=3, video_model=tiny_models["vace"],
                  depth_model=tiny_models["depth"], decoder=tiny_dynamic_decoder, steps=1, guidance_scale=1.0)
    manifest = generate_scene(tmp_path / "scene", diffusers_video_source(**kwargs), view=ViewConfig(32, 32))
    out = tmp_path / "scene"
    assert verify(out) == [] and {"scene4d", "input.mp4", "preview.mp4", "scene.ply"} <= {p.name for p in out.iterdir()}
    assert manifest["world_model"]["name"] == "diffusers_video"
    assert manifest["video"]["trajectories"] == list(TRAJECTORIES) and manifest["video"]["num_frames"] == 5
    # five frames picked evenly from the 12-frame clip at 12 fps; three target times over their span
    np.testing.assert_allclose(manifest["input_times"], [0.0, 3 / 12, 6 / 12, 8 / 12, 11 / 12])
    np.testing.assert_allclose(manifest["dynamic"]["times"], [0.0, 11 / 24, 11 / 12])
    assert manifest["condition"]["video_sha256"] and manifest["decoder"]["config"]["time_embedding"] is True
    dyn = read_scene4d(out / "scene4d")
    assert len(dyn) == 3 and all(len(s) == manifest["num_gaussians"] for s in dyn.scenes)
    generate_scene(tmp_path / "again", diffusers_video_source(**kwargs), view=ViewConfig(32, 32))
    for name in ["scene.ply", "scene4d/t0002.ply", "scene4d/index.json"]:
        assert (out / name).read_bytes() == (tmp_path / "again" / name).read_bytes(), name
    assert manifest["decoder"]["depth_input"] is False  # this decoder reads no depth


def test_a_depth_reading_decoder_reads_the_lifted_videos_cache_depth(tiny_models, tiny_clip, tiny_dynamic_decoder,
                                                                      tmp_path):
    from dataclasses import replace

    from lyra_sim.decoder import PRESETS, LyraDecoder, read_decoder_metadata, save_decoder
    from lyra_sim.video import VideoSpec
    from lyra_sim.worlds.video_lift import DiffusionVideoWorld

    _, extra = read_decoder_metadata(tiny_dynamic_decoder)
    config = replace(PRESETS["tiny_dynamic"], depth_input=True, motion_gate=True)
    decoder = save_decoder(tmp_path / "depth.safetensors", LyraDecoder(config, seed=0), extra)
    kwargs = dict(video=tiny_clip, prompt="a red box", seed=1, frames=3, video_model=tiny_models["vace"],
                  depth_model=tiny_models["depth"], decoder=decoder, steps=1, guidance_scale=1.0)
    manifest = generate_scene(tmp_path / "scene", diffusers_video_source(**kwargs), view=ViewConfig(32, 32))
    assert manifest["decoder"]["depth_input"] is True
    # frame k of every trajectory carries the depth of the cache of time k, 0 where the cache leaves a hole
    world = DiffusionVideoWorld(tiny_models["vace"], tiny_models["depth"], steps=1, guidance_scale=1.0)
    staged = world.stage({"video": str(tiny_clip), "prompt": "a red box"}, seed=1,
                         spec=VideoSpec(**{**extra["video"], "num_holdout": 0}))
    assert len(staged.renders) == 6 and staged.renders[0].depth.shape[0] == extra["video"]["num_frames"]
    for render in staged.renders:
        assert render.depth.shape == render.missing.shape
        assert bool((render.depth[render.missing] == 0).all()) and bool((render.depth[~render.missing] > 0).all())


def test_bad_videos_and_missing_weights_are_one_clear_error(tiny_models, tiny_clip, tiny_decoder, tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video at all")
    with pytest.raises(ValueError, match=r"broken.mp4: not a readable video"):
        load_video(bad, 32, 32, 5)
    with pytest.raises(ValueError, match=r"12 frames, but the decoder reads 20"):
        load_video(tiny_clip, 32, 32, 20)
    with pytest.raises(FileNotFoundError, match="no such video"):
        load_video(tmp_path / "none.mp4", 32, 32, 5)
    with pytest.raises(ValueError, match=r"clip: frames of different sizes \(frame 0 is 8x8, frame 1 is 12x10\)"):
        pick_frames([np.zeros((8, 8, 3), np.uint8), np.zeros((10, 12, 3), np.uint8)], 8.0, 32, 32, 2, "clip")
    with pytest.raises(ValueError, match=r"clip: the video has no frames"):
        pick_frames([], 8.0, 32, 32, 2, "clip")
    with pytest.raises(CheckpointError, match=r"--video-model DIR.*\| depth model: --depth-model not given"):
        diffusers_video_source(video=tiny_clip, decoder=tiny_decoder)
    with pytest.raises(ValueError, match="a static decoder; a dynamic scene needs a time-conditioned one"):
        source = diffusers_video_source(video=tiny_clip, video_model=tiny_models["vace"], depth_model=tiny_models["depth"],
                                        decoder=tiny_decoder, steps=1)
        generate_scene(tmp_path / "static", source, view=ViewConfig(32, 32))
    assert not (tmp_path / "static").exists()
