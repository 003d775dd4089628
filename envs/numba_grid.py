"""The static grid's clearance look-up compiled for the CPU with Numba.

Why: in PyTorch (`envs.nav_fields.NavFields.clearance_reference`, the reference) a look-up is ~30
operations on ``[N]``-sized tensors, and a single env's step makes ~6: on the CPU with N = 1 that is
mostly PyTorch's per-operation overhead, about a quarter of the step. The loop here does the
reference's float32 operations in the same order (additions, products, divisions, floor: each
correctly rounded in both); Numba compiles without floating-point contraction unless asked for
``fastmath`` (no fused multiply-adds), so its results are the reference's bit for bit
(`tests/envs/test_nav_fields.py`). Used when Numba is installed (the ``cpu`` extra), as the compiled
rasterizer is; without it the reference runs. The geodesic look-up stays in PyTorch: it takes square
roots, which PyTorch's CPU kernels round differently from a correctly rounded ``sqrt``.
"""

from __future__ import annotations

import functools
import threading

import numpy as np
import torch
from torch import Tensor

from lyra_sim.render.numba_impl import available  # the rasterizer's check: whether Numba is installed


def _grid_clearance(xy, scene, field, origin, res, gradient, value, grad):  # pragma: no cover - compiled
    """Fill ``value [N]`` (and, with ``gradient``, ``grad [N, 2]``) as `NavFields.clearance_reference` does:
    ``xy [N, 2]`` float32, ``scene [N]`` int64, ``field [S, H, W]``, ``origin [S, 2]``, ``res [S]`` float32."""
    h, w = field.shape[1], field.shape[2]
    half, one, zero = np.float32(0.5), np.float32(1.0), np.float32(0.0)
    for i in range(xy.shape[0]):
        s = scene[i]
        r = res[s]
        gx = (xy[i, 0] - origin[s, 0]) / r - half
        gy = (xy[i, 1] - origin[s, 1]) / r - half
        f0, f1 = np.floor(gx), np.floor(gy)
        ix, iy = np.int64(f0), np.int64(f1)
        fx, fy = gx - f0, gy - f1
        x0, x1, y0, y1 = 0 <= ix < w, 0 <= ix + 1 < w, 0 <= iy < h, 0 <= iy + 1 < h
        c0 = field[s, iy, ix] if x0 and y0 else zero
        c1 = field[s, iy, ix + 1] if x1 and y0 else zero
        c2 = field[s, iy + 1, ix] if x0 and y1 else zero
        c3 = field[s, iy + 1, ix + 1] if x1 and y1 else zero
        bottom = c0 + (c1 - c0) * fx
        top = c2 + (c3 - c2) * fx
        value[i] = bottom + (top - bottom) * fy
        if gradient:
            grad[i, 0] = ((c1 - c0) * (one - fy) + (c3 - c2) * fy) / r
            grad[i, 1] = (top - bottom) / r


_BUILDING = threading.Lock()


@functools.cache
def _jit():
    import numba

    return numba.njit(cache=True, nogil=True)(_grid_clearance)


def grid_clearance(scene: Tensor, xy: Tensor, field: Tensor, origin: Tensor, res: Tensor,
                   gradient: bool) -> tuple[Tensor, Tensor | None]:
    """`NavFields.clearance_at` on the CPU: ``(value [N], grad [N, 2] or None)`` for ``xy [N, 2]`` in scenes
    ``scene [N]`` of the stacked ``field [S, H, W]`` (``origin [S, 2]``, ``res [S]``)."""
    with _BUILDING:  # compiled (or loaded from Numba's cache) on first use, once
        kernel = _jit()
    value = torch.empty(len(xy), dtype=torch.float32)
    grad = torch.empty((len(xy), 2) if gradient else (0, 2), dtype=torch.float32)
    kernel(xy.to(torch.float32).contiguous().numpy(), scene.to(torch.int64).contiguous().numpy(), field.numpy(),
           origin.numpy(), res.numpy(), gradient, value.numpy(), grad.numpy())
    return value, grad if gradient else None


__all__ = ["available", "grid_clearance"]
