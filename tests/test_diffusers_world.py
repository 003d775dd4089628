"""The diffusers world model end to end on tiny random models saved to disk and loaded back by path.

Image → depth (transformers) → 3D cache → cache renders along Lyra's trajectories (our
renderer) → Wan VACE / video-to-video (diffusers) → codec → 3DGS decoder → scene directory →
asset bundle, on the CPU. Weights are random, so images are noise: the tests check shapes, camera
bookkeeping, determinism and the files, not looks.
"""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("diffusers")
pytest.importorskip("transformers")

import _tiny_models as tiny  # noqa: E402
from lyra_sim.cameras import TRAJECTORIES, lyra_trajectory  # noqa: E402
from lyra_sim.decoder import PRESETS, LyraDecoder, save_decoder  # noqa: E402
from lyra_sim.manifest import verify  # noqa: E402
from lyra_sim.worlds.checkpoints import CheckpointError, check_all, check_checkpoint  # noqa: E402
from lyra_sim.worlds.depth_cache import anchor_camera, build_cache, render_cache, unproject  # noqa: E402
from lyra_sim.worlds.diffusion import DiffusionWorld, LoadOptions  # noqa: E402
from lyra_sim.worlds.video import VideoSpec  # noqa: E402

SPEC = VideoSpec(num_frames=5, width=32, height=32)  # Wan: 1 + 4k frames, sides a multiple of 16
VIDEO = {"num_frames": 5, "width": 32, "height": 32, "fov_y_deg": 75.0, "travel": 0.3, "num_holdout": 0,
         "anchor": "corner"}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {"vace": tiny.wan_vace(root), "v2v": tiny.wan_v2v(root), "t2i": tiny.pixart(root),
            "depth": tiny.depth_anything(root), "root": root}


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    """A 48 x 40 photo: gray, with a red square left of center (cropped to 40 x 40 for the video)."""
    rgb = np.full((40, 48, 3), 128, np.uint8)
    rgb[14:24, 12:22] = (255, 0, 0)
    path = tmp_path_factory.mktemp("photo") / "photo.png"
    Image.fromarray(rgb).save(path)
    return path


@pytest.fixture(scope="module")
def decoder(tmp_path_factory):
    path = tmp_path_factory.mktemp("decoder") / "tiny.safetensors"
    extra = {"codec": {"name": "s2d", "spatial_compression": 8, "temporal_compression": 1}, "video": VIDEO,
             "world": {"name": "procedural"}}
    return save_decoder(path, LyraDecoder(PRESETS["tiny"], seed=0), extra)


def _project(points, cams):
    """World points ``[N, 3]`` → pixel coordinates ``[C, N, 2]`` in ``cams``."""
    cam = points @ cams.viewmats[:, :3, :3].transpose(1, 2) + cams.viewmats[:, None, :3, 3]
    uvw = cam @ cams.Ks.transpose(1, 2)
    return uvw[..., :2] / uvw[..., 2:]


def test_unproject_inverts_projection():
    cam = anchor_camera(40, 30, 60.0)
    depth = 1 + torch.rand(30, 40, generator=torch.Generator().manual_seed(0)) * 4
    points = unproject(depth, cam)
    uv = _project(points.reshape(-1, 3), cam)[0].reshape(30, 40, 2)
    v, u = torch.meshgrid(torch.arange(30) + 0.5, torch.arange(40) + 0.5, indexing="ij")
    torch.testing.assert_close(uv, torch.stack([u, v], -1), atol=1e-3, rtol=0)
    # Z up: the anchor looks along +x from 1.5 m, so the image's top row lies above its bottom row.
    assert float(points[0, :, 2].mean()) > 1.5 > float(points[-1, :, 2].mean())
    assert bool((points[..., 0] > 0).all())


def test_cache_opens_holes_where_the_anchor_saw_nothing():
    cam = anchor_camera(32, 32, 75.0)
    image = torch.full((32, 32, 3), 0.5)
    depth = torch.full((32, 32), 4.0)
    depth[8:24, 8:24] = 1.5  # a box in front of a wall
    cache = build_cache(image, depth, cam)
    here = render_cache(cache, cam)
    assert not bool(here.missing.any()) and float(here.alpha.min()) > 0.95
    torch.testing.assert_close(here.rgb[0], image, atol=0.02, rtol=0)
    left = render_cache(cache, lyra_trajectory(cam, "left", 3, cache.focus_distance, 1.0))
    # Moving sideways shows wall the box hid (and space beyond the image): the last frame has holes.
    assert not bool(left.missing[0].any()) and int(left.missing[-1].sum()) > 20


def test_staged_cache_lines_up_with_trajectory_cameras(models, photo):
    world = DiffusionWorld(models["vace"], models["depth"], steps=1, guidance_scale=1.0)
    staged = world.stage(photo, seed=0, spec=SPEC)
    anchor = staged.cache.anchor
    assert staged.trajectories == TRAJECTORIES and len(staged.renders) == 6
    # The red square's center in the 32 x 32 video frame (the 48 x 40 photo cropped to 40 x 40 and scaled by 0.8).
    u, v = (17 - 4) * 0.8, 19 * 0.8
    row, col = int(v), int(u)
    marker = unproject(staged.cache.depth, anchor)[row, col][None]
    checked = 0
    for name, cams, rendered in zip(staged.trajectories, staged.cameras, staged.renders):
        assert rendered.rgb.shape == (5, 32, 32, 3) and rendered.missing.shape == (5, 32, 32)
        torch.testing.assert_close(cams.viewmats[0], anchor.viewmats[0])  # every trajectory starts at the anchor
        uv = _project(marker, cams)[:, 0]  # [T, 2]
        for t in range(5):
            x, y = int(uv[t, 0]), int(uv[t, 1])
            if 1 <= x < 31 and 1 <= y < 31:
                r, g, b = rendered.rgb[t, y, x].tolist()
                assert r > 0.7 and g < 0.35 and b < 0.35, (name, t, (x, y), (r, g, b))
                checked += 1
    assert checked == 30  # the marker stays in view on every frame
    # Off center, the marker slides outward when the camera moves in and inward when it backs off.
    center = torch.tensor([16.0, 16.0])
    offset = {k: float((_project(marker, c)[-1, 0] - center).norm()) for k, c in zip(TRAJECTORIES, staged.cameras)}
    start = float((torch.tensor([u, v]) - center).norm())
    assert offset["zoom_in"] > start + 1 and offset["zoom_out"] < start - 1


def test_image_to_scene_directory_and_bundle(models, photo, decoder, tmp_path):
    from lyra_sim.diffusion_pipeline import generate_scene_diffusers
    from lyra_sim.exporters.bundle import export_bundle
    from lyra_sim.pipeline import ViewConfig

    kwargs = dict(image=photo, prompt="a red table", seed=3, video_model=models["vace"], depth_model=models["depth"],
                  decoder=decoder, steps=2, guidance_scale=1.0, view=ViewConfig(48, 48))
    stages, timings = [], {}
    manifest = generate_scene_diffusers(tmp_path / "scene", stage=stages.append, timings=timings, **kwargs)
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
    generate_scene_diffusers(tmp_path / "again", **kwargs)
    for name in files:
        assert (tmp_path / "scene" / name).read_bytes() == (tmp_path / "again" / name).read_bytes(), name
    bundle = export_bundle(tmp_path / "scene", tmp_path / "bundle", ["mjcf"])
    assert verify(tmp_path / "bundle") == [] and bundle["world_model"]["name"] == "diffusers"
    assert {"scene.ply", "collision.obj", "scene.xml"} <= set(bundle["files"])


def test_text_to_image_then_video_to_video(models):
    world = DiffusionWorld(models["v2v"], models["depth"], t2i_model=models["t2i"], backend="v2v", steps=2,
                           guidance_scale=1.0)
    video = world.imagine("a red chair", ["left", "zoom_in"], seed=1, spec=SPEC)
    assert video.frames.shape == (2, 5, 32, 32, 3) and video.viewmats.shape == (2, 5, 4, 4)
    assert video.info["condition"] == {"image": "text_to_image", "prompt": "a red chair"}
    assert 0 <= float(video.frames.min()) and float(video.frames.max()) <= 1
    again = world.imagine("a red chair", ["left", "zoom_in"], seed=1, spec=SPEC)
    assert torch.equal(video.frames, again.frames)
    assert not torch.equal(video.frames, world.imagine("a red chair", ["left", "zoom_in"], seed=2, spec=SPEC).frames)
    with pytest.raises(ValueError, match="t2i_model"):
        DiffusionWorld(models["v2v"], models["depth"], backend="v2v").imagine("a chair", seed=0, spec=SPEC)


def test_memory_options(models):
    with pytest.raises(ValueError, match="CUDA"):
        LoadOptions(device="cpu", offload=True)
    world = DiffusionWorld(models["vace"], models["depth"], options=LoadOptions(vae_tiling=True))
    assert world.video_backend.pipe.vae.use_tiling
    with pytest.raises(ValueError, match=r"1 \+ 4k frames and sizes that are multiples of 16"):
        world.video_backend.fill(torch.zeros(4, 32, 32, 3), torch.zeros(4, 32, 32, dtype=torch.bool), prompt="",
                                 generator=torch.Generator(), steps=1, guidance_scale=1.0)


def test_checkpoint_errors_say_what_to_download(models, tmp_path):
    with pytest.raises(CheckpointError) as err:
        check_all({"vace": None, "depth": tmp_path / "nope"})
    message = str(err.value)
    assert "\n" not in message
    assert "--video-model" in message and "Wan-AI/Wan2.1-VACE-1.3B-diffusers" in message
    assert "--depth-model" in message and "does not exist" in message and "preprocessor_config.json" in message
    with pytest.raises(CheckpointError, match="local directories only"):
        check_checkpoint("Wan-AI/Wan2.1-VACE-1.3B-diffusers", "vace")
    with pytest.raises(CheckpointError, match="holds a WanVideoToVideoPipeline checkpoint, but this needs WanVACEPipeline"):
        check_checkpoint(models["v2v"], "vace")
    with pytest.raises(CheckpointError, match="no model_index.json"):
        check_checkpoint(models["depth"], "vace")
    with pytest.raises(CheckpointError, match="not a depth-estimation model"):
        json_path = shutil.copytree(models["depth"], tmp_path / "notdepth") / "config.json"
        json_path.write_text(json.dumps({**json.loads(json_path.read_text()), "model_type": "vit"}))
        check_checkpoint(tmp_path / "notdepth", "depth")
    broken = shutil.copytree(models["vace"], tmp_path / "vace")
    for f in (broken / "transformer").glob("*.safetensors"):
        f.rename(f.with_suffix(".bin"))
    with pytest.raises(CheckpointError, match=r"transformer/ has no \*.safetensors weights \(pickled weights are not loaded\)"):
        check_checkpoint(broken, "vace")


def test_cli_image_to_scene(models, photo, decoder, tmp_path, capsys):
    from lyra_sim.cli import main

    # Without weights: one line naming each missing model and its option; nothing written.
    assert main(["generate", "--image", str(photo), "--world", "diffusers", "--out", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--video-model DIR" in err and "--depth-model DIR" in err and "huggingface-cli" in err
    assert not (tmp_path / "none").exists()
    assert main(["generate", "--image", str(photo), "--out", str(tmp_path / "proc")]) == 2
    assert "--world diffusers" in capsys.readouterr().err
    out = tmp_path / "scene"
    assert main(["generate", "--image", str(photo), "--world", "diffusers", "--video-model", str(models["vace"]),
                 "--depth-model", str(models["depth"]), "--decoder", str(decoder), "--steps", "1",
                 "--width", "32", "--height", "32", "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert "Gaussians from image" in printed.out and "WanVACEPipeline" in printed.out and "timings: " in printed.err
    assert verify(out) == []
