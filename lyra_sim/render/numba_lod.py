"""`GaussianLOD.select` compiled for the CPU with Numba: a camera's level-of-detail selection in one loop.

Why: in PyTorch (`GaussianLOD.select_reference`) a selection is ~60 operations on ``[A]``-sized
tensors (A anchors, about a thousand in a room) and a few thousand-element gathers, ~1 ms on a CPU
core, nearly all per-operation overhead; a single env spends a sixth of its step there. The loop
here makes the reference's decisions with the reference's float32 operations (the anchors' nearest
points, meters per pixel, the frustum planes, the level that fits) and writes the same rows in the
same order. Sums of three products and a norm may round differently from PyTorch's reductions,
so a decision that sits within float32 rounding of its threshold may fall the other way: an anchor
drawn one level finer or coarser, or kept at the frustum's widened edge, which changes an image by
less than the rendering tolerance (`tests/render/test_lod.py` holds the two to equal selections
on its cameras). Used where Numba is installed (the ``cpu`` extra), as the compiled rasterizer is.
"""

from __future__ import annotations

import functools
import math
import threading

import numpy as np
import torch
from torch import Tensor

from .numba_impl import available  # the rasterizer's check: whether Numba is installed


def _select(offsets, lo, hi, center, radius, cell_sizes, viewmats, ks, width, height, pixel_ratio, near, margin):
    """``(ids [M], counts [C])`` as `GaussianLOD.select_reference` for cameras ``viewmats [C, 4, 4]``, ``ks [C,
    3, 3]`` (float32): ``offsets [L + 1, A + 1]`` int64, ``lo, hi, center [A, 3]``, ``radius [A]``, ``cell_sizes
    [L]`` float32; ``pixel_ratio``, ``near``, ``margin`` (`EDGE_MARGIN_PX`) float32."""
    f32 = np.float32
    n_anchor, n_level = lo.shape[0], cell_sizes.shape[0]
    cams = viewmats.shape[0]
    rows = np.empty((cams, n_anchor), np.int64)
    counts = np.zeros(cams, np.int64)
    for c in range(cams):
        vm, k = viewmats[c], ks[c]
        # Camera center -Rᵀ t.
        e0 = -(vm[0, 0] * vm[0, 3] + vm[1, 0] * vm[1, 3] + vm[2, 0] * vm[2, 3])
        e1 = -(vm[0, 1] * vm[0, 3] + vm[1, 1] * vm[1, 3] + vm[2, 1] * vm[2, 3])
        e2 = -(vm[0, 2] * vm[0, 3] + vm[1, 2] * vm[1, 3] + vm[2, 2] * vm[2, 3])
        focal = max(k[0, 0], k[1, 1])
        fx, fy, cx, cy = k[0, 0], k[1, 1], k[0, 2], k[1, 2]
        # The four side planes through the camera and the widened image's edges.
        ex0, ex1 = -cx - margin, (f32(width) - cx) + margin
        ey0, ey1 = -cy - margin, (f32(height) - cy) + margin
        nx0, nx1 = math.sqrt(fx * fx + ex0 * ex0), math.sqrt(fx * fx + ex1 * ex1)
        ny0, ny1 = math.sqrt(fy * fy + ey0 * ey0), math.sqrt(fy * fy + ey1 * ey1)
        for a in range(n_anchor):
            r = radius[a]
            px, py, pz = center[a, 0], center[a, 1], center[a, 2]
            x = vm[0, 0] * px + vm[0, 1] * py + vm[0, 2] * pz + vm[0, 3]
            y = vm[1, 0] * px + vm[1, 1] * py + vm[1, 2] * pz + vm[1, 3]
            z = vm[2, 0] * px + vm[2, 1] * py + vm[2, 2] * pz + vm[2, 3]
            visible = (z + r > near
                       and -(x * fx - z * ex0) / nx0 < r and (x * fx - z * ex1) / nx1 < r
                       and -(y * fy - z * ey0) / ny0 < r and (y * fy - z * ey1) / ny1 < r)
            if not visible:
                rows[c, a] = -1
                continue
            # Nearest point of the anchor's box to the camera → the finest detail it can show there.
            d0 = max(min(e0, hi[a, 0]), lo[a, 0]) - e0
            d1 = max(min(e1, hi[a, 1]), lo[a, 1]) - e1
            d2 = max(min(e2, hi[a, 2]), lo[a, 2]) - e2
            reach = pixel_ratio * (math.sqrt(d0 * d0 + d1 * d1 + d2 * d2) / focal)
            level = 0  # levels grow in size: the count of those that fit is the coarsest's row
            for m in range(n_level):
                if cell_sizes[m] <= reach:
                    level += 1
            rows[c, a] = level
            counts[c] += offsets[level, a + 1] - offsets[level, a]
    ids = np.empty(counts.sum(), np.int64)
    t = 0
    for c in range(cams):
        for a in range(n_anchor):
            level = rows[c, a]
            if level >= 0:
                for i in range(offsets[level, a], offsets[level, a + 1]):
                    ids[t] = i
                    t += 1
    return ids, counts


_BUILDING = threading.Lock()


@functools.cache
def _jit():
    import numba

    return numba.njit(cache=True, nogil=True)(_select)


def select(offsets: Tensor, anchor_lo: Tensor, anchor_hi: Tensor, anchor_center: Tensor, anchor_radius: Tensor,
           cell_sizes: Tensor, viewmats: Tensor, Ks: Tensor, width: int, height: int, pixel_ratio: float,
           near_plane: float, margin: float) -> tuple[Tensor, Tensor]:
    """`GaussianLOD.select` on the CPU: ``(ids [M], counts [C])`` for ``viewmats [C, 4, 4]``, ``Ks [C, 3, 3]``
    (the LOD's fields as `GaussianLOD` documents them)."""
    with _BUILDING:  # compiled (or loaded from Numba's cache) on first use, once
        kernel = _jit()
    f32 = np.float32

    def arr(t: Tensor) -> np.ndarray:
        return t.detach().to(torch.float32).contiguous().numpy()

    ids, counts = kernel(offsets.contiguous().numpy(), arr(anchor_lo), arr(anchor_hi), arr(anchor_center),
                         arr(anchor_radius), arr(cell_sizes), arr(viewmats), arr(Ks), width, height, f32(pixel_ratio),
                         f32(near_plane), f32(margin))
    return torch.from_numpy(ids), torch.from_numpy(counts)


__all__ = ["available", "select"]
