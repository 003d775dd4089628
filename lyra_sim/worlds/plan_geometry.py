"""Rectilinear floor-plan geometry: room polygons, shared walls, insets, rectangles.

Rooms of a building are simple *rectilinear* polygons (every edge parallel to x or y; a
rectangle has 4 vertices, an L-shape 6), counter-clockwise, in meters. Walls are centered on
the polygon edges: an edge piece shared by two rooms is an interior wall between them, an
edge piece of one room only is an exterior wall. Everything here is plain Python / numpy on
tuples, so the spec (`lyra_sim.worlds.spec`) can validate plans without building anything.

An edge is ``Edge(axis, c, a, b, normal)``: ``axis`` 0 is a horizontal edge (``y = c``, ``x``
from ``a`` to ``b``), 1 a vertical one (``x = c``, ``y`` from ``a`` to ``b``), ``a < b``;
``normal`` is the sign (±1) of the outward normal along the other axis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Point = tuple[float, float]
Polygon = tuple[Point, ...]
Rect = tuple[float, float, float, float]  # x0, y0, x1, y1

TOL = 1e-6
"""Coordinates closer than this (m) are the same."""
MAX_VERTICES = 16


@dataclass(frozen=True)
class Edge:
    """An axis-aligned polygon edge (see the module docstring)."""

    axis: int
    c: float
    a: float
    b: float
    normal: int

    @property
    def length(self) -> float:
        return self.b - self.a

    def point(self, t: float) -> Point:
        """The point at ``t`` along the edge (``a <= t <= b``)."""
        return (t, self.c) if self.axis == 0 else (self.c, t)

    def normal_vector(self) -> Point:
        return (0.0, float(self.normal)) if self.axis == 0 else (float(self.normal), 0.0)


def signed_area(poly: Polygon) -> float:
    """Shoelace area, positive for counter-clockwise polygons."""
    x = np.array([p[0] for p in poly])
    y = np.array([p[1] for p in poly])
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


def area(poly: Polygon) -> float:
    return abs(signed_area(poly))


def _drop_collinear(pts: list[Point]) -> list[Point]:
    changed = True
    while changed and len(pts) > 4:
        changed = False
        for i in range(len(pts)):
            p, q, r = pts[i - 1], pts[i], pts[(i + 1) % len(pts)]
            if (abs(p[0] - q[0]) < TOL and abs(q[0] - r[0]) < TOL) or (abs(p[1] - q[1]) < TOL and abs(q[1] - r[1]) < TOL):
                del pts[i]
                changed = True
                break
    return pts


def check_polygon(where: str, poly) -> Polygon:
    """A validated rectilinear polygon: counter-clockwise from its lowest vertex (`canonical`),
    collinear vertices dropped.

    Raises:
        ValueError: not a list of ``[x, y]`` pairs, fewer than 4 or more than `MAX_VERTICES`
            vertices, an edge that is not parallel to x or y, or a self-intersection.
    """
    if not isinstance(poly, (list, tuple)) or not all(
        isinstance(p, (list, tuple)) and len(p) == 2 and all(
            isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c) for c in p) for p in poly
    ):
        raise ValueError(f"{where}: expected a list of [x, y] points in meters, got {poly!r}")
    pts = [(float(p[0]), float(p[1])) for p in poly]
    if len(pts) > 1 and abs(pts[0][0] - pts[-1][0]) < TOL and abs(pts[0][1] - pts[-1][1]) < TOL:
        pts = pts[:-1]  # a closed ring repeating its first point
    pts = _drop_collinear(pts)
    if not 4 <= len(pts) <= MAX_VERTICES:
        raise ValueError(f"{where}: a room polygon needs 4..{MAX_VERTICES} corners, got {len(pts)}")
    for i in range(len(pts)):
        p, q = pts[i], pts[(i + 1) % len(pts)]
        dx, dy = abs(q[0] - p[0]), abs(q[1] - p[1])
        if (dx < TOL) == (dy < TOL):
            raise ValueError(
                f"{where}: edge {i} from {list(p)} to {list(q)} is not parallel to x or y (rooms are rectilinear: "
                "rectangles, L-shapes, ...)" if dx >= TOL else f"{where}: corners {i} and {i + 1} coincide")
    if signed_area(pts) < 0:
        pts = pts[::-1]
    poly = canonical(tuple(pts))
    es = edges(poly)
    for i in range(len(es)):
        for j in range(i + 2, len(es)):
            if i == 0 and j == len(es) - 1:
                continue
            if _edges_touch(es[i], es[j]):
                raise ValueError(f"{where}: the polygon crosses or touches itself (edges {i} and {j})")
    return poly


def _edges_touch(e: Edge, f: Edge) -> bool:
    if e.axis == f.axis:
        return abs(e.c - f.c) < TOL and min(e.b, f.b) - max(e.a, f.a) > -TOL
    h, v = (e, f) if e.axis == 0 else (f, e)
    return h.a - TOL <= v.c <= h.b + TOL and v.a - TOL <= h.c <= v.b + TOL


def edges(poly: Polygon) -> list[Edge]:
    """The edges of a counter-clockwise rectilinear polygon, in vertex order."""
    out = []
    for i in range(len(poly)):
        (x0, y0), (x1, y1) = poly[i], poly[(i + 1) % len(poly)]
        if abs(y1 - y0) < TOL:  # horizontal; interior on the left: moving +x, the interior is +y
            out.append(Edge(0, y0, min(x0, x1), max(x0, x1), -1 if x1 > x0 else 1))
        else:
            out.append(Edge(1, x0, min(y0, y1), max(y0, y1), 1 if y1 > y0 else -1))
    return out


def bounds(poly: Polygon) -> Rect:
    xs, ys = [p[0] for p in poly], [p[1] for p in poly]
    return min(xs), min(ys), max(xs), max(ys)


def rects(poly: Polygon) -> list[Rect]:
    """A partition of the polygon into rectangles (vertical slabs, neighbours merged)."""
    xs = sorted({p[0] for p in poly})
    horizontal = [e for e in edges(poly) if e.axis == 0]
    slabs: list[tuple[float, float, list[tuple[float, float]]]] = []
    for x0, x1 in zip(xs, xs[1:]):
        xm = (x0 + x1) / 2
        ys = sorted(e.c for e in horizontal if e.a < xm < e.b)
        intervals = list(zip(ys[0::2], ys[1::2]))
        if slabs and slabs[-1][2] == intervals and abs(slabs[-1][1] - x0) < TOL:
            slabs[-1] = (slabs[-1][0], x1, intervals)
        else:
            slabs.append((x0, x1, intervals))
    return [(a, y0, b, y1) for a, b, intervals in slabs for y0, y1 in intervals]


def contains(poly_rects: list[Rect], points: np.ndarray, strict: bool = True) -> np.ndarray:
    """``[N]`` bool: which of ``points: [N, 2]`` lie in the union of ``poly_rects``."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    inside = np.zeros(len(points), dtype=bool)
    for x0, y0, x1, y1 in poly_rects:
        if strict:
            inside |= (points[:, 0] > x0) & (points[:, 0] < x1) & (points[:, 1] > y0) & (points[:, 1] < y1)
        else:
            inside |= (points[:, 0] >= x0) & (points[:, 0] <= x1) & (points[:, 1] >= y0) & (points[:, 1] <= y1)
    return inside


def inset(poly: Polygon, d: float) -> Polygon:
    """The polygon with every edge moved ``d`` meters inward (walls of thickness ``2 d`` on the edges).

    Each vertex joins a horizontal and a vertical edge, so the moved vertex takes its x from
    the moved vertical edge and its y from the moved horizontal one.
    """
    es = edges(poly)
    out = []
    for i in range(len(poly)):
        into, out_of = es[i - 1], es[i]
        h, v = (into, out_of) if into.axis == 0 else (out_of, into)
        out.append((v.c - v.normal * d, h.c - h.normal * d))
    return tuple(out)


def overlap_area(a: list[Rect], b: list[Rect]) -> float:
    total = 0.0
    for ax0, ay0, ax1, ay1 in a:
        for bx0, by0, bx1, by1 in b:
            w, h = min(ax1, bx1) - max(ax0, bx0), min(ay1, by1) - max(ay0, by0)
            if w > TOL and h > TOL:
                total += w * h
    return total


@dataclass(frozen=True)
class Segment:
    """A straight wall piece: ``axis``, line coordinate ``c``, span ``a..b`` (as `Edge`)."""

    axis: int
    c: float
    a: float
    b: float

    @property
    def length(self) -> float:
        return self.b - self.a

    def point(self, t: float) -> Point:
        return (t, self.c) if self.axis == 0 else (self.c, t)

    def along(self, p: Point) -> float:
        """Coordinate of ``p`` along the segment's line."""
        return p[0] if self.axis == 0 else p[1]

    def holds(self, p: Point, half_width: float = 0.0, tol: float = 1e-4) -> bool:
        """Whether ``p`` lies on the segment, ``half_width`` away from both its ends."""
        across = p[1] if self.axis == 0 else p[0]
        t = self.along(p)
        return abs(across - self.c) <= tol and self.a + half_width - tol <= t <= self.b - half_width + tol


def shared_segments(pa: Polygon, pb: Polygon) -> list[Segment]:
    """Where the boundaries of two non-overlapping rooms meet (their interior walls), longest first."""
    out = []
    for e in edges(pa):
        for f in edges(pb):
            if e.axis == f.axis and abs(e.c - f.c) < TOL and e.normal == -f.normal:
                a, b = max(e.a, f.a), min(e.b, f.b)
                if b - a > TOL:
                    out.append(Segment(e.axis, e.c, a, b))
    return sorted(out, key=lambda s: (-s.length, s.axis, s.c, s.a))


def exterior_segments(polys: list[Polygon], i: int) -> list[tuple[Segment, int]]:
    """Room ``i``'s edge pieces that no other room shares: ``(segment, outward normal sign)``."""
    out = []
    for e in edges(polys[i]):
        cuts = [(e.a, e.b)]
        for j, other in enumerate(polys):
            if j == i:
                continue
            for f in edges(other):
                if f.axis == e.axis and abs(f.c - e.c) < TOL and f.normal == -e.normal:
                    cuts = [piece for a, b in cuts for piece in _minus((a, b), (f.a, f.b))]
        out += [(Segment(e.axis, e.c, a, b), e.normal) for a, b in cuts if b - a > TOL]
    return out


def _minus(span: tuple[float, float], cut: tuple[float, float]) -> list[tuple[float, float]]:
    a, b = span
    c, d = cut
    if d <= a + TOL or c >= b - TOL:
        return [span]
    return [s for s in ((a, c), (d, b)) if s[1] - s[0] > TOL]


def room_graph(polys: list[Polygon], min_shared: float) -> dict[tuple[int, int], list[Segment]]:
    """Adjacent room pairs ``(i, j)``, ``i < j``, sharing wall pieces at least ``min_shared`` long."""
    out = {}
    for i in range(len(polys)):
        for j in range(i + 1, len(polys)):
            segs = [s for s in shared_segments(polys[i], polys[j]) if s.length >= min_shared - TOL]
            if segs:
                out[(i, j)] = segs
    return out


def connected(n: int, links: list[tuple[int, int]]) -> list[int]:
    """Nodes ``0..n-1`` not reachable from node 0 over ``links`` (empty: all connected)."""
    reach, todo = {0}, [0]
    adj: dict[int, list[int]] = {}
    for a, b in links:
        adj.setdefault(a, []).append(b)
        adj.setdefault(b, []).append(a)
    while todo:
        for m in adj.get(todo.pop(), []):
            if m not in reach:
                reach.add(m)
                todo.append(m)
    return [k for k in range(n) if k not in reach]


def union_polygon(parts: list[Rect]) -> Polygon:
    """The outline of a union of rectangles that forms one simple polygon (no holes)."""
    xs = sorted({v for r in parts for v in (r[0], r[2])})
    ys = sorted({v for r in parts for v in (r[1], r[3])})
    cx = [(a + b) / 2 for a, b in zip(xs, xs[1:])]
    cy = [(a + b) / 2 for a, b in zip(ys, ys[1:])]
    filled = {(i, j) for i, x in enumerate(cx) for j, y in enumerate(cy)
              if any(r[0] < x < r[2] and r[1] < y < r[3] for r in parts)}
    step = {}  # directed boundary edges, interior on the left
    for i, j in filled:
        x0, x1, y0, y1 = xs[i], xs[i + 1], ys[j], ys[j + 1]
        if (i, j - 1) not in filled:
            step[(x0, y0)] = (x1, y0)
        if (i + 1, j) not in filled:
            step[(x1, y0)] = (x1, y1)
        if (i, j + 1) not in filled:
            step[(x1, y1)] = (x0, y1)
        if (i - 1, j) not in filled:
            step[(x0, y1)] = (x0, y0)
    start = min(step)
    ring, p = [start], step[start]
    while p != start:
        ring.append(p)
        p = step[p]
    if len(ring) != len(step):
        raise ValueError("union_polygon: the rectangles do not form one simple polygon")
    return canonical(tuple(_drop_collinear(ring)))


def canonical(poly: Polygon) -> Polygon:
    """The same counter-clockwise polygon starting at its lowest-x, then lowest-y vertex."""
    k = min(range(len(poly)), key=lambda i: poly[i])
    return tuple(poly[k:]) + tuple(poly[:k])


def _intervals(parts: list[Rect], x: float) -> list[tuple[float, float]]:
    """Merged y-intervals of the rectangles that span the vertical line at ``x``."""
    spans = sorted((r[1], r[3]) for r in parts if r[0] < x < r[2])
    out: list[tuple[float, float]] = []
    for a, b in spans:
        if out and a <= out[-1][1] + TOL:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def difference_rects(a: list[Rect], b: list[Rect]) -> list[Rect]:
    """Rectangles partitioning the union of ``a`` minus the union of ``b`` (vertical slabs, merged)."""
    xs = sorted({v for r in a + b for v in (r[0], r[2])})
    slabs: list[tuple[float, float, list[tuple[float, float]]]] = []
    for x0, x1 in zip(xs, xs[1:]):
        xm = (x0 + x1) / 2
        keep = _intervals(a, xm)
        for c, d in _intervals(b, xm):
            keep = [piece for span in keep for piece in _minus(span, (c, d))]
        if slabs and slabs[-1][2] == keep and abs(slabs[-1][1] - x0) < TOL:
            slabs[-1] = (slabs[-1][0], x1, keep)
        elif keep:
            slabs.append((x0, x1, keep))
    return [(x0, y0, x1, y1) for x0, x1, spans in slabs for y0, y1 in spans]
