"""The shell of a building: floors, ceilings and walls with doorways, as closed boxes; which of
their surface samples face the rooms; and baked light per room.

Walls are ``t`` thick and centered on the room polygons' edges. Each room owns the half of
every wall on its side (its cell minus its interior, the cell inset by ``t / 2``), so a wall's
two faces take the colors of the two rooms it separates; exterior walls get an outer half
too. A doorway is a box cut out of the walls up to the door height (the wall above it stays:
a lintel). Floors and ceilings are one slab per room under / over its cell.

Boxes touch and overlap where walls meet, so faces lie inside other boxes. Only what faces
the free space gets Gaussians: a sample is kept when the point just off its surface, along
its normal, lies in a room's interior or a doorway (`free_mask`). The ground-truth meshes
keep whole boxes (closed, as `lyra_sim.worlds.geometry` promises).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage

from lyra_sim.worlds import geometry as geo
from lyra_sim.worlds import plan_geometry as pg
from lyra_sim.worlds.lighting import Lighting
from lyra_sim.worlds.materials import color_rgb, floor_texture
from lyra_sim.worlds.sampling import SurfacePrimitive
from lyra_sim.worlds.spec import SurfaceSpec

SHELL_LABELS = ("floor", "wall", "ceiling")
EXTERIOR = SurfaceSpec("plaster", "white")
"""Look of the outer half of exterior walls (never seen from inside)."""
PUSH = 1e-3
"""How far off its surface (m) a sample's free-space test looks."""


@dataclass(frozen=True)
class RoomShape:
    """A room's geometry in a building.

    Attributes:
        cell: the room polygon (wall center lines).
        interior: the floor inside the walls (``cell`` inset by half the wall thickness).
        cell_rects, interior_rects: rectangle partitions of both.
        floor, walls, ceiling: resolved surface looks.
    """

    name: str
    type: str
    cell: pg.Polygon
    interior: pg.Polygon
    cell_rects: list[pg.Rect]
    interior_rects: list[pg.Rect]
    floor: SurfaceSpec
    walls: SurfaceSpec
    ceiling: SurfaceSpec

    @staticmethod
    def make(name, room_type, cell, t, floor, walls, ceiling) -> "RoomShape":
        interior = pg.inset(cell, t / 2)
        return RoomShape(name, room_type, cell, interior, pg.rects(cell), pg.rects(interior), floor, walls, ceiling)

    def interior_box(self) -> tuple[np.ndarray, np.ndarray]:
        """``(lo [2], hi [2])`` of the interior's bounding box."""
        x0, y0, x1, y1 = pg.bounds(self.interior)
        return np.array([x0, y0]), np.array([x1, y1])


@dataclass(frozen=True)
class Passage:
    """The opening a doorway cuts through a wall: ``rect`` in plan, from the floor up to ``top``."""

    rect: pg.Rect
    top: float
    closed: bool


def passage(seg: pg.Segment, center, width: float, t: float, top: float, closed: bool) -> Passage:
    c = seg.along(center)
    along, across = (c - width / 2, c + width / 2), (seg.c - t / 2, seg.c + t / 2)
    rect = (along[0], across[0], along[1], across[1]) if seg.axis == 0 else (across[0], along[0], across[1], along[1])
    return Passage(rect, top, closed)


Box = tuple[str, np.ndarray, np.ndarray, SurfaceSpec]  # label, lo [3], hi [3], look


def _minus_box(lo: np.ndarray, hi: np.ndarray, hole_lo: np.ndarray, hole_hi: np.ndarray) -> list[tuple]:
    """Axis-aligned boxes partitioning box ``lo..hi`` minus the box ``hole_lo..hole_hi``."""
    if ((np.minimum(hi, hole_hi) - np.maximum(lo, hole_lo)) <= 1e-9).any():
        return [(lo, hi)]
    out = []
    lo, hi = lo.copy(), hi.copy()
    for axis in range(3):
        if hole_lo[axis] > lo[axis] + 1e-9:
            part_hi = hi.copy()
            part_hi[axis] = hole_lo[axis]
            out.append((lo.copy(), part_hi))
            lo[axis] = hole_lo[axis]
        if hole_hi[axis] < hi[axis] - 1e-9:
            part_lo = lo.copy()
            part_lo[axis] = hole_hi[axis]
            out.append((part_lo, hi.copy()))
            hi[axis] = hole_hi[axis]
    return out


def shell_boxes(rooms: list[RoomShape], passages: list[Passage], t: float, height: float) -> list[Box]:
    """Every floor, ceiling and wall box of the building, doorways cut out."""
    boxes: list[Box] = []
    for room in rooms:
        for x0, y0, x1, y1 in room.cell_rects:
            boxes.append(("floor", np.array([x0, y0, -t]), np.array([x1, y1, 0.0]), room.floor))
        for x0, y0, x1, y1 in room.cell_rects:
            boxes.append(("ceiling", np.array([x0, y0, height]), np.array([x1, y1, height + t]), room.ceiling))
    walls: list[tuple[np.ndarray, np.ndarray, SurfaceSpec]] = []
    cells = [room.cell for room in rooms]
    for i, room in enumerate(rooms):
        for x0, y0, x1, y1 in pg.difference_rects(room.cell_rects, room.interior_rects):
            walls.append((np.array([x0, y0, 0.0]), np.array([x1, y1, height]), room.walls))
        for seg, normal in pg.exterior_segments(cells, i):  # the outer half of exterior walls
            a, b = seg.a - t / 2, seg.b + t / 2
            c0, c1 = sorted((seg.c, seg.c + normal * t / 2))
            x0, y0, x1, y1 = (a, c0, b, c1) if seg.axis == 0 else (c0, a, c1, b)
            walls.append((np.array([x0, y0, 0.0]), np.array([x1, y1, height]), EXTERIOR))
    for p in passages:
        hole_lo = np.array([p.rect[0], p.rect[1], -1.0])
        hole_hi = np.array([p.rect[2], p.rect[3], p.top])
        walls = [(a, b, look) for lo, hi, look in walls for a, b in _minus_box(lo, hi, hole_lo, hole_hi)]
    boxes += [("wall", lo, hi, look) for lo, hi, look in walls]
    return boxes


def _visible_quads(mesh: geo.QuadMesh, height: float, lo: np.ndarray, hi: np.ndarray) -> geo.QuadMesh:
    """The quads of ``mesh`` that may face the free space (floor undersides, slab tops, outer
    faces beyond the building's plan bounds ``lo, hi`` cannot)."""
    corners = mesh.vertices[mesh.quads]
    n = np.cross(corners[:, 2] - corners[:, 0], corners[:, 3] - corners[:, 1])
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    pushed = corners + PUSH * n[:, None]
    z = pushed[..., 2]
    hidden = (z <= 0).all(1) | (z >= height).all(1)
    for axis in range(2):
        hidden |= (pushed[..., axis] <= lo[axis]).all(1) | (pushed[..., axis] >= hi[axis]).all(1)
    return geo.QuadMesh(mesh.vertices, mesh.quads[~hidden])


def shell_primitives(boxes: list[Box], height: float, keys: np.random.Generator):
    """``(label, ground-truth prim, sampled prim)`` per box; the sampled one holds only the quads
    that may face a room (`_visible_quads`), the ground-truth one the whole closed box."""
    lo = np.min([b[1][:2] for b in boxes], axis=0)
    hi = np.max([b[2][:2] for b in boxes], axis=0)
    out = []
    for label, b_lo, b_hi, look in boxes:
        dims = b_hi - b_lo
        center = (b_lo + b_hi) / 2
        order = np.argsort(-dims, kind="stable")
        texture = floor_texture(look.material) if label == "floor" else look.material
        mesh = geo.box(dims).transformed(np.eye(3), center)
        prim = SurfacePrimitive(mesh, texture, color_rgb(look.color), SHELL_LABELS.index(label), np.eye(3)[order],
                                b_lo.copy(), float(keys.random()))
        out.append((label, prim, replace(prim, mesh=_visible_quads(mesh, height, lo, hi))))
    return out


def free_mask(points: np.ndarray, normals: np.ndarray, rooms: list[RoomShape], passages: list[Passage],
              height: float) -> np.ndarray:
    """``[N]`` bool: the point `PUSH` m off each sample along its normal is in a room or a doorway."""
    q = points + PUSH * normals
    inside = (q[:, 2] > 0) & (q[:, 2] < height)
    free = np.zeros(len(q), dtype=bool)
    for room in rooms:
        free |= pg.contains(room.interior_rects, q[:, :2])
    for p in passages:
        free |= pg.contains([p.rect], q[:, :2]) & (q[:, 2] < p.top)
    return free & inside


def room_index(points_xy: np.ndarray, rooms: list[RoomShape]) -> np.ndarray:
    """``[N]`` int: the room whose cell holds each point (-1: none)."""
    out = np.full(len(points_xy), -1, dtype=np.int64)
    for i, room in enumerate(rooms):
        out[(out < 0) & pg.contains(room.cell_rects, points_xy, strict=False)] = i
    return out


def _segment_distances(xy: np.ndarray, poly: pg.Polygon) -> np.ndarray:
    """``[N, E]`` distances from points to the polygon's edges."""
    a = np.array(poly)
    b = np.roll(a, -1, axis=0)
    d = b - a
    t = np.clip(np.einsum("nec,ec->ne", xy[:, None] - a[None], d) / np.einsum("ec,ec->e", d, d), 0, 1)
    nearest = a[None] + t[..., None] * d[None]
    return np.linalg.norm(xy[:, None] - nearest, axis=-1)


def bake(points: np.ndarray, normals: np.ndarray, shell: np.ndarray, room: np.ndarray, rooms: list[RoomShape],
         height: float, occupied: np.ndarray, origin: tuple[float, float], res: float,
         params: Lighting = Lighting()) -> np.ndarray:
    """Brightness ``[N]`` as `lyra_sim.worlds.lighting.bake` computes it for one box room, with each
    sample's corner darkening measured to its own room's walls (its interior polygon), floor and ceiling.

    Args:
        shell: ``[N]`` bool, the sample lies on a floor, wall or ceiling.
        room: ``[N]`` the room of each sample (`room_index`; -1 outside every room).
        occupied: ``[ny, nx]`` floor-standing object footprints (contact shadows), cell
            ``[0, 0]`` at ``origin``.
    """
    L = np.asarray(params.light_dir, dtype=np.float64)
    L = L / np.linalg.norm(L)
    light = (params.ambient + params.direct * np.clip(normals @ L, 0, None)
             + params.bounce * np.clip(-normals[:, 2], 0, None))
    second = np.full(len(points), np.inf)
    for i, r in enumerate(rooms):
        sel = np.nonzero(shell & (room == i))[0]
        if len(sel):
            d = np.concatenate([_segment_distances(points[sel, :2], r.interior),
                                np.abs(points[sel, 2:3]), np.abs(height - points[sel, 2:3])], axis=1)
            second[sel] = np.partition(d, 1, axis=1)[:, 1]
    ao = np.where(shell, 1 - params.corner_darkening * np.exp(-second / params.corner_falloff), 1.0)
    ao = ao * np.where(shell, 1.0, 0.8 + 0.2 * np.clip(points[:, 2] / 1.2, 0, 1))
    shadow = ndimage.gaussian_filter(occupied.astype(np.float64), params.contact_blur / res, mode="constant")
    ix = np.clip(((points[:, 0] - origin[0]) / res).astype(np.int64), 0, occupied.shape[1] - 1)
    iy = np.clip(((points[:, 1] - origin[1]) / res).astype(np.int64), 0, occupied.shape[0] - 1)
    on_floor = (normals[:, 2] > 0.9) & (points[:, 2] < 0.03)
    ao = ao * np.where(on_floor, 1 - params.contact_shadow * shadow[iy, ix], 1.0)
    return light * ao
