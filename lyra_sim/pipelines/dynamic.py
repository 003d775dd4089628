"""Dynamic (4D) scene sources and what a dynamic scene directory holds besides a static one's.

Sources (`lyra_sim.pipelines.sources.SceneSource`, written by `lyra_sim.pipelines.generate_scene` like
any other; their `MadeScene` carries ``dynamic``, the Gaussians at every time):

- `ProceduralDynamicSource`: the procedural world's own Gaussians, moved per time
  (`lyra_sim.worlds.dynamic_world`), and its monocular input video: the world filmed from the
  preview camera sliding slowly right while time runs;
- `DecoderDynamicSource`: Lyra's dynamic path: the dynamic world imagines the six trajectories over
  time (`lyra_sim.worlds.dynamic_video`) and the time-conditioned decoder outputs the Gaussians at
  each target time (bullet time); the input video is the world's frames along the ``right``
  trajectory. Needs a dynamic decoder checkpoint (the shipped one once trained, or a path). With
  the diffusers video world (`lyra_sim.pipelines.diffusers.diffusers_video_source`) it lifts a real
  clip, which is then the input video.

`write_dynamic_files` adds, in the scene directory being written: ``scene4d/`` (one INRIA PLY per
time and ``index.json``, `lyra_sim.dynamic.write_scene4d`), ``preview.mp4`` (the time-lapse from the
preview camera) and ``input.mp4``; ``scene.ply`` holds the first time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..cameras import TRAJECTORIES, Cameras, ViewConfig, lyra_trajectory
from ..decoder.checkpoint import read_decoder_metadata, resolve_checkpoint
from ..decoder.inference import checkpoint_world, decode_world
from ..dynamic import write_scene4d
from ..images import to_uint8
from ..render import render
from ..video import WorldModel
from ..worlds.dynamic_world import DEFAULT_FPS, frame_times, generate_dynamic
from ..worlds.procedural import ProceduralConfig
from ..worlds.procedural_video import make_world
from ..worlds.video_lift import load_video
from .describe import WORLD_FIELDS, generic_fields
from .sources import MadeScene, Stage, decoder_record, procedural_made
from .videos import write_video

INPUT_VIEW = ViewConfig(320, 240)
"""Size of the monocular input video the procedural world renders (field of view: the preview's)."""


def input_cameras(preview: Cameras, frames: int, room_lo, room_hi, view: ViewConfig = INPUT_VIEW) -> Cameras:
    """The input video's camera path: the preview camera at ``view``'s size sliding slowly right (``frames`` cameras)."""
    k = preview.Ks.clone()
    k[:, 0] *= view.width / preview.width
    k[:, 1] *= view.height / preview.height
    anchor = Cameras(preview.viewmats.cpu(), k.cpu(), view.width, view.height)
    center = (torch.tensor(room_lo) + torch.tensor(room_hi)) / 2
    focus = max(1.0, float(torch.linalg.norm(center - anchor.centers[0])))
    if frames == 1:
        return anchor
    return lyra_trajectory(anchor, "right", frames, focus, 0.1 * focus)


@dataclass(frozen=True)
class ProceduralDynamicSource:
    """The procedural world over time: its own Gaussians at ``frames`` times ``k / fps``.

    Attributes:
        condition: a prompt with motions ("a kitchen with a person walking") or a spec with ``motions``.
        seed: same condition + seed → byte-identical files.
        frames, fps: the times; config: generator settings (None: the defaults).
    """

    condition: Any
    seed: int
    frames: int = 9
    fps: float = DEFAULT_FPS
    config: ProceduralConfig | None = None

    def make(self, view: ViewConfig, stage: Stage) -> MadeScene:
        times = frame_times(self.frames, self.fps)  # bad numbers fail before any work
        stage(f"imagining the scene at {len(times)} times (procedural world model)")
        d = generate_dynamic(self.condition, self.seed, times, fps=self.fps, config=self.config)
        if d.layout_seed != self.seed:
            stage(f"the motions found no room in seed {self.seed}'s layout: laid out from seed {d.layout_seed}")
        elif d.furnishing:
            stage(f"the motions found no room in any layout with all of the room's usual furniture: built with less "
                  f"(furnishing {d.furnishing})")
        cams, fields, images = procedural_made(d.world, self.condition, self.seed, view)
        fields["motions"] = d.records()
        # layout_seed / furnishing: what the room was built from where the motions found no room as asked for
        fields["world_model"] = {**fields["world_model"], "dynamic": True, "layout_seed": d.layout_seed,
                                 "furnishing": d.furnishing}
        stage(f"moving the Gaussians to {len(times)} times")
        dyn = d.dynamic()
        stage(f"rendering the monocular input video ({len(times)} frames)")
        path = input_cameras(cams, len(times), *d.world.room_bounds)
        video = torch.stack([render(dyn.scenes[i], path[min(i, len(path) - 1)], "RGB").rgb[0].clamp(0, 1)
                             for i in range(len(dyn))])
        fields["input_video_camera"] = {"viewmats": path.viewmats.tolist(), "K": path.Ks[0].tolist(),
                                        "width": path.width, "height": path.height}
        return MadeScene(dyn.scenes[0], cams, fields, {}, images, dynamic=dyn, input_video=video, input_fps=self.fps)


@dataclass(frozen=True)
class DecoderDynamicSource:
    """Lyra's dynamic path: the dynamic world's six-trajectory video, decoded at ``frames`` target times.

    Attributes:
        condition, seed: as `ProceduralDynamicSource`.
        frames: target times, evenly over the input video's span.
        checkpoint: ``"default"`` (the shipped dynamic decoder) or a time-conditioned ``.safetensors``.
        device: where the world renders and the decoder runs; keep_ratio: as `DecoderSource`.
    """

    condition: Any
    seed: int
    frames: int = 9
    checkpoint: str | os.PathLike = "default"
    device: str = "cpu"
    keep_ratio: float | None = None
    world: WorldModel | None = None
    codec_path: str | os.PathLike | None = None

    def make(self, view: ViewConfig, stage: Stage) -> MadeScene:
        frame_times(self.frames, DEFAULT_FPS)  # validates the count before any work
        path = resolve_checkpoint(self.checkpoint, dynamic=True)
        config, _ = read_decoder_metadata(path)
        if not config.time_embedding:
            raise ValueError(f"{path}: a static decoder; a dynamic scene needs a time-conditioned one (trained with "
                             "configs/distill_dynamic_small.json)")
        world = self.world
        if world is None:
            settings = checkpoint_world(path)
            world = make_world(settings.name, self.device, spacing=settings.spacing, fps=settings.fps)
            world.labels = False  # the decoder reads frames only
        decoded = decode_world(world, self.condition, self.seed, path, device=self.device, keep_ratio=self.keep_ratio,
                               codec_path=self.codec_path, stage=stage, targets=self.frames)
        fields, preview, images = WORLD_FIELDS.get(world.name, generic_fields)(decoded.video, self.condition, self.seed,
                                                                               view)
        fields["decoder"] = decoder_record(self.checkpoint, path, decoded, self.device)
        times = decoded.video.times.cpu()
        if isinstance(self.condition, dict) and "video" in self.condition:  # the clip that was lifted
            video = load_video(self.condition["video"], decoded.video.frames.shape[3], decoded.video.frames.shape[2],
                               decoded.video.num_frames)[0]
        else:  # the world's frames along the `right` trajectory
            right = TRAJECTORIES.index("right") if "right" in decoded.video.trajectories else 0
            video = decoded.video.frames[right].cpu()
            fields["input_video_camera"] = {"viewmats": decoded.video.viewmats[right].tolist(),
                                            "K": decoded.video.Ks[right, 0].tolist(), "width": int(video.shape[2]),
                                            "height": int(video.shape[1])}
        fps = (len(times) - 1) / float(times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else DEFAULT_FPS
        dyn = decoded.dynamic.to("cpu")
        return MadeScene(dyn.scenes[0], preview, {**fields, "input_times": times.tolist()}, {
            **getattr(world, "timings", {}), **decoded.timings}, images, dynamic=dyn, input_video=video, input_fps=fps)


def write_dynamic_files(tmp: Path, made: MadeScene, stage: Stage) -> dict[str, Any]:
    """Write ``scene4d/``, ``preview.mp4`` and ``input.mp4`` of a dynamic `MadeScene` into ``tmp``; returns the
    manifest's ``dynamic`` record."""
    dyn = made.dynamic
    stage(f"writing scene4d/ ({len(dyn)} times)")
    index = write_scene4d(tmp / "scene4d", dyn)
    fps = dyn.fps or ((len(dyn) - 1) / dyn.duration if dyn.duration > 0 else DEFAULT_FPS)
    stage(f"rendering preview.mp4 (time-lapse, {len(dyn)} frames)")
    cam = made.preview.to(dyn.device)
    write_video(tmp / "preview.mp4", (to_uint8(render(s, cam, "RGB").rgb[0]).cpu().numpy() for s in dyn.scenes), fps)
    stage("writing input.mp4")
    write_video(tmp / "input.mp4", (f.numpy() for f in to_uint8(made.input_video.cpu())), made.input_fps)
    return {
        "times": list(dyn.times),
        "fps": dyn.fps,
        "frames": len(dyn),
        "duration_s": dyn.duration,
        "scene4d": {"index": "scene4d/index.json", "files": index["files"], "num_gaussians": index["num_gaussians"]},
        "scene_ply_time": dyn.times[0],
        "preview_video": "preview.mp4",
        "input_video": {"file": "input.mp4", "frames": int(made.input_video.shape[0]), "fps": made.input_fps,
                        "width": int(made.input_video.shape[2]), "height": int(made.input_video.shape[1])},
    }


__all__ = ["DecoderDynamicSource", "ProceduralDynamicSource", "input_cameras", "write_dynamic_files"]
