"""Rooms on the nav grid: the room of every floor cell, and how many rooms the geodesic path from a
cell to a goal crosses (``TaskConfig.min_rooms_crossed`` of LyraScene-v0).

The rooms come from the bundle manifest's ``floor_plan`` (a building's plan as the world model
laid it out, `lyra_sim.worlds.house.plan_summary`): each room's ``polygon`` (its cell, to the
middle of the walls) is rasterized onto the nav grid's cell centers, so the cells of a doorway
split between its two rooms at the wall's center line. The plan is metadata, not geometry: the
free floor and the paths over it come only from ``nav.npz``; the plan only says which room a free
cell is in. Cells outside every polygon get -1 and count for no room. A bundle whose frame was
moved by an alignment (manifest ``alignment``) has its plan moved by the same matrix.

**Paths.** A cell's path to a pool goal follows that goal's geodesic field (`envs.nav_fields`)
downhill: each cell steps to the neighbour (8-connected, no corner cutting: the moves of the
Dijkstra graph) with the least field value plus step length, which is a shortest path. The rooms
along every cell's path are one bitmask per cell, OR-ed up the tree of downhill steps by pointer
jumping (about log2(longest path) vectorized passes). ``rooms crossed`` = distinct rooms on the
path, start and goal rooms included, minus one: 0 within a room, 1 into the next room.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lyra_sim.worlds import plan_geometry as pg

from .nav_fields import UNREACHABLE

MAX_PLAN_ROOMS = 63
"""Rooms a plan may have here (one bit each in an int64 mask)."""
_MOVES = ((0, 1), (1, 0), (0, -1), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1))  # (dy, dx)


@dataclass(frozen=True)
class SceneRooms:
    """One scene's rooms on its (unpadded) grid.

    Attributes:
        names: room names, in plan order (the ids below index them).
        ids: ``[ny, nx]`` int16 room of every cell center, -1 outside every room.
        crossed: ``[K, ny, nx]`` uint8 rooms crossed on the geodesic path from each cell to pool goal
            ``k`` (0 where the goal cannot be reached).
    """

    names: tuple[str, ...]
    ids: np.ndarray
    crossed: np.ndarray

    @property
    def count(self) -> int:
        return len(self.names)


def plan_rooms(floor_plan: dict, alignment: dict | None = None) -> list[tuple[str, list[pg.Rect]]]:
    """``(name, rectangles)`` of every room of a manifest's ``floor_plan`` (ValueError naming a bad entry)."""
    rooms = floor_plan.get("rooms") if isinstance(floor_plan, dict) else None
    if not isinstance(rooms, list) or not rooms:
        raise ValueError("manifest floor_plan: expected a 'rooms' list of {'name', 'polygon'} entries")
    if len(rooms) > MAX_PLAN_ROOMS:
        raise ValueError(f"manifest floor_plan: {len(rooms)} rooms; at most {MAX_PLAN_ROOMS} are supported")
    matrix = None if alignment is None else np.asarray(alignment["matrix"], dtype=np.float64)
    out = []
    for i, room in enumerate(rooms):
        where = f"manifest floor_plan.rooms[{i}]"
        if not isinstance(room, dict) or not isinstance(room.get("name"), str):
            raise ValueError(f"{where}: expected a dict with a 'name' and a 'polygon'")
        poly = room.get("polygon")
        if matrix is not None and isinstance(poly, list):
            pts = np.asarray(poly, dtype=np.float64).reshape(-1, 2)
            moved = np.c_[pts, np.zeros(len(pts)), np.ones(len(pts))] @ matrix.T
            poly = moved[:, :2].tolist()
        out.append((room["name"], pg.rects(pg.check_polygon(where + ".polygon", poly))))
    return out


def room_ids(rooms: list[tuple[str, list[pg.Rect]]], origin: np.ndarray, resolution: float, shape: tuple[int, int]) -> np.ndarray:
    """``[ny, nx]`` int16: the first room of ``rooms`` whose polygon holds each cell center (edges
    included), -1 for none."""
    ny, nx = shape
    xs = origin[0] + (np.arange(nx) + 0.5) * resolution
    ys = origin[1] + (np.arange(ny) + 0.5) * resolution
    centers = np.stack(np.meshgrid(xs, ys, indexing="xy"), -1).reshape(-1, 2)
    ids = np.full(len(centers), -1, np.int16)
    for i, (_, rects) in enumerate(rooms):
        ids[(ids < 0) & pg.contains(rects, centers, strict=False)] = i
    return ids.reshape(ny, nx)


def geodesic_parents(geodesic: np.ndarray, free: np.ndarray, resolution: float) -> np.ndarray:
    """``[K, ny * nx]`` int64: every cell's next cell on its shortest path to each goal (itself at the
    goal and where the goal cannot be reached)."""
    k, ny, nx = geodesic.shape
    flat = np.arange(ny * nx).reshape(ny, nx)
    best = np.where(geodesic < UNREACHABLE, geodesic, np.inf)
    parent = np.broadcast_to(flat, (k, ny, nx)).copy()
    # A neighbour is a parent only if its field is lower: the path descends strictly, so the
    # parent pointers form a forest rooted at the goals (no cycles, even with float ties).
    lowest = np.full_like(best, np.inf)
    pad = np.pad(best, ((0, 0), (1, 1), (1, 1)), constant_values=np.inf)
    free_pad = np.pad(free, 1)
    for dy, dx in _MOVES:
        ok = free & free_pad[1 + dy : 1 + dy + ny, 1 + dx : 1 + dx + nx]
        if dx and dy:
            ok &= free_pad[1 + dy : 1 + dy + ny, 1 : 1 + nx] & free_pad[1 : 1 + ny, 1 + dx : 1 + dx + nx]
        value = pad[:, 1 + dy : 1 + dy + ny, 1 + dx : 1 + dx + nx]
        cost = np.where(ok, value + resolution * math.hypot(dx, dy), np.inf)
        take = (cost < lowest) & (value < best)
        lowest = np.where(take, cost, lowest)
        parent = np.where(take, flat + dy * nx + dx, parent)
    return parent.reshape(k, -1)


def rooms_crossed(geodesic: np.ndarray, free: np.ndarray, ids: np.ndarray, resolution: float, chunk: int = 8) -> np.ndarray:
    """``[K, ny, nx]`` uint8 rooms crossed on each cell's geodesic path to each goal (module docstring).

    Args:
        geodesic: ``[K, ny, nx]`` float fields (`UNREACHABLE` where a goal cannot be reached).
        free: ``[ny, nx]`` bool cells the agent fits (the graph the fields were computed on).
        ids: ``[ny, nx]`` room ids (-1: no room), at most `MAX_PLAN_ROOMS` rooms.
        chunk: goals per pass (bounds the memory: ~24 bytes per cell and goal).
    """
    k, ny, nx = geodesic.shape
    bits = np.where(ids >= 0, np.left_shift(np.int64(1), ids.astype(np.int64).clip(0)), 0).reshape(-1)
    out = np.zeros((k, ny * nx), np.uint8)
    for lo in range(0, k, chunk):
        parent = geodesic_parents(geodesic[lo : lo + chunk], free, resolution)
        rows = np.arange(len(parent))[:, None]
        mask = np.broadcast_to(bits, parent.shape).copy()
        # Pointer jumping: mask[c] holds the rooms from c up to (not including) parent[c]; each pass
        # doubles that stretch, until every pointer is a root (a goal or an unreachable cell).
        while True:
            mask |= mask[rows, parent]
            up = parent[rows, parent]
            if np.array_equal(up, parent):
                break
            parent = up
        count = np.bitwise_count(mask).astype(np.int16)
        reachable = geodesic[lo : lo + chunk].reshape(len(parent), -1) < UNREACHABLE
        out[lo : lo + chunk] = np.where(reachable, (count - 1).clip(0), 0).astype(np.uint8)
    return out.reshape(k, ny, nx)


def scene_rooms(floor_plan: dict | None, alignment: dict | None, geodesic: np.ndarray, free: np.ndarray,
                origin: np.ndarray, resolution: float) -> SceneRooms | None:
    """The rooms of a scene with a floor plan of more than one room (None otherwise: one room)."""
    if floor_plan is None:
        return None
    rooms = plan_rooms(floor_plan, alignment)
    if len(rooms) < 2:
        return None
    ids = room_ids(rooms, origin, resolution, free.shape)
    return SceneRooms(names=tuple(n for n, _ in rooms), ids=ids, crossed=rooms_crossed(geodesic, free, ids, resolution))
