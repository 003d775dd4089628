"""``LyraMuJoCo-v0``: a robot simulated by MuJoCo in a generated or imported Gaussian scene, seeing through its cameras.

    import gymnasium as gym
    import lyra_sim  # registers the environments

    env = gym.make("LyraMuJoCo-v0", prompt="a kitchen with a table", robot="diffdrive", task="pointnav")
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())

Physics: the bundle's ``scene.xml`` (collision geometry extracted from the Gaussians: a floor box
and convex pieces) with the robot attached (`envs.mujoco_world`). Images: the robot's MuJoCo
cameras rendered from the scene's Gaussians (gsplat on CUDA, the PyTorch rasterizer on the
CPU). Task and reward: `envs.mujoco_task`.
"""

from __future__ import annotations

import os
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from .mujoco_task import MuJoCoPointNav, make_mujoco_settings
from .topdown import topdown_frame


def mujoco_spaces(core: MuJoCoPointNav) -> tuple[spaces.Dict, spaces.Box]:
    """Observation space (camera images as `observation_keys` names them, ``pointgoal``) and action
    space (``Box`` over the actuators' control ranges) of one world."""
    cam = core.settings.env.camera
    items: dict[str, spaces.Space] = {}
    for key, kind, _ in core.keys:
        items[key] = (spaces.Box(0, 255, (cam.height, cam.width, 3), np.uint8) if kind == "rgb"
                      else spaces.Box(0.0, cam.far, (cam.height, cam.width, 1), np.float32))
    # No goal is farther than the largest nav grid's diagonal.
    reach = float(np.hypot(*core.fields.shape) * core.fields.resolution.max())
    items["pointgoal"] = spaces.Box(np.array([0.0, -np.pi], np.float32), np.array([reach, np.pi], np.float32), dtype=np.float32)
    return spaces.Dict(items), spaces.Box(core.ctrl_low, core.ctrl_high, dtype=np.float32)


class LyraMuJoCoEnv(gym.Env):
    """Point-goal navigation with a MuJoCo robot (see `envs.mujoco_task` for actions and reward).

    Args:
        prompt, scene, image, world, seed, width, height, depth, device, cache_dir, diffusers,
            up, scale: as LyraScene-v0 (`envs.single_env.LyraSceneEnv`).
        robot: ``"diffdrive"`` (the shipped base, `envs.robots.ROBOTS`) or a path to an MJCF /
            URDF file.
        cameras: camera names of the robot file and/or `envs.robots.CameraMount` dicts; None:
            every camera of the file.
        base: ``"auto"``, ``"free"`` or ``"fixed"`` (how the robot's root stands, `envs.robots`).
        task: ``"pointnav"``, or a `TaskConfig` / dict of its fields (continuous actions).
        physics: `envs.mujoco_world.PhysicsConfig` or a dict (``control_dt``, ``threads`` ...).
        camera: `CameraConfig` fields other than the pose and field of view (those are the robot's).
        render_mode: None or "rgb_array" (a top-down map beside the first camera's view).

    ``info`` holds ``collided`` (touching the scene, floor aside), ``success``, ``tipped``,
    ``geodesic_distance``, ``distance_to_goal``, ``collisions``, ``path_length`` and, when the
    episode ends, ``spl``.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, prompt: str | dict | None = None, scene: str | os.PathLike | None = None, *,
                 render_mode: str | None = None, **options: Any) -> None:
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode: expected None or 'rgb_array', got {render_mode!r}")
        if isinstance(prompt, (list, tuple)) or isinstance(scene, (list, tuple)):
            raise ValueError("LyraMuJoCo-v0 runs one scene; for several use gym.make_vec('LyraMuJoCo-v0', num_envs=N, ...)")
        self.settings = make_mujoco_settings(prompt=prompt, scene=scene, **options)
        self.render_mode = render_mode
        self.core = MuJoCoPointNav(self.settings, 1)
        self.observation_space, self.action_space = mujoco_spaces(self.core)
        self.metadata = {**self.metadata, "render_fps": round(1 / self.settings.physics.control_dt)}
        self._needs_reset = True
        self._obs: dict[str, torch.Tensor] | None = None
        self._path: list[np.ndarray] = []

    @property
    def bundle(self):
        """The asset bundle directory this env runs on."""
        return self.core.bundles[0]

    @property
    def model(self):
        """The compiled ``mujoco.MjModel`` (scene + robot; robot names start with ``robot/``)."""
        return self.core.scenes[0].model

    @property
    def data(self):
        """The world's ``mujoco.MjData``."""
        return self.core.worlds.datas[0]

    def _numpy_obs(self) -> dict[str, np.ndarray]:
        self._obs = self.core.observe()
        return {k: v[0].cpu().numpy() for k, v in self._obs.items()}

    def _info(self, result: dict[str, torch.Tensor] | None = None, done: bool = False) -> dict[str, Any]:
        t, st = self.core.task, self.core.task.state
        flag = (lambda k: bool(result[k][0])) if result is not None else (lambda k: False)
        info = {
            "collided": flag("collided"), "success": flag("success"), "tipped": flag("tipped"),
            "geodesic_distance": float(st.geodesic[0]), "distance_to_goal": float(t.goal_distance()[0]),
            "collisions": int(st.collisions[0]), "path_length": float(st.path_length[0]),
        }
        if done:
            info["spl"] = float(t.spl(result["success"])[0])
        return info

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.core.reset([0], [self.np_random])
        self._needs_reset = False
        self._path = [self.core.task.state.xy[0].cpu().numpy().astype(np.float64)]
        return self._numpy_obs(), self._info()

    def step(self, action):
        if self._needs_reset:
            raise RuntimeError("LyraMuJoCo-v0: call reset() before step() (and after an episode ends)")
        result = self.core.step(self.core.check_actions(action))
        self._path.append(self.core.task.state.xy[0].cpu().numpy().astype(np.float64))
        terminated, truncated = bool(result["terminated"][0]), bool(result["truncated"][0])
        self._needs_reset = terminated or truncated
        return self._numpy_obs(), float(result["reward"][0]), terminated, truncated, self._info(result, self._needs_reset)

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        if self._obs is None:
            raise RuntimeError("LyraMuJoCo-v0: call reset() before render()")
        f, t = self.core.fields, self.core.task
        return topdown_frame(
            clearance=f.clearance[0].cpu().numpy(), required=float(t.required[0]),
            origin=f.origin[0].cpu().numpy().astype(np.float64), resolution=float(f.resolution[0]),
            path=np.array(self._path), yaw=float(t.state.yaw[0]), goal=t.goal_xy()[0].cpu().numpy().astype(np.float64),
            radius=t.agent.radius, view=self._obs[self.core.keys[0][0]][0].cpu().numpy(),
        )

    def close(self):
        self.core.close()
        super().close()
