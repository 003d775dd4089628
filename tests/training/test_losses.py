"""Losses of self-distillation (`lyra_sim.training.losses`)."""

import math

import pytest
import torch

from lyra_sim.training.losses import gaussian_depth_loss, log_depth_l1, mover_motion_loss, scale_invariant_depth_loss


def test_scale_invariant_depth_loss():
    g = torch.Generator().manual_seed(0)
    target = 1 + 4 * torch.rand(3, 8, 8, 1, generator=g)
    assert float(scale_invariant_depth_loss(2.5 * target + 0.7, target)) < 1e-6  # scale and shift do not count
    other = 1 + 4 * torch.rand(3, 8, 8, 1, generator=g)
    assert float(scale_invariant_depth_loss(other, target)) > 0.1
    holes = target.clone()
    holes[:, :4] = 0  # pixels without depth are ignored
    pred = target.clone()
    pred[:, :4] = 100.0
    assert float(scale_invariant_depth_loss(pred, holes)) < 1e-6


def test_log_depth_l1_is_metric_and_symmetric_in_scale():
    z = torch.tensor([2.0, 1.0, 1.0, 3.0])
    target = torch.tensor([1.0, 1.0, 2.0, 5.0])
    valid = torch.tensor([True, True, True, False])
    # 2x too far and 2x too near cost the same, ln 2; the invalid entry does not count
    assert float(log_depth_l1(z, target, valid)) == pytest.approx(2 * math.log(2) / 3, rel=1e-6)
    assert float(log_depth_l1(2.5 * target, target, torch.ones(4, dtype=torch.bool))) == pytest.approx(math.log(2.5))
    # at or behind the camera: clamped at 1 mm, finite
    assert float(log_depth_l1(torch.tensor([-1.0]), torch.tensor([1.0]), torch.tensor([True]))) == pytest.approx(
        math.log(1000), rel=1e-5)
    none = log_depth_l1(z.requires_grad_(), target, torch.zeros(4, dtype=torch.bool))
    none.backward()
    assert float(none.detach()) == 0 and float(z.grad.abs().sum()) == 0
    # the gradient of one Gaussian's log-depth error: sign / (z n) per valid entry
    z = torch.tensor([2.0, 0.5], requires_grad=True)
    log_depth_l1(z, torch.ones(2), torch.ones(2, dtype=torch.bool)).backward()
    torch.testing.assert_close(z.grad, torch.tensor([1 / (2 * 2.0), -1 / (2 * 0.5)]))


def test_gaussian_depth_loss_compares_each_gaussian_with_its_own_pixel_and_frame():
    """Two frames, 2 x 2 Gaussians on a 4 x 4 image (one per 2 x 2 cell); cameras looking down +z, one moved back."""
    viewmats = torch.eye(4).repeat(1, 3, 1, 1)  # [V=1, T=3, 4, 4]
    viewmats[0, 2, 2, 3] = 1.0  # frame 2's camera 1 m behind: camera z = world z + 1
    depth = torch.zeros(1, 3, 4, 4, 1)
    depth[0, 0] = 2.0
    depth[0, 2, :2] = 4.0  # top half of frame 2
    depth[0, 2, 2:] = 8.0
    depth[0, 2, 3, 3] = 0.0  # no surface at the pixel of the last Gaussian
    frames, xs, ys = torch.tensor([0, 2]), torch.tensor([1.0, 3.0]), torch.tensor([1.0, 3.0])  # pixels 1 and 3
    means = torch.zeros(1, 2, 2, 2, 3)  # [V, Tg, Hg, Wg, 3]
    means[0, 0, ..., 2] = 2.0  # frame 0: right
    means[0, 1, ..., 2] = torch.tensor([[3.0, 3.0], [1.0, 5.0]])  # frame 2: z = 4, 4, 2 (4x too near), 6 (no target)
    loss = gaussian_depth_loss(means, viewmats, depth, frames, xs, ys)
    assert float(loss) == pytest.approx(math.log(4) / 7, rel=1e-6)  # 7 valid Gaussians, one 4x off
    keep = torch.ones(1, 2, 2, 2, dtype=torch.bool)
    keep[0, 1, 1, 0] = False  # e.g. a moving object's pixel at another time than the target's
    assert float(gaussian_depth_loss(means, viewmats, depth, frames, xs, ys, keep)) == pytest.approx(0.0, abs=1e-7)


def test_perceptual_term_says_what_it_needs():
    try:
        import lpips  # noqa: F401
    except ImportError:
        from lyra_sim.training.losses import PerceptualLoss

        with pytest.raises(ImportError, match="pip install lpips.*vgg16"):
            PerceptualLoss(torch.device("cpu"))
    else:
        pytest.skip("lpips is installed; its VGG weights may be missing offline")


def _two_objects():
    """One camera at the origin looking down +z over an 8 x 8 image (5.7 degrees wide); a wall 2 m away; object 1
    on rows and columns 0-3, object 2 on 5-7 (their interiors: 0-2 and 6-7); one Gaussian per pixel, on the
    wall's surface point."""
    viewmats = torch.eye(4).reshape(1, 1, 4, 4)
    Ks = torch.tensor([[80.0, 0, 4], [0, 80, 4], [0, 0, 1]]).reshape(1, 1, 3, 3)
    depth = torch.full((1, 1, 8, 8, 1), 2.0)
    labels = torch.zeros(1, 1, 8, 8, dtype=torch.long)
    labels[0, 0, :4, :4] = 1
    labels[0, 0, 5:, 5:] = 2
    frames, xs, ys = torch.tensor([0]), torch.arange(8.0) + 0.5, torch.arange(8.0) + 0.5
    x, y = torch.meshgrid((xs - 4) / 80 * 2, (ys - 4) / 80 * 2, indexing="xy")
    means = torch.stack([x, y, torch.full_like(x, 2.0)], -1).reshape(1, 1, 8, 8, 3)
    opacities = torch.ones(1, 1, 8, 8)
    opacities[0, 0, 6:, 6:] = torch.tensor([[0.1, 0.2], [0.3, 0.4]])
    return means, opacities, viewmats, Ks, depth, labels, frames, xs, ys


def _shift(x: float = 0.0, z: float = 0.0) -> torch.Tensor:
    m = torch.eye(4, dtype=torch.float64)
    m[0, 3], m[2, 3] = x, z
    return m


def test_mover_motion_loss_pulls_reachable_gaussians_and_fades_the_rest():
    means, opacities, viewmats, Ks, depth, labels, frames, xs, ys = _two_objects()

    def loss(move1, move2, reach=0.2, **kw):
        carry = torch.stack([move1, move2])[None]  # [Tg = 1, M = 2, 4, 4]
        args = dict(means=means, opacities=opacities, depth=depth)
        args.update(kw)
        return [float(x) for x in mover_motion_loss(args["means"], args["opacities"], viewmats, Ks, args["depth"], labels,
                                                    frames, xs, ys, carry, reach)]

    still = _shift()
    assert loss(still, still) == pytest.approx([0.0, 0.0], abs=1e-6)
    # 10 cm sideways is within reach: each Gaussian is 0.1 m (L1) from its carried point, over its 2 m depth
    assert loss(_shift(x=0.1), _shift(x=0.1)) == pytest.approx([0.05, 0.0], rel=1e-5)
    # 1 m sideways is out of reach for object 2: its four interior Gaussians (not its silhouette, opacity 1) fade;
    # their mean opacity 0.25 against all 64 Gaussians' 61 / 64
    assert loss(still, _shift(x=1.0)) == pytest.approx([0.0, 0.25 * 64 / 61], abs=1e-6)
    assert loss(still, _shift(x=1.0), reach=2.0) == pytest.approx([0.5 * 4 / 13, 0.0], rel=1e-5)
    # 1 m away from the camera stays near the rays (at most 4.4 cm off them): depth is the decoder's to change
    assert loss(_shift(z=1.0), _shift(z=1.0)) == pytest.approx([0.5, 0.0], rel=1e-5)
    # no surface at a pixel: not supervised
    hole = depth.clone()
    hole[0, 0, 7, 7] = 0.0
    assert loss(still, _shift(x=1.0), depth=hole) == pytest.approx([0.0, 0.2 * 64 / 61], abs=1e-6)
    # without offsets only a still object counts as in reach (float error of a pose product aside)
    assert loss(still, _shift(x=0.05), reach=0.0) == pytest.approx([0.0, 0.25 * 64 / 61], abs=1e-6)
    # fading every Gaussian alike changes nothing
    assert loss(still, _shift(x=1.0), opacities=opacities * 0.01) == pytest.approx([0.0, 0.25 * 64 / 61], rel=1e-5)
    # nothing moving in view: both terms 0, still differentiable
    empty = mover_motion_loss(means.requires_grad_(), opacities, viewmats, Ks, depth, torch.zeros_like(labels), frames,
                              xs, ys, torch.eye(4)[None, None], 0.2)
    assert [float(x) for x in empty] == [0.0, 0.0]
    sum(empty).backward()
