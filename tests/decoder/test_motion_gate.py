"""The motion gate (``DecoderConfig.motion_gate``): interpolation weights; at the start opacities stay within
0.25 % of the checkpoint's; a Gaussian its head calls moving keeps its frame's interpolation weight of opacity at
the target time and a still one all of it; the supervision learns the label maps; bad values are refused."""

from dataclasses import replace

import pytest
import torch
from _decoder import dynamic_inputs

from lyra_sim.decoder import PRESETS, LyraDecoder, load_initial_weights, save_decoder
from lyra_sim.decoder.model import interpolation_weights
from lyra_sim.training.losses import motion_mask_loss

GATED = replace(PRESETS["tiny_dynamic"], detail_width=8, motion_gate=True)




def test_interpolation_weights():
    nodes = torch.tensor([[0.0, 0.5, 1.0], [0.0, 0.2, 1.0]])
    x = torch.tensor([0.3, 0.6])
    w = interpolation_weights(nodes, x)
    torch.testing.assert_close(w, torch.tensor([[0.4, 0.6, 0.0], [0.0, 0.5, 0.5]]))
    # at a node: that node alone; outside the nodes: the nearest end; any x: they sum to 1
    torch.testing.assert_close(interpolation_weights(nodes, torch.tensor([0.5, 0.2])),
                               torch.tensor([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]]))
    torch.testing.assert_close(interpolation_weights(nodes, torch.tensor([-1.0, 3.0])),
                               torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]))
    xs = torch.rand(50, generator=torch.Generator().manual_seed(0)) * 1.4 - 0.2
    many = interpolation_weights(nodes[:1].expand(50, -1), xs)
    torch.testing.assert_close(many.sum(1), torch.ones(50))
    # the weights interpolate the nodes' values linearly: f(x) = 2x + 1 is reproduced exactly inside
    inside = xs.clamp(0, 1)
    torch.testing.assert_close((many * (2 * nodes[:1] + 1)).sum(1), 2 * inside + 1)
    assert torch.equal(interpolation_weights(torch.tensor([[0.4]]), torch.tensor([0.9])), torch.ones(1, 1))


@pytest.mark.parametrize("start", ["tiny_dynamic", "tiny"])
def test_at_the_start_opacities_are_within_a_quarter_percent_of_the_checkpoints(tmp_path, start):
    before = LyraDecoder(replace(PRESETS[start], detail_width=8), seed=3)
    path = save_decoder(tmp_path / "before.safetensors", before, {})
    model = LyraDecoder(GATED, seed=1)
    fresh = load_initial_weights(path, model)
    assert {"motion_head.weight", "motion_head.bias", "detail_motion.weight"} <= set(fresh)
    lat, vm, ks, times = dynamic_inputs(GATED)
    target = torch.tensor([0.3])
    with torch.no_grad():
        ref = before(lat, vm, ks) if start == "tiny" else before(lat, vm, ks, times, target)
        out = model(lat, vm, ks, times, target)
    assert torch.equal(out.means, ref.means) and torch.equal(out.rgb, ref.rgb)
    ratio = out.opacities / ref.opacities
    assert float(ratio.max()) <= 1.0 and float(ratio.min()) > 0.9975
    torch.testing.assert_close(out.motion, torch.full_like(out.motion, torch.sigmoid(torch.tensor(-6.0)).item()))


def test_moving_gaussians_keep_their_frames_interpolation_weight_and_still_ones_everything():
    model = LyraDecoder(GATED, seed=2)
    lat, vm, ks, times = dynamic_inputs(GATED)
    with torch.no_grad():
        plain = model(lat, vm, ks, times, torch.tensor([0.3]))
        model.motion_head.bias.fill_(5.0)  # logit 50: every Gaussian "moves"
        moving = model(lat, vm, ks, times, torch.tensor([0.3]))
        model.motion_head.bias.fill_(-5.0)  # logit -50: none does
        still = model(lat, vm, ks, times, torch.tensor([0.3]))
    frames, _, _ = model.gaussian_pixels(lat.shape[3], lat.shape[4], lat.shape[5])
    weight = interpolation_weights(times[:, frames], torch.tensor([0.3]))[0]  # [Tg]
    assert bool((weight > 0).sum() == 2)  # the two Gaussian frames around 0.3
    layout = (2, len(frames), -1)  # [V, Tg, H' W'] of the one sample
    w = weight[None, :, None]
    base = plain.opacities.reshape(layout) / (1 - plain.motion.reshape(layout) * (1 - w))  # the ungated opacities
    per_frame = moving.opacities.reshape(layout) / base
    torch.testing.assert_close(per_frame, w.expand_as(per_frame), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(still.opacities.reshape(layout), base, rtol=1e-5, atol=1e-7)


def test_the_motion_mask_loss_learns_the_label_maps():
    torch.manual_seed(0)
    model = LyraDecoder(GATED, seed=0)
    lat, vm, ks, times = dynamic_inputs(GATED, v=1)
    frames, xs, ys = model.gaussian_pixels(lat.shape[3], lat.shape[4], lat.shape[5])
    labels = torch.zeros(1, len(times[0]), 32, 32, dtype=torch.long)
    labels[:, :, 8:20, 4:12] = 1  # a moving object in a corner of every frame
    shape = (1, len(frames), len(ys), len(xs))
    opt = torch.optim.Adam([p for n, p in model.named_parameters() if "motion" in n], lr=1e-2)
    first = None
    for _ in range(30):
        motion = model(lat, vm, ks, times, torch.tensor([0.5])).motion.reshape(shape)
        loss = motion_mask_loss(motion, labels, frames, xs, ys)
        first = float(loss.detach()) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert first == pytest.approx((6.0024756 + 0.0024757) / 2, rel=1e-3)  # -log sigmoid(-6), -log(1 - sigmoid(-6))
    motion = model(lat, vm, ks, times, torch.tensor([0.5])).motion.reshape(shape).detach()
    inside = labels[0][frames][:, ys.long()][:, :, xs.long()] > 0
    assert float(motion[0][inside].min()) > 0.5 > float(motion[0][~inside].max())


def test_bad_values_are_refused():
    for bad in (1, "on"):
        with pytest.raises(ValueError, match=r"motion_gate: expected true or false"):
            replace(GATED, motion_gate=bad)
    with pytest.raises(ValueError, match=r"motion_gate: the motion gate belongs to a time-conditioned decoder"):
        replace(PRESETS["tiny"], motion_gate=True)
