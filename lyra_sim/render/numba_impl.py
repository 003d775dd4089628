"""Compiled CPU rasterizer for small frames (agent observations): gsplat's math in Numba loops.

The PyTorch twin (`lyra_sim.render.torch_impl`) is the reference; this module computes the
same images with per-Gaussian and per-pixel loops compiled by Numba, for the case where the
reference spends its time in torch's per-op overhead rather than in arithmetic: a 64×64
view of the few thousand Gaussians of a level-of-detail selection costs the reference some
200 tensor ops (about 4 ms on a CPU core), and these loops about 0.3 ms.

Same rules as the reference, step by step (gsplat 1.5.3, ``rasterize_mode="classic"``):

- projection: cull opacities below 1/255 and centers outside ``[near_plane, far_plane]``;
  EWA Jacobian with ``x/z, y/z`` clamped to the field of view widened by 30 %; ``eps2d``
  added; cull non-positive determinants; opacity-aware box
  ``ceil(min(3.33, sqrt(2 ln(255 opacity))) sqrt(cov_ii))``; cull boxes off the image;
- compositing: per pixel (center ``x + 0.5, y + 0.5``), front to back by camera depth (ties
  by index); ``alpha = min(0.999, opacity exp(-sigma))``, skipped below 1/255; the pixel
  stops before the Gaussian that would take its transmittance to ``<= 1e-4``.

Arithmetic is float32 like the reference's, but evaluated directly (``sigma`` from the conic)
where the reference expands it into a polynomial and runs BLAS products: results agree to
float32 rounding (about 1e-6 relative), not bit for bit; `tests/render/test_numba_impl.py`
holds the two together. Not differentiable (the reference is). Numba is optional
(``pip install "lyra-sim[cpu]"``): `available` says whether it is installed.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import math
import threading
from concurrent.futures import Executor

import numpy as np
import torch
from torch import Tensor

from ..scene import SH_C0
from ..sh import sh_to_color
from .torch_impl import (
    ALPHA_THRESHOLD,
    FOV_CLAMP_MARGIN,
    MAX_ALPHA,
    MAX_EXTENT_SIGMAS,
    MIN_TRANSMITTANCE,
    RENDER_MODES,
    RasterConfig,
    finish_composite,
)


def available() -> bool:
    """Whether Numba is installed (the kernels compile on first use, then load from Numba's cache)."""
    return importlib.util.find_spec("numba") is not None


_BUILDING = threading.Lock()
"""`_kernels` may be asked for on two threads at once (`preload`'s and the first frame's)."""


def _kernels():
    """The compiled ``(project, composite)``, built on first use (Numba is imported only then; its on-disk
    cache spares later processes the few seconds of compilation)."""
    with _BUILDING:
        return _jit()


@functools.cache
def _jit():
    import numba

    return tuple(numba.njit(cache=True, nogil=True)(f) for f in (_project, _composite))


@functools.cache
def preload() -> threading.Thread | None:
    """Load the kernels on a daemon thread from now on (once per process; None without numba).

    Importing Numba and loading the kernels from its cache take about 0.8 s, much of it in LLVM
    outside the GIL: started before other work (a world model making its Gaussians), they are
    done by the first frame, which otherwise waits for them.
    """
    if not available():
        return None
    thread = threading.Thread(target=_load, name="numba-kernel", daemon=True)
    thread.start()
    return thread


def _load() -> None:
    f32 = np.float32
    g = (np.zeros((1, 3), f32), np.array([[1, 0, 0, 0]], f32), np.ones((1, 3), f32), np.ones(1, f32))
    # An error here is raised again by the first frame drawn, where it belongs.
    with contextlib.suppress(Exception):  # the first calls load the machine code for the argument types every frame passes
        project, composite = _kernels()
        proj = project(*g, np.zeros(1, np.int64), np.eye(4, dtype=f32), np.eye(3, dtype=f32), 1, 1, f32(0.01), f32(1e10),
                       f32(0.3))
        composite(*proj, g[3], np.zeros((1, 0), f32), False, 0, 1, np.zeros((1, 1, 1), f32), np.zeros((1, 1), f32))


def _project(means, quats, scales, opacities, rows, viewmat, k, width, height, near, far, eps2d):
    """Project the Gaussians ``rows [M]`` (int64 rows of ``means [N, 3]``, ``quats [N, 4]``, ``scales [N, 3]``,
    ``opacities [N]``, float32) for one camera (``viewmat [4, 4]``, ``k [3, 3]`` float32).

    Returns the survivors front to back (stable: ties keep ``rows``' order): ``geom [S, 6]`` float32 (mean x, y,
    conic a, b, c, depth), ``box [S, 4]`` int64 (x0, x1, y0, y1: the pixels to visit) and ``ids [S]`` their
    rows. Numba compiles it (`_kernels`); as plain Python it runs too, slowly.
    """
    f32 = np.float32
    n = rows.shape[0]
    fx, fy, cx, cy = k[0, 0], k[1, 1], k[0, 2], k[1, 2]
    w_f, h_f = f32(width), f32(height)
    margin = f32(FOV_CLAMP_MARGIN)
    tan_x, tan_y = f32(0.5) * w_f / fx, f32(0.5) * h_f / fy
    lim_x0, lim_x1 = -cx / fx - margin * tan_x, (w_f - cx) / fx + margin * tan_x
    lim_y0, lim_y1 = -cy / fy - margin * tan_y, (h_f - cy) / fy + margin * tan_y
    alpha_min = f32(ALPHA_THRESHOLD)
    # For the pre-cull below: |x/z|, |y/z| after the clamp, and the viewmat's row norms.
    abs_u = max(-lim_x0, lim_x1)
    abs_v = max(-lim_y0, lim_y1)
    n0 = math.sqrt(viewmat[0, 0] ** 2 + viewmat[0, 1] ** 2 + viewmat[0, 2] ** 2)
    n1 = math.sqrt(viewmat[1, 0] ** 2 + viewmat[1, 1] ** 2 + viewmat[1, 2] ** 2)
    n2 = math.sqrt(viewmat[2, 0] ** 2 + viewmat[2, 1] ** 2 + viewmat[2, 2] ** 2)
    reach_x = f32(MAX_EXTENT_SIGMAS) * (n0 + abs_u * n2) * fx
    reach_y = f32(MAX_EXTENT_SIGMAS) * (n1 + abs_v * n2) * fy
    geom_a = np.empty((n, 6), f32)
    box_a = np.empty((n, 4), np.int64)
    ids_a = np.empty(n, np.int64)
    m = 0
    for t in range(n):
        i = rows[t]
        op = opacities[i]
        if not op >= alpha_min:
            continue
        px, py, pz = means[i, 0], means[i, 1], means[i, 2]
        x = viewmat[0, 0] * px + viewmat[0, 1] * py + viewmat[0, 2] * pz + viewmat[0, 3]
        y = viewmat[1, 0] * px + viewmat[1, 1] * py + viewmat[1, 2] * pz + viewmat[1, 3]
        z = viewmat[2, 0] * px + viewmat[2, 1] * py + viewmat[2, 2] * pz + viewmat[2, 3]
        if not (z >= near and z <= far):
            continue
        rz = f32(1.0) / z
        # Conservative pre-cull (as the reference's `_candidates`): the box's half-width is at most
        # 3.33 sqrt(|row of J W|² max scale² + eps2d); a center farther off the image than that
        # (with slack for rounding) is culled below anyway, so skipping the covariance here
        # changes no value. Inside a room most Gaussians lie outside a 90° view.
        s_max = max(scales[i, 0], scales[i, 1], scales[i, 2])
        mx = fx * x * rz + cx
        my = fy * y * rz + cy
        ex = math.sqrt((reach_x * rz * s_max) ** 2 + f32(MAX_EXTENT_SIGMAS) ** 2 * eps2d) * f32(1.0001) + f32(1.0)
        ey = math.sqrt((reach_y * rz * s_max) ** 2 + f32(MAX_EXTENT_SIGMAS) ** 2 * eps2d) * f32(1.0001) + f32(1.0)
        if not (mx + ex > 0 and mx - ex < w_f and my + ey > 0 and my - ey < h_f):
            continue
        u = min(max(x * rz, lim_x0), lim_x1)
        v = min(max(y * rz, lim_y0), lim_y1)
        # Rows of J W (Jacobian times world-to-camera rotation).
        j0 = fx * rz
        j1 = fy * rz
        a0, a1, a2 = j0 * (viewmat[0, 0] - u * viewmat[2, 0]), j0 * (viewmat[0, 1] - u * viewmat[2, 1]), j0 * (viewmat[0, 2] - u * viewmat[2, 2])
        b0, b1, b2 = j1 * (viewmat[1, 0] - v * viewmat[2, 0]), j1 * (viewmat[1, 1] - v * viewmat[2, 1]), j1 * (viewmat[1, 2] - v * viewmat[2, 2])
        qw, qx, qy, qz = quats[i, 0], quats[i, 1], quats[i, 2], quats[i, 3]
        q2 = qw * qw + qx * qx + qy * qy + qz * qz
        s = f32(2.0) / q2
        r00 = f32(1.0) - s * (qy * qy + qz * qz)
        r01 = s * (qx * qy - qw * qz)
        r02 = s * (qx * qz + qw * qy)
        r10 = s * (qx * qy + qw * qz)
        r11 = f32(1.0) - s * (qx * qx + qz * qz)
        r12 = s * (qy * qz - qw * qx)
        r20 = s * (qx * qz - qw * qy)
        r21 = s * (qy * qz + qw * qx)
        r22 = f32(1.0) - s * (qx * qx + qy * qy)
        sx, sy, sz = scales[i, 0], scales[i, 1], scales[i, 2]
        # F = (J W R) S, columns over the local axes; cov2d = F Fᵀ.
        f00 = (a0 * r00 + a1 * r10 + a2 * r20) * sx
        f01 = (a0 * r01 + a1 * r11 + a2 * r21) * sy
        f02 = (a0 * r02 + a1 * r12 + a2 * r22) * sz
        f10 = (b0 * r00 + b1 * r10 + b2 * r20) * sx
        f11 = (b0 * r01 + b1 * r11 + b2 * r21) * sy
        f12 = (b0 * r02 + b1 * r12 + b2 * r22) * sz
        ca = f00 * f00 + f01 * f01 + f02 * f02 + eps2d
        cb = f00 * f10 + f01 * f11 + f02 * f12
        cc = f10 * f10 + f11 * f11 + f12 * f12 + eps2d
        det = ca * cc - cb * cb
        if not det > 0:
            continue
        extend = min(math.sqrt(f32(2.0) * math.log(op / alpha_min)), f32(MAX_EXTENT_SIGMAS))
        rx = math.ceil(extend * math.sqrt(max(ca, f32(0.0))))
        ry = math.ceil(extend * math.sqrt(max(cc, f32(0.0))))
        if not (rx > 0 or ry > 0):
            continue
        if not (mx + rx > 0 and mx - rx < w_f and my + ry > 0 and my - ry < h_f):
            continue
        geom_a[m, 0], geom_a[m, 1] = mx, my
        geom_a[m, 2], geom_a[m, 3], geom_a[m, 4] = cc / det, -cb / det, ca / det
        geom_a[m, 5] = z
        box_a[m, 0] = max(0, int(math.floor(mx - rx)))
        box_a[m, 1] = min(width, int(math.ceil(mx + rx)) + 1)
        box_a[m, 2] = max(0, int(math.floor(my - ry)))
        box_a[m, 3] = min(height, int(math.ceil(my + ry)) + 1)
        ids_a[m] = i
        m += 1
    order = np.argsort(geom_a[:m, 5], kind="mergesort")
    geom = np.empty((m, 6), f32)
    box = np.empty((m, 4), np.int64)
    ids = np.empty(m, np.int64)
    for j in range(m):
        e = order[j]
        geom[j] = geom_a[e]
        box[j] = box_a[e]
        ids[j] = ids_a[e]
    return geom, box, ids


def _composite(geom, box, ids, opacities, feats, sh0, phase, stride, out, out_alpha):
    """Composite `_project`'s survivors (``geom``, ``box``, ``ids``; front to back) into the image rows ``y`` with
    ``y % stride == phase``: row ``(y - phase) // stride`` of ``out [R, W, F (+1)]`` (``Σ w feats``, then ``Σ w z``
    if ``out`` has one channel more than ``feats [N, F]``) and ``out_alpha [R, W]`` (``Σ w``), both zeroed by the
    caller. With ``sh0`` the features
    are degree-0 SH coefficients, drawn as gsplat's colors ``max(C0 · c + 0.5, 0)``.

    Every pixel sees the Gaussians in the same order whichever thread draws its row, so interleaved rows
    drawn on separate threads (the kernel releases the GIL) give the one-thread image bit for bit, and
    each thread gets about the same work.
    """
    f32 = np.float32
    nf = feats.shape[1]
    with_depth = out.shape[2] > nf
    width = out.shape[1]
    alpha_min = f32(ALPHA_THRESHOLD)
    # Outside the box alpha < 1/255: the box reaches the 1/255 contour (3.33 sigma binds only
    # for opacities above 1).
    trans = np.ones((out.shape[0], width), f32)
    t_min = f32(MIN_TRANSMITTANCE)
    max_alpha = f32(MAX_ALPHA)
    half = f32(0.5)
    sh_c0 = f32(SH_C0)
    feat = np.empty(nf, f32)
    for j in range(geom.shape[0]):
        lo, hi = box[j, 2], box[j, 3]
        lo += (phase - lo) % stride  # this thread's first row of the box
        if lo >= hi:
            continue
        i = ids[j]
        op = opacities[i]
        mx, my = geom[j, 0], geom[j, 1]
        ca, cb, cc = geom[j, 2], geom[j, 3], geom[j, 4]
        # sigma above this: alpha below 1/255 (with slack for rounding), no exp needed.
        sigma_max = f32(math.log(op / alpha_min)) * f32(1.0001) + f32(1e-3)
        for c in range(nf):
            feat[c] = max(sh_c0 * feats[i, c] + half, f32(0.0)) if sh0 else feats[i, c]
        for yy in range(lo, hi, stride):
            ty = (yy - phase) // stride
            dy = my - (f32(yy) + half)
            # The row's pixels whose centers lie inside the ellipse sigma <= sigma_max (roots of
            # a quadratic in dx, widened by 0.05 px for rounding; sigma_max has slack too): an
            # elongated footprint fills little of its box.
            disc = cb * cb * dy * dy - ca * (cc * dy * dy - f32(2.0) * sigma_max)
            if disc < 0:
                continue
            root = math.sqrt(disc)
            x_lo = max(box[j, 0], int(math.ceil(mx + (cb * dy - root) / ca - half - f32(0.05))))
            x_hi = min(box[j, 1], int(math.floor(mx + (cb * dy + root) / ca - half + f32(0.05))) + 1)
            for xx in range(x_lo, x_hi):
                t = trans[ty, xx]
                if t <= 0:
                    continue
                dx = mx - (f32(xx) + half)
                sigma = half * (ca * dx * dx + cc * dy * dy) + cb * dx * dy
                if sigma < 0 or sigma > sigma_max:
                    continue
                alpha = min(max_alpha, op * f32(math.exp(-sigma)))
                if alpha < alpha_min:
                    continue
                next_t = t * (f32(1.0) - alpha)
                if next_t <= t_min:
                    trans[ty, xx] = 0  # done: this Gaussian and all behind it are skipped
                    continue
                w = alpha * t
                for c in range(nf):
                    out[ty, xx, c] += w * feat[c]
                if with_depth:
                    out[ty, xx, nf] += w * geom[j, 5]
                out_alpha[ty, xx] += w
                trans[ty, xx] = next_t


def draw(
    means: Tensor,
    quats: Tensor,
    scales: Tensor,
    opacities: Tensor,
    feats: Tensor,
    viewmat: Tensor,
    k: Tensor,
    width: int,
    height: int,
    *,
    rows: Tensor | None = None,
    sh0: bool = False,
    depth: bool = False,
    near_plane: float = 0.01,
    far_plane: float = 1e10,
    eps2d: float = 0.3,
    pool: Executor | None = None,
    threads: int = 1,
) -> tuple[Tensor, Tensor]:
    """One camera's composited sums (before `finish_composite`): ``out [H, W, F (+1)]`` (``Σ w feats``, then
    ``Σ w z`` with ``depth``) and ``alpha [H, W, 1]`` (``Σ w``).

    Args:
        means, quats, scales, opacities, feats: ``[N, 3]``, ``[N, 4]``, ``[N, 3]``, ``[N]``, ``[N, F]`` CPU
            tensors; with ``sh0`` the features are degree-0 SH coefficients (drawn as gsplat's colors).
        viewmat, k: ``[4, 4]`` world-to-camera and ``[3, 3]`` intrinsics.
        rows: ``[M]`` int64, the rows to draw (e.g. a level-of-detail selection; ties in depth keep this
            order), read in place; None draws all.
        pool, threads: composite on ``threads`` threads at once (rows interleaved), ``threads - 1`` of them
            from ``pool``; the image is the one-thread image bit for bit.
    """
    project, composite = _kernels()
    f32 = np.float32
    arrays = [x.detach().to(torch.float32).contiguous().numpy() for x in (means, quats, scales, opacities, feats)]
    idx = np.arange(len(means)) if rows is None else rows.to(torch.int64).contiguous().numpy()
    if len(idx) and not (0 <= idx.min() and idx.max() < len(means)):
        raise IndexError(f"rows: expected indices in [0, {len(means)}), got {idx.min()}..{idx.max()}")
    threads = max(1, min(int(threads), height)) if pool is not None else 1
    geom, box, ids = project(*arrays[:4], idx, viewmat.detach().to(torch.float32).contiguous().numpy(),
                             k.detach().to(torch.float32).contiguous().numpy(), width, height, f32(near_plane),
                             f32(far_plane), f32(eps2d))
    channels = arrays[4].shape[1] + depth
    args = (geom, box, ids, arrays[3], arrays[4], sh0)
    # Each thread its own rows' buffers, gathered after: rows of one image written by two threads would share
    # cache lines at their ends.
    outs = [np.zeros(((height - t + threads - 1) // threads, width, channels), f32) for t in range(threads)]
    alphas = [np.zeros(o.shape[:2], f32) for o in outs]
    others = [pool.submit(composite, *args, t, threads, outs[t], alphas[t]) for t in range(1, threads)]
    composite(*args, 0, threads, outs[0], alphas[0])
    for job in others:
        job.result()
    if threads == 1:
        return torch.from_numpy(outs[0]), torch.from_numpy(alphas[0])[..., None]
    out = np.empty((height, width, channels), f32)
    alpha = np.empty((height, width), f32)
    for t in range(threads):
        out[t::threads], alpha[t::threads] = outs[t], alphas[t]
    return torch.from_numpy(out), torch.from_numpy(alpha)[..., None]


def rasterization(
    means: Tensor,
    quats: Tensor,
    scales: Tensor,
    opacities: Tensor,
    colors: Tensor,
    viewmats: Tensor,
    Ks: Tensor,
    width: int,
    height: int,
    *,
    sh_degree: int | None = None,
    backgrounds: Tensor | None = None,
    render_mode: str = "RGB",
    config: RasterConfig = RasterConfig(),
    rows: Tensor | None = None,
    pool: Executor | None = None,
    threads: int = 1,
) -> tuple[Tensor, Tensor]:
    """`lyra_sim.render.torch_impl.rasterization` (same arguments and outputs) with the compiled kernels.

    CPU tensors only; no gradients. ``config``'s eps2d, near_plane and far_plane apply (its
    tiling and chunk settings are the reference's own). ``rows``, ``pool`` and ``threads`` as `draw`'s:
    ``rows [M]`` draws those rows of the Gaussians as if they had been gathered first (read in place
    unless SH of degree > 0 have to be evaluated for them).
    """
    if render_mode not in RENDER_MODES:
        raise ValueError(f"render_mode: unknown mode {render_mode!r}; accepted: {', '.join(RENDER_MODES)}")
    c = viewmats.shape[0]
    outs, alphas = [], []
    with_depth = render_mode != "RGB"
    sh0 = render_mode != "ED" and sh_degree == 0
    if rows is not None and not (render_mode == "ED" or sh_degree is None or sh0):  # view-dependent colors: gathered
        means, quats, scales, opacities, colors = (x.index_select(0, rows) for x in (means, quats, scales, opacities, colors))
        rows = None
    if render_mode == "ED":
        static = torch.zeros((len(means), 0))
    elif sh_degree is None or sh0:  # the same features for every camera
        static = colors.detach()[:, 0] if sh0 else colors.detach()
    for cam in range(c):
        if render_mode == "ED" or sh_degree is None or sh0:
            feats = static
        else:
            campos = torch.linalg.inv(viewmats[cam])[:3, 3]
            feats = sh_to_color(sh_degree, colors.detach(), means.detach() - campos)
        out, alpha = draw(means, quats, scales, opacities, feats, viewmats[cam], Ks[cam], width, height, rows=rows, sh0=sh0,
                          depth=with_depth, near_plane=config.near_plane, far_plane=config.far_plane, eps2d=config.eps2d,
                          pool=pool, threads=threads)
        outs.append(out)
        alphas.append(alpha)
    return finish_composite(torch.stack(outs), torch.stack(alphas), backgrounds, render_mode)
