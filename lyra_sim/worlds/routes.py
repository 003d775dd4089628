"""Routes across the floor for things that walk or drive, and the floor grid checks of dynamic scenes.

A route is a closed polyline (`Route`) followed at constant speed; the mover faces along it. Routes
are planned on the occupancy grid of the laid-out room (`plan_route`): the cells a disk of the
mover's circumscribed radius can occupy without touching a wall, an object or another mover's
swept area; three far-apart seeded waypoints joined by shortest paths through that region
(`scipy.sparse.csgraph.dijkstra`, a small premium for staying away from obstacles), smoothed,
simplified and checked again. So a route mover never touches anything whatever way it faces.

`footprint_cells` rasterizes footprints as the layout does (a cell counts when its center lies in the
footprint; thin ones are widened to a cell), and `floor_connected` is the free-floor test of
`lyra_sim.worlds.layout` (a disk agent of the layout's radius reaches all free floor: one connected region).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage, sparse
from scipy.sparse import csgraph

STEP = 0.05
"""Arc-length spacing (m) at which routes are smoothed and checked."""
MAX_POINTS = 1024
"""Most waypoints of a route (`lyra_sim.worlds.motion.MAX_PATH_POINTS`)."""
HEADING_WINDOW = 0.15
"""A mover faces along the chord from this far behind to this far ahead of it on its route (m)."""


@dataclass(frozen=True)
class FloorGrid:
    """The room floor as a grid (the layout's: origin at the interior's ``(-W/2, -D/2)`` corner).

    Attributes:
        origin: world ``(x, y)`` of cell ``[0, 0]``'s lower-left corner; res: cell size (m);
        shape: ``(ny, nx)``; half: ``(W/2, D/2)``, the interior's half extents.
    """

    origin: tuple[float, float]
    res: float
    shape: tuple[int, int]
    half: tuple[float, float]

    def centers(self) -> np.ndarray:
        """``[ny, nx, 2]`` world xy of the cell centers."""
        ny, nx = self.shape
        xs = self.origin[0] + (np.arange(nx) + 0.5) * self.res
        ys = self.origin[1] + (np.arange(ny) + 0.5) * self.res
        return np.stack(np.meshgrid(xs, ys, indexing="xy"), -1)

    def wall_distance(self) -> np.ndarray:
        return (np.asarray(self.half) - np.abs(self.centers())).min(-1)

    def clearance(self, occupied: np.ndarray) -> np.ndarray:
        """Meters from each cell center to the nearest occupied cell (edge-to-center, as the layout measures)."""
        padded = np.pad(~occupied, 1, constant_values=True)  # the walls are measured separately
        return ndimage.distance_transform_edt(padded)[1:-1, 1:-1] * self.res - self.res / 2

    def cell_of(self, xy: np.ndarray) -> np.ndarray:
        """``[..., 2]`` (iy, ix) of the cells holding points ``xy [..., 2]`` (clipped to the grid)."""
        ij = np.floor((np.asarray(xy) - np.asarray(self.origin)) / self.res).astype(np.int64)
        ix = np.clip(ij[..., 0], 0, self.shape[1] - 1)
        iy = np.clip(ij[..., 1], 0, self.shape[0] - 1)
        return np.stack([iy, ix], -1)


def footprint_cells(grid: FloorGrid, rects: list[np.ndarray]) -> np.ndarray:
    """``[ny, nx]`` cells whose center lies in any rectangle ``[4, 2]`` (corners in order), as the layout
    rasterizes footprints; a rectangle thinner than a cell is widened to one (a door leaf still blocks)."""
    centers = grid.centers()
    out = np.zeros(grid.shape, dtype=bool)
    for quad in rects:
        quad = np.asarray(quad, dtype=np.float64)
        center = quad.mean(0)
        u, v = quad[1] - quad[0], quad[3] - quad[0]
        lu, lv = float(np.hypot(*u)), float(np.hypot(*v))
        u, v = u / max(lu, 1e-12), v / max(lv, 1e-12)
        hu, hv = max(lu / 2, grid.res / 2), max(lv / 2, grid.res / 2)
        reach = hu * np.abs(u) + hv * np.abs(v)
        sub = ((centers >= center - reach - 1e-9) & (centers <= center + reach + 1e-9)).all(-1)
        if not sub.any():
            continue
        rel = centers[sub] - center
        out[sub] |= (np.abs(rel @ u) <= hu) & (np.abs(rel @ v) <= hv)
    return out


def floor_connected(grid: FloorGrid, occupied: np.ndarray, radius: float) -> bool:
    """Whether the floor a disk agent of ``radius`` can stand on is one connected region (and not empty)."""
    free = (grid.clearance(occupied) >= radius) & (grid.wall_distance() >= radius)
    if not free.any():
        return False
    return ndimage.label(free)[1] == 1


# ---------------------------------------------------------------------- routes
@dataclass(frozen=True)
class Route:
    """A closed polyline route.

    Attributes:
        points: ``[P, 2]`` waypoints (the last joins back to the first; two points: back and forth).
        reverse: the mover backs up instead of turning around where the route doubles back (a cart
            pushed to and fro in a corridor); otherwise it turns to face along the route.
    """

    points: np.ndarray
    reverse: bool = False

    def __post_init__(self) -> None:
        pts = np.asarray(self.points, dtype=np.float64)
        if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 2:
            raise ValueError(f"route: expected [P >= 2, 2] points, got {list(pts.shape)}")
        object.__setattr__(self, "points", pts)
        seg = np.linalg.norm(np.roll(pts, -1, axis=0) - pts, axis=1)
        object.__setattr__(self, "_cumulative", np.concatenate([[0.0], np.cumsum(seg)]))
        if self.length < 1e-3:
            raise ValueError("route: all its points coincide (a route must go somewhere)")
        n = max(8, math.ceil(self.length / STEP))
        yaws = np.array([self._chord_heading(k * self.length / n) for k in range(n)])
        if self.reverse:  # keep facing the same way through a turn of more than a right angle
            for k in range(1, n):
                flip = yaws[k] + math.pi
                if abs(_wrap(flip - yaws[k - 1])) < abs(_wrap(yaws[k] - yaws[k - 1])):
                    yaws[k] = flip
        object.__setattr__(self, "_yaws", np.unwrap(yaws))

    @property
    def length(self) -> float:
        """Meters once around."""
        return float(self._cumulative[-1])

    def at(self, s: np.ndarray | float) -> np.ndarray:
        """``[..., 2]`` points ``s`` meters along the route (wrapping around)."""
        cum = self._cumulative
        s = np.mod(np.asarray(s, dtype=np.float64), cum[-1])
        k = np.clip(np.searchsorted(cum, s, side="right") - 1, 0, len(self.points) - 1)
        a, b = self.points[k], self.points[(k + 1) % len(self.points)]
        seg = cum[k + 1] - cum[k]
        u = np.where(seg > 0, (s - cum[k]) / np.where(seg > 0, seg, 1.0), 0.0)
        return a + (b - a) * np.asarray(u)[..., None]

    def _chord_heading(self, s: float) -> float:
        d = self.at(s + HEADING_WINDOW) - self.at(s - HEADING_WINDOW)
        if float(np.hypot(*d)) < 1e-6:  # a U-turn on the spot: face along the segment
            d = self.at(s + 1e-3) - self.at(s)
        return math.atan2(-float(d[0]), float(d[1]))

    def heading(self, s: float) -> float:
        """Yaw (radians, 0 = facing +y) of the mover ``s`` meters along (interpolated every `STEP`)."""
        n = len(self._yaws)
        x = (float(s) % self.length) / self.length * n
        k = int(x) % n
        u = x - int(x)
        a, b = self._yaws[k], self._yaws[(k + 1) % n]
        if k + 1 == n:  # across the start: the nearest turn of b
            b = a + _wrap(b - a)
        return float(a + u * (b - a))

    def dense(self, step: float = STEP) -> np.ndarray:
        """``[M, 2]`` points every ``step`` meters (for checks)."""
        n = max(8, math.ceil(self.length / step))
        return self.at(np.arange(n) * (self.length / n))


def _wrap(angle: float) -> float:
    """``angle`` in (-π, π]."""
    return math.atan2(math.sin(angle), math.cos(angle))


class NoRoute(ValueError):
    """No closed route fits the free floor."""


def _grid_graph(mask: np.ndarray, cost: np.ndarray) -> tuple[sparse.csr_matrix, np.ndarray]:
    """8-connected graph over the ``mask`` cells; edge weight = step length × the mean cell cost."""
    idx = -np.ones(mask.shape, dtype=np.int64)
    cells = np.argwhere(mask)
    idx[mask] = np.arange(len(cells))
    rows, cols, weights = [], [], []
    ny, nx = mask.shape
    for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
        y0, y1 = max(0, -dy), ny - max(0, dy)
        x0, x1 = max(0, -dx), nx - max(0, dx)
        a = idx[y0:y1, x0:x1]
        b = idx[y0 + dy:y1 + dy, x0 + dx:x1 + dx]
        ok = (a >= 0) & (b >= 0)
        ca = cost[y0:y1, x0:x1][ok]
        cb = cost[y0 + dy:y1 + dy, x0 + dx:x1 + dx][ok]
        rows.append(a[ok])
        cols.append(b[ok])
        weights.append(math.hypot(dx, dy) * 0.5 * (ca + cb))
    r, c, w = np.concatenate(rows), np.concatenate(cols), np.concatenate(weights)
    n = len(cells)
    graph = sparse.coo_matrix((np.concatenate([w, w]), (np.concatenate([r, c]), np.concatenate([c, r]))), shape=(n, n))
    return graph.tocsr(), cells


def _walk(pred: np.ndarray, start: int, goal: int) -> list[int]:
    path = [goal]
    while path[-1] != start:
        prev = pred[path[-1]]
        if prev < 0:
            raise NoRoute("route: the waypoints are not connected")
        path.append(int(prev))
    return path[::-1]


def _smooth(points: np.ndarray, window: int) -> np.ndarray:
    if window <= 1:
        return points
    kernel = np.ones(window) / window
    pad = window // 2
    wrapped = np.concatenate([points[-pad:], points, points[:pad]])
    return np.stack([np.convolve(wrapped[:, k], kernel, mode="valid") for k in range(2)], -1)


def _dp(seg: np.ndarray, tol: float) -> list[int]:
    """Douglas–Peucker: indices of ``seg`` kept (its ends always)."""
    if len(seg) < 3:
        return list(range(len(seg)))
    a, b = seg[0], seg[-1]
    ab, rel = b - a, seg - a
    norm = float(np.hypot(*ab))
    dist = np.abs(ab[0] * rel[:, 1] - ab[1] * rel[:, 0]) / norm if norm > 1e-12 else np.hypot(rel[:, 0], rel[:, 1])
    k = int(np.argmax(dist))
    if dist[k] <= tol:
        return [0, len(seg) - 1]
    return _dp(seg[:k + 1], tol)[:-1] + [k + i for i in _dp(seg[k:], tol)]


def _simplify(points: np.ndarray, tol: float) -> np.ndarray:
    """Douglas–Peucker on a closed polyline, split at its first point and the point farthest from it."""
    n = len(points)
    far = int(np.argmax(np.linalg.norm(points - points[0], axis=1)))
    closed = np.concatenate([points, points[:1]])
    keep = set(_dp(closed[:far + 1], tol)) | {far + i for i in _dp(closed[far:], tol)}
    return points[sorted(keep - {n})]


def route_clear(route: Route, grid: FloorGrid, allowed: np.ndarray) -> bool:
    """Whether every point of ``route`` (every `STEP` meters) lies in an ``allowed`` cell."""
    iy, ix = grid.cell_of(route.dense()).T
    return bool(allowed[iy, ix].all())


def passable(grid: FloorGrid, allowed: np.ndarray, occupied: np.ndarray, radius: float, agent_radius: float,
             samples: int = 400) -> np.ndarray:
    """The ``allowed`` cells where a disk of ``radius`` leaves the free floor of ``occupied`` connected.

    Tested on a lattice of at most ``samples`` cells; a cell is kept when its nearest tested cell passed.
    """
    cells = np.argwhere(allowed)
    if len(cells) == 0:
        return allowed
    stride = max(2, math.ceil(math.sqrt(len(cells) / samples)))
    centers = grid.centers()
    iy, ix = np.mgrid[0:grid.shape[0], 0:grid.shape[1]]
    tested = allowed & (iy % stride == stride // 2) & (ix % stride == stride // 2)
    bad = np.zeros(grid.shape, dtype=bool)
    for y, x in np.argwhere(tested):
        disk = np.linalg.norm(centers - centers[y, x], axis=-1) <= radius
        if not floor_connected(grid, occupied | disk, agent_radius):
            bad[y, x] = True
    if not bad.any():
        return allowed
    near = ndimage.distance_transform_edt(~bad) <= stride * 0.75
    return allowed & ~near


def plan_route(grid: FloorGrid, blocked: np.ndarray, radius: float, rng: np.random.Generator,
               start: tuple[float, float] | None = None, reverse: bool = False,
               keep: np.ndarray | None = None) -> Route:
    """A closed route for a mover of circumscribed ``radius`` (m) through the cells not ``blocked``.

    Args:
        blocked: ``[ny, nx]`` cells of objects, swept areas of other movers and routes already planned.
        start: where the route must begin (an object's given position), or None (seeded).
        reverse: see `Route.reverse`.
        keep: ``[ny, nx]`` cells the route may use at most (`passable`), or None.

    Raises:
        NoRoute: no free region fits the mover (or ``start`` is not in one).
    """
    allowed = (grid.clearance(blocked) >= radius) & (grid.wall_distance() >= radius)
    if keep is not None:
        allowed &= keep
    labels, n = ndimage.label(allowed, structure=np.ones((3, 3)))
    if n == 0:
        raise NoRoute(f"no part of the floor is {radius:.2f} m from every wall and object")
    centers = grid.centers()
    if start is not None:
        iy, ix = grid.cell_of(np.asarray(start))
        if not allowed[iy, ix]:
            raise NoRoute(f"its position ({start[0]:.2f}, {start[1]:.2f}) is closer than {radius:.2f} m to a wall or "
                          "an object")
        comp = labels == labels[iy, ix]
    else:
        sizes = ndimage.sum(allowed, labels, index=np.arange(1, n + 1))
        comp = labels == 1 + int(np.argmax(sizes))
    clear = grid.clearance(~comp)  # distance to the region's edge: stay near its middle
    cost = 1.0 + 1.0 / (1.0 + clear / max(radius, grid.res))
    graph, cells = _grid_graph(comp, cost)
    if len(cells) < 8:
        raise NoRoute(f"the free floor for it is only {len(cells) * grid.res ** 2:.2f} m²")
    xy = centers[cells[:, 0], cells[:, 1]]
    pool = rng.choice(len(cells), size=min(256, len(cells)), replace=False)
    if start is not None:
        a = int(np.argmin(np.linalg.norm(xy - np.asarray(start), axis=1)))
    else:
        a = int(pool[0])
    b = int(pool[np.argmax(np.linalg.norm(xy[pool] - xy[a], axis=1))])
    c = int(pool[np.argmax(np.minimum(np.linalg.norm(xy[pool] - xy[a], axis=1), np.linalg.norm(xy[pool] - xy[b], axis=1)))])
    _, pred = csgraph.dijkstra(graph, indices=[a, b, c], return_predecessors=True)
    loop = _walk(pred[0], a, b)[:-1] + _walk(pred[1], b, c)[:-1] + _walk(pred[2], c, a)[:-1]
    raw = xy[loop]
    if start is not None:
        raw = np.concatenate([np.asarray(start, dtype=np.float64)[None], raw[1:]])
    if len(raw) < 2:
        raise NoRoute("the free floor for it is too small for a route")
    dense = Route(raw, reverse).dense()
    for window in (9, 5, 3, 1, 0):
        smooth = _smooth(dense, window)
        if start is not None:
            smooth = np.concatenate([np.asarray(start, dtype=np.float64)[None], smooth[1:]])
        for tol in (0.01, 0.02, 0.04, 0.08) if window else (0.0,):  # 0: the grid path itself
            pts = np.round(_simplify(smooth, tol), 4) if tol else np.round(smooth, 4)
            if 2 <= len(pts) <= MAX_POINTS:
                break
        if np.ptp(pts, axis=0).max() < 1e-3:  # smoothing shrank the loop of a small region to a point
            continue
        candidate = Route(pts, reverse)
        if len(pts) <= MAX_POINTS and route_clear(candidate, grid, allowed):
            return candidate
    raise NoRoute("no route stays clear of the walls and objects")


def route_swept(grid: FloorGrid, route: Route, radius: float) -> np.ndarray:
    """``[ny, nx]`` cells within ``radius`` (plus a cell) of the route: what a mover on it may cover."""
    marks = np.zeros(grid.shape, dtype=bool)
    iy, ix = grid.cell_of(route.dense(grid.res / 2)).T
    marks[iy, ix] = True
    return ndimage.distance_transform_edt(~marks) * grid.res <= radius + grid.res


__all__ = ["FloorGrid", "NoRoute", "Route", "floor_connected", "footprint_cells", "passable", "plan_route",
           "route_clear", "route_swept"]
