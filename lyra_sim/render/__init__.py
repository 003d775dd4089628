"""Rendering: a `GaussianScene` into `Cameras` (RGB, expected depth, alpha), and levels of detail.

- `render` (this module): scenes and cameras in, `RenderOutput` out; a thin, validating
  wrapper around `rasterize`.
- `rasterize` (`lyra_sim.render.rasterizer`): the one entry point to the rasterizers, on raw
  tensors with batch dimensions; gsplat on CUDA, the PyTorch twin (`torch_impl`) elsewhere;
  `rasterize_selected` draws each camera from its own rows of shared tables (on CUDA through
  the Triton projection of `triton_projection`, no gathered copies).
- `lod`: levels of detail of a scene for low-resolution cameras (agent observations).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..cameras import Cameras
from ..scene import GaussianScene
from .rasterizer import BACKENDS, EPS2D, MODES, fastest_backend, rasterize, rasterize_selected

__all__ = ["BACKENDS", "EPS2D", "MODES", "RenderOutput", "fastest_backend", "rasterize", "rasterize_selected", "render"]


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
        backend: "auto", or a key of `BACKENDS` ("torch", "numba", "gsplat"); `fastest_backend`
            names the fastest one installed.
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
        colors, alphas = rasterize(
            scene.means, scene.quats, scene.scales, scene.opacities, scene.sh, cameras.viewmats, cameras.Ks,
            cameras.width, cameras.height, sh_degree=scene.sh_degree, mode=mode, backgrounds=backgrounds,
            near_plane=near_plane, far_plane=far_plane, backend=backend,
        )
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
