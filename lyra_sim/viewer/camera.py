"""Moving the browser's camera: the presets, the object list (click to fly to one) and Lyra's
six trajectories played as camera paths.

Each connected browser (viser client) has its own camera; a move runs in a background
thread at `FPS` frames per second and is cancelled by the next move of that client.
"""

from __future__ import annotations

import math
import threading
from typing import Any, Callable, Sequence

import numpy as np

from lyra_sim.cameras import TRAJECTORIES

from .presets import CameraPose, interpolate, object_pose, top_down_pose, trajectory_poses

FPS = 30
FLY_SECONDS = 0.8
TRAJECTORY_FRAMES = 90  # 3 s at FPS
HIGHLIGHT_RGB = (255, 220, 0)


def apply_pose(client, pose: CameraPose) -> None:
    """Set ``client``'s camera to ``pose`` in one message batch."""
    cam = client.camera
    with client.atomic():
        cam.fov = pose.fov_y
        cam.near = pose.near
        cam.position = pose.position  # moves look_at along with it ...
        cam.look_at = pose.look_at  # ... so the target is set after
        cam.up_direction = pose.up


def current_pose(client) -> CameraPose:
    cam = client.camera
    return CameraPose(tuple(cam.position), tuple(cam.look_at), tuple(cam.up_direction), float(cam.fov), float(cam.near))


def _per_client(move: Callable[[Any], None]) -> Callable[[Any], None]:
    """A click handler moving the camera of the browser that clicked (none for a server-side click)."""
    return lambda event: move(event.client) if event.client is not None else None


class CameraMover:
    """Plays pose sequences on clients' cameras, one sequence per client at a time."""

    def __init__(self, fps: int = FPS) -> None:
        self.fps = fps
        self._cancel: dict[int, threading.Event] = {}
        self._lock = threading.Lock()

    def play(self, client, poses: Sequence[CameraPose]) -> None:
        """Move ``client``'s camera through ``poses`` (cancelling its previous move)."""
        stop = threading.Event()
        with self._lock:
            previous = self._cancel.get(client.client_id)
            if previous is not None:
                previous.set()
            self._cancel[client.client_id] = stop

        def run() -> None:
            for pose in poses:
                if stop.is_set():
                    return
                apply_pose(client, pose)
                stop.wait(1.0 / self.fps)

        threading.Thread(target=run, daemon=True, name=f"lyra-view-camera-{client.client_id}").start()

    def fly(self, client, pose: CameraPose, seconds: float = FLY_SECONDS) -> None:
        """Glide from where ``client`` looks now to ``pose``."""
        self.play(client, interpolate(current_pose(client), pose, max(1, round(seconds * self.fps))))

    def stop(self) -> None:
        with self._lock:
            for event in self._cancel.values():
                event.set()


class CameraControls:
    """The "Camera" and "Objects" GUI folders.

    Args:
        server: the viser server.
        home: the preview view (also every new browser's first view and viser's "Reset View").
        lo, hi: ``[3]`` the scene's box (room interior or splat extent).
        objects: the manifest's objects (``name``, ``kind``, ``bbox [lo, hi]``), may be empty.
        bbox_of: an object's ``(lo [3], hi [3])`` now (default: its ``bbox``; a dynamic scene's
            moving objects are elsewhere at other times).
    """

    def __init__(self, server, home: CameraPose, lo: np.ndarray, hi: np.ndarray, objects: list[dict[str, Any]],
                 bbox_of: Callable[[dict[str, Any]], tuple[np.ndarray, np.ndarray]] | None = None) -> None:
        self.server, self.home, self.lo, self.hi = server, home, lo, hi
        self.bbox_of = bbox_of or (lambda obj: tuple(np.asarray(b, float) for b in obj["bbox"]))
        self.highlighted: dict[str, Any] | None = None
        self.mover = CameraMover()
        self.top = top_down_pose(lo, hi)
        self.trajectories = {k: trajectory_poses(home, k, TRAJECTORY_FRAMES, lo, hi) for k in TRAJECTORIES}
        cam = server.initial_camera
        cam.position, cam.look_at, cam.up, cam.fov, cam.near = home.position, home.look_at, home.up, home.fov_y, home.near
        gui = server.gui
        with gui.add_folder("Camera"):
            preview = gui.add_button("Preview view", hint="the view of preview.png")
            top = gui.add_button("Top-down", hint="the whole scene from above (the ceiling is clipped)")
            kind = gui.add_dropdown("Trajectory", TRAJECTORIES, initial_value=TRAJECTORIES[0],
                                    hint="Lyra's six camera trajectories from the preview view")
            play = gui.add_button("Play trajectory")
        preview.on_click(_per_client(lambda client: self.mover.fly(client, self.home)))
        top.on_click(_per_client(lambda client: self.mover.fly(client, self.top)))
        play.on_click(_per_client(lambda client: self.mover.play(client, [self.home, *self.trajectories[kind.value]])))
        self.buttons = {"preview": preview, "top": top, "play": play}
        self.trajectory = kind
        self.object_buttons = []
        if objects:
            with gui.add_folder("Objects", expand_by_default=len(objects) <= 12):
                for obj in objects:
                    button = gui.add_button(f"{obj.get('name', '?')} ({obj.get('kind', '?')})")
                    button.on_click(_per_client(lambda client, obj=obj: self.fly_to_object(client, obj)))
                    self.object_buttons.append(button)

    def fly_to_object(self, client, obj: dict[str, Any]) -> None:
        """Fly ``client`` to ``obj`` and outline its bounding box."""
        self.highlighted = obj
        b_lo, b_hi = self.highlight()
        self.mover.fly(client, object_pose(b_lo, b_hi, self.lo, self.hi, fov_y=math.radians(60)))

    def highlight(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(Re)draw the outline of the highlighted object where it is now; its ``(lo, hi)``, or None."""
        if self.highlighted is None:
            return None
        b_lo, b_hi = self.bbox_of(self.highlighted)
        self.server.scene.add_box("/objects/highlight", color=HIGHLIGHT_RGB, dimensions=tuple(np.maximum(b_hi - b_lo, 1e-3)),
                                  wireframe=True, position=tuple((b_lo + b_hi) / 2))
        return b_lo, b_hi
