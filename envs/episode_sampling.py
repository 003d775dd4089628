"""Drawing a PointNav episode dataset for one bundle (``lyra-sim episodes``; the layout: `envs.episodes`).

The episodes are exactly those a single ``LyraScene-v0`` on the bundle starts after
``reset(seed=seed)`` followed by plain ``reset()`` calls (same agent and task): the same
`PointNavTask.draw_episode` from the same generator, so a dataset is the env's own episode
distribution frozen (in a building, every path crosses at least ``min_rooms_crossed`` rooms).
Positions and headings are stored at the float32 precision the env runs them at, so a replay
starts exactly there and reports the recorded geodesic distance.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from gymnasium.utils import seeding

from lyra_sim.exporters.nav_grid import read_nav

from .episodes import FORMAT, FORMAT_VERSION, FRAME, habitat_position, habitat_rotation
from .pointnav import AgentConfig, TaskConfig
from .settings import load_scenes, make_settings, make_task

SCENE_FILES = ("visual.glb", "collision.glb", "collision.obj")
"""The bundle file a dataset's ``scene_id`` names: the first the bundle has (Habitat loads meshes)."""


def _f32(v: float) -> float:
    return float(np.float32(v))


def _room(rooms, fields, xy: np.ndarray) -> str | None:
    """Name of the room under ``xy`` (None outside a building or outside every room)."""
    if rooms is None:
        return None
    res, origin = float(fields.resolution_host[0]), fields.origin_host[0]
    ix, iy = np.floor((xy - origin) / res).astype(np.int64)
    ny, nx = rooms.ids.shape
    i = int(rooms.ids[iy, ix]) if 0 <= ix < nx and 0 <= iy < ny else -1
    return rooms.names[i] if i >= 0 else None


def sample_episodes(
    scene: str | os.PathLike,
    num: int,
    seed: int = 0,
    *,
    agent: AgentConfig | dict | None = None,
    task: TaskConfig | dict | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """``num`` episodes in ``scene`` (a bundle, or anything ``scene=`` takes) as the dataset dict
    `envs.episodes.write_episodes` writes.

    Args:
        seed: the episodes' generator seed (same seed, same dataset).
        agent, task: as in ``gym.make`` (`AgentConfig`, `TaskConfig` or dicts of their fields).
    """
    if not (isinstance(num, int) and not isinstance(num, bool) and num >= 1):
        raise ValueError(f"num: expected a positive number of episodes, got {num!r}")
    settings = make_settings(scene=scene, seed=0, agent=agent, task=task, device="cpu", cache_dir=cache_dir)
    scenes = load_scenes(settings, views=False)
    t = make_task(settings, scenes, torch.zeros(1, dtype=torch.long))
    bundle, manifest, fields, rooms = scenes.bundles[0], scenes.manifests[0], scenes.fields, scenes.rooms[0]
    rng = seeding.np_random(seed)[0]
    if scenes.parts.any:
        raise ValueError(f"{bundle}: has moving parts (motion.json), and episode datasets hold no start times "
                         "(they replay static scenes only)")
    draws = [t.draw_episode(0, rng)[:3] for _ in range(num)]
    xy = np.array([[_f32(p[0]), _f32(p[1])] for p, _, _ in draws])
    yaw = [_f32(y) for _, y, _ in draws]
    goal = np.array([k for _, _, k in draws])
    geodesic = fields.geodesic_at(torch.zeros(num, dtype=torch.long), torch.as_tensor(goal), torch.tensor(xy, dtype=torch.float32))
    goals = fields.goals[0].numpy()  # float32, as the env compares positions with them
    pool = _pool_xy(fields, bundle)  # float64 cell centers: what a replay rebuilds the same pool from
    floor_z = float(fields.floor_z[0])
    scene_file = next((n for n in SCENE_FILES if n in manifest.get("files", {})), "collision.obj")
    episodes = []
    for i in range(num):
        k = int(goal[i])
        episodes.append({
            "episode_id": str(i),
            "scene_id": f"{bundle.name}/{scene_file}",
            "start_position": habitat_position(xy[i], floor_z),
            "start_rotation": habitat_rotation(yaw[i]),
            "info": {
                "geodesic_distance": float(geodesic[i]),
                "euclidean_distance": float(np.float32(np.linalg.norm(goals[k] - xy[i].astype(np.float32)))),
                "rooms_crossed": t.rooms_crossed(0, k, xy[i]),
                "lyra_sim": {"start_xy": xy[i].tolist(), "start_yaw": yaw[i], "goal_xy": pool[k].tolist(),
                             "goal_room": _room(rooms, fields, pool[k])},
            },
            "goals": [{"position": habitat_position(pool[k], floor_z), "radius": settings.task.success_distance}],
            "start_room": _room(rooms, fields, xy[i]),
            "shortest_paths": None,
        })
    files = manifest.get("files", {})
    return {
        "episodes": episodes,
        "lyra_sim": {
            "format": FORMAT, "format_version": FORMAT_VERSION, "bundle": bundle.name,
            "scene_sha256": files.get("scene.ply", ""), "nav_sha256": files.get("nav.npz", ""), "floor_z": floor_z,
            "agent": {"radius": settings.agent.radius, "height": settings.agent.height},
            "task": {"min_geodesic": settings.task.min_geodesic, "min_rooms_crossed": t.min_rooms[0],
                     "success_distance": settings.task.success_distance, "goals_per_scene": settings.task.goals_per_scene},
            "rooms": list(rooms.names) if rooms is not None else [],
            "seed": seed, "num_episodes": num, "frame": FRAME,
        },
    }


def _pool_xy(fields, bundle) -> np.ndarray:
    """``[K, 2]`` float64 world xy of scene 0's pool goals: their cell centers, computed as
    `envs.nav_fields.scene_grid` computes them (from the grid's float64 origin)."""
    nav = read_nav(bundle / "nav.npz")
    cells = np.floor((fields.goals[0].numpy().astype(np.float64) - nav.origin) / nav.resolution).astype(np.int64)
    return nav.origin + (cells + 0.5) * nav.resolution


def summarize_episodes(data: dict[str, Any]) -> dict[str, Any]:
    """Mean / min / max geodesic distance (m) and the rooms-crossed histogram of a dataset dict."""
    geo = np.array([e["info"]["geodesic_distance"] for e in data["episodes"]])
    crossed = np.array([e["info"]["rooms_crossed"] for e in data["episodes"]])
    values, counts = np.unique(crossed, return_counts=True)
    return {
        "episodes": len(geo), "geodesic_mean": float(geo.mean()), "geodesic_min": float(geo.min()),
        "geodesic_max": float(geo.max()), "rooms_crossed": {int(v): int(c) for v, c in zip(values, counts)},
        "rooms": len(data["lyra_sim"]["rooms"]),
    }
