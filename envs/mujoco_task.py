"""Point-goal navigation for a MuJoCo-simulated robot: the core shared by ``LyraMuJoCo-v0`` and its vector env.

`MuJoCoPointNav` holds ``N`` worlds (`envs.mujoco_world.Worlds`) of one or more bundles, the
PointNav bookkeeping of LyraScene-v0 (`envs.pointnav.PointNavTask`: goal pools, episode starts,
geodesic distances from `envs.nav_fields`, point-goal vectors, SPL) and the Gaussian renderer
(`envs.views.SceneViews`), which draws every camera of every world in one call per step.

**Actions** are the robot's actuator controls, each within its ``ctrlrange`` (an action
outside is a ValueError, never clamped). Each step holds them for ``physics.control_dt``.

**Reward** as LyraScene-v0 (Habitat's PointNav): the decrease in geodesic distance to the goal
(measured at the robot root's floor position; near walls, where a pressed-against body is
closer than the nav grid lets a kinematic agent be, `envs.nav_fields.extend_to_contact`), minus
``collision_penalty`` while the robot touches the scene anywhere but the floor (contacts at
the end of the step), minus ``time_penalty``, plus ``success_reward`` on success: the root
within ``success_distance`` of the goal, which terminates the episode. A robot that tips over
(its root's up axis more than 60° from vertical) terminates without success.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from lyra_sim.exporters.dynamic_bundle import is_dynamic_bundle
from lyra_sim.exporters.nav_grid import read_nav

from .cache import load_lod
from .mujoco_world import MuJoCoScene, PhysicsConfig, Worlds, fovy_intrinsics, opencv_viewmats
from .nav_fields import UNREACHABLE, NavFields, extend_to_contact, safety_margin, scene_grid
from .pointnav import AgentConfig, PointNavTask, TaskConfig
from .robots import CameraMount, load_robot
from .settings import EnvSettings, _config, make_settings, resolve_bundle
from .views import CameraConfig, SceneViews

TASKS = ("pointnav",)
TIPPED_UP_Z = 0.5
"""A root whose up axis has a z component below this (60° from vertical) has tipped over."""

_FROM_ROBOT = ("hfov_deg", "height_m", "pitch_deg")
"""CameraConfig fields that come from the robot's MuJoCo cameras instead."""


@dataclass(frozen=True)
class MuJoCoSettings:
    """Everything that defines a MuJoCo environment (see `LyraMuJoCoEnv` for the meaning of each)."""

    env: EnvSettings
    robot: str | os.PathLike
    cameras: tuple[str | CameraMount, ...] | None
    base: str
    physics: PhysicsConfig


def make_mujoco_settings(
    *,
    robot: str | os.PathLike = "diffdrive",
    cameras: Sequence[str | CameraMount | dict] | None = None,
    base: str = "auto",
    task: str | TaskConfig | dict = "pointnav",
    physics: PhysicsConfig | dict | None = None,
    camera: CameraConfig | dict | None = None,
    **options: Any,
) -> MuJoCoSettings:
    """Validate ``make`` keyword arguments (those of `envs.settings.make_settings` but ``agent`` and
    ``action_type``, plus the robot's) into `MuJoCoSettings` (raises ValueError)."""
    for key in ("agent", "action_type"):
        if key in options:
            raise ValueError(f"{key}= is for LyraScene-v0; LyraMuJoCo-v0's body and actions are the robot's (robot=...)")
    if isinstance(task, str):
        if task not in TASKS:
            raise ValueError(f"task: expected one of {', '.join(TASKS)} (or a dict of its settings), got {task!r}")
        task = TaskConfig()
    task = _config(TaskConfig, task, "task")
    if task.action_type != "continuous":
        raise ValueError("task action_type: LyraMuJoCo-v0's actions are the robot's actuator controls (continuous)")
    camera = _config(CameraConfig, camera, "camera")
    default = CameraConfig()
    taken = [f for f in _FROM_ROBOT if getattr(camera, f) != getattr(default, f)]
    if taken:
        raise ValueError(f"camera {', '.join(taken)}: set by the robot's MuJoCo cameras (fovy and pose), not here")
    if cameras is not None:
        cameras = (cameras,) if isinstance(cameras, (str, dict, CameraMount)) else tuple(cameras)
        if not cameras:
            raise ValueError("cameras: expected camera names / mounts, or None for all of the robot's cameras")
    env = make_settings(camera=camera, task=task, **options)
    return MuJoCoSettings(env=env, robot=robot, cameras=cameras, base=base, physics=_config(PhysicsConfig, physics, "physics"))


def observation_keys(cameras: Sequence[str], depth: bool) -> list[tuple[str, str, int]]:
    """``(key, "rgb" | "depth", camera index)`` of every image observation: ``rgb`` / ``depth`` for one
    camera (LyraScene-v0's keys), ``rgb_<camera>`` / ``depth_<camera>`` for several."""
    out = []
    for c, name in enumerate(cameras):
        suffix = "" if len(cameras) == 1 else "_" + re.sub(r"\W", "_", name)
        out.append(("rgb" + suffix, "rgb", c))
        if depth:
            out.append(("depth" + suffix, "depth", c))
    return out


class MuJoCoPointNav:
    """``num_envs`` robots in MuJoCo worlds with point goals (see the module docstring).

    World ``i`` runs scene ``i % len(sources)``.
    """

    def __init__(self, settings: MuJoCoSettings, num_envs: int) -> None:
        s = settings.env
        self.settings = settings
        self.robot = load_robot(settings.robot, settings.cameras, settings.base)
        self.bundles = [resolve_bundle(kind, value, s) for kind, value in s.sources]
        for bundle in self.bundles:
            if is_dynamic_bundle(bundle):  # its mocap parts would stand still and unseen: refuse rather than mislead
                raise ValueError(f"{bundle}: robot= runs static scenes in MuJoCo, and this bundle has moving parts "
                                 "(motion.json); run it without robot= (LyraScene-v0's cylinder base sees and meets "
                                 "them) or give a static scene")
        self.scenes = [MuJoCoScene(b, self.robot, settings.physics) for b in self.bundles]
        fp = self.scenes[0].footprint
        grids = []
        for bundle in self.bundles:
            nav = read_nav(bundle / "nav.npz")
            try:
                grid = scene_grid(nav, fp.radius, max(fp.height, nav.height_range[0] + 1e-3), s.task.goals_per_scene)
            except ValueError as exc:
                raise ValueError(f"robot {self.robot.source} (footprint radius {fp.radius:.2f} m, height {fp.height:.2f} m) "
                                 f"fits no free spot of {bundle}: {exc}") from exc
            grids.append(extend_to_contact(grid, fp.radius, fp.radius + 2 * safety_margin(grid.resolution)))
        self.fields = NavFields(grids, s.device)
        scene_ids = torch.arange(num_envs) % len(self.bundles)
        agent = AgentConfig(radius=fp.radius, height=max(fp.height, 1e-3))
        self.task = PointNavTask(self.fields, scene_ids, agent, s.task, s.camera)
        self.views = SceneViews([load_lod(b, s.lod, root=s.cache_dir) for b in self.bundles], s.camera, s.device)
        self.worlds = Worlds(self.scenes, scene_ids.numpy(), settings.physics.threads)
        model = self.scenes[0].model
        self.ctrl_low = model.actuator_ctrlrange[:, 0].astype(np.float32)
        self.ctrl_high = model.actuator_ctrlrange[:, 1].astype(np.float32)
        self.actuators = tuple(model.actuator(i).name for i in range(model.nu))
        self.keys = observation_keys(self.robot.cameras, s.camera.depth)
        self.num_envs = num_envs
        self._cam_scene = scene_ids.repeat_interleave(len(self.robot.cameras)).to(s.device)
        scene, viewmats, ks = self._survey()
        self.views.fit_budget(scene, viewmats, Ks=ks)

    def _survey(self, cells_per_scene: int = 2048, yaws: int = 8) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Camera poses the robot can take (its cameras at rest over spawn cells, ``yaws`` headings), for render budgets."""
        scene, view, ks = [], [], []
        cam = self.settings.env.camera
        for s in np.unique(self.task.scene_ids):
            fits = np.flatnonzero((self.fields.clearance[s] >= self.task.required[s]).cpu().numpy())
            cells = fits[np.linspace(0, len(fits) - 1, min(cells_per_scene, len(fits))).astype(np.int64)]
            xy = self.fields.cell_centers(int(s), cells)
            floor = np.concatenate([xy, np.full((len(xy), 1), float(self.fields.floor_z[s]))], 1)  # [P, 3]
            pos, rot = self.scenes[s].camera_rest_poses()  # [C, 3], [C, 3, 3] in the spawn frame at a floor at 0
            fovy = self.scenes[s].model.cam_fovy[self.scenes[s].cameras]
            for yaw in np.arange(yaws) * (2 * math.pi / yaws):
                c, si = math.cos(yaw), math.sin(yaw)
                turn = np.array([[c, -si, 0], [si, c, 0], [0, 0, 1]])
                p = (floor[:, None] + (pos @ turn.T)[None]).reshape(-1, 3)
                r = np.broadcast_to(turn @ rot, (len(xy), *rot.shape)).reshape(-1, 3, 3)
                view.append(opencv_viewmats(p, r))
                ks.append(fovy_intrinsics(np.tile(fovy, len(xy)), cam.width, cam.height))
                scene.append(np.full(len(p), s))
        dev = self.settings.env.device
        return (torch.as_tensor(np.concatenate(scene), device=dev), torch.as_tensor(np.concatenate(view), dtype=torch.float32, device=dev),
                torch.as_tensor(np.concatenate(ks), dtype=torch.float32, device=dev))

    # ------------------------------------------------------------------ episodes
    def reset(self, rows: Sequence[int], rngs: Sequence[np.random.Generator]) -> None:
        """Start new episodes for worlds ``rows``, each drawn with its own generator (as `PointNavTask.reset`)."""
        if not len(rows):
            return
        t = self.task
        xy, yaw, goal, _ = zip(*t.draw_episodes([int(t.scene_ids[r]) for r in rows], rngs))  # static: time 0
        for r, p, y in zip(rows, xy, yaw):
            s = int(t.scene_ids[r])
            self.scenes[s].place(self.worlds.datas[r], p, y, float(self.fields.floor_z[s]))
        n, dev = self.num_envs, t.device
        mask = torch.zeros(n, dtype=torch.bool)
        mask[list(rows)] = True
        full_xy, full_yaw, full_goal = torch.zeros((n, 2)), torch.zeros(n), torch.zeros(n, dtype=torch.long)
        full_xy[mask] = torch.tensor(np.array(xy), dtype=torch.float32)
        full_yaw[mask] = torch.tensor(yaw, dtype=torch.float32)
        full_goal[mask] = torch.tensor(goal)
        t.restart(mask.to(dev), full_xy.to(dev), full_yaw.to(dev), full_goal.to(dev))

    def check_actions(self, actions) -> np.ndarray:
        """``actions`` as ``[N, nu]`` float64 controls; ValueError for a wrong shape, NaN or a value outside ``ctrlrange``."""
        a = actions.detach().cpu().numpy() if isinstance(actions, torch.Tensor) else np.asarray(actions)
        n, nu = self.num_envs, len(self.ctrl_low)
        if n == 1 and a.shape == (nu,):
            a = a[None]
        if a.shape != (n, nu) or not np.issubdtype(a.dtype, np.number):
            raise ValueError(f"action: expected shape {[n, nu] if n > 1 else [nu]} (controls of {', '.join(self.actuators)}), "
                             f"got {list(a.shape)} {a.dtype}")
        a = a.astype(np.float64)
        bad = ~np.isfinite(a) | (a < self.ctrl_low) | (a > self.ctrl_high)
        if bad.any():
            row, col = map(int, np.argwhere(bad)[0])
            raise ValueError(f"action: {self.actuators[col]} = {a[row, col]} (env {row}) is outside its ctrlrange "
                             f"[{self.ctrl_low[col]:g}, {self.ctrl_high[col]:g}]")
        return a

    def step(self, ctrl: np.ndarray) -> dict[str, torch.Tensor]:
        """Advance every world by one control step of ``ctrl [N, nu]`` (checked); returns ``[N]`` tensors
        ``reward, terminated, truncated, collided, success``."""
        t, st, cfg = self.task, self.task.state, self.settings.env.task
        touched = self.worlds.step(ctrl)
        xy, yaw, up = self.worlds.poses()
        dev = t.device
        new_xy = torch.as_tensor(xy, dtype=torch.float32, device=dev)
        st.path_length = st.path_length + (new_xy - st.xy).norm(dim=1)
        st.xy, st.yaw = new_xy, torch.as_tensor(yaw, dtype=torch.float32, device=dev)
        collided = torch.as_tensor(touched, device=dev)
        geodesic = self.fields.geodesic_at(st.scene, st.goal, st.xy)
        # A body pushed past what the grid can reach (into a gap of the fused collision mesh, say)
        # has no geodesic: it keeps the last one, so the reward never jumps by UNREACHABLE.
        geodesic = torch.where(geodesic < UNREACHABLE, geodesic, st.geodesic)
        success = t.goal_distance() <= cfg.success_distance
        tipped = torch.as_tensor(up < TIPPED_UP_Z, device=dev)
        terminated = success | tipped
        st.steps = st.steps + 1
        st.collisions = st.collisions + collided.long()
        reward = ((st.geodesic - geodesic) - cfg.collision_penalty * collided.float() - cfg.time_penalty
                  + cfg.success_reward * success.float())
        st.geodesic = geodesic
        truncated = (st.steps >= cfg.max_episode_steps) & ~terminated
        return {"reward": reward, "terminated": terminated, "truncated": truncated, "collided": collided,
                "success": success, "tipped": tipped}

    # ------------------------------------------------------------------ observations
    def observe(self) -> dict[str, torch.Tensor]:
        """Every world's observation: camera images (one render call for all of them) and ``pointgoal``."""
        cam = self.settings.env.camera
        viewmats, ks = self.worlds.cameras(cam.width, cam.height)
        dev = self.settings.env.device
        rgb, depth = self.views.render(self._cam_scene, torch.as_tensor(viewmats, dtype=torch.float32, device=dev),
                                       torch.as_tensor(ks, dtype=torch.float32, device=dev))
        c = len(self.robot.cameras)
        images = {"rgb": rgb.view(self.num_envs, c, *rgb.shape[1:])}
        if depth is not None:
            images["depth"] = depth.float().view(self.num_envs, c, *depth.shape[1:])
        obs = {key: images[kind][:, i] for key, kind, i in self.keys}
        obs["pointgoal"] = self.task.pointgoal().float()
        return obs

    def close(self) -> None:
        self.worlds.close()

