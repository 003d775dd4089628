"""A dynamic scene's time in the viewer: the "Time" slider (seconds), Play/Pause (looping at the
scene's fps) and where the manifest's moving objects are at each time.

The slider's value snaps to the nearest of the scene's times; playback steps through them at
the scene's frame rate from a background thread (one for the server: every browser sees the
same time, as it sees the same GUI).
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Sequence

import numpy as np

from lyra_sim.dynamic import DynamicScene


def playback_fps(scene: DynamicScene) -> float:
    """The rate Play steps at: the scene's fps, else its mean rate (1 for a single time)."""
    if scene.fps is not None:
        return scene.fps
    return (len(scene) - 1) / scene.duration if len(scene) > 1 and scene.duration > 0 else 1.0


def object_bbox_at(obj: dict[str, Any], motions: Sequence[dict[str, Any]], index: int) -> tuple[np.ndarray, np.ndarray]:
    """``(lo [3], hi [3])``: the manifest object ``obj``'s box at time ``index``.

    An object that moves as a whole (a manifest ``motions`` record for it with no joint, and a
    ``[T][4][4]`` rest-to-then pose per time) has its rest box's corners posed; anything else
    (furniture, an object of which only a part moves: a door's leaf, a drawer) keeps its box.
    """
    lo, hi = (np.asarray(b, float) for b in obj["bbox"])
    for record in motions:
        poses = record.get("poses")
        if record.get("object") != obj.get("name") or record.get("joint") is not None or not poses or index >= len(poses):
            continue
        pose = np.asarray(poses[index], float)
        corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
        posed = corners @ pose[:3, :3].T + pose[:3, 3]
        return posed.min(0), posed.max(0)
    return lo, hi


class TimeControls:
    """The "Time" GUI folder for ``scene``; ``show(index)`` is called whenever the time shown changes.

    Attributes:
        slider: the time in seconds; play: the Play/Pause button; index: the time shown.
    """

    def __init__(self, server, scene: DynamicScene, show: Callable[[int], None]) -> None:
        self.times, self.fps, self._show = scene.times, playback_fps(scene), show
        self.index = 0
        self._lock = threading.Lock()
        self._playing: threading.Event | None = None
        gaps = np.diff(self.times)
        step = float(1.0 / scene.fps if scene.fps is not None else gaps.min())
        gui = server.gui
        with gui.add_folder("Time"):
            self.slider = gui.add_slider("Time (s)", min=self.times[0], max=self.times[-1], step=step,
                                         initial_value=self.times[0],
                                         hint=f"{len(self.times)} times over {scene.duration:.2f} s")
            self.play = gui.add_button("Play", hint=f"loop through the times at {self.fps:g} fps")
            self.text = gui.add_markdown(self._text())
        self.slider.on_update(lambda _: self.seek(self.slider.value))
        self.play.on_click(lambda _: self.toggle())

    def _text(self) -> str:
        return f"t = {self.times[self.index]:.3f} s, time {self.index + 1} of {len(self.times)}"

    def seek(self, seconds: float) -> None:
        """Show the time nearest ``seconds``."""
        index = min(range(len(self.times)), key=lambda i: (abs(self.times[i] - seconds), i))
        with self._lock:
            if index == self.index:
                return
            self.index = index
            self._show(index)
            self.text.content = self._text()

    @property
    def playing(self) -> bool:
        return self._playing is not None

    def toggle(self) -> None:
        """Play (looping) if paused, pause if playing."""
        if self._playing is not None:
            self.pause()
            return
        stop = self._playing = threading.Event()
        self.play.label = "Pause"

        def run() -> None:
            period = 1.0 / self.fps
            while not stop.wait(period):
                # Setting the value runs the slider's callback, which shows the time (`seek`).
                self.slider.value = self.times[(self.index + 1) % len(self.times)]

        threading.Thread(target=run, daemon=True, name="lyra-view-time").start()

    def pause(self) -> None:
        if self._playing is not None:
            self._playing.set()
            self._playing = None
            self.play.label = "Play"
