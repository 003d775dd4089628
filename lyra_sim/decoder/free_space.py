"""Which pixel-aligned Gaussians show something that moved, from depth alone: the free-space test.

A still surface point seen in one frame is, in any other frame, either on the surface seen there or behind it
(occluded). A point that lies clearly *in front of* what another frame saw at another time sat in space that
frame saw empty: what was there has moved. This is the classical free-space violation of dynamic reconstruction
(carving, change detection in SLAM). It misses motion that stays in front of what other frames see (a drawer
coming towards the camera), but what it finds is nearly always moving (85-95 % precision on the held-out
dynamic scenes, benchmarks/results/dynamic_decoder_h200.md), so the motion gate takes it as a lower bound.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

MARGIN = 0.03
"""Relative depth by which a point must lie in front of what another frame saw (depth noise, blending at edges)."""
MARGIN_M = 0.02
"""And in meters, for near surfaces."""
POOL = 3
"""What another frame saw near the projected pixel: the nearest depth in this window (a point projected just past
a still object's edge lands on its background; the nearest depth around it is the object's own)."""


def free_space_violations(depth: Tensor, viewmats: Tensor, Ks: Tensor, frames: Tensor, xs: Tensor, ys: Tensor,
                          times: Tensor) -> Tensor:
    """``[V, Tg, H', W']`` bool: the Gaussian's surface point lies in space that a frame of another time saw empty.

    Args:
        depth: ``[V, T, H, W]`` camera depth of one sample's frames in meters, 0 where unknown.
        viewmats: ``[V, T, 4, 4]`` world-to-camera; Ks: ``[V, T, 3, 3]``.
        frames, xs, ys: `LyraDecoder.gaussian_pixels`: the frame ``[Tg]`` of each Gaussian frame and the pixel
            coordinates ``[W']``, ``[H']`` of the Gaussians.
        times: ``[T]`` the frames' times; frames of the same time are never compared (nothing moved between them).

    Every Gaussian of frame ``frames[g]`` (of any view) is tested against every kept frame of every view whose time
    differs. Unknown depth (0) is never free space, and a Gaussian of unknown depth is never a violation.
    """
    v, t, h, w = depth.shape
    rows, cols = ys.floor().long().clamp(0, h - 1), xs.floor().long().clamp(0, w - 1)
    z = depth[:, frames][:, :, rows][:, :, :, cols].double()  # [V, Tg, H', W']
    k = Ks[:, frames].double()
    c2w = torch.linalg.inv(viewmats[:, frames].double())  # [V, Tg, 4, 4]
    u = (xs.double()[None, None, None, :] - k[..., 0, 2, None, None]) / k[..., 0, 0, None, None]
    vv = (ys.double()[None, None, :, None] - k[..., 1, 2, None, None]) / k[..., 1, 1, None, None]
    cam = torch.stack(torch.broadcast_tensors(u * z, vv * z, z), -1)  # [V, Tg, H', W', 3]
    points = (c2w[:, :, None, None, :3, :3] @ cam[..., None])[..., 0] + c2w[:, :, None, None, :3, 3]
    seen = torch.where(depth > 0, depth, torch.full_like(depth, float("inf"))).float()
    nearest = -F.max_pool2d(-seen.reshape(v * t, 1, h, w), POOL, 1, POOL // 2).reshape(v, t, h, w)
    out = torch.zeros(z.shape, dtype=torch.bool, device=depth.device)
    for f in frames.unique().tolist():  # the other frame's time
        other = (times[frames] - times[f]).abs() > 1e-9  # [Tg]: source Gaussian frames of another time
        if not bool(other.any()):
            continue
        src = points[:, other]  # [V, G', H', W', 3]
        for j in range(v):
            vm, kk = viewmats[j, f].double(), Ks[j, f].double()
            pc = src @ vm[:3, :3].T + vm[:3, 3]
            zz = pc[..., 2]
            px = kk[0, 0] * pc[..., 0] / zz.clamp_min(1e-6) + kk[0, 2]
            py = kk[1, 1] * pc[..., 1] / zz.clamp_min(1e-6) + kk[1, 2]
            inside = (zz > 1e-3) & (px >= 0) & (px < w) & (py >= 0) & (py < h)
            obs = nearest[j, f][py.long().clamp(0, h - 1), px.long().clamp(0, w - 1)].double()
            out[:, other] |= inside & torch.isfinite(obs) & (obs > zz * (1 + MARGIN) + MARGIN_M)
    return out & (z > 0)
