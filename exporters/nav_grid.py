"""``nav.npz``: a 2D grid of the walkable floor, computed from the extracted collision mesh.

For batched collision queries and spawn sampling (the Gymnasium environment reads it), so it
holds plain arrays in a fixed frame:

- ``occupancy`` ``[ny, nx]`` uint8: 1 = blocked, 0 = free. Row ``j``, column ``i`` is the cell
  whose lower corner is ``origin + (i, j) * resolution`` (x along columns, y along rows).
- ``distance`` ``[ny, nx]`` float32: meters from the cell center to the nearest blocked cell
  (0 on blocked cells), for clearance checks and spawn sampling (``distance >= radius``).
- ``origin`` ``[2]`` float64 (x, y, meters), ``resolution`` (meters per cell), ``floor_z``
  (meters), ``height_range`` ``[2]`` (the band above the floor that counts as an obstacle).
- ``floor`` ``[ny, nx]`` uint8: 1 where the floor is under the cell center.
- ``obstacle_height`` ``[ny, nx]`` float32: height above the floor of the lowest collision
  surface over the cell, above ``step_height`` (inf if none). Agents of any height derive
  their own grid from ``floor`` and this (`NavGrid.for_agent`): a 0.5 m robot drives under a
  table that ``occupancy`` (made for ``agent_height``) marks as blocked.

A cell is **free** when the floor is under its center (a ray cast down from just above the
floor meets an upward-facing surface at floor height) and no collision surface passes through
the cell between ``floor_z + step_height`` and ``floor_z + agent_height`` (every triangle is
sampled on a lattice a quarter cell apart, so thin chair legs are caught). The floor height is
the lowest level that holds a large share of the upward-facing area.

Written deterministically (fixed zip timestamps), so the same mesh gives the same bytes.
"""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
from scipy import ndimage

from lyra_sim.atomic import atomic_path
from lyra_sim.config import check_number

from .mesh_tools import face_normals, raycasting_scene


@dataclass(frozen=True)
class NavConfig:
    """Settings of `nav_grid`.

    Attributes:
        resolution: cell edge, meters [0.01, 0.5]. One value for every bundle, exported by the CLI
            or by the environments' cache: 2.5 cm. The environments keep bodies
            ``radius + √2 · resolution`` from obstacle cell centers (`lyra_sim.envs.nav_fields`),
            so 5 cm cells cost a 7 cm margin (doors and aisles narrower than they are); 2.5 cm
            halves it for ~4x the cells (≈0.1 M for a 5 × 4 m room, well under a second).
        step_height: surfaces lower than this above the floor do not block (rugs, seams), m.
        agent_height: surfaces higher than this above the floor do not block (ceilings), m.
        floor_tolerance: how far from ``floor_z`` the floor under a cell may be, meters.
    """

    resolution: float = 0.025
    step_height: float = 0.05
    agent_height: float = 1.8
    floor_tolerance: float = 0.05

    def __post_init__(self) -> None:
        check_number("nav resolution", self.resolution, 0.01, 0.5)
        if not 0 <= self.step_height < self.agent_height:
            raise ValueError(
                f"step_height, agent_height: expected 0 <= step_height < agent_height, got {self.step_height}, {self.agent_height}"
            )


@dataclass(frozen=True)
class NavGrid:
    """The walkable-floor grid (see the module docstring for the fields)."""

    occupancy: np.ndarray
    distance: np.ndarray
    origin: np.ndarray
    resolution: float
    floor_z: float
    height_range: np.ndarray
    floor: np.ndarray
    obstacle_height: np.ndarray

    def for_agent(self, height: float) -> "NavGrid":
        """The grid for an agent ``height`` meters tall (same floor, its own obstacles and distances)."""
        if not height > self.height_range[0]:
            raise ValueError(f"height: expected > step height {self.height_range[0]} m, got {height}")
        blocked = (self.floor == 0) | (self.obstacle_height < height)
        return NavGrid(
            occupancy=blocked.astype(np.uint8),
            distance=_clearance(blocked, self.resolution),
            origin=self.origin,
            resolution=self.resolution,
            floor_z=self.floor_z,
            height_range=np.array([self.height_range[0], height], dtype=np.float64),
            floor=self.floor,
            obstacle_height=self.obstacle_height,
        )

    def cell_centers(self) -> np.ndarray:
        """``[ny, nx, 2]`` x, y of every cell center, meters."""
        ny, nx = self.occupancy.shape
        xs = self.origin[0] + (np.arange(nx) + 0.5) * self.resolution
        ys = self.origin[1] + (np.arange(ny) + 0.5) * self.resolution
        return np.stack(np.meshgrid(xs, ys, indexing="xy"), -1)

    def summary(self, radius: float = 0.25) -> dict:
        """JSON-able facts for the manifest: size, free area and the spawn region for ``radius``."""
        free = self.occupancy == 0
        spawn = self.distance >= radius
        centers = self.cell_centers()
        region = None
        if spawn.any():
            pts = centers[spawn]
            region = {"radius": radius, "cells": int(spawn.sum()), "bounds": [pts.min(0).tolist(), pts.max(0).tolist()]}
        return {
            "file": "nav.npz",
            "shape": list(self.occupancy.shape),
            "resolution": self.resolution,
            "origin": self.origin.tolist(),
            "floor_z": self.floor_z,
            "free_area_m2": float(free.sum() * self.resolution**2),
            "spawn_region": region,
        }


def floor_height(vertices: np.ndarray, faces: np.ndarray, bin_size: float = 0.02) -> float:
    """The lowest height holding at least 30 % of the largest upward-facing area at any height.

    Falls back to the lowest vertex when nothing faces up.
    """
    normals = face_normals(vertices, faces)
    area = np.linalg.norm(normals, axis=1) / 2
    up = normals[:, 2] > 0.9 * 2 * area  # unit normal z > 0.9
    if not up.any():
        return float(vertices[:, 2].min())
    z = vertices[faces[up]].mean(1)[:, 2]
    a = area[up]
    lo = z.min()
    bins = np.floor((z - lo) / bin_size).astype(np.int64)
    hist = np.bincount(bins, weights=a)
    level = int(np.nonzero(hist >= 0.3 * hist.max())[0][0])
    near = np.abs(bins - level) <= 1
    order = np.argsort(z[near])
    cum = np.cumsum(a[near][order])
    return float(z[near][order][np.searchsorted(cum, cum[-1] / 2)])  # area-weighted median


def nav_grid(vertices: np.ndarray, faces: np.ndarray, config: NavConfig = NavConfig()) -> NavGrid:
    """The walkable-floor grid of a collision mesh ``(vertices [V, 3], faces [F, 3])``."""
    import open3d.core as o3c

    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    if len(faces) == 0:
        raise ValueError("nav: the collision mesh has no faces")
    floor_z = floor_height(vertices, faces)
    res = config.resolution
    lo = vertices[:, :2].min(0) - res
    hi = vertices[:, :2].max(0) + res
    nx, ny = (np.ceil((hi - lo) / res).astype(int) + 1).tolist()
    origin = lo
    xs = origin[0] + (np.arange(nx) + 0.5) * res
    ys = origin[1] + (np.arange(ny) + 0.5) * res
    cx, cy = np.meshgrid(xs, ys, indexing="xy")

    # Floor under each cell center: a short ray down from just above the floor.
    scene = raycasting_scene(vertices, faces)
    start = floor_z + config.step_height
    rays = np.stack([cx.ravel(), cy.ravel(), np.full(cx.size, start), np.zeros(cx.size), np.zeros(cx.size), -np.ones(cx.size)], 1)
    hit = scene.cast_rays(o3c.Tensor(rays.astype(np.float32)))
    t = hit["t_hit"].numpy()
    up = hit["primitive_normals"].numpy()[:, 2] > 0.5
    floor_z_hit = start - t
    has_floor = np.isfinite(t) & up & (np.abs(floor_z_hit - floor_z) <= config.floor_tolerance)

    # Obstacles: the lowest surface point over each cell, from a lattice on every triangle.
    obstacle_height = np.full(ny * nx, np.inf)
    for points in surface_lattice(vertices, faces, res / 4):
        above = points[:, 2] > floor_z + config.step_height
        idx = np.floor((points[above, :2] - origin) / res).astype(np.int64)
        height = points[above, 2] - floor_z
        inside = (idx[:, 0] >= 0) & (idx[:, 0] < nx) & (idx[:, 1] >= 0) & (idx[:, 1] < ny)
        np.minimum.at(obstacle_height, idx[inside, 1] * nx + idx[inside, 0], height[inside])

    floor = has_floor.reshape(ny, nx).astype(np.uint8)
    grid = NavGrid(
        occupancy=np.zeros((ny, nx), np.uint8),
        distance=np.zeros((ny, nx), np.float32),
        origin=origin.astype(np.float64),
        resolution=float(res),
        floor_z=float(floor_z),
        height_range=np.array([config.step_height, config.agent_height], dtype=np.float64),
        floor=floor,
        obstacle_height=obstacle_height.reshape(ny, nx).astype(np.float32),
    )
    return grid.for_agent(config.agent_height)


def surface_lattice(vertices: np.ndarray, faces: np.ndarray, spacing: float, batch: int = 1 << 21) -> Iterator[np.ndarray]:
    """Points ``[P, 3]`` (in batches of about ``batch``) on every triangle: a barycentric lattice
    whose sub-triangles have edges at most ``spacing``, so every surface point lies within
    ``spacing`` of a lattice point.

    Why not random samples: with ``spacing`` a quarter cell, every cell whose center column a
    surface crosses holds a lattice point, always; area-weighted random samples (9 per cell on
    average) left some covered cells empty, i.e. free under a ceiling or a table top.
    """
    tri = vertices[faces]  # [F, 3, 3]
    edges = np.linalg.norm(tri - np.roll(tri, 1, axis=1), axis=2).max(1)
    steps = np.maximum(1, np.ceil(edges / spacing)).astype(np.int64)
    for n in np.unique(steps):
        i, j = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
        keep = i + j <= n
        u, v = i[keep] / n, j[keep] / n  # [K] barycentric weights of B and C
        group = tri[steps == n]
        per = max(1, batch // len(u))
        for start in range(0, len(group), per):
            t = group[start:start + per]
            a, ab, ac = t[:, 0], t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]
            yield (a[:, None] + u[None, :, None] * ab[:, None] + v[None, :, None] * ac[:, None]).reshape(-1, 3)


def _clearance(blocked: np.ndarray, resolution: float) -> np.ndarray:
    """Meters from every cell center to the nearest blocked cell's center (0 on blocked cells)."""
    if blocked.all():
        return np.zeros(blocked.shape, np.float32)
    return (ndimage.distance_transform_edt(~blocked) * resolution).astype(np.float32)


def save_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> Path:
    """``np.savez`` with fixed zip timestamps and entry order, so equal arrays give equal bytes."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
            for name in sorted(arrays):
                buffer = io.BytesIO()
                np.lib.format.write_array(buffer, np.asanyarray(arrays[name]), allow_pickle=False)
                info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                zf.writestr(info, buffer.getvalue())
    return path


def write_nav(path: str | os.PathLike, grid: NavGrid) -> Path:
    """Write ``grid`` as ``nav.npz`` (see the module docstring for the keys)."""
    return save_npz(
        path,
        {
            "occupancy": grid.occupancy,
            "distance": grid.distance,
            "origin": grid.origin,
            "resolution": np.float64(grid.resolution),
            "floor_z": np.float64(grid.floor_z),
            "height_range": grid.height_range,
            "floor": grid.floor,
            "obstacle_height": grid.obstacle_height,
        },
    )


NAV_KEYS = ("occupancy", "distance", "origin", "resolution", "floor_z", "height_range", "floor", "obstacle_height")


def read_nav(path: str | os.PathLike) -> NavGrid:
    """Read a ``nav.npz`` written by `write_nav`; a file missing keys or with bad shapes is a ValueError."""
    with np.load(path, allow_pickle=False) as data:
        missing = [k for k in NAV_KEYS if k not in data.files]
        if missing:
            raise ValueError(f"{path}: not a nav grid: missing {', '.join(missing)} (re-export the bundle)")
        arrays = {k: data[k] for k in NAV_KEYS}
    shape = arrays["occupancy"].shape
    if len(shape) != 2 or any(arrays[k].shape != shape for k in ("distance", "floor", "obstacle_height")):
        raise ValueError(f"{path}: nav grids must share one 2D shape, got " + ", ".join(f"{k} {arrays[k].shape}" for k in ("occupancy", "distance", "floor", "obstacle_height")))
    if arrays["origin"].shape != (2,) or not float(arrays["resolution"]) > 0:
        raise ValueError(f"{path}: bad origin {arrays['origin'].shape} or resolution {arrays['resolution']}")
    return NavGrid(
        occupancy=arrays["occupancy"],
        distance=arrays["distance"],
        origin=arrays["origin"].astype(np.float64),
        resolution=float(arrays["resolution"]),
        floor_z=float(arrays["floor_z"]),
        height_range=arrays["height_range"],
        floor=arrays["floor"],
        obstacle_height=arrays["obstacle_height"],
    )
