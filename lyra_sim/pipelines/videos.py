"""Videos of a scene directory or bundle along a camera path (``lyra-sim render``): an orbit inside the
room, one of Lyra's six trajectories from the preview view, or the preview camera held still. A bundle of
an imported capture (no room, no preview camera) is filmed from outside: an orbit around it, or the six
trajectories from a corner view.

For a dynamic scene directory (with ``scene4d/``) ``times`` picks what time each frame shows: a
range ``(a, b)`` runs time from ``a`` to ``b`` over the video (a time-lapse, as the camera moves),
a single time freezes it there (bullet time). Each frame shows the scene4d time nearest to it.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ..atomic import atomic_path
from ..cameras import TRAJECTORIES, Cameras, ViewConfig, look_at_cameras, lyra_trajectory, outside_view, room_view
from ..config import check_number
from ..dynamic import read_index
from ..images import to_uint8
from ..manifest import read_manifest
from ..ply import read_ply
from ..render import render
from ..scene import GaussianScene
from .describe import object_boxes


def _orbit_in_room(anchor: Cameras, room_lo: np.ndarray, room_hi: np.ndarray, frames: int) -> Cameras:
    """A circle around the room's center at eye height, looking outward at the walls as it turns."""
    center = (room_lo + room_hi) / 2
    eye_z = float(anchor.centers[0, 2])
    radius = 0.25 * float(min(room_hi[0] - room_lo[0], room_hi[1] - room_lo[1]))
    angles = torch.arange(frames, dtype=torch.float32) * (2 * math.pi / frames)
    eyes = torch.stack(
        [center[0] + radius * torch.cos(angles), center[1] + radius * torch.sin(angles), torch.full((frames,), eye_z)], -1
    )
    # look ahead along the circle's tangent, a little outward, slightly down
    ahead = torch.stack([-torch.sin(angles), torch.cos(angles), torch.zeros(frames)], -1)
    outward = torch.stack([torch.cos(angles), torch.sin(angles), torch.zeros(frames)], -1)
    targets = eyes + ahead + 0.6 * outward + torch.tensor([0.0, 0.0, -0.35])
    return look_at_cameras(eyes, targets, anchor.width, anchor.height, anchor.fov_y_deg)


def _orbit_outside(anchor: Cameras, center: np.ndarray, frames: int) -> Cameras:
    """A circle about the vertical through ``center``, through the anchor's eye, always looking at ``center``."""
    eye = anchor.centers[0].double().numpy()
    radius = max(float(np.hypot(*(eye - center)[:2])), 1e-3)
    start = math.atan2(eye[1] - center[1], eye[0] - center[0])
    angles = start + torch.arange(frames, dtype=torch.float64) * (2 * math.pi / frames)
    eyes = torch.stack([center[0] + radius * torch.cos(angles), center[1] + radius * torch.sin(angles),
                        torch.full((frames,), float(eye[2]), dtype=torch.float64)], -1).float()
    targets = torch.tensor(center, dtype=torch.float32).expand(frames, 3)
    return look_at_cameras(eyes, targets, anchor.width, anchor.height, anchor.fov_y_deg)


def _outside_camera(lo: np.ndarray, hi: np.ndarray, view: ViewConfig) -> Cameras:
    """`lyra_sim.cameras.outside_view` of the box ``lo..hi`` at the video's size."""
    eye, target = outside_view(lo, hi)
    return look_at_cameras(torch.tensor(eye, dtype=torch.float32)[None], torch.tensor(target, dtype=torch.float32)[None],
                           view.width, view.height, view.fov_y_deg)


def _preview_camera(record: dict[str, Any], view: ViewConfig) -> Cameras:
    """A manifest's ``preview_camera`` at the video's size (same field of view)."""
    k = torch.tensor(record["K"], dtype=torch.float32)
    k[0] *= view.width / record["width"]
    k[1] *= view.height / record["height"]
    return Cameras(torch.tensor(record["viewmat"], dtype=torch.float32)[None], k[None], view.width, view.height)


MAX_FRAMES = 10_000
"""Frames of a video at most (checked before rendering); also 1..240 frames per second."""


def trajectory_cameras(manifest: dict[str, Any], kind: str, frames: int, view: ViewConfig) -> Cameras:
    """Cameras for ``lyra-sim render``: ``orbit``, ``still`` (the preview camera) or one of Lyra's six
    `TRAJECTORIES` from the preview view. A bundle of an imported capture (no room, no preview camera) is
    filmed from outside its bounds (`lyra_sim.cameras.outside_view`); its orbit circles the scene."""
    if kind not in ("orbit", "still") and kind not in TRAJECTORIES:
        raise ValueError(f"unknown trajectory {kind!r}; accepted: orbit, still, {', '.join(TRAJECTORIES)}")
    bounds = manifest.get("bounds", {})
    box = bounds.get("collision", bounds.get("gaussians"))  # the collision mesh's leaves floaters out
    if kind == "still":
        if "preview_camera" in manifest:
            cam = _preview_camera(manifest["preview_camera"], view)
        elif box is not None:
            cam = _outside_camera(*(np.asarray(b, float) for b in box), view)
        else:
            raise ValueError("the manifest has no preview camera to hold still and no bounds to place one (not a "
                             "scene directory or bundle written by lyra-sim?)")
        return Cameras(cam.viewmats.expand(frames, 4, 4).clone(), cam.Ks.expand(frames, 3, 3).clone(), view.width,
                       view.height)
    check_number("frames", frames, 2, MAX_FRAMES, integer=True)
    if "room" in bounds:
        room_lo, room_hi = (np.asarray(b, float) for b in bounds["room"])
        anchor = room_view(room_lo.tolist(), room_hi.tolist(), object_boxes(manifest.get("objects", [])), view)
    elif "gaussians" in bounds and "preview_camera" in manifest:
        # No room (an imagined scene): start from the preview camera, within the Gaussians' bounds.
        room_lo, room_hi = (np.asarray(b, float) for b in bounds["gaussians"])
        anchor = _preview_camera(manifest["preview_camera"], view)
    elif box is not None:
        # Neither (a bundle of an imported capture): from outside the scene, turning about it.
        lo, hi = (np.asarray(b, float) for b in box)
        anchor = _outside_camera(lo, hi, view)
        if kind == "orbit":
            return _orbit_outside(anchor, (lo + hi) / 2, frames)
        return lyra_trajectory(anchor, kind, frames, focus_distance=float(np.linalg.norm(hi - lo)))
    else:
        raise ValueError("the manifest has neither room bounds nor a preview camera and Gaussian bounds to place the video's "
                         "cameras (not a scene directory or bundle written by lyra-sim?)")
    if kind == "orbit":
        return _orbit_in_room(anchor, room_lo, room_hi, frames)
    focus = float(np.linalg.norm((room_lo + room_hi) / 2 - anchor.centers[0].numpy()))
    return lyra_trajectory(anchor, kind, frames, focus_distance=focus)


def write_video(path: str | os.PathLike, frames, fps: float) -> Path:
    """Write ``frames`` (an iterable of ``[H, W, 3]`` uint8 arrays) to a video at ``path`` atomically
    (``.mp4``: H.264 through imageio-ffmpeg; ``.gif``: pillow)."""
    import imageio.v2 as imageio  # only the video path needs ffmpeg

    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"{path}: the directory {path.parent} does not exist")
    with atomic_path(path) as tmp:
        if path.suffix.lower() == ".gif":
            kwargs = {"duration": 1000 / fps, "loop": 0}  # pillow's GIF writer takes ms per frame
        else:
            kwargs = {"fps": fps, "codec": "libx264", "quality": 8, "macro_block_size": 2}
        with imageio.get_writer(tmp, **kwargs) as writer:
            for frame in frames:
                writer.append_data(frame)
    return path


def frame_times(times: float | tuple[float, float] | None, frames: int) -> list[float] | None:
    """The time each of ``frames`` video frames shows: a range runs from its start to its end, one time stays."""
    if times is None:
        return None
    if isinstance(times, (int, float)):
        return [float(times)] * frames
    a, b = times
    return [a + (b - a) * i / max(1, frames - 1) for i in range(frames)]


class _TimedScenes:
    """The scene4d scenes a video needs, read on first use (a long scene4d need not fit in memory at once)."""

    def __init__(self, scene_dir: Path, device: str) -> None:
        self.dir, self.device = scene_dir / "scene4d", device
        if not self.dir.is_dir():
            raise ValueError(f"{scene_dir}: not a dynamic scene directory (no scene4d/); --time needs one written by "
                             "lyra-sim generate --dynamic")
        self.index = read_index(self.dir)
        self.times = [float(t) for t in self.index["times"]]
        self._cache: dict[int, GaussianScene] = {}

    def check(self, wanted: list[float]) -> None:
        lo, hi = self.times[0], self.times[-1]
        bad = [t for t in wanted if not lo - 1e-9 <= t <= hi + 1e-9]
        if bad:
            raise ValueError(f"times {min(wanted):g}..{max(wanted):g} s asked for, but the scene's times are "
                             f"[{lo:g}, {hi:g}] s ({bad[0]:g} s is outside)")

    def at(self, t: float) -> GaussianScene:
        k = min(range(len(self.times)), key=lambda i: (abs(self.times[i] - t), i))
        if k not in self._cache:
            self._cache = {k: read_ply(self.dir / self.index["files"][k], device=self.device)}  # one at a time
        return self._cache[k]


def render_video(
    scene_dir: str | os.PathLike,
    out: str | os.PathLike,
    *,
    trajectory: str = "orbit",
    frames: int = 96,
    fps: int = 24,
    view: ViewConfig = ViewConfig(),
    device: str = "cpu",
    times: float | tuple[float, float] | None = None,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> Path:
    """Render a scene directory along a trajectory into a video (``.mp4``, ``.gif`` ...), atomically.

    ``frames`` in [2, `MAX_FRAMES`], ``fps`` in [1, 240], checked before any work. ``times`` (a dynamic
    scene directory only): ``(a, b)`` seconds run over the video, one number freezes time (see the module
    doc); None shows ``scene.ply``.
    """
    check_number("frames", frames, 2, MAX_FRAMES, integer=True)
    check_number("fps", fps, 1, 240, integer=True)
    scene_dir, out = Path(scene_dir), Path(out)
    if scene_dir.is_file():
        raise ValueError(f"{scene_dir}: a file; render takes a scene directory (lyra-sim generate) or a bundle "
                         f"(for a splat file, make one first: lyra-sim export {scene_dir} --out DIR)")
    manifest = read_manifest(scene_dir)
    cams = trajectory_cameras(manifest, trajectory, frames, view).to(device)
    wanted = frame_times(times, len(cams))
    timed = None
    if wanted is not None:
        timed = _TimedScenes(scene_dir, device)
        timed.check(wanted)
    scene: GaussianScene | None = read_ply(scene_dir / "scene.ply", device=device) if timed is None else None
    if not out.parent.is_dir():
        raise FileNotFoundError(f"{out}: the directory {out.parent} does not exist")

    def rendered():
        for i in range(len(cams)):
            s = scene if timed is None else timed.at(wanted[i])
            yield to_uint8(render(s, cams[i], mode="RGB").rgb[0]).cpu().numpy()
            progress(i + 1, len(cams))

    return write_video(out, rendered(), fps)
