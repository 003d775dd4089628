"""The 3DGS decoder: Plücker rays, Mamba2 scan, activations, zero-init conditioning, shapes, checkpoints."""

from __future__ import annotations

import math

import pytest
import torch
from safetensors.torch import save_file

from lyra_sim.cameras import look_at_cameras
from lyra_sim.decoder import (
    PRESETS,
    DecoderConfig,
    LyraDecoder,
    activate_gaussians,
    camera_rays,
    count_parameters,
    load_decoder,
    plucker,
    save_decoder,
)
from lyra_sim.decoder.checkpoint import read_decoder_metadata
from lyra_sim.decoder.ssm import BiMamba2, ssd_scan

TINY = PRESETS["tiny"]


def _inputs(config: DecoderConfig, b: int = 1, v: int = 2, tl: int = 2, h: int = 4, w: int = 6, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    latents = torch.randn(b, v, config.latent_channels, tl, h, w, generator=g)
    t = 1 + config.temporal_compression * (tl - 1)
    width, height = w * config.spatial_compression, h * config.spatial_compression
    eyes = torch.randn(b * v * t, 3, generator=g)
    cams = look_at_cameras(eyes, eyes + torch.tensor([1.0, 0.2, -0.1]), width, height, 70.0)
    return latents, cams.viewmats.reshape(b, v, t, 4, 4), cams.Ks.reshape(b, v, t, 3, 3)


def test_presets_sizes_and_block_mix():
    lyra = PRESETS["lyra"]
    assert lyra.block_types.count("mamba2") == 14 and lyra.block_types.count("attention") == 2
    assert lyra.num_blocks == 16 and lyra.width == 512
    assert 28e6 < count_parameters(LyraDecoder(lyra)) < 34e6  # Lyra: ~30M
    assert count_parameters(LyraDecoder(PRESETS["small"])) * 4 < 25e6  # float32 checkpoint fits 25 MB


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="num_heads"):
        DecoderConfig(width=30, num_heads=4)
    with pytest.raises(ValueError, match="gaussian_frames"):
        DecoderConfig(temporal_compression=8, gaussian_frames=3)
    with pytest.raises(ValueError, match="attention_blocks"):
        DecoderConfig(num_blocks=4, attention_blocks=(4,))
    with pytest.raises(ValueError, match="unknown key .depth.; accepted: latent_channels"):
        DecoderConfig.from_dict({"width": 64, "depth": 3})


@pytest.mark.parametrize("chunk", [1, 5, 64])
def test_ssd_scan_matches_the_recurrence(chunk):
    g = torch.Generator().manual_seed(1)
    b, length, heads, p, n = 2, 23, 3, 4, 5
    x, bb, cc = torch.randn(b, length, heads, p, generator=g), torch.randn(b, length, n, generator=g), torch.randn(b, length, n, generator=g)
    a = -torch.rand(b, length, heads, generator=g)
    state = torch.zeros(b, heads, p, n)
    ref = []
    for t in range(length):
        state = torch.exp(a[:, t])[..., None, None] * state + x[:, t, ..., None] * bb[:, t, None, None, :]
        ref.append(torch.einsum("bhpn,bn->bhp", state, cc[:, t]))
    torch.testing.assert_close(ssd_scan(x, a, bb, cc, chunk), torch.stack(ref, 1), atol=1e-5, rtol=1e-4)


def test_bidirectional_mamba_sees_both_directions():
    torch.manual_seed(0)
    mixer = BiMamba2(16, d_state=4, expand=2, head_dim=8, d_conv=4, chunk=4)
    x = torch.randn(1, 10, 16)
    y = mixer(x)
    later, earlier = x.clone(), x.clone()
    later[:, -1] += 1.0
    earlier[:, 0] += 1.0
    assert not torch.allclose(mixer(later)[:, 0], y[:, 0])  # the first token hears the last (backward scan)
    assert not torch.allclose(mixer(earlier)[:, -1], y[:, -1])  # and vice versa (forward scan)


def test_plucker_rays_of_a_known_camera():
    # Camera at (1, 2, 3) looking along +x: image right = -y, image down = -z (Z up).
    cams = look_at_cameras(torch.tensor([[1.0, 2.0, 3.0]]), torch.tensor([[5.0, 2.0, 3.0]]), 4, 2, 90.0)
    k = cams.Ks[0]
    assert float(k[0, 0]) == pytest.approx(1.0) and float(k[0, 2]) == 2.0  # f = 0.5 h / tan(45°)
    us = torch.tensor([2.0, 3.0])  # principal point, one focal length to the right
    vs = torch.tensor([1.0])
    o, d = camera_rays(cams.viewmats[0], cams.Ks[0], us, vs)
    assert o.shape == d.shape == (1, 2, 3)
    torch.testing.assert_close(o[0, 0], torch.tensor([1.0, 2.0, 3.0]))
    torch.testing.assert_close(d[0, 0], torch.tensor([1.0, 0.0, 0.0]), atol=1e-6, rtol=0)
    torch.testing.assert_close(d[0, 1], torch.tensor([1.0, -1.0, 0.0]) / math.sqrt(2), atol=1e-6, rtol=0)
    p = plucker(o, d)
    torch.testing.assert_close(p[0, 0], torch.tensor([0.0, 3.0, -2.0, 1.0, 0.0, 0.0]), atol=1e-6, rtol=0)
    moment = torch.linalg.cross(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, -1.0, 0.0]) / math.sqrt(2))
    torch.testing.assert_close(p[0, 1, :3], moment, atol=1e-6, rtol=0)


def test_activations_follow_lyra():
    cfg = PRESETS["lyra"]
    raw = torch.zeros(1, 5, 12)
    raw[0, 1] = 50.0
    raw[0, 2] = -50.0
    raw[0, 3, 0], raw[0, 3, 11], raw[0, 3, 4:7] = cfg.depth_shift, cfg.opacity_shift, 1 - math.log(cfg.scale_cap)
    raw[0, 4, 7:11] = torch.tensor([0.0, 3.0, 0.0, 4.0])
    origins = torch.zeros(1, 5, 3)
    dirs = torch.tensor([0.0, 0.0, 1.0]).expand(1, 5, 3)
    g = activate_gaussians(raw, origins, dirs, cfg)
    w0 = 1 / (1 + math.exp(cfg.depth_shift))
    assert float(g.means[0, 0, 2]) == pytest.approx(0.1 * (1 - w0) + 500 * w0, rel=1e-5)
    assert float(g.means[0, 3, 2]) == pytest.approx((0.1 + 500) / 2, rel=1e-5)  # w = 0.5 at x = shift
    depth = g.means[..., 2]
    assert bool((depth >= 0.1).all()) and bool((depth <= 500).all())
    assert float(g.rgb[0, 0, 0]) == pytest.approx(0.5) and float(g.rgb[0, 1, 0]) == pytest.approx(1.0)
    assert float(g.rgb[0, 2, 0]) == pytest.approx(0.0)
    assert float(g.scales[0, 0, 0]) == pytest.approx(0.3 / math.e, rel=1e-5)
    assert float(g.scales[0, 1, 0]) == pytest.approx(0.3)  # capped
    assert float(g.scales[0, 3, 0]) == pytest.approx(0.3, rel=1e-5)  # exp(0) * cap
    assert float(g.opacities[0, 0]) == pytest.approx(1 / (1 + math.exp(2)), rel=1e-5)
    assert float(g.opacities[0, 3]) == pytest.approx(0.5)
    torch.testing.assert_close(g.quats[0, 4], torch.tensor([0.0, 0.6, 0.0, 0.8]))
    torch.testing.assert_close(g.quats.norm(dim=-1)[0, [1, 2, 4]], torch.ones(3))


def test_forward_shapes_and_pixel_alignment():
    model = LyraDecoder(TINY, seed=0)
    latents, viewmats, ks = _inputs(TINY, b=2, v=2, tl=2, h=4, w=6)
    out = model(latents, viewmats, ks)
    u = TINY.gaussian_upsample
    per_view = model.gaussians_per_view(2, 4, 6)
    assert per_view == 2 * (4 * u) * (6 * u)
    assert out.means.shape == (2, 2 * per_view, 3) and out.opacities.shape == (2, 2 * per_view)
    # Gaussians of sample 0, view 0, frame 0 project onto the centers of their pixel cells.
    n = (4 * u) * (6 * u)
    cam_pts = (viewmats[0, 0, 0, :3, :3] @ out.means[0, :n].T).T + viewmats[0, 0, 0, :3, 3]
    pix = (ks[0, 0, 0] @ cam_pts.T).T
    pix = pix[:, :2] / pix[:, 2:]
    cell = TINY.spatial_compression / u
    vs, us = torch.meshgrid((torch.arange(4 * u) + 0.5) * cell, (torch.arange(6 * u) + 0.5) * cell, indexing="ij")
    torch.testing.assert_close(pix, torch.stack([us.reshape(-1), vs.reshape(-1)], -1), atol=1e-3, rtol=0)
    # At initialization the depth sits near init_depth.
    dist = cam_pts.detach().norm(dim=-1)
    assert float((dist - TINY.init_depth).abs().mean()) < 0.5


def test_gaussian_times_map_latents_to_frames():
    m = LyraDecoder(DecoderConfig(latent_channels=4, temporal_compression=4, width=32, num_blocks=1, attention_blocks=(0,),
                                  num_heads=2, gaussian_frames=1, gaussian_upsample=1))
    assert m.gaussian_times(3)[1].tolist() == [0, 4, 8]
    m = LyraDecoder(DecoderConfig(latent_channels=4, temporal_compression=4, width=32, num_blocks=1, attention_blocks=(0,),
                                  num_heads=2, gaussian_frames=4, gaussian_upsample=1))
    times, frames = m.gaussian_times(3)
    assert frames.tolist() == list(range(9)) and times.tolist() == list(range(3, 12))


def test_gaussian_pixels_say_which_frame_and_pixel_each_gaussian_sits_on():
    """Every Gaussian (before pruning) projects, in the camera of the frame `gaussian_pixels` names, onto its pixel."""
    config = DecoderConfig(**{**TINY.to_dict(), "temporal_compression": 4, "latent_channels": 16})
    model = LyraDecoder(config, seed=0)
    latents, viewmats, ks = _inputs(config, v=2, tl=2, h=4, w=6)
    out = model(latents, viewmats, ks)
    frames, xs, ys = model.gaussian_pixels(2, 4, 6)
    assert frames.tolist() == [0, 4] and len(xs) == 6 * config.gaussian_upsample and len(ys) == 4 * config.gaussian_upsample
    means = out.means[0].reshape(2, 2, len(ys), len(xs), 3)
    vm, k = viewmats[0][:, frames], ks[0][:, frames]  # [V, Tg, 4, 4], [V, Tg, 3, 3]
    cam = torch.einsum("vtij,vthwj->vthwi", vm[..., :3, :3], means) + vm[:, :, None, None, :3, 3]
    pix = torch.einsum("vtij,vthwj->vthwi", k, cam)
    pix = pix[..., :2] / pix[..., 2:]
    grid = torch.stack(torch.broadcast_tensors(xs[None, :], ys[:, None]), -1)  # [Hg, Wg, 2] as (x, y)
    torch.testing.assert_close(pix, grid.expand_as(pix), atol=2e-3, rtol=0)


def test_zero_initialized_camera_embedding_is_a_no_op_at_init():
    model = LyraDecoder(TINY, seed=0)
    latents, viewmats, ks = _inputs(TINY)
    _, other_views, _ = _inputs(TINY, seed=5)

    def camera_free(out, vm):
        origins = torch.linalg.inv(vm)[..., :3, 3]  # camera centers [B, V, T, 3]
        t_idx = model.gaussian_times(latents.shape[3])[1]
        centers = origins[:, :, t_idx].reshape(1, -1, 1, 3).expand(1, -1, out.num_gaussians // (2 * len(t_idx)), 3)
        dist = (out.means - centers.reshape(1, -1, 3)).norm(dim=-1)
        return torch.cat([out.rgb.flatten(), out.opacities.flatten(), out.scales.flatten(), dist.flatten()])

    a = camera_free(model(latents, viewmats, ks), viewmats)
    b = camera_free(model(latents, other_views, ks), other_views)
    torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    with torch.no_grad():
        model.plucker_embed.weight.normal_(0, 0.1)
    c = camera_free(model(latents, other_views, ks), other_views)
    assert not torch.allclose(a, c, atol=1e-3)


def test_views_are_processed_jointly():
    model = LyraDecoder(TINY, seed=0)
    latents, viewmats, ks = _inputs(TINY, v=2)
    out = model(latents, viewmats, ks)
    changed = latents.clone()
    changed[:, 1] += 1.0  # only view 1
    out2 = model(changed, viewmats, ks)
    half = out.num_gaussians // 2
    assert not torch.allclose(out.rgb[:, :half], out2.rgb[:, :half])  # view 0's Gaussians react


def test_bad_inputs_name_the_mismatch():
    model = LyraDecoder(TINY, seed=0)
    latents, viewmats, ks = _inputs(TINY)
    with pytest.raises(ValueError, match="channels"):
        model(latents[:, :, :10], viewmats, ks)
    with pytest.raises(ValueError, match="viewmats: expected"):
        model(latents, viewmats[:, :, :1], ks)
    with pytest.raises(ValueError, match="latents: expected"):
        model(latents[0], viewmats, ks)


def test_prune_keeps_the_most_opaque_and_decode_builds_scenes():
    model = LyraDecoder(TINY, seed=0)
    latents, viewmats, ks = _inputs(TINY, b=2)
    out = model(latents, viewmats, ks)
    kept = out.prune(0.2)
    k = math.ceil(0.2 * out.num_gaussians)
    assert kept.num_gaussians == k
    torch.testing.assert_close(kept.opacities.sort(1).values, out.opacities.topk(k, 1).values.sort(1).values)
    scenes = model.decode(latents, viewmats, ks)
    assert len(scenes) == 2 and len(scenes[0]) == k and scenes[0].sh_degree == 0
    torch.testing.assert_close(scenes[1].rgb, kept.rgb[1].clamp(0, 1), atol=1e-6, rtol=0)


def test_same_seed_same_weights():
    a, b, c = LyraDecoder(TINY, seed=3), LyraDecoder(TINY, seed=3), LyraDecoder(TINY, seed=4)
    for (name, p), q, r in zip(a.state_dict().items(), b.state_dict().values(), c.state_dict().values()):
        assert torch.equal(p, q), name
    assert any(not torch.equal(p, r) for p, r in zip(a.state_dict().values(), c.state_dict().values()))


def test_checkpoint_round_trip_and_errors(tmp_path):
    model = LyraDecoder(TINY, seed=0).eval()
    path = save_decoder(tmp_path / "d.safetensors", model, {"codec": {"name": "s2d"}})
    loaded, extra = load_decoder(path, expected=TINY)
    assert extra == {"codec": {"name": "s2d"}}
    latents, viewmats, ks = _inputs(TINY)
    with torch.no_grad():
        torch.testing.assert_close(loaded(latents, viewmats, ks).means, model(latents, viewmats, ks).means, atol=0, rtol=0)

    with pytest.raises(ValueError, match="config mismatch.*width"):
        load_decoder(path, expected=DecoderConfig(**{**TINY.to_dict(), "width": 64}))
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00\x01 this is not a safetensors file" * 10)
    with pytest.raises(ValueError, match="not a readable safetensors"):
        load_decoder(junk)
    pickled = tmp_path / "model.pt"
    torch.save(model.state_dict(), pickled)
    with pytest.raises(ValueError, match="not a readable safetensors"):
        load_decoder(pickled)
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign))
    with pytest.raises(ValueError, match="not a lyra-sim decoder"):
        read_decoder_metadata(foreign)
    # Weights that do not fit the stored config.
    bad = tmp_path / "bad.safetensors"
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    state["norm.weight"] = torch.ones(7)
    meta = {"format": "lyra-sim-decoder", "format_version": "1", "config": TINY.to_json(), "extra": "{}"}
    save_file(state, str(bad), metadata=meta)
    with pytest.raises(ValueError, match="shape mismatch.*norm.weight"):
        load_decoder(bad)
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match="safetensors"):
        load_decoder(truncated)
    with pytest.raises(FileNotFoundError):
        load_decoder(tmp_path / "missing.safetensors")


def test_bf16_autocast_keeps_gaussians_in_float32():
    model = LyraDecoder(TINY, seed=0)
    latents, viewmats, ks = _inputs(TINY, v=1)
    ref = model(latents, viewmats, ks)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        out = model(latents, viewmats, ks)
    assert out.means.dtype == torch.float32 and out.opacities.dtype == torch.float32
    # Ray geometry is computed in float32 even under autocast: the Gaussians stay on their pixel rays.
    origin = torch.linalg.inv(viewmats[0, 0, 0])[:3, 3]
    ray_ref = torch.nn.functional.normalize(ref.means[0] - origin, dim=-1)
    ray_bf16 = torch.nn.functional.normalize(out.means[0] - origin, dim=-1)
    n = ray_ref.shape[0] // 2  # latent frame 0 ↔ frame 0
    assert float((ray_ref[:n] - ray_bf16[:n]).abs().max()) < 1e-5


@pytest.mark.gpu
def test_cuda_forward_matches_cpu():
    model = LyraDecoder(TINY, seed=0)
    latents, viewmats, ks = _inputs(TINY)
    ref = model(latents, viewmats, ks)
    out = model.to("cuda")(latents.cuda(), viewmats.cuda(), ks.cuda())
    torch.testing.assert_close(out.means.cpu(), ref.means, atol=1e-3, rtol=1e-3)
    torch.testing.assert_close(out.rgb.cpu(), ref.rgb, atol=1e-3, rtol=1e-3)


def test_rgb_skip_starts_as_a_no_op_and_feeds_colors_only():
    cfg = DecoderConfig(**{**TINY.to_dict(), "rgb_skip": True})
    model = LyraDecoder(cfg, seed=0)
    latents, viewmats, ks = _inputs(cfg)
    before = model(latents, viewmats, ks)
    skip, model.rgb_skip = model.rgb_skip, None
    torch.testing.assert_close(model(latents, viewmats, ks).rgb, before.rgb, atol=0, rtol=0)
    model.rgb_skip = skip
    with torch.no_grad():
        skip.weight.normal_(0, 0.1)
    after = model(latents, viewmats, ks)
    assert not torch.allclose(after.rgb, before.rgb, atol=1e-3)
    torch.testing.assert_close(after.means, before.means, atol=0, rtol=0)
