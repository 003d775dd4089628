"""`DynamicScene`: Gaussians over time (4D), one `GaussianScene` per time, and its directory ``scene4d/``.

Lyra's dynamic half (arXiv 2509.19296) outputs a complete Gaussian set for each target time
("bullet time"), one PLY per time; this is that type. `GaussianScene` stays static: a dynamic
scene is a sequence of them sharing one label table, at strictly increasing times in seconds.

On disk (``write_scene4d`` / ``read_scene4d``), a directory::

    scene4d/
        index.json      {"format": "lyra-sim-scene4d", "version": 1, "times": [...], "fps": ...,
                         "label_names": [...], "files": ["t0000.ply", ...], "num_gaussians": [...]}
        t0000.ply ...   one INRIA 3DGS PLY per time (`lyra_sim.ply`)

written atomically (built beside the target, then renamed); reading checks that the index and
the files agree and names what does not.

Rigid motions (`rigid_transform`) turn positions, rotations *and* view-dependent color: SH
bands above degree 0 are rotated with `lyra_sim.sh.rotate_sh` (degree 0 is rotation-invariant).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import torch
from torch import Tensor

from .atomic import atomic_directory
from .config import read_json
from .ply import read_ply, write_ply
from .scene import GaussianScene, merge, quat_multiply, rotmat_to_quat
from .sh import rotate_sh

FORMAT = "lyra-sim-scene4d"
FORMAT_VERSION = 1
INDEX = "index.json"


def frame_file(index: int) -> str:
    """The PLY name of time ``index`` inside ``scene4d/``."""
    return f"t{index:04d}.ply"


def _check_rotation(rotation: Tensor, device: torch.device) -> Tensor:
    r = torch.as_tensor(rotation, dtype=torch.float32, device=device)
    if r.shape != (3, 3):
        raise ValueError(f"rotation: expected [3, 3], got {list(r.shape)}")
    if not torch.allclose(r @ r.T, torch.eye(3, device=device), atol=1e-4) or float(torch.det(r)) < 0:
        raise ValueError("rotation: not a proper rotation matrix (orthonormal with det +1)")
    return r


def rigid_transform(scene: GaussianScene, rotation: Tensor, translation: Tensor,
                    mask: Tensor | None = None) -> GaussianScene:
    """Move Gaussians rigidly, ``x ↦ R x + t``: centers, rotations and SH colors.

    Args:
        rotation: ``[3, 3]`` proper rotation; translation: ``[3]``.
        mask: ``[N]`` bool, the Gaussians that move (None: all).
    """
    r = _check_rotation(rotation, scene.device)
    t = torch.as_tensor(translation, dtype=torch.float32, device=scene.device)
    if t.shape != (3,):
        raise ValueError(f"translation: expected shape [3], got {list(t.shape)}")
    index = torch.arange(len(scene), device=scene.device) if mask is None else torch.nonzero(mask).flatten()
    if mask is not None and tuple(mask.shape) != (len(scene),):
        raise ValueError(f"mask: expected shape [{len(scene)}], got {list(mask.shape)}")
    q = rotmat_to_quat(r[None])[0]
    quats = scene.quats.clone()
    quats[index] = quat_multiply(q.expand(len(index), 4), torch.nn.functional.normalize(scene.quats[index], dim=-1))
    means = scene.means.clone()
    means[index] = scene.means[index] @ r.T + t
    sh = scene.sh
    if scene.sh_degree > 0:
        sh = sh.clone()
        sh[index] = rotate_sh(scene.sh[index], r)
    return replace(scene, means=means, quats=quats, sh=sh)


def pose_matrix(rotation: Tensor, translation: Tensor) -> Tensor:
    """``[4, 4]`` rigid transform from ``R [3, 3]`` and ``t [3]`` (float64)."""
    m = torch.eye(4, dtype=torch.float64)
    m[:3, :3] = torch.as_tensor(rotation, dtype=torch.float64)
    m[:3, 3] = torch.as_tensor(translation, dtype=torch.float64)
    return m


@dataclass(frozen=True)
class DynamicScene:
    """Gaussians at T times.

    Attributes:
        times: ``T`` times in seconds, finite and strictly increasing.
        scenes: ``T`` `GaussianScene` values (each validated as usual), on one device, sharing
            one label table (``label_names``; all labelled or none). Their sizes may differ.
        fps: the frame rate the times were sampled at, or None (irregular times).

    Construction raises ``ValueError`` naming the bad field.
    """

    times: tuple[float, ...]
    scenes: tuple[GaussianScene, ...]
    fps: float | None = None

    def __post_init__(self) -> None:
        times = tuple(self.times.tolist()) if isinstance(self.times, Tensor) else tuple(self.times)
        if not times:
            raise ValueError("times: a dynamic scene needs at least one time")
        for i, t in enumerate(times):
            if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t):
                raise ValueError(f"times[{i}]: expected a finite number of seconds, got {t!r}")
        times = tuple(float(t) for t in times)
        bad = [i for i in range(1, len(times)) if not times[i] > times[i - 1]]
        if bad:
            raise ValueError(f"times: must increase strictly; times[{bad[0]}] = {times[bad[0]]} follows {times[bad[0] - 1]}")
        object.__setattr__(self, "times", times)
        scenes = tuple(self.scenes)
        if len(scenes) != len(times):
            raise ValueError(f"scenes: {len(scenes)} scenes for {len(times)} times (one scene per time)")
        for i, s in enumerate(scenes):
            if not isinstance(s, GaussianScene):
                raise ValueError(f"scenes[{i}]: expected a GaussianScene, got {type(s).__name__}")
            if s.device != scenes[0].device:
                raise ValueError(f"scenes[{i}]: on {s.device}, but scenes[0] is on {scenes[0].device}")
            if (s.labels is None) != (scenes[0].labels is None) or s.label_names != scenes[0].label_names:
                raise ValueError(f"scenes[{i}]: label table {list(s.label_names)} differs from scenes[0]'s "
                                 f"{list(scenes[0].label_names)} (a dynamic scene has one label table)")
        object.__setattr__(self, "scenes", scenes)
        if self.fps is not None:
            if isinstance(self.fps, bool) or not isinstance(self.fps, (int, float)) or not (
                    math.isfinite(self.fps) and self.fps > 0):
                raise ValueError(f"fps: expected a positive number of frames per second or None, got {self.fps!r}")
            object.__setattr__(self, "fps", float(self.fps))

    # ------------------------------------------------------------------ basics
    def __len__(self) -> int:
        return len(self.times)

    def __getitem__(self, index: int) -> GaussianScene:
        return self.scenes[index]

    @property
    def label_names(self) -> tuple[str, ...]:
        return self.scenes[0].label_names

    @property
    def device(self) -> torch.device:
        return self.scenes[0].device

    @property
    def duration(self) -> float:
        """Seconds from the first time to the last."""
        return self.times[-1] - self.times[0]

    def nearest(self, time: float) -> int:
        """Index of the time closest to ``time`` (the earlier one on a tie)."""
        return min(range(len(self.times)), key=lambda i: (abs(self.times[i] - time), i))

    def to(self, device: torch.device | str) -> "DynamicScene":
        return replace(self, scenes=tuple(s.to(device) for s in self.scenes))

    def select(self, indices: Sequence[int]) -> "DynamicScene":
        """The times at ``indices`` (increasing), with their scenes."""
        indices = list(indices)
        if any(not 0 <= i < len(self) for i in indices):
            raise ValueError(f"indices: expected values in 0..{len(self) - 1}, got {indices}")
        return DynamicScene(tuple(self.times[i] for i in indices), tuple(self.scenes[i] for i in indices), self.fps)

    # ------------------------------------------------------------------ per time
    def transform(self, rotation: Tensor, translation: Tensor | None = None) -> "DynamicScene":
        """`rigid_transform` at every time (``x ↦ R x + t``; SH bands rotate along)."""
        t = torch.zeros(3) if translation is None else translation
        return replace(self, scenes=tuple(rigid_transform(s, rotation, t) for s in self.scenes))

    def crop(self, lo: Sequence[float] | Tensor, hi: Sequence[float] | Tensor) -> "DynamicScene":
        """`GaussianScene.crop` at every time."""
        return replace(self, scenes=tuple(s.crop(lo, hi) for s in self.scenes))

    def prune(self, min_opacity: float) -> "DynamicScene":
        return replace(self, scenes=tuple(s.prune(min_opacity) for s in self.scenes))


def merge_dynamic(parts: Sequence[DynamicScene]) -> DynamicScene:
    """`lyra_sim.scene.merge` time by time; every part must have the same times."""
    if not parts:
        raise ValueError("merge_dynamic: no scenes given")
    for i, p in enumerate(parts):
        if p.times != parts[0].times:
            raise ValueError(f"merge_dynamic: part {i} has times {list(p.times)}, part 0 {list(parts[0].times)}; "
                             "merge scenes sampled at the same times")
    fps = parts[0].fps if all(p.fps == parts[0].fps for p in parts) else None
    return DynamicScene(parts[0].times, tuple(merge([p.scenes[t] for p in parts]) for t in range(len(parts[0]))), fps)


# ---------------------------------------------------------------------- on disk
def write_scene4d(path: str | os.PathLike, scene: DynamicScene, *, overwrite: bool = False) -> dict:
    """Write ``scene`` as a ``scene4d/`` directory at ``path`` atomically; returns the index written."""
    index = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "times": list(scene.times),
        "fps": scene.fps,
        "label_names": list(scene.label_names),
        "files": [frame_file(i) for i in range(len(scene))],
        "num_gaussians": [len(s) for s in scene.scenes],
    }
    with atomic_directory(path, overwrite=overwrite) as tmp:
        for name, s in zip(index["files"], scene.scenes):
            write_ply(tmp / name, s)
        (tmp / INDEX).write_text(json.dumps(index, indent=1) + "\n")
    return index


def read_index(path: str | os.PathLike) -> dict:
    """``scene4d/index.json``, checked: format, version, one file per time, increasing times."""
    path = Path(path)
    file = path / INDEX
    if not file.is_file():
        raise FileNotFoundError(f"{path}: no {INDEX} (not a scene4d directory written by lyra-sim)")
    index = read_json(file)  # UTF-8, valid JSON, nesting capped: ValueError naming the file
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        raise ValueError(f"{file}: not a scene4d index (expected \"format\": \"{FORMAT}\")")
    if index.get("version") != FORMAT_VERSION:
        raise ValueError(f"{file}: scene4d version {index.get('version')!r}; this lyra-sim reads {FORMAT_VERSION}")
    for key, kind in (("times", list), ("files", list), ("label_names", list)):
        if not isinstance(index.get(key), kind):
            raise ValueError(f"{file}: {key!r} missing or not a list")
    if len(index["files"]) != len(index["times"]):
        raise ValueError(f"{file}: {len(index['files'])} files for {len(index['times'])} times (one PLY per time)")
    listed = set(index["files"])
    if any(not isinstance(n, str) or "/" in n or not n.endswith(".ply") for n in listed) or len(listed) != len(index["files"]):
        raise ValueError(f"{file}: 'files' must be distinct .ply names inside the directory")
    missing = [n for n in index["files"] if not (path / n).is_file()]
    if missing:
        raise FileNotFoundError(f"{path}: missing {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''} "
                                f"listed in {INDEX}")
    extra = sorted(p.name for p in path.glob("*.ply") if p.name not in listed)
    if extra:
        raise ValueError(f"{path}: {', '.join(extra[:3])} not listed in {INDEX} (a mixed-up scene4d directory?)")
    return index


def read_scene4d(path: str | os.PathLike, device: torch.device | str = "cpu") -> DynamicScene:
    """Read a ``scene4d/`` directory; every PLY must carry the index's label table and Gaussian count."""
    path = Path(path)
    index = read_index(path)
    names = tuple(index["label_names"])
    counts = index.get("num_gaussians")
    scenes = []
    for i, name in enumerate(index["files"]):
        s = read_ply(path / name, device=device)
        if s.label_names != names:
            raise ValueError(f"{path / name}: label names {list(s.label_names)} differ from {INDEX}'s {list(names)}")
        if counts is not None and len(s) != counts[i]:
            raise ValueError(f"{path / name}: {len(s)} Gaussians, but {INDEX} records {counts[i]}")
        scenes.append(s)
    try:
        return DynamicScene(tuple(index["times"]), tuple(scenes), index.get("fps"))
    except ValueError as exc:
        raise ValueError(f"{path / INDEX}: {exc}") from exc


def poses_apply(rest: Tensor, poses: Tensor) -> Tensor:
    """Points ``rest: [P, 3]`` under rigid transforms ``poses: [T, 4, 4]`` → ``[T, P, 3]``."""
    p = poses.to(rest.dtype)
    return torch.einsum("tij,pj->tpi", p[:, :3, :3], rest) + p[:, None, :3, 3]


__all__ = ["FORMAT", "FORMAT_VERSION", "INDEX", "DynamicScene", "frame_file", "merge_dynamic", "pose_matrix",
           "poses_apply", "read_index", "read_scene4d", "rigid_transform", "write_scene4d"]
