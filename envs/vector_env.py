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

**No host synchronisation in `step`** (with ``array_type="torch"``, ``action_check="async"``
and device-tensor actions): autoresets are masked tensor updates whose episode starts are
drawn ahead, on the host, from each env's own generator (`EpisodeStarts`), so episodes are
exactly those of single envs with the same seeds; the observation renderer keeps its
selections on the device (`envs.views`). gsplat reads its own intersection count once per
call; that sync is inside the rasterizer, not ours.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Sequence

import numpy as np
import torch
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from .episodes import EpisodeCursor
from .pointnav import PointNavTask
from .recording import EnvRecorder
from .settings import load_scenes, make_settings, make_task
from .spaces import action_space, check_actions, observation_space, observe

ARRAY_TYPES = ("numpy", "torch")
ACTION_CHECKS = ("sync", "async")


class EpisodeStarts:
    """Per-env queues of episode starts, drawn ahead on the host and kept on the device.

    ``next_episodes(rows)`` gives each of the distinct envs ``rows`` its next episode (start ``xy``, ``yaw``,
    pool goal, start time, dataset index or -1): the next `PointNavTask.draw_episode` from its generator, as
    in a single env reset that many times, or the next of a replayed dataset (`envs.episodes.EpisodeCursor`);
    ``index [N]`` is the dataset index of every env's current episode.

    The device counts what each env consumed (``used``);
    the host learns it from a copy made after every step, read once the copy has landed
    (no wait), and tops each queue up to ``depth`` unconsumed starts. An env consumes at most
    one start per step, so the host waits for a copy only when its latest known count is
    ``depth`` steps old.
    """

    def __init__(self, task: PointNavTask, next_episodes: Callable[[list[int]], list[tuple[np.ndarray, float, int, float, int]]],
                 depth: int = 8) -> None:
        n, dev = len(task.scene_ids), task.device
        self.task, self.next_episodes, self.depth = task, next_episodes, depth
        self.xy = torch.zeros((n, depth, 2), device=dev)
        self.yaw = torch.zeros((n, depth), device=dev)
        self.goal = torch.zeros((n, depth), dtype=torch.long, device=dev)
        self.time = torch.zeros((n, depth), device=dev)
        self.queued_index = torch.zeros((n, depth), dtype=torch.long, device=dev)
        self.index = torch.full((n,), -1, dtype=torch.long, device=dev)
        self.used = torch.zeros(n, dtype=torch.long, device=dev)
        self.drawn = np.zeros(n, dtype=np.int64)
        self._rows = torch.arange(n, device=dev)
        self._copies: list[tuple[torch.Tensor, torch.cuda.Event | None, int]] = []  # (host counts, ready, step)
        self._step = self._known_step = 0
        self._top_up(np.zeros(n, dtype=np.int64))

    def _top_up(self, used: np.ndarray) -> None:
        rows = np.flatnonzero(used + self.depth > self.drawn)
        if not len(rows):
            return
        slots, xy, yaw, goal, time, index = [], [], [], [], [], []
        # Round e draws every row's e-th missing start: one batch of distinct envs (`next_episodes`).
        need = used[rows] + self.depth - self.drawn[rows]
        for e in range(int(need.max())):
            batch = rows[need > e]
            for r, (p, y, g, t, i) in zip(batch, self.next_episodes(batch.tolist())):
                slots.append((r, (self.drawn[r] + e) % self.depth))
                xy.append(p), yaw.append(y), goal.append(g), time.append(t), index.append(i)
        self.drawn[rows] = used[rows] + self.depth
        r, k = torch.tensor(slots, device=self.xy.device).unbind(1)
        self.xy[r, k] = torch.tensor(np.array(xy), dtype=torch.float32).to(self.xy.device, non_blocking=True)
        self.yaw[r, k] = torch.tensor(yaw, dtype=torch.float32).to(self.xy.device, non_blocking=True)
        self.goal[r, k] = torch.tensor(goal).to(self.xy.device, non_blocking=True)
        self.time[r, k] = torch.tensor(time, dtype=torch.float32).to(self.xy.device, non_blocking=True)
        self.queued_index[r, k] = torch.tensor(index).to(self.xy.device, non_blocking=True)

    def restart(self, mask: torch.Tensor) -> None:
        """Start the next queued episode of every env where ``mask [N]`` is set."""
        self._refill()
        k = self.used % self.depth
        self.task.restart(mask, self.xy[self._rows, k], self.yaw[self._rows, k], self.goal[self._rows, k],
                          self.time[self._rows, k])
        self.index = torch.where(mask, self.queued_index[self._rows, k], self.index)
        self.used += mask.long()
        self._step += 1
        if self.used.device.type == "cuda":
            host = torch.empty(self.used.shape, dtype=torch.long, pin_memory=True)
            host.copy_(self.used, non_blocking=True)
            ready = torch.cuda.Event()
            ready.record()
            self._copies.append((host, ready, self._step))
        else:
            self._copies.append((self.used.clone(), None, self._step))

    def _refill(self) -> None:
        """Top up from the newest landed count copy; wait for one only when the queues could run dry."""
        landed = None
        while self._copies:
            host, ready, step = self._copies[0]
            must_wait = self._step - self._known_step >= self.depth
            if ready is not None and not ready.query():
                if not must_wait:
                    break
                ready.synchronize()
            landed = self._copies.pop(0)
            self._known_step = step
        if landed is not None:
            self._top_up(landed[0].numpy())


class LyraSceneVectorEnv(VectorEnv):
    """``num_envs`` point-goal navigation agents stepped as one batch (see the module docstring).

    Takes the keyword arguments of `envs.single_env.LyraSceneEnv` (those of
    `envs.settings.make_settings`; ``prompt`` and ``scene`` may be lists), plus ``num_envs``,
    ``array_type`` and ``action_check``. With ``episodes=`` env ``i`` runs the dataset's episodes
    ``i``, ``i + N``, ... (`envs.episodes.EpisodeCursor`) and ``info["episode_index"]`` says which;
    ``record=`` writes a rollout at ``close()`` (`envs.recording`; it copies state to the host
    every step).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4, "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        num_envs: int = 1,
        prompt: str | dict | Sequence[str | dict] | None = None,
        scene: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
        *,
        array_type: str = "numpy",
        action_check: str = "sync",
        render_mode: str | None = None,
        **options: Any,
    ) -> None:
        if not isinstance(num_envs, int) or isinstance(num_envs, bool) or num_envs < 1:
            raise ValueError(f"num_envs: expected a positive integer, got {num_envs!r}")
        if array_type not in ARRAY_TYPES:
            raise ValueError(f"array_type: expected one of {', '.join(ARRAY_TYPES)}, got {array_type!r}")
        if action_check not in ACTION_CHECKS:
            raise ValueError(f"action_check: expected one of {', '.join(ACTION_CHECKS)}, got {action_check!r}")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode: expected None or 'rgb_array', got {render_mode!r}")
        self.settings = make_settings(prompt=prompt, scene=scene, **options)  # the options of `envs.settings.make_settings`
        s = self.settings
        self.num_envs = num_envs
        self.array_type = array_type
        self.action_check = action_check
        self.render_mode = render_mode
        self.scenes = load_scenes(s)
        scene_ids = torch.arange(num_envs) % len(s.sources)
        self.task = make_task(s, self.scenes, scene_ids)
        self._cursor = EpisodeCursor(self.scenes.dataset, num_envs) if self.scenes.dataset is not None else None
        self._recorder = EnvRecorder(s, self.scenes, num_envs) if s.record is not None else None
        self.single_observation_space = observation_space(s.camera, self.scenes.fields.max_distance)
        self.single_action_space = action_space(s.task)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._rngs: list[np.random.Generator] = [seeding.np_random()[0] for _ in range(num_envs)]
        self._starts: EpisodeStarts | None = None
        self._autoreset = torch.zeros(num_envs, dtype=torch.bool, device=self.task.device)
        self._obs: dict[str, torch.Tensor] | None = None
        ones = torch.ones(num_envs, dtype=torch.bool, device=self.task.device)
        self._all = ones if array_type == "torch" else ones.cpu().numpy()
        survey = self.task.survey_viewmats()
        self.scenes.views.fit_budget(*survey)
        self.scenes.views.fit_part_budgets(*survey, self.scenes.parts.sample_poses())

    def _out(self, x: torch.Tensor):
        return x if self.array_type == "torch" else x.cpu().numpy()

    def _observe(self) -> dict:
        self._obs = observe(self.task, self.scenes.views)
        return {k: self._out(v) for k, v in self._obs.items()}

    def _info(self, collided: torch.Tensor, success: torch.Tensor, done: torch.Tensor, moving: torch.Tensor) -> dict[str, Any]:
        st = self.task.state
        values = {
            "collided": collided,
            "success": success,
            "geodesic_distance": st.geodesic,
            "distance_to_goal": self.task.goal_distance(),
            "collisions": st.collisions,
            "path_length": st.path_length,
            "moving_collision": moving,
            "moving_collisions": st.moving_collisions,
            "time": st.time,
        }
        info: dict[str, Any] = {}
        for key, value in values.items():
            info[key] = self._out(value)
            info["_" + key] = self._all
        # As the single env: SPL only where an episode ended this step (Gymnasium's mask says where).
        info["spl"] = self._out(self.task.spl(success))
        info["_spl"] = self._out(done)
        if self._cursor is not None:
            info["episode_index"] = self._out(self._starts.index)
            info["_episode_index"] = self._all
        return info

    def _next_episodes(self, envs: list[int]) -> list[tuple[np.ndarray, float, int, float, int]]:
        """The next episode of each of ``envs`` (distinct): drawn from its generator, or the replayed dataset's next
        (at time 0: datasets replay static scenes only)."""
        if self._cursor is not None:
            return [(xy, yaw, goal, 0.0, index) for xy, yaw, goal, index in map(self._cursor, envs)]
        drawn = self.task.draw_episodes([int(self.task.scene_ids[e]) for e in envs], [self._rngs[e] for e in envs])
        return [(*d, -1) for d in drawn]

    def reset(self, *, seed: int | Sequence[int] | None = None, options: dict | None = None):
        """Reset every env; ``seed`` (an int ``s`` → ``s + i``, or one seed per env) reseeds them
        (with ``episodes=``: rewinds every env to its first dataset episode)."""
        if seed is not None:
            seeds = [seed + i for i in range(self.num_envs)] if isinstance(seed, int) else list(seed)
            if len(seeds) != self.num_envs:
                raise ValueError(f"seed: expected an int or {self.num_envs} seeds, got {len(seeds)}")
            self._rngs = [seeding.np_random(s)[0] for s in seeds]
            if self._cursor is not None:
                self._cursor.rewind()
            self._starts = None
        if self._starts is None:
            self._starts = EpisodeStarts(self.task, self._next_episodes)
        dev = self.task.device
        self._starts.restart(torch.ones(self.num_envs, dtype=torch.bool, device=dev))
        self._autoreset = torch.zeros(self.num_envs, dtype=torch.bool, device=dev)
        no = torch.zeros(self.num_envs, dtype=torch.bool, device=dev)
        obs = self._observe()
        if self._recorder is not None:
            self._recorder.reset(self.task, self._obs)
        return obs, self._info(no, no, no, no)

    def _actions(self, actions) -> torch.Tensor:
        """Validated actions on the env's device. Host arrays are checked on the host; device
        tensors with ``action_check="async"`` by a device-side assert (no sync: a bad action
        stops the CUDA stream instead of raising ValueError)."""
        task, dev = self.settings.task, self.task.device
        if not isinstance(actions, torch.Tensor) or actions.device.type == "cpu":
            return check_actions(actions, task, self.num_envs, torch.device("cpu")).to(dev, non_blocking=True)
        if self.action_check == "sync" or dev.type == "cpu":
            return check_actions(actions, task, self.num_envs, dev)
        a = actions.to(dev)
        if task.action_type == "continuous":
            if tuple(a.shape) != (self.num_envs, 2):
                raise ValueError(f"action: expected shape [{self.num_envs}, 2] (linear, angular in [-1, 1]), got {list(a.shape)}")
            a = a.float()
            torch._assert_async((a.abs() <= 1).all())  # False for NaN and inf too
            return a
        if tuple(a.shape) != (self.num_envs,) or a.is_floating_point() or a.dtype == torch.bool:
            raise ValueError(f"action: expected {self.num_envs} integers in 0..3, got {list(a.shape)} {a.dtype}")
        a = a.long()
        torch._assert_async(((a >= 0) & (a < 4)).all())
        return a

    def step(self, actions):
        if self._starts is None:
            raise RuntimeError("LyraScene-v0: call reset() before step()")
        action = self._actions(actions)
        result = self.task.step(action)
        # Next-step autoreset: envs that ended last step start their next episode; their action
        # was ignored (the step above moved them, the restart puts them at the new start).
        reset = self._autoreset
        self._starts.restart(reset)
        reward, collided, success, terminated, truncated, moving = (
            torch.where(reset, torch.zeros_like(t), t)
            for t in (result.reward, result.collided, result.success, result.terminated, result.truncated,
                      result.moving_collision)
        )
        done = terminated | truncated
        self._autoreset = done
        obs = self._observe()
        if self._recorder is not None:
            self._recorder.step(self.task, self._obs, action, reward, terminated, truncated, collided, success, mask=~reset)
            self._recorder.reset(self.task, self._obs, mask=reset)
        return (
            obs,
            self._out(reward.float()),
            self._out(terminated),
            self._out(truncated),
            self._info(collided, success, done, moving),
        )

    def close_extras(self, **kwargs: Any) -> None:
        """Write the ``record=`` rollout, if any (`envs.recording`)."""
        if self._recorder is not None:
            self._recorder.close()
            self._recorder = None

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
