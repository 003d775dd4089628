"""Images as tensors: the one float → uint8 conversion (previews, videos, observations, caches)."""

from __future__ import annotations

import torch
from torch import Tensor


def to_uint8(rgb: Tensor) -> Tensor:
    """``[..., C]`` floats in [0, 1] → uint8 on the same device (clamped, round half up: deterministic)."""
    return (rgb.clamp(0, 1) * 255 + 0.5).to(torch.uint8)
