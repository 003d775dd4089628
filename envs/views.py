"""Agent camera observations: many cameras over one or more scenes, rendered through the rasterizer.

Backends are a registry (`BACKENDS`), picked by the device the scenes live on:

- ``"torch"`` (CPU): each camera draws its level-of-detail selection of the scene
  (`lyra_sim.render.lod`: frustum-culled, regions merged to about ``pixel_ratio`` pixels per cell),
  rendered by the PyTorch rasterizer, one camera at a time.
- ``"gsplat"`` (CUDA): the same per-camera selections, each padded to a fixed ``budget`` of
  Gaussians (padding is invisible: opacity 0, far away), gathered into ``[N, budget]``
  tables and drawn by one batched gsplat call (batch ``N``, one camera each), with no host
  synchronisation in our code (gsplat itself reads its intersection count). Several scenes
  are one merged LOD (`lyra_sim.render.lod.merge_lods`), each camera masked to its own scene's
  anchors. `SceneViews.fit_budget` sizes the budget from a survey of camera poses; a camera
  whose selection would exceed it is drawn coarser (`GaussianLOD.select_padded`) and counted
  in `SceneViews.coarsened`.

``pixel_ratio=0`` draws the original Gaussians (on CUDA: the full scene, one call per scene).

**Moving parts** (dynamic scenes): each part has its own level-of-detail structure in its own
frame. A camera draws its scene's static Gaussians plus each of its scene's parts, selected as
seen from the camera moved into the part's frame (viewmat times the part's pose at the agent's
time) and drawn under that pose: on the CPU the part's rows are moved and rasterized with the
camera's static rows; on CUDA they are appended to the shared tables as rigid groups
(`lyra_sim.render.rasterizer.rasterize_selected`'s ``groups``), so all envs, each at its own
time, are still one rasterizer call.

Either way the result is ``rgb [N, H, W, 3]`` uint8 and, when asked for, expected depth
``[N, H, W, 1]`` float32 in meters (0 where nothing was hit).
"""

from __future__ import annotations

import math
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable, Mapping

import torch
from torch import Tensor

from lyra_sim.cameras import Cameras
from lyra_sim.config import check_number
from lyra_sim.images import to_uint8
from lyra_sim.render import numba_impl, rasterize, rasterize_selected, render
from lyra_sim.render.lod import GaussianLOD, merge_lods
from lyra_sim.render.rasterizer import EPS2D
from lyra_sim.render.torch_impl import RasterConfig
from lyra_sim.scene import SH_C0, quat_multiply, rotmat_to_quat
from lyra_sim.sh import rotate_sh

from .cuda_graph import GraphedFunction

DEFAULT_PIXEL_RATIO: Mapping[str, float] = MappingProxyType({"cpu": 3.0, "cuda": 3.0})
"""Level of detail per device type when `CameraConfig.pixel_ratio` is None. Measured on the H100
(446k-Gaussian living room, 64 agent cameras, PSNR against 4×-supersampled references), ratio 3
renders score +1.3 dB (64²) and -0.4 dB (128²) relative to full-scene renders, within the 1 dB
guard, with 40% smaller budgets than ratio 2 (benchmarks/env_throughput.py --quality). On the
CPU the same ratio takes a 64×64 kitchen step from 21.6 to 14.0 ms (2 cores)."""


MAX_RASTER_THREADS = 4
"""A CPU observation is composited on up to this many threads at once, one per PyTorch thread
(`torch.get_num_threads`), rows interleaved: on 2 cores a 64×64 frame's compositing takes about half the time."""


@dataclass(frozen=True)
class CameraConfig:
    """The agent's camera.

    Attributes (accepted ranges in brackets):
        width, height: image size, pixels [8, 4096].
        hfov_deg: horizontal field of view, degrees [1, 170].
        height_m: camera height above the floor, meters (0, 5] (and at most the agent's height).
        pitch_deg: downward tilt, degrees (0 looks level) [-89, 89].
        depth: also render expected depth.
        near, far: clipping planes, meters: 0 < near < far <= 1000 (depth observations lie in [0, far]).
        pixel_ratio: level of detail (see `lyra_sim.render.lod`): merged cells span at most this many
            pixels; 0 draws every Gaussian; None takes the device's default
            (`DEFAULT_PIXEL_RATIO`).
    """

    width: int = 64
    height: int = 64
    hfov_deg: float = 90.0
    height_m: float = 1.0
    pitch_deg: float = 0.0
    depth: bool = False
    near: float = 0.05
    far: float = 100.0
    pixel_ratio: float | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.width, int) and isinstance(self.height, int) and 8 <= self.width <= 4096 and 8 <= self.height <= 4096):
            raise ValueError(f"camera width, height: expected integers in 8..4096, got {self.width!r}, {self.height!r}")
        check_number("camera hfov_deg", self.hfov_deg, 1, 170)
        check_number("camera height_m", self.height_m, 0, 5, lo_open=True)  # <= 0: a camera in or under the floor
        check_number("camera pitch_deg", self.pitch_deg, -89, 89)
        check_number("camera far", self.far, 0, 1000, lo_open=True)
        check_number("camera near", self.near, 0, self.far, lo_open=True)
        if not self.near < self.far:
            raise ValueError(f"camera near, far: expected 0 < near < far, got {self.near}, {self.far}")
        if not isinstance(self.depth, bool):
            raise ValueError(f"camera depth: expected True or False, got {self.depth!r}")
        if self.pixel_ratio is not None:
            check_number("camera pixel_ratio", self.pixel_ratio, 0, 1000)

    def pixel_ratio_on(self, device: torch.device) -> float:
        """The level-of-detail ratio used on ``device``."""
        return DEFAULT_PIXEL_RATIO[device.type] if self.pixel_ratio is None else float(self.pixel_ratio)

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


Backend = Callable[["SceneViews", Tensor, Tensor, Tensor, "Tensor | None"], "tuple[Tensor, Tensor | None]"]


def _part_rows(views: "SceneViews", part: int, pose: Tensor, viewmat: Tensor, k: Tensor, degree: int) -> list[Tensor]:
    """One camera's (``viewmat [4, 4]``, ``k [3, 3]``) selection of a moving part's Gaussians, moved to the world
    by ``pose [4, 4]``."""
    cfg, lod = views.camera, views.flat_parts[part]
    cam = Cameras(viewmat[None] @ pose[None], k[None], cfg.width, cfg.height)  # the camera in the part's frame
    ids, _ = lod.select(cam, views.pixel_ratio, near_plane=cfg.near)
    s = lod.scene
    r = pose[:3, :3]
    sh = s.sh.index_select(0, ids)
    if s.sh_degree > 0:
        sh = rotate_sh(sh, r)
    sh = torch.nn.functional.pad(sh, (0, 0, 0, (degree + 1) ** 2 - sh.shape[1]))
    quats = quat_multiply(rotmat_to_quat(r[None]).expand(len(ids), 4),
                          torch.nn.functional.normalize(s.quats.index_select(0, ids), dim=-1))
    return [s.means.index_select(0, ids) @ r.T + pose[:3, 3], quats, s.scales.index_select(0, ids),
            s.opacities.index_select(0, ids), sh]


def _render_torch(views: "SceneViews", scene: Tensor, viewmats: Tensor, ks: Tensor, part_poses: Tensor | None) -> tuple[Tensor, Tensor | None]:
    cfg = views.camera
    config = RasterConfig(eps2d=EPS2D, near_plane=cfg.near, far_plane=cfg.far)
    colors = []
    for i in range(len(scene)):
        lod = views.lods[int(scene[i])]
        cam = Cameras(viewmats[i : i + 1], ks[i : i + 1], cfg.width, cfg.height)
        ids, _ = lod.select(cam, views.pixel_ratio, near_plane=cfg.near)
        # The rasterizer directly on the selected rows: a GaussianScene would re-validate
        # every field of a subset of an already validated scene, every step.
        s = lod.scene
        rows = [s.means, s.quats, s.scales, s.opacities, s.sh]
        parts = views.parts_of(int(scene[i]))
        degree = max([s.sh_degree] + [views.flat_parts[p].scene.sh_degree for p in parts])
        if parts:  # gathered, with each part's rows moved to the world
            rows = [x.index_select(0, ids) for x in rows]
            rows[4] = torch.nn.functional.pad(rows[4], (0, 0, 0, (degree + 1) ** 2 - rows[4].shape[1]))
            for k, p in enumerate(parts):
                moved = _part_rows(views, p, part_poses[i, k], viewmats[i], ks[i], degree)
                rows = [torch.cat([a, b]) for a, b in zip(rows, moved)]
            ids = None
        if views.cpu_rasterizer == "numba":  # the selected rows read in place, composited on the views' threads
            threads = min(torch.get_num_threads(), MAX_RASTER_THREADS)
            out, _ = numba_impl.rasterization(
                *rows, cam.viewmats, cam.Ks, cfg.width, cfg.height, sh_degree=degree, render_mode=views.mode,
                config=config, rows=ids, pool=views.raster_pool() if threads > 1 else None, threads=threads,
            )
        else:
            out, _ = rasterize(
                *(rows if ids is None else [x.index_select(0, ids) for x in rows]), cam.viewmats, cam.Ks, cfg.width,
                cfg.height, sh_degree=degree, mode=views.mode, near_plane=cfg.near, far_plane=cfg.far, backend="torch",
            )
        colors.append(out)
    out = torch.cat(colors)
    return out[..., :3], out[..., 3:] if cfg.depth else None


def _render_gsplat_full(views: "SceneViews", scene: Tensor, viewmats: Tensor, ks: Tensor, part_poses: Tensor | None) -> tuple[Tensor, Tensor | None]:
    cfg = views.camera
    n = len(scene)
    rgb = torch.empty((n, cfg.height, cfg.width, 3), device=viewmats.device)
    depth = torch.empty((n, cfg.height, cfg.width, 1), device=viewmats.device) if cfg.depth else None
    for s, lod in enumerate(views.lods):
        rows = torch.nonzero(scene == s)[:, 0] if len(views.lods) > 1 else None
        vm = viewmats if rows is None else viewmats[rows]
        if len(vm) == 0:
            continue
        cams = Cameras(vm, (ks if rows is None else ks[rows]).contiguous(), cfg.width, cfg.height)
        out = render(views.full_scenes[s], cams, mode=views.mode, near_plane=cfg.near, far_plane=cfg.far)
        if rows is None:
            rgb, depth = out.rgb, out.depth
        else:
            rgb[rows] = out.rgb
            if depth is not None:
                depth[rows] = out.depth
    return rgb, depth


def _select_lod(views: "SceneViews", scene: Tensor, viewmats: Tensor, ks: Tensor,
                part_poses: Tensor | None) -> tuple[Tensor, Tensor | None, Tensor]:
    """Every camera's rows of the shared tables (``ids [N, budget + sum(part_budgets)]``), the rigid groups' poses
    (``[N, 1 + parts, 4, 4]``, or None without parts) and the number of camera renders coarsened to fit.
    Free of host synchronisation: on CUDA it replays as one graph (`envs.cuda_graph`)."""
    cfg = views.camera
    n, m = len(scene), views.budget
    mask = views.anchor_scene[None] == scene[:, None] if len(views.lods) > 1 else None
    sel = views.lod.select_padded(viewmats, ks, cfg.width, cfg.height, views.pixel_ratio, m, cfg.near, mask)
    coarsened = sel.coarsened.sum()
    if not views.has_parts:
        return sel.ids, None, coarsened
    # Each env's parts: selected as seen from the camera in each part's frame (one selection for every slot), drawn
    # under their poses (rigid group 1 + part; group 0, the static rows, as stored).
    parts = views.scene_parts[scene]  # [N, K]
    slots = parts.shape[1]
    eye = torch.eye(4, device=viewmats.device)
    poses = torch.where((parts >= 0)[..., None, None], part_poses, eye)  # [N, K, 4, 4]
    # One selection per slot, each padded to its own budget (a slot of small parts pads little).
    local = [views.part_lod.select_padded(viewmats @ poses[:, k], ks, cfg.width, cfg.height, views.pixel_ratio,
                                          views.part_budgets[k], cfg.near, views.part_anchor[None] == parts[:, k, None])
             for k in range(slots)]
    group_poses = eye.repeat(n, 1 + len(views.flat_parts), 1, 1)
    slot = torch.where(parts >= 0, 1 + parts, 0)  # no part: identity written to group 0
    group_poses.scatter_(1, slot[..., None, None].expand(n, slots, 4, 4), poses)
    ids = torch.cat([sel.ids] + [sel_k.ids + views.part_offset for sel_k in local], 1)
    return ids, group_poses, coarsened + sum(sel_k.coarsened.sum() for sel_k in local)


def _render_gsplat_lod(views: "SceneViews", scene: Tensor, viewmats: Tensor, ks: Tensor,
                       part_poses: Tensor | None) -> tuple[Tensor, Tensor | None]:
    cfg = views.camera
    ids, group_poses, coarsened = views.select(scene, viewmats, ks, part_poses)
    views.coarsened += coarsened
    # Each camera's rows drawn where they lie in the tables (`rasterize_selected`: no gathered copies).
    out, _ = rasterize_selected(
        *views.tables, ids, viewmats, ks, cfg.width, cfg.height, sh_degree=views.sh_degree, mode=views.mode,
        near_plane=cfg.near, far_plane=cfg.far, backend=views.selected_backend,
        groups=views.groups if views.has_parts else None, group_poses=group_poses,
    )
    return out[..., :3], out[..., 3:] if cfg.depth else None


def _render_gsplat(views: "SceneViews", scene: Tensor, viewmats: Tensor, ks: Tensor, part_poses: Tensor | None) -> tuple[Tensor, Tensor | None]:
    full = views.pixel_ratio == 0 and not views.has_parts
    return (_render_gsplat_full if full else _render_gsplat_lod)(views, scene, viewmats, ks, part_poses)


BACKENDS: Mapping[str, Backend] = MappingProxyType({"torch": _render_torch, "gsplat": _render_gsplat})

PAD_MEAN = 1e6
"""The padding Gaussian sits this far out on every axis (meters) with opacity 0: outside every
camera's frustum or depth range, so gsplat culls it."""


class SceneViews:
    """Renders agent cameras over a list of scenes (each given as its `GaussianLOD`).

    Attributes:
        pixel_ratio: the level of detail in use (`CameraConfig.pixel_ratio_on` the device).
        budget: Gaussians per camera of the CUDA level-of-detail path (`fit_budget`); by default
            the largest scene's size, which no selection exceeds.
        coarsened: ``[]`` int64 on the device: camera renders drawn coarser to fit the budget.
        cpu_rasterizer: the rasterizer of the CPU path: "numba" (when installed; each frame composited in
            ``min(torch.get_num_threads(), MAX_RASTER_THREADS)`` threads, the same image as on one) or "torch".
        selected_backend: how the CUDA level-of-detail path reaches each camera's rows
            (`lyra_sim.render.rasterizer.rasterize_selected`): "auto" (the fused Triton projection
            when Triton is installed), "fused", or "gsplat" (gathered copies, the reference).
    """

    def __init__(self, lods: list[GaussianLOD], camera: CameraConfig, device: torch.device | str = "cpu",
                 part_lods: list[list[GaussianLOD]] | None = None, scene_parts: Tensor | None = None) -> None:
        self.device = torch.device(device)
        self.camera = camera
        self.lods = [lod.to(self.device) for lod in lods]
        # Moving parts: per scene its parts' LODs (own frames); scene_parts [S, K] their global indices (-1: none).
        self.flat_parts = [lod.to(self.device) for scene in (part_lods or []) for lod in scene]
        self.has_parts = bool(self.flat_parts)
        self.scene_parts = (torch.full((len(lods), 1), -1, dtype=torch.long) if scene_parts is None else scene_parts).to(self.device)
        self._parts_host = self.scene_parts.cpu().tolist()
        self.backend = "gsplat" if self.device.type == "cuda" else "torch"
        self.pixel_ratio = camera.pixel_ratio_on(self.device)
        # gsplat draws the original Gaussians (row 0 of each LOD); slicing keeps them contiguous.
        self.full_scenes = [lod.scene.select(torch.arange(int(lod.offsets[0, -1]), device=self.device)) for lod in self.lods]
        self.K = camera.intrinsics(self.device)
        self.mode = "RGB+ED" if camera.depth else "RGB"
        self.coarsened = torch.zeros((), dtype=torch.int64, device=self.device)
        self.selected_backend = "auto"
        # Agent views on the CPU: the compiled rasterizer when numba is installed (same images as
        # "torch" to float32 rounding, several times faster on small frames), else "torch".
        self.cpu_rasterizer = "numba" if numba_impl.available() else "torch"
        self._raster_pool: ThreadPoolExecutor | None = None
        if self.backend == "gsplat" and (self.pixel_ratio > 0 or self.has_parts):
            self._init_lod_tables()
            self._select_graph = GraphedFunction(lambda *args: _select_lod(self, *args))

    def raster_pool(self) -> ThreadPoolExecutor:
        """The threads that help composite CPU frames (made on first use, shut down with the views)."""
        if self._raster_pool is None:
            self._raster_pool = ThreadPoolExecutor(MAX_RASTER_THREADS - 1, thread_name_prefix="lyra-raster")
            weakref.finalize(self, self._raster_pool.shutdown, wait=False)
        return self._raster_pool

    def select(self, scene: Tensor, viewmats: Tensor, ks: Tensor,
               part_poses: Tensor | None) -> tuple[Tensor, Tensor | None, Tensor]:
        """The CUDA level-of-detail path's selection (`_select_lod`), replayed from a CUDA graph per batch shape
        and budgets. The outputs are the graph's buffers: valid until the next call."""
        key = (self.budget, getattr(self, "part_budgets", ()), self.pixel_ratio)
        return self._select_graph(scene, viewmats, ks, part_poses, key=key)

    def parts_of(self, scene: int) -> list[int]:
        """Global indices of ``scene``'s moving parts, in slot order."""
        return [p for p in self._parts_host[scene] if p >= 0]

    def _init_lod_tables(self) -> None:
        self.lod, self.anchor_scene = merge_lods(self.lods)
        s = self.lod.scene
        self.budget = max(len(f) for f in self.full_scenes)
        # The largest coarsest-level selection any camera can make: the budget's floor.
        self._min_budget = max(lod.level_sizes()[-1] for lod in self.lods)
        # Degree-0 SH become colors once (gsplat's own activation: max(0.5 + C0 · c0, 0)), so a
        # step gathers 3 floats per Gaussian instead of the SH coefficients.
        self.sh_degree = None if s.sh_degree == 0 else s.sh_degree
        colors = (0.5 + SH_C0 * s.sh[:, 0]).clamp_min(0) if s.sh_degree == 0 else s.sh
        pad = (
            torch.full((1, 3), PAD_MEAN), torch.tensor([[1.0, 0, 0, 0]]), torch.full((1, 3), 1e-3), torch.zeros(1),
            torch.zeros((1, *colors.shape[1:])),
        )
        tables = [torch.cat([t, p.to(t)]) for t, p in zip((s.means, s.quats, s.scales, s.opacities, colors), pad)]
        if self.has_parts:
            self._init_part_tables(tables, pad)
        self.tables = tuple(t.contiguous() for t in tables)

    def _init_part_tables(self, tables: list[Tensor], pad: tuple[Tensor, ...]) -> None:
        """Append every part's LOD rows (own frames) and a last padding row to ``tables``; rows' rigid groups."""
        self.part_lod, self.part_anchor = merge_lods(self.flat_parts)
        p = self.part_lod.scene
        if p.sh_degree != self.lod.scene.sh_degree:
            raise ValueError(f"moving parts have SH degree {p.sh_degree}, the scene {self.lod.scene.sh_degree}: "
                             "they must match to share the renderer's tables")
        colors = (0.5 + SH_C0 * p.sh[:, 0]).clamp_min(0) if p.sh_degree == 0 else p.sh
        self.part_offset = len(tables[0])  # the static rows and their padding row come first
        static_rows = self.part_offset
        for i, (t, q) in enumerate(zip((p.means, p.quats, p.scales, p.opacities, colors), pad)):
            tables[i] = torch.cat([tables[i], t, q.to(t)])
        # Row -> part: merge_lods keeps each level's rows grouped by part, parts in order.
        owner = []
        for r in range(self.part_lod.offsets.shape[0]):
            for k, lod in enumerate(self.flat_parts):
                owner.append(torch.full((int(lod.offsets[r, -1] - lod.offsets[r, 0]),), 1 + k, dtype=torch.int32))
        groups = torch.cat([torch.zeros(static_rows, dtype=torch.int32), *owner, torch.zeros(1, dtype=torch.int32)])
        self.groups = groups.to(self.device)
        # Each part slot's budget: the largest part in that slot (its original Gaussians), until fitted; at least
        # the largest coarsest level of those parts.
        in_slot = [[self.flat_parts[p] for p in column if p >= 0] for column in self.scene_parts.T.tolist()]
        self.part_budgets = tuple(max(int(lod.offsets[0, -1]) for lod in lods) for lods in in_slot)
        self._part_min_budgets = tuple(max(lod.level_sizes()[-1] for lod in lods) for lods in in_slot)

    def fit_budget(self, scene: Tensor, viewmats: Tensor, margin: float = 1.15, chunk: int = 1024, Ks: Tensor | None = None) -> int:
        """Size the CUDA per-camera budget from a survey of cameras (``scene [P]``, ``viewmats [P, 4, 4]``:
        poses the agents can take; ``Ks [P, 3, 3]``, default the config's camera): ``margin`` × the
        largest selection, rounded up to 256, at least the coarsest level's size (so
        `GaussianLOD.select_padded` always fits). One host synchronisation; call it at
        construction. Returns the budget (unchanged off the LOD path)."""
        if not hasattr(self, "lod"):
            return 0
        cfg, largest = self.camera, 0
        ks = self.K[None].expand(len(scene), 3, 3) if Ks is None else Ks.to(self.K)
        for i in range(0, len(scene), chunk):
            sc, vm = scene[i : i + chunk], viewmats[i : i + chunk]
            counts = self.lod.selection_counts(
                vm, ks[i : i + chunk], cfg.width, cfg.height, self.pixel_ratio, cfg.near,
                self.anchor_scene[None] == sc[:, None],
            )
            largest = max(largest, int(counts.max()))
        budget = max(math.ceil(largest * margin / 256) * 256, self._min_budget)
        self.budget = min(budget, max(len(f) for f in self.full_scenes))
        return self.budget

    def fit_part_budgets(self, scene: Tensor, viewmats: Tensor, samples: Tensor, margin: float = 1.15,
                        chunk: int = 1024) -> tuple[int, ...]:
        """Size each part slot's CUDA budget (per camera) as `fit_budget` does, from the surveyed cameras (``scene
        [P]``, ``viewmats [P, 4, 4]``) and every part of the slot at each of its motion samples (``samples [parts, L,
        4, 4]``: part frame → world). Returns the budgets (``()`` off the CUDA path or without parts)."""
        if not self.has_parts or not hasattr(self, "part_lod"):
            return ()
        cfg = self.camera
        budgets = []
        for k in range(self.scene_parts.shape[1]):
            part, largest = self.scene_parts[scene, k], 0
            for j in range(samples.shape[1]):
                pose = torch.where((part >= 0)[:, None, None], samples[part.clamp_min(0), j], torch.eye(4, device=self.device))
                for i in range(0, len(scene), chunk):
                    vm = viewmats[i : i + chunk] @ pose[i : i + chunk]
                    counts = self.part_lod.selection_counts(
                        vm, self.K[None].expand(len(vm), 3, 3), cfg.width, cfg.height, self.pixel_ratio, cfg.near,
                        self.part_anchor[None] == part[i : i + chunk, None])
                    largest = max(largest, int(counts.max()))
            budget = max(math.ceil(largest * margin / 256) * 256, self._part_min_budgets[k])
            budgets.append(min(budget, self.part_budgets[k]))
        self.part_budgets = tuple(budgets)
        return self.part_budgets

    def render(self, scene: Tensor, viewmats: Tensor, Ks: Tensor | None = None,
               part_poses: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """Render ``N`` cameras.

        Args:
            scene: ``[N]`` int64 scene index per camera.
            viewmats: ``[N, 4, 4]`` world-to-camera.
            Ks: ``[N, 3, 3]`` pixel intrinsics per camera; None: the config's camera for all.
            part_poses: ``[N, K, 4, 4]`` each camera's scene's parts (slots of ``scene_parts``) posed at that
                camera's time (`envs.moving_parts.MovingParts.scene_poses`); needed when there are parts.

        Returns:
            ``rgb [N, H, W, 3]`` uint8 and ``depth [N, H, W, 1]`` float32 meters (or None).
        """
        if self.has_parts and (part_poses is None or part_poses.shape != (len(scene), self.scene_parts.shape[1], 4, 4)):
            raise ValueError(f"part_poses: expected [{len(scene)}, {self.scene_parts.shape[1]}, 4, 4] (the scenes have "
                             "moving parts), got " + ("None" if part_poses is None else str(list(part_poses.shape))))
        ks = self.K[None].expand(len(scene), 3, 3) if Ks is None else Ks.to(self.K)
        with torch.no_grad():
            rgb, depth = BACKENDS[self.backend](self, scene, viewmats, ks, part_poses)
            rgb8 = to_uint8(rgb)
        return rgb8, depth
