"""``record=`` (envs/recording.py): the single and the vector env write what they did as a rollout file
at close(), row for row the states, actions, rewards and flags they returned."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from _envs import make
from lyra_sim.envs.rollout import episodes_in_scene, read_rollout
from lyra_sim.manifest import read_manifest


def test_the_single_env_records_every_state_it_returned(bundle, tmp_path):
    path = tmp_path / "single.npz"
    env = make(bundle, width=16, height=12, device="cpu", record=str(path), record_images=True,
               task={"min_geodesic": 0.5, "max_episode_steps": 4})
    u = env.unwrapped
    env.action_space.seed(0)
    xy, goals, rgb, actions, rewards, ends = [], [], [], [], [], []
    obs, _ = env.reset(seed=1)
    for _ in range(2):  # two whole episodes (truncated after 4 steps, or terminated)
        xy.append(u.task.state.xy[0].numpy().copy()), goals.append(u.task.goal_xy()[0].numpy().copy()), rgb.append(obs["rgb"])
        while True:
            a = env.action_space.sample()
            obs, r, term, trunc, _ = env.step(a)
            xy.append(u.task.state.xy[0].numpy().copy()), goals.append(u.task.goal_xy()[0].numpy().copy()), rgb.append(obs["rgb"])
            actions.append(a), rewards.append(r), ends.append((term, trunc))
            if term or trunc:
                break
        obs, _ = env.reset()
    assert not path.exists()  # written at close, not before
    env.close()
    r = read_rollout(path)
    # Rows: 2 finished episodes and the one just started.
    assert r.episode_ids().tolist() == [0, 1, 2]
    assert len(r) == len(xy) + 1
    np.testing.assert_array_equal(r.xy[: len(xy)], np.array(xy))
    np.testing.assert_array_equal(r.goal[: len(xy)], np.array(goals))
    np.testing.assert_array_equal(r.image[: len(xy)], np.array(rgb))
    steps = r.step[: len(xy)] > 0
    np.testing.assert_array_equal(r.action[: len(xy)][steps], np.array(actions, np.float32))
    np.testing.assert_array_equal(r.reward[: len(xy)][steps], np.array(rewards, np.float32))
    np.testing.assert_array_equal(np.c_[r.terminated, r.truncated][: len(xy)][steps], np.array(ends))
    assert (r.reward[r.step == 0] == 0).all() and np.isnan(r.action[r.step == 0]).all()
    assert episodes_in_scene(r, read_manifest(bundle)["files"]["scene.ply"]) == [0, 1, 2]
    assert r.info.floor_z == (float(u.scenes.fields.floor_z[0]),) and r.info.agent_radius == 0.18


def test_the_vector_env_records_autoresets_as_new_episodes(bundle, tmp_path):
    path = tmp_path / "vector.npz"
    venv = gym.make_vec("LyraScene-v0", num_envs=3, vectorization_mode="vector_entry_point", scene=str(bundle),
                        width=16, height=12, device="cpu", action_type="discrete", record=str(path),
                        task={"min_geodesic": 0.5, "max_episode_steps": 10})
    venv.reset(seed=0)
    states = [venv.unwrapped.task.state.xy.numpy().copy()]
    plan = [[1, 1, 0], [1, 2, 1], [3, 0, 1]]  # env 2 stops at once, env 1 at step 3
    for a in plan:
        venv.step(np.array(a))
        states.append(venv.unwrapped.task.state.xy.numpy().copy())
    venv.close()
    r = read_rollout(path)
    assert r.info.action_type == "discrete" and r.image is None
    # Env 2: episode 2 is [reset, stop]; the next step autoresets it into episode 3, which goes on.
    assert r.action[r.rows(2)].tolist() == [-1, 0] and r.terminated[r.rows(2)].tolist() == [False, True]
    assert r.env[r.rows(3)].tolist() == [2, 2] and r.step[r.rows(3)].tolist() == [0, 1]
    np.testing.assert_array_equal(r.xy[r.rows(3)], np.array([states[2][2], states[3][2]]))
    # Env 1 stopped on the last step: its episode 1 ends there.
    assert r.action[r.rows(1)].tolist() == [-1, 1, 2, 0] and r.terminated[r.rows(1)][-1]
    assert r.episode_ids().tolist() == [0, 1, 2, 3]
    np.testing.assert_array_equal(r.xy[r.rows(0)], np.array([s[0] for s in states]))


def test_nothing_is_written_without_a_reset_and_bad_options_are_refused(bundle, tmp_path):
    env = make(bundle, width=16, height=12, device="cpu", record=str(tmp_path / "none.npz"))
    env.close()
    assert not (tmp_path / "none.npz").exists()
    with pytest.raises(ValueError, match="record_images=True needs record="):
        make(bundle, device="cpu", record_images=True)
    with pytest.raises(ValueError, match="record: expected the path"):
        make(bundle, device="cpu", record=3)
