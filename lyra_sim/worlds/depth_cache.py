"""Image → 3D cache: monocular depth, unprojected into small Gaussians that `lyra_sim.render` draws.

GEN3C's "3D cache" (Ren et al., 2025) is a point cloud lifted from the anchor image with a
depth estimate; rendered along a new camera path it shows what the anchor saw, from there, and
leaves holes where it saw nothing. A video model then fills the holes (`lyra_sim.worlds.diffusion`).

Here every kept pixel becomes one isotropic Gaussian in the world (Z up, meters) whose size is
the pixel's footprint at its depth, so the cache rendered from the anchor covers the image and
rendered from elsewhere opens holes at depth discontinuities and beyond the anchor's frustum.
The anchor camera stands ``eye_height`` meters above the world origin looking along +x, level.

Depth comes from a transformers depth-estimation model loaded from a local directory
(`DepthEstimator`: Depth Anything V2, DPT, ZoeDepth, GLPN, Depth Pro ...). Metric models give
meters; relative ones (affine-invariant inverse depth) are mapped into ``relative_range`` meters,
a guess at scale: use a metric model when scale matters (a robot's collision geometry).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from ..cameras import Cameras, look_at_cameras
from ..images import to_uint8
from ..render import render
from ..scene import GaussianScene, rgb_to_sh
from .model_dirs import check_checkpoint

METRIC_MODEL_TYPES = ("zoedepth", "glpn", "depth_pro")
"""Depth models whose output is metric depth whatever their config says."""


def load_image(image: Any, width: int, height: int) -> Tensor:
    """An image (path, PIL image, ``[H, W, 3]`` uint8 array or float tensor in [0, 1]) → ``[height, width, 3]`` in [0, 1].

    Center-cropped to the target aspect ratio, then resized (Lanczos): the anchor view's
    intrinsics then describe the whole frame.
    """
    if isinstance(image, (str, os.PathLike)):
        path = Path(image)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such image")
        pil = Image.open(path)
        pil.load()
    elif isinstance(image, Image.Image):
        pil = image
    elif isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[-1] == 3:
        pil = Image.fromarray(image.astype(np.uint8) if image.dtype != np.uint8 else image)
    elif isinstance(image, Tensor) and image.ndim == 3 and image.shape[-1] == 3:
        pil = Image.fromarray(to_uint8(image.detach().float()).cpu().numpy())
    else:
        raise ValueError(f"image: expected a path, a PIL image or an [H, W, 3] array/tensor, got {type(image).__name__}")
    pil = pil.convert("RGB")
    w, h = pil.size
    if w * height > h * width:  # too wide: crop the sides
        cw, ch = round(h * width / height), h
    else:
        cw, ch = w, round(w * height / width)
    left, top = (w - cw) // 2, (h - ch) // 2
    pil = pil.crop((left, top, left + cw, top + ch)).resize((width, height), Image.Resampling.LANCZOS)
    return torch.from_numpy(np.asarray(pil, dtype=np.float32) / 255.0)


def anchor_camera(width: int, height: int, fov_y_deg: float, eye_height: float = 1.5) -> Cameras:
    """The view the image was taken from: ``eye_height`` m above the origin, looking along +x, level."""
    eye = torch.tensor([[0.0, 0.0, eye_height]])
    return look_at_cameras(eye, eye + torch.tensor([[1.0, 0.0, 0.0]]), width, height, fov_y_deg)


def unproject(depth: Tensor, camera: Cameras) -> Tensor:
    """Pixel centers at camera-space depth ``depth: [H, W]`` (meters along the optical axis) → world points ``[H, W, 3]``."""
    if len(camera) != 1:
        raise ValueError(f"camera: expected a single camera, got {len(camera)}")
    h, w = depth.shape
    if (h, w) != (camera.height, camera.width):
        raise ValueError(f"depth: {h}x{w} does not match the camera's {camera.height}x{camera.width}")
    k = camera.Ks[0].to(depth.device)
    v, u = torch.meshgrid(torch.arange(h, device=depth.device, dtype=torch.float32) + 0.5,
                          torch.arange(w, device=depth.device, dtype=torch.float32) + 0.5, indexing="ij")
    cam = torch.stack([(u - k[0, 2]) / k[0, 0] * depth, (v - k[1, 2]) / k[1, 1] * depth, depth], -1)
    c2w = camera.camtoworlds[0].to(depth.device)
    return cam @ c2w[:3, :3].T + c2w[:3, 3]


@dataclass(frozen=True)
class DepthCache:
    """The 3D cache of one anchor image.

    Attributes:
        gaussians: one Gaussian per kept pixel (SH degree 0, world frame).
        anchor: the anchor camera (one camera, the image's size).
        image: ``[H, W, 3]`` in [0, 1]; depth: ``[H, W]`` meters along the anchor's optical axis.
        focus_distance: median depth, meters: the distance Lyra's trajectories keep in view.
    """

    gaussians: GaussianScene
    anchor: Cameras
    image: Tensor
    depth: Tensor
    focus_distance: float


def build_cache(image: Tensor, depth: Tensor, anchor: Cameras, *, footprint: float = 0.5, opacity: float = 0.99) -> DepthCache:
    """Lift ``image: [H, W, 3]`` with ``depth: [H, W]`` (meters) seen from ``anchor`` into a `DepthCache`.

    Args:
        footprint: Gaussian standard deviation in pixels of the anchor view. With the
            renderer's 0.3 px² low-pass filter, 0.5 leaves no pinholes between neighbors in the
            anchor view or when a trajectory moves closer; smaller sizes hardly sharpen the render.
        opacity: of every Gaussian.
    """
    if image.shape[:2] != depth.shape or image.shape[-1] != 3:
        raise ValueError(f"image {list(image.shape)} and depth {list(depth.shape)}: expected [H, W, 3] and [H, W]")
    valid = torch.isfinite(depth) & (depth > 0)
    if not bool(valid.any()):
        raise ValueError("depth: no pixel has a positive finite depth")
    points = unproject(torch.where(valid, depth, torch.ones_like(depth)), anchor)[valid]
    z = depth[valid]
    n = points.shape[0]
    sigma = footprint * z / float(anchor.Ks[0, 1, 1])  # meters per pixel at depth z, times the footprint
    scene = GaussianScene(
        means=points.float().contiguous(),
        quats=torch.tensor([1.0, 0.0, 0.0, 0.0]).expand(n, 4).contiguous(),
        scales=sigma[:, None].expand(n, 3).float().contiguous(),
        opacities=torch.full((n,), opacity),
        sh=rgb_to_sh(image[valid].float())[:, None, :].contiguous(),
    )
    return DepthCache(scene, anchor, image, depth, float(z.median()))


@dataclass(frozen=True)
class CacheRender:
    """The cache seen from C cameras.

    Attributes:
        rgb: ``[C, H, W, 3]`` in [0, 1]; alpha: ``[C, H, W]`` coverage in [0, 1];
        missing: ``[C, H, W]`` bool, True where the cache does not cover the pixel
            (``alpha < min_alpha``): what the video model must fill.
        depth: ``[C, H, W]`` the cache's camera depth in meters (its expected depth), 0 where it is missing:
            what a depth-reading decoder (`DecoderConfig.depth_input`) reads beside the filled frames.
    """

    rgb: Tensor
    alpha: Tensor
    missing: Tensor
    depth: Tensor


def render_cache(cache: DepthCache, cameras: Cameras, *, min_alpha: float = 0.5) -> CacheRender:
    """Render the cache into ``cameras`` with `lyra_sim.render` (on the cameras' device)."""
    out = render(cache.gaussians.to(cameras.device), cameras, "RGB+ED")
    alpha = out.alpha[..., 0]
    missing = alpha < min_alpha
    return CacheRender(out.rgb.clamp(0, 1), alpha, missing, torch.where(missing, 0.0, out.depth[..., 0]))


class DepthEstimator:
    """A transformers depth-estimation model with its image processor, from a local directory.

    Args:
        model, processor: what `from_pretrained` loads.
        relative_range: ``(near, far)`` meters that a relative (inverse-depth) model's output
            is mapped to: its 2nd percentile becomes ``far`` and its 98th ``near``.
    """

    def __init__(self, model: Any, processor: Any, relative_range: tuple[float, float] = (0.5, 8.0)) -> None:
        near, far = relative_range
        if not 0 < near < far:
            raise ValueError(f"relative_range: expected 0 < near < far meters, got {relative_range}")
        self.model = model.eval().requires_grad_(False)
        self.processor = processor
        self.relative_range = (float(near), float(far))
        cfg = model.config
        self.metric = cfg.model_type in METRIC_MODEL_TYPES or getattr(cfg, "depth_estimation_type", None) == "metric"

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, *, device: str | torch.device = "cpu",
                        dtype: torch.dtype = torch.float32, relative_range: tuple[float, float] = (0.5, 8.0)) -> "DepthEstimator":
        """Load from a local model directory (checked first; see `lyra_sim.worlds.model_dirs`)."""
        from transformers import AutoImageProcessor, AutoModelForDepthEstimation

        folder = check_checkpoint(path, "depth")
        model = AutoModelForDepthEstimation.from_pretrained(str(folder), local_files_only=True, use_safetensors=True,
                                                            dtype=dtype)
        processor = AutoImageProcessor.from_pretrained(str(folder), local_files_only=True)
        return cls(model.to(device), processor, relative_range)

    @torch.no_grad()
    def __call__(self, image: Tensor) -> Tensor:
        """``[H, W, 3]`` in [0, 1] → ``[H, W]`` depth in meters along the optical axis."""
        h, w = image.shape[:2]
        pil = Image.fromarray(to_uint8(image).cpu().numpy())
        param = next(self.model.parameters())
        inputs = self.processor(images=pil, return_tensors="pt")
        pred = self.model(pixel_values=inputs["pixel_values"].to(param.device, param.dtype)).predicted_depth
        pred = torch.nn.functional.interpolate(pred.float()[:, None], size=(h, w), mode="bilinear", align_corners=False)[0, 0]
        if self.metric:
            return pred.clamp_min(1e-3)
        near, far = self.relative_range
        lo, hi = torch.quantile(pred.flatten(), torch.tensor([0.02, 0.98], device=pred.device))
        t = ((pred - lo) / (hi - lo).clamp_min(1e-6)).clamp(0, 1)  # 0: farthest, 1: nearest (inverse depth)
        return 1.0 / (1.0 / far + t * (1.0 / near - 1.0 / far))
