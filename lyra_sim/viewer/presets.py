"""Camera poses of the viewer's presets: the preview view, top-down, an object, Lyra's trajectories.

Poses are plain math (no viser): a `CameraPose` is what viser's client camera takes
(position, look-at point, up vector, vertical field of view, near plane), and
`CameraPose.cameras` turns one into lyra-sim `Cameras` so the same view can be rendered by
`lyra_sim.render.render` (the browser test compares the two).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from lyra_sim.cameras import TRAJECTORIES, Cameras, look_at_cameras, lyra_trajectory, outside_view

DEFAULT_FOV_Y = math.radians(75.0)
DEFAULT_NEAR = 0.01


@dataclass(frozen=True)
class CameraPose:
    """A viewer camera. ``position``, ``look_at``, ``up``: ``[3]`` world meters (Z up);
    ``fov_y``: vertical field of view, radians; ``near``: near clipping plane, meters."""

    position: tuple[float, float, float]
    look_at: tuple[float, float, float]
    up: tuple[float, float, float] = (0.0, 0.0, 1.0)
    fov_y: float = DEFAULT_FOV_Y
    near: float = DEFAULT_NEAR

    def __post_init__(self) -> None:
        p, t = np.asarray(self.position, float), np.asarray(self.look_at, float)
        if p.shape != (3,) or t.shape != (3,) or not (np.isfinite(p).all() and np.isfinite(t).all()):
            raise ValueError(f"position, look_at: expected finite [3] points, got {self.position}, {self.look_at}")
        if np.linalg.norm(t - p) < 1e-9:
            raise ValueError("look_at: coincides with position")
        if not 0 < self.fov_y < math.pi:
            raise ValueError(f"fov_y: expected (0, pi) radians, got {self.fov_y}")

    def cameras(self, width: int, height: int) -> Cameras:
        """This view as one lyra-sim camera of ``width`` x ``height`` pixels (square pixels, centred)."""
        return look_at_cameras(
            torch.tensor([self.position], dtype=torch.float32), torch.tensor([self.look_at], dtype=torch.float32),
            width, height, math.degrees(self.fov_y), up=self.up,
        )

    @property
    def url_query(self) -> str:
        """viser's URL parameters that open a page at this pose (``?`` not included)."""
        vec = lambda v: ",".join(f"{x:.6f}" for x in v)  # noqa: E731
        return (f"initialCameraPosition={vec(self.position)}&initialCameraLookAt={vec(self.look_at)}"
                f"&initialCameraUp={vec(self.up)}&initialCameraFov={self.fov_y:.6f}&initialCameraNear={self.near:.6f}")


def pose_from_camera(cameras: Cameras, focus_distance: float) -> CameraPose:
    """The pose of camera 0 of ``cameras`` (OpenCV axes), looking at the point ``focus_distance`` ahead."""
    c2w = cameras.camtoworlds[0].double().cpu().numpy()
    eye, forward, down = c2w[:3, 3], c2w[:3, 2], c2w[:3, 1]
    fov_y = math.radians(cameras.fov_y_deg)
    return CameraPose(tuple(eye), tuple(eye + focus_distance * forward), tuple(-down), fov_y)


def scene_box(manifest: dict[str, Any], means: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(lo [3], hi [3])`` of the scene: the room's interior when the manifest has it, else the
    0.5..99.5 percentile box of the Gaussian centers ``[N, 3]`` (stray floaters do not stretch it)."""
    room = (manifest.get("bounds") or {}).get("room")
    if room is not None:
        return np.asarray(room[0], float), np.asarray(room[1], float)
    lo, hi = np.percentile(means, [0.5, 99.5], axis=0)
    return lo.astype(float), np.maximum(hi, lo + 1e-3).astype(float)


def preview_pose(manifest: dict[str, Any], lo: np.ndarray, hi: np.ndarray) -> CameraPose:
    """The manifest's preview camera (what ``preview.png`` shows); without one, a view of the
    box ``lo..hi`` from outside a corner, above it."""
    cam = manifest.get("preview_camera")
    center = (lo + hi) / 2
    if cam is not None:
        cameras = Cameras(torch.tensor([cam["viewmat"]], dtype=torch.float32), torch.tensor([cam["K"]], dtype=torch.float32),
                          int(cam["width"]), int(cam["height"]))
        focus = float(np.linalg.norm(center - cameras.centers[0].numpy()))
        return pose_from_camera(cameras, max(focus, 0.1))
    eye, target = outside_view(lo, hi)
    return CameraPose(tuple(eye), tuple(target), fov_y=math.radians(60))


def top_down_pose(lo: np.ndarray, hi: np.ndarray, fov_y: float = math.radians(60)) -> CameraPose:
    """Looking down on the whole box from above. The near plane sits just under the box's top,
    so a ceiling does not hide the room. (Tilted 1° off vertical, which keeps the orbit
    controls' up axis defined.)"""
    center = (lo + hi) / 2
    half = 0.5 * float(max(hi[0] - lo[0], hi[1] - lo[1])) * 1.1
    height = half / math.tan(fov_y / 2)
    top = float(hi[2])
    eye = np.array([center[0], center[1] - height * math.tan(math.radians(1.0)), top + height])
    cut = 0.02 * float(hi[2] - lo[2]) + 0.02  # the ceiling's own thickness
    target = np.array([center[0], center[1], float(lo[2])])
    return CameraPose(tuple(eye), tuple(target), fov_y=fov_y, near=height + cut)


def object_pose(bbox_lo, bbox_hi, lo: np.ndarray, hi: np.ndarray, fov_y: float = math.radians(60)) -> CameraPose:
    """A view of the object with bounding box ``bbox_lo..bbox_hi`` from the room's side of it,
    35° above, close enough to fill about half the view; the eye stays inside ``lo..hi``."""
    b_lo, b_hi = np.asarray(bbox_lo, float), np.asarray(bbox_hi, float)
    target = (b_lo + b_hi) / 2
    radius = max(0.5 * float(np.linalg.norm(b_hi - b_lo)), 0.05)
    away = ((lo + hi) / 2 - target)[:2]
    away = away / np.linalg.norm(away) if np.linalg.norm(away) > 1e-6 else np.array([-1.0, 0.0])
    elevation = math.radians(35)
    direction = np.array([away[0] * math.cos(elevation), away[1] * math.cos(elevation), math.sin(elevation)])
    distance = 2.0 * radius / math.sin(fov_y / 2)
    margin = np.minimum(0.05, 0.25 * (hi - lo))
    eye = np.clip(target + distance * direction, lo + margin, hi - margin)
    if np.linalg.norm(eye - target) < 1e-3:
        eye = target + radius * direction
    return CameraPose(tuple(eye), tuple(target), fov_y=fov_y)


def trajectory_poses(anchor: CameraPose, kind: str, frames: int, lo: np.ndarray, hi: np.ndarray) -> list[CameraPose]:
    """Lyra's trajectory ``kind`` (one of `TRAJECTORIES`) from ``anchor``, as ``frames`` poses.

    As ``lyra-sim render`` moves it: `lyra_sim.cameras.lyra_trajectory` keeping the box's center
    in view (the focus distance is the anchor's distance to it).
    """
    if kind not in TRAJECTORIES:
        raise ValueError(f"kind: unknown trajectory {kind!r}; accepted: {', '.join(TRAJECTORIES)}")
    cams = anchor.cameras(640, 480)
    focus = max(float(np.linalg.norm((lo + hi) / 2 - np.asarray(anchor.position))), 0.1)
    path = lyra_trajectory(cams, kind, frames, focus_distance=focus)
    return [pose_from_camera(path[i], focus) for i in range(frames)]


def _mix(u, v, s: float) -> tuple[float, float, float]:
    return tuple((1 - s) * np.asarray(u, float) + s * np.asarray(v, float))


def interpolate(a: CameraPose, b: CameraPose, frames: int) -> list[CameraPose]:
    """``frames`` poses from ``a`` to ``b`` (eased: slow start and end), ending exactly at ``b``."""
    out = []
    for i in range(1, frames):
        s = 0.5 - 0.5 * math.cos(math.pi * i / frames)
        out.append(CameraPose(_mix(a.position, b.position, s), _mix(a.look_at, b.look_at, s), b.up,
                              (1 - s) * a.fov_y + s * b.fov_y, b.near))
    return out + [b]
