"""Teacher data of self-distillation: a scene seed → the world model's frames, depth and cameras.

Scenes are staged on CPU workers (`TeacherSource`) and rendered on the training device
(`materialize`), or read from a teacher cache of safetensors files written by `build_cache`
(uint8 frames, float16 depth, float32 cameras; the video and world settings in the metadata).
A dynamic teacher (`lyra_sim.worlds.dynamic_video`) adds the frames' times, the held-out views'
target times (float64 seconds) and moving-object label maps (uint8).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.distributed as dist
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import Tensor

from ..atomic import atomic_path
from ..cameras import TRAJECTORIES
from ..decoder.checkpoint import WorldSettings
from ..images import to_uint8
from ..video import VideoSpec
from ..worlds.procedural_video import ProceduralWorld, StagedScene, make_world
from .config import DistillConfig
from .distributed import DistEnv

CACHE_FORMAT = "lyra-sim-teacher"


def teacher_world(settings: WorldSettings, device: str | torch.device, between: float = 0.5) -> ProceduralWorld:
    """The world model of ``settings`` (a run's ``world`` section), rendering on ``device``; ``between``:
    a dynamic world's share of held-out target times between input frames (`DataSettings.between`)."""
    return make_world(settings.name, device, spacing=settings.spacing, fps=settings.fps, between=between)


@dataclass
class TeacherSample:
    """One scene's supervision, on the training device.

    Attributes:
        seed: scene seed.
        frames: ``[V, T, H, W, 3]`` in [0, 1]; depth: ``[V, T, H, W, 1]`` or None.
        viewmats: ``[V, T, 4, 4]``; Ks: ``[V, T, 3, 3]``.
        hold_frames: ``[K, H, W, 3]``; hold_depth: ``[K, H, W, 1]`` or None;
        hold_viewmats: ``[K, 4, 4]``; hold_Ks: ``[K, 3, 3]`` (K may be 0).
        times: ``[T]`` seconds of the frames (dynamic teachers; None: static);
        hold_times: ``[K]`` target times of the held-out views; labels: ``[V, T, H, W]`` and
        hold_labels: ``[K, H, W]`` int64 moving-object indices (0: none), or None;
        poses: ``[T, M, 4, 4]`` and hold_poses: ``[K, M, 4, 4]`` float64, each moving object's pose at each
        frame's and each held-out view's time (label ``m + 1`` is object ``m``), or None.
    """

    seed: int
    frames: Tensor
    depth: Tensor | None
    viewmats: Tensor
    Ks: Tensor
    hold_frames: Tensor
    hold_depth: Tensor | None
    hold_viewmats: Tensor
    hold_Ks: Tensor
    times: Tensor | None = None
    hold_times: Tensor | None = None
    labels: Tensor | None = None
    hold_labels: Tensor | None = None
    poses: Tensor | None = None
    hold_poses: Tensor | None = None


def _video_meta(spec: VideoSpec, world: WorldSettings) -> str:
    return json.dumps({"video": asdict(spec), "world": asdict(world)}, sort_keys=True)


def cache_path(cache_dir: str | os.PathLike, seed: int) -> Path:
    return Path(cache_dir) / f"scene_{seed:010d}.safetensors"


def _to_cache_tensors(video, staged: StagedScene) -> dict[str, Tensor]:
    """A `MultiViewVideo` shot from ``staged`` → tensors as stored: uint8 frames, float16 depth, float32
    cameras; a dynamic scene's mover poses in float64."""

    def u8(x: Tensor) -> Tensor:
        return to_uint8(x).cpu().contiguous()

    def labels(x: Tensor) -> Tensor:
        return x.clamp(0, 255).to(torch.uint8).cpu().contiguous()

    out = {"frames": u8(video.frames), "viewmats": video.viewmats.cpu().contiguous(), "Ks": video.Ks.cpu().contiguous()}
    if video.depth is not None:
        out["depth"] = video.depth.to(torch.float16).cpu().contiguous()
    if video.times is not None:
        out["times"] = video.times.to(torch.float64).cpu().contiguous()
    if video.labels is not None:
        out["labels"] = labels(video.labels)
    if video.holdout is not None:
        h = video.holdout
        out.update(hold_frames=u8(h.frames), hold_viewmats=h.viewmats.cpu().contiguous(), hold_Ks=h.Ks.cpu().contiguous())
        if h.depth is not None:
            out["hold_depth"] = h.depth.to(torch.float16).cpu().contiguous()
        if h.times is not None:
            out["hold_times"] = h.times.to(torch.float64).cpu().contiguous()
        if h.labels is not None:
            out["hold_labels"] = labels(h.labels)
    # A scene without movers keeps no poses (a [T, 0, 4, 4] tensor would be empty on disk anyway).
    if getattr(staged, "movers", ()) and staged.frame_poses is not None:
        out["poses"] = torch.from_numpy(np.ascontiguousarray(staged.frame_poses, dtype=np.float64))
        if staged.holdout_poses is not None:
            out["hold_poses"] = torch.from_numpy(np.ascontiguousarray(staged.holdout_poses, dtype=np.float64))
    return out


def read_cached(path: Path, expected_meta: str) -> dict[str, Tensor]:
    """Tensors of one cached teacher video; its video/world settings must equal the run's."""
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            if meta.get("format") != CACHE_FORMAT:
                raise ValueError(f"{path}: not a lyra-sim teacher cache file (format {meta.get('format')!r})")
            if meta.get("settings") != expected_meta:
                raise ValueError(
                    f"{path}: cached with different video/world settings ({meta.get('settings')}) than this run "
                    f"({expected_meta}); rebuild the cache (--build-cache) or point data.cache_dir elsewhere"
                )
            return {k: f.get_tensor(k) for k in f.keys()}
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{path}: missing from the teacher cache; build it with "
            "`python -m lyra_sim.training --config CONFIG --build-cache train` (or eval)"
        ) from None
    except (SafetensorError, OSError) as err:  # truncated or not safetensors at all
        raise ValueError(f"{path}: not a readable teacher cache file ({err}); delete it and rebuild the cache "
                         "(--build-cache)") from err


class TeacherSource(torch.utils.data.Dataset):
    """Scene seed → what a data-loader worker can prepare on the CPU.

    Returns ``(seed, payload)``: a `StagedScene` to render (no cache) or the cached tensors.
    """

    def __init__(self, config: DistillConfig) -> None:
        self.config = config
        self.world = teacher_world(config.world, "cpu", config.data.between)
        self.meta = _video_meta(config.video, config.world)

    def __getitem__(self, seed: int) -> tuple[int, Any]:
        cfg = self.config
        if cfg.data.cache_dir is not None:
            return seed, read_cached(cache_path(cfg.data.cache_dir, seed), self.meta)
        return seed, self.world.stage(cfg.data.condition(seed), TRAJECTORIES, seed=seed, spec=cfg.video)


def collate_list(items: list) -> list:
    return items


def _identity(item: Any) -> Any:
    return item


def materialize(item: tuple[int, Any], world: ProceduralWorld, device: torch.device) -> TeacherSample:
    """Finish a `TeacherSource` item on ``device``: render a staged scene, or decode cached tensors."""
    seed, payload = item
    if isinstance(payload, StagedScene):
        payload = _to_cache_tensors(world.shoot(payload), payload)
    t = {k: v.to(device, non_blocking=True) for k, v in payload.items()}

    def f32(x: Tensor | None) -> Tensor | None:
        return None if x is None else (x.float() / 255 if x.dtype == torch.uint8 else x.float())

    k = 0 if "hold_frames" not in t else t["hold_frames"].shape[0]
    h, w = t["frames"].shape[2:4]

    def lab(x: Tensor | None) -> Tensor | None:
        return None if x is None else x.long()

    return TeacherSample(
        seed=seed,
        frames=f32(t["frames"]),
        depth=f32(t.get("depth")),
        viewmats=t["viewmats"],
        Ks=t["Ks"],
        hold_frames=f32(t["hold_frames"]) if k else torch.zeros(0, h, w, 3, device=device),
        hold_depth=f32(t.get("hold_depth")),
        hold_viewmats=t["hold_viewmats"] if k else torch.zeros(0, 4, 4, device=device),
        hold_Ks=t["hold_Ks"] if k else torch.zeros(0, 3, 3, device=device),
        times=t.get("times"),
        hold_times=t.get("hold_times"),
        labels=lab(t.get("labels")),
        hold_labels=lab(t.get("hold_labels")),
        poses=t.get("poses"),
        hold_poses=t.get("hold_poses"),
    )


def build_cache(config: DistillConfig, split: str, env: DistEnv, log: Callable[[str], None] = print) -> Path:
    """Render the teacher videos of a split (``"train"``: ``data.train_scenes`` seeds; ``"eval"``) to ``data.cache_dir``.

    Rank ``r`` of ``N`` builds seeds ``r, r + N, ...``; files already there are kept, so an
    interrupted build resumes. CPU workers stage scenes, this process renders them on its device.
    """
    data = config.data
    if data.cache_dir is None:
        raise ValueError("data.cache_dir: set it to build a cache")
    if split == "train":
        if data.train_scenes <= 0:
            raise ValueError("data.train_scenes: a cache needs a finite number of training scenes (> 0)")
        seeds = list(range(data.train_seed_start, data.train_seed_start + data.train_scenes))
    elif split == "eval":
        seeds = data.eval_seeds()
    else:
        raise ValueError(f"split: expected 'train' or 'eval', got {split!r}")
    out = Path(data.cache_dir)
    out.mkdir(parents=True, exist_ok=True)
    todo = [s for s in seeds[env.rank :: env.world_size] if not cache_path(out, s).exists()]
    source = TeacherSource(replace(config, data=replace(data, cache_dir=None)))
    world = teacher_world(config.world, env.device, data.between)
    loader = torch.utils.data.DataLoader(
        source, batch_size=None, sampler=todo, num_workers=data.num_workers, collate_fn=_identity,
        prefetch_factor=4 if data.num_workers else None,
    )
    start = time.perf_counter()
    for i, item in enumerate(loader, 1):
        seed = item[0]
        tensors = _to_cache_tensors(world.shoot(item[1]), item[1])
        with atomic_path(cache_path(out, seed)) as tmp:
            save_file(tensors, str(tmp), metadata={"format": CACHE_FORMAT, "settings": source.meta,
                                                   "info": json.dumps(item[1].info, sort_keys=True)})
        if env.is_main and (i % 20 == 0 or i == len(todo)):
            rate = i / (time.perf_counter() - start)
            log(f"cache {split}: {i}/{len(todo)} scenes on rank 0 ({rate:.2f} scenes/s)")
    if env.distributed:
        dist.barrier()
    return out
