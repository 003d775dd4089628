"""Batched pinhole cameras in the OpenCV convention (x right, y down, z forward).

``viewmats: [C, 4, 4]`` map world to camera coordinates and ``Ks: [C, 3, 3]`` are pixel
intrinsics, exactly what gsplat's ``rasterization`` takes. The world is Z-up.

Also: look-at, orbits, Lyra's six camera trajectories around an anchor view, and the
preview camera inside a room (`room_view`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from .config import check_number

TRAJECTORIES = ("left", "right", "up", "zoom_out", "zoom_in", "clockwise")
"""Lyra's six trajectories, in the paper's order."""


def check_trajectories(trajectories: Sequence[str]) -> tuple[str, ...]:
    """``trajectories`` as a tuple, each one of Lyra's `TRAJECTORIES` (else a ValueError naming them)."""
    trajectories = tuple(trajectories)
    unknown = [k for k in trajectories if k not in TRAJECTORIES]
    if not trajectories or unknown:
        raise ValueError(f"trajectories: unknown {unknown or 'none given'}; accepted: {', '.join(TRAJECTORIES)}")
    return trajectories


@dataclass(frozen=True)
class Cameras:
    """C pinhole cameras sharing one image size.

    Attributes:
        viewmats: ``[C, 4, 4]`` world-to-camera rigid transforms (OpenCV axes).
        Ks: ``[C, 3, 3]`` intrinsics in pixels (fx, fy, cx, cy).
        width, height: image size in pixels.
    """

    viewmats: Tensor
    Ks: Tensor
    width: int
    height: int

    def __post_init__(self) -> None:
        if not isinstance(self.viewmats, Tensor) or self.viewmats.ndim != 3 or self.viewmats.shape[1:] != (4, 4):
            shape = list(self.viewmats.shape) if isinstance(self.viewmats, Tensor) else type(self.viewmats).__name__
            raise ValueError(f"viewmats: expected shape [C, 4, 4], got {shape}")
        c = self.viewmats.shape[0]
        if not isinstance(self.Ks, Tensor) or tuple(self.Ks.shape) != (c, 3, 3):
            shape = list(self.Ks.shape) if isinstance(self.Ks, Tensor) else type(self.Ks).__name__
            raise ValueError(f"Ks: expected shape [{c}, 3, 3] to match viewmats, got {shape}")
        for name in ("viewmats", "Ks"):
            value = getattr(self, name)
            if value.dtype != torch.float32:
                raise ValueError(f"{name}: expected dtype float32, got {value.dtype}")
            if not bool(torch.isfinite(value).all()):
                raise ValueError(f"{name}: contains NaN or inf")
        if self.Ks.device != self.viewmats.device:
            raise ValueError(f"Ks: on {self.Ks.device}, but viewmats are on {self.viewmats.device}")
        for name in ("width", "height"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name}: expected a positive integer number of pixels, got {value!r}")

    def __len__(self) -> int:
        return self.viewmats.shape[0]

    def __getitem__(self, index) -> "Cameras":
        if isinstance(index, int):
            index = slice(index, index + 1 if index != -1 else None)
        return replace(self, viewmats=self.viewmats[index], Ks=self.Ks[index])

    @property
    def device(self) -> torch.device:
        return self.viewmats.device

    def to(self, device: torch.device | str) -> "Cameras":
        return replace(self, viewmats=self.viewmats.to(device), Ks=self.Ks.to(device))

    @property
    def camtoworlds(self) -> Tensor:
        """``[C, 4, 4]`` camera-to-world transforms."""
        return torch.linalg.inv(self.viewmats)

    @property
    def fov_y_deg(self) -> float:
        """Camera 0's vertical field of view, degrees (the inverse of `intrinsics`)."""
        return math.degrees(2 * math.atan(0.5 * self.height / float(self.Ks[0, 1, 1])))

    @property
    def centers(self) -> Tensor:
        """``[C, 3]`` camera positions in the world."""
        r = self.viewmats[:, :3, :3]
        t = self.viewmats[:, :3, 3]
        return -(r.transpose(1, 2) @ t[..., None])[..., 0]


def pixel_points(px: Tensor, py: Tensor, depth: Tensor, Ks: Tensor, camtoworlds: Tensor) -> Tensor:
    """World points ``[N, 3]`` at camera depth ``depth [N]`` (along the optical axis) through pixel coordinates
    ``px, py [N]`` of cameras ``Ks [N, 3, 3]``, ``camtoworlds [N, 4, 4]``, computed in the inputs' dtype."""
    cam = torch.stack([(px - Ks[:, 0, 2]) / Ks[:, 0, 0] * depth, (py - Ks[:, 1, 2]) / Ks[:, 1, 1] * depth, depth], -1)
    return (camtoworlds[:, :3, :3] @ cam[..., None])[..., 0] + camtoworlds[:, :3, 3]


def cat(cameras: Sequence[Cameras]) -> Cameras:
    """Concatenate camera batches of the same image size."""
    if not cameras:
        raise ValueError("cat: no cameras given")
    w, h = cameras[0].width, cameras[0].height
    if any((c.width, c.height) != (w, h) for c in cameras):
        raise ValueError("cat: all camera batches must share one image size")
    return Cameras(torch.cat([c.viewmats for c in cameras]), torch.cat([c.Ks for c in cameras]), w, h)


def intrinsics(fov_y_deg: float, width: int, height: int, count: int = 1) -> Tensor:
    """Square-pixel pinhole intrinsics ``[count, 3, 3]`` from a vertical field of view."""
    if not 0 < fov_y_deg < 180:
        raise ValueError(f"fov_y_deg: expected a value in (0, 180) degrees, got {fov_y_deg}")
    f = 0.5 * height / math.tan(math.radians(fov_y_deg) / 2)
    k = torch.tensor([[f, 0.0, width / 2], [0.0, f, height / 2], [0.0, 0.0, 1.0]], dtype=torch.float32)
    return k.expand(count, 3, 3).clone()


def look_at(eyes: Tensor, targets: Tensor, up: Sequence[float] = (0.0, 0.0, 1.0)) -> Tensor:
    """World-to-camera matrices ``[C, 4, 4]`` for cameras at ``eyes: [C, 3]`` looking at ``targets: [C, 3]``.

    The camera's y axis points down, so ``up`` (world Z by default) appears at the top of
    the image. Raises when a view direction is parallel to ``up``.
    """
    eyes = torch.as_tensor(eyes, dtype=torch.float32)
    targets = torch.as_tensor(targets, dtype=torch.float32, device=eyes.device)
    eyes, targets = torch.broadcast_tensors(eyes.reshape(-1, 3), targets.reshape(-1, 3))
    up_t = torch.as_tensor(up, dtype=torch.float32, device=eyes.device).expand_as(eyes)
    forward = targets - eyes
    norm = forward.norm(dim=-1, keepdim=True)
    if bool((norm < 1e-9).any()):
        raise ValueError("look_at: an eye coincides with its target")
    forward = forward / norm
    right = torch.linalg.cross(forward, up_t)
    rnorm = right.norm(dim=-1, keepdim=True)
    if bool((rnorm < 1e-6).any()):
        raise ValueError("look_at: a view direction is parallel to the up vector; pick another up")
    right = right / rnorm
    down = torch.linalg.cross(forward, right)
    rot = torch.stack([right, down, forward], dim=1)  # rows: camera axes in world coords
    viewmats = torch.zeros(eyes.shape[0], 4, 4, dtype=torch.float32, device=eyes.device)
    viewmats[:, :3, :3] = rot
    viewmats[:, :3, 3] = -(rot @ eyes[..., None])[..., 0]
    viewmats[:, 3, 3] = 1.0
    return viewmats


def outside_view(lo: Sequence[float], hi: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """``(eye [3], target [3])``: a view of the box ``lo..hi`` from outside one corner, above it, at its center.

    For scenes with no room to stand in and no preview camera (an imported capture): the viewer's home view
    and the anchor of ``lyra-sim render``'s trajectories."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    center = (lo + hi) / 2
    return center + float(np.linalg.norm(hi - lo)) * np.array([-0.55, -0.75, 0.45]), center


def look_at_cameras(
    eyes: Tensor,
    targets: Tensor,
    width: int,
    height: int,
    fov_y_deg: float = 60.0,
    up: Sequence[float] = (0.0, 0.0, 1.0),
) -> Cameras:
    """`Cameras` at ``eyes: [C, 3]`` looking at ``targets: [C, 3]`` with a shared field of view."""
    viewmats = look_at(eyes, targets, up)
    ks = intrinsics(fov_y_deg, width, height, viewmats.shape[0]).to(viewmats.device)
    return Cameras(viewmats, ks, width, height)


def orbit(
    center: Sequence[float],
    radius: float,
    height: float,
    num_frames: int,
    width: int,
    height_px: int,
    fov_y_deg: float = 60.0,
    start_angle_deg: float = 0.0,
) -> Cameras:
    """``num_frames`` cameras on a horizontal circle around ``center``, all looking at it.

    Args:
        center: ``[3]`` point looked at.
        radius: circle radius in meters.
        height: camera height above ``center`` in meters.
    """
    if num_frames < 1:
        raise ValueError(f"num_frames: expected >= 1, got {num_frames}")
    if radius <= 0:
        raise ValueError(f"radius: expected > 0 meters, got {radius}")
    c = torch.as_tensor(center, dtype=torch.float32)
    angles = torch.deg2rad(torch.tensor(start_angle_deg)) + torch.arange(num_frames) * (2 * math.pi / num_frames)
    eyes = torch.stack(
        [c[0] + radius * torch.cos(angles), c[1] + radius * torch.sin(angles), (c[2] + height).expand(num_frames)],
        dim=-1,
    )
    return look_at_cameras(eyes, c.expand(num_frames, 3), width, height_px, fov_y_deg)


def lyra_trajectory(
    anchor: Cameras,
    kind: str,
    num_frames: int,
    focus_distance: float,
    distance: float | None = None,
) -> Cameras:
    """One of Lyra's six trajectories starting at the anchor view (frame 0 is the anchor).

    The camera moves relative to its own axes and keeps facing the focus point
    ``focus_distance`` meters ahead of the anchor (GEN3C's "center facing" mode):

    - ``left`` / ``right``: slide along the camera's x axis by ``distance``;
    - ``up``: rise along the camera's -y axis by ``distance``;
    - ``zoom_in`` / ``zoom_out``: move along the optical axis toward / away from the focus;
    - ``clockwise``: circle around the optical axis (radius ``distance``), one full turn.

    Args:
        anchor: a single camera (``len(anchor) == 1``).
        kind: one of ``TRAJECTORIES``.
        num_frames: frames in the trajectory, >= 2.
        focus_distance: meters from the anchor to the point kept in view, > 0.
        distance: how far the camera travels; default ``0.3 * focus_distance``.

    Returns:
        ``Cameras`` of length ``num_frames`` with the anchor's intrinsics.
    """
    if len(anchor) != 1:
        raise ValueError(f"anchor: expected a single camera, got {len(anchor)}")
    if kind not in TRAJECTORIES:
        raise ValueError(f"kind: unknown trajectory {kind!r}; accepted: {', '.join(TRAJECTORIES)}")
    if num_frames < 2:
        raise ValueError(f"num_frames: expected >= 2, got {num_frames}")
    if focus_distance <= 0:
        raise ValueError(f"focus_distance: expected > 0 meters, got {focus_distance}")
    travel = 0.3 * focus_distance if distance is None else float(distance)
    device = anchor.device
    c2w = anchor.camtoworlds[0]
    axes = c2w[:3, :3]  # columns: camera x (right), y (down), z (forward) in world coords
    origin = c2w[:3, 3]
    focus = origin + focus_distance * axes[:, 2]
    s = torch.linspace(0.0, 1.0, num_frames, device=device)[:, None]  # progress per frame
    if kind == "left":
        offsets = -travel * s * axes[:, 0]
    elif kind == "right":
        offsets = travel * s * axes[:, 0]
    elif kind == "up":
        offsets = -travel * s * axes[:, 1]
    elif kind == "zoom_in":
        offsets = travel * s * axes[:, 2]
    elif kind == "zoom_out":
        offsets = -travel * s * axes[:, 2]
    else:  # clockwise: a circle in the image plane, starting and ending at the anchor
        theta = 2 * math.pi * s
        offsets = travel * ((torch.cos(theta) - 1) * axes[:, 0] + torch.sin(theta) * axes[:, 1])
    eyes = origin + offsets
    up = -axes[:, 1]  # keep the anchor's roll: image-up stays the anchor's image-up
    if kind in ("zoom_in", "zoom_out"):
        viewmats = anchor.viewmats.expand(num_frames, 4, 4).clone()
        viewmats[:, :3, 3] = -(axes.T @ eyes.T).T
    else:
        viewmats = look_at(eyes, focus.expand_as(eyes), up=up.tolist())
    return Cameras(viewmats, anchor.Ks.expand(num_frames, 3, 3).clone(), anchor.width, anchor.height)


def lyra_trajectories(
    anchor: Cameras, num_frames: int, focus_distance: float, distance: float | None = None
) -> dict[str, Cameras]:
    """All six trajectories of `lyra_trajectory`, keyed by name in ``TRAJECTORIES`` order."""
    return {k: lyra_trajectory(anchor, k, num_frames, focus_distance, distance) for k in TRAJECTORIES}


MAX_IMAGE_SIDE = 4096
"""Pixels per side of a preview or video frame at most (a 100,000² preview asked for 40 GB and
failed after minutes: the size is checked before any work)."""


@dataclass(frozen=True)
class ViewConfig:
    """Image size and field of view of previews and videos.

    Attributes:
        width, height: pixels, integers in [8, `MAX_IMAGE_SIDE`].
        fov_y_deg: vertical field of view, degrees in [1, 170].
    """

    width: int = 640
    height: int = 480
    fov_y_deg: float = 75.0

    def __post_init__(self) -> None:
        for name in ("width", "height"):
            check_number(f"view {name}", getattr(self, name), 8, MAX_IMAGE_SIDE, integer=True)
        check_number("view fov_y_deg", self.fov_y_deg, 1, 170)


def room_view(room_lo: list[float], room_hi: list[float], blocked: list[tuple[list[float], list[float]]], view: ViewConfig) -> Cameras:
    """A camera inside the room, high in a free corner, looking across the room at its center.

    Args:
        room_lo, room_hi: the room's interior box ``[3]`` each (floor at ``room_lo[2]``).
        blocked: ``(lo, hi)`` boxes of objects; a corner whose eye point lies in one is skipped.
    """
    lo, hi = np.asarray(room_lo, float), np.asarray(room_hi, float)
    size = hi - lo
    inset = np.minimum(0.45, 0.15 * size[:2])
    eye_z = lo[2] + min(1.8, 0.7 * size[2])
    target = np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, lo[2] + min(0.6, 0.3 * size[2])])
    corners = [
        (lo[0] + inset[0], lo[1] + inset[1]),
        (hi[0] - inset[0], lo[1] + inset[1]),
        (hi[0] - inset[0], hi[1] - inset[1]),
        (lo[0] + inset[0], hi[1] - inset[1]),
    ]

    def is_free(x: float, y: float) -> bool:
        return not any(
            b_lo[0] - 0.1 <= x <= b_hi[0] + 0.1 and b_lo[1] - 0.1 <= y <= b_hi[1] + 0.1 and b_hi[2] > eye_z - 0.3
            for b_lo, b_hi in blocked
        )

    x, y = next(((x, y) for x, y in corners if is_free(x, y)), corners[0])
    # Along a long, narrow room (corridor) look down its length instead of across a corner.
    if size[0] > 2.5 * size[1]:
        x, y, target[0] = lo[0] + inset[0], (lo[1] + hi[1]) / 2, hi[0]
    elif size[1] > 2.5 * size[0]:
        x, y, target[1] = (lo[0] + hi[0]) / 2, lo[1] + inset[1], hi[1]
    eye = torch.tensor([[x, y, eye_z]], dtype=torch.float32)
    return look_at_cameras(eye, torch.from_numpy(target[None].astype(np.float32)), view.width, view.height, view.fov_y_deg)
