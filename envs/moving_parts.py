"""The moving parts of dynamic scenes in an environment: poses at any time, and footprints to collide with.

A dynamic bundle (`lyra_sim.exporters.dynamic_bundle`) holds, per moving part, its Gaussians and
collision mesh in its own frame and its motion (`lyra_sim.exporters.motion_track.MotionTrack`).
`MovingParts` stacks every scene's parts on one device and answers, batched over agents:

- **poses** at each agent's own time (looped as the track says, position interpolated linearly,
  orientation by slerp: what the bundle's ``motion.json`` defines), for rendering and collisions;
- **clearance**: meters from an agent's center to the nearest part, less the part's safety margin.

**Footprints.** The agent is a vertical cylinder over the floor; a part blocks it where the part's
solid crosses the agent's height band (``floor + step_height`` to ``floor + height``, as the static
grid). A part whose rotations all keep the vertical (a cart, a door, a drawer, a turntable: *planar*)
has one footprint in its own frame: the band's slice of its collision mesh, for every height it
takes, projected to the floor, enclosed holes filled. Any other part (a fan's rotor, a rolling ball)
gets the union of its slices over one whole loop, in a frame that only translates with it. Each
footprint is rasterized at `FOOTPRINT_RESOLUTION` and turned into a distance field (meters from
each cell center to the nearest covered one), read bilinearly in the footprint's frame at the
agent's time.

**Safety margin.** As for the static grid (`envs.nav_fields`): a field value within
``resolution / √2`` of the distance to the nearest covered cell center, and every point of the
part within ``resolution / √2 + δ`` of one, where δ bounds how far a point of the mesh lies from
the sampled points (edges subdivided to the resolution: ``δ = resolution / √3``), and, for a union
over a loop, how far a point moves between the sampled times. A field value of at least
``radius + margin`` keeps the body ``radius`` from the part.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage
from torch import Tensor

from lyra_sim.config import check_number
from lyra_sim.exporters.motion_track import MotionTrack, read_motion
from lyra_sim.ply import read_ply
from lyra_sim.render.rasterizer import triton_available
from lyra_sim.scene import GaussianScene

FOOTPRINT_RESOLUTION = 0.02
"""Cell edge of the parts' footprint fields, meters."""
FOOTPRINT_PAD = 0.8
"""Meters of free cells around every footprint: past the field's edge, a part is at least this far."""
OVERSAMPLE = 4
"""Times per motion sample at which a non-planar part's footprint union is taken."""
PLANAR_TOLERANCE = 1e-4
"""A part is planar when the vertical turns by less than this (radians, as 1 - cos) in every pose."""


@dataclass(frozen=True)
class DynamicConfig:
    """How a prompt's dynamic scene is generated (``gym.make(..., dynamic={"frames": ..., "fps": ...})``).

    Attributes:
        frames: times of the scene (its motions' samples); fps: their rate. The default 32 at
            8 fps is 4 s: a fan's two turns or a door's whole swing, which loop seamlessly; other
            motions play forward and back.
    """

    frames: int = 32
    fps: float = 8.0

    def __post_init__(self) -> None:
        if isinstance(self.frames, bool) or not isinstance(self.frames, int) or not 2 <= self.frames <= 1024:
            raise ValueError(f"dynamic frames: expected 2..1024 times, got {self.frames!r}")
        check_number("dynamic fps", self.fps, 0.1, 240.0)


@dataclass(frozen=True)
class PartData:
    """One moving part as read from a bundle (host side)."""

    name: str
    track: MotionTrack
    gaussians: GaussianScene  # part frame
    vertices: np.ndarray  # collision mesh, part frame
    faces: np.ndarray

    @property
    def folder_name(self) -> str:
        """Its folder under the bundle's ``parts/``."""
        from lyra_sim.exporters.mesh_tools import safe_name

        return safe_name(self.name)


def read_parts(bundle: Path) -> list[PartData]:
    """The moving parts of a dynamic bundle (its ``motion.json`` and the files it names)."""
    import trimesh

    motion = read_motion(bundle)
    out = []
    for track, entry in zip(motion.tracks, motion.parts):
        mesh = trimesh.load(bundle / entry["files"]["collision"], process=False, force="mesh")
        out.append(PartData(entry["name"], track, read_ply(bundle / entry["files"]["splats"]),
                            np.asarray(mesh.vertices, np.float64), np.asarray(mesh.faces, np.int64)))
    return out


def is_planar(poses: np.ndarray) -> bool:
    """Whether every pose ``[T, 4, 4]`` keeps the vertical (turns about z only)."""
    return bool((1 - poses[:, 2, 2]).max() <= PLANAR_TOLERANCE)


def _loop_times(track: MotionTrack, oversample: int) -> np.ndarray:
    times = track.cycle()[0]
    f = np.arange(oversample) / oversample
    return np.concatenate([(times[:-1, None] + f * np.diff(times)[:, None]).ravel(), times[-1:]])


@dataclass(frozen=True)
class Footprint:
    """A part's footprint field (see the module docstring): ``clearance [h, w]`` float32, ``origin [2]``, planar, margin."""

    clearance: np.ndarray
    origin: np.ndarray
    planar: bool
    margin: float


def footprint(part: PartData, z0: float, z1: float, resolution: float = FOOTPRINT_RESOLUTION) -> Footprint | None:
    """The footprint of ``part`` in the world height band ``[z0, z1]``, or None when it never reaches the band."""
    import trimesh

    v, _ = trimesh.remesh.subdivide_to_size(part.vertices, part.faces, resolution)
    delta = resolution / math.sqrt(3)
    poses = part.track.pose_at(_loop_times(part.track, OVERSAMPLE))
    planar = is_planar(poses)
    lift = poses[:, 2, 3]
    if planar:
        # One slice, at every height the part takes (its height moves continuously between these).
        grow = delta + (np.abs(np.diff(lift)).max() if len(lift) > 1 else 0.0)
        keep = (v[:, 2] + lift.min() <= z1 + grow) & (v[:, 2] + lift.max() >= z0 - grow)
        slices, moves = [v[keep, :2]], 0.0
    else:
        turned = [v @ pose[:3, :3].T for pose in poses]
        moves = max(float(np.abs(b - a).max()) for a, b in zip(turned, turned[1:])) if len(turned) > 1 else 0.0
        grow = delta + moves + (np.abs(np.diff(lift)).max() if len(lift) > 1 else 0.0)
        slices = [q[(q[:, 2] + z >= z0 - grow) & (q[:, 2] + z <= z1 + grow), :2] for q, z in zip(turned, lift)]
    xy = np.concatenate(slices)
    if not len(xy):
        return None
    lo = xy.min(0) - FOOTPRINT_PAD
    shape = np.ceil((xy.max(0) + FOOTPRINT_PAD - lo) / resolution).astype(int) + 1
    cells = np.floor((xy - lo) / resolution).astype(np.int64)
    covered = np.zeros((shape[1], shape[0]), dtype=bool)  # rows y, columns x, as the nav grids
    covered[cells[:, 1], cells[:, 0]] = True
    covered = ndimage.binary_fill_holes(covered)
    clearance = (ndimage.distance_transform_edt(~covered) * resolution).astype(np.float32)
    return Footprint(clearance, lo, planar, math.sqrt(2) * resolution + delta + moves)


def _slerp(q0: Tensor, q1: Tensor, f: Tensor) -> Tensor:
    dot = (q0 * q1).sum(-1, keepdim=True)
    q1 = torch.where(dot < 0, -q1, q1)
    dot = dot.abs().clamp(max=1.0)
    theta = torch.acos(dot)
    sin = torch.sin(theta)
    small = sin < 1e-6
    f = f[..., None]
    a = torch.where(small, 1 - f, torch.sin((1 - f) * theta) / torch.where(small, 1.0, sin))
    b = torch.where(small, f, torch.sin(f * theta) / torch.where(small, 1.0, sin))
    return torch.nn.functional.normalize(a * q0 + b * q1, dim=-1)


def _rotation(q: Tensor) -> Tensor:
    w, x, y, z = q.unbind(-1)
    return torch.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
                        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
                        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1).reshape(q.shape[:-1] + (3, 3))


class MovingParts:
    """Every scene's moving parts stacked on one device (see the module docstring).

    Args:
        parts: per scene, its parts (`read_parts`; empty for a static scene).
        bands: per scene, the agent's world height band ``(z0, z1)``.
        radius: the agent's radius (m).

    Attributes:
        scene_parts: ``[S, K]`` global part index of each scene's k-th part (-1: none); K >= 1.
        count: number of parts P; names: their names; required: ``[P]`` clearance the body needs.
        period: ``[S]`` seconds of the scene's longest loop (0 for a static scene).
        max_speed: fastest any point of any part moves, m/s (the task's sub-steps follow it).
    """

    def __init__(self, parts: list[list[PartData]], bands: list[tuple[float, float]], radius: float,
                 device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        flat = [p for scene in parts for p in scene]
        self.count = len(flat)
        self.names = [p.name for p in flat]
        k = max([1] + [len(s) for s in parts])
        scene_parts = np.full((len(parts), k), -1, dtype=np.int64)
        footprints: list[Footprint | None] = []
        self._tracks = [p.track for p in flat]
        i = 0
        for s, scene in enumerate(parts):
            for j, part in enumerate(scene):
                scene_parts[s, j] = i
                footprints.append(footprint(part, *bands[s]))
                i += 1
        self.scene_parts = torch.as_tensor(scene_parts, device=self.device)
        self.period = torch.tensor([max([p.track.period for p in scene], default=0.0) for scene in parts],
                                   dtype=torch.float32, device=self.device)
        n = max([2] + [len(p.track.times) + 1 for p in flat])
        times, pos, quat = np.zeros((max(1, self.count), n)), np.zeros((max(1, self.count), n, 3)), np.zeros((max(1, self.count), n, 4))
        quat[..., 0] = 1
        speed = 0.0
        for i, p in enumerate(flat):
            t, x, q = p.track.samples()
            m = len(t)
            times[i, :m], pos[i, :m], quat[i, :m] = t, x, q
            times[i, m:] = t[-1] + 1.0 + np.arange(n - m)  # never reached: motion times stay within t[-1]
            pos[i, m:], quat[i, m:] = x[-1], q[-1]
            loop = _loop_times(p.track, OVERSAMPLE)
            poses = p.track.pose_at(loop)
            world = np.einsum("tij,vj->tvi", poses[:, :3, :3], p.vertices) + poses[:, None, :3, 3]
            speed = max(speed, float((np.linalg.norm(np.diff(world, axis=0), axis=-1).max(1) / np.diff(loop)).max()))
        self.max_speed = speed
        f32 = dict(dtype=torch.float32, device=self.device)
        self.times = torch.tensor(times, **f32)
        self.positions = torch.tensor(pos, **f32)
        self.orientations = torch.tensor(quat, **f32)
        self.t0 = torch.tensor([p.track.times[0] for p in flat] or [0.0], **f32)
        self.loop_period = torch.tensor([p.track.period for p in flat] or [1.0], **f32)
        self.duration = torch.tensor([p.track.duration for p in flat] or [1.0], **f32)
        self.wrap = torch.tensor([p.track.loop == "wrap" for p in flat] or [True], dtype=torch.bool, device=self.device)
        # Footprint fields, padded to one shape (padding reads as FOOTPRINT_PAD: clear).
        h = max([1] + [f.clearance.shape[0] for f in footprints if f is not None])
        w = max([1] + [f.clearance.shape[1] for f in footprints if f is not None])
        fields = np.full((max(1, self.count), h, w), FOOTPRINT_PAD, np.float32)
        origin = np.zeros((max(1, self.count), 2))
        planar = np.ones(max(1, self.count), dtype=bool)
        margin = np.zeros(max(1, self.count))
        for i, f in enumerate(footprints):
            if f is None:  # never in the agent's band: never in the way
                continue
            fields[i, : f.clearance.shape[0], : f.clearance.shape[1]] = f.clearance
            origin[i], planar[i], margin[i] = f.origin, f.planar, f.margin
        self.shape = (h, w)
        self._host = dict(scene_parts=scene_parts, fields=fields.astype(np.float64), origin=origin, planar=planar,
                          required=radius + margin)  # numpy copies for `margin_host`
        self.fields = torch.as_tensor(fields, device=self.device)
        self.origin = torch.tensor(origin, **f32)
        self.planar = torch.as_tensor(planar, device=self.device)
        self.required = torch.tensor(radius + margin, **f32)
        self.resolution = FOOTPRINT_RESOLUTION
        # Multiplied, not divided: what CUDA does with a scalar divisor anyway, and what the kernel does.
        self.inv_resolution = float(np.float32(1.0 / FOOTPRINT_RESOLUTION))

    @property
    def any(self) -> bool:
        return self.count > 0

    def to(self, device: torch.device | str) -> "MovingParts":
        out = object.__new__(MovingParts)
        out.__dict__.update({k: v.to(device) if isinstance(v, Tensor) else v for k, v in self.__dict__.items()})
        out.device = torch.device(device)
        return out

    # ------------------------------------------------------------------ poses
    def poses(self, part: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        """Rotations ``[..., 3, 3]`` and positions ``[..., 3]`` of parts ``part [...]`` (>= 0) at times ``t [...]``."""
        p = part.clamp_min(0)
        t0, period, duration = self.t0[p], self.loop_period[p], self.duration[p]
        u = torch.remainder(t - t0, period)
        u = torch.where(self.wrap[p] | (u <= duration), u, period - u)
        tau = t0 + u
        times = self.times[p]  # [..., L]
        i = (torch.searchsorted(times.reshape(-1, times.shape[-1]), tau.reshape(-1, 1), right=True) - 1).reshape(tau.shape)
        i = i.clamp(0, times.shape[-1] - 2)
        ta, tb = times.gather(-1, i[..., None])[..., 0], times.gather(-1, (i + 1)[..., None])[..., 0]
        f = ((tau - ta) / (tb - ta)).clamp(0, 1)
        pa = self.positions[p, i]
        pos = pa + f[..., None] * (self.positions[p, i + 1] - pa)
        q = _slerp(self.orientations[p, i], self.orientations[p, i + 1], f)
        return _rotation(q), pos

    def scene_poses(self, scene: Tensor, t: Tensor) -> Tensor:
        """``[N, K, 4, 4]`` world transforms of each agent's scene's parts at its time ``t [N]`` (identity: no part)."""
        part = self.scene_parts[scene]  # [N, K]
        r, p = self.poses(part, t[:, None].expand_as(part).float())
        out = torch.eye(4, device=self.device).repeat(*part.shape, 1, 1)
        out[..., :3, :3], out[..., :3, 3] = r, p
        return torch.where((part >= 0)[..., None, None], out, torch.eye(4, device=self.device))

    def sample_poses(self) -> Tensor:
        """``[P, L, 4, 4]`` every part at each of its motion samples (padding repeats the last)."""
        out = torch.eye(4, device=self.device).repeat(*self.times.shape, 1, 1)
        out[..., :3, :3] = _rotation(self.orientations)
        out[..., :3, 3] = self.positions
        return out[: self.count]

    # ------------------------------------------------------------------ collisions
    def frames(self, scene: Tensor, t: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Each agent's parts' footprint frames at ``t [N]``: ``part [N, K]``, ``cos, sin [N, K]``, ``origin [N, K, 2]``."""
        part = self.scene_parts[scene]
        r, p = self.poses(part, t[:, None].expand_as(part).float())
        planar = self.planar[part.clamp_min(0)]
        c = torch.where(planar, r[..., 0, 0], 1.0)
        s = torch.where(planar, r[..., 1, 0], 0.0)
        norm = torch.sqrt(c * c + s * s).clamp_min(1e-12)
        return part, c / norm, s / norm, p[..., :2]

    def clearance(self, frames: tuple[Tensor, Tensor, Tensor, Tensor], xy: Tensor) -> tuple[Tensor, Tensor]:
        """``(margin [N], gradient [N, 2])``: the least of ``clearance - required`` over each agent's parts at
        positions ``xy [N, 2]`` (``frames`` from `frames`), and the world gradient of that part's field there.
        A scene without parts reads ``FOOTPRINT_PAD``."""
        if xy.is_cuda and triton_available():  # `clearance_reference`'s operations in one kernel, bit for bit
            from .triton_clearance import part_clearance

            return part_clearance(*frames, xy, self.fields, self.origin, self.required, self.inv_resolution, FOOTPRINT_PAD)
        return self.clearance_reference(frames, xy)

    def margin_host(self, scene: np.ndarray, t: np.ndarray, xy: np.ndarray) -> np.ndarray:
        """`clearance`'s margin ``[M]`` (float64) for bodies at ``xy [M, 2]`` in scenes ``scene [M]`` at times
        ``t [M]``, on the host in numpy from the bundle's own tracks (`MotionTrack.pose_at`, float64): for checking a
        few episode starts at a time, where PyTorch's per-operation overhead would be most of the work. The same
        footprint fields, frames and bilinear reads as `clearance_reference` (which runs in float32, so the two
        agree to float32 rounding)."""
        h = self._host
        scene, t, xy = np.asarray(scene, np.int64), np.asarray(t, np.float64), np.asarray(xy, np.float64)
        out = np.full(len(xy), FOOTPRINT_PAD, np.float64)
        for part in h["scene_parts"][scene].T:  # one slot k of every body's scene
            for p in np.unique(part[part >= 0]):
                rows = np.flatnonzero(part == p)
                pose = self._tracks[p].pose_at(t[rows])  # [m, 4, 4]
                c, s = (pose[:, 0, 0], pose[:, 1, 0]) if h["planar"][p] else (np.ones(len(rows)), np.zeros(len(rows)))
                norm = np.maximum(np.hypot(c, s), 1e-12)
                c, s = c / norm, s / norm
                d = xy[rows] - pose[:, :2, 3]  # into the footprint frame: rotate by -yaw
                g = (np.stack([c * d[:, 0] + s * d[:, 1], -s * d[:, 0] + c * d[:, 1]]).T - h["origin"][p]) \
                    / self.resolution - 0.5
                # Bilinear over cell centers; corners past the field read FOOTPRINT_PAD, as in the torch path.
                value = ndimage.map_coordinates(h["fields"][p], [g[:, 1], g[:, 0]], order=1,
                                                mode="grid-constant", cval=FOOTPRINT_PAD, prefilter=False)
                out[rows] = np.minimum(out[rows], value - h["required"][p])
        return out

    def clearance_reference(self, frames: tuple[Tensor, Tensor, Tensor, Tensor], xy: Tensor) -> tuple[Tensor, Tensor]:
        """`clearance` in PyTorch operations (the CPU path, and the reference of the CUDA kernel)."""
        part, c, s, origin = frames
        d = xy[:, None, :] - origin  # [N, K, 2] into each footprint frame: rotate by -yaw
        u = torch.stack([c * d[..., 0] + s * d[..., 1], -s * d[..., 0] + c * d[..., 1]], -1)
        p = part.clamp_min(0)
        g = (u - self.origin[p]) * self.inv_resolution - 0.5
        i0 = torch.floor(g)
        fx, fy = (g - i0).unbind(-1)
        ix, iy = i0[..., 0].long(), i0[..., 1].long()
        h, w = self.shape
        cx = torch.stack([ix, ix + 1, ix, ix + 1], -1)
        cy = torch.stack([iy, iy, iy + 1, iy + 1], -1)
        inside = (cx >= 0) & (cx < w) & (cy >= 0) & (cy < h)
        flat = self.fields.view(-1)
        idx = (p * (h * w))[..., None] + cy.clamp(0, h - 1) * w + cx.clamp(0, w - 1)
        v = torch.where(inside, flat[idx], FOOTPRINT_PAD)
        bottom = v[..., 0] + (v[..., 1] - v[..., 0]) * fx
        top = v[..., 2] + (v[..., 3] - v[..., 2]) * fx
        value = bottom + (top - bottom) * fy
        gx = ((v[..., 1] - v[..., 0]) * (1 - fy) + (v[..., 3] - v[..., 2]) * fy) * self.inv_resolution
        gy = (top - bottom) * self.inv_resolution
        grad = torch.stack([c * gx - s * gy, s * gx + c * gy], -1)  # back to the world
        margin = torch.where(part >= 0, value - self.required[p], FOOTPRINT_PAD)
        worst = margin.argmin(1)
        rows = torch.arange(len(xy), device=xy.device)
        return margin[rows, worst], grad[rows, worst]


__all__ = ["DynamicConfig", "FOOTPRINT_PAD", "FOOTPRINT_RESOLUTION", "Footprint", "MovingParts", "PartData",
           "footprint", "is_planar", "read_parts"]
