"""Floor plans: a building's room program → room polygons, doorways, the entrance, windows.

The layout follows the zoning architects use (and ProcTHOR's public / private room-spec
split): rooms go into *bands* along the building's long axis (x).

- With a circulation room (`RoomKind.zone` ``circulation``: a hallway or corridor) there are
  three bands: rooms | the circulation spine | rooms, public rooms on one side and private
  ones on the other, balanced by area; every room opens onto the spine (an office floor's
  corridor with offices on both sides, a house's hallway between living and sleeping).
- Without one, two bands: public rooms | private rooms (one band for up to 3 rooms). Rooms
  open onto their neighbours along a spanning tree that prefers public rooms, so bedrooms
  and bathrooms are reached from the living spaces (a bathroom from a bedroom only when
  nothing else touches it).

Each band is cut across into rooms in proportion to their areas; a plan whose rooms come
out narrower than their type's `RoomKind.min_width` or more elongated than `MAX_ASPECT` is
drawn again (seeded, up to `ATTEMPTS` times). With a seeded chance one room then becomes an
L-shape by taking a strip of a neighbour whose whole side lies along one of its sides (the
spine gains a foyer, a living room wraps around a bedroom). Doorways (`MIN_DOORWAY`..1 m)
sit on the longest shared wall, at least `JAMB` m of wall from its corners; bedrooms,
bathrooms and offices get open door leaves at random (a leaf that would stand in front of
another opening is left out). The entrance is a door on an exterior wall of the spine (at
one of its ends) or of the living room; windows go on exterior walls, per `RoomKind.windows`.

Everything lies on a 5 cm grid (coordinates are rounded to 2 decimals), so a resolved spec
reads cleanly and regenerates exactly. Functions take and return plain tuples; the building
spec (`lyra_sim.worlds.building_spec`) checks what users edit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lyra_sim.worlds import plan_geometry as pg
from lyra_sim.worlds.rooms import ROOM_KINDS

GRID = 0.05
"""Plan coordinates are multiples of this (m)."""
JAMB = 0.15
"""Wall (m) kept between an opening and the face of the wall at the end of its segment."""
DOOR_CLEARANCE = 0.9
"""Depth (m) kept free of furniture in front of every opening (as `lyra_sim.worlds.layout`)."""
LEAF_THICKNESS = 0.04
MAX_ASPECT = 2.8
"""Longest side / shortest side of a non-circulation room."""
ATTEMPTS = 80
L_ARM = 1.0
"""Narrowest arm (m) of an L-shaped room."""
SPINE_WIDTH = {"hallway": (1.2, 1.6), "corridor": (1.8, 2.3)}
"""Width range (m) of the circulation band per type."""
LEAF_ROOMS = ("bedroom", "bathroom", "office", "meeting_room")


class _Retry(Exception):
    """This draw of the plan does not work; draw another."""


def _snap(v: float, step: float = GRID) -> float:
    return round(round(v / step) * step, 3)


def _snap_down(v: float, step: float = GRID) -> float:
    return round(math.floor(v / step + 1e-9) * step, 3)


@dataclass(frozen=True)
class Doorway:
    """A doorway between rooms ``i`` and ``j`` (the leaf of an ``open`` door swings into ``i``)."""

    i: int
    j: int
    center: tuple[float, float]
    width: float
    door: str


@dataclass(frozen=True)
class Opening:
    """An opening on an exterior wall of room ``i`` (the entrance or a window)."""

    i: int
    center: tuple[float, float]
    width: float
    height: float = 0.0
    sill: float = 0.0


# ---------------------------------------------------------------- partition
def partition(types: list[str], areas: list[float], rng: np.random.Generator) -> list[pg.Polygon]:
    """Room polygons (canonical, counter-clockwise) for rooms of ``types`` with target ``areas`` (m²).

    The footprint is a rectangle centered at the origin, long axis x.

    Raises:
        ValueError: no plan within `ATTEMPTS` draws (rooms too different in size, or too many
            narrow ones); says which constraint failed last.
    """
    last = ""
    for _ in range(ATTEMPTS):
        try:
            return _partition_once(types, areas, rng)
        except _Retry as e:
            last = str(e)
    raise ValueError(f"floor plan: found no layout for {len(types)} rooms ({', '.join(types)}) in {ATTEMPTS} "
                     f"tries; the last failed because {last}. Try other areas or fewer rooms")


def _depth_range(rooms: list[int], types: list[str], areas: list[float]) -> tuple[float, float]:
    """Band depths (m) at which every room of a band keeps its type's min width and `MAX_ASPECT`."""
    lo, hi = 0.0, math.inf
    for i in rooms:  # with a little slack for the snapping to the grid
        kind, a = ROOM_KINDS[types[i]], areas[i]
        lo = max(lo, kind.min_width + 0.05, math.sqrt(a / MAX_ASPECT) * 1.03)
        hi = min(hi, a / (kind.min_width + 0.05), math.sqrt(MAX_ASPECT * a) / 1.03)
    return lo, hi


def _bands(others: list[int], types: list[str], areas: list[float], spine: bool, rng):
    """``(band_a, band_b, length_range)``: the best seeded split of rooms into two bands.

    Every split is scored: public rooms belong to the first band and private ones to the
    second, areas should balance, more than three rooms without a spine should not stand in
    one row, and the bands should admit a common length at which each keeps its rooms' min
    widths and proportions (`_depth_range`; a split that misses gets a penalty by how far,
    and `_widths` then trades area between its rooms). Ties are broken by seeded jitter.
    """
    best = None
    n = len(others)
    for mask in range(1 << max(n - 1, 0)):  # the last room always goes to band a: halves the mirror images
        band = ([], [])
        for k, i in enumerate(others):
            band[(mask >> k) & 1 if k < n - 1 else 0].append(i)
        ranges = []
        for b in band:
            if b:
                lo, hi = _depth_range(b, types, areas)
                total = sum(areas[i] for i in b)
                ranges.append((total / max(hi, lo), total / lo))
        length = (max(r[0] for r in ranges), min(r[1] for r in ranges))
        load = [sum(areas[i] for i in b) for b in band]
        mismatch = sum(ROOM_KINDS[types[i]].zone == "private" for i in band[0])
        mismatch += sum(ROOM_KINDS[types[i]].zone != "private" for i in band[1])
        mismatch = min(mismatch, n - mismatch)  # the bands can swap sides
        score = mismatch + 2.0 * abs(load[0] - load[1]) / sum(load) + 8.0 * max(0.0, length[0] / length[1] - 1)
        score += 3.0 * (not band[1] and not spine and n > 3) + rng.uniform(0, 0.6)
        if best is None or score < best[0]:
            best = (score, band, length)
    lo, hi = best[2]
    if lo > hi:  # no common length: the geometric middle of the gap
        lo = hi = math.sqrt(lo * hi)
    return best[1][0], best[1][1], (lo, hi)


def _widths(band: list[int], types: list[str], areas: list[float], depth: float, length: float) -> list[float]:
    """Room widths along a band of ``depth`` summing to ``length``: proportional to the areas, within
    each room's min width and `MAX_ASPECT` (rooms pinned at a bound hand their share to the others)."""
    lo = [max(ROOM_KINDS[types[i]].min_width + 0.05, depth / MAX_ASPECT * 1.03) for i in band]
    hi = [depth * MAX_ASPECT / 1.03 for _ in band]
    w = [areas[i] / depth for i in band]
    for _ in range(20):
        w = [min(max(x, a), b) for x, a, b in zip(w, lo, hi)]
        excess = length - sum(w)
        free = [k for k in range(len(w)) if (excess > 0 and w[k] < hi[k]) or (excess < 0 and w[k] > lo[k])]
        if abs(excess) < 1e-6 or not free:
            break
        share = sum(w[k] for k in free)
        for k in free:
            w[k] += excess * w[k] / share
    return w


def _order(band: list[int], types: list[str], rng) -> list[int]:
    band = list(band)
    rng.shuffle(band)
    ia = [k for k, i in enumerate(band) if types[i] == "kitchen"]
    ib = [k for k, i in enumerate(band) if types[i] == "dining_room"]
    if ia and ib:  # the dining room next to the kitchen
        room = band.pop(ib[0])
        band.insert(min(ia[0] + 1, len(band)), room)
    return band


def _partition_once(types, areas, rng) -> list[pg.Polygon]:
    n = len(types)
    spine = next((i for i, t in enumerate(types) if ROOM_KINDS[t].zone == "circulation"), None)
    others = [i for i in range(n) if i != spine]
    width = _snap(rng.uniform(*SPINE_WIDTH.get(types[spine], SPINE_WIDTH["hallway"]))) if spine is not None else 0.0
    if others:
        band_a, band_b, (lo, hi) = _bands(others, types, areas, spine is not None, rng)
        loads = sum(areas[i] for i in others)
        # the length giving the footprint a seeded aspect L / D, within the bands' feasible range
        aspect = rng.uniform(1.1, 1.9)
        length = (aspect * width + math.sqrt((aspect * width) ** 2 + 4 * aspect * loads)) / 2
        length = min(max(length, lo + 0.1 * (hi - lo)), hi - 0.1 * (hi - lo))
    else:
        band_a, band_b = [], []
        length = areas[spine] / width
    length = max(_snap(length, 0.1), 1.0)
    rects: dict[int, pg.Rect] = {}
    y = 0.0
    for k, band in enumerate((band_a, band_b)):
        if k == 1 and spine is not None:
            rects[spine] = (0.0, y, length, y + width)
            y += width
        if not band:
            continue
        band = _order(band, types, rng)
        # deep enough for the widest min width, and for the band's length to fit in rooms of MAX_ASPECT
        least = max(max(ROOM_KINDS[types[i]].min_width for i in band) + 0.05, 1.03 * length / (len(band) * MAX_ASPECT))
        depth = _snap(max(sum(areas[i] for i in band) / length, least) + 0.0249)
        x = acc = 0.0
        for m, (i, w) in enumerate(zip(band, _widths(band, types, areas, depth, length))):
            acc += w
            x1 = length if m == len(band) - 1 else _snap(acc)
            rects[i] = (x, y, x1, y + depth)
            x = x1
        y += depth
    polys = {i: pg.union_polygon([r]) for i, r in rects.items()}
    if rng.random() < 0.5:
        _make_l_shape(polys, types, rng)
    for i, p in polys.items():
        _check_room(types[i], p)
    depth = max(p[1] for poly in polys.values() for p in poly)
    flip = (rng.random() < 0.5, rng.random() < 0.5)
    return [_place(polys[i], length, depth, flip) for i in range(n)]


def _check_room(room_type: str, poly: pg.Polygon) -> None:
    kind = ROOM_KINDS[room_type]
    x0, y0, x1, y1 = pg.bounds(poly)
    side = sorted((x1 - x0, y1 - y0))
    if side[0] < kind.min_width - 1e-6:
        raise _Retry(f"a {room_type} came out {side[0]:.2f} m narrow (at least {kind.min_width} m)")
    if kind.zone != "circulation" and side[1] / side[0] > MAX_ASPECT:
        raise _Retry(f"a {room_type} came out {side[1]:.2f} x {side[0]:.2f} m (sides at most {MAX_ASPECT}:1)")


def _make_l_shape(polys: dict[int, pg.Polygon], types: list[str], rng) -> None:
    """One room takes a strip of a neighbour whose whole side lies along part of one of its sides."""
    options = []
    for x in sorted(polys):
        if len(polys[x]) != 4 or ROOM_KINDS[types[x]].zone == "private":
            continue
        bx = pg.bounds(polys[x])
        for z in sorted(polys):
            if z == x or len(polys[z]) != 4 or ROOM_KINDS[types[z]].zone == "circulation" or pg.area(polys[z]) < 9.0:
                continue  # small rooms (bathrooms) keep their area
            bz = pg.bounds(polys[z])
            for seg in pg.shared_segments(polys[x], polys[z]):
                along_z = (bz[0], bz[2]) if seg.axis == 0 else (bz[1], bz[3])
                along_x = (bx[0], bx[2]) if seg.axis == 0 else (bx[1], bx[3])
                full_side = abs(seg.a - along_z[0]) < 1e-6 and abs(seg.b - along_z[1]) < 1e-6
                one_end = (abs(seg.a - along_x[0]) < 1e-6) != (abs(seg.b - along_x[1]) < 1e-6)
                if full_side and one_end and (along_x[1] - along_x[0]) - seg.length >= 1.0:
                    options.append((x, z, seg))
    for k in rng.permutation(len(options)):
        x, z, seg = options[k]
        bz = pg.bounds(polys[z])
        depth_z = (bz[3] - bz[1]) if seg.axis == 0 else (bz[2] - bz[0])
        kind_z = ROOM_KINDS[types[z]]
        most = min(depth_z - kind_z.min_width, depth_z * (1 - kind_z.min_area / pg.area(polys[z])), 0.5 * depth_z)
        if most >= L_ARM:
            strip = _snap_down(rng.uniform(L_ARM, most))
            break
    else:
        return
    zx0, zy0, zx1, zy1 = bz
    if seg.axis == 0:  # the strip runs along the shared horizontal wall
        toward_z = 1 if abs(zy0 - seg.c) < 1e-6 else -1
        band = (zx0, seg.c, zx1, seg.c + strip) if toward_z > 0 else (zx0, seg.c - strip, zx1, seg.c)
        rest = (zx0, zy0 + strip, zx1, zy1) if toward_z > 0 else (zx0, zy0, zx1, zy1 - strip)
    else:
        toward_z = 1 if abs(zx0 - seg.c) < 1e-6 else -1
        band = (seg.c, zy0, seg.c + strip, zy1) if toward_z > 0 else (seg.c - strip, zy0, seg.c, zy1)
        rest = (zx0 + strip, zy0, zx1, zy1) if toward_z > 0 else (zx0, zy0, zx1 - strip, zy1)
    polys[x] = pg.union_polygon(pg.rects(polys[x]) + [band])
    polys[z] = pg.union_polygon([rest])


def _place(poly: pg.Polygon, length: float, depth: float, flip: tuple[bool, bool]) -> pg.Polygon:
    """Centered at the origin, optionally mirrored, rounded to the grid, canonical."""
    pts = []
    for x, y in poly:
        x, y = x - _snap(length / 2), y - _snap(depth / 2)  # on the grid, within 2.5 cm of centered
        pts.append((round(-x if flip[0] else x, 2) + 0.0, round(-y if flip[1] else y, 2) + 0.0))
    if flip[0] != flip[1]:
        pts = pts[::-1]
    return pg.canonical(tuple(pts))


# ---------------------------------------------------------------- openings
def opening_geometry(seg: pg.Segment, center, width: float, into: int, t: float, depth: float = DOOR_CLEARANCE):
    """``(clearance rect, leaf rect)`` in front of an opening on ``seg``, on the side ``into`` (±1).

    The clearance is the ``width`` × ``depth`` area before the wall face; the leaf is where an
    ``open`` door stands: hinged at the opening's edge nearer a segment end, swung 90° into the room.
    """
    c = seg.along(center)
    face = seg.c + into * t / 2
    lo, hi = c - width / 2, c + width / 2
    zone = (lo, face, hi, face + into * depth)
    hinge_low = (lo - seg.a) <= (seg.b - hi)
    leaf_along = (lo - LEAF_THICKNESS, lo) if hinge_low else (hi, hi + LEAF_THICKNESS)
    leaf = (leaf_along[0], face, leaf_along[1], face + into * (width - 0.02))
    return tuple(_oriented(seg.axis, r) for r in (zone, leaf))


def _oriented(axis: int, r) -> pg.Rect:
    """``(along0, across0, along1, across1)`` → a world rect ``(x0, y0, x1, y1)``."""
    a0, c0, a1, c1 = r
    a0, a1 = sorted((a0, a1))
    c0, c1 = sorted((c0, c1))
    return (a0, c0, a1, c1) if axis == 0 else (c0, a0, c1, a1)


def doorway_side(polys: list[pg.Polygon], i: int, j: int, center, width: float) -> tuple[pg.Segment, int]:
    """The shared wall segment of rooms ``i``, ``j`` holding ``center``, and the sign toward room ``i``."""
    seg = next(s for s in pg.shared_segments(polys[i], polys[j]) if s.holds(center, width / 2))
    probe = seg.point(seg.along(center))
    into = 1 if pg.contains(pg.rects(polys[i]), np.array([_offset(seg, probe, 0.01)]))[0] else -1
    return seg, into


def exterior_side(polys: list[pg.Polygon], i: int, center, width: float) -> tuple[pg.Segment, int]:
    """Room ``i``'s exterior wall segment holding ``center``, and the sign toward the room."""
    seg, normal = next((s, n) for s, n in pg.exterior_segments(polys, i) if s.holds(center, width / 2))
    return seg, -normal


def _offset(seg: pg.Segment, p, d: float):
    return (p[0], p[1] + d) if seg.axis == 0 else (p[0] + d, p[1])


def _place_on(seg: pg.Segment, width: float, margin: float, rng, near_end: float = 0.6):
    """A seeded center on ``seg`` for an opening of ``width`` with ``margin`` of wall at both ends."""
    lo, hi = seg.a + margin + width / 2, seg.b - margin - width / 2
    if hi < lo - 1e-9:
        return None
    if rng.random() < near_end:
        slack = min(0.4, max(hi - lo, 0.0))
        t = lo + rng.uniform(0, slack) if rng.random() < 0.5 else hi - rng.uniform(0, slack)
    else:
        t = rng.uniform(lo, max(hi, lo))
    step = GRID / 2
    t = min(max(_snap(t, step), round(math.ceil(lo / step - 1e-9) * step, 3)), _snap_down(hi, step))
    return seg.point(t) if lo - 1e-9 <= t <= hi + 1e-9 else None


def connect(polys: list[pg.Polygon], types: list[str], rng, t: float) -> list[Doorway]:
    """Doorways joining every room (see the module docstring).

    Raises:
        ValueError: the rooms do not touch along enough wall to connect them all.
    """
    margin = JAMB + t / 2
    graph = pg.room_graph(polys, 0.8 + 2 * margin)
    zone = [ROOM_KINDS[x].zone for x in types]

    def weight(i, j):
        zs = {zone[i], zone[j]}
        if "circulation" in zs:
            return 1.0
        if zs == {"public"}:
            return 2.0
        if zs == {"public", "private"}:
            return 2.5
        return 4.0 if {types[i], types[j]} == {"bathroom", "bedroom"} else 6.0

    order = sorted(graph, key=lambda e: (weight(*e) + rng.uniform(0, 0.5), e))
    parent = list(range(len(polys)))

    def root(k):
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    chosen = []
    for i, j in order:
        if root(i) != root(j):
            parent[root(i)] = root(j)
            chosen.append((i, j))
    cut_off = pg.connected(len(polys), chosen)
    if cut_off:
        raise ValueError(f"floor plan: {', '.join(types[k] for k in cut_off)} shares no wall of at least "
                         f"{0.8 + 2 * margin:.2f} m with the rest, so no doorway can reach it")
    for i, j in graph:  # open-plan extras between public rooms
        if (i, j) not in chosen and zone[i] == zone[j] == "public":
            p = 0.8 if {types[i], types[j]} == {"kitchen", "dining_room"} else 0.3
            if rng.random() < p:
                chosen.append((i, j))
    out = []
    for i, j in chosen:
        if zone[j] == "private" and zone[i] != "private":
            i, j = j, i  # the leaf swings into the private room
        seg = graph[(min(i, j), max(i, j))][0]
        width = _snap_down(min(rng.uniform(0.8, 1.0), seg.length - 2 * margin))
        center = _place_on(seg, width, margin, rng)
        leaf = types[i] in LEAF_ROOMS and rng.random() < 0.5
        out.append(Doorway(i, j, center, width, "open" if leaf else "none"))
    return out


def entrance(polys: list[pg.Polygon], types: list[str], rng, t: float) -> Opening:
    """The front door: on the spine's end wall, else the living room's (or a public room's) longest exterior wall."""
    margin = JAMB + t / 2
    zone = [ROOM_KINDS[x].zone for x in types]
    ranked = sorted(range(len(polys)), key=lambda i: (
        0 if zone[i] == "circulation" else 1 if types[i] == "living_room" else 2 if zone[i] == "public" else 3, i))
    for i in ranked:
        segs = [s for s, _ in pg.exterior_segments(polys, i) if s.length >= 0.8 + 2 * margin - 1e-9]
        if zone[i] == "circulation":
            segs.sort(key=lambda s: (s.axis == 0, -s.length))  # the spine's ends are its vertical walls
        else:
            segs.sort(key=lambda s: -s.length)
        for seg in segs:
            width = _snap_down(min(rng.uniform(0.9, 1.0), seg.length - 2 * margin))
            center = _place_on(seg, width, margin, rng, near_end=0.0 if zone[i] == "circulation" else 0.5)
            if center is not None:
                return Opening(i, center, width)
    raise ValueError("floor plan: no exterior wall is long enough for the entrance")


def windows(polys: list[pg.Polygon], types: list[str], front: Opening, rng, t: float, top: float) -> list[Opening]:
    """Windows on exterior walls (``top``: the highest a window may reach, m), clear of the entrance."""
    margin = 0.3 + t / 2
    taken: list[tuple[pg.Segment, float, float]] = []
    seg0, _ = exterior_side(polys, front.i, front.center, front.width)
    taken.append((seg0, seg0.along(front.center) - front.width / 2 - 0.3, seg0.along(front.center) + front.width / 2 + 0.3))
    out = []
    for i, room_type in enumerate(types):
        lo, hi = ROOM_KINDS[room_type].windows
        count = int(rng.integers(lo, hi + 1))
        segs = sorted((s for s, _ in pg.exterior_segments(polys, i)), key=lambda s: (-s.length, s.axis, s.c, s.a))
        for k in range(min(count, len(segs))):
            seg = segs[k]
            small = room_type == "bathroom"
            width = 0.6 if small else _snap_down(min(rng.uniform(0.9, 1.5), seg.length - 2 * margin))
            height, sill = (0.6, min(1.4, top - 0.6)) if small else (1.2, min(0.9, top - 1.2))
            if width < 0.6:
                continue
            for _ in range(6):
                center = _place_on(seg, width, margin, rng, near_end=0.0)
                if center is None:
                    break
                c = seg.along(center)
                if all(not (o.axis == seg.axis and abs(o.c - seg.c) < 1e-6 and c - width / 2 < b and a < c + width / 2)
                       for o, a, b in taken):
                    taken.append((seg, c - width / 2 - 0.2, c + width / 2 + 0.2))
                    out.append(Opening(i, center, width, height, sill))
                    break
    return out


def settle_leaves(polys: list[pg.Polygon], doorways: list[Doorway], front: Opening, t: float) -> list[Doorway]:
    """Open leaves that would stand in another opening's clearance become ``none``."""
    zones = []
    for d in doorways:
        seg, into = doorway_side(polys, d.i, d.j, d.center, d.width)
        zones += [opening_geometry(seg, d.center, d.width, s, t)[0] for s in (into, -into)]
    seg, into = exterior_side(polys, front.i, front.center, front.width)
    zones.append(opening_geometry(seg, front.center, front.width, into, t)[0])
    out = []
    for d in doorways:
        if d.door == "open":
            seg, into = doorway_side(polys, d.i, d.j, d.center, d.width)
            own, leaf = opening_geometry(seg, d.center, d.width, into, t)
            if any(z != own and pg.overlap_area([z], [leaf]) > 0 for z in zones):
                d = Doorway(d.i, d.j, d.center, d.width, "none")
        out.append(d)
    return out
