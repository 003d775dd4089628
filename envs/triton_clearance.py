"""The task's clearance look-ups as Triton kernels: the static grid's and the moving parts'.

Why: in PyTorch (`envs.nav_fields.NavFields.clearance_reference`,
`envs.moving_parts.MovingParts.clearance_reference`: the references, and the CPU path) a look-up
is ~30 (grid) and ~75 (parts) small kernels, and a step calls them ~7 and ~11 times per sub-step
(the push, the slide, the bisections); replayed from a CUDA graph those launches were most of
the step (5,775 kernels for the dynamic box room against 779 for its static twin, measured on
the H200). Each kernel here does its reference's float32 operations in the same order, one
program per block of agents, launched with floating-point contraction off
(``enable_fp_fusion=False``: no fused multiply-adds) and with correctly rounded division
(``div_rn``, as PyTorch's CUDA division), so its results are bit for bit the reference's.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

BLOCK = 128
"""Agents per Triton program."""


@triton.jit
def _grid_kernel(
    xy_ptr, scene_ptr, field_ptr, origin_ptr, res_ptr, value_ptr, grad_ptr,
    N, h, w,
    GRADIENT: tl.constexpr, BLOCK_SIZE: tl.constexpr,
):
    i = tl.program_id(0) * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
    live = i < N
    i64 = i.to(tl.int64)
    scene = tl.load(scene_ptr + i64, mask=live, other=0)
    res = tl.load(res_ptr + scene, mask=live, other=1.0)
    dx = tl.load(xy_ptr + 2 * i64, mask=live, other=0.0) - tl.load(origin_ptr + 2 * scene, mask=live, other=0.0)
    dy = tl.load(xy_ptr + 2 * i64 + 1, mask=live, other=0.0) - tl.load(origin_ptr + 2 * scene + 1, mask=live, other=0.0)
    c0, c1, c2, c3, fx, fy = _cell(field_ptr, scene * (h * w), tl.math.div_rn(dx, res) - 0.5,
                                   tl.math.div_rn(dy, res) - 0.5, h, w, live, 0.0)
    bottom = c0 + (c1 - c0) * fx
    top = c2 + (c3 - c2) * fx
    tl.store(value_ptr + i64, bottom + (top - bottom) * fy, mask=live)
    if GRADIENT:
        tl.store(grad_ptr + 2 * i64, tl.math.div_rn((c1 - c0) * (1.0 - fy) + (c3 - c2) * fy, res), mask=live)
        tl.store(grad_ptr + 2 * i64 + 1, tl.math.div_rn(top - bottom, res), mask=live)


@triton.jit
def _cell(field_ptr, base, g0, g1, h, w, live, fill):
    """The four cell values around grid coordinates ``(g0, g1)`` (cell centers at integers) of the grid at
    ``base`` — (ix, iy), (ix + 1, iy), (ix, iy + 1), (ix + 1, iy + 1), ``fill`` off the grid — and the
    bilinear weights ``(fx, fy)``."""
    f0 = tl.floor(g0)
    f1 = tl.floor(g1)
    ix = f0.to(tl.int64)
    iy = f1.to(tl.int64)
    x0_in = (ix >= 0) & (ix < w)
    x1_in = (ix + 1 >= 0) & (ix + 1 < w)
    y0_in = (iy >= 0) & (iy < h)
    y1_in = (iy + 1 >= 0) & (iy + 1 < h)
    cx0 = tl.minimum(tl.maximum(ix, 0), w - 1)
    cx1 = tl.minimum(tl.maximum(ix + 1, 0), w - 1)
    cy0 = tl.minimum(tl.maximum(iy, 0), h - 1)
    cy1 = tl.minimum(tl.maximum(iy + 1, 0), h - 1)
    v0 = tl.load(field_ptr + base + cy0 * w + cx0, mask=live & x0_in & y0_in, other=fill)
    v1 = tl.load(field_ptr + base + cy0 * w + cx1, mask=live & x1_in & y0_in, other=fill)
    v2 = tl.load(field_ptr + base + cy1 * w + cx0, mask=live & x0_in & y1_in, other=fill)
    v3 = tl.load(field_ptr + base + cy1 * w + cx1, mask=live & x1_in & y1_in, other=fill)
    return v0, v1, v2, v3, g0 - f0, g1 - f1


@triton.jit
def _parts_kernel(
    xy_ptr, part_ptr, c_ptr, s_ptr, frame_ptr, fields_ptr, field_origin_ptr, required_ptr,
    margin_ptr, grad_ptr,
    N, K, h, w, inv_res, pad,
    BLOCK_SIZE: tl.constexpr,
):
    i = tl.program_id(0) * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
    live = i < N
    i64 = i.to(tl.int64)
    x = tl.load(xy_ptr + 2 * i64, mask=live, other=0.0)
    y = tl.load(xy_ptr + 2 * i64 + 1, mask=live, other=0.0)
    best = tl.full((BLOCK_SIZE,), float("inf"), tl.float32)
    best_gx = tl.full((BLOCK_SIZE,), 0.0, tl.float32)
    best_gy = tl.full((BLOCK_SIZE,), 0.0, tl.float32)
    for k in range(K):
        j = i64 * K + k
        part = tl.load(part_ptr + j, mask=live, other=-1)
        c = tl.load(c_ptr + j, mask=live, other=1.0)
        s = tl.load(s_ptr + j, mask=live, other=0.0)
        dx = x - tl.load(frame_ptr + 2 * j, mask=live, other=0.0)
        dy = y - tl.load(frame_ptr + 2 * j + 1, mask=live, other=0.0)
        # Into the footprint's frame: rotate by -yaw (the reference's order of operations).
        u0 = c * dx + s * dy
        u1 = -s * dx + c * dy
        p = tl.maximum(part, 0)
        g0 = (u0 - tl.load(field_origin_ptr + 2 * p, mask=live, other=0.0)) * inv_res - 0.5
        g1 = (u1 - tl.load(field_origin_ptr + 2 * p + 1, mask=live, other=0.0)) * inv_res - 0.5
        v0, v1, v2, v3, fx, fy = _cell(fields_ptr, p * (h * w), g0, g1, h, w, live, pad)
        bottom = v0 + (v1 - v0) * fx
        top = v2 + (v3 - v2) * fx
        value = bottom + (top - bottom) * fy
        gx = ((v1 - v0) * (1.0 - fy) + (v3 - v2) * fy) * inv_res
        gy = (top - bottom) * inv_res
        wx = c * gx - s * gy
        wy = s * gx + c * gy
        required = tl.load(required_ptr + p, mask=live, other=0.0)
        margin = tl.where(part >= 0, value - required, pad)
        better = margin < best  # strict: the first part of least margin, as argmin
        best = tl.where(better, margin, best)
        best_gx = tl.where(better, wx, best_gx)
        best_gy = tl.where(better, wy, best_gy)
    tl.store(margin_ptr + i64, best, mask=live)
    tl.store(grad_ptr + 2 * i64, best_gx, mask=live)
    tl.store(grad_ptr + 2 * i64 + 1, best_gy, mask=live)


def grid_clearance(scene: Tensor, xy: Tensor, clearance: Tensor, origin: Tensor, resolution: Tensor,
                   gradient: bool) -> tuple[Tensor, Tensor | None]:
    """The kernel behind `NavFields.clearance_at`: bilinear clearance ``[N]`` at ``xy [N, 2]`` of scenes
    ``scene [N]`` in the grids ``clearance [S, h, w]`` (``origin [S, 2]``, ``resolution [S]``), and with
    ``gradient`` its gradient ``[N, 2]`` (else None)."""
    n = len(scene)
    h, w = clearance.shape[1:]
    value = torch.empty(n, dtype=torch.float32, device=xy.device)
    grad = torch.empty((n, 2), dtype=torch.float32, device=xy.device) if gradient else value
    if n:
        _grid_kernel[(triton.cdiv(n, BLOCK),)](
            xy.contiguous(), scene.contiguous(), clearance, origin.contiguous(), resolution.contiguous(), value, grad,
            n, h, w, GRADIENT=gradient, BLOCK_SIZE=BLOCK, enable_fp_fusion=False,
        )
    return value, grad if gradient else None


def part_clearance(part: Tensor, c: Tensor, s: Tensor, origin: Tensor, xy: Tensor, fields: Tensor,
                   field_origin: Tensor, required: Tensor, inv_resolution: float, pad: float) -> tuple[Tensor, Tensor]:
    """The kernel behind `MovingParts.clearance` (same arguments, unpacked).

    Args:
        part: ``[N, K]`` int64 part per agent slot (-1: none); c, s: ``[N, K]`` float32 footprint frame
            rotation; origin: ``[N, K, 2]`` its position; xy: ``[N, 2]`` float32 agent positions.
        fields: ``[P, h, w]`` float32 footprint fields; field_origin: ``[P, 2]``; required: ``[P]``.

    Returns:
        ``margin [N]`` and ``gradient [N, 2]``, float32.
    """
    n, k = part.shape
    h, w = fields.shape[1:]
    margin = torch.empty(n, dtype=torch.float32, device=xy.device)
    grad = torch.empty((n, 2), dtype=torch.float32, device=xy.device)
    if n == 0:
        return margin, grad
    _parts_kernel[(triton.cdiv(n, BLOCK),)](
        xy.contiguous(), part.contiguous(), c.contiguous(), s.contiguous(), origin.contiguous(), fields,
        field_origin.contiguous(), required.contiguous(), margin, grad,
        n, k, h, w, float(inv_resolution), float(pad),
        BLOCK_SIZE=BLOCK, enable_fp_fusion=False,
    )
    return margin, grad


__all__ = ["BLOCK", "grid_clearance", "part_clearance"]
