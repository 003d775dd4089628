"""Episode playback: a recorded rollout (`lyra_sim.envs.rollout`) over the scene.

The agent's body (its cylinder), its camera (a frustum showing the image it saw), the path
it has driven so far, the goal, and beside the scene, in the GUI, the camera image and the
step's action, reward and flags. A step slider scrubs; Play advances at the chosen rate.
"""

from __future__ import annotations

import math
import threading

import numpy as np

from lyra_sim.envs.rollout import Rollout, summarize

from .camera import apply_pose
from .presets import CameraPose

AGENT_RGB = (60, 130, 255)
PATH_RGB = (255, 60, 200)
GOAL_RGB = (30, 220, 60)
DEFAULT_RATE = 8.0
IMAGE_WIDTH = 256  # px: agent images (often 64 x 64) are enlarged to about this in the panel


def agent_camera(rollout: Rollout, row: int) -> tuple[np.ndarray, np.ndarray]:
    """``(eye [3], camera-to-world rotation [3, 3])`` of the agent camera at ``row`` (OpenCV axes:
    columns right, down, forward), as the env renders it."""
    info = rollout.info
    x, y = (float(v) for v in rollout.xy[row])
    yaw, pitch = float(rollout.yaw[row]), math.radians(info.camera_pitch_deg)
    forward = np.array([math.cos(pitch) * math.cos(yaw), math.cos(pitch) * math.sin(yaw), -math.sin(pitch)])
    right = np.array([math.sin(yaw), -math.cos(yaw), 0.0])
    down = np.cross(forward, right)
    floor = info.floor_z[int(rollout.scene[row])]
    return np.array([x, y, floor + info.camera_height_m]), np.stack([right, down, forward], 1)


def camera_fov_y(rollout: Rollout) -> tuple[float, float]:
    """``(vertical field of view in radians, aspect width / height)`` of the agent camera."""
    aspect = 1.0 if rollout.image is None else rollout.image.shape[2] / rollout.image.shape[1]
    half = math.radians(rollout.info.camera_hfov_deg) / 2
    return 2 * math.atan(math.tan(half) / aspect), aspect


def enlarged(image: np.ndarray, width: int = IMAGE_WIDTH) -> np.ndarray:
    """``image [H, W, 3]`` repeated ``width // W`` times along both axes (sharp pixels, no blur)."""
    k = max(1, width // image.shape[1])
    return np.repeat(np.repeat(image, k, 0), k, 1)


def step_text(rollout: Rollout, rows: np.ndarray, t: int) -> str:
    """Markdown: step ``t`` of the episode whose rows are ``rows``."""
    r = rows[t]
    action = rollout.action[r]
    if t == 0:
        did = "reset"
    elif rollout.info.action_type == "discrete":
        from lyra_sim.envs.pointnav import DISCRETE_ACTIONS

        did = DISCRETE_ACTIONS[int(action)]
    else:
        did = f"linear {action[0]:+.2f}, angular {action[1]:+.2f}"
    flags = [k for k in ("collided", "success", "terminated", "truncated") if bool(getattr(rollout, k)[r])]
    goal_distance = float(np.linalg.norm(rollout.goal[r] - rollout.xy[r]))
    return (f"**step {t} / {len(rows) - 1}** · {did}  \nreward {rollout.reward[r]:+.3f} · return "
            f"{rollout.reward[rows[: t + 1]].sum():+.3f} · goal {goal_distance:.2f} m" + (f"  \n{', '.join(flags)}" if flags else ""))


class EpisodePlayer:
    """The "Episodes" GUI folder and the agent's scene nodes.

    Args:
        server: the viser server.
        rollout: the recording.
        episodes: ids of the episodes to offer (those recorded in this scene).
    """

    def __init__(self, server, rollout: Rollout, episodes: list[int]) -> None:
        if not episodes:
            raise ValueError("no episodes to play")
        self.server, self.rollout = server, rollout
        self.summaries = {s["id"]: s for s in summarize(rollout, episodes)}
        labels = {
            f"{s['id']}: env {s['env']}, {s['steps']} steps, return {s['return']:+.2f}" + (", success" if s["success"] else ""): s["id"]
            for s in self.summaries.values()
        }
        self._by_label = labels
        self._run: threading.Event | None = None  # set when the current playback is to stop
        self._lock = threading.Lock()
        gui = server.gui
        info = rollout.info
        fov, aspect = camera_fov_y(rollout)
        scene = server.scene
        self.body = scene.add_cylinder("/episode/agent", radius=info.agent_radius, height=info.agent_height,
                                       color=AGENT_RGB, opacity=0.8)
        self.frustum = scene.add_camera_frustum("/episode/camera", fov=fov, aspect=aspect, scale=0.25, color=AGENT_RGB)
        self.goal = scene.add_icosphere("/episode/goal", radius=0.12, color=GOAL_RGB)
        self.path = None
        with gui.add_folder("Episodes"):
            self.choice = gui.add_dropdown("Episode", tuple(labels), initial_value=next(iter(labels)))
            self.slider = gui.add_slider("Step", min=0, max=1, step=1, initial_value=0)
            self.play_button = gui.add_button("Play", icon=None)
            self.rate = gui.add_number("Steps / s", DEFAULT_RATE, min=0.5, max=120.0, step=0.5)
            self.follow = gui.add_checkbox("Agent's view", False, hint="look through the agent's camera")
            self.text = gui.add_markdown("")
            self.image = gui.add_image(enlarged(rollout.image[0]), label="agent camera") if rollout.image is not None else None
        self.choice.on_update(lambda _: self.select(self._by_label[self.choice.value]))
        self.slider.on_update(lambda _: self.show(int(self.slider.value)))
        self.play_button.on_click(lambda _: self.toggle())
        self.follow.on_update(lambda _: self.show(int(self.slider.value)))
        self.select(next(iter(labels.values())))

    def select(self, episode: int) -> None:
        """Show ``episode`` from its first step."""
        self.stop()
        with self._lock:
            self._rows = self.rollout.rows(episode)
            self.episode = episode
            xy = self.rollout.xy[self._rows].astype(float)
            floor = self.rollout.info.floor_z[int(self.rollout.scene[self._rows[0]])]
            self._path_points = np.concatenate([xy, np.full((len(xy), 1), floor + 0.05)], 1)
        self.slider.max = max(1, len(self._rows) - 1)
        self.slider.disabled = len(self._rows) == 1
        if int(self.slider.value) == 0:
            self.show(0)
        else:
            self.slider.value = 0

    def show(self, t: int) -> None:
        """Draw step ``t`` of the selected episode."""
        with self._lock:
            rows = self._rows
            t = int(np.clip(t, 0, len(rows) - 1))
            r = rows[t]
            info = self.rollout.info
            floor = info.floor_z[int(self.rollout.scene[r])]
            x, y = (float(v) for v in self.rollout.xy[r])
            eye, rot = agent_camera(self.rollout, r)
            with self.server.atomic():
                self.body.position = (x, y, floor + info.agent_height / 2)
                self.frustum.position = tuple(eye)
                self.frustum.wxyz = _wxyz(rot)
                self.goal.position = (*(float(v) for v in self.rollout.goal[r]), floor + 0.12)
                pts = self._path_points[: t + 1]
                if self.path is not None:
                    self.path.remove()
                    self.path = None
                if t >= 1:
                    segments = np.stack([pts[:-1], pts[1:]], 1)
                    self.path = self.server.scene.add_line_segments("/episode/path", segments, PATH_RGB, thickness=0.03)
                self.text.content = step_text(self.rollout, rows, t)
                if self.image is not None:
                    self.image.image = enlarged(self.rollout.image[r])
                    self.frustum.image = self.rollout.image[r]
            if self.follow.value:
                fov, _ = camera_fov_y(self.rollout)
                pose = CameraPose(tuple(eye), tuple(eye + rot[:, 2]), tuple(-rot[:, 1]), fov, 0.05)
                for client in self.server.get_clients().values():
                    apply_pose(client, pose)

    def toggle(self) -> None:
        """Play from the current step (from the start when at the end), or pause."""
        if self._run is not None and not self._run.is_set():
            self.stop()
            return
        if int(self.slider.value) >= len(self._rows) - 1:
            self.slider.value = 0
        pause = self._run = threading.Event()  # this run's own: a later run never revives it
        self.play_button.label = "Pause"

        def run() -> None:
            while not pause.wait(1.0 / float(self.rate.value)):
                t = int(self.slider.value) + 1
                if t >= len(self._rows):
                    break
                self.slider.value = t
            pause.set()
            if self._run is pause:
                self.play_button.label = "Play"

        threading.Thread(target=run, daemon=True, name="lyra-view-episode").start()

    def stop(self) -> None:
        """Pause playback."""
        if self._run is not None:
            self._run.set()


def _wxyz(rot: np.ndarray) -> tuple[float, float, float, float]:
    import viser.transforms as tf

    return tuple(float(v) for v in tf.SO3.from_matrix(rot).wxyz)
