"""The depth input (``DecoderConfig.depth_input``): without depth a decoder with it decodes exactly as the checkpoint
it started from; with its gate open the Gaussians' ray points sit at the given camera depth (through any camera);
the depth reaches the tokens; bad depth is refused."""

from dataclasses import replace

import pytest
import torch

from lyra_sim.decoder import PRESETS, LyraDecoder, activate_gaussians, load_initial_weights, save_decoder
from lyra_sim.decoder.model import depth_raw, normalize_times

DEPTH = replace(PRESETS["tiny_dynamic"], detail_width=8, depth_input=True)
FIELDS = ("means", "rgb", "opacities", "scales", "quats", "offsets")


def _rotation(seed: int) -> torch.Tensor:
    q, _ = torch.linalg.qr(torch.randn(3, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64))
    return (q * torch.sign(torch.linalg.det(q))).float()


def _inputs(c, b=1, v=2, tl=2, h=4, w=4, seed=0):
    """Latents, cameras (rotated, translated, off-centre principal point) and times of a small random batch."""
    g = torch.Generator().manual_seed(seed)
    t = 1 + c.temporal_compression * (tl - 1)
    lat = torch.randn(b, v, c.latent_channels, tl, h, w, generator=g)
    vm = torch.eye(4).repeat(b, v, t, 1, 1)
    for i in range(v):
        vm[:, i, :, :3, :3] = _rotation(seed + i)
        vm[:, i, :, :3, 3] = torch.tensor([0.3 * i, -0.2, 1.5])
    s = c.spatial_compression
    ks = torch.tensor([[40.0, 0, s * w / 2 + 3], [0, 36.0, s * h / 2 - 2], [0, 0, 1]]).expand(b, v, t, 3, 3)
    times, _ = normalize_times(torch.arange(t, dtype=torch.float64)[None].expand(b, t) / 8, torch.zeros(b))
    return lat, vm, ks, times.float()


def _depth(c, b=1, v=2, tl=2, h=4, w=4, seed=0):
    """Random camera depths 0.5-6 m with a block of unknown (0) pixels in every frame."""
    t = 1 + c.temporal_compression * (tl - 1)
    s = c.spatial_compression
    d = 0.5 + 5.5 * torch.rand(b, v, t, h * s, w * s, generator=torch.Generator().manual_seed(seed + 100))
    d[..., : h * s // 2, : w * s // 2] = 0
    return d


def _camera_z(means, vm_rows, frames):
    """Camera z of each Gaussian of sample 0 in the camera of its own frame."""
    v = vm_rows.shape[1]
    layout = means[0].reshape(v, len(frames), -1, 3)
    row = vm_rows[0][:, frames]  # [V, Tg, 4, 4]
    return (layout * row[:, :, None, 2, :3]).sum(-1) + row[:, :, None, 2, 3]  # [V, Tg, H' W']


@pytest.mark.parametrize("start", ["tiny", "tiny_dynamic"])
def test_without_depth_it_decodes_as_the_checkpoint_it_started_from(tmp_path, start):
    before = LyraDecoder(replace(PRESETS[start], detail_width=8), seed=3)
    path = save_decoder(tmp_path / "before.safetensors", before, {})
    model = LyraDecoder(DEPTH, seed=11)
    fresh = load_initial_weights(path, model)
    assert {"depth_embed.weight", "depth_gate.bias", "detail_gate.weight"} <= set(fresh)
    lat, vm, ks, times = _inputs(DEPTH)
    target = torch.tensor([0.4])
    with torch.no_grad():
        ref = before(lat, vm, ks) if start == "tiny" else before(lat, vm, ks, times, target)
        for depth in (None, torch.zeros_like(_depth(DEPTH))):
            out = model(lat, vm, ks, times, target, depth)
            for name in FIELDS[:-1] if start == "tiny" else FIELDS:
                assert torch.equal(getattr(out, name), getattr(ref, name)), name


def test_an_open_gate_puts_the_ray_points_at_the_given_depth_and_unknown_pixels_are_left_alone():
    model = LyraDecoder(DEPTH, seed=5)
    with torch.no_grad():
        model.depth_gate.bias.fill_(60.0)  # sigmoid(60) == 1 in float32
    lat, vm, ks, times = _inputs(DEPTH)
    depth = _depth(DEPTH)
    target = torch.tensor([0.7])
    with torch.no_grad():
        out = model(lat, vm, ks, times, target, depth)
        plain = model(lat, vm, ks, times, target)
    frames, xs, ys = model.gaussian_pixels(lat.shape[3], lat.shape[4], lat.shape[5])
    given = depth[0][:, frames][:, :, ys.floor().long()][..., xs.floor().long()].reshape(2, len(frames), -1)
    z = _camera_z(out.means - out.offsets, vm, frames)
    known = given > 0
    assert bool(known.any()) and bool((~known).any())
    torch.testing.assert_close(z[known], given[known], rtol=1e-4, atol=1e-5)
    # pixels of unknown depth keep the depth they have without any depth input
    z_plain = _camera_z(plain.means - plain.offsets, vm, frames)
    torch.testing.assert_close(z[~known], z_plain[~known], rtol=1e-5, atol=1e-6)
    # the tokens are unchanged at the start (zero-initialized embedding): colours equal the no-depth decode
    assert torch.equal(out.rgb, plain.rgb)


def test_depth_raw_inverts_the_depth_activation():
    c = DEPTH
    d = torch.tensor([c.near * 1.01, 0.37, 1.0, 3.0, 42.0, c.far * 0.99])
    raw = torch.zeros(len(d), 12)
    raw[:, 0] = depth_raw(d, c)
    ones = torch.zeros(len(d), 3)
    ones[:, 2] = 1.0
    out = activate_gaussians(raw[None], torch.zeros(1, len(d), 3), ones[None], c)
    torch.testing.assert_close(out.means[0, :, 2], d, rtol=1e-4, atol=1e-6)
    # out of range: clamped into (near, far), finite
    assert bool(torch.isfinite(depth_raw(torch.tensor([0.0, c.far * 10]), c)).all())


def test_the_depth_reaches_the_tokens_and_the_gate_learns():
    model = LyraDecoder(DEPTH, seed=2)
    lat, vm, ks, times = _inputs(DEPTH)
    out = model(lat, vm, ks, times, torch.tensor([0.2]), _depth(DEPTH))
    (out.rgb.square().mean() + out.means.square().mean()).backward()
    assert float(model.depth_embed.weight.grad.abs().max()) > 0
    assert float(model.depth_gate.weight.grad.abs().max()) > 0
    assert float(model.detail_gate.weight.grad.abs().max()) > 0


def test_bad_depth_is_refused():
    model = LyraDecoder(DEPTH, seed=0)
    lat, vm, ks, times = _inputs(DEPTH)
    target = torch.tensor([0.5])
    depth = _depth(DEPTH)
    with pytest.raises(ValueError, match=r"depth: expected \[1, 2, 2, 32, 32\] \(or with a trailing 1\)"):
        model(lat, vm, ks, times, target, depth[..., :16])
    with pytest.raises(ValueError, match=r"depth: expected .* got ndarray"):
        model(lat, vm, ks, times, target, depth.numpy())
    # a trailing 1 is accepted and means the same
    with torch.no_grad():
        a = model(lat, vm, ks, times, target, depth)
        b = model(lat, vm, ks, times, target, depth[..., None])
    assert torch.equal(a.means, b.means)
    static = LyraDecoder(PRESETS["tiny_dynamic"], seed=0)
    with pytest.raises(ValueError, match=r"depth: this decoder reads no depth"):
        static(lat, vm, ks, times, target, depth)
    for bad in (1, "yes", None):
        with pytest.raises(ValueError, match=r"depth_input: expected true or false"):
            replace(DEPTH, depth_input=bad)


def test_a_checkpoint_with_depth_input_does_not_start_a_decoder_without_it(tmp_path):
    path = save_decoder(tmp_path / "d.safetensors", LyraDecoder(DEPTH, seed=1), {})
    with pytest.raises(ValueError, match=r"depth_input: checkpoint True vs model False"):
        load_initial_weights(path, LyraDecoder(replace(DEPTH, depth_input=False)))
