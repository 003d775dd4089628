"""``LyraScene-v0``: point-goal navigation in a generated or imported Gaussian scene.

    import gymnasium as gym
    import lyra_sim  # registers the environments (or use the id "lyra_sim:LyraScene-v0")

    env = gym.make("LyraScene-v0", prompt="a kitchen with a table and two chairs", seed=0)
    obs, info = env.reset(seed=1)
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())

Observations are rendered from the scene's Gaussians (gsplat on CUDA, the PyTorch rasterizer
on the CPU); collisions are checked against the floor grid of the collision mesh extracted
from those Gaussians (``nav.npz`` of the bundle), never against a world model's ground truth.
"""

from __future__ import annotations

import os
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from .episodes import EpisodeCursor
from .recording import EnvRecorder
from .settings import load_scenes, make_settings, make_task
from .spaces import action_space, check_actions, observation_space, observe
from .topdown import topdown_frame


class LyraSceneEnv(gym.Env):
    """Point-goal navigation for a cylinder base (see `envs.pointnav` for motion and reward).

    Args:
        prompt: text prompt (or scene-spec dict) for the procedural world model.
        scene: instead of a prompt, an existing bundle directory, scene directory or ``.ply``
            (imported splats are exported into the cache on first use).
        image: with ``world="diffusers"``, the anchor photo (`lyra_sim.pipelines.diffusers`).
        world: "procedural" (default) or "diffusers" (needs local model weights, given in
            ``diffusers={"video_model": ..., "depth_model": ..., ...}``).
        seed: the scene's generation seed (episodes are seeded by ``reset(seed=...)``).
        agent, camera, task: `AgentConfig`, `CameraConfig`, `TaskConfig` or dicts of their fields.
        width, height, depth, action_type: shortcuts for the camera / task fields.
        device: "auto" (CUDA if available), "cpu" or "cuda[:i]": where the agents and the
            renderer live.
        cache_dir: bundle cache (default ``$LYRA_SIM_CACHE`` or the user cache directory).
        render_mode: None or "rgb_array" (a top-down map beside the agent's view).
        episodes: an episode dataset (`envs.episodes`, ``lyra-sim episodes``) to replay in order
            instead of drawing episodes; ``reset(seed=...)`` rewinds it.
        record, record_images: a rollout file to write at ``close()`` (`envs.recording`), and
            whether it keeps the camera images.

    ``info`` holds ``collided``, ``success``, ``geodesic_distance``, ``distance_to_goal``,
    ``collisions`` (this episode), ``path_length`` (meters driven), ``moving_collision`` (this step
    a moving part pushed the body or stopped it), ``moving_collisions`` (this episode), ``time``
    (seconds: where the scene's motions are) and, when the episode ends, ``spl`` (success weighted
    by path length), and with ``episodes=`` ``episode_index`` (the dataset's episode being run).

    Dynamic scenes (``dynamic=True`` with a prompt, or ``scene=`` a dynamic bundle or scene
    directory): moving parts are rendered where they are at the episode's time and collided with
    (`envs.pointnav`); ``dynamic=True`` on a static scene is an error.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(
        self,
        prompt: str | dict | None = None,
        scene: str | os.PathLike | None = None,
        *,
        render_mode: str | None = None,
        **options: Any,
    ) -> None:
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode: expected None or 'rgb_array', got {render_mode!r}")
        if isinstance(prompt, (list, tuple)) or isinstance(scene, (list, tuple)):
            raise ValueError("LyraScene-v0 runs one scene; for several use gym.make_vec('LyraScene-v0', num_envs=N, ...)")
        # One signature for every option, shared with the vector env: `envs.settings.make_settings`.
        self.settings = make_settings(prompt=prompt, scene=scene, **options)
        self.render_mode = render_mode
        self.scenes = load_scenes(self.settings)
        s = self.settings
        self.task = make_task(s, self.scenes, torch.zeros(1, dtype=torch.long))
        self._cursor = EpisodeCursor(self.scenes.dataset, 1) if self.scenes.dataset is not None else None
        self._episode_index = -1
        self._recorder = EnvRecorder(s, self.scenes, 1) if s.record is not None else None
        survey = self.task.survey_viewmats()  # CUDA: render budgets as the vector env's
        self.scenes.views.fit_budget(*survey)
        self.scenes.views.fit_part_budgets(*survey, self.scenes.parts.sample_poses())
        self.observation_space = observation_space(s.camera, self.scenes.fields.max_distance)
        self.action_space = action_space(s.task)
        self._needs_reset = True
        self._obs: dict[str, torch.Tensor] | None = None
        self._path: list[np.ndarray] = []

    @property
    def bundle(self):
        """The asset bundle directory this env runs on."""
        return self.scenes.bundles[0]

    def _numpy_obs(self) -> dict[str, np.ndarray]:
        self._obs = observe(self.task, self.scenes.views)
        return {k: v[0].cpu().numpy() for k, v in self._obs.items()}

    def _info(self, collided: bool = False, success: bool = False, done: bool = False, moving: bool = False) -> dict[str, Any]:
        st = self.task.state
        info = {
            "collided": collided,
            "success": success,
            "geodesic_distance": float(st.geodesic[0]),
            "distance_to_goal": float(self.task.goal_distance()[0]),
            "collisions": int(st.collisions[0]),
            "path_length": float(st.path_length[0]),
            "moving_collision": moving,
            "moving_collisions": int(st.moving_collisions[0]),
            "time": float(st.time[0]),
        }
        if done:
            info["spl"] = float(self.task.spl(torch.tensor([success], device=self.task.device))[0])
        if self._cursor is not None:
            info["episode_index"] = self._episode_index
        return info

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Start an episode: drawn with the env's generator (``seed`` reseeds it), or with
        ``episodes=`` the dataset's next (``seed`` rewinds to its first)."""
        super().reset(seed=seed)
        if self._cursor is None:
            self.task.reset([0], [self.np_random])
        else:
            if seed is not None:
                self._cursor.rewind()
            xy, yaw, goal, self._episode_index = self._cursor(0)
            self.task.start([0], [(xy, yaw, goal, 0.0)])  # datasets replay static scenes only
        self._needs_reset = False
        self._path = [self.task.state.xy[0].cpu().numpy().astype(np.float64)]
        obs = self._numpy_obs()
        if self._recorder is not None:
            self._recorder.reset(self.task, self._obs)
        return obs, self._info()

    def step(self, action):
        if self._needs_reset:
            raise RuntimeError("LyraScene-v0: call reset() before step() (and after an episode ends)")
        a = check_actions(action, self.settings.task, 1, self.task.device)
        result = self.task.step(a)
        self._path.append(self.task.state.xy[0].cpu().numpy().astype(np.float64))
        terminated, truncated = bool(result.terminated[0]), bool(result.truncated[0])
        self._needs_reset = terminated or truncated
        info = self._info(bool(result.collided[0]), bool(result.success[0]), self._needs_reset, bool(result.moving_collision[0]))
        obs = self._numpy_obs()
        if self._recorder is not None:
            r = result
            self._recorder.step(self.task, self._obs, a, r.reward, r.terminated, r.truncated, r.collided, r.success)
        return obs, float(result.reward[0]), terminated, truncated, info

    def close(self):
        """Write the ``record=`` rollout, if any (`envs.recording`)."""
        if self._recorder is not None:
            self._recorder.close()
            self._recorder = None
        super().close()

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        if self._obs is None:
            raise RuntimeError("LyraScene-v0: call reset() before render()")
        f, st = self.scenes.fields, self.task.state
        return topdown_frame(
            clearance=f.clearance[0].cpu().numpy(),
            required=float(self.task.required[0]),
            origin=f.origin[0].cpu().numpy().astype(np.float64),
            resolution=float(f.resolution[0]),
            path=np.array(self._path),
            yaw=float(st.yaw[0]),
            goal=self.task.goal_xy()[0].cpu().numpy().astype(np.float64),
            radius=self.settings.agent.radius,
            view=self._obs["rgb"][0].cpu().numpy(),
        )
