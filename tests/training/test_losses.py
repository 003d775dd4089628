"""Losses of self-distillation (`lyra_sim.training.losses`)."""

import pytest
import torch

from lyra_sim.training.losses import scale_invariant_depth_loss


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

def test_perceptual_term_says_what_it_needs():
    try:
        import lpips  # noqa: F401
    except ImportError:
        from lyra_sim.training.losses import PerceptualLoss

        with pytest.raises(ImportError, match="pip install lpips.*vgg16"):
            PerceptualLoss(torch.device("cpu"))
    else:
        pytest.skip("lpips is installed; its VGG weights may be missing offline")
