"""Videos of a scene directory along a camera path (``lyra-sim render``): an orbit inside the
room, or one of Lyra's six trajectories from the preview view."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ..atomic import atomic_path
from ..cameras import TRAJECTORIES, Cameras, ViewConfig, look_at_cameras, lyra_trajectory, room_view
from ..config import check_number
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
    fov = math.degrees(2 * math.atan(0.5 * anchor.height / float(anchor.Ks[0, 1, 1])))
    return look_at_cameras(eyes, targets, anchor.width, anchor.height, fov)


def _preview_camera(record: dict[str, Any], view: ViewConfig) -> Cameras:
    """A manifest's ``preview_camera`` at the video's size (same field of view)."""
    k = torch.tensor(record["K"], dtype=torch.float32)
    k[0] *= view.width / record["width"]
    k[1] *= view.height / record["height"]
    return Cameras(torch.tensor(record["viewmat"], dtype=torch.float32)[None], k[None], view.width, view.height)


MAX_FRAMES = 10_000
"""Frames of a video at most (checked before rendering); also 1..240 frames per second."""


def trajectory_cameras(manifest: dict[str, Any], kind: str, frames: int, view: ViewConfig) -> Cameras:
    """Cameras for ``lyra-sim render``: ``orbit`` or one of Lyra's six `TRAJECTORIES` from the preview view."""
    if kind != "orbit" and kind not in TRAJECTORIES:
        raise ValueError(f"unknown trajectory {kind!r}; accepted: orbit, {', '.join(TRAJECTORIES)}")
    check_number("frames", frames, 2, MAX_FRAMES, integer=True)
    bounds = manifest.get("bounds", {})
    if "room" in bounds:
        room_lo, room_hi = (np.asarray(b, float) for b in bounds["room"])
        anchor = room_view(room_lo.tolist(), room_hi.tolist(), object_boxes(manifest.get("objects", [])), view)
    elif "gaussians" in bounds and "preview_camera" in manifest:
        # No room (an imagined or imported scene): start from the preview camera, within the Gaussians' bounds.
        room_lo, room_hi = (np.asarray(b, float) for b in bounds["gaussians"])
        anchor = _preview_camera(manifest["preview_camera"], view)
    else:
        raise ValueError("the manifest has neither room bounds nor a preview camera and Gaussian bounds to place the video's "
                         "cameras (not a scene directory written by lyra-sim generate?)")
    if kind == "orbit":
        return _orbit_in_room(anchor, room_lo, room_hi, frames)
    focus = float(np.linalg.norm((room_lo + room_hi) / 2 - anchor.centers[0].numpy()))
    return lyra_trajectory(anchor, kind, frames, focus_distance=focus)


def render_video(
    scene_dir: str | os.PathLike,
    out: str | os.PathLike,
    *,
    trajectory: str = "orbit",
    frames: int = 96,
    fps: int = 24,
    view: ViewConfig = ViewConfig(),
    device: str = "cpu",
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> Path:
    """Render a scene directory along a trajectory into a video (``.mp4``, ``.gif`` ...), atomically.

    ``frames`` in [2, `MAX_FRAMES`], ``fps`` in [1, 240], checked before any work."""
    import imageio.v2 as imageio  # only the video path needs ffmpeg

    check_number("frames", frames, 2, MAX_FRAMES, integer=True)
    check_number("fps", fps, 1, 240, integer=True)
    scene_dir, out = Path(scene_dir), Path(out)
    manifest = read_manifest(scene_dir)
    cams = trajectory_cameras(manifest, trajectory, frames, view).to(device)
    scene: GaussianScene = read_ply(scene_dir / "scene.ply", device=device)
    if not out.parent.is_dir():
        raise FileNotFoundError(f"{out}: the directory {out.parent} does not exist")
    with atomic_path(out) as tmp:
        if out.suffix.lower() == ".gif":
            kwargs = {"duration": 1000 / fps, "loop": 0}  # pillow's GIF writer takes ms per frame
        else:
            kwargs = {"fps": fps, "codec": "libx264", "quality": 8, "macro_block_size": 2}
        with imageio.get_writer(tmp, **kwargs) as writer:
            for i in range(len(cams)):
                writer.append_data(to_uint8(render(scene, cams[i], mode="RGB").rgb[0]).cpu().numpy())
                progress(i + 1, len(cams))
    return out
