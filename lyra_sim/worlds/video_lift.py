"""A monocular video → Lyra's dynamic multi-view video, with local diffusers models (``--video clip.mp4``).

Lyra's dynamic path (arXiv 2509.19296): the input video is lifted frame by frame into a *dynamic*
3D cache, which the camera-controlled video model renders along the six trajectories so that frame
``k`` of every trajectory shows the scene at the input's time ``k``:

1. `load_video`: the clip's frames (`read_video`, imageio-ffmpeg), ``num_frames`` of them picked
   evenly over it (`pick_frames`), center-cropped and resized to the video size, with their times;
2. per frame, monocular depth (`lyra_sim.worlds.depth_cache.DepthEstimator`) lifts it into a 3D
   cache seen from the input camera (`lyra_sim.worlds.depth_cache.build_cache`): a dynamic cache,
   one per time;
3. trajectory ``v``'s frame ``k`` is cache ``k`` rendered from that trajectory's camera ``k``, and the
   video model fills what the caches miss (`lyra_sim.worlds.diffusion.VIDEO_BACKENDS`).

The input camera is taken as fixed (a tripod shot): lyra-sim estimates no camera motion (GEN3C
uses ViPE for that), so a moving camera's parallax becomes scene motion. Relative depth models are
scaled per frame (`DepthEstimator`), so depth may flicker between frames; a metric model keeps one
scale. Everything loads from local directories; the time-conditioned decoder turns the video into
Gaussians per target time (`lyra_sim.decoder.inference.decode_world`).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import Tensor

from ..cameras import TRAJECTORIES, check_trajectories, lyra_trajectory
from ..video import MultiViewVideo, VideoSpec
from .depth_cache import DepthCache, DepthEstimator, anchor_camera, build_cache, load_image, render_cache
from .diffusion import VIDEO_BACKENDS, CachedScene, DiffusionWorld, free_memory


def read_video(path: str | os.PathLike) -> tuple[list[np.ndarray], float]:
    """Every frame of a video file (``[H, W, C]`` uint8 arrays) and its frame rate (8 when it records none).

    Raises:
        FileNotFoundError: no such file; ValueError: ffmpeg cannot decode it.
    """
    import imageio.v2 as imageio

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such video")
    try:
        reader = imageio.get_reader(str(path))
        fps = float(reader.get_meta_data().get("fps") or 0) or 8.0
        frames = [np.asarray(f) for f in reader]
        reader.close()
    except Exception as err:  # imageio raises many kinds (OSError, RuntimeError, ValueError...) for bad files
        raise ValueError(f"{path}: not a readable video ({type(err).__name__}: {err}); expected a video file "
                         "ffmpeg decodes (.mp4, .mov, .webm, .gif ...)") from None
    return frames, fps


def pick_frames(frames: list[np.ndarray], fps: float, width: int, height: int, num_frames: int,
                where: str = "video") -> tuple[Tensor, Tensor]:
    """``num_frames`` of ``frames`` evenly over them, center-cropped and resized: ``[T, height, width, 3]`` in
    [0, 1], and their times ``[T]`` seconds at ``fps``.

    Raises:
        ValueError: no frames, frames of different sizes, or fewer frames than ``num_frames`` (naming ``where``).
    """
    if not frames:
        raise ValueError(f"{where}: the video has no frames")
    first = frames[0].shape
    odd = next((i for i, f in enumerate(frames) if f.shape[:2] != first[:2]), None)
    if odd is not None:
        raise ValueError(f"{where}: frames of different sizes (frame 0 is {first[1]}x{first[0]}, frame {odd} is "
                         f"{frames[odd].shape[1]}x{frames[odd].shape[0]}); re-encode it at one size")
    if len(frames) < num_frames:
        raise ValueError(f"{where}: {len(frames)} frames, but the decoder reads {num_frames} (its checkpoint's video); "
                         "give a longer clip")
    picks = np.round(np.linspace(0, len(frames) - 1, num_frames)).astype(int)
    rgb = torch.stack([load_image(np.ascontiguousarray(frames[i][..., :3]).astype(np.uint8), width, height) for i in picks])
    return rgb, torch.tensor(picks / fps, dtype=torch.float64)


def load_video(path: str | os.PathLike, width: int, height: int, num_frames: int) -> tuple[Tensor, Tensor, float]:
    """`read_video` then `pick_frames`: ``(frames [T, height, width, 3], times [T], the file's fps)``."""
    frames, fps = read_video(path)
    rgb, times = pick_frames(frames, fps, width, height, num_frames, str(path))
    return rgb, times, fps


@dataclass(frozen=True)
class CachedVideo(CachedScene):
    """`CachedScene` over time: one depth cache per input frame (``caches``) and the frames' times."""

    caches: tuple[DepthCache, ...] = ()
    times: tuple[float, ...] = ()


class DiffusionVideoWorld(DiffusionWorld):
    """The `WorldModel` that lifts a monocular video (see the module doc); arguments as `DiffusionWorld`.

    ``imagine(condition, trajectories, seed=, spec=)``: ``condition`` is ``{"video": path, "prompt": text or
    None}``; the returned video has ``times`` (the picked input frames'), and the decoder reads it.
    """

    name = "diffusers_video"

    def stage(self, condition: Any, trajectories: Sequence[str] = TRAJECTORIES, *, seed: int,
              spec: VideoSpec = VideoSpec()) -> CachedVideo:
        trajectories = check_trajectories(trajectories)
        if spec.num_holdout:
            raise ValueError("spec.num_holdout: the diffusers world model imagines trajectories only (use 0)")
        if not isinstance(condition, dict) or "video" not in condition or set(condition) - {"video", "prompt"}:
            raise ValueError("condition: expected {'video': path, 'prompt': text or None}")
        self.timings = {}
        t0 = time.perf_counter()
        rgb, times, source_fps = load_video(condition["video"], spec.width, spec.height, spec.num_frames)
        anchor = anchor_camera(spec.width, spec.height, self.fov_y_deg or spec.fov_y_deg, self.eye_height)
        estimator = DepthEstimator.from_pretrained(self.depth_model, device=self.options.device,
                                                   relative_range=self.relative_range)
        depths = [estimator(frame).cpu() for frame in rgb]
        metric = estimator.metric
        del estimator
        free_memory()
        caches = tuple(build_cache(frame, depth, anchor) for frame, depth in zip(rgb, depths))
        t1 = time.perf_counter()
        focus = float(np.median([c.focus_distance for c in caches]))
        travel = spec.travel * focus
        device = torch.device(self.options.device)
        cameras = [lyra_trajectory(anchor, k, spec.num_frames, focus, travel) for k in trajectories]
        renders = []
        for cams in cameras:  # frame k of a trajectory: the cache of time k, from that trajectory's camera k
            per_frame = [render_cache(caches[k], cams[k].to(device)) for k in range(spec.num_frames)]
            renders.append(replace(per_frame[0], rgb=torch.cat([r.rgb for r in per_frame]),
                                   alpha=torch.cat([r.alpha for r in per_frame]),
                                   missing=torch.cat([r.missing for r in per_frame]),
                                   depth=torch.cat([r.depth for r in per_frame])))
        self.timings.update({"depth": t1 - t0, "cache_render": time.perf_counter() - t1})
        prompt = condition.get("prompt")
        info = {
            "world_model": {"name": self.name, "backend": self.backend, "pipeline": VIDEO_BACKENDS[self.backend].pipeline_class,
                            "video_model": str(self.video_model), "depth_model": str(self.depth_model),
                            "steps": self.steps, "guidance_scale": self.guidance_scale},
            "condition": {"video": str(condition["video"]), "prompt": prompt},
            "seed": int(seed),
            "anchor": {"viewmat": anchor.viewmats[0].tolist(), "K": anchor.Ks[0].tolist(),
                       "width": anchor.width, "height": anchor.height},
            "depth": {"metric": metric, "min": float(min(d.min() for d in depths)), "median": focus,
                      "max": float(max(d.max() for d in depths))},
            "focus_distance": focus,
            "travel": travel,
            "times": times.tolist(),
            "source_fps": source_fps,
            "cache": {"num_gaussians": [len(c.gaussians) for c in caches],
                      "coverage": {k: round(1.0 - float(r.missing.float().mean()), 6)
                                   for k, r in zip(trajectories, renders)}},
        }
        return CachedVideo(caches[0], trajectories, cameras, renders, prompt or "", info, caches, tuple(times.tolist()))

    def fill(self, staged: CachedScene, *, seed: int) -> MultiViewVideo:
        video = super().fill(staged, seed=seed)
        return replace(video, times=torch.tensor(staged.times, dtype=torch.float64))


__all__ = ["CachedVideo", "DiffusionVideoWorld", "load_video", "pick_frames", "read_video"]
