"""What an environment runs on: its scene sources resolved to bundles, loaded onto one device.

`EnvSettings` gathers the keyword arguments that ``gym.make("LyraScene-v0", ...)`` and
``gym.make_vec`` accept (one place, so both envs validate them the same way), and
`load_scenes` turns them into the nav fields, the observation renderer and the bundle paths,
and, for dynamic scenes, their moving parts (`envs.moving_parts`).

``dynamic``: None (default) runs prompts static and scenes as they are (a dynamic bundle or scene
directory with its moving parts); True (or a `DynamicConfig` / dict of its fields) generates
prompts over time and requires every scene to move; False requires every scene to be static.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from lyra_sim.config import from_dict
from lyra_sim.exporters.nav_grid import read_nav
from lyra_sim.render.lod import LODConfig
from lyra_sim.manifest import read_manifest
from lyra_sim.worlds.model_dirs import CheckpointError
from lyra_sim.worlds.prompt import parse_prompt
from lyra_sim.worlds.spec import SceneSpec

from lyra_sim.exporters.dynamic_bundle import is_dynamic_bundle

from .cache import ENV_EXPORT, bundle_for_diffusers, bundle_for_path, bundle_for_prompt, load_lod, load_ply_lod
from .episodes import EpisodeDataset, check_dataset, read_episodes
from .moving_parts import DynamicConfig, MovingParts, read_parts
from .nav_fields import UNREACHABLE, NavFields, safety_margin, scene_grid
from .pointnav import AgentConfig, PointNavTask, TaskConfig
from .rooms import SceneRooms, scene_rooms
from .views import CameraConfig, SceneViews

WORLDS = ("procedural", "diffusers")


def _config(cls, value: Any, name: str):
    """``value`` as a ``cls`` dataclass: an instance, a dict of its fields, or None (defaults)."""
    if value is None:
        return cls()
    if isinstance(value, cls):
        return value
    if isinstance(value, dict):
        return from_dict(cls, value, name)
    raise ValueError(f"{name}: expected a {cls.__name__} or a dict, got {type(value).__name__}")


def _one_or_list(value: Any, kinds: tuple[type, ...]) -> list:
    """``[value]`` for one item of ``kinds``; the items of a list or tuple of them; else ``[]``."""
    if isinstance(value, kinds):
        return [value]
    if isinstance(value, (list, tuple)) and all(isinstance(v, kinds) for v in value):
        return list(value)
    return []


def _check_condition(condition: str | dict) -> None:
    """A prompt or scene spec the procedural world model accepts (cheap: parsing only), checked at make,
    before a cache key is hashed or anything is generated."""
    try:
        if isinstance(condition, str):
            parse_prompt(condition)
        else:
            SceneSpec.from_dict(condition)
    except ValueError as exc:
        raise ValueError(str(exc) if str(exc).startswith("prompt:") else f"prompt {_kind(condition)}: {exc}") from None


def _kind(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:40] + '...' if len(text) > 40 else text}"


@dataclass(frozen=True)
class EnvSettings:
    """Everything that defines an environment (see `LyraSceneEnv` for the meaning of each)."""

    sources: tuple[tuple[str, Any], ...]  # ("prompt" | "scene" | "diffusers", value) per distinct scene
    seed: int
    agent: AgentConfig
    camera: CameraConfig
    task: TaskConfig
    lod: LODConfig
    device: torch.device
    cache_dir: Path | None
    diffusers: dict[str, Any]
    up: str = "+z"  # frame of imported splat files (`lyra_sim.exporters.alignment`)
    scale: float | str = 1.0
    dynamic: DynamicConfig | bool | None = None  # see the module docstring
    episodes: Path | None = None  # an episode dataset to replay (`envs.episodes`)
    record: Path | None = None  # a rollout file to write at close (`envs.recording`)
    record_images: bool = False


def make_settings(
    *,
    prompt: str | dict | Sequence[str | dict] | None = None,
    scene: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
    image: str | os.PathLike | None = None,
    world: str = "procedural",
    seed: int = 0,
    agent: AgentConfig | dict | None = None,
    camera: CameraConfig | dict | None = None,
    task: TaskConfig | dict | None = None,
    width: int | None = None,
    height: int | None = None,
    depth: bool | None = None,
    action_type: str | None = None,
    device: str | torch.device = "auto",
    cache_dir: str | os.PathLike | None = None,
    diffusers: dict[str, Any] | None = None,
    up: str = "+z",
    scale: float | str = 1.0,
    dynamic: bool | dict | DynamicConfig | None = None,
    episodes: str | os.PathLike | None = None,
    record: str | os.PathLike | None = None,
    record_images: bool = False,
) -> EnvSettings:
    """Validate ``make`` keyword arguments into `EnvSettings` (raises ValueError)."""
    if world not in WORLDS:
        raise ValueError(f"world: expected one of {', '.join(WORLDS)}, got {world!r}")
    if dynamic is True:
        dynamic = DynamicConfig()
    elif isinstance(dynamic, dict):
        dynamic = _config(DynamicConfig, dynamic, "dynamic")
    elif dynamic is not None and not isinstance(dynamic, (bool, DynamicConfig)):
        raise ValueError(f"dynamic: expected True, False, None or a dict of frames and fps, got {dynamic!r}")
    if isinstance(dynamic, DynamicConfig) and world == "diffusers":
        raise ValueError("dynamic=True with world='diffusers' needs a video (lyra-sim generate --video); give scene= "
                         "the dynamic scene directory or bundle it made")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")
    sources: list[tuple[str, Any]]
    if world == "diffusers":
        if scene is not None:
            raise ValueError("world='diffusers' generates the scene: give image= and/or prompt=, not scene=")
        if image is None and prompt is None:
            raise ValueError("world='diffusers' needs image= (and/or prompt= with a text-to-image model)")
        if prompt is not None and not isinstance(prompt, str):
            raise ValueError("world='diffusers' takes one prompt string")
        sources = [("diffusers", (None if image is None else str(image), prompt))]
    else:
        if image is not None:
            raise ValueError("image= needs world='diffusers' (the procedural world model takes prompts)")
        if (prompt is None) == (scene is None):
            raise ValueError("give exactly one of prompt= (generate a scene) or scene= (a bundle directory, scene directory or .ply)")
        if prompt is not None:
            prompts = _one_or_list(prompt, (str, dict))
            if not prompts:
                raise ValueError(f"prompt: expected a string, a scene-spec dict, or a non-empty list of them, got {_kind(prompt)}")
            for p in prompts:
                _check_condition(p)
            sources = [("prompt", p) for p in prompts]
        else:
            paths = _one_or_list(scene, (str, os.PathLike))
            if not paths:
                raise ValueError(f"scene: expected a path or a non-empty list of paths, got {_kind(scene)}")
            sources = [("scene", str(p)) for p in paths]
    if diffusers is not None and world != "diffusers":
        raise ValueError("diffusers= settings need world='diffusers'")
    if (up, scale) != ("+z", 1.0):
        if scene is None:
            raise ValueError("up= and scale= set the frame of imported splat files: they need scene=")
        replace(ENV_EXPORT, up=up, scale=scale)  # validates both (ValueError naming the bad one)

    camera = _config(CameraConfig, camera, "camera")
    overrides = {k: v for k, v in (("width", width), ("height", height), ("depth", depth)) if v is not None}
    camera = replace(camera, **overrides) if overrides else camera
    task = _config(TaskConfig, task, "task")
    task = replace(task, action_type=action_type) if action_type is not None else task
    agent = _config(AgentConfig, agent, "agent")
    if episodes is not None:
        if not isinstance(episodes, (str, os.PathLike)):
            raise ValueError(f"episodes: expected the path of an episode dataset (.json.gz), got {type(episodes).__name__}")
        if len(sources) != 1:
            raise ValueError("episodes= replays one scene's dataset: give one prompt= or scene=")
        if task.min_rooms_crossed is not None:
            raise ValueError("task min_rooms_crossed chooses drawn episodes; with episodes= the dataset's run "
                             "(draw them with lyra-sim episodes --min-rooms-crossed)")
    if record is not None and not isinstance(record, (str, os.PathLike)):
        raise ValueError(f"record: expected the path of a rollout file to write (.npz), got {type(record).__name__}")
    if not isinstance(record_images, bool):
        raise ValueError(f"record_images: expected True or False, got {record_images!r}")
    if record_images and record is None:
        raise ValueError("record_images=True needs record= (the rollout file the images go to)")
    if not camera.height_m < agent.height + 1e-9:
        raise ValueError(f"camera height_m {camera.height_m} m is above the agent's height {agent.height} m")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device: expected 'auto', 'cpu' or 'cuda[:i]', got {device!r}") from exc
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"device: expected 'auto', 'cpu' or 'cuda[:i]', got {device!r}")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device: {device} requested but CUDA is not available")
    return EnvSettings(
        sources=tuple(sources), seed=seed, agent=agent, camera=camera, task=task, lod=LODConfig(), device=device,
        cache_dir=Path(cache_dir) if cache_dir is not None else None, diffusers=dict(diffusers or {}), up=up, scale=scale,
        dynamic=dynamic, episodes=Path(episodes) if episodes is not None else None, record=Path(record) if record is not None else None,
        record_images=record_images,
    )


def resolve_bundle(kind: str, value: Any, settings: EnvSettings) -> Path:
    """The bundle directory of one source (generated or exported into the cache when needed)."""
    root = settings.cache_dir
    try:
        if kind == "prompt":
            dynamic = settings.dynamic if isinstance(settings.dynamic, DynamicConfig) else None
            return bundle_for_prompt(value, settings.seed, dynamic=dynamic, root=root)
        if kind == "scene":
            return bundle_for_path(value, root=root, up=settings.up, scale=settings.scale)
        image, prompt = value
        return bundle_for_diffusers(image=image, prompt=prompt, seed=settings.seed, models=settings.diffusers, root=root)
    except CheckpointError as exc:
        # Its text names the CLI flags (--video-model DIR); in gym.make they are diffusers= keys.
        raise CheckpointError(f"{exc} (in gym.make: diffusers={{'video_model': DIR, 'depth_model': DIR, 't2i_model': DIR}})") from exc
    except ValueError as exc:
        if str(exc).startswith(("scene:", "prompt:")):
            raise
        raise ValueError(f"{kind} {value!r}: {exc}") from exc


@dataclass
class LoadedScenes:
    """The device-side data of an environment's scenes.

    ``rooms``: per scene, its rooms on the nav grid (`envs.rooms`; None for one room);
    ``dataset``: the episode dataset replayed (``episodes=``), its goals being the goal pool.
    """

    bundles: list[Path]
    manifests: list[dict]
    fields: NavFields
    views: SceneViews | None  # None: loaded without the renderer (``views=False``)
    rooms: list[SceneRooms | None]
    parts: MovingParts
    dataset: EpisodeDataset | None = None



def _check_dynamic(kind: str, value: Any, bundle: Path, dynamic: DynamicConfig | bool | None) -> bool:
    """Whether the scene moves; ValueError when ``dynamic`` asks otherwise."""
    moves = is_dynamic_bundle(bundle)
    what = f"{kind} {value!r}" if kind != "scene" else f"scene {value}"
    if isinstance(dynamic, DynamicConfig) and not moves:
        raise ValueError(f"dynamic=True: {what} is static (its bundle {bundle} has no moving parts, no motion.json); "
                         "give a prompt with motion ('a corridor with a rolling cart'), a dynamic scene directory "
                         "(lyra-sim generate --dynamic) or its bundle")
    if dynamic is False and moves:
        raise ValueError(f"dynamic=False: {what} has moving parts ({bundle}/motion.json); drop dynamic=False to run them")
    return moves


def load_scenes(settings: EnvSettings, views: bool = True) -> LoadedScenes:
    """Resolve, verify and load every source of ``settings`` (see the module docstring); without
    ``views`` only what navigation needs (no levels of detail, no renderer)."""
    bundles = [resolve_bundle(kind, value, settings) for kind, value in settings.sources]
    manifests = [read_manifest(b) for b in bundles]
    agent = settings.agent
    dataset = read_episodes(settings.episodes) if settings.episodes is not None else None
    grids, lods, rooms, parts, part_lods, bands = [], [], [], [], [], []
    for (kind, value), bundle, manifest in zip(settings.sources, bundles, manifests):
        moving = read_parts(bundle) if _check_dynamic(kind, value, bundle, settings.dynamic) else []
        try:
            goal_xy = None
            if dataset is not None:
                if moving:
                    raise ValueError(f"episodes: {settings.episodes}: episode datasets hold no start times, so they "
                                     "replay static scenes only, and this scene has moving parts (motion.json)")
                check_dataset(dataset, settings.episodes, bundle, manifest, agent.radius, agent.height)
                goal_xy = dataset.goal_pool()[0]
            nav = read_nav(bundle / "nav.npz")
            grid = scene_grid(nav, agent.radius, agent.height, settings.task.goals_per_scene, goal_xy=goal_xy)
            fits = grid.clearance >= agent.radius + safety_margin(grid.resolution)
            rooms.append(scene_rooms(manifest.get("floor_plan"), manifest.get("alignment"), grid.geodesic, fits, grid.origin, grid.resolution))
        except ValueError as exc:
            raise ValueError(f"{bundle}: {exc}") from exc
        grids.append(grid)
        parts.append(moving)
        bands.append((nav.floor_z + float(nav.height_range[0]), nav.floor_z + agent.height))
        if views:
            lods.append(load_lod(bundle, settings.lod, root=settings.cache_dir))
            part_lods.append([load_ply_lod(bundle / "parts" / p.folder_name / "splats.ply", settings.lod, root=settings.cache_dir)
                              for p in moving])
    fields = NavFields(grids, settings.device)
    moving_parts = MovingParts(parts, bands, agent.radius, settings.device)
    if dataset is not None:
        _check_starts(dataset, fields, agent.radius, settings.episodes)
    return LoadedScenes(
        bundles=bundles, manifests=manifests, fields=fields,
        views=SceneViews(lods, settings.camera, settings.device, part_lods, moving_parts.scene_parts) if views else None,
        rooms=rooms, parts=moving_parts, dataset=dataset,
    )


def _check_starts(dataset: EpisodeDataset, fields: NavFields, radius: float, path: Path) -> None:
    """Every replayed start has room for the body and a path to its goal (once, at load)."""
    dev = fields.clearance.device
    scene = torch.zeros(len(dataset), dtype=torch.long, device=dev)
    xy = torch.tensor(dataset.start_xy, dtype=torch.float32, device=dev)
    goal = torch.as_tensor(dataset.goal_pool()[1], device=dev)
    fits = (fields.clearance_at(scene, xy) >= radius + fields.margin[0] - 1e-6).cpu().numpy()
    reach = (fields.geodesic_at(scene, goal, xy) < UNREACHABLE / 2).cpu().numpy()
    for ok, what in ((fits, "has no room for the agent's body there"), (reach, "cannot reach its goal on the nav grid")):
        if not ok.all():
            i = int(np.flatnonzero(~ok)[0])
            raise ValueError(f"episodes: {path}: episode {dataset.ids[i]!r}: the start {dataset.start_xy[i].tolist()} {what}")


def make_task(settings: EnvSettings, scenes: LoadedScenes, scene_ids: torch.Tensor) -> PointNavTask:
    """The navigation task of agents in scenes ``scene_ids [N]`` (a replayed dataset draws no episodes,
    so its rooms do not constrain any)."""
    s = settings
    rooms = None if scenes.dataset is not None else scenes.rooms
    return PointNavTask(scenes.fields, scene_ids, s.agent, s.task, s.camera, scenes.parts, rooms=rooms,
                        names=[str(b) for b in scenes.bundles])
