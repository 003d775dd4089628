"""Render a `GaussianScene` into `Cameras`: RGB, expected depth and alpha.

Two backends with the same math (gsplat 1.5.3, ``rasterize_mode="classic"``, ``eps2d=0.3``):

- ``"torch"``: `lyra_sim.rasterizer_torch`, pure PyTorch, differentiable, runs anywhere;
- ``"gsplat"``: gsplat's CUDA kernels, for CUDA tensors. gsplat is imported only when this
  backend runs, so importing this module (or rendering on the CPU) never loads gsplat nor
  triggers its JIT build.

``backend="auto"`` picks gsplat for CUDA scenes and torch otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable, Mapping

import torch
from torch import Tensor

from .cameras import Cameras
from .rasterizer_torch import RENDER_MODES, RasterConfig, rasterization
from .scene import GaussianScene

MODES = RENDER_MODES
"""Accepted ``mode`` values: "RGB", "ED" (expected depth) and "RGB+ED"."""

EPS2D = 0.3
"""Low-pass filter (pixels²) added to projected covariances, gsplat's default."""

GSPLAT_PACKED_MIN_PAIRS = 1 << 22
"""gsplat's packed mode saves memory on big (camera × Gaussian) batches and costs time on small ones."""


@dataclass(frozen=True)
class RenderOutput:
    """What `render` returns; images are channels-last.

    Attributes:
        rgb: ``[C, H, W, 3]`` colors blended over the background, or None in mode "ED".
        depth: ``[C, H, W, 1]`` expected camera-space depth in meters (``Σ w z / Σ w``; 0
            where nothing was hit), or None in mode "RGB".
        alpha: ``[C, H, W, 1]`` accumulated opacity in [0, 1].
    """

    rgb: Tensor | None
    depth: Tensor | None
    alpha: Tensor


@dataclass(frozen=True)
class _Request:
    """A validated render call, as the backends receive it."""

    scene: GaussianScene
    cameras: Cameras
    mode: str
    backgrounds: Tensor | None  # [C, 3]
    near_plane: float
    far_plane: float


Backend = Callable[[_Request], "tuple[Tensor, Tensor]"]
"""Renders a request into gsplat-style ``(render_colors [C, H, W, X], render_alphas [C, H, W, 1])``."""


def _render_torch(req: _Request) -> tuple[Tensor, Tensor]:
    s, cams = req.scene, req.cameras
    config = RasterConfig(eps2d=EPS2D, near_plane=req.near_plane, far_plane=req.far_plane)
    return rasterization(
        s.means, s.quats, s.scales, s.opacities, s.sh, cams.viewmats, cams.Ks, cams.width, cams.height,
        sh_degree=s.sh_degree, backgrounds=req.backgrounds, render_mode=req.mode, config=config,
    )


def _render_gsplat(req: _Request) -> tuple[Tensor, Tensor]:
    s, cams = req.scene, req.cameras
    if s.device.type != "cuda":
        raise ValueError(
            f"backend: 'gsplat' needs CUDA tensors, but the scene is on {s.device}; "
            "use backend='torch' (or 'auto'), or move scene and cameras with .to('cuda')"
        )
    try:
        import gsplat  # deferred: importing gsplat may JIT-compile its CUDA kernels
    except ImportError as err:
        raise ImportError(
            "backend: 'gsplat' needs the gsplat package; install it with: pip install \"lyra-sim[gpu]\""
        ) from err
    colors, alphas, _ = gsplat.rasterization(
        s.means, s.quats, s.scales, s.opacities, s.sh, cams.viewmats, cams.Ks, cams.width, cams.height,
        near_plane=req.near_plane, far_plane=req.far_plane, eps2d=EPS2D, sh_degree=s.sh_degree,
        packed=len(cams) * len(s) >= GSPLAT_PACKED_MIN_PAIRS, backgrounds=req.backgrounds,
        render_mode=req.mode, rasterize_mode="classic",
    )
    return colors, alphas


BACKENDS: Mapping[str, Backend] = MappingProxyType({"torch": _render_torch, "gsplat": _render_gsplat})
"""Backend name → renderer. ``render(backend=...)`` also accepts "auto"."""


def _auto_backend(scene: GaussianScene) -> str:
    return "gsplat" if scene.device.type == "cuda" else "torch"


def _backgrounds(background: Tensor | None, cameras: Cameras, device: torch.device) -> Tensor | None:
    if background is None:
        return None
    if not isinstance(background, Tensor):
        raise ValueError(f"background: expected a torch.Tensor of shape [3] or [C, 3], got {type(background).__name__}")
    c = len(cameras)
    if tuple(background.shape) not in ((3,), (c, 3)):
        raise ValueError(
            f"background: expected shape [3] or [{c}, 3] (one RGB per camera), got {list(background.shape)}"
        )
    if background.device != device:
        raise ValueError(f"background: on {background.device}, but the scene is on {device}")
    return background.to(torch.float32).expand(c, 3).contiguous()


def render(
    scene: GaussianScene,
    cameras: Cameras,
    mode: str = "RGB+ED",
    *,
    backend: str = "auto",
    background: Tensor | None = None,
    near_plane: float = 0.01,
    far_plane: float = 1e10,
) -> RenderOutput:
    """Rasterize ``scene`` into every camera of ``cameras``.

    Args:
        scene: the Gaussians (activated values, SH colors).
        cameras: C cameras, on the scene's device.
        mode: one of `MODES`: "RGB", "ED" (expected depth) or "RGB+ED".
        backend: "auto", or a key of `BACKENDS` ("torch", "gsplat").
        background: ``[3]`` or ``[C, 3]`` RGB behind the Gaussians (``rgb = Σ w c + (1 - alpha) bg``);
            None is black. Depth is never blended with it.
        near_plane, far_plane: Gaussians whose center's camera depth lies outside this range
            (meters) are not drawn.

    Returns:
        `RenderOutput` with ``[C, H, W, ·]`` tensors on the scene's device. Differentiable
        with the "torch" backend (and with "gsplat").
    """
    if mode not in MODES:
        raise ValueError(f"mode: unknown render mode {mode!r}; accepted: {', '.join(MODES)}")
    if backend != "auto" and backend not in BACKENDS:
        raise ValueError(f"backend: unknown backend {backend!r}; accepted: auto, {', '.join(BACKENDS)}")
    if not isinstance(scene, GaussianScene):
        raise ValueError(f"scene: expected a GaussianScene, got {type(scene).__name__}")
    if not isinstance(cameras, Cameras):
        raise ValueError(f"cameras: expected a Cameras, got {type(cameras).__name__}")
    if cameras.device != scene.device:
        raise ValueError(
            f"cameras: on {cameras.device}, but the scene is on {scene.device}; move one with .to(...)"
        )
    if not 0 < near_plane < far_plane:
        raise ValueError(f"near_plane, far_plane: expected 0 < near_plane < far_plane, got {near_plane}, {far_plane}")
    backgrounds = _backgrounds(background, cameras, scene.device)

    if len(scene) == 0:
        colors, alphas = _empty(cameras, mode, backgrounds, scene.device)
    else:
        req = _Request(scene, cameras, mode, backgrounds, float(near_plane), float(far_plane))
        colors, alphas = BACKENDS[_auto_backend(scene) if backend == "auto" else backend](req)
    return RenderOutput(
        rgb=None if mode == "ED" else colors[..., :3],
        depth=None if mode == "RGB" else colors[..., -1:],
        alpha=alphas,
    )


def _empty(cameras: Cameras, mode: str, backgrounds: Tensor | None, device: torch.device) -> tuple[Tensor, Tensor]:
    """Images of an empty scene: the background, alpha 0, depth 0 (no backend call)."""
    c, h, w = len(cameras), cameras.height, cameras.width
    alphas = torch.zeros(c, h, w, 1, device=device)
    parts = []
    if mode != "ED":
        bg = backgrounds if backgrounds is not None else torch.zeros(c, 3, device=device)
        parts.append(bg[:, None, None, :].expand(c, h, w, 3))
    if mode != "RGB":
        parts.append(torch.zeros(c, h, w, 1, device=device))
    return torch.cat(parts, -1), alphas
