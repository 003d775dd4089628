"""Agent camera observations: many cameras over one or more scenes, rendered through the rasterizer.

Backends are a registry (`BACKENDS`), picked by the device the scenes live on:

- ``"torch"`` (CPU): each camera draws its level-of-detail selection of the scene
  (`lyra_sim.lod`: frustum-culled, regions merged to about ``pixel_ratio`` pixels per cell),
  rendered by the PyTorch rasterizer. ``pixel_ratio=0`` draws the original Gaussians.
- ``"gsplat"`` (CUDA): one gsplat call per scene for all of its cameras, full scene.

Either way the result is ``rgb [N, H, W, 3]`` uint8 and, when asked for, expected depth
``[N, H, W, 1]`` float32 in meters (0 where nothing was hit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable, Mapping

import torch
from torch import Tensor

from lyra_sim.cameras import Cameras
from lyra_sim.lod import GaussianLOD
from lyra_sim.rasterizer_torch import RasterConfig, rasterization
from lyra_sim.render import EPS2D, render


@dataclass(frozen=True)
class CameraConfig:
    """The agent's camera.

    Attributes:
        width, height: image size, pixels.
        hfov_deg: horizontal field of view, degrees.
        height_m: camera height above the floor, meters.
        pitch_deg: downward tilt, degrees (0 looks level).
        depth: also render expected depth.
        near, far: clipping planes, meters.
        pixel_ratio: level of detail on the CPU (see `lyra_sim.lod`); 0 draws every Gaussian.
    """

    width: int = 64
    height: int = 64
    hfov_deg: float = 90.0
    height_m: float = 1.0
    pitch_deg: float = 0.0
    depth: bool = False
    near: float = 0.05
    far: float = 100.0
    pixel_ratio: float = 2.0

    def __post_init__(self) -> None:
        if not (isinstance(self.width, int) and isinstance(self.height, int) and 8 <= self.width <= 4096 and 8 <= self.height <= 4096):
            raise ValueError(f"camera width, height: expected integers in 8..4096, got {self.width!r}, {self.height!r}")
        if not 1 <= self.hfov_deg <= 170:
            raise ValueError(f"camera hfov_deg: expected 1..170 degrees, got {self.hfov_deg}")
        if not -89 <= self.pitch_deg <= 89:
            raise ValueError(f"camera pitch_deg: expected -89..89 degrees, got {self.pitch_deg}")
        if not 0 < self.near < self.far:
            raise ValueError(f"camera near, far: expected 0 < near < far, got {self.near}, {self.far}")
        if not self.pixel_ratio >= 0:
            raise ValueError(f"camera pixel_ratio: expected >= 0, got {self.pixel_ratio}")

    def intrinsics(self, device: torch.device | str = "cpu") -> Tensor:
        """``[3, 3]`` pixel intrinsics (square pixels, centered principal point)."""
        f = 0.5 * self.width / math.tan(math.radians(self.hfov_deg) / 2)
        return torch.tensor([[f, 0, self.width / 2], [0, f, self.height / 2], [0, 0, 1]], dtype=torch.float32, device=device)


def agent_viewmats(xy: Tensor, yaw: Tensor, z: Tensor, pitch_deg: float) -> Tensor:
    """World-to-camera ``[N, 4, 4]`` (OpenCV axes) of cameras at ``xy: [N, 2]``, height ``z: [N]``,
    heading ``yaw: [N]`` (radians, counterclockwise from +x), tilted down by ``pitch_deg``."""
    p = math.radians(pitch_deg)
    c, s = torch.cos(yaw), torch.sin(yaw)
    zero = torch.zeros_like(yaw)
    forward = torch.stack([math.cos(p) * c, math.cos(p) * s, zero - math.sin(p)], -1)
    right = torch.stack([s, -c, zero], -1)
    down = torch.linalg.cross(forward, right)
    rot = torch.stack([right, down, forward], 1)  # rows: camera axes in world coordinates
    eye = torch.cat([xy, z[:, None]], -1)
    view = torch.zeros((len(yaw), 4, 4), dtype=xy.dtype, device=xy.device)
    view[:, :3, :3] = rot
    view[:, :3, 3] = -(rot @ eye[..., None])[..., 0]
    view[:, 3, 3] = 1
    return view


Backend = Callable[["SceneViews", Tensor, Tensor], "tuple[Tensor, Tensor | None]"]


def _render_torch(views: "SceneViews", scene: Tensor, viewmats: Tensor) -> tuple[Tensor, Tensor | None]:
    cfg = views.camera
    raster = RasterConfig(eps2d=EPS2D, near_plane=cfg.near, far_plane=cfg.far)
    colors, alphas = [], []
    for i in range(len(scene)):
        lod = views.lods[int(scene[i])]
        cam = Cameras(viewmats[i : i + 1], views.K[None], cfg.width, cfg.height)
        ids, _ = lod.select(cam, cfg.pixel_ratio, near_plane=cfg.near)
        # The rasterizer directly on the selected rows: a GaussianScene would re-validate
        # every field of a subset of an already validated scene, every step.
        s = lod.scene
        out, alpha = rasterization(
            *(x.index_select(0, ids) for x in (s.means, s.quats, s.scales, s.opacities, s.sh)),
            cam.viewmats, cam.Ks, cfg.width, cfg.height, sh_degree=s.sh_degree, render_mode=views.mode, config=raster,
        )
        colors.append(out)
        alphas.append(alpha)
    out = torch.cat(colors)
    return out[..., :3], out[..., 3:] if cfg.depth else None


def _render_gsplat(views: "SceneViews", scene: Tensor, viewmats: Tensor) -> tuple[Tensor, Tensor | None]:
    cfg = views.camera
    n = len(scene)
    rgb = torch.empty((n, cfg.height, cfg.width, 3), device=viewmats.device)
    depth = torch.empty((n, cfg.height, cfg.width, 1), device=viewmats.device) if cfg.depth else None
    for s, lod in enumerate(views.lods):
        rows = torch.nonzero(scene == s)[:, 0] if len(views.lods) > 1 else None
        vm = viewmats if rows is None else viewmats[rows]
        if len(vm) == 0:
            continue
        cams = Cameras(vm, views.K[None].expand(len(vm), 3, 3).contiguous(), cfg.width, cfg.height)
        out = render(views.full_scenes[s], cams, mode=views.mode, near_plane=cfg.near, far_plane=cfg.far)
        if rows is None:
            rgb, depth = out.rgb, out.depth
        else:
            rgb[rows] = out.rgb
            if depth is not None:
                depth[rows] = out.depth
    return rgb, depth


BACKENDS: Mapping[str, Backend] = MappingProxyType({"torch": _render_torch, "gsplat": _render_gsplat})


class SceneViews:
    """Renders agent cameras over a list of scenes (each given as its `GaussianLOD`)."""

    def __init__(self, lods: list[GaussianLOD], camera: CameraConfig, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.camera = camera
        self.lods = [lod.to(self.device) for lod in lods]
        self.backend = "gsplat" if self.device.type == "cuda" else "torch"
        # gsplat draws the original Gaussians (row 0 of each LOD); slicing keeps them contiguous.
        self.full_scenes = [lod.scene.select(torch.arange(int(lod.offsets[0, -1]), device=self.device)) for lod in self.lods]
        self.K = camera.intrinsics(self.device)
        self.mode = "RGB+ED" if camera.depth else "RGB"

    def render(self, scene: Tensor, viewmats: Tensor) -> tuple[Tensor, Tensor | None]:
        """Render ``N`` cameras.

        Args:
            scene: ``[N]`` int64 scene index per camera.
            viewmats: ``[N, 4, 4]`` world-to-camera.

        Returns:
            ``rgb [N, H, W, 3]`` uint8 and ``depth [N, H, W, 1]`` float32 meters (or None).
        """
        with torch.no_grad():
            rgb, depth = BACKENDS[self.backend](self, scene, viewmats)
            rgb8 = (rgb.clamp(0, 1) * 255 + 0.5).to(torch.uint8)
        return rgb8, depth
