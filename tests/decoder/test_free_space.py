"""The free-space test (`lyra_sim.decoder.free_space`): a box that moved in front of a wall is found where the wall
shows through at another time; the wall, the box where it did not move, what is occluded, unknown depth and frames of
the same time are not; the motion gate raises its probability there."""

from dataclasses import replace

import pytest
import torch

from lyra_sim.decoder import PRESETS, LyraDecoder
from lyra_sim.decoder.free_space import free_space_violations
from lyra_sim.decoder.model import interpolation_weights, normalize_times


def _scene(shift: int = 12, t: int = 3):
    """One camera (identity pose, looking down +z) over ``t`` frames of 32 x 32: a wall at 4 m, a box at 2 m whose
    columns start at ``8 + shift k`` in frame k (frame 0: 8-15, frame 1: 20-27, ...) over rows 8-23."""
    depth = torch.full((1, t, 32, 32), 4.0)
    for k in range(t):
        c0 = min(8 + shift * k, 24)
        depth[0, k, 8:24, c0:c0 + 8] = 2.0
    viewmats = torch.eye(4).expand(1, t, 4, 4).clone()
    ks = torch.tensor([[32.0, 0, 16], [0, 32.0, 16], [0, 0, 1]]).expand(1, t, 3, 3).clone()
    return depth, viewmats, ks


def _pixels():
    xs = torch.arange(32, dtype=torch.float32) + 0.5
    return xs, xs.clone()


def test_a_box_that_moved_is_found_and_the_still_wall_is_not():
    depth, viewmats, ks = _scene()
    xs, ys = _pixels()
    frames = torch.tensor([0, 1, 2])
    found = free_space_violations(depth, viewmats, ks, frames, xs, ys, torch.tensor([0.0, 0.5, 1.0]))[0]  # [3, 32, 32]
    box0 = torch.zeros(32, 32, dtype=torch.bool)
    box0[8:24, 8:16] = True
    # frame 0's box sits where frames 1 and 2 see the wall: all of it but a pixel of margin at its edges
    assert bool(found[0][9:23, 9:15].all())
    # the wall is never in front of anything: no violation anywhere outside the boxes
    wall = depth[0] > 3
    assert not bool(found[wall].any())
    # the wall that later frames' boxes stand in front of is occluded there, not seen empty
    assert not bool(found[0][~box0].any())


def test_still_things_unknown_depth_and_frames_of_the_same_time_are_not_violations():
    depth, viewmats, ks = _scene(shift=0)  # the box never moves
    xs, ys = _pixels()
    frames = torch.tensor([0, 1, 2])
    times = torch.tensor([0.0, 0.5, 1.0])
    assert not bool(free_space_violations(depth, viewmats, ks, frames, xs, ys, times).any())
    moved, _, _ = _scene()
    # one time for all frames: nothing can have moved between them
    assert not bool(free_space_violations(moved, viewmats, ks, frames, xs, ys, torch.zeros(3)).any())
    # where the other frames' depth is unknown (0), nothing was seen empty
    blind = moved.clone()
    blind[0, 1:] = 0
    assert not bool(free_space_violations(blind, viewmats, ks, frames, xs, ys, times)[0, 0].any())
    # a Gaussian of unknown depth is never a violation
    hole = moved.clone()
    hole[0, 0, 8:24, 8:16] = 0
    assert not bool(free_space_violations(hole, viewmats, ks, frames, xs, ys, times)[0, 0].any())


def test_a_second_view_that_saw_the_space_empty_counts_too():
    depth, viewmats, ks = _scene()
    two = torch.cat([depth[:, :1].expand(1, 3, 32, 32), depth])  # view 0: the box stays at frame 0's place
    xs, ys = _pixels()
    found = free_space_violations(two, viewmats.expand(2, 3, 4, 4), ks.expand(2, 3, 3, 3), torch.tensor([0, 1, 2]),
                                  xs, ys, torch.tensor([0.0, 0.5, 1.0]))
    # view 0's own frames never saw its box's place empty, view 1's frames of other times did
    assert bool(found[0, 0][9:23, 9:15].all())


def test_the_motion_gate_takes_the_test_as_a_lower_bound():
    config = replace(PRESETS["tiny_dynamic"], depth_input=True, motion_gate=True)
    model = LyraDecoder(config, seed=0)  # the head says "still" everywhere (m = 0.0025)
    c = config
    tl, h, w = 3, 4, 4
    g = torch.Generator().manual_seed(0)
    lat = torch.randn(1, 1, c.latent_channels, tl, h, w, generator=g)
    depth, viewmats, ks = _scene()
    times, _ = normalize_times(torch.tensor([[0.0, 0.5, 1.0]], dtype=torch.float64), torch.zeros(1))
    target = torch.tensor([0.25])
    with torch.no_grad():
        out = model(lat, viewmats[None], ks[None], times.float(), target, depth[None])
        plain = model(lat, viewmats[None], ks[None], times.float(), target)
    frames, xs, ys = model.gaussian_pixels(tl, h, w)
    found = free_space_violations(depth, viewmats, ks, frames, xs, ys, times[0].float()).reshape(-1)
    assert bool(found.any()) and bool((~found).any())
    weight = interpolation_weights(times.float()[:, frames], target)[0]  # [Tg]
    per_gaussian = weight.repeat_interleave(len(xs) * len(ys))
    # where the test fires, the Gaussian keeps exactly its frame's interpolation weight of its ungated opacity
    ungated = plain.opacities[0] / (1 - plain.motion[0] * (1 - per_gaussian))  # depth changes no opacity at the start
    torch.testing.assert_close(out.opacities[0][found], (ungated * per_gaussian)[found], rtol=1e-5, atol=1e-7)
    # elsewhere the head's own probability applies, as without depth; the head's output itself is unchanged
    torch.testing.assert_close(out.motion, plain.motion)
    assert bool((out.opacities[0][~found] >= 0.997 * ungated[~found]).all())


def test_the_test_computed_once_for_a_video_decodes_every_target_time_alike():
    model = LyraDecoder(replace(PRESETS["tiny_dynamic"], depth_input=True, motion_gate=True), seed=0)
    depth, viewmats, ks = _scene()
    times = torch.tensor([[0.0, 0.5, 1.0]])
    lat = torch.randn(1, 1, model.config.latent_channels, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    moved = model.free_space(depth[None], viewmats[None], ks[None], times)
    frames, xs, ys = model.gaussian_pixels(3, 4, 4)
    assert torch.equal(moved.reshape(-1), free_space_violations(depth, viewmats, ks, frames, xs, ys, times[0]).reshape(-1))
    assert moved.shape == (1, 1, 3, 8 * 8) and bool(moved.any())
    with torch.no_grad():
        for target in (0.25, 0.8):
            args = (lat, viewmats[None], ks[None], times, torch.tensor([target]), depth[None])
            assert torch.equal(model(*args, moved=moved).opacities, model(*args).opacities)
    with pytest.raises(ValueError, match="moved: expected"):
        model(*args, moved=moved[:, :, :2])


@pytest.mark.gpu
def test_on_cuda_the_test_and_the_gated_decoder_match_the_cpu():
    depth, viewmats, ks = _scene()
    xs, ys = _pixels()
    frames, times = torch.tensor([0, 1, 2]), torch.tensor([0.0, 0.5, 1.0])
    args = (depth, viewmats, ks, frames, xs, ys, times)
    assert torch.equal(free_space_violations(*[a.cuda() for a in args]).cpu(), free_space_violations(*args))
    model = LyraDecoder(replace(PRESETS["tiny_dynamic"], depth_input=True, motion_gate=True), seed=0)
    lat = torch.randn(1, 1, model.config.latent_channels, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    inputs = (lat, viewmats[None], ks[None], times[None], torch.tensor([0.25]), depth[None])
    with torch.no_grad():
        ref = model(*inputs)
        out = model.to("cuda")(*[x.cuda() for x in inputs])
    torch.testing.assert_close(out.opacities.cpu(), ref.opacities, atol=1e-4, rtol=1e-3)
    torch.testing.assert_close(out.means.cpu(), ref.means, atol=1e-3, rtol=1e-3)
