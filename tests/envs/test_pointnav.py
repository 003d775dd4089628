"""The point-goal task (`lyra_sim.envs.pointnav`): motion never enters the collision mesh, starts, rewards, success, heading."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import trimesh
from scipy.spatial import cKDTree

import lyra_sim  # noqa: F401  (registers LyraScene-v0)
from _envs import TASK, make
from lyra_sim.envs.pointnav import PointNavTask
from lyra_sim.exporters.mesh_tools import sample_surface
from lyra_sim.exporters.nav_grid import read_nav


def _band_tree(bundle: Path, agent_height: float):
    """KD-tree over the xy of collision-surface samples between step height and the agent's top."""
    nav = read_nav(bundle / "nav.npz")
    mesh = trimesh.load(bundle / "collision.obj", force="mesh", process=False)
    vertices, faces = np.asarray(mesh.vertices), np.asarray(mesh.faces)
    points, _, _ = sample_surface(vertices, faces, 400_000, np.random.default_rng(0))
    z = points[:, 2] - nav.floor_z
    band = (z > nav.height_range[0]) & (z < agent_height)
    return cKDTree(points[band, :2])


def test_ten_thousand_max_speed_steps_never_enter_the_collision_mesh(bundle, cache):
    env = make(bundle, task={**TASK, "max_episode_steps": 10_000}).unwrapped
    agent = env.settings.agent
    # 50 agents × 200 steps, full speed forward or backward with random turns (no rendering).
    task = PointNavTask(env.scenes.fields, torch.zeros(50, dtype=torch.long), agent, env.settings.task, env.settings.camera)
    rngs = [np.random.default_rng(i) for i in range(50)]
    task.reset(list(range(50)), rngs)
    tree = _band_tree(env.bundle, agent.height)
    rng = np.random.default_rng(0)
    positions, collisions = [task.state.xy.clone()], 0
    for _ in range(200):
        action = torch.tensor(np.stack([rng.choice([-1.0, 1.0], 50), rng.uniform(-1, 1, 50)], 1), dtype=torch.float32)
        collisions += int(task.step(action).collided.sum())
        positions.append(task.state.xy.clone())
    xy = torch.cat(positions).numpy()
    nearest, _ = tree.query(xy)
    # Surface samples are ~1 cm apart: the true distance is at most ~1 cm below the sampled one.
    assert nearest.min() >= agent.radius - 0.01, nearest.min()
    assert collisions > 100  # the walls were hit, and slid along, many times
    moved = np.linalg.norm(np.diff(np.stack(np.split(xy, 201)), axis=0), axis=-1)
    assert moved.max() <= agent.max_linear_speed * agent.dt + 1e-5
    assert (moved > 0.05).mean() > 0.5  # mostly moving, not stuck


def test_episode_starts_leave_room_for_the_body(bundle, cache):
    task = make(bundle).unwrapped.task
    rng = np.random.default_rng(0)
    starts = torch.tensor(np.array([task.draw_episode(0, rng)[0] for _ in range(300)]), dtype=torch.float32)
    clearance = task.fields.clearance_at(torch.zeros(len(starts), dtype=torch.long), starts)
    assert bool((clearance >= task.required[0]).all()), float(clearance.min())


def test_reward_is_the_geodesic_decrease_and_success_ends_the_episode(bundle, cache):
    env = make(bundle, task={**TASK, "time_penalty": 0.0, "collision_penalty": 0.0, "success_reward": 0.0}).unwrapped
    env.reset(seed=5)
    total, start = 0.0, env.task.state.geodesic.item()
    for _ in range(40):
        dist, heading = env.task.pointgoal()[0].tolist()
        # Turn toward the goal, then drive: a greedy policy that reaches goals in an open room.
        action = np.array([1.0 if abs(heading) < 0.3 else 0.0, np.clip(heading / 0.5, -1, 1)], np.float32)
        obs, r, term, trunc, info = env.step(action)
        total += r
        if term:
            break
    assert term and info["success"] and info["distance_to_goal"] <= 0.3
    assert total == pytest.approx(start - info["geodesic_distance"], abs=1e-4)
    assert 0 < info["spl"] <= 1


def test_discrete_stop_terminates_and_succeeds_only_at_the_goal(bundle, cache):
    env = make(bundle, action_type="discrete").unwrapped
    env.reset(seed=0)
    _, _, term, _, info = env.step(0)
    assert term and not info["success"]  # min_geodesic 0.5 > success distance 0.3
    with pytest.raises(RuntimeError, match="reset"):
        env.step(1)
    env.reset(seed=0)
    x, y = env.task.state.xy[0].tolist()
    _, _, _, _, info = env.step(1)
    moved = math.dist((x, y), env.task.state.xy[0].tolist())
    assert moved == pytest.approx(0.25, abs=1e-5) or info["collided"]


def test_pointgoal_heading_is_counterclockwise(bundle, cache):
    env = make(bundle).unwrapped
    obs, _ = env.reset(seed=2)
    dist, heading = obs["pointgoal"]
    st = env.task.state
    goal = env.task.goal_xy()[0]
    left = torch.tensor([-math.sin(st.yaw[0]), math.cos(st.yaw[0])])
    assert np.sign(heading) == np.sign(float((goal - st.xy[0]) @ left))
    assert dist == pytest.approx(float((goal - st.xy[0]).norm()), abs=1e-5)
