"""`rasterize`: the one entry point to the Gaussian rasterizers, on raw tensors.

Three backends with the same math (gsplat 1.5.3, ``rasterize_mode="classic"``, ``eps2d=0.3``):

- ``"torch"``: `lyra_sim.render.torch_impl`, pure PyTorch, differentiable, runs anywhere;
- ``"numba"``: `lyra_sim.render.numba_impl`, compiled CPU loops for small frames (agent views),
  equal to "torch" up to float32 rounding, not differentiable; needs numba;
- ``"gsplat"``: gsplat's CUDA kernels, for CUDA tensors. gsplat is imported only when this
  backend runs, so importing this module (or rasterizing on the CPU) never loads gsplat nor
  triggers its JIT build.

``backend="auto"`` picks gsplat for CUDA tensors and torch otherwise. Nothing else in lyra-sim
calls either backend: `lyra_sim.render.render` (scenes and `Cameras`), the environments'
batched observations and the exporters' depth views all come through here.
"""

from __future__ import annotations

import math
from types import MappingProxyType
from typing import Callable, Mapping

import torch
from torch import Tensor

from . import numba_impl
from .torch_impl import RENDER_MODES, RasterConfig, rasterization

MODES = RENDER_MODES
"""Accepted ``mode`` values: "RGB", "ED" (expected depth) and "RGB+ED"."""

EPS2D = 0.3
"""Low-pass filter (pixels²) added to projected covariances, gsplat's default."""

GSPLAT_PACKED_MIN_PAIRS = 1 << 22
"""gsplat's packed mode saves memory on big (camera × Gaussian) batches and costs time on small ones."""

Backend = Callable[..., "tuple[Tensor, Tensor]"]
"""``f(means, quats, scales, opacities, colors, viewmats, Ks, width, height, sh_degree, mode,
backgrounds, near_plane, far_plane) → (colors, alphas)``; arguments as `rasterize` documents."""


def _torch_backend(means, quats, scales, opacities, colors, viewmats, Ks, width, height, sh_degree, mode,
                   backgrounds, near_plane, far_plane) -> tuple[Tensor, Tensor]:
    config = RasterConfig(eps2d=EPS2D, near_plane=near_plane, far_plane=far_plane)
    if means.ndim == 2:
        return rasterization(means, quats, scales, opacities, colors, viewmats, Ks, width, height,
                             sh_degree=sh_degree, backgrounds=backgrounds, render_mode=mode, config=config)
    # Batch dimensions: the reference renders each batch entry on its own (same math as gsplat's batch).
    out = [
        _torch_backend(means[b], quats[b], scales[b], opacities[b], colors[b], viewmats[b], Ks[b], width, height,
                       sh_degree, mode, None if backgrounds is None else backgrounds[b], near_plane, far_plane)
        for b in range(means.shape[0])
    ]
    return torch.stack([c for c, _ in out]), torch.stack([a for _, a in out])


def _numba_backend(means, quats, scales, opacities, colors, viewmats, Ks, width, height, sh_degree, mode,
                   backgrounds, near_plane, far_plane) -> tuple[Tensor, Tensor]:
    if means.device.type != "cpu":
        raise ValueError(f"backend: 'numba' draws CPU tensors, but the Gaussians are on {means.device}")
    if not numba_impl.available():
        raise ImportError("backend: 'numba' needs the numba package; install it with: pip install \"lyra-sim[cpu]\"")
    config = RasterConfig(eps2d=EPS2D, near_plane=near_plane, far_plane=far_plane)
    if means.ndim == 2:
        return numba_impl.rasterization(means, quats, scales, opacities, colors, viewmats, Ks, width, height,
                                        sh_degree=sh_degree, backgrounds=backgrounds, render_mode=mode, config=config)
    out = [
        _numba_backend(means[b], quats[b], scales[b], opacities[b], colors[b], viewmats[b], Ks[b], width, height,
                       sh_degree, mode, None if backgrounds is None else backgrounds[b], near_plane, far_plane)
        for b in range(means.shape[0])
    ]
    return torch.stack([c for c, _ in out]), torch.stack([a for _, a in out])


def _gsplat_backend(means, quats, scales, opacities, colors, viewmats, Ks, width, height, sh_degree, mode,
                    backgrounds, near_plane, far_plane) -> tuple[Tensor, Tensor]:
    if means.device.type != "cuda":
        raise ValueError(
            f"backend: 'gsplat' needs CUDA tensors, but the Gaussians are on {means.device}; "
            "use backend='torch' (or 'auto'), or move scene and cameras with .to('cuda')"
        )
    try:
        import gsplat  # deferred: importing gsplat may JIT-compile its CUDA kernels
    except ImportError as err:
        raise ImportError(
            "backend: 'gsplat' needs the gsplat package; install it with: pip install \"lyra-sim[gpu]\""
        ) from err
    # Packed mode only without batch dimensions: gsplat 1.5.3's packed mode with batch dimensions
    # drew wrong images on the H100 (11 dB PSNR against full-scene renders at 1024 cameras);
    # unpacked matched (31 dB).
    packed = means.ndim == 2 and viewmats.shape[-3] * means.shape[-2] >= GSPLAT_PACKED_MIN_PAIRS
    out, alphas, _ = gsplat.rasterization(
        means, quats, scales, opacities, colors, viewmats, Ks, width, height,
        near_plane=near_plane, far_plane=far_plane, eps2d=EPS2D, sh_degree=sh_degree, packed=packed,
        backgrounds=backgrounds, render_mode=mode, rasterize_mode="classic",
    )
    return out, alphas


BACKENDS: Mapping[str, Backend] = MappingProxyType(
    {"torch": _torch_backend, "numba": _numba_backend, "gsplat": _gsplat_backend}
)
"""Backend name → rasterizer. `rasterize` also accepts "auto" (never "numba": it must be asked for,
since it matches "torch" to float32 rounding, not bit for bit; see `fastest_backend`)."""


def fastest_backend(device: torch.device | str) -> str:
    """The backend that draws fastest on ``device`` without gradients: "numba" on the CPU when it is
    installed (else "torch"), "auto" elsewhere (gsplat on CUDA).

    What the exporters' depth views and the scene preview use. Output then depends on whether numba
    is installed (float32 rounding: the two CPU backends differ by about 1e-6 relative), so a bundle's
    manifest records numba's version with the other packages.
    """
    if torch.device(device).type != "cpu":
        return "auto"
    return "numba" if numba_impl.available() else "torch"


def rasterize(
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
    mode: str = "RGB",
    backgrounds: Tensor | None = None,
    near_plane: float = 0.01,
    far_plane: float = 1e10,
    backend: str = "auto",
) -> tuple[Tensor, Tensor]:
    """Rasterize Gaussians into cameras; gsplat's inputs and outputs, with optional batch dims ``B``.

    Args:
        means: ``[B..., N, 3]``; quats: ``[B..., N, 4]`` (wxyz); scales: ``[B..., N, 3]`` (meters);
            opacities: ``[B..., N]`` in [0, 1].
        colors: ``[B..., N, K, 3]`` SH coefficients when ``sh_degree`` is given, else ``[B..., N, D]``
            colors (gsplat's convention).
        viewmats: ``[B..., C, 4, 4]`` world-to-camera (OpenCV); Ks: ``[B..., C, 3, 3]``.
        width, height: image size in pixels.
        sh_degree: SH degree to evaluate, or None for plain colors.
        mode: one of `MODES`.
        backgrounds: ``[B..., C, D]`` colors behind the Gaussians, or None for black.
        near_plane, far_plane: Gaussians whose center's camera depth lies outside are not drawn.
        backend: "auto" (gsplat for CUDA tensors, else torch) or a key of `BACKENDS`.

    Returns:
        ``(colors [B..., C, H, W, X], alphas [B..., C, H, W, 1])``; X = D, 1 or D + 1 (expected
        depth last).
    """
    if mode not in MODES:
        raise ValueError(f"mode: unknown render mode {mode!r}; accepted: {', '.join(MODES)}")
    if backend == "auto":
        backend = "gsplat" if means.device.type == "cuda" else "torch"
    if backend not in BACKENDS:
        raise ValueError(f"backend: unknown backend {backend!r}; accepted: auto, {', '.join(BACKENDS)}")
    if means.ndim < 2 or viewmats.ndim != means.ndim + 1:
        raise ValueError(
            f"means [B..., N, 3] and viewmats [B..., C, 4, 4] need the same batch dimensions, "
            f"got {list(means.shape)} and {list(viewmats.shape)}"
        )
    return BACKENDS[backend](means, quats, scales, opacities, colors, viewmats, Ks, width, height, sh_degree, mode,
                             backgrounds, float(near_plane), float(far_plane))


def _posed(tables: list[Tensor], poses: Tensor, sh_degree: int | None) -> list[Tensor]:
    """Gathered rows ``[B, M, ...]`` moved by their poses ``[B, M, 4, 4]``: means, rotations and (SH) colors."""
    from ..scene import quat_multiply, rotmat_to_quat
    from ..sh import rotate_sh

    means, quats, scales, opacities, colors = tables
    r, t = poses[..., :3, :3], poses[..., :3, 3]
    b, m = means.shape[:2]
    means = (r @ means[..., None])[..., 0] + t
    quats = quat_multiply(rotmat_to_quat(r.reshape(-1, 3, 3)), torch.nn.functional.normalize(quats.reshape(-1, 4), dim=-1))
    if sh_degree is not None and colors.shape[-2] > 1:
        colors = rotate_sh(colors.reshape(b * m, *colors.shape[2:]), r.reshape(-1, 3, 3)).view(colors.shape)
    return [means, quats.view(b, m, 4), scales, opacities, colors]


def _selected_reference(means, quats, scales, opacities, colors, ids, viewmats, Ks, width, height, sh_degree, mode,
                        near_plane, far_plane, backend, groups=None, group_poses=None) -> tuple[Tensor, Tensor]:
    """Gather each camera's rows (moved by their groups' poses), then `rasterize` with one camera per batch entry."""
    b, m = ids.shape
    flat = ids.reshape(-1)
    tables = [t.index_select(0, flat).view(b, m, *t.shape[1:]) for t in (means, quats, scales, opacities, colors)]
    if groups is not None:
        poses = group_poses.to(means.dtype).gather(
            1, groups.index_select(0, flat).view(b, m, 1, 1).expand(b, m, 4, 4).long())
        tables = _posed(tables, poses, sh_degree)
    out, alphas = rasterize(*tables, viewmats[:, None], Ks[:, None], width, height, sh_degree=sh_degree, mode=mode,
                            near_plane=near_plane, far_plane=far_plane, backend=backend)
    return out[:, 0], alphas[:, 0]


def _selected_fused(means, quats, scales, opacities, colors, ids, viewmats, Ks, width, height, sh_degree, mode,
                    near_plane, far_plane, backend, groups=None, group_poses=None) -> tuple[Tensor, Tensor]:
    """The Triton projection reads the rows in place; gsplat's tile intersection and rasterization draw them."""
    from gsplat.cuda._wrapper import isect_offset_encode, isect_tiles, rasterize_to_pixels

    from .triton_projection import project_selected

    b = ids.shape[0]
    radii, means2d, depths, conics, rgb, opac = project_selected(
        means, quats, scales, opacities, colors, ids, viewmats, Ks, width, height, EPS2D, near_plane, far_plane,
        groups, group_poses)
    if mode == "RGB":
        feats = rgb
    else:  # expected depth accumulates as the last channel
        feats = depths[..., None] if mode == "ED" else torch.cat([rgb, depths[..., None]], -1)
    tile = 16
    tiles_x, tiles_y = math.ceil(width / tile), math.ceil(height / tile)
    _, isect_ids, flatten_ids = isect_tiles(means2d, radii, depths, tile, tiles_x, tiles_y, packed=False, n_images=b)
    offsets = isect_offset_encode(isect_ids, b, tiles_x, tiles_y).reshape(b, 1, tiles_y, tiles_x)
    out, alphas = rasterize_to_pixels(means2d, conics, feats, opac, width, height, tile, offsets, flatten_ids)
    if mode != "RGB":  # expected depth, as gsplat's `rasterization` normalizes it
        out = torch.cat([out[..., :-1], out[..., -1:] / alphas.clamp(min=1e-10)], -1)
    return out[:, 0], alphas[:, 0]


SELECTED_BACKENDS: Mapping[str, Backend] = MappingProxyType({"gather": _selected_reference, "fused": _selected_fused})
"""How `rasterize_selected` gets each camera's rows to the rasterizer: gathered copies (the reference,
on `BACKENDS` "torch" or "gsplat"), or read in place by the Triton projection (CUDA, colors only)."""


def rasterize_selected(
    means: Tensor,
    quats: Tensor,
    scales: Tensor,
    opacities: Tensor,
    colors: Tensor,
    ids: Tensor,
    viewmats: Tensor,
    Ks: Tensor,
    width: int,
    height: int,
    *,
    sh_degree: int | None = None,
    mode: str = "RGB",
    near_plane: float = 0.01,
    far_plane: float = 1e10,
    backend: str = "auto",
    groups: Tensor | None = None,
    group_poses: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Rasterize camera ``b`` from its own rows ``ids[b]`` of shared Gaussian tables (one camera per row).

    Args:
        means, quats, scales, opacities, colors: tables ``[R, ...]`` as `rasterize` takes them
            (colors ``[R, D]`` with ``sh_degree=None``, or SH ``[R, K, 3]``).
        ids: ``[B, M]`` integer rows per camera (padding rows must be invisible: opacity 0).
        viewmats: ``[B, 4, 4]``; Ks: ``[B, 3, 3]``.
        backend: "auto" (fused on CUDA with plain colors, when Triton is installed; else the
            gathered reference on the device's `rasterize` backend), "fused", or "torch" /
            "gsplat" (the gathered reference on that rasterizer).
        groups, group_poses: rigid groups of rows (moving parts stored in their own frames):
            ``groups [R]`` int, each row's group in ``0..G-1``, and ``group_poses [B, G, 4, 4]``,
            the rigid transform (``x ↦ R x + t``) camera ``b`` draws each group's rows under, so
            every camera sees the parts where they are at its own time. Positions and rotations
            turn; SH colors too (rotated, `lyra_sim.sh.rotate_sh`), plain colors are taken as
            view-independent. None: every row as stored.

    Returns:
        ``(colors [B, H, W, X], alphas [B, H, W, 1])``, as `rasterize`.
    """
    if mode not in MODES:
        raise ValueError(f"mode: unknown render mode {mode!r}; accepted: {', '.join(MODES)}")
    if ids.ndim != 2 or viewmats.shape != (ids.shape[0], 4, 4) or Ks.shape != (ids.shape[0], 3, 3):
        raise ValueError(f"ids [B, M], viewmats [B, 4, 4] and Ks [B, 3, 3] must agree, got {list(ids.shape)}, "
                         f"{list(viewmats.shape)} and {list(Ks.shape)}")
    if (groups is None) != (group_poses is None):
        raise ValueError("groups and group_poses go together (rows' rigid groups and their poses per camera)")
    if groups is not None and (groups.shape != (means.shape[0],) or group_poses.ndim != 4
                               or group_poses.shape[0] != ids.shape[0] or group_poses.shape[2:] != (4, 4)):
        raise ValueError(f"groups [R] and group_poses [B, G, 4, 4] must fit the tables ({means.shape[0]} rows) and the "
                         f"{ids.shape[0]} cameras, got {list(groups.shape)} and {list(group_poses.shape)}")
    if backend == "auto":
        backend = "fused" if means.device.type == "cuda" and sh_degree is None and triton_available() else "gather"
        reference = "gsplat" if means.device.type == "cuda" else "torch"
    elif backend in BACKENDS:
        backend, reference = "gather", backend
    elif backend == "fused":
        if sh_degree is not None:
            raise ValueError("backend: 'fused' draws plain colors (sh_degree=None); evaluate SH first or use 'gsplat'")
        reference = "gsplat"
    else:
        raise ValueError(f"backend: unknown {backend!r}; accepted: auto, fused, {', '.join(BACKENDS)}")
    return SELECTED_BACKENDS[backend](means, quats, scales, opacities, colors, ids, viewmats, Ks, width, height, sh_degree,
                                      mode, float(near_plane), float(far_plane), reference, groups, group_poses)


def triton_available() -> bool:
    """Whether Triton is installed (the fused CUDA kernels' compiler)."""
    import importlib.util

    return importlib.util.find_spec("triton") is not None
