"""Losses of self-distillation (`lyra_sim.training.losses`)."""

import math

import pytest
import torch

from lyra_sim.training.losses import gaussian_depth_loss, log_depth_l1, scale_invariant_depth_loss


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
