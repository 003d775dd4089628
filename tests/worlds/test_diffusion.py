"""The diffusers world model (`lyra_sim.worlds.diffusion`, `depth_cache`) on tiny random models loaded by path.

Image → depth (transformers) → 3D cache → cache renders along Lyra's trajectories (our
renderer) → Wan VACE / video-to-video (diffusers), on the CPU. Weights are random, so images are
noise: the tests check shapes, camera bookkeeping and determinism, not looks. The scene directory
it ends in is tested in tests/pipelines/test_diffusers.py.
"""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from lyra_sim.cameras import TRAJECTORIES, lyra_trajectory  # noqa: E402
from lyra_sim.video import VideoSpec  # noqa: E402
from lyra_sim.worlds.depth_cache import anchor_camera, build_cache, render_cache, unproject  # noqa: E402
from lyra_sim.worlds.diffusion import DiffusionWorld, LoadOptions  # noqa: E402

SPEC = VideoSpec(num_frames=5, width=32, height=32)  # Wan: 1 + 4k frames, sides a multiple of 16


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
    # the cache's depth seen from its own camera is the depth it was built from (box and wall, away from the edges)
    torch.testing.assert_close(here.depth[0, 11:21, 11:21], depth[11:21, 11:21], rtol=0.02, atol=0)
    torch.testing.assert_close(here.depth[0, :5], depth[:5], rtol=0.02, atol=0)
    left = render_cache(cache, lyra_trajectory(cam, "left", 3, cache.focus_distance, 1.0))
    # Moving sideways shows wall the box hid (and space beyond the image): the last frame has holes, of unknown depth.
    assert not bool(left.missing[0].any()) and int(left.missing[-1].sum()) > 20
    assert bool((left.depth[left.missing] == 0).all()) and bool((left.depth[~left.missing] > 1.0).all())


def test_staged_cache_lines_up_with_trajectory_cameras(tiny_models, tiny_photo):
    world = DiffusionWorld(tiny_models["vace"], tiny_models["depth"], steps=1, guidance_scale=1.0)
    staged = world.stage(tiny_photo, seed=0, spec=SPEC)
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


def test_text_to_image_then_video_to_video(tiny_models):
    world = DiffusionWorld(tiny_models["v2v"], tiny_models["depth"], t2i_model=tiny_models["t2i"], backend="v2v", steps=2,
                           guidance_scale=1.0)
    video = world.imagine("a red chair", ["left", "zoom_in"], seed=1, spec=SPEC)
    assert video.frames.shape == (2, 5, 32, 32, 3) and video.viewmats.shape == (2, 5, 4, 4)
    assert video.info["condition"] == {"image": "text_to_image", "prompt": "a red chair"}
    assert 0 <= float(video.frames.min()) and float(video.frames.max()) <= 1
    # the video's depth is the cache's along the trajectories: known where it covered, 0 where the model filled in
    staged = world.stage("a red chair", ["left", "zoom_in"], seed=1, spec=SPEC)
    assert video.depth.shape == (2, 5, 32, 32, 1)
    for i, render in enumerate(staged.renders):
        assert torch.equal(video.depth[i, ..., 0], render.depth)
        assert bool((render.depth[render.missing] == 0).all()) and bool((render.depth[~render.missing] > 0).all())
    again = world.imagine("a red chair", ["left", "zoom_in"], seed=1, spec=SPEC)
    assert torch.equal(video.frames, again.frames)
    assert not torch.equal(video.frames, world.imagine("a red chair", ["left", "zoom_in"], seed=2, spec=SPEC).frames)
    with pytest.raises(ValueError, match="t2i_model"):
        DiffusionWorld(tiny_models["v2v"], tiny_models["depth"], backend="v2v").imagine("a chair", seed=0, spec=SPEC)


def test_memory_options(tiny_models):
    with pytest.raises(ValueError, match="CUDA"):
        LoadOptions(device="cpu", offload=True)
    world = DiffusionWorld(tiny_models["vace"], tiny_models["depth"], options=LoadOptions(vae_tiling=True))
    assert world.video_backend.pipe.vae.use_tiling
    with pytest.raises(ValueError, match=r"1 \+ 4k frames and sizes that are multiples of 16"):
        world.video_backend.fill(torch.zeros(4, 32, 32, 3), torch.zeros(4, 32, 32, dtype=torch.bool), prompt="",
                                 generator=torch.Generator(), steps=1, guidance_scale=1.0)


