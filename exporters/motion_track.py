"""Rigid motion tracks of a dynamic bundle's moving parts: poses over time, how they loop, and their files.

A track is a part's pose at the scene's sampled times: ``position [T, 3]`` and ``orientation
[T, 4]`` (wxyz, sign-continuous so that neighbours are the short way round), the transform
taking the part's own frame to the world (``x ↦ R x + p``). Between samples the pose is
interpolated: position linearly, orientation by slerp (what USD does with ``xformOp:translate``
and ``xformOp:orient`` time samples). Motions loop (`LOOPS`):

- ``wrap``: after the last sample the part goes on to the first, over one frame interval, and
  starts again (the samples cover whole cycles: a fan's turns, a door opening and closing);
- ``pingpong``: forward to the last sample, back to the first, and so on (any other motion:
  a cart that drove part of its route comes back along it, never jumping).

`detect_loop` picks one from the poses themselves. Files:

- ``motion.json`` (`MOTION_FILE`): format, times, fps and one entry per part (name, label, loop,
  period, bounds, positions, orientations, the files of its splats and colliders); `read_motion`
  validates it and `check_times` compares its times with ``scene4d/index.json``;
- ``motion.npz`` (`MOTION_NPZ`): the same tracks as arrays for MuJoCo (`read_motion_npz`), and
  `set_mocap` poses a model's mocap bodies at any time.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from lyra_sim.config import read_json

MOTION_FILE = "motion.json"
MOTION_NPZ = "motion.npz"
MOTION_FORMAT = "lyra-sim-motion"
MOTION_VERSION = 1
LOOPS = ("wrap", "pingpong")
TIME_TOLERANCE = 1e-6
"""Seconds by which motion.json's times may differ from scene4d's (JSON round trips are exact; this allows for other writers)."""


# ---------------------------------------------------------------------- rotations (float64)
def matrix_to_quat(rotations: np.ndarray) -> np.ndarray:
    """Rotation matrices ``[..., 3, 3]`` → unit quaternions ``[..., 4]`` (wxyz, w >= 0)."""
    from scipy.spatial.transform import Rotation

    r = np.asarray(rotations, dtype=np.float64)
    xyzw = Rotation.from_matrix(r.reshape(-1, 3, 3)).as_quat()
    q = np.concatenate([xyzw[:, 3:], xyzw[:, :3]], 1)
    q = np.where(q[:, :1] < 0, -q, q)
    return q.reshape(r.shape[:-2] + (4,))


def quat_to_matrix(quats: np.ndarray) -> np.ndarray:
    """Quaternions ``[..., 4]`` (wxyz, any non-zero norm) → rotation matrices ``[..., 3, 3]``."""
    q = np.asarray(quats, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    m = np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
                  2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
                  2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1)
    return m.reshape(q.shape[:-1] + (3, 3))


def continuous(quats: np.ndarray) -> np.ndarray:
    """``[T, 4]`` with signs flipped so that every quaternion is on the same side as its predecessor."""
    q = np.array(quats, dtype=np.float64)
    for i in range(1, len(q)):
        if float(q[i] @ q[i - 1]) < 0:
            q[i] = -q[i]
    return q


def slerp(q0: np.ndarray, q1: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Spherical interpolation of unit quaternions ``[..., 4]`` at fractions ``f [...]`` (the short way)."""
    q0, q1, f = np.asarray(q0, float), np.asarray(q1, float), np.asarray(f, float)[..., None]
    dot = np.sum(q0 * q1, -1, keepdims=True)
    q1 = np.where(dot < 0, -q1, q1)
    dot = np.abs(dot).clip(max=1.0)
    theta = np.arccos(dot)
    sin = np.sin(theta)
    small = sin < 1e-9
    a = np.where(small, 1 - f, np.sin((1 - f) * theta) / np.where(small, 1.0, sin))
    b = np.where(small, f, np.sin(f * theta) / np.where(small, 1.0, sin))
    q = a * q0 + b * q1
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def poses_to_tracks(poses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``[T, 4, 4]`` rigid transforms → ``(positions [T, 3], orientations [T, 4])`` (wxyz, sign-continuous)."""
    poses = np.asarray(poses, dtype=np.float64)
    return poses[:, :3, 3].copy(), continuous(matrix_to_quat(poses[:, :3, :3]))


def tracks_to_poses(positions: np.ndarray, orientations: np.ndarray) -> np.ndarray:
    """Inverse of `poses_to_tracks`: ``[..., 4, 4]``."""
    positions = np.asarray(positions, dtype=np.float64)
    out = np.zeros(positions.shape[:-1] + (4, 4))
    out[..., :3, :3] = quat_to_matrix(orientations)
    out[..., :3, 3] = positions
    out[..., 3, 3] = 1.0
    return out


# ---------------------------------------------------------------------- loops
def step_sizes(poses: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``[T]`` how far ``points [P, 3]`` (part frame) move from each pose to the next, the last to the first."""
    world = np.einsum("tij,pj->tpi", poses[:, :3, :3], points) + poses[:, None, :3, 3]
    return np.linalg.norm(world - np.roll(world, -1, axis=0), axis=-1).max(-1)


def detect_loop(poses: np.ndarray, points: np.ndarray) -> str:
    """``wrap`` when going on from the last pose to the first is a step like the others (at most 1.5 times
    the largest, or under a millimeter), else ``pingpong`` (see the module docstring)."""
    steps = step_sizes(poses, points)
    if len(steps) < 2:
        return "pingpong"
    return "wrap" if steps[-1] <= max(1.5 * steps[:-1].max(), 1e-3) else "pingpong"


@dataclass(frozen=True)
class MotionTrack:
    """One part's motion (see the module docstring).

    Attributes:
        name: the part's name (unique in the bundle).
        times: ``[T]`` seconds, strictly increasing (T >= 2).
        positions: ``[T, 3]``; orientations: ``[T, 4]`` wxyz unit, sign-continuous.
        loop: one of `LOOPS`.
    """

    name: str
    times: np.ndarray
    positions: np.ndarray
    orientations: np.ndarray
    loop: str

    def __post_init__(self) -> None:
        times = np.asarray(self.times, dtype=np.float64)
        if times.ndim != 1 or len(times) < 2 or not np.all(np.isfinite(times)) or not np.all(np.diff(times) > 0):
            raise ValueError(f"{self.name}: times must be 2 or more finite, strictly increasing seconds")
        pos = np.asarray(self.positions, dtype=np.float64)
        quat = np.asarray(self.orientations, dtype=np.float64)
        if pos.shape != (len(times), 3) or quat.shape != (len(times), 4):
            raise ValueError(f"{self.name}: expected positions [{len(times)}, 3] and orientations [{len(times)}, 4], "
                             f"got {list(pos.shape)} and {list(quat.shape)}")
        if not (np.all(np.isfinite(pos)) and np.all(np.isfinite(quat))):
            raise ValueError(f"{self.name}: positions and orientations must be finite")
        if np.abs(np.linalg.norm(quat, axis=1) - 1).max() > 1e-6:
            raise ValueError(f"{self.name}: orientations must be unit quaternions (w, x, y, z)")
        if self.loop not in LOOPS:
            raise ValueError(f"{self.name}: loop {self.loop!r}; accepted: {', '.join(LOOPS)}")
        object.__setattr__(self, "times", times)
        object.__setattr__(self, "positions", pos)
        object.__setattr__(self, "orientations", continuous(quat))

    @property
    def duration(self) -> float:
        return float(self.times[-1] - self.times[0])

    @property
    def wrap_interval(self) -> float:
        """Seconds from the last sample back to the first in a ``wrap`` loop: the mean frame interval."""
        return self.duration / (len(self.times) - 1)

    @property
    def period(self) -> float:
        """Seconds per loop."""
        return self.duration + self.wrap_interval if self.loop == "wrap" else 2 * self.duration

    def samples(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(times [T+1], positions [T+1, 3], orientations [T+1, 4])``: the samples a loop runs through, a
        wrap's return to the first one appended (a pingpong's last sample repeated, never reached)."""
        t0 = self.times[0]
        extra = t0 + self.period if self.loop == "wrap" else self.times[-1] + 1.0
        first = 0 if self.loop == "wrap" else -1
        q = self.orientations[first]
        q = -q if float(q @ self.orientations[-1]) < 0 else q
        return (np.append(self.times, extra), np.concatenate([self.positions, self.positions[first][None]]),
                np.concatenate([self.orientations, q[None]]))

    def cycle(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One whole loop as samples, ``(times, positions, orientations)`` from ``times[0]`` to
        ``times[0] + period``: a wrap's samples and its return to the first; a pingpong's samples
        forward, then back (what a player that repeats the range shows; USD time samples)."""
        if self.loop == "wrap":
            return self.samples()
        back = np.arange(len(self.times) - 2, -1, -1)
        times = np.concatenate([self.times, 2 * self.times[-1] - self.times[back]])
        return times, np.concatenate([self.positions, self.positions[back]]), np.concatenate(
            [self.orientations, self.orientations[back]])

    def motion_time(self, t: np.ndarray | float) -> np.ndarray:
        """Where in the samples' time range any time ``t`` (seconds) falls, after looping."""
        t = np.asarray(t, dtype=np.float64)
        t0 = self.times[0]
        u = np.mod(t - t0, self.period)
        if self.loop == "pingpong":
            u = np.where(u <= self.duration, u, self.period - u)
        return t0 + u

    def pose_at(self, t: np.ndarray | float) -> np.ndarray:
        """``[..., 4, 4]`` the part frame → world transform at time(s) ``t`` (looped, interpolated)."""
        times, pos, quat = self.samples()
        tau = self.motion_time(t)
        i = np.clip(np.searchsorted(times, tau, side="right") - 1, 0, len(times) - 2)
        f = np.clip((tau - times[i]) / (times[i + 1] - times[i]), 0.0, 1.0)
        p = pos[i] + f[..., None] * (pos[i + 1] - pos[i])
        return tracks_to_poses(p, slerp(quat[i], quat[i + 1], f))


# ---------------------------------------------------------------------- motion.json
@dataclass(frozen=True)
class MotionFile:
    """``motion.json`` as read (`read_motion`): its ``times``, ``fps``, the parts' `MotionTrack`s and entries."""

    times: tuple[float, ...]
    fps: float | None
    tracks: tuple[MotionTrack, ...]
    parts: tuple[dict[str, Any], ...]
    data: dict[str, Any]


def read_motion(path: str | os.PathLike) -> MotionFile:
    """Read and validate ``motion.json`` (a file, or a bundle directory holding one); ValueError names what is wrong."""
    path = Path(path)
    file = path / MOTION_FILE if path.is_dir() else path
    if not file.is_file():
        raise FileNotFoundError(f"{file}: no {MOTION_FILE} (not a dynamic bundle)")
    data = read_json(file)  # UTF-8, valid JSON, nesting capped: ValueError naming the file
    if not isinstance(data, dict) or data.get("format") != MOTION_FORMAT:
        raise ValueError(f"{file}: not a motion file (expected \"format\": \"{MOTION_FORMAT}\")")
    if data.get("version") != MOTION_VERSION:
        raise ValueError(f"{file}: motion version {data.get('version')!r}; this lyra-sim reads {MOTION_VERSION}")
    times = data.get("times")
    if not isinstance(times, list) or not all(isinstance(t, (int, float)) and not isinstance(t, bool) for t in times):
        raise ValueError(f"{file}: 'times' missing or not a list of seconds")
    parts = data.get("parts")
    if not isinstance(parts, list) or not parts:
        raise ValueError(f"{file}: 'parts' missing or empty (a dynamic bundle has at least one moving part)")
    tracks, names = [], set()
    for i, part in enumerate(parts):
        where = f"{file}: parts[{i}]"
        if not isinstance(part, dict) or not isinstance(part.get("name"), str):
            raise ValueError(f"{where}: expected an object with a 'name'")
        if part["name"] in names:
            raise ValueError(f"{where}: name {part['name']!r} appears twice")
        names.add(part["name"])
        if part.get("times") != times:
            raise ValueError(f"{where}: its times differ from the file's 'times'")
        try:
            tracks.append(MotionTrack(part["name"], np.asarray(times, float), np.asarray(part.get("position"), float),
                                      np.asarray(part.get("orientation"), float), part.get("loop")))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{where}: {exc}") from exc
    fps = data.get("fps")
    return MotionFile(tuple(float(t) for t in times), None if fps is None else float(fps), tuple(tracks),
                      tuple(parts), data)


def check_times(motion: MotionFile, index_times: Sequence[float], where: str = MOTION_FILE) -> None:
    """Raise one ``ValueError`` if ``motion``'s times are not ``scene4d/index.json``'s ``index_times``."""
    ours, theirs = list(motion.times), [float(t) for t in index_times]
    if len(ours) != len(theirs) or any(abs(a - b) > TIME_TOLERANCE for a, b in zip(ours, theirs)):
        first = next((k for k, (a, b) in enumerate(zip(ours, theirs)) if abs(a - b) > TIME_TOLERANCE), min(len(ours), len(theirs)))
        raise ValueError(f"{where}: its {len(ours)} times do not match scene4d/index.json's {len(theirs)} "
                         f"(first difference at index {first}: "
                         f"{ours[first] if first < len(ours) else 'none'} vs {theirs[first] if first < len(theirs) else 'none'} s)")


# ---------------------------------------------------------------------- motion.npz and MuJoCo
def motion_arrays(tracks: Sequence[MotionTrack]) -> dict[str, np.ndarray]:
    """The arrays of ``motion.npz``: ``names [P]``, ``times [T]``, ``position [P, T, 3]``,
    ``orientation [P, T, 4]`` (wxyz), ``loop [P]`` (index into `LOOPS`), ``period [P]``."""
    return {
        "names": np.array([t.name for t in tracks]),
        "times": tracks[0].times,
        "position": np.stack([t.positions for t in tracks]),
        "orientation": np.stack([t.orientations for t in tracks]),
        "loop": np.array([LOOPS.index(t.loop) for t in tracks], dtype=np.int64),
        "period": np.array([t.period for t in tracks]),
    }


def read_motion_npz(path: str | os.PathLike) -> tuple[MotionTrack, ...]:
    """The tracks of ``motion.npz`` (a file, or a bundle directory holding one)."""
    path = Path(path)
    file = path / MOTION_NPZ if path.is_dir() else path
    with np.load(file, allow_pickle=False) as data:
        missing = [k for k in ("names", "times", "position", "orientation", "loop") if k not in data.files]
        if missing:
            raise ValueError(f"{file}: not a motion file: missing {', '.join(missing)}")
        names, times, pos, quat, loop = (data[k] for k in ("names", "times", "position", "orientation", "loop"))
    return tuple(MotionTrack(str(n), times, pos[i], quat[i], LOOPS[int(loop[i])]) for i, n in enumerate(names))


def set_mocap(model, data, motion: Sequence[MotionTrack] | str | os.PathLike, t: float) -> None:
    """Pose every mocap body of a MuJoCo ``model`` named after a track at time ``t`` (seconds).

    Writes ``data.mocap_pos`` / ``data.mocap_quat`` (MuJoCo's quaternions are wxyz, like ours);
    call it before each ``mujoco.mj_step``. A moving part's body in a bundle's ``scene.xml`` has
    the part's name (`lyra_sim.exporters.mesh_tools.safe_name` of it); ``motion`` is its tracks
    (`read_motion_npz`) or the path of ``motion.npz``.

        model = mujoco.MjModel.from_xml_path("bundle/scene.xml")
        data = mujoco.MjData(model)
        tracks = read_motion_npz("bundle/motion.npz")
        while data.time < 10:
            set_mocap(model, data, tracks, data.time)
            mujoco.mj_step(model, data)
    """
    import mujoco

    from .mesh_tools import safe_name

    tracks = read_motion_npz(motion) if isinstance(motion, (str, os.PathLike)) else motion
    if not math.isfinite(t):
        raise ValueError(f"t: expected a finite time in seconds, got {t!r}")
    for track in tracks:
        body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, safe_name(track.name))
        if body < 0 or model.body_mocapid[body] < 0:
            raise ValueError(f"set_mocap: the model has no mocap body {safe_name(track.name)!r} for part {track.name!r}")
        pose = track.pose_at(t)
        k = model.body_mocapid[body]
        data.mocap_pos[k] = pose[:3, 3]
        data.mocap_quat[k] = matrix_to_quat(pose[:3, :3])


__all__ = ["LOOPS", "MOTION_FILE", "MOTION_FORMAT", "MOTION_NPZ", "MOTION_VERSION", "MotionFile", "MotionTrack",
           "check_times", "continuous", "detect_loop", "matrix_to_quat", "motion_arrays", "poses_to_tracks",
           "quat_to_matrix", "read_motion", "read_motion_npz", "set_mocap", "slerp", "step_sizes", "tracks_to_poses"]
