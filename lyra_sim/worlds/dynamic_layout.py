"""Placing what moves, before a dynamic room is built (`lyra_sim.worlds.procedural.generate` with ``motion=True``).

- A drawer that slides asks the layout to keep its depth of travel free in front of its furniture
  (`lyra_sim.worlds.layout.Item.clearance`); a door keeps 0.9 m free anyway.
- A swing or slide whose amplitude the spec leaves open opens as far as the free floor allows:
  the default, else 85 %, 70 %... of it, the first with which an agent still reaches all free
  floor at every phase. A given amplitude is kept (and checked).
- Route followers (walk, drive) stay out of the layout: once everything else stands, each gets a
  closed route (`lyra_sim.worlds.routes.plan_route`) clear of walls, objects, the areas doors and
  drawers sweep and the routes planned before it, and starts at the route's first point. Routes
  are sought first with a berth wide enough for an agent to pass the mover anywhere, then closer
  to things (`lyra_sim.worlds.routes.passable`). A route is kept when the free floor stays
  connected with the mover at every point of it (joints fully open), and, at each of the scene's
  times, with every mover where it is then; otherwise it is planned again (seeded retries) and,
  failing all, the scene is refused with the mover named.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Callable, Sequence

import numpy as np

from lyra_sim.worlds.layout import LayoutResult, Placed
from lyra_sim.worlds.motion import Binding, MotionSpec, Mover, local_pose, rest_matrix
from lyra_sim.worlds.objects import OBJECT_KINDS
from lyra_sim.worlds.parts import MAIN, Part, box
from lyra_sim.worlds.routes import FloorGrid, NoRoute, Route, floor_connected, footprint_cells, passable, plan_route, route_swept

ROUTE_MARGIN = 0.05
"""Meters kept between a route follower's circumscribed disk and anything else."""
ROUTE_ATTEMPTS = 6
PHASES = 24
"""Samples of a cycle when sweeping a joint's footprint."""
AMPLITUDE_STEPS = (1.0, 0.85, 0.7, 0.55, 0.4, 0.25)
"""Fractions of a default amplitude tried, largest first."""


class NoRoomToMove(ValueError):
    """The motions do not fit this layout: a joint, a route or a mover's sweep would hit something or cut the free
    floor in two. Another layout of the same scene may fit them (`lyra_sim.worlds.dynamic_world.generate_dynamic`
    tries a few), unlike bad input (a motion on no object, one that would leave the room), which fails every time."""


JointAxes = Callable[[Binding], "tuple[np.ndarray, np.ndarray, list[Part]]"]


def drawer_clearance(binding: Binding) -> float:
    """Depth (m) a sliding drawer needs free in front of its furniture."""
    return binding.motion.resolved().amplitude + 0.05


def drawer_tray(parts: list[Part], joint: str, depth: float) -> Part:
    """A box ``depth`` deep behind a sliding drawer's front (its largest part): hidden in the furniture until
    the drawer slides out, so an open drawer is a drawer, not a floating front."""
    front = max((p for p in parts if p.joint == joint), key=lambda p: np.ptp(p.mesh.vertices, 0).prod())
    lo, hi = front.mesh.vertices.min(0), front.mesh.vertices.max(0)
    size = (hi[0] - lo[0] - 0.03, depth, hi[2] - lo[2] - 0.03)
    tray = box(size, ((lo[0] + hi[0]) / 2, lo[1] - depth / 2, (lo[2] + hi[2]) / 2), role=MAIN, tint=0.9)
    return replace(tray, joint=joint)


def make_mover(binding: Binding, motion: MotionSpec, placed: Placed, size, label_index: int) -> Mover:
    """The `Mover` of a bound, resolved motion of an object built at ``placed``."""
    origin = axis = None
    if binding.joint is not None:
        origin, axis = OBJECT_KINDS[binding.object_kind].joint_axis(binding.joint, size)
    return Mover(binding.label, label_index, binding.instance, binding.object_kind, binding.joint, motion,
                 rest_matrix(placed.x, placed.y, placed.z, placed.yaw), tuple(size), origin, axis)


def reverses(binding: Binding) -> bool:
    """Whether it backs up where its route doubles back (drive: carts and robots) instead of turning (walk)."""
    return binding.motion.kind == "drive"


def mover_radius(size) -> float:
    """Circumscribed radius (m) of a footprint ``(w, d, ·)``."""
    return 0.5 * math.hypot(size[0], size[1])


def joint_box(parts: list[Part], joint: str) -> tuple[np.ndarray, np.ndarray]:
    """``(lo [3], hi [3])`` local bounds of an object's parts that belong to ``joint``."""
    v = np.concatenate([p.mesh.vertices for p in parts if p.joint == joint])
    return v.min(0), v.max(0)


def joint_quads(motion: MotionSpec, placed: Placed, box, origin, axis, times) -> list[np.ndarray]:
    """World ``[4, 2]`` footprints of a swinging or sliding joint (local bounds ``box``) at ``times``."""
    lo, hi = box
    corners = np.array([[lo[0], lo[1], 0, 1], [hi[0], lo[1], 0, 1], [hi[0], hi[1], 0, 1], [lo[0], hi[1], 0, 1]])
    rest = rest_matrix(placed.x, placed.y, placed.z, placed.yaw)
    return [(corners @ (rest @ local_pose(motion, origin, axis, t)).T)[:, :2] for t in times]


def _phases(motion: MotionSpec) -> np.ndarray:
    return motion.period * np.arange(PHASES + 1) / PHASES - motion.phase


def rect(x: float, y: float, yaw: float, size) -> np.ndarray:
    """``[4, 2]`` footprint corners of ``size`` at ``(x, y)`` turned by ``yaw``."""
    c, s = math.cos(yaw), math.sin(yaw)
    local = np.array([[-size[0] / 2, -size[1] / 2], [size[0] / 2, -size[1] / 2], [size[0] / 2, size[1] / 2],
                      [-size[0] / 2, size[1] / 2]])
    return local @ np.array([[c, s], [-s, c]]) + np.array([x, y])


def plan_motions(
    bindings: list[Binding],
    sizes: dict[str, tuple[float, float, float]],
    result: LayoutResult,
    room_size: tuple[float, float, float],
    rng: np.random.Generator,
    joint_axes: JointAxes,
    starts: dict[str, tuple[float, float]],
    times: Sequence[float] = (),
) -> tuple[dict[int, MotionSpec], dict[int, tuple[float, float, float]]]:
    """Resolve every motion: amplitudes of joints, routes of route followers.

    Args:
        sizes: instance → ``(w, d, h)``; result: the layout of everything but the route followers.
        joint_axes: binding → ``(origin, axis, parts)`` of a joint mover (parts in its local frame).
        starts: instance → a position its route must start at (given in the spec).
        times: the scene's times (seconds), at which all movers together must leave the floor connected.

    Returns:
        ``(resolved, starts)``: binding position → resolved `MotionSpec` (object = its instance);
        route follower's binding position → ``(x, y, yaw)`` where it stands at rest.

    Raises:
        NoRoomToMove: a joint cuts the floor at its given amplitude, no route fits, or every route
            tried would cut the free floor in two.
        ValueError: a bounce through the ceiling, a given path that leaves the room or hits something.
    """
    W, D, _ = room_size
    free = result.free_space
    grid = FloorGrid(free.origin, free.resolution, free.occupied.shape, (W / 2, D / 2))
    placed = {p.name: p for p in result.placed}
    resolved: dict[int, MotionSpec] = {k: b.motion.resolved(object=b.instance) for k, b in enumerate(bindings)}
    extent = np.zeros(grid.shape, dtype=bool)  # joints at every phase: what the floor checks assume they cover
    for k, b in enumerate(bindings):
        if b.motion.style == "bounce":
            top = placed[b.instance].top + resolved[k].amplitude
            if top > room_size[2] - 0.01:
                raise ValueError(f"{b.instance}: bouncing {resolved[k].amplitude:.2f} m high it would leave the room "
                                 f"through the {room_size[2]:.2f} m ceiling (its top would reach {top:.2f} m)")
        if b.motion.style not in ("swing", "slide"):
            continue
        origin, axis, parts = joint_axes(b)
        box = joint_box(parts, b.joint)
        steps = AMPLITUDE_STEPS if b.motion.amplitude is None else (1.0,)
        for f in steps:
            m = resolved[k].resolved(amplitude=max(resolved[k].amplitude * f, 0.03 if b.motion.style == "slide" else 5.0))
            quads = joint_quads(m, placed[b.instance], box, origin, axis, _phases(m))
            if all(floor_connected(grid, free.occupied | extent | footprint_cells(grid, [q]), free.agent_radius)
                   for q in quads):
                resolved[k] = m
                extent |= footprint_cells(grid, quads)
                break
        else:
            raise NoRoomToMove(f"{b.instance}: its {b.joint} cannot {b.motion.kind} "
                             f"{'that far' if b.motion.amplitude is not None else 'at all'} without cutting the free "
                             "floor in two (an agent could not get past); move it or use fewer objects")
    blocked = free.occupied | extent
    planned: list[tuple[Route, float, float, tuple]] = []  # (route, s0, speed, size) of route followers so far
    rests: dict[int, tuple[float, float, float]] = {}
    for k, b in enumerate(bindings):
        if b.motion.style != "path":
            continue
        size = sizes[b.instance]
        radius = mover_radius(size)
        motion = resolved[k]
        s0 = motion.speed * motion.phase
        route, why = None, ""
        berths = [radius + ROUTE_MARGIN] if b.motion.path is not None else [
            radius + ROUTE_MARGIN + 2 * free.agent_radius + grid.res, radius + ROUTE_MARGIN]
        for close, berth in enumerate(berths):
            keep = None
            if b.motion.path is None and close:  # close to things: only where the mover leaves a way around it
                allowed = (grid.clearance(blocked) >= berth) & (grid.wall_distance() >= berth)
                keep = passable(grid, allowed, free.occupied | extent, radius, free.agent_radius)
            for _ in range(1 if b.motion.path is not None else ROUTE_ATTEMPTS * (1 + close)):
                try:
                    if b.motion.path is not None:
                        candidate = Route(np.asarray(b.motion.path), reverses(b))
                        _check_given(candidate, grid, blocked, berth, b)
                    else:
                        candidate = plan_route(grid, blocked, berth, rng, starts.get(b.instance), reverses(b), keep)
                except NoRoute as e:
                    why = str(e)
                    break
                why, at = _cuts_floor(grid, free, extent, candidate, s0, motion.speed, size, planned, times)
                if not why:
                    route = candidate
                    break
                if keep is not None and at is not None:  # learn: keep the next route away from that spot
                    keep &= np.linalg.norm(grid.centers() - np.asarray(at), axis=-1) > 0.2
            if route is not None:
                break
        if route is None:
            raise NoRoomToMove(f"{b.instance}: no route to {b.motion.kind} on that keeps the free floor connected ({why}); "
                             "use fewer objects or a larger room")
        blocked |= route_swept(grid, route, radius + ROUTE_MARGIN)
        planned.append((route, s0, motion.speed, size))
        x, y = route.at(s0)
        rests[k] = (float(x), float(y), route.heading(s0))
        resolved[k] = motion.resolved(path=tuple(map(tuple, route.points.tolist())))
    return resolved, rests


def _check_given(route: Route, grid: FloorGrid, blocked: np.ndarray, radius: float, b: Binding) -> None:
    pts = route.dense()
    half = np.asarray(grid.half)
    outside = np.abs(pts) > half - radius
    if outside.any():
        p = pts[outside.any(1)][0]
        raise ValueError(f"motions[{b.index}].path: at ({p[0]:.2f}, {p[1]:.2f}) {b.instance} would leave the room (its "
                         f"{radius:.2f} m radius must stay inside x in [{-half[0]:.2f}, {half[0]:.2f}], "
                         f"y in [{-half[1]:.2f}, {half[1]:.2f}])")
    allowed = grid.clearance(blocked) >= radius
    iy, ix = grid.cell_of(pts).T
    bad = ~allowed[iy, ix]
    if bad.any():
        p = pts[bad][0]
        raise ValueError(f"motions[{b.index}].path: at ({p[0]:.2f}, {p[1]:.2f}) {b.instance} would hit an object or "
                         "another mover's sweep")


def _cuts_floor(grid: FloorGrid, free, extent: np.ndarray, route: Route, s0: float, speed: float, size,
                planned: list, times: Sequence[float]) -> tuple[str, tuple[float, float] | None]:
    """Why a mover on ``route`` cuts the free floor in two ("" if it never does) and where: alone at every
    point of the route, or with the ``planned`` movers at each of ``times``."""
    occupied = free.occupied | extent
    step = max(2 * grid.res, route.length / 200)  # movers are >= 0.3 m: a tenth of a meter misses nothing
    for s in np.arange(0.0, route.length, step):
        x, y = route.at(s0 + s)
        if not floor_connected(grid, occupied | footprint_cells(grid, [rect(x, y, route.heading(s0 + s), size)]),
                               free.agent_radius):
            return f"with it at ({x:.2f}, {y:.2f}) the free floor falls apart", (float(x), float(y))
    if not planned:
        return "", None
    for t in times:
        quads = []
        for r, q0, v, sz in planned + [(route, s0, speed, size)]:
            x, y = r.at(q0 + v * t)
            quads.append(rect(x, y, r.heading(q0 + v * t), sz))
        if not floor_connected(grid, occupied | footprint_cells(grid, quads), free.agent_radius):
            x, y = route.at(s0 + speed * t)
            return f"at t = {t:.2f} s it and the other movers cut the free floor in two", (float(x), float(y))
    return "", None
