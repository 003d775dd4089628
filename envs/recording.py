"""The ``record=`` option of LyraScene-v0: what the single and the vector env write to a rollout file.

``gym.make("LyraScene-v0", ..., record="rollout.npz")`` (or ``gym.make_vec``) keeps every agent
state (`envs.rollout`: the row after each reset and after each step, with its action, reward
and flags) and writes the file atomically at ``close()``; ``record_images=True`` keeps each
observation's ``rgb`` too (``H · W · 3`` bytes per row, in memory until ``close``). In the vector
env an autoreset step records the new episode's first row for the envs that restarted and a
step row for the others. Recording copies the state to the host every step: it is for
evaluations and for looking (``lyra-sim view BUNDLE --episodes rollout.npz``), not for training
throughput. An env closed before any ``reset`` writes nothing.
"""

from __future__ import annotations

from torch import Tensor

from .pointnav import PointNavTask
from .rollout import RolloutInfo, RolloutRecorder
from .settings import EnvSettings, LoadedScenes


class EnvRecorder:
    """`RolloutRecorder` fed from a `PointNavTask` and its observations (``N`` = the task's agents)."""

    def __init__(self, settings: EnvSettings, scenes: LoadedScenes, num_envs: int) -> None:
        s = settings
        info = RolloutInfo(
            action_type=s.task.action_type, agent_radius=s.agent.radius, agent_height=s.agent.height,
            camera_height_m=s.camera.height_m, camera_pitch_deg=s.camera.pitch_deg, camera_hfov_deg=s.camera.hfov_deg,
            scene_sha256=tuple(m.get("files", {}).get("scene.ply", "") for m in scenes.manifests),
            floor_z=tuple(float(z) for z in scenes.fields.floor_z.cpu()),
        )
        self.images = s.record_images
        self.recorder = RolloutRecorder(s.record, info, num_envs=num_envs, images=self.images)
        self.started = False

    def _image(self, obs: dict[str, Tensor]):
        return obs["rgb"] if self.images else None

    def reset(self, task: PointNavTask, obs: dict[str, Tensor], mask: Tensor | None = None) -> None:
        """The first row of the episodes that started where ``mask [N]`` is set (all by default)."""
        st = task.state
        self.recorder.reset(st.xy, st.yaw, task.goal_xy(), st.scene, image=self._image(obs), mask=mask)
        self.started = True

    def step(self, task: PointNavTask, obs: dict[str, Tensor], action: Tensor, reward: Tensor, terminated: Tensor,
             truncated: Tensor, collided: Tensor, success: Tensor, mask: Tensor | None = None) -> None:
        """The rows every env of ``mask`` (all by default) reached with ``action``."""
        st = task.state
        self.recorder.step(st.xy, st.yaw, task.goal_xy(), action, reward, terminated, truncated, collided, success,
                           image=self._image(obs), mask=mask)

    def close(self) -> None:
        """Write the rollout (nothing when no episode was started)."""
        if self.started:
            self.recorder.close()
