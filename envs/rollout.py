"""Rollout files: what agents did in a scene, step by step, for playback (``lyra-sim view --episodes``).

A rollout is one ``.npz`` (plain arrays, no pickle; written with fixed zip timestamps so the
same steps give the same bytes). ``T`` rows, one per agent state: the state right after a
reset (``step == 0``), then the state after each action. Rows of one episode are in time
order; episodes of several envs may interleave.

===================  ==================  ======================================================
key                  shape, dtype        meaning
===================  ==================  ======================================================
format               [] str              ``"lyra-sim-rollout"``
format_version       [] int64            1
episode              [T] int64           episode id (0, 1, ... in the order episodes started)
env                  [T] int64           which env of a vector env (0 for a single env)
step                 [T] int64           0 at reset, then 1, 2, ... within the episode
scene                [T] int64           index into ``scene_sha256`` / ``floor_z``
xy                   [T, 2] float32      agent position, world meters
yaw                  [T] float32         heading, radians counterclockwise from +x
goal                 [T, 2] float32      goal position, world meters
action               [T, 2] float32      continuous (linear, angular in [-1, 1]); NaN at reset
                     or [T] int64        discrete (stop, forward, turn_left, turn_right); -1 at reset
reward               [T] float32         reward of the step that led here (0 at reset)
terminated           [T] bool            the episode ended here (success, or ``stop``)
truncated            [T] bool            the episode was cut here (step limit)
collided             [T] bool            the step that led here hit an obstacle
success              [T] bool            the goal was reached here
image                [T, H, W, 3] uint8  optional: the agent's camera observation at this state
action_type          [] str              ``"continuous"`` or ``"discrete"``
scene_sha256         [S] str             sha256 of each scene's ``scene.ply`` ("" if unknown)
floor_z              [S] float64         each scene's floor height, meters
agent_radius         [] float64          the cylinder base, meters
agent_height         [] float64
camera_height_m      [] float64          the agent camera, above the floor
camera_pitch_deg     [] float64          downward tilt
camera_hfov_deg      [] float64          horizontal field of view
===================  ==================  ======================================================

Write one with `RolloutRecorder` (batched: every call takes ``N`` envs' values, tensors or
arrays), read one with `read_rollout` (any missing key, bad shape or dtype is a ValueError
naming the file and the key).
"""

from __future__ import annotations

import math
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from lyra_sim.exporters.nav_grid import save_npz

FORMAT = "lyra-sim-rollout"
FORMAT_VERSION = 1
ACTION_TYPES = ("continuous", "discrete")

_STEP_KEYS = ("episode", "env", "step", "scene", "xy", "yaw", "goal", "action", "reward",
              "terminated", "truncated", "collided", "success")
_SCALARS = ("agent_radius", "agent_height", "camera_height_m", "camera_pitch_deg", "camera_hfov_deg")


@dataclass(frozen=True)
class RolloutInfo:
    """What stays fixed over a rollout: the action type, the agent's body and camera, the scenes.

    Attributes:
        action_type: "continuous" or "discrete".
        agent_radius, agent_height: the cylinder base, meters.
        camera_height_m, camera_pitch_deg, camera_hfov_deg: the agent's camera.
        scene_sha256: per scene, the sha256 of its ``scene.ply`` ("" if unknown); the viewer
            plays the episodes of the bundle it shows.
        floor_z: per scene, the floor height (meters) the agents stand on.
    """

    action_type: str
    agent_radius: float
    agent_height: float
    camera_height_m: float
    camera_pitch_deg: float
    camera_hfov_deg: float
    scene_sha256: tuple[str, ...]
    floor_z: tuple[float, ...]

    def __post_init__(self) -> None:
        if self.action_type not in ACTION_TYPES:
            raise ValueError(f"action_type: expected one of {', '.join(ACTION_TYPES)}, got {self.action_type!r}")
        for name in _SCALARS:
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"{name}: expected a finite number, got {getattr(self, name)}")
        if not (self.agent_radius > 0 and self.agent_height > 0 and 0 < self.camera_hfov_deg < 180):
            raise ValueError(
                f"agent_radius, agent_height > 0 and camera_hfov_deg in (0, 180) expected, got "
                f"{self.agent_radius}, {self.agent_height}, {self.camera_hfov_deg}"
            )
        if not self.scene_sha256 or len(self.scene_sha256) != len(self.floor_z):
            raise ValueError(
                f"scene_sha256, floor_z: expected one entry per scene (at least one), got "
                f"{len(self.scene_sha256)} and {len(self.floor_z)}"
            )
        if not all(math.isfinite(z) for z in self.floor_z):
            raise ValueError(f"floor_z: expected finite heights, got {list(self.floor_z)}")


@dataclass(frozen=True)
class Rollout:
    """A rollout file's contents (see the module docstring for every field)."""

    info: RolloutInfo
    episode: np.ndarray
    env: np.ndarray
    step: np.ndarray
    scene: np.ndarray
    xy: np.ndarray
    yaw: np.ndarray
    goal: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    collided: np.ndarray
    success: np.ndarray
    image: np.ndarray | None

    def __len__(self) -> int:
        return len(self.episode)

    def episode_ids(self) -> np.ndarray:
        """``[E]`` the episode ids, ascending."""
        return np.unique(self.episode)

    def rows(self, episode: int) -> np.ndarray:
        """``[L]`` row indices of ``episode`` in time order."""
        rows = np.nonzero(self.episode == episode)[0]
        if not len(rows):
            raise ValueError(f"episode {episode}: not in this rollout (episodes: {self.episode_ids().tolist()[:10]} ...)")
        return rows[np.argsort(self.step[rows], kind="stable")]


def _host(value: Any) -> np.ndarray:
    """A tensor (any device) or array-like → numpy array."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


class RolloutRecorder:
    """Collects the steps of ``N`` envs and writes them as one rollout file on `close`.

    Usage (a single env is ``N = 1``; arrays may be torch tensors on any device)::

        rec = RolloutRecorder("rollout.npz", info, num_envs=N)
        rec.reset(xy, yaw, goal, scene, image=obs_rgb)            # every env starts an episode
        rec.step(xy, yaw, goal, action, reward, terminated, truncated, collided, success, image=...)
        rec.reset(xy, yaw, goal, scene, image=..., mask=done)     # only the envs in ``mask`` restart
        rec.close()                                               # or use it as a context manager

    ``step`` records every env not excluded by ``mask``; an env must have been reset before
    its first step. Rows stay in memory until `close` (about ``H * W * 3`` bytes per row with
    images), which writes the file atomically; a recorder closed with no rows writes nothing
    and raises.

    Args:
        path: the ``.npz`` to write.
        info: `RolloutInfo` (action type, agent, camera, scenes).
        num_envs: ``N``.
        images: keep the ``image`` passed to `reset` / `step` (an image given when False is
            dropped; with True every call must give one).
    """

    def __init__(self, path: str | os.PathLike, info: RolloutInfo, num_envs: int = 1, images: bool = True) -> None:
        if not (isinstance(num_envs, int) and num_envs >= 1):
            raise ValueError(f"num_envs: expected a positive integer, got {num_envs!r}")
        self.path = Path(path)
        self.info = info
        self.num_envs = num_envs
        self.images = images
        self._rows: dict[str, list[np.ndarray]] = {k: [] for k in _STEP_KEYS + ("image",)}
        self._episode = np.full(num_envs, -1, np.int64)  # current episode per env (-1: not started)
        self._step = np.zeros(num_envs, np.int64)
        self._scene = np.zeros(num_envs, np.int64)
        self._next_episode = 0
        self._closed = False

    def __enter__(self) -> "RolloutRecorder":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()

    def _mask(self, mask) -> np.ndarray:
        if mask is None:
            return np.ones(self.num_envs, bool)
        m = _host(mask).astype(bool).reshape(-1)
        if m.shape != (self.num_envs,):
            raise ValueError(f"mask: expected {self.num_envs} booleans, got shape {list(m.shape)}")
        return m

    def _vector(self, name: str, value, shape: tuple[int, ...], dtype) -> np.ndarray:
        a = _host(value)
        if self.num_envs == 1 and a.shape == shape:
            a = a[None]
        if a.shape != (self.num_envs, *shape):
            raise ValueError(f"{name}: expected shape {[self.num_envs, *shape]}, got {list(a.shape)}")
        return a.astype(dtype)

    def _image(self, image) -> np.ndarray | None:
        if not self.images:
            return None
        if image is None:
            raise ValueError("image: this recorder keeps camera images (images=True); pass the observation's rgb")
        a = _host(image)
        if self.num_envs == 1 and a.ndim == 3:
            a = a[None]
        if a.ndim != 4 or a.shape[0] != self.num_envs or a.shape[-1] != 3 or a.dtype != np.uint8:
            raise ValueError(f"image: expected uint8 [{self.num_envs}, H, W, 3], got {a.dtype} {list(a.shape)}")
        return a

    def _append(self, m: np.ndarray, values: dict[str, np.ndarray], image: np.ndarray | None) -> None:
        """Rows of the envs in ``m``: ``values`` plus each env's current episode, step and scene."""
        values = {"episode": self._episode.copy(), "env": np.arange(self.num_envs, dtype=np.int64),
                  "step": self._step.copy(), "scene": self._scene.copy(), **values}
        for key, value in values.items():
            self._rows[key].append(value[m])
        if image is not None:
            self._rows["image"].append(image[m])

    def reset(self, xy, yaw, goal, scene=None, *, image=None, mask=None) -> None:
        """Start a new episode in every env of ``mask`` (all by default) at ``xy [N, 2]``,
        ``yaw [N]``, with ``goal [N, 2]`` in scene ``scene [N]`` (default 0)."""
        self._check_open()
        m = self._mask(mask)
        n = self.num_envs
        scene = np.zeros(n, np.int64) if scene is None else self._vector("scene", scene, (), np.int64)
        if ((scene < 0) | (scene >= len(self.info.scene_sha256))).any():
            raise ValueError(f"scene: expected indices in 0..{len(self.info.scene_sha256) - 1}, got {scene.tolist()}")
        discrete = self.info.action_type == "discrete"
        values = self._state(xy, yaw, goal)  # everything is checked before anything changes
        image = self._image(image)
        self._episode[m] = np.arange(self._next_episode, self._next_episode + int(m.sum()))
        self._next_episode += int(m.sum())
        self._step[m] = 0
        self._scene[m] = scene[m]
        values.update(
            action=np.full(n, -1, np.int64) if discrete else np.full((n, 2), np.nan, np.float32),
            reward=np.zeros(n, np.float32),
            **{k: np.zeros(n, bool) for k in ("terminated", "truncated", "collided", "success")},
        )
        self._append(m, values, image)

    def step(self, xy, yaw, goal, action, reward, terminated, truncated, collided=None, success=None, *,
             image=None, mask=None) -> None:
        """Record the state every env of ``mask`` (all by default) reached by ``action`` (``[N, 2]``
        float or ``[N]`` int), with its ``reward [N]`` and flags ``[N]`` (``collided`` and
        ``success`` default to False)."""
        self._check_open()
        m = self._mask(mask)
        n = self.num_envs
        if (self._episode[m] < 0).any():
            raise ValueError(f"step: env {int(np.nonzero(m & (self._episode < 0))[0][0])} was never reset")
        discrete = self.info.action_type == "discrete"
        values = self._state(xy, yaw, goal)
        values.update(
            action=self._vector("action", action, () if discrete else (2,), np.int64 if discrete else np.float32),
            reward=self._vector("reward", reward, (), np.float32),
            **{k: np.zeros(n, bool) if v is None else self._vector(k, v, (), bool)
               for k, v in (("terminated", terminated), ("truncated", truncated), ("collided", collided), ("success", success))},
        )
        image = self._image(image)
        self._step[m] += 1
        self._append(m, values, image)

    def _state(self, xy, yaw, goal) -> dict[str, np.ndarray]:
        return {"xy": self._vector("xy", xy, (2,), np.float32), "yaw": self._vector("yaw", yaw, (), np.float32),
                "goal": self._vector("goal", goal, (2,), np.float32)}

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"{self.path}: the recorder is closed")

    def close(self) -> Path | None:
        """Write the rollout (atomically) and return its path; a second call does nothing."""
        if self._closed:
            return None
        self._closed = True
        if not self._rows["episode"]:
            raise ValueError(f"{self.path}: nothing was recorded (call reset() and step() before close())")
        arrays = {k: np.concatenate(self._rows[k]) for k in _STEP_KEYS}
        if self._rows["image"]:
            shapes = {tuple(a.shape[1:]) for a in self._rows["image"]}
            if len(shapes) != 1:
                raise ValueError(f"image: every image must have one size, got {sorted(shapes)}")
            arrays["image"] = np.concatenate(self._rows["image"])
        info = self.info
        arrays.update(
            format=np.array(FORMAT), format_version=np.int64(FORMAT_VERSION), action_type=np.array(info.action_type),
            scene_sha256=np.array(info.scene_sha256, dtype="<U64"), floor_z=np.array(info.floor_z, np.float64),
            **{k: np.float64(getattr(info, k)) for k in _SCALARS},
        )
        return save_npz(self.path, arrays)


# ---------------------------------------------------------------- reading
_DTYPES = {
    "episode": np.int64, "env": np.int64, "step": np.int64, "scene": np.int64, "xy": np.float32, "yaw": np.float32,
    "goal": np.float32, "reward": np.float32, "terminated": np.bool_, "truncated": np.bool_, "collided": np.bool_,
    "success": np.bool_,
}
_TRAILING = {"xy": (2,), "goal": (2,)}


def _load(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such rollout file")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise ValueError(f"{path}: not a readable rollout .npz ({exc})") from exc


def read_rollout(path: str | os.PathLike) -> Rollout:
    """Read and validate a rollout written by `RolloutRecorder` (see the module docstring)."""
    path = Path(path)
    data = _load(path)
    if "format" not in data or data["format"].shape != () or str(data["format"]) != FORMAT:
        raise ValueError(f"{path}: not a lyra-sim rollout (expected a 'format' entry \"{FORMAT}\")")
    version = int(data.get("format_version", -1))
    if version != FORMAT_VERSION:
        raise ValueError(f"{path}: rollout format version {version}; this lyra-sim reads version {FORMAT_VERSION}")
    required = _STEP_KEYS + _SCALARS + ("action_type", "scene_sha256", "floor_z")
    missing = [k for k in required if k not in data]
    if missing:
        raise ValueError(f"{path}: not a complete rollout: missing {', '.join(missing)}")
    try:
        info = RolloutInfo(
            action_type=str(data["action_type"]),
            scene_sha256=tuple(str(s) for s in np.atleast_1d(data["scene_sha256"])),
            floor_z=tuple(float(z) for z in np.atleast_1d(data["floor_z"])),
            **{k: float(data[k]) for k in _SCALARS},
        )
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: {exc}") from exc
    t = len(data["episode"]) if data["episode"].ndim == 1 else -1
    if t < 1:
        raise ValueError(f"{path}: episode: expected a non-empty [T] array, got shape {list(data['episode'].shape)}")
    discrete = info.action_type == "discrete"
    expected = {k: ((t, *_TRAILING.get(k, ())), dtype) for k, dtype in _DTYPES.items()}
    expected["action"] = ((t,), np.int64) if discrete else ((t, 2), np.float32)
    for key, (shape, dtype) in expected.items():
        a = data[key]
        if a.shape != shape or a.dtype != dtype:
            raise ValueError(f"{path}: {key}: expected {np.dtype(dtype).name} {list(shape)}, got {a.dtype.name} {list(a.shape)}")
    for key in ("xy", "yaw", "goal", "reward"):
        if not np.isfinite(data[key]).all():
            raise ValueError(f"{path}: {key}: contains NaN or inf")
    if ((data["scene"] < 0) | (data["scene"] >= len(info.scene_sha256))).any():
        raise ValueError(f"{path}: scene: indices outside 0..{len(info.scene_sha256) - 1}")
    image = data.get("image")
    if image is not None and (image.dtype != np.uint8 or image.ndim != 4 or image.shape[0] != t or image.shape[-1] != 3):
        raise ValueError(f"{path}: image: expected uint8 [{t}, H, W, 3], got {image.dtype.name} {list(image.shape)}")
    order = np.lexsort((data["step"], data["episode"]))
    episode, step = data["episode"][order], data["step"][order]
    first = np.r_[True, episode[1:] != episode[:-1]]
    start = np.maximum.accumulate(np.where(first, np.arange(t), 0))
    bad = step != np.arange(t) - start
    if bad.any():
        raise ValueError(f"{path}: episode {int(episode[bad][0])}: steps must run 0, 1, 2, ... without gaps")
    return Rollout(info=info, image=image, **{k: data[k] for k in _STEP_KEYS})


def episodes_in_scene(rollout: Rollout, sha256: str) -> list[int]:
    """Ids of the episodes recorded in the scene whose ``scene.ply`` has this sha256 (episodes
    of scenes recorded without a digest count as matching)."""
    known = [i for i, s in enumerate(rollout.info.scene_sha256) if s in (sha256, "")]
    ids = np.unique(rollout.episode[np.isin(rollout.scene, known)])
    return [int(i) for i in ids]


def summarize(rollout: Rollout, episodes: Sequence[int]) -> list[dict[str, Any]]:
    """Per episode: ``id``, ``env``, ``steps`` (actions taken), ``return``, ``success``."""
    out = []
    for e in episodes:
        rows = rollout.rows(e)
        out.append({
            "id": e, "env": int(rollout.env[rows[0]]), "steps": len(rows) - 1,
            "return": float(rollout.reward[rows].sum()), "success": bool(rollout.success[rows].any()),
        })
    return out
