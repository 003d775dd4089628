"""The batched ``LyraScene-v0``: ``gym.make_vec("LyraScene-v0", num_envs=N, vectorization_mode="vector_entry_point")``.

All ``N`` agents are tensors on one device, stepped together by `envs.pointnav.PointNavTask`
(the same code as the single env, which is ``N = 1``), and their observations come from one
renderer call per step. Several scenes are supported: ``prompt=[...]`` or ``scene=[...]``
assigns scene ``i % len(list)`` to env ``i``.

Gymnasium 1.x semantics: autoreset in "next step" mode (the step after an episode ends
resets that env, ignores its action and returns the first observation with reward 0);
``reset(seed=s)`` seeds env ``i`` with ``s + i``, exactly as a ``SyncVectorEnv`` of single envs
would, so both give the same episodes. There is no TimeLimit wrapper here; the env truncates
at ``task.max_episode_steps`` itself. ``info`` holds arrays (with Gymnasium's ``_key`` masks).

``array_type="numpy"`` (default) returns numpy arrays; ``"torch"`` returns tensors on the env's
device (no copy to the host: what a GPU training loop wants).
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np
import torch
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from .pointnav import AgentConfig, PointNavTask, TaskConfig
from .scenes import load_scenes, make_settings
from .spaces import action_space, check_actions, observation_space, observe
from .views import CameraConfig

ARRAY_TYPES = ("numpy", "torch")


class LyraSceneVectorEnv(VectorEnv):
    """``num_envs`` point-goal navigation agents stepped as one batch (see the module docstring).

    Takes the keyword arguments of `envs.scene_env.LyraSceneEnv` (``prompt`` and ``scene``
    may be lists), plus ``num_envs`` and ``array_type``.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4, "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        num_envs: int = 1,
        prompt: str | dict | Sequence[str | dict] | None = None,
        scene: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
        *,
        image: str | os.PathLike | None = None,
        world: str = "procedural",
        seed: int = 0,
        agent: AgentConfig | dict | None = None,
        camera: CameraConfig | dict | None = None,
        task: TaskConfig | dict | None = None,
        width: int | None = None,
        height: int | None = None,
        depth: bool | None = None,
        action_type: str | None = None,
        device: str = "auto",
        cache_dir: str | os.PathLike | None = None,
        diffusers: dict[str, Any] | None = None,
        array_type: str = "numpy",
        render_mode: str | None = None,
    ) -> None:
        if not isinstance(num_envs, int) or isinstance(num_envs, bool) or num_envs < 1:
            raise ValueError(f"num_envs: expected a positive integer, got {num_envs!r}")
        if array_type not in ARRAY_TYPES:
            raise ValueError(f"array_type: expected one of {', '.join(ARRAY_TYPES)}, got {array_type!r}")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode: expected None or 'rgb_array', got {render_mode!r}")
        self.settings = make_settings(
            prompt=prompt, scene=scene, image=image, world=world, seed=seed, agent=agent, camera=camera, task=task,
            width=width, height=height, depth=depth, action_type=action_type, device=device, cache_dir=cache_dir,
            diffusers=diffusers,
        )
        s = self.settings
        self.num_envs = num_envs
        self.array_type = array_type
        self.render_mode = render_mode
        self.scenes = load_scenes(s)
        scene_ids = torch.arange(num_envs) % len(s.sources)
        self.task = PointNavTask(self.scenes.fields, scene_ids, s.agent, s.task, s.camera)
        self.single_observation_space = observation_space(s.camera)
        self.single_action_space = action_space(s.task)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._rngs: list[np.random.Generator] = [seeding.np_random()[0] for _ in range(num_envs)]
        self._autoreset = np.zeros(num_envs, dtype=bool)
        self._started = False
        self._obs: dict[str, torch.Tensor] | None = None

    def _out(self, x: torch.Tensor):
        return x if self.array_type == "torch" else x.cpu().numpy()

    def _observe(self) -> dict:
        self._obs = observe(self.task, self.scenes.views)
        return {k: self._out(v) for k, v in self._obs.items()}

    def _info(self, collided: torch.Tensor, success: torch.Tensor, done: torch.Tensor) -> dict[str, Any]:
        st = self.task.state
        values = {
            "collided": collided,
            "success": success,
            "geodesic_distance": st.geodesic,
            "distance_to_goal": self.task.goal_distance(),
            "collisions": st.collisions,
            "path_length": st.path_length,
        }
        info: dict[str, Any] = {}
        for key, value in values.items():
            info[key] = self._out(value)
            info["_" + key] = np.ones(self.num_envs, dtype=bool)
        # As the single env: SPL only where an episode ended this step (Gymnasium's mask says where).
        info["spl"] = self._out(self.task.spl(success))
        info["_spl"] = done.cpu().numpy()
        return info

    def reset(self, *, seed: int | Sequence[int] | None = None, options: dict | None = None):
        """Reset every env; ``seed`` (an int ``s`` → ``s + i``, or one seed per env) reseeds them."""
        if seed is not None:
            seeds = [seed + i for i in range(self.num_envs)] if isinstance(seed, int) else list(seed)
            if len(seeds) != self.num_envs:
                raise ValueError(f"seed: expected an int or {self.num_envs} seeds, got {len(seeds)}")
            self._rngs = [seeding.np_random(s)[0] for s in seeds]
        self.task.reset(list(range(self.num_envs)), self._rngs)
        self._autoreset[:] = False
        self._started = True
        dev = self.task.device
        no = torch.zeros(self.num_envs, dtype=torch.bool, device=dev)
        return self._observe(), self._info(no, no, no)

    def step(self, actions):
        if not self._started:
            raise RuntimeError("LyraScene-v0: call reset() before step()")
        a = check_actions(actions, self.settings.task, self.num_envs, self.task.device)
        result = self.task.step(a)
        rows = np.flatnonzero(self._autoreset).tolist()
        if rows:  # next-step autoreset: these envs ended last step; their action is ignored
            self.task.reset(rows, [self._rngs[r] for r in rows])
            idx = torch.tensor(rows, device=self.task.device)
            for t in (result.reward, result.collided, result.success, result.terminated, result.truncated):
                t[idx] = 0
        done = result.terminated | result.truncated
        self._autoreset = done.cpu().numpy()
        return (
            self._observe(),
            self._out(result.reward.float()),
            self._out(result.terminated),
            self._out(result.truncated),
            self._info(result.collided, result.success, done),
        )

    def render(self):
        """Per-env top-down frames (tuple of ``[H, W, 3]`` uint8) in ``rgb_array`` mode."""
        if self.render_mode != "rgb_array":
            return None
        if self._obs is None:
            raise RuntimeError("LyraScene-v0: call reset() before render()")
        from .topdown import topdown_frame

        f, st = self.scenes.fields, self.task.state
        frames = []
        for i in range(self.num_envs):
            s = int(st.scene[i])
            frames.append(topdown_frame(
                clearance=f.clearance[s].cpu().numpy(), required=float(self.task.required[s]),
                origin=f.origin[s].cpu().numpy().astype(np.float64), resolution=float(f.resolution[s]),
                path=st.xy[i : i + 1].cpu().numpy().astype(np.float64), yaw=float(st.yaw[i]),
                goal=self.task.goal_xy()[i].cpu().numpy().astype(np.float64), radius=self.settings.agent.radius,
                view=self._obs["rgb"][i].cpu().numpy(),
            ))
        return tuple(frames)
