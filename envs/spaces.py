"""Observation and action spaces of LyraScene-v0, action validation, and observation assembly."""

from __future__ import annotations

import math

import numpy as np
import torch
from gymnasium import spaces
from torch import Tensor

from .pointnav import DISCRETE_ACTIONS, PointNavTask, TaskConfig
from .views import CameraConfig, SceneViews, agent_viewmats


def observation_space(camera: CameraConfig, max_distance: float) -> spaces.Dict:
    """``rgb`` uint8 ``[H, W, 3]``, optional ``depth`` float32 ``[H, W, 1]`` (meters, in [0, far]), and
    ``pointgoal`` float32 ``[2]`` (distance m in [0, ``max_distance``], relative heading rad in [-π, π]).

    Every bound is finite (Gymnasium's checker warns on infinite ones): agents and goals stay on
    the scenes' nav grids, so ``max_distance`` is their diagonal (`NavFields.max_distance`)."""
    if not (math.isfinite(max_distance) and max_distance > 0):
        raise ValueError(f"max_distance: expected a positive finite number of meters, got {max_distance!r}")
    items = {"rgb": spaces.Box(0, 255, (camera.height, camera.width, 3), np.uint8)}
    if camera.depth:
        items["depth"] = spaces.Box(0.0, camera.far, (camera.height, camera.width, 1), np.float32)
    items["pointgoal"] = spaces.Box(
        np.array([0.0, -math.pi], np.float32), np.array([max_distance, math.pi], np.float32), dtype=np.float32
    )
    return spaces.Dict(items)


def action_space(task: TaskConfig) -> spaces.Space:
    """Continuous: ``Box([-1, 1]²)`` (linear, angular velocity as fractions of the agent's
    maxima); discrete: ``Discrete(4)`` (`DISCRETE_ACTIONS`)."""
    if task.action_type == "continuous":
        return spaces.Box(-1.0, 1.0, (2,), np.float32)
    return spaces.Discrete(len(DISCRETE_ACTIONS))


def check_actions(actions, task: TaskConfig, n: int, device: torch.device) -> Tensor:
    """``n`` actions as a tensor on ``device`` (``[n, 2]`` float32 or ``[n]`` int64).

    Raises ValueError for anything but real numbers (complex, bool, strings, ragged lists), a
    wrong shape, NaN / inf, or a value outside the action space: out-of-range actions are an
    error, never silently clamped (nor a complex one cut to its real part).
    """
    continuous = task.action_type == "continuous"
    a = _real_tensor(actions).to(device)
    expected = (n, 2) if continuous else (n,)
    if continuous:
        if n == 1 and a.shape == (2,):
            a = a[None]
        if tuple(a.shape) != expected or a.dtype == torch.bool:
            raise ValueError(f"action: expected shape {list(expected)} (linear, angular in [-1, 1]), got {list(a.shape)}")
        a = a.float()
        # One host check for both conditions (the action must be valid before anything moves).
        bad = ~torch.isfinite(a) | (a.abs() > 1)
        if bool(bad.any()):
            where = torch.nonzero(bad)[0].tolist()
            raise ValueError(
                f"action: {a[where[0]].tolist()} (env {where[0]}) is outside the action space: "
                "expected finite values in [-1, 1]"
            )
        return a
    if n == 1 and a.ndim == 0:
        a = a[None]
    if tuple(a.shape) != expected or a.is_floating_point() or a.dtype == torch.bool:
        raise ValueError(f"action: expected {n} integer(s) in 0..3 ({', '.join(DISCRETE_ACTIONS)}), got {a.tolist() if a.numel() < 9 else list(a.shape)}")
    a = a.long()
    if bool(((a < 0) | (a >= len(DISCRETE_ACTIONS))).any()):
        raise ValueError(f"action: expected integers in 0..3 ({', '.join(DISCRETE_ACTIONS)}), got {a.tolist() if a.numel() < 9 else 'out-of-range values'}")
    return a


def _real_tensor(actions) -> Tensor:
    """``actions`` as a real-valued (integer, float or bool) tensor on its own device, or ValueError."""
    if isinstance(actions, Tensor):
        a = actions
    else:
        try:
            array = np.asarray(actions)
        except (ValueError, TypeError) as exc:  # ragged nesting, objects numpy cannot hold
            raise ValueError(f"action: not an array of numbers ({exc})") from None
        if array.dtype.kind not in "biuf":
            raise ValueError(f"action: expected real numbers, got {array.dtype} values ({str(array.tolist())[:60]})")
        # torch holds no unsigned > 8 bits nor long double: the widest kinds it has lose nothing an action needs.
        a = torch.as_tensor(array if array.dtype.kind == "b" else array.astype(np.float64 if array.dtype.kind == "f" else np.int64))
    if a.is_complex():
        raise ValueError(f"action: expected real numbers, got complex values ({a.dtype})")
    return a


def observe(task: PointNavTask, views: SceneViews) -> dict[str, Tensor]:
    """Every agent's observation as tensors on the task's device (see `observation_space`)."""
    st = task.state
    viewmats = agent_viewmats(st.xy, st.yaw, task.camera_z(), task.camera.pitch_deg)
    rgb, depth = views.render(st.scene, viewmats, part_poses=task.part_poses() if task.parts.any else None)
    obs = {"rgb": rgb}
    if depth is not None:
        obs["depth"] = depth.float().clamp(0.0, task.camera.far)
    obs["pointgoal"] = task.pointgoal().float()
    return obs
