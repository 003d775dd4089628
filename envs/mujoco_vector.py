"""The batched ``LyraMuJoCo-v0``: ``gym.make_vec("LyraMuJoCo-v0", num_envs=N, vectorization_mode="vector_entry_point")``.

``N`` MuJoCo worlds stepped on a thread pool (`envs.mujoco_world.Worlds`: one ``MjData`` each,
one compiled model per scene; MuJoCo releases the GIL while stepping), all their cameras
rendered by one renderer call per step (`envs.mujoco_task.MuJoCoPointNav.observe`).
``prompt=[...]`` or ``scene=[...]`` runs scene ``i % len(list)`` in world ``i``.

Gymnasium 1.x semantics as LyraScene-v0's vector env: autoreset in "next step" mode (the step
after an episode ends resets that world, ignores its action and returns the first observation
with reward 0); ``reset(seed=s)`` seeds world ``i`` with ``s + i``, so episodes are those of
single envs with those seeds. ``info`` holds arrays with Gymnasium's ``_key`` masks.
``array_type="torch"`` returns observations as tensors on the env's device.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np
import torch
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from .mujoco_env import mujoco_spaces
from .mujoco_task import MuJoCoPointNav, make_mujoco_settings

ARRAY_TYPES = ("numpy", "torch")


class LyraMuJoCoVectorEnv(VectorEnv):
    """``num_envs`` MuJoCo robots with point goals, stepped as one batch (see the module docstring).

    Takes the keyword arguments of `envs.mujoco_env.LyraMuJoCoEnv` (``prompt`` and ``scene`` may be
    lists), plus ``num_envs`` and ``array_type``.
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, num_envs: int = 1, prompt: str | dict | Sequence[str | dict] | None = None,
                 scene: str | os.PathLike | Sequence[str | os.PathLike] | None = None, *,
                 array_type: str = "numpy", **options: Any) -> None:
        if not isinstance(num_envs, int) or isinstance(num_envs, bool) or num_envs < 1:
            raise ValueError(f"num_envs: expected a positive integer, got {num_envs!r}")
        if array_type not in ARRAY_TYPES:
            raise ValueError(f"array_type: expected one of {', '.join(ARRAY_TYPES)}, got {array_type!r}")
        self.settings = make_mujoco_settings(prompt=prompt, scene=scene, **options)
        self.num_envs, self.array_type = num_envs, array_type
        self.core = MuJoCoPointNav(self.settings, num_envs)
        self.single_observation_space, self.single_action_space = mujoco_spaces(self.core)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._rngs: list[np.random.Generator] = [seeding.np_random()[0] for _ in range(num_envs)]
        self._autoreset = np.zeros(num_envs, bool)
        self._started = False
        self._all = np.ones(num_envs, bool)

    def _out(self, x: torch.Tensor):
        return x if self.array_type == "torch" else x.cpu().numpy()

    def _observe(self) -> dict:
        return {k: self._out(v) for k, v in self.core.observe().items()}

    def _info(self, result: dict[str, torch.Tensor], done: torch.Tensor) -> dict[str, Any]:
        t, st = self.core.task, self.core.task.state
        values = {
            "collided": result["collided"], "success": result["success"], "tipped": result["tipped"],
            "geodesic_distance": st.geodesic, "distance_to_goal": t.goal_distance(),
            "collisions": st.collisions, "path_length": st.path_length,
        }
        info: dict[str, Any] = {}
        for key, value in values.items():
            info[key], info["_" + key] = self._out(value), self._out(torch.as_tensor(self._all))
        info["spl"], info["_spl"] = self._out(t.spl(result["success"])), self._out(done)
        return info

    def reset(self, *, seed: int | Sequence[int] | None = None, options: dict | None = None):
        """Reset every world; ``seed`` (an int ``s`` → ``s + i``, or one seed per world) reseeds them."""
        if seed is not None:
            seeds = [seed + i for i in range(self.num_envs)] if isinstance(seed, int) else list(seed)
            if len(seeds) != self.num_envs:
                raise ValueError(f"seed: expected an int or {self.num_envs} seeds, got {len(seeds)}")
            self._rngs = [seeding.np_random(s)[0] for s in seeds]
        self.core.reset(range(self.num_envs), self._rngs)
        self._autoreset[:] = False
        self._started = True
        dev = self.core.task.device
        no = torch.zeros(self.num_envs, dtype=torch.bool, device=dev)
        result = {"collided": no, "success": no, "tipped": no}
        return self._observe(), self._info(result, no)

    def step(self, actions):
        if not self._started:
            raise RuntimeError("LyraMuJoCo-v0: call reset() before step()")
        ctrl = self.core.check_actions(actions)
        result = self.core.step(ctrl)
        # Next-step autoreset: worlds whose episode ended last step start the next one (their
        # action moved them above; the reset puts them at the new start).
        reset = np.flatnonzero(self._autoreset)
        self.core.reset(reset, [self._rngs[i] for i in reset])
        mask = torch.as_tensor(self._autoreset, device=self.core.task.device)
        result = {k: torch.where(mask, torch.zeros_like(v), v) for k, v in result.items()}
        done = result["terminated"] | result["truncated"]
        self._autoreset = done.cpu().numpy()
        return (self._observe(), self._out(result["reward"].float()), self._out(result["terminated"]),
                self._out(result["truncated"]), self._info(result, done))

    def close_extras(self, **kwargs: Any) -> None:
        self.core.close()
