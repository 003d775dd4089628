"""The procedural world over time: a room whose movers move, as Gaussians and ground truth per time.

`generate_dynamic(condition, seed, times)` builds the room once for its motions
(`lyra_sim.worlds.procedural.generate` with ``motion=True``), then, for every time, moves each
mover's Gaussians rigidly by its pose (`lyra_sim.worlds.motion.Mover.pose`): centers, rotations and
SH colors turn together (`lyra_sim.dynamic.rigid_transform`; the procedural Gaussians are SH degree
0, which is rotation-invariant, and higher bands would be rotated). Baked light travels with the
objects (a moving object keeps its shading; contact shadows are those of the room as built, and
route followers cast none).

Ground truth per time: the rest meshes under the movers' poses (`DynamicProceduralScene.meshes_at`),
the poses themselves, and the label table (one for all times). `check_motion` verifies, at the
given times, that no mover intersects a wall, an object or another mover (oriented boxes of their
posed meshes) and that the free floor stays connected (`lyra_sim.worlds.routes.floor_connected`);
`generate_dynamic` refuses a scene that fails.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
import torch

from lyra_sim.dynamic import DynamicScene
from lyra_sim.scene import GaussianScene, quat_multiply, rotmat_to_quat
from lyra_sim.sh import rotate_sh
from lyra_sim.worlds import procedural
from lyra_sim.worlds.dynamic_layout import NoRoomToMove
from lyra_sim.worlds.layout import rects_overlap
from lyra_sim.worlds.motion import MOTION_KINDS, Mover
from lyra_sim.worlds.objects import OBJECT_KINDS
from lyra_sim.worlds.procedural import LabeledMesh, ProceduralConfig, ProceduralScene
from lyra_sim.worlds.routes import FloorGrid, floor_connected, footprint_cells

MAX_TIMES = 1024
"""Most times of one dynamic scene."""
DEFAULT_FPS = 8.0
TOUCH = 1e-3
"""Meters two boxes may share before they count as intersecting (faces that touch)."""


def frame_times(frames: int, fps: float) -> tuple[float, ...]:
    """``frames`` times ``k / fps`` seconds (validated: 1..`MAX_TIMES` frames, fps > 0)."""
    if isinstance(frames, bool) or not isinstance(frames, int) or not 1 <= frames <= MAX_TIMES:
        raise ValueError(f"frames: expected 1..{MAX_TIMES} times, got {frames!r}")
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps: expected a positive number of frames per second, got {fps!r}")
    return tuple(k / fps for k in range(frames))


@dataclass(frozen=True)
class Box:
    """An oriented box: footprint corners ``[4, 2]`` (world xy) and a height range."""

    corners: np.ndarray
    z0: float
    z1: float

    def hits(self, other: "Box") -> bool:
        return (self.z0 < other.z1 - TOUCH and other.z0 < self.z1 - TOUCH
                and rects_overlap(self.corners, other.corners, -TOUCH))


def _box_of(vertices: np.ndarray, yaw: float) -> Box:
    """The box around ``vertices [V, 3]`` in the frame turned by ``yaw`` about +z."""
    c, s = math.cos(yaw), math.sin(yaw)
    rot = np.array([[c, -s], [s, c]])
    local = vertices[:, :2] @ rot  # into the turned frame
    lo, hi = local.min(0), local.max(0)
    corners = np.array([[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]]]) @ rot.T
    return Box(corners, float(vertices[:, 2].min()), float(vertices[:, 2].max()))


def object_box(obj: dict) -> Box:
    """The layout box of a manifest object (footprint ``size`` at ``position``, turned by ``yaw_deg``)."""
    x, y, z = obj["position"]
    w, d, h = obj["size"]
    yaw = math.radians(obj["yaw_deg"])
    c, s = math.cos(yaw), math.sin(yaw)
    local = np.array([[-w / 2, -d / 2], [w / 2, -d / 2], [w / 2, d / 2], [-w / 2, d / 2]])
    return Box(local @ np.array([[c, s], [-s, c]]) + np.array([x, y]), z, z + h)


@dataclass(frozen=True)
class DynamicProceduralScene:
    """What `generate_dynamic` returns.

    Attributes:
        world: the room as built (`ProceduralScene`; its ``gaussians`` are the rest state and its
            ``movers`` what moves).
        times: seconds; fps: the rate they were sampled at.
        poses: ``[T, M, 4, 4]`` float64 world transforms of mover ``m`` at time ``t`` (rest → then).
        layout_seed: the seed the room was built from: the one asked for, or one derived from it where the
            motions found no room in its layout (`generate_dynamic`).
        furnishing: 0, or the lesser furnishing (`lyra_sim.worlds.procedural.generate`'s ``furnishing``) the
            seed's own layout was built with where no layout of the full furnishing left the motions room.
    """

    world: ProceduralScene
    times: tuple[float, ...]
    fps: float
    poses: np.ndarray
    layout_seed: int
    furnishing: int = 0

    @property
    def movers(self) -> tuple[Mover, ...]:
        return self.world.movers

    def gaussians_at(self, index: int) -> GaussianScene:
        """The Gaussians at ``times[index]``."""
        return pose_gaussians(self.world.gaussians, self.movers, self.poses[index])

    def dynamic(self) -> DynamicScene:
        """All times as a `DynamicScene`."""
        return DynamicScene(self.times, tuple(self.gaussians_at(i) for i in range(len(self.times))), self.fps)

    def meshes_at(self, index: int) -> list[LabeledMesh]:
        """Ground-truth meshes at ``times[index]``: the rest meshes, movers' under their poses."""
        meshes = list(self.world.meshes)
        for m, pose in zip(self.movers, self.poses[index]):
            mesh = meshes[m.label_index]
            meshes[m.label_index] = replace(mesh, vertices=mesh.vertices @ pose[:3, :3].T + pose[:3, 3])
        return meshes

    def records(self) -> list[dict]:
        """Per mover: its description and its pose at every time (``poses``: ``[T][4][4]``), for manifests."""
        return [{**m.record(), "poses": self.poses[:, k].tolist()} for k, m in enumerate(self.movers)]


def pose_gaussians(rest: GaussianScene, movers: Sequence[Mover], poses: np.ndarray) -> GaussianScene:
    """``rest`` with each mover's Gaussians (its label) moved by its ``[4, 4]`` pose (SH degree 0, or rotated)."""
    if not movers:
        return rest
    means, quats, sh = rest.means.clone(), rest.quats.clone(), rest.sh
    for m, pose in zip(movers, poses):
        idx = torch.nonzero(rest.labels == m.label_index).flatten()
        r = torch.as_tensor(pose[:3, :3], dtype=torch.float32, device=rest.device)
        t = torch.as_tensor(pose[:3, 3], dtype=torch.float32, device=rest.device)
        means[idx] = rest.means[idx] @ r.T + t
        q = rotmat_to_quat(r[None])[0]
        quats[idx] = quat_multiply(q.expand(len(idx), 4), torch.nn.functional.normalize(rest.quats[idx], dim=-1))
        if rest.sh_degree > 0:
            sh = sh.clone() if sh is rest.sh else sh
            sh[idx] = rotate_sh(rest.sh[idx], r)
    return replace(rest, means=means, quats=quats, sh=sh)


def mover_boxes(world: ProceduralScene, poses: np.ndarray) -> list[Box]:
    """Each mover's oriented box at one time (``poses: [M, 4, 4]``), around its posed mesh.

    The box turns with route followers and swinging doors (about +z, so it stays tight); spinning,
    sliding and bouncing parts are boxed in their object's frame.
    """
    out = []
    for m, pose in zip(world.movers, poses):
        v = world.meshes[m.label_index].vertices @ pose[:3, :3].T + pose[:3, 3]
        frame = pose @ m.rest if m.motion.style in ("path", "swing") else m.rest
        out.append(_box_of(v, math.atan2(frame[1, 0], frame[0, 0])))
    return out


def check_motion(world: ProceduralScene, times: Sequence[float], poses: np.ndarray,
                 only: Sequence[int] | None = None) -> None:
    """Raise ``ValueError`` naming the mover and the time if, at any of ``times``, a mover leaves the room, or
    `NoRoomToMove` if it intersects an object or another mover, or cuts the free floor in two.

    Args:
        poses: ``[T, M, 4, 4]`` of every mover at every time.
        only: check just these movers (the others are left out of the room altogether), or None (all).
    """
    whole = {m.instance for m in world.movers if m.joint is None}  # movers themselves, not furniture at rest
    if only is not None:
        world = replace(world, movers=tuple(world.movers[k] for k in only))
        poses = poses[:, list(only)]
    lo, hi = (np.asarray(b, dtype=np.float64) for b in world.room_bounds)
    static = [(o["name"], object_box(o)) for o in world.objects
              if not OBJECT_KINDS[o["kind"]].walkable and o["name"] not in whole]
    free = world.free_space
    grid = FloorGrid(free.origin, free.resolution, free.occupied.shape, tuple((hi[:2] - lo[:2]) / 2))
    for t, pose in zip(times, poses):
        boxes = mover_boxes(world, pose)
        for m, box in zip(world.movers, boxes):
            where = f"{m.label} ({MOTION_KINDS[m.motion.kind].name}) at t = {t:.3f} s"
            if (box.corners < lo[:2] - TOUCH).any() or (box.corners > hi[:2] + TOUCH).any() or box.z0 < lo[2] - TOUCH \
                    or box.z1 > hi[2] + TOUCH:
                raise ValueError(f"{where} would leave the room")
            for name, other in static:
                if name != m.instance and box.hits(other):
                    raise NoRoomToMove(f"{where} would intersect {name}")
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                if world.movers[i].instance != world.movers[j].instance and boxes[i].hits(boxes[j]):
                    raise NoRoomToMove(f"{world.movers[i].label} and {world.movers[j].label} would intersect at t = {t:.3f} s")
        low = [b.corners for b in boxes if b.z0 < 1.5]
        if low and not floor_connected(grid, free.occupied | footprint_cells(grid, low), free.agent_radius):
            raise NoRoomToMove(f"at t = {t:.3f} s the movers would cut the free floor in two (an agent of radius "
                             f"{free.agent_radius} m could not reach all of it)")


LAYOUTS = 4
"""Layouts `generate_dynamic` tries for a scene whose motions find no room (`NoRoomToMove`): the seed's own, then
ones from seeds derived from it (`layout_seed`)."""


def layout_seed(seed: int, attempt: int) -> int:
    """The seed of layout ``attempt`` of scene ``seed``: ``seed`` itself first, then derived ones (deterministic)."""
    if attempt == 0:
        return seed
    return int(np.random.SeedSequence(seed, spawn_key=(0x6C61, attempt)).generate_state(1)[0] >> 1)


def generate_dynamic(condition, seed: int, times: Sequence[float], *, fps: float | None = DEFAULT_FPS,
                     config: ProceduralConfig | None = None) -> DynamicProceduralScene:
    """A procedural room with its motions, at ``times`` (seconds).

    Where the motions find no room in the seed's layout (a walker with no route that leaves a way around it, a
    door that would close off half the room), the room is laid out again from derived seeds, up to `LAYOUTS` in
    all, and then, for a room furnished by default, from the seed with less and less of its usual furniture; the
    result's ``layout_seed`` and ``furnishing`` say which was built.

    Args:
        condition: a prompt or scene spec with motions (`lyra_sim.worlds.motion`).
        seed: same condition + seed + times → byte-identical Gaussians.
        times: strictly increasing seconds (`frame_times` makes them from a frame count).
        fps: the rate ``times`` were sampled at (recorded), or None.

    Raises:
        ValueError: no motions, a motion on no object of the scene or that cannot move it, a
            motion that would leave the room; `NoRoomToMove`: in none of the layouts tried do the
            motions stay clear of things and leave the free floor in one piece.
    """
    times = tuple(float(t) for t in times)
    if not times:
        raise ValueError("times: a dynamic scene needs at least one time (frames >= 1)")
    if any(b <= a for a, b in zip(times, times[1:])) or not all(math.isfinite(t) for t in times):
        raise ValueError("times: expected finite, strictly increasing seconds")
    first: NoRoomToMove | None = None
    for attempt in range(LAYOUTS):
        try:
            return _dynamic_layout(condition, layout_seed(seed, attempt), times, fps, config)
        except NoRoomToMove as exc:
            first = first or exc
    levels = procedural.furnishing_levels(condition)
    for furnishing in range(1, levels):  # a room furnished by default: less of its usual furniture
        try:
            return _dynamic_layout(condition, seed, times, fps, config, furnishing)
        except ValueError:  # any failure of a fallback (one without the object a motion moves, too): the next
            pass
    less = ", and with less of the room's usual furniture" if levels > 1 else ""
    raise NoRoomToMove(f"{first} (and in {LAYOUTS - 1} other layouts drawn from seed {seed}{less})") from first


def _dynamic_layout(condition, seed: int, times: tuple[float, ...], fps: float | None,
                    config: ProceduralConfig | None, furnishing: int = 0) -> DynamicProceduralScene:
    world = procedural.generate(condition, seed=seed, config=config, motion=True, times=times, furnishing=furnishing)
    if not world.movers:
        words = sorted({w for m in MOTION_KINDS.values() for w in m.words[:2]})
        raise ValueError("the scene has nothing that moves; a dynamic scene needs a motion (e.g. 'a person walking', "
                         f"'a rolling cart'; motion words: {', '.join(words)}), or motions in the spec")
    poses = np.stack([np.stack([m.pose(t) for m in world.movers]) for t in times])
    check_motion(world, times, poses)
    for k, m in enumerate(world.movers):  # and each joint or bounce over a whole cycle, whatever the times
        if m.motion.style != "path":
            cycle = m.motion.period * np.arange(25) / 24
            check_motion(world, cycle, np.stack([np.stack([n.pose(t) for n in world.movers]) for t in cycle]), only=[k])
    return DynamicProceduralScene(world, times, fps, poses, seed, furnishing)


__all__ = ["DEFAULT_FPS", "LAYOUTS", "DynamicProceduralScene", "NoRoomToMove", "check_motion", "frame_times",
           "generate_dynamic", "layout_seed", "mover_boxes", "object_box", "pose_gaussians"]
