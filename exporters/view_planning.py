"""Where the depth cameras of collision-mesh extraction go (`lyra_sim.exporters.collision`).

Gaussian centers are binned into a coarse occupancy grid (cells of
   ``4 · voxel_size``, dilated by one cell to close pinholes) and the free cells are split into
   connected components. A free component that does not touch the grid border, holds at
   least `CollisionConfig.min_interior_fraction` of the bounding volume and has room to stand
   in (`CollisionConfig.min_interior_clearance`) is an *interior* (a room). Its views are
   90° cube-map faces at well-spread cells with enough clearance, chosen greedily by how
   much of the room's surface (occupied cells facing it) each adds, seen unobstructed in the
   grid, near and head-on (`_coverage_views`): the aisles between a warehouse's tall shelves
   get views, not just the middle and the corners of the room.
   A building's interior is split into its rooms first (`_rooms`: the interior's cells high
   above the floor, above every doorway, fall apart into one connected piece per room) and
   each room gets its own views, as many as a room of its size would: the rooms of a house
   all get seen, instead of the largest ones taking the view budget.
   Without such an interior (an object, an open scene) the cameras sit on two
   rings *around* the scene, looking at its center, plus cube maps from the free space inside
   its bounds.
   Outside views are not used for rooms: 3DGS Gaussians are visible from both sides, so a
   camera behind a wall sees the wall's inner Gaussians and would fuse free space into the room.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from scipy import ndimage

from lyra_sim.cameras import Cameras, intrinsics
from lyra_sim.scene import GaussianScene

if TYPE_CHECKING:  # the settings live with the pipeline that runs the plan
    from .collision import CollisionConfig

MIN_OPACITY = 1.0 / 255.0
"""Gaussians below this opacity are culled by the rasterizer; they are left out everywhere."""

MAX_VOXELS_ACROSS = 2000
"""Voxels along the scene's diagonal at most: the voxel edge is also at least diagonal / 2000
(2.5 cm for a 40 × 30 × 8 m warehouse), which bounds the voxel blocks a large scene can need."""

MIN_GAUSSIANS = 16
"""Visible Gaussians a scene needs for a collision mesh (fewer cannot cover a surface)."""

MIN_EXTENT = 0.05
"""Meters a scene must span along at least two axes: a point or a line of Gaussians has no
surface to fuse (and no size to place cameras around); a plane (a floor) does."""


def visible_gaussians(scene: GaussianScene) -> GaussianScene:
    """The Gaussians the rasterizer draws (opacity at least 1/255), or a ValueError saying why the
    scene has no surface to extract: empty, transparent, too few, or a point or a line."""
    if len(scene) == 0:
        raise ValueError("collision: the scene has no Gaussians")
    visible = scene.prune(MIN_OPACITY)
    if len(visible) == 0:
        raise ValueError(
            f"collision: all {len(scene):,} Gaussians are transparent (opacity < 1/255); nothing to fuse"
        )
    lo, hi = visible.bounds()
    extent = (hi - lo).tolist()
    span = f"the Gaussians span {' x '.join(f'{e:.3g}' for e in extent)} m"
    if len(visible) < MIN_GAUSSIANS:
        raise ValueError(f"collision: {span}: too few ({len(visible)} visible; at least {MIN_GAUSSIANS}) "
                         "to extract a collision mesh")
    if sorted(extent)[1] < MIN_EXTENT:
        raise ValueError(f"collision: {span}: too flat (under {MIN_EXTENT} m along two axes: a point or a line) "
                         "to extract a collision mesh")
    return visible


def robust_bounds(means: np.ndarray, quantile: float = 0.002) -> tuple[np.ndarray, np.ndarray]:
    """Bounds ``(lo [3], hi [3])`` of ``means: [N, 3]`` without the outermost floaters.

    Imported splats often carry a few stray Gaussians far away; the ``quantile`` tails on
    each axis are ignored, so they do not inflate voxel sizes and grids.
    """
    if len(means) < 1000:
        return means.min(0), means.max(0)
    return np.quantile(means, quantile, axis=0), np.quantile(means, 1 - quantile, axis=0)


def default_voxel_size(lo: np.ndarray, hi: np.ndarray) -> float:
    """TSDF voxel edge for a scene with bounds ``lo, hi``: diagonal / 240 in [0.01, 0.04] m.

    About 2.8 cm for a 5 × 3.6 × 2.7 m kitchen. Halving the voxel quadruples the fused faces
    and so the decimation time, for little gain: on the procedural kitchen, 2.2 cm voxels give
    F@2cm 0.936, 3 cm voxels 0.918 (F@5cm 0.985 vs 0.983).
    """
    return float(np.clip(np.linalg.norm(hi - lo) / 240.0, 0.01, 0.04))


@dataclass(frozen=True)
class ViewPlan:
    """Where the depth cameras are.

    Attributes:
        cameras: all depth views.
        viewpoints: ``[P, 3]`` distinct camera centers in the free space (meters).
        interior: True when an enclosed free volume (a room) was found.
        voxel_size: the TSDF voxel edge the plan was made for.
    """

    cameras: Cameras
    viewpoints: np.ndarray
    interior: bool
    voxel_size: float



_CUBE_FORWARD_UP = (
    ((1, 0, 0), (0, 0, 1)),
    ((-1, 0, 0), (0, 0, 1)),
    ((0, 1, 0), (0, 0, 1)),
    ((0, -1, 0), (0, 0, 1)),
    ((0, 0, 1), (1, 0, 0)),
    ((0, 0, -1), (1, 0, 0)),
)


def cube_viewmats(centers: np.ndarray) -> torch.Tensor:
    """World-to-camera matrices ``[6 P, 4, 4]`` of a cube map at each of ``centers: [P, 3]``.

    Faces: +x, -x, +y, -y, +z, -z (OpenCV axes: x right, y down, z forward).
    """
    rots = []
    for forward, up in _CUBE_FORWARD_UP:
        f, u = np.asarray(forward, float), np.asarray(up, float)
        right = np.cross(f, u)
        down = np.cross(f, right)
        rots.append(np.stack([right, down, f]))  # rows: camera axes in world coordinates
    rots = np.stack(rots)  # [6, 3, 3]
    out = np.zeros((len(centers), 6, 4, 4))
    out[:, :, :3, :3] = rots
    out[:, :, :3, 3] = -np.einsum("fij,pj->pfi", rots, centers)
    out[:, :, 3, 3] = 1
    return torch.from_numpy(out.reshape(-1, 4, 4).astype(np.float32))


def _occupancy(means: np.ndarray, lo: np.ndarray, cell: float, shape: tuple[int, int, int]) -> np.ndarray:
    idx = np.floor((means - lo) / cell).astype(np.int64)
    ok = ((idx >= 0) & (idx < np.asarray(shape))).all(1)
    occ = np.zeros(shape, dtype=bool)
    occ[tuple(idx[ok].T)] = True
    # One cell of dilation closes the gaps between sparse Gaussians on a surface.
    return ndimage.binary_dilation(occ, iterations=1)


def _farthest_points(points: np.ndarray, first: int, count: int) -> np.ndarray:
    """Indices of ``count`` well-spread rows of ``points: [M, 3]`` (farthest-point sampling)."""
    chosen = [first]
    dist = np.linalg.norm(points - points[first], axis=1)
    for _ in range(1, min(count, len(points))):
        nxt = int(np.argmax(dist))  # argmax takes the first of ties: deterministic
        chosen.append(nxt)
        dist = np.minimum(dist, np.linalg.norm(points - points[nxt], axis=1))
    return np.asarray(chosen)


MIN_ROOM_AREA = 1.5
"""Smallest floor area (m²) that `_rooms` counts as a room of its own."""
ROOM_SLICE = 0.6
"""`_rooms` looks for the rooms in the interior's cells above this fraction of its height."""

MAX_CANDIDATES = 256
"""Well-spread free-space cells that interior viewpoints are chosen among."""
MAX_TARGETS = 8000
"""Surface cells that interior view planning tries to see (a stride subsample beyond this)."""


def _shifted(mask: np.ndarray, axis: int, step: int) -> np.ndarray:
    """``out[i] = mask[i + step]`` along ``axis`` (False past the border)."""
    out = np.zeros_like(mask)
    n = mask.shape[axis]
    src = [slice(None)] * mask.ndim
    dst = [slice(None)] * mask.ndim
    src[axis] = slice(max(step, 0), n + min(step, 0))
    dst[axis] = slice(max(-step, 0), n - max(step, 0))
    out[tuple(dst)] = mask[tuple(src)]
    return out


def _surface_targets(
    occupied: np.ndarray, room: np.ndarray, grid_lo: np.ndarray, cell: float
) -> tuple[np.ndarray, np.ndarray]:
    """Points ``[T, 3]`` on the occupied cells that face the room, and their unit normals.

    A target is an occupied cell with a room cell among its 6 neighbours; its normal is the
    mean direction to those neighbours and its point lies on the cell's side facing them.
    """
    normal = np.zeros(occupied.shape + (3,))
    for axis in range(3):
        for step in (-1, 1):
            normal[..., axis] += step * _shifted(room, axis, step)
    idx = np.argwhere(occupied & (np.abs(normal).sum(-1) > 0))
    idx = idx[:: max(1, math.ceil(len(idx) / MAX_TARGETS))]
    n = normal[tuple(idx.T)]
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    return grid_lo + (idx + 0.5) * cell + 0.5 * cell * n, n


def _occupancy_raycaster(occupied: np.ndarray, grid_lo: np.ndarray, cell: float):
    """An Open3D ``RaycastingScene`` of the occupied cells' outer faces (two triangles each)."""
    import open3d as o3d

    corners = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]])
    # cube faces as corner quads, one per (axis, step)
    quads = {(0, -1): (0, 3, 7, 4), (0, 1): (1, 2, 6, 5), (1, -1): (0, 1, 5, 4), (1, 1): (3, 2, 6, 7),
             (2, -1): (0, 1, 2, 3), (2, 1): (4, 5, 6, 7)}
    tris = []
    for (axis, step), quad in quads.items():
        idx = np.argwhere(occupied & ~_shifted(occupied, axis, step))
        v = grid_lo + (idx[:, None, :] + corners[list(quad)][None]) * cell  # [K, 4, 3]
        tris += [v[:, [0, 1, 2]], v[:, [0, 2, 3]]]
    tris = np.concatenate(tris).reshape(-1, 3)
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(tris.astype(np.float32), np.arange(len(tris), dtype=np.uint32).reshape(-1, 3))
    return scene


def _coverage_views(
    candidates: np.ndarray,
    targets: np.ndarray,
    normals: np.ndarray,
    raycaster,
    cell: float,
    reach: float,
    min_cos: float,
    count: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy weighted max coverage: ``count`` cube faces, at rows of ``candidates: [M, 3]``, that see ``targets``.

    A candidate sees a target when nothing in the occupancy grid blocks the line between
    them, through the cube face whose frustum holds that line; the view is worth
    ``cos(angle to the normal) · min(1, reach / distance)`` (head-on and near views give
    depth that survives `valid_depth` and resolves small parts), or nothing below
    ``min_cos``, where `valid_depth` drops the pixels. Each target needs a total worth of 1;
    every round takes the (candidate, face) adding the most (ties: the first, so plans are
    deterministic). Choosing faces rather than whole cube maps spends no renders on what
    other views already saw (a ceiling, a bare wall); farthest-point sampling of positions
    pushes them to a room's walls and corners and leaves aisles between tall furniture unseen.

    Returns:
        ``(positions [K, 3], faces [K])``: the chosen views, faces indexing `cube_viewmats`' order.
    """
    import open3d.core as o3c

    to_t = (targets[None] - candidates[:, None, :]).astype(np.float32)  # [M, T, 3] camera → target
    dist = np.maximum(np.linalg.norm(to_t, axis=-1), 1e-6)
    to_t /= dist[..., None]
    cos = -np.einsum("mtk,tk->mt", to_t, normals.astype(np.float32))
    rays = np.concatenate([np.broadcast_to(candidates[:, None].astype(np.float32), to_t.shape), to_t], -1)
    hit = raycaster.cast_rays(o3c.Tensor(np.ascontiguousarray(rays.reshape(-1, 6))))["t_hit"].numpy()
    hit = hit.reshape(dist.shape)
    del rays
    # The target point lies on an occupied cell's face; a ray may graze a neighbouring cell's edge first.
    seen = hit >= dist - 0.75 * cell
    worth = np.where(seen & (cos >= max(min_cos, 1e-6)), cos * np.minimum(1.0, reach / dist), 0.0).astype(np.float32)
    axis = np.abs(to_t).argmax(-1)
    face = 2 * axis + (np.take_along_axis(to_t, axis[..., None], -1)[..., 0] < 0)  # +x -x +y -y +z -z
    m, t = len(candidates), len(targets)
    options = np.zeros((m, 6, t), np.float32)  # worth of (candidate, face) per target
    options[np.arange(m)[:, None], face, np.arange(t)[None]] = worth
    options = options.reshape(m * 6, t)
    need = np.ones(t, np.float32)
    gain = options.sum(1)  # worth <= 1 = need: nothing is capped yet
    taken = np.zeros(m * 6, dtype=bool)
    chosen: list[int] = []
    for _ in range(min(count, m * 6)):
        best = int(np.argmax(np.where(taken, -1.0, gain)))
        if taken[best] or gain[best] <= 0:
            break
        chosen.append(best)
        taken[best] = True
        left = np.maximum(need - options[best], 0.0)
        changed = np.nonzero(left != need)[0]
        cols = options[:, changed]
        gain -= (np.minimum(cols, need[changed]) - np.minimum(cols, left[changed])).sum(1)
        need = left
    chosen_a = np.asarray(chosen, dtype=np.int64)
    return candidates[chosen_a // 6], chosen_a % 6


def _rooms(region: np.ndarray, cell: float) -> list[np.ndarray]:
    """The rooms of an interior ``region: [X, Y, Z]`` (bool cells), as masks that partition it.

    Walls reach the ceiling and doorways do not, so some horizontal layer of the interior
    high above the floor falls apart into one connected piece per room: the layer (in the
    top ``1 - ROOM_SLICE`` of the interior's height) with the most pieces of at least
    `MIN_ROOM_AREA` wins, and every cell of the region joins the piece nearest to it in plan.
    A single room (or no such layer) gives ``[region]``.
    """
    z = np.nonzero(region.any(axis=(0, 1)))[0]
    min_cells = MIN_ROOM_AREA / cell**2
    best, best_count = None, 1
    for k in range(z[0] + int(np.ceil(ROOM_SLICE * (z[-1] - z[0]))), z[-1] + 1):
        labels, n = ndimage.label(region[:, :, k])
        sizes = np.bincount(labels.ravel(), minlength=n + 1)[1:]
        count = int((sizes >= min_cells).sum())
        if count > best_count:
            best, best_count = (labels, np.nonzero(sizes >= min_cells)[0] + 1), count
    if best is None:
        return [region]
    labels, keep = best
    seeds = np.where(np.isin(labels, keep), labels, 0)
    _, (ix, iy) = ndimage.distance_transform_edt(seeds == 0, return_indices=True)
    nearest = seeds[ix, iy]
    return [region & (nearest == label)[:, :, None] for label in keep]


def plan_views(scene: GaussianScene, config: CollisionConfig) -> ViewPlan:
    """Choose depth cameras for ``scene`` (see the module docstring).

    Returns:
        A `ViewPlan`; its cameras are ``resolution``² pixels, 90° cube faces plus, for scenes
        without an interior, orbit views.
    """
    visible = visible_gaussians(scene)
    means = visible.means.detach().cpu().double().numpy()
    lo, hi = robust_bounds(means)
    voxel = config.voxel_size or default_voxel_size(lo, hi)
    diagonal = float(np.linalg.norm(hi - lo))
    if voxel < diagonal / MAX_VOXELS_ACROSS:
        raise ValueError(f"voxel_size: {voxel:g} m is too fine for a scene {diagonal:.3g} m across: at least "
                         f"{diagonal / MAX_VOXELS_ACROSS:.3g} m (1/{MAX_VOXELS_ACROSS} of its diagonal)")
    extent = np.maximum(hi - lo, voxel)
    cell = max(4 * voxel, float(extent.max()) / 96)
    pad = 2
    grid_lo = lo - pad * cell
    shape = tuple(int(s) for s in np.ceil(extent / cell).astype(int) + 2 * pad + 1)
    occupied = _occupancy(means, grid_lo, cell, shape)
    free = ~occupied
    labels, count = ndimage.label(free)
    border = np.zeros(shape, dtype=bool)
    border[[0, -1], :, :] = border[:, [0, -1], :] = border[:, :, [0, -1]] = True
    outside = set(np.unique(labels[border & free]).tolist()) - {0}
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    sizes[0] = 0
    for comp in outside:
        sizes[comp] = 0
    bounds_cells = float(np.prod(extent / cell))
    interior_label = int(np.argmax(sizes)) if count else 0
    clearance = ndimage.distance_transform_edt(free) * cell
    interior = (
        interior_label > 0
        and sizes[interior_label] >= config.min_interior_fraction * bounds_cells
        and clearance[labels == interior_label].max() >= config.min_interior_clearance
    )

    centers_of = lambda mask: grid_lo + (np.argwhere(mask) + 0.5) * cell  # noqa: E731
    if interior:
        rooms = _rooms(labels == interior_label, cell)
        raycaster = _occupancy_raycaster(occupied, grid_lo, cell)
        chosen = [_room_views(room, occupied, clearance, grid_lo, cell, voxel, raycaster, config) for room in rooms]
        positions = np.concatenate([p for p, _ in chosen])
        faces = np.concatenate([f for _, f in chosen])
        _, first = np.unique(positions, axis=0, return_index=True)
        viewpoints = positions[np.sort(first)]
    else:
        inside_box = np.zeros(shape, dtype=bool)
        inside_box[pad:-pad, pad:-pad, pad:-pad] = True
        region = np.isin(labels, sorted(outside)) & inside_box
        candidates = region & (clearance >= max(config.clearance, 1.5 * cell))
        points = centers_of(candidates)
        if len(points):
            roomiest = int(np.argmax(clearance[candidates]))
            viewpoints = points[_farthest_points(points, roomiest, config.num_viewpoints or 4)]
            positions, faces = np.repeat(viewpoints, 6, axis=0), np.tile(np.arange(6), len(viewpoints))
        else:
            viewpoints = positions = np.zeros((0, 3))

    res = config.resolution
    viewmats, ks = [], []
    if len(positions):
        viewmats.append(cube_viewmats(positions).reshape(-1, 6, 4, 4)[np.arange(len(positions)), faces])
        ks.append(intrinsics(90.0, res, res, len(positions)))
    use_orbit = config.outside_views == "always" or (config.outside_views == "auto" and not interior)
    if use_orbit and config.orbit_views:
        viewmats.append(_orbit_viewmats(lo, hi, config.orbit_views))
        ks.append(intrinsics(60.0, res, res, config.orbit_views))
    if not viewmats:
        raise ValueError("collision: found no free space to place depth cameras in (and outside views are off)")
    cams = Cameras(torch.cat(viewmats), torch.cat(ks), res, res)
    return ViewPlan(cams, viewpoints, bool(interior), float(voxel))


def _room_views(room: np.ndarray, occupied: np.ndarray, clearance: np.ndarray, grid_lo: np.ndarray, cell: float,
                voxel: float, raycaster, config: CollisionConfig) -> tuple[np.ndarray, np.ndarray]:
    """``(positions [K, 3], faces [K])``: the cube faces that cover one room (mask ``room``)."""
    count_wanted = config.num_viewpoints or int(np.clip(round(float(room.sum()) * cell**3 / 3.0), 6, 24))
    z = np.nonzero(room.any(axis=(0, 1)))[0]
    low = np.zeros(room.shape, dtype=bool)
    low[:, :, : z[0] + max(1, int(np.ceil(config.view_height * (z[-1] - z[0] + 1))))] = True
    region = room & low
    candidates = region & (clearance >= max(config.clearance, 1.5 * cell))
    if not candidates.any():  # a cramped room: take its roomiest cells
        candidates = region & (clearance >= 0.999 * clearance[region].max())
    points = grid_lo + (np.argwhere(candidates) + 0.5) * cell
    targets, normals = _surface_targets(occupied, room, grid_lo, cell)
    spread = points[_farthest_points(points, int(np.argmax(clearance[candidates])), MAX_CANDIDATES)]
    reach = voxel * config.resolution / 2  # beyond this a depth pixel is wider than a voxel
    return _coverage_views(spread, targets, normals, raycaster, cell, reach, config.min_cos, 6 * count_wanted)


def _orbit_viewmats(lo: np.ndarray, hi: np.ndarray, count: int) -> torch.Tensor:
    """``count`` cameras on two rings (elevations 20° and 50°) looking at the bounds' center."""
    from lyra_sim.cameras import look_at

    center = (lo + hi) / 2
    # Far enough that a 60° view holds the whole bounding sphere.
    radius = 0.5 * float(np.linalg.norm(hi - lo)) / math.sin(math.radians(30)) * 1.05
    eyes = []
    rings = ((20.0, count - count // 2), (50.0, count // 2))
    for elevation, n in rings:
        el = math.radians(elevation)
        for i in range(n):
            az = 2 * math.pi * (i + 0.5 * (elevation > 30)) / max(n, 1)
            eyes.append(center + radius * np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)]))
    eyes_t = torch.tensor(np.asarray(eyes), dtype=torch.float32)
    return look_at(eyes_t, torch.tensor(center, dtype=torch.float32).expand_as(eyes_t))
