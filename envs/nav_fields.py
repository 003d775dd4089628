"""Batched 2D navigation on the walkable-floor grids of one or more scenes (torch, any device).

Every scene's ``nav.npz`` (`lyra_sim.exporters.nav_grid`) is turned, for one agent, into

- a **clearance** field: meters from each cell center to the nearest blocked cell center, for
  the agent's height (`NavGrid.for_agent`);
- a **goal pool**: ``goals_per_scene`` goal cells on the largest reachable region, each with
  its **geodesic** distance field (8-connected shortest paths over cells where the agent fits,
  scipy's Dijkstra), precomputed once so resets and rewards stay on the device.

Scenes of different sizes are padded to one shape (padding is blocked), so a batch of agents
spread over several scenes is served by gathers on stacked tensors.

**Safety margin.** Obstacles are known to the grid only as blocked cells. Bilinear
interpolation of the clearance field is within ``resolution / √2`` of the distance to the
nearest blocked cell *center*, and a surface point lies within ``resolution / √2`` of its
cell's center, so a position whose interpolated clearance is at least ``radius + √2 ·
resolution`` keeps the agent's body at least ``radius`` from every collision surface.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra
from torch import Tensor

from lyra_sim.exporters.nav_grid import NavGrid
from lyra_sim.render.rasterizer import triton_available

from . import numba_grid

UNREACHABLE = 1e6
"""Geodesic distance stored for cells that cannot reach the goal, meters."""


def safety_margin(resolution: float) -> float:
    """Extra clearance that makes the grid test conservative (see the module docstring)."""
    return math.sqrt(2) * resolution


def _geodesic(free: np.ndarray, resolution: float, sources: np.ndarray) -> np.ndarray:
    """``[len(sources), ny, nx]`` shortest 8-connected path lengths (meters) over ``free`` cells.

    Args:
        free: ``[ny, nx]`` bool; sources: ``[K]`` flat cell indices (all free).
    """
    ny, nx = free.shape
    ys, xs = np.nonzero(free)
    rows, cols, costs = [], [], []
    for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
        ty, tx = ys + dy, xs + dx
        ok = (ty < ny) & (tx >= 0) & (tx < nx)
        ok[ok] = free[ty[ok], tx[ok]]
        if dx and dy:  # a diagonal step may not cut the corner of a blocked cell
            ok[ok] = free[ys[ok] + dy, xs[ok]] & free[ys[ok], xs[ok] + dx]
        rows.append(ys[ok] * nx + xs[ok])
        cols.append(ty[ok] * nx + tx[ok])
        costs.append(np.full(int(ok.sum()), resolution * math.hypot(dx, dy)))
    r, c, w = np.concatenate(rows), np.concatenate(cols), np.concatenate(costs)
    graph = coo_matrix((w, (r, c)), shape=(ny * nx, ny * nx)).tocsr()
    dist = dijkstra(graph, directed=False, indices=sources)
    dist[~np.isfinite(dist)] = UNREACHABLE
    return dist.reshape(len(sources), ny, nx)


@dataclass(frozen=True)
class SceneGrid:
    """One scene's fields for one agent (numpy, before stacking)."""

    clearance: np.ndarray  # [ny, nx] float32
    geodesic: np.ndarray  # [K, ny, nx] float32
    goals: np.ndarray  # [K, 2] float64 world xy of the goal cells
    origin: np.ndarray  # [2]
    resolution: float
    floor_z: float


def scene_grid(nav: NavGrid, radius: float, height: float, goals: int, min_region_cells: int = 1,
               goal_xy: np.ndarray | None = None) -> SceneGrid:
    """Fields of ``nav`` for a cylinder agent (``radius``, ``height``, meters) with ``goals`` pool goals.

    The goal pool is drawn with a fixed seed from the largest connected region where the
    agent fits: it is part of the scene, like an episode dataset, not of the episode seed.
    With ``goal_xy [G, 2]`` (an episode dataset's goals) the pool is those points instead (``goals``
    is then ignored), each a cell where the agent fits (ValueError naming the first that is not).
    """
    grid = nav.for_agent(height)
    fits = grid.distance >= radius + safety_margin(grid.resolution)
    labels, count = ndimage.label(fits, structure=np.ones((3, 3)))
    if count == 0:
        raise ValueError(
            f"no walkable floor fits an agent of radius {radius} m and height {height} m "
            f"(largest clearance {float(grid.distance.max()):.2f} m)"
        )
    sizes = np.bincount(labels.ravel())[1:]
    region = labels == (int(np.argmax(sizes)) + 1)
    if region.sum() < min_region_cells:
        raise ValueError(f"the largest walkable region has {int(region.sum())} cells; need {min_region_cells}")
    ny, nx = fits.shape
    if goal_xy is None:
        cells = np.flatnonzero(region)
        rng = np.random.default_rng(0)
        pick = np.sort(rng.choice(cells, size=goals, replace=len(cells) < goals))
        goal_xy = grid.origin + (np.stack([pick % nx, pick // nx], 1) + 0.5) * grid.resolution
    else:
        goal_xy = np.asarray(goal_xy, np.float64).reshape(-1, 2)
        ix, iy = np.floor((goal_xy - grid.origin) / grid.resolution).astype(np.int64).T
        inside = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
        bad = ~inside
        bad[inside] = ~fits[iy[inside], ix[inside]]
        if bad.any():
            raise ValueError(f"goal {goal_xy[bad][0].tolist()} is not on the walkable floor for an agent of radius {radius} m")
        pick = iy * nx + ix
    geo = _geodesic(fits, grid.resolution, pick)
    return SceneGrid(
        clearance=grid.distance.astype(np.float32),
        geodesic=geo.astype(np.float32),
        goals=goal_xy,
        origin=grid.origin,
        resolution=grid.resolution,
        floor_z=grid.floor_z,
    )


class NavFields:
    """Several scenes' `SceneGrid`s stacked (padded) on one device, with batched lookups.

    Attributes:
        clearance: ``[S, H, W]``; geodesic: ``[S, K, H, W]``; goals: ``[S, K, 2]``;
        origin: ``[S, 2]``; resolution, floor_z, margin: ``[S]``; origin_host ``[S, 2]`` (float64) and
        resolution_host ``[S]``: numpy copies for host-side sampling.
    """

    def __init__(self, grids: list[SceneGrid], device: torch.device | str = "cpu") -> None:
        h = max(g.clearance.shape[0] for g in grids)
        w = max(g.clearance.shape[1] for g in grids)
        k = grids[0].geodesic.shape[0]
        clearance = np.zeros((len(grids), h, w), np.float32)  # padding: blocked, unreachable
        geodesic = np.full((len(grids), k, h, w), UNREACHABLE, np.float32)
        for i, g in enumerate(grids):
            gy, gx = g.clearance.shape
            clearance[i, :gy, :gx] = g.clearance
            geodesic[i, :, :gy, :gx] = g.geodesic
        f32 = dict(dtype=torch.float32, device=device)
        self.shape = (h, w)
        self.clearance = torch.as_tensor(clearance, device=device)
        self.geodesic = torch.as_tensor(geodesic, device=device)
        self.goals = torch.tensor(np.stack([g.goals for g in grids]), **f32)
        self.origin = torch.tensor(np.stack([g.origin for g in grids]), **f32)
        self.resolution = torch.tensor([g.resolution for g in grids], **f32)
        self.floor_z = torch.tensor([g.floor_z for g in grids], **f32)
        self.margin = torch.tensor([safety_margin(g.resolution) for g in grids], **f32)
        # Host copies for episode sampling, which runs on the host: reading the device tensors there would
        # wait for every queued step (a sync per drawn episode). The same float32 values.
        self.origin_host = self.origin.cpu().numpy().astype(np.float64)
        self.resolution_host = self.resolution.cpu().numpy()

    @property
    def max_distance(self) -> float:
        """Meters between any two points of any scene's grid at most (the padded grids' diagonal)."""
        h, w = self.shape
        return math.ceil(math.hypot(h, w) * float(self.resolution.max()) * 100 + 1) / 100

    def _corners(self, scene: Tensor, xy: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Lower-left cell ``(ix, iy)`` of the 4 centers around ``xy`` and the bilinear weights ``(fx, fy)``."""
        u = (xy - self.origin[scene]) / self.resolution[scene, None] - 0.5
        i0 = torch.floor(u)
        frac = u - i0
        return i0[:, 0].long(), i0[:, 1].long(), frac[:, 0], frac[:, 1]

    def _gather4(self, flat: Tensor, base: Tensor, ix: Tensor, iy: Tensor, fill: float) -> Tensor:
        """``[N, 4]`` values of the cells ``(ix + dx, iy + dy)`` for (dx, dy) = (0,0), (1,0), (0,1), (1,1)
        in the grids starting at ``base`` of the flattened ``flat``; ``fill`` outside the grid."""
        h, w = self.shape
        cx = torch.stack([ix, ix + 1, ix, ix + 1], 1)
        cy = torch.stack([iy, iy, iy + 1, iy + 1], 1)
        inside = (cx >= 0) & (cx < w) & (cy >= 0) & (cy < h)
        idx = base[:, None] + cy.clamp(0, h - 1) * w + cx.clamp(0, w - 1)
        return torch.where(inside, flat[idx], fill)

    def clearance_at(self, scene: Tensor, xy: Tensor, gradient: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """Bilinear clearance ``[N]`` (meters) at positions ``xy: [N, 2]`` of scenes ``scene: [N]``
        (and, with ``gradient``, its gradient ``[N, 2]`` there). On CUDA one Triton kernel
        (`envs.triton_clearance`), on the CPU one Numba loop where Numba is installed
        (`envs.numba_grid`): both bit for bit `clearance_reference`."""
        if xy.is_cuda and triton_available():
            from .triton_clearance import grid_clearance
        elif xy.device.type == "cpu" and numba_grid.available():
            grid_clearance = numba_grid.grid_clearance
        else:
            return self.clearance_reference(scene, xy, gradient)
        value, grad = grid_clearance(scene, xy, self.clearance, self.origin, self.resolution, gradient)
        return (value, grad) if gradient else value

    def clearance_reference(self, scene: Tensor, xy: Tensor, gradient: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """`clearance_at` in PyTorch operations (the CPU path, and the CUDA kernel's reference)."""
        ix, iy, fx, fy = self._corners(scene, xy)
        h, w = self.shape
        c = self._gather4(self.clearance.view(-1), scene * (h * w), ix, iy, 0.0)
        bottom = c[:, 0] + (c[:, 1] - c[:, 0]) * fx
        top = c[:, 2] + (c[:, 3] - c[:, 2]) * fx
        value = bottom + (top - bottom) * fy
        if not gradient:
            return value
        res = self.resolution[scene]
        gx = ((c[:, 1] - c[:, 0]) * (1 - fy) + (c[:, 3] - c[:, 2]) * fy) / res
        return value, torch.stack([gx, (top - bottom) / res], 1)

    def geodesic_at(self, scene: Tensor, goal: Tensor, xy: Tensor) -> Tensor:
        """Geodesic distance ``[N]`` (meters) from ``xy: [N, 2]`` to pool goal ``goal: [N]``.

        The smallest ``field(center) + |xy - center|`` over the 4 surrounding cell centers.
        Next to a blocked cell this may take the straight line to a diagonal center that the
        grid path cannot (no corner cutting), so it can read up to ``(2 - √2) · resolution``
        below the grid geodesic there; elsewhere it is the path length through those centers.
        """
        ix, iy, fx, fy = self._corners(scene, xy)
        h, w = self.shape
        k = self.geodesic.shape[1]
        g = self._gather4(self.geodesic.view(-1), (scene * k + goal) * (h * w), ix, iy, UNREACHABLE)
        res = self.resolution[scene, None]
        dx = torch.stack([fx, fx - 1, fx, fx - 1], 1) * res
        dy = torch.stack([fy, fy, fy - 1, fy - 1], 1) * res
        return (g + torch.sqrt(dx * dx + dy * dy)).amin(1)

    def cell_centers(self, scene: int, flat: np.ndarray) -> np.ndarray:
        """World xy ``[M, 2]`` of flat cell indices of scene ``scene`` (numpy, for sampling)."""
        w = self.shape[1]
        res = float(self.resolution_host[scene])
        return self.origin_host[scene] + (np.stack([flat % w, flat // w], 1) + 0.5) * res


def extend_to_contact(grid: SceneGrid, radius: float, reach: float) -> SceneGrid:
    """``grid`` (made by `scene_grid` for ``radius``) with geodesic distances also where the body's
    center is too close to an obstacle for the grid (within ``reach`` meters of the cells where
    it fits and that reach the goal): there the geodesic is the nearest such cell's plus the
    straight line to it.

    For physically simulated bodies, which touch walls: the grid keeps a kinematic agent
    ``radius + margin`` from obstacles, but a simulated one can be pressed against them, where
    the plain field reads `UNREACHABLE`. The nearest cell is taken among those that reach each
    goal (not merely fit: a fitting pocket cut off from the goal, beside a wall, must not decide).
    Cells that fit but cannot reach a goal keep `UNREACHABLE`.
    """
    fits = grid.clearance >= radius + safety_margin(grid.resolution)
    geodesic = grid.geodesic.copy()
    for k in range(geodesic.shape[0]):
        reaches = fits & (grid.geodesic[k] < UNREACHABLE)
        if not reaches.any():
            continue
        dist, (iy, ix) = ndimage.distance_transform_edt(~reaches, return_indices=True)
        near = ~fits & (dist * grid.resolution <= reach)
        step = (dist[near] * grid.resolution).astype(np.float32)
        geodesic[k, near] = np.minimum(grid.geodesic[k, iy[near], ix[near]] + step, UNREACHABLE)
    return SceneGrid(grid.clearance, geodesic, grid.goals, grid.origin, grid.resolution, grid.floor_z)
