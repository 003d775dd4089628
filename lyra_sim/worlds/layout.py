"""Placement of objects in a room, without overlaps and with a connected free floor.

Objects are placed one at a time, greedily, in an order that puts the constrained first
(wall-mounted, then floor coverings, then furniture against walls, then tables, then what
goes around them, then free-standing things, then what rests on top). Each placement rule
(`RULES`, a registry) proposes seeded candidate poses ``(x, y, yaw)`` in preference order;
the first candidate that

1. lies inside the room (and under the ceiling),
2. overlaps no placed object or door clearance (oriented boxes in plan × height intervals),
3. keeps the free floor connected for a disk agent of radius ``agent_radius``

is taken. Check 3 uses a 2D occupancy grid, a distance transform and connected components
(scipy.ndimage). When an object finds no valid candidate the layout restarts with a fresh
seeded stream; after ``restarts`` failures a ``ValueError`` names the object.

Coordinates: room interior ``[-W/2, W/2] × [-D/2, D/2] × [0, H]``; yaw in radians about +z,
0 = the object's front faces +y.

Longer than most modules (~650 lines) for a reason: the placement rules are a registry whose
entries share the candidate, overlap and connectivity helpers here; split apart, each rule
would need the others' private geometry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from scipy import ndimage

WALL_GAP = 0.01
"""Gap (m) between furniture and the wall it stands against."""
MARGIN = 0.02
"""Minimum clearance (m) between the footprints of two objects that share a height range."""
DOOR_CLEARANCE = 0.9
"""Depth (m) in front of a door kept free (it must open and be reachable)."""

# Inward normal and yaw of each wall: 0 at y = -D/2, 1 at x = +W/2, 2 at y = +D/2, 3 at x = -W/2.
_WALL_NORMALS = np.array([[0.0, 1.0], [-1.0, 0.0], [0.0, -1.0], [1.0, 0.0]])
_WALL_YAWS = np.array([0.0, math.pi / 2, math.pi, -math.pi / 2])


@dataclass(frozen=True)
class Item:
    """An object to place.

    Attributes:
        name: instance name (``chair_0``).
        kind: object kind.
        size: ``(w, d, h)`` meters.
        rule: placement rule (a key of `RULES`).
        anchors: kinds the rule places it relative to (or on).
        position, yaw: fixed pose from the spec (then no search), or None.
        on: support instance name or kind (``on_top`` rule), or None.
        mount_height: bottom height of wall-mounted items.
        walkable: a floor covering (rug): agents walk over it, others stand on it.
        needs_support: cannot stand on the floor.
        clearance: depth (m) kept free in front of it, like a door's (a drawer that slides out);
            0 = none.
    """

    name: str
    kind: str
    size: tuple[float, float, float]
    rule: str
    anchors: tuple[str, ...] = ()
    position: tuple[float, float] | None = None
    yaw: float | None = None
    on: str | None = None
    mount_height: float = 0.0
    walkable: bool = False
    needs_support: bool = False
    clearance: float = 0.0


def front_zone(x: float, y: float, yaw: float, size, depth: float) -> np.ndarray:
    """``[4, 2]`` corners of the area ``depth`` meters deep in front of a footprint (its +y side)."""
    n = np.array([-math.sin(yaw), math.cos(yaw)])
    center = np.array([x, y]) + n * (size[1] / 2 + depth / 2)
    return _corners(*center, yaw, size[0], depth)


@dataclass(frozen=True)
class Placed:
    """A placed object: footprint center ``(x, y)``, bottom height ``z``, yaw, and what it rests on."""

    item: Item
    x: float
    y: float
    z: float
    yaw: float
    support: str | None = None

    @property
    def name(self) -> str:
        return self.item.name

    @property
    def top(self) -> float:
        return self.z + self.item.size[2]

    def corners(self) -> np.ndarray:
        """``[4, 2]`` footprint corners in world xy."""
        return _corners(self.x, self.y, self.yaw, self.item.size[0], self.item.size[1])

    def transform(self) -> tuple[np.ndarray, np.ndarray]:
        """``(R [3, 3], t [3])`` local → world."""
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]), np.array([self.x, self.y, self.z])


def _corners(x, y, yaw, w, d) -> np.ndarray:
    c, s = math.cos(yaw), math.sin(yaw)
    local = np.array([[-w / 2, -d / 2], [w / 2, -d / 2], [w / 2, d / 2], [-w / 2, d / 2]])
    return local @ np.array([[c, s], [-s, c]]) + np.array([x, y])


def rects_overlap(a: np.ndarray, b: np.ndarray, margin: float = 0.0) -> bool:
    """Whether two convex quads ``[4, 2]`` come closer than ``margin`` (separating-axis test)."""
    for poly in (a, b):
        edges = np.roll(poly, -1, axis=0) - poly
        for e in edges:
            axis = np.array([-e[1], e[0]]) / (np.hypot(*e) + 1e-12)
            pa, pb = a @ axis, b @ axis
            if pa.max() + margin <= pb.min() or pb.max() + margin <= pa.min():
                return False
    return True


@dataclass(frozen=True)
class FreeSpace:
    """Where an agent can stand: a 2D grid over the room floor.

    Attributes:
        origin: world ``(x, y)`` of the grid's lower-left corner (cell ``[0, 0]`` spans
            ``origin .. origin + resolution``).
        resolution: cell size in meters.
        occupied: ``[ny, nx]`` bool, cells whose center lies under an obstacle footprint.
        free: ``[ny, nx]`` bool, valid agent positions (one connected region): cells whose
            center is at least ``agent_radius`` from every wall and at least ``agent_radius -
            resolution`` from every obstacle footprint (footprints are rasterized by cell center,
            so a footprint's corner can reach up to about a cell past its occupied cells).
        agent_radius: meters.
    Index as ``free[iy, ix]``; cell centers are ``origin + (i + 0.5) * resolution``.
    """

    origin: tuple[float, float]
    resolution: float
    occupied: np.ndarray
    free: np.ndarray
    agent_radius: float

    def cell_centers(self) -> np.ndarray:
        """``[ny, nx, 2]`` world xy of the cell centers."""
        ny, nx = self.free.shape
        xs = self.origin[0] + (np.arange(nx) + 0.5) * self.resolution
        ys = self.origin[1] + (np.arange(ny) + 0.5) * self.resolution
        return np.stack(np.meshgrid(xs, ys, indexing="xy"), -1)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``[n, 2]`` seeded agent positions, uniform over the free cells."""
        centers = self.cell_centers()[self.free]
        if len(centers) == 0:
            raise ValueError("free space: no free cell to sample")
        return centers[rng.integers(len(centers), size=n)]

    def to_dict(self) -> dict:
        """A JSON-able summary (the grid itself goes to ``nav.npz``)."""
        return {
            "origin": list(self.origin),
            "resolution": self.resolution,
            "shape": list(self.free.shape),
            "agent_radius": self.agent_radius,
            "free_area_m2": float(self.free.sum()) * self.resolution**2,
        }


@dataclass
class _Grid:
    """Occupancy raster of the room floor, updated as objects are placed."""

    width: float
    depth: float
    res: float
    radius: float
    occ: np.ndarray = field(init=False)
    centers: np.ndarray = field(init=False)
    wall_distance: np.ndarray = field(init=False)

    def __post_init__(self):
        nx, ny = max(1, math.ceil(self.width / self.res)), max(1, math.ceil(self.depth / self.res))
        self.occ = np.zeros((ny, nx), dtype=bool)
        xs = -self.width / 2 + (np.arange(nx) + 0.5) * self.res
        ys = -self.depth / 2 + (np.arange(ny) + 0.5) * self.res
        self.centers = np.stack(np.meshgrid(xs, ys, indexing="xy"), -1)
        # exact distance to the walls (the last row/column of cells may reach past them)
        half = np.array([self.width / 2, self.depth / 2])
        self.wall_distance = (half - np.abs(self.centers)).min(-1)

    def footprint(self, p: Placed) -> np.ndarray:
        """``[ny, nx]`` bool raster of a footprint (cells whose center it covers)."""
        c, s = math.cos(p.yaw), math.sin(p.yaw)
        rel = self.centers - np.array([p.x, p.y])
        u = rel[..., 0] * c + rel[..., 1] * s
        v = -rel[..., 0] * s + rel[..., 1] * c
        w, d = p.item.size[0], p.item.size[1]
        return (np.abs(u) <= w / 2) & (np.abs(v) <= d / 2)

    def free(self, occ: np.ndarray) -> np.ndarray:
        """Cells at least the agent radius from obstacles and walls."""
        padded = np.pad(~occ, 1, constant_values=False)  # keeps the transform finite in an empty room
        dist = ndimage.distance_transform_edt(padded)[1:-1, 1:-1] * self.res - self.res / 2
        return (dist >= self.radius) & (self.wall_distance >= self.radius)

    def connected(self, occ: np.ndarray) -> bool:
        free = self.free(occ)
        if not free.any():
            return False
        _, n = ndimage.label(free)
        return n == 1


@dataclass
class _Layout:
    """The state of one layout attempt."""

    W: float
    D: float
    H: float
    grid: _Grid
    rng: np.random.Generator
    candidates: int
    placed: dict[str, Placed] = field(default_factory=dict)
    keepouts: list[tuple[np.ndarray, float, float]] = field(default_factory=list)  # (corners, z0, z1)
    blocked: list[np.ndarray] = field(default_factory=list)  # corners of areas off limits to everything

    def by_kind(self, kinds) -> list[Placed]:
        return [p for p in self.placed.values() if p.item.kind in kinds]

    def base_height(self, x, y, yaw, item: Item) -> float:
        """Bottom height on the floor: on top of a rug the footprint overlaps, else 0."""
        corners = _corners(x, y, yaw, item.size[0], item.size[1])
        z = 0.0
        for p in self.placed.values():
            if p.item.walkable and not item.walkable and rects_overlap(corners, p.corners()):
                z = max(z, p.top)
        return z

    def valid(self, cand: Placed) -> str | None:
        """Why ``cand`` cannot go there (None when it can)."""
        c = cand.corners()
        half = np.array([self.W / 2, self.D / 2]) + 1e-6
        if (np.abs(c) > half).any():
            return "outside the room"
        if cand.top > self.H - 0.02:
            return "taller than the room"
        if any(rects_overlap(c, b) for b in self.blocked):
            return "outside the room"
        for p in self.placed.values():
            if p.name == cand.support:
                continue
            if cand.z < p.top - 1e-6 and p.z < cand.top - 1e-6 and rects_overlap(c, p.corners(), MARGIN):
                return f"overlaps {p.name}"
        if not cand.item.walkable and cand.support is None:
            for corners, z0, z1 in self.keepouts:
                if cand.z < z1 and z0 < cand.top and rects_overlap(c, corners):
                    return "blocks a door"
        if cand.item.clearance > 0:
            zone = front_zone(cand.x, cand.y, cand.yaw, cand.item.size, cand.item.clearance)
            if (np.abs(zone) > half).any():
                return "no room in front of it"
            for p in self.placed.values():
                if not p.item.walkable and cand.z < p.top and p.z < cand.top and rects_overlap(zone, p.corners()):
                    return f"{p.name} stands in front of it"
        return None

    def try_place(self, cand: Placed, keep_connected: bool = True) -> str | None:
        """Place ``cand`` if valid (and, if asked, the floor stays connected); else say why not."""
        why = self.valid(cand)
        if why is not None:
            return why
        if not cand.item.walkable and cand.z < 1.5:  # rugs and things hung high do not block agents
            occ = self.grid.occ | self.grid.footprint(cand)
            if keep_connected and not self.grid.connected(occ):
                return "would cut the free floor in two"
            self.grid.occ = occ
        self.placed[cand.name] = cand
        if cand.item.kind == "door":
            n = np.array([-math.sin(cand.yaw), math.cos(cand.yaw)])
            center = np.array([cand.x, cand.y]) + n * (cand.item.size[1] / 2 + DOOR_CLEARANCE / 2)
            self.keepouts.append((_corners(*center, cand.yaw, cand.item.size[0], DOOR_CLEARANCE), 0.0, cand.top))
        if cand.item.clearance > 0:
            zone = front_zone(cand.x, cand.y, cand.yaw, cand.item.size, cand.item.clearance)
            self.keepouts.append((zone, cand.z, cand.top))
        return None


# ----------------------------------------------------------------------------- rules
# Each: (layout, item, rng) -> [K, 3] candidate poses (x, y, yaw), best first.

def _along_wall(L: _Layout, item: Item, rng, n: int, depth: float, corner_bias: float,
                centered: bool = False) -> np.ndarray:
    w = item.size[0]
    lengths = np.array([L.W, L.D, L.W, L.D])
    usable = lengths - w
    weights = np.clip(usable, 0, None)
    if weights.sum() <= 0:
        return np.zeros((0, 3))
    walls = rng.choice(4, size=n, p=weights / weights.sum())
    half = np.maximum(usable[walls], 0) / 2
    # centered: first candidates near the middle of the wall, later ones spread out
    spread = np.linspace(0.1, 1.0, n) if centered else np.ones(n)
    t = rng.uniform(-1, 1, n) * half * spread
    snap = rng.random(n) < corner_bias
    t = np.where(snap, np.sign(t) * half, t)
    normals = _WALL_NORMALS[walls]
    tangents = np.stack([-normals[:, 1], normals[:, 0]], -1)
    wall_points = -normals * (np.array([L.W, L.D]) / 2)
    xy = wall_points + tangents * t[:, None] + normals * (depth / 2 + WALL_GAP)
    return np.concatenate([xy, _WALL_YAWS[walls][:, None]], -1)


def rule_wall(L, item, rng):
    """Back against a wall, front facing the room; some candidates snapped into corners."""
    return _along_wall(L, item, rng, L.candidates, item.size[1], 0.35)


def rule_wall_center(L, item, rng):
    """Back against a wall, near its middle first (a bed, with room for nightstands on both sides)."""
    return _along_wall(L, item, rng, L.candidates, item.size[1], 0.0, centered=True)


def rule_wall_mount(L, item, rng):
    """On a wall surface (doors, windows, pictures): back on the wall, at the mount height."""
    cand = _along_wall(L, item, rng, L.candidates, item.size[1], 0.0)
    cand[:, :2] -= _WALL_NORMALS[_wall_index(cand[:, 2])] * (WALL_GAP - 1e-4)
    return cand


def _wall_index(yaws: np.ndarray) -> np.ndarray:
    return np.argmin(np.abs(np.angle(np.exp(1j * (yaws[:, None] - _WALL_YAWS[None])))), axis=1)


def rule_center(L, item, rng):
    """Near the room center, widening outward; long side along the room's long axis."""
    n = L.candidates
    spread = np.linspace(0.05, 0.5, n)[:, None] * np.array([L.W, L.D])
    xy = rng.uniform(-1, 1, (n, 2)) * spread
    yaw = np.where(rng.random(n) < 0.85, 0.0, math.pi / 2) if L.W >= L.D else np.full(n, math.pi / 2)
    return np.concatenate([xy, yaw[:, None]], -1)


def rule_rug(L, item, rng):
    """Floor coverings: around the room center (placed before furniture, which then stands on them)."""
    return rule_center(L, item, rng)


def _face(points: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Yaws that turn local +y at ``points [K, 2]`` toward ``target [K, 2]``."""
    d = target - points
    return np.arctan2(-d[:, 0], d[:, 1])


_SIDE_YAW = {"front": math.pi, "back": 0.0, "right": math.pi / 2, "left": -math.pi / 2}
"""Yaw, relative to the anchor, that faces the anchor squarely from each of its sides."""


def _slots(anchor: Placed, item: Item, sides: tuple[str, ...], gap: float) -> np.ndarray:
    """Poses along ``anchor``'s ``front``/``back``/``left``/``right`` sides, facing it squarely."""
    aw, ad = anchor.item.size[0], anchor.item.size[1]
    w, d = item.size[0], item.size[1]
    local, yaws = [], []
    for side in sides:
        along, across = (aw, ad) if side in ("front", "back") else (ad, aw)
        n = max(1, int(along // max(w + 0.15, 0.55)))
        offsets = (np.arange(n) - (n - 1) / 2) * (along / n)
        sign = 1.0 if side in ("front", "right") else -1.0
        dist = across / 2 + gap + d / 2
        for o in offsets:
            local.append((o, sign * dist) if side in ("front", "back") else (sign * dist, o))
            yaws.append(anchor.yaw + _SIDE_YAW[side])
    if not local:
        return np.zeros((0, 3))
    c, s = math.cos(anchor.yaw), math.sin(anchor.yaw)
    xy = np.array(local) @ np.array([[c, s], [-s, c]]) + np.array([anchor.x, anchor.y])
    return np.concatenate([xy, np.array(yaws)[:, None]], -1)


def _free_candidates(L, item, rng, n):
    r = 0.5 * math.hypot(item.size[0], item.size[1])
    lim = np.maximum(np.array([L.W, L.D]) / 2 - min(r, min(L.W, L.D) / 2 - 0.01), 0.0)
    xy = rng.uniform(-1, 1, (n, 2)) * lim
    yaw = rng.integers(0, 4, n) * (math.pi / 2) + rng.normal(0, 0.12, n)
    return np.concatenate([xy, yaw[:, None]], -1)


def rule_around(L, item, rng):
    """Seats: around free-standing anchors (tables), in front of wall ones (desks, counters); else free."""
    anchors = [p for k in item.anchors for p in L.by_kind((k,))]
    seated = {p.name: 0 for p in anchors}
    for p in L.placed.values():
        for a in anchors:
            if p.item.rule == "around" and math.hypot(p.x - a.x, p.y - a.y) < 1.5 * max(a.item.size[:2]):
                seated[a.name] += 1
    anchors.sort(key=lambda a: seated[a.name])  # spread seats over the anchors
    parts = []
    for a in anchors:
        if a.item.rule in ("wall", "wall_center", "aisle"):
            parts.append(_slots(a, item, ("front",), 0.12))
        else:  # alternate front and back slots, so two chairs face each other across the table
            front, back = _slots(a, item, ("front",), 0.06), _slots(a, item, ("back",), 0.06)
            parts += [np.stack([front, back], 1).reshape(-1, 3), _slots(a, item, ("left", "right"), 0.06)]
    return np.concatenate(parts + [_free_candidates(L, item, rng, L.candidates)])


def rule_front(L, item, rng):
    """In front of an anchor (a coffee table before the sofa, an armchair facing the coffee table)."""
    parts = [_slots(a, item, ("front", "right", "left"), 0.35) for k in item.anchors for a in L.by_kind((k,))]
    return np.concatenate(parts + [rule_center(L, item, rng)])


def rule_beside(L, item, rng):
    """Next to an anchor, aligned with its back (nightstands beside the bed's head)."""
    parts = []
    for k in item.anchors:
        for a in L.by_kind((k,)):
            c, s = math.cos(a.yaw), math.sin(a.yaw)
            for side in (1.0, -1.0):
                local = np.array([side * (a.item.size[0] / 2 + 0.05 + item.size[0] / 2),
                                  -a.item.size[1] / 2 + item.size[1] / 2])
                xy = np.array([[c, -s], [s, c]]) @ local + np.array([a.x, a.y])
                parts.append(np.array([[xy[0], xy[1], a.yaw]]))
    return np.concatenate(parts + [rule_wall(L, item, rng)])


def rule_corner(L, item, rng):
    """Corners first, then along walls, then anywhere (plants, lamps, bins)."""
    r = 0.5 * max(item.size[0], item.size[1]) + WALL_GAP + 0.02
    sx = np.array([-1, 1, 1, -1]) * (L.W / 2 - r)
    sy = np.array([-1, -1, 1, 1]) * (L.D / 2 - r)
    corners = np.stack([sx, sy, np.zeros(4)], -1)[rng.permutation(4)]
    corners[:, 2] = _face(corners[:, :2], np.zeros_like(corners[:, :2]))
    n = L.candidates // 2
    return np.concatenate([corners, _along_wall(L, item, rng, n, item.size[1], 0.0), _free_candidates(L, item, rng, n)])


def rule_free(L, item, rng):
    """Anywhere on the floor, roughly aligned with the room axes."""
    return _free_candidates(L, item, rng, L.candidates)


def rule_aisle(L, item, rng):
    """Rows of racks along the room's long axis, with aisles between them (warehouses)."""
    w, d = item.size[0], item.size[1]
    aisle, end_clear = 2.2, 1.6
    per_row = int((L.W - 2 * end_clear) // (w + 0.03))
    rows = int((L.D - 2.5) // (d + aisle)) + 1
    if per_row < 1 or rows < 1:
        return rule_wall(L, item, rng)
    xs = (np.arange(per_row) - (per_row - 1) / 2) * (w + 0.03)
    ys = L.D / 2 - WALL_GAP - d / 2 - np.arange(rows) * (d + aisle)
    order = np.argsort(np.abs(xs), kind="stable")
    cands = [[x, y, math.pi] for y in ys for x in xs[order]]
    return np.concatenate([np.array(cands), rule_wall(L, item, rng)])


RULES: dict[str, Callable[[_Layout, Item, np.random.Generator], np.ndarray]] = {
    "wall_mount": rule_wall_mount,
    "rug": rule_rug,
    "aisle": rule_aisle,
    "wall_center": rule_wall_center,
    "wall": rule_wall,
    "center": rule_center,
    "front": rule_front,
    "beside": rule_beside,
    "around": rule_around,
    "corner": rule_corner,
    "free": rule_free,
    "on_top": rule_free,  # fallback for optional supports with no room left: the floor
}
"""Placement rule name → candidate generator; the order is the placement order."""


# ----------------------------------------------------------------------------- supports

def _on_top_candidates(L: _Layout, item: Item, support: Placed, rng) -> np.ndarray:
    """Poses on ``support``'s top: back-center first (screens face the user), then random spots."""
    sw, sd = support.item.size[0], support.item.size[1]
    w, d = item.size[0], item.size[1]
    ax, ay = sw / 2 - w / 2 - 0.02, sd / 2 - d / 2 - 0.02
    if ax < 0 or ay < 0:
        return np.zeros((0, 3))
    local = np.concatenate([[[0.0, -ay], [ax * 0.6, -ay], [-ax * 0.6, -ay]], rng.uniform(-1, 1, (40, 2)) * [ax, ay]])
    c, s = math.cos(support.yaw), math.sin(support.yaw)
    xy = local @ np.array([[c, s], [-s, c]]) + np.array([support.x, support.y])
    return np.concatenate([xy, np.full((len(xy), 1), support.yaw)], -1)


def _supports(L: _Layout, item: Item) -> list[Placed]:
    if item.on is not None and item.on in L.placed:
        return [L.placed[item.on]]
    kinds = (item.on,) if item.on is not None else item.anchors
    found = [p for k in kinds for p in L.by_kind((k,))]
    load = {p.name: sum(q.support == p.name for q in L.placed.values()) for p in found}
    return sorted(found, key=lambda p: load[p.name])


# ----------------------------------------------------------------------------- driver

@dataclass(frozen=True)
class LayoutResult:
    """Placed objects (in placement order), support items added on the way, and the free floor."""

    placed: list[Placed]
    added: list[Item]
    free_space: FreeSpace


def _depth(item: Item, by_kind: dict[str, Item]) -> int:
    """How many anchor hops before this item (an armchair faces a coffee table that faces a sofa)."""
    depth, kinds, seen = 0, item.anchors, set()
    while True:
        chained = [by_kind[k] for k in kinds if k in by_kind and k not in seen and by_kind[k].rule in
                   ("front", "beside", "around")]
        if not chained:
            return depth
        depth += 1
        seen.update(kinds)
        kinds = tuple(a for c in chained for a in c.anchors)


def _order(items: list[Item]) -> list[Item]:
    rank = {name: i for i, name in enumerate(RULES)}
    by_kind = {}
    for it in items:
        by_kind.setdefault(it.kind, it)
    # fixed poses first, then the rest by rule, anchor depth and size, biggest first. Fixed
    # poses go in rule order too (then spec order): a rug must be down before the bed that
    # stood on it, or a resolved spec would not rebuild its scene (the bed would overlap
    # the rug instead of standing on it); on_top comes last in `RULES`, after its supports.
    keyed = [
        (False, rank[it.rule], 0, 0.0, i, it) if it.position is not None else
        (True, rank[it.rule], _depth(it, by_kind), -it.size[0] * it.size[1], i, it)
        for i, it in enumerate(items)
    ]
    return [k[-1] for k in sorted(keyed, key=lambda k: k[:-1])]


def layout(
    room_size: tuple[float, float, float],
    items: list[Item],
    rng: np.random.Generator,
    make_support: Callable[[str, str], Item],
    agent_radius: float = 0.25,
    resolution: float = 0.05,
    candidates: int = 160,
    restarts: int = 6,
    keepouts: tuple[tuple[np.ndarray, float, float], ...] = (),
    blocked: tuple[np.ndarray, ...] = (),
) -> LayoutResult:
    """Place ``items`` in a ``room_size = (W, D, H)`` room.

    Args:
        make_support: ``(kind, name) -> Item``: builds a support added on the way (a desk for
            a monitor when no desk has room).
        keepouts: ``(corners [4, 2], z0, z1)`` areas (room coordinates) where nothing but floor
            coverings may stand between heights ``z0`` and ``z1``: the floor in front of a
            building's doorways, the wall under its windows.
        blocked: ``[4, 2]`` axis-aligned areas where nothing may stand and agents cannot go:
            the part of an L-shaped room's bounding box outside it, an open door leaf.
        agent_radius: radius (m) of the disk agent that must reach all free floor.
        resolution: occupancy grid cell (m).
        candidates: poses each rule proposes per object.
        restarts: layout attempts (each with a fresh seeded stream) before giving up.

    Raises:
        ValueError: an object cannot be placed (names it), or a fixed pose is invalid.
    """
    W, D, H = room_size
    last_error = ""
    for attempt in range(restarts):
        sub = np.random.default_rng(rng.integers(2**63))
        try:
            return _attempt(W, D, H, items, sub, make_support, agent_radius, resolution, candidates, keepouts, blocked)
        except _Unplaceable as e:
            if e.fixed:
                raise ValueError(str(e)) from None
            last_error = str(e)
    raise ValueError(f"{last_error} (tried {restarts} seeded layouts; use fewer or smaller objects, or a larger room)")


class _Unplaceable(Exception):
    def __init__(self, message: str, fixed: bool = False):
        super().__init__(message)
        self.fixed = fixed


def _attempt(W, D, H, items, rng, make_support, radius, res, candidates, keepouts=(), blocked=()) -> LayoutResult:
    L = _Layout(W, D, H, _Grid(W, D, res, radius), rng, candidates)
    L.keepouts.extend(keepouts)
    for corners in blocked:
        L.blocked.append(np.asarray(corners, dtype=np.float64))
        lo, hi = L.blocked[-1].min(0), L.blocked[-1].max(0)
        L.grid.occ |= ((L.grid.centers >= lo) & (L.grid.centers <= hi)).all(-1)
    added: list[Item] = []
    queue = _order(list(items))
    fixed = [it for it in queue if it.position is not None]
    for item in fixed:
        _place_fixed(L, item)
    if fixed and not L.grid.connected(L.grid.occ):
        raise _Unplaceable("the given object positions leave the free floor disconnected (or leave none) for an "
                           f"agent of radius {radius} m", True)
    queue = queue[len(fixed):]
    helped: dict[str, Item] = {}  # item name -> the support added for it
    while queue:
        item = queue.pop(0)
        if item.rule == "on_top":
            supports = _supports(L, item)
            if _place_on(L, item, supports, rng):
                continue
            if item.name in helped:  # not even on an empty support of its own: too big for it
                s = helped[item.name]
                raise _Unplaceable(
                    f"could not place {item.name} ({item.kind}, {item.size[0]:.2f} x {item.size[1]:.2f} m) on a "
                    f"{s.kind} (top {s.size[0]:.2f} x {s.size[1]:.2f} m): it does not fit", True)
            if item.needs_support or (item.on is not None and item.on not in L.placed):
                if item.on is not None and item.on in L.placed:
                    raise _Unplaceable(f"could not place {item.name} ({item.kind}) on {item.on}: no room left on it")
                kind = item.on or item.anchors[0]
                count = sum(it.kind == kind for it in list(items) + added)
                new = make_support(kind, f"{kind}_{count}")
                added.append(new)
                helped[item.name] = new
                queue[:0] = [new, item]  # place the new support, then retry
                continue
        if not _place_search(L, item, rng):
            raise _Unplaceable(
                f"could not place {item.name} ({item.kind}, {item.size[0]:.2f} x {item.size[1]:.2f} m) in the "
                f"{W:.1f} x {D:.1f} m room without overlapping other objects or blocking the free floor"
            )
    free = L.grid.free(L.grid.occ)
    fs = FreeSpace((-W / 2, -D / 2), res, L.grid.occ.copy(), free, radius)
    return LayoutResult(list(L.placed.values()), added, fs)


def _pose(L: _Layout, item: Item, x: float, y: float, yaw: float) -> Placed:
    z = item.mount_height if item.rule == "wall_mount" else L.base_height(x, y, yaw, item)
    return Placed(item, float(x), float(y), float(z), float(yaw))


def _place_search(L: _Layout, item: Item, rng) -> bool:
    for x, y, yaw in RULES[item.rule](L, item, rng):
        if L.try_place(_pose(L, item, x, y, yaw)) is None:
            return True
    return False


def _place_on(L: _Layout, item: Item, supports: list[Placed], rng) -> bool:
    for s in supports:
        for x, y, yaw in _on_top_candidates(L, item, s, rng):
            if L.try_place(Placed(item, float(x), float(y), s.top, float(yaw), support=s.name)) is None:
                return True
    return False


def _snap_to_wall(L: _Layout, item: Item, x: float, y: float) -> tuple[float, float, float]:
    """A wall-mounted pose at ``(x, y)`` moved onto the nearest wall, facing the room."""
    k = int(np.argmin([y + L.D / 2, L.W / 2 - x, L.D / 2 - y, x + L.W / 2]))  # wall order of _WALL_NORMALS
    off = item.size[1] / 2 + 1e-4
    x = {1: L.W / 2 - off, 3: -L.W / 2 + off}.get(k, x)
    y = {0: -L.D / 2 + off, 2: L.D / 2 - off}.get(k, y)
    return float(x), float(y), float(_WALL_YAWS[k])


def _place_fixed(L: _Layout, item: Item) -> None:
    x, y = item.position
    yaw = 0.0 if item.yaw is None else item.yaw
    if item.rule == "wall_mount":  # doors and windows belong on a wall surface
        sx, sy, syaw = _snap_to_wall(L, item, x, y)
        if math.hypot(sx - x, sy - y) > 1e-6 or item.yaw is None:
            x, y, yaw = sx, sy, syaw
    if item.on is not None:
        if item.on not in L.placed:
            raise _Unplaceable(f"{item.name}: 'on' names {item.on!r}, which is not a placed object instance", True)
        s = L.placed[item.on]
        cand = Placed(item, float(x), float(y), s.top, float(yaw), support=s.name)
        c, sn = math.cos(s.yaw), math.sin(s.yaw)
        rel = (cand.corners() - [s.x, s.y]) @ np.array([[c, -sn], [sn, c]])  # into the support's frame
        if (np.abs(rel) > np.array(s.item.size[:2]) / 2 + 1e-6).any():
            raise _Unplaceable(f"{item.name}: its footprint at ({x:.2f}, {y:.2f}) is not within {item.on}'s top", True)
    else:
        cand = _pose(L, item, x, y, yaw)
    # Connectivity is checked once all fixed objects stand: a subset of them may enclose a
    # pocket that a later one fills.
    why = L.try_place(cand, keep_connected=False)
    if why is not None:
        raise _Unplaceable(f"{item.name}: the given position ({x:.2f}, {y:.2f}) is invalid: {why}", True)
