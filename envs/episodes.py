"""PointNav episode datasets: Habitat's layout, with lyra-sim's own Z-up values beside it.

``lyra-sim episodes BUNDLE --out eps.json.gz`` (`envs.episode_sampling.sample_episodes`) writes
one gzipped JSON file that habitat-lab's ``PointNavDatasetV1`` reads as it is (its
``NavigationEpisode`` fields only), and ``gym.make("LyraScene-v0", scene=BUNDLE,
episodes="eps.json.gz")`` replays (`read_episodes`)::

    {"episodes": [
       {"episode_id": "0",
        "scene_id": "<bundle directory name>/visual.glb",       (collision.glb / collision.obj without it)
        "start_position": [x, y, z],                            Habitat frame (below)
        "start_rotation": [x, y, z, w],                         unit quaternion, Habitat's order
        "info": {"geodesic_distance": m, "euclidean_distance": m, "rooms_crossed": n,
                 "lyra_sim": {"start_xy": [x, y], "start_yaw": rad, "goal_xy": [x, y], "goal_room": name}},
        "goals": [{"position": [x, y, z], "radius": success_distance}],
        "start_room": name,                                     null outside a building
        "shortest_paths": null},
       ...],
     "lyra_sim": {"format": "lyra-sim-pointnav", "format_version": 1, "scene_sha256": ..., "nav_sha256": ...,
                  "floor_z": m, "agent": {"radius", "height"}, "task": {"min_geodesic", "min_rooms_crossed",
                  "success_distance"}, "seed": s, "num_episodes": E, "frame": "..."}}

**Frames.** Habitat is Y-up with agents looking down -Z; lyra-sim is Z-up with yaw measured
counterclockwise from +x. A lyra-sim point ``(x, y, z)`` is Habitat's ``(x, z, -y)`` (a -90° turn
about x: the same matrix a lyra-sim GLB puts on its root node, `lyra_sim.exporters.meshes`), so
``start_position = (x, floor_z, -y)``; a heading ``yaw`` is Habitat's rotation about +Y by
``yaw - π/2``: ``start_rotation = (0, sin(θ/2), 0, cos(θ/2))`` with ``θ = yaw - π/2`` wrapped
to [-π, π] (so ``w >= 0``). The native
values (``info.lyra_sim``) are what the env replays; a file whose Habitat and native values
disagree is refused.

``scene_sha256`` / ``nav_sha256`` are the bundle manifest's digests of ``scene.ply`` and
``nav.npz``: an env replays a dataset only on the scene it was drawn in, for the agent it was
drawn for (radius and height decide where starts fit).
"""

from __future__ import annotations

import gzip
import json
import math
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lyra_sim.atomic import atomic_path

FORMAT = "lyra-sim-pointnav"
FORMAT_VERSION = 1
FRAME = "habitat (x, y, z) = lyra-sim (x, z, -y); start_rotation xyzw about +Y by yaw - pi/2 (Habitat looks down -Z)"
_AGREE = 1e-4  # m / rad: Habitat and native values of one episode must agree this closely


def habitat_position(xy, z: float) -> list[float]:
    """lyra-sim ``xy [2]`` at height ``z`` → Habitat ``[x, y, z]`` (Y-up)."""
    return [float(xy[0]), float(z), -float(xy[1])]


def habitat_rotation(yaw: float) -> list[float]:
    """lyra-sim heading ``yaw`` (rad, counterclockwise from +x) → Habitat ``[x, y, z, w]`` quaternion."""
    half = math.remainder(yaw - math.pi / 2, 2 * math.pi) / 2  # in [-π/2, π/2]: w >= 0 (q and -q are one turn)
    return [0.0, math.sin(half), 0.0, math.cos(half)]


def yaw_from_habitat(rotation) -> float:
    """Habitat ``[x, y, z, w]`` (a turn about +Y) → lyra-sim yaw in (-π, π]."""
    _, y, _, w = (float(v) for v in rotation)
    theta = 2 * math.atan2(y, w)
    return math.remainder(theta + math.pi / 2, 2 * math.pi)


@dataclass(frozen=True)
class EpisodeDataset:
    """A dataset's episodes as arrays (native lyra-sim values) and what they were drawn for.

    Attributes:
        ids: ``[E]`` episode ids (Habitat's ``episode_id``).
        start_xy: ``[E, 2]`` float64; start_yaw: ``[E]``; goal_xy: ``[E, 2]``.
        geodesic: ``[E]`` start-to-goal geodesic distance the dataset recorded (m).
        rooms_crossed: ``[E]`` int64.
        scene_sha256, nav_sha256: the bundle's ``scene.ply`` and ``nav.npz`` digests.
        agent_radius, agent_height: the agent the starts were drawn for (m).
        header: the file's ``lyra_sim`` entry as read.
    """

    ids: tuple[str, ...]
    start_xy: np.ndarray
    start_yaw: np.ndarray
    goal_xy: np.ndarray
    geodesic: np.ndarray
    rooms_crossed: np.ndarray
    scene_sha256: str
    nav_sha256: str
    agent_radius: float
    agent_height: float
    header: dict

    def __len__(self) -> int:
        return len(self.ids)

    def goal_pool(self) -> tuple[np.ndarray, np.ndarray]:
        """The distinct goals ``[G, 2]`` in order of first use, and each episode's index ``[E]`` into them."""
        unique, first, inverse = np.unique(self.goal_xy, axis=0, return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        return unique[order], rank[inverse.reshape(-1)]


def write_episodes(path: str | os.PathLike, data: dict[str, Any]) -> Path:
    """Write ``data`` (the layout above) as gzipped JSON, atomically; the same data gives the same
    bytes (no timestamp or file name in the gzip header)."""
    path = Path(path)
    text = json.dumps(data, separators=(",", ":"), allow_nan=False).encode()
    with atomic_path(path) as tmp, open(tmp, "wb") as raw, \
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as gz:
        gz.write(text)
    return path


def _number(where: str, value, *, integer: bool = False) -> float:
    ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    if not ok or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"{where}: expected a finite {'integer' if integer else 'number'}, got {value!r}")
    return value


def _vector(where: str, value, n: int) -> list[float]:
    if not isinstance(value, list) or len(value) != n:
        raise ValueError(f"{where}: expected a list of {n} numbers, got {value!r}")
    return [_number(f"{where}[{i}]", v) for i, v in enumerate(value)]


def _field(where: str, d: dict, key: str, kind: type | tuple[type, ...]):
    if not isinstance(d, dict) or key not in d:
        raise ValueError(f"{where}: missing '{key}'")
    if not isinstance(d[key], kind):
        raise ValueError(f"{where}.{key}: expected {getattr(kind, '__name__', kind)}, got {type(d[key]).__name__}")
    return d[key]


def _header(data: dict) -> dict:
    head = data.get("lyra_sim") if isinstance(data, dict) else None
    if not isinstance(head, dict) or head.get("format") != FORMAT:
        raise ValueError(f"not a lyra-sim episode dataset (expected a 'lyra_sim' entry with format \"{FORMAT}\": "
                         "files written by lyra-sim episodes)")
    if head.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"episode dataset format version {head.get('format_version')!r}; this lyra-sim reads version {FORMAT_VERSION}")
    for key in ("scene_sha256", "nav_sha256"):
        _field("lyra_sim", head, key, str)
    _number("lyra_sim.floor_z", _field("lyra_sim", head, "floor_z", (int, float)))
    agent = _field("lyra_sim", head, "agent", dict)
    for key in ("radius", "height"):
        if not _number(f"lyra_sim.agent.{key}", _field("lyra_sim.agent", agent, key, (int, float))) > 0:
            raise ValueError(f"lyra_sim.agent.{key}: expected > 0, got {agent[key]}")
    return head


def _episode(i: int, ep, floor_z: float) -> tuple[str, list[float], float, list[float], float, int]:
    where = f"episodes[{i}]"
    if not isinstance(ep, dict):
        raise ValueError(f"{where}: expected an object, got {type(ep).__name__}")
    eid = _field(where, ep, "episode_id", str)
    position = _vector(f"{where}.start_position", _field(where, ep, "start_position", list), 3)
    rotation = _vector(f"{where}.start_rotation", _field(where, ep, "start_rotation", list), 4)
    goals = _field(where, ep, "goals", list)
    if len(goals) != 1:
        raise ValueError(f"{where}.goals: expected one point goal, got {len(goals)}")
    goal = _vector(f"{where}.goals[0].position", _field(f"{where}.goals[0]", goals[0], "position", list), 3)
    info = _field(where, ep, "info", dict)
    geodesic = _number(f"{where}.info.geodesic_distance", _field(f"{where}.info", info, "geodesic_distance", (int, float)))
    crossed = _number(f"{where}.info.rooms_crossed", _field(f"{where}.info", info, "rooms_crossed", int), integer=True)
    native = _field(f"{where}.info", info, "lyra_sim", dict)
    start_xy = _vector(f"{where}.info.lyra_sim.start_xy", _field(f"{where}.info.lyra_sim", native, "start_xy", list), 2)
    goal_xy = _vector(f"{where}.info.lyra_sim.goal_xy", _field(f"{where}.info.lyra_sim", native, "goal_xy", list), 2)
    yaw = _number(f"{where}.info.lyra_sim.start_yaw", _field(f"{where}.info.lyra_sim", native, "start_yaw", (int, float)))
    norm = math.sqrt(sum(v * v for v in rotation))
    if abs(norm - 1) > _AGREE or abs(rotation[0]) > _AGREE or abs(rotation[2]) > _AGREE:
        raise ValueError(f"{where}.start_rotation: expected a unit quaternion [x, y, z, w] turning about +Y, got {rotation}")
    gaps = {
        "start_position": np.abs(np.subtract(position, habitat_position(start_xy, floor_z))).max(),
        "goals[0].position": np.abs(np.subtract(goal, habitat_position(goal_xy, floor_z))).max(),
        "start_rotation": abs(math.remainder(yaw_from_habitat(rotation) - yaw, 2 * math.pi)),
    }
    for key, gap in gaps.items():
        if gap > _AGREE:
            raise ValueError(f"{where}.{key} disagrees with info.lyra_sim by {gap:.3g} (edit both, or neither)")
    return eid, start_xy, yaw, goal_xy, geodesic, crossed


def parse_episodes(data: Any) -> EpisodeDataset:
    """An `EpisodeDataset` from the decoded JSON ``data`` (ValueError naming the first bad entry)."""
    head = _header(data)
    episodes = data.get("episodes")
    if not isinstance(episodes, list) or not episodes:
        raise ValueError("episodes: expected a non-empty list")
    rows = [_episode(i, ep, float(head["floor_z"])) for i, ep in enumerate(episodes)]
    ids = tuple(r[0] for r in rows)
    if len(set(ids)) != len(ids):
        raise ValueError(f"episodes: episode_id values must be unique ({len(ids) - len(set(ids))} repeated)")
    return EpisodeDataset(
        ids=ids,
        start_xy=np.array([r[1] for r in rows], np.float64),
        start_yaw=np.array([r[2] for r in rows], np.float64),
        goal_xy=np.array([r[3] for r in rows], np.float64),
        geodesic=np.array([r[4] for r in rows], np.float64),
        rooms_crossed=np.array([r[5] for r in rows], np.int64),
        scene_sha256=head["scene_sha256"],
        nav_sha256=head["nav_sha256"],
        agent_radius=float(head["agent"]["radius"]),
        agent_height=float(head["agent"]["height"]),
        header=head,
    )


def read_episodes(path: str | os.PathLike) -> EpisodeDataset:
    """Read and validate a dataset written by `write_episodes` (any problem: one ValueError naming the file)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"episodes: {path}: no such episode dataset (write one with lyra-sim episodes BUNDLE --out {path.name})")
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"episodes: {path}: not a gzipped JSON episode dataset ({exc})") from exc
    try:
        return parse_episodes(data)
    except ValueError as exc:
        raise ValueError(f"episodes: {path}: {exc}") from exc


def check_dataset(dataset: EpisodeDataset, path: str | os.PathLike, bundle: Path, manifest: dict,
                  agent_radius: float, agent_height: float) -> None:
    """ValueError unless ``dataset`` was drawn in ``bundle`` (same ``scene.ply`` and ``nav.npz``) for
    an agent of this radius and height."""
    files = manifest.get("files", {})
    for key, name in (("scene_sha256", "scene.ply"), ("nav_sha256", "nav.npz")):
        ours, theirs = files.get(name, ""), getattr(dataset, key)
        if ours != theirs:
            raise ValueError(f"episodes: {path} was drawn in another scene (its {name} sha256 {theirs[:12]}..., this "
                             f"bundle's {ours[:12]}...): draw a dataset for it with lyra-sim episodes {bundle}")
    if abs(dataset.agent_radius - agent_radius) > 1e-9 or abs(dataset.agent_height - agent_height) > 1e-9:
        raise ValueError(f"episodes: {path} was drawn for an agent of radius {dataset.agent_radius} m and height "
                         f"{dataset.agent_height} m; this env's agent is {agent_radius} m, {agent_height} m "
                         "(pass agent={'radius': ..., 'height': ...} to match, or draw a dataset for this agent)")


class EpisodeCursor:
    """Which dataset episode each of ``num_envs`` envs runs next: env ``i`` runs episodes ``i``,
    ``i + N``, ``i + 2N``, ... (modulo ``E``: the dataset repeats), so every env's sequence is fixed
    and ``N`` envs together run all ``E`` episodes after ``ceil(E / N)`` episodes each."""

    def __init__(self, dataset: EpisodeDataset, num_envs: int) -> None:
        self.dataset, self.num_envs = dataset, num_envs
        self.goal_index = dataset.goal_pool()[1]
        self.rewind()

    def rewind(self) -> None:
        """Back to every env's first episode."""
        self._next = np.arange(self.num_envs, dtype=np.int64)

    def __call__(self, env: int) -> tuple[np.ndarray, float, int, int]:
        """Env ``env``'s next episode: start ``xy [2]``, ``yaw``, pool goal index and dataset index."""
        e = int(self._next[env] % len(self.dataset))
        self._next[env] += self.num_envs
        d = self.dataset
        return d.start_xy[e], float(d.start_yaw[e]), int(self.goal_index[e]), e
