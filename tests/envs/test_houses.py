"""LyraScene-v0 in a house: episodes cross rooms (TaskConfig.min_rooms_crossed), the rooms come from the
manifest's floor plan, single and vector env draw the same episodes, impossible settings are one error."""

from __future__ import annotations

import numpy as np
import pytest

from _envs import make
from _scenes import house_bundle
from lyra_sim.envs.pointnav import TaskConfig


@pytest.fixture(scope="module")
def house():
    return house_bundle()


def _room_of(env, xy) -> int:
    u = env.unwrapped
    r, f = u.scenes.rooms[0], u.scenes.fields
    ix, iy = np.floor((np.asarray(xy, np.float64) - f.origin[0].numpy()) / float(f.resolution[0])).astype(int)
    return int(r.ids[iy, ix])


def _episodes(env, count):
    u = env.unwrapped
    out = []
    for seed in range(count):
        env.reset(seed=seed)
        st = u.task.state
        out.append((st.xy[0].numpy().copy(), int(st.goal[0]), u.task.goal_xy()[0].numpy().copy()))
    return out


def test_default_episodes_in_a_house_start_and_end_in_different_rooms(house):
    env = make(house, width=16, height=16, device="cpu", task={"max_episode_steps": 20})
    u = env.unwrapped
    assert u.scenes.rooms[0].names == ("kitchen_0", "living_room_0", "bedroom_0") and u.task.min_rooms == [1]
    for xy, goal, goal_xy in _episodes(env, 25):
        assert _room_of(env, xy) != _room_of(env, goal_xy)
        assert u.task.rooms_crossed(0, goal, xy) >= 1


def test_two_rooms_crossed_in_a_row_of_three_means_kitchen_to_bedroom(house):
    env = make(house, width=16, height=16, device="cpu", task={"min_rooms_crossed": 2, "max_episode_steps": 20})
    for xy, _, goal_xy in _episodes(env, 25):
        assert {_room_of(env, xy), _room_of(env, goal_xy)} == {0, 2}  # the ends of the row, through the living room


def test_zero_rooms_crossed_allows_episodes_within_a_room(house):
    env = make(house, width=16, height=16, device="cpu", task={"min_rooms_crossed": 0, "min_geodesic": 0.5})
    same = [_room_of(env, xy) == _room_of(env, g) for xy, _, g in _episodes(env, 40)]
    assert any(same) and not all(same)


def test_vector_env_draws_the_single_envs_episodes_in_a_house(house):
    import gymnasium as gym

    task = {"min_rooms_crossed": 2, "max_episode_steps": 20}
    venv = gym.make_vec("LyraScene-v0", num_envs=3, vectorization_mode="vector_entry_point", scene=str(house),
                        width=16, height=16, device="cpu", task=task)
    venv.reset(seed=7)
    xy = venv.unwrapped.task.state.xy.numpy()
    for i in range(3):
        env = make(house, width=16, height=16, device="cpu", task=task)
        env.reset(seed=7 + i)
        np.testing.assert_array_equal(env.unwrapped.task.state.xy[0].numpy(), xy[i])


@pytest.mark.parametrize("task, message", [
    ({"min_rooms_crossed": 3}, "min_rooms_crossed=3, but the floor plan has 3 rooms"),
    ({"min_rooms_crossed": 2, "min_geodesic": 30.0}, "no episode start 30.0 m"),
])
def test_impossible_room_crossings_are_one_clear_error(house, task, message):
    with pytest.raises(ValueError, match=message) as info:
        make(house, width=16, height=16, device="cpu", task=task)
    assert str(house) in str(info.value)


def test_rooms_crossed_in_a_single_room_is_an_error(bundle):
    with pytest.raises(ValueError, match="the scene is one room"):
        make(bundle, width=16, height=16, device="cpu", task={"min_rooms_crossed": 1, "min_geodesic": 0.5})
    assert make(bundle, width=16, height=16, device="cpu").unwrapped.task.min_rooms == [0]


@pytest.mark.parametrize("value", [-1, 1.5, True, "1"])
def test_min_rooms_crossed_is_validated(value):
    with pytest.raises(ValueError, match=r"task min_rooms_crossed: expected an integer in \[0, 100\]"):
        TaskConfig(min_rooms_crossed=value)
