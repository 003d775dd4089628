"""Episode datasets (envs/episodes.py, envs/episode_sampling.py, lyra-sim episodes): Habitat's layout and
frame, the same bytes for the same seed, exactly the env's own episodes, replay in order in the single
and the vector env, and one clear error for a dataset of another scene or a malformed file."""

from __future__ import annotations

import gzip
import json
import math

import gymnasium as gym
import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from _envs import make
from _scenes import house_bundle
from lyra_sim.cli import main
from lyra_sim.envs.episode_sampling import sample_episodes
from lyra_sim.envs.episodes import (
    EpisodeCursor,
    habitat_position,
    habitat_rotation,
    parse_episodes,
    read_episodes,
    write_episodes,
    yaw_from_habitat,
)

# habitat-lab's NavigationEpisode (and its Episode base): the keys PointNavDatasetV1.from_json passes to it.
HABITAT_EPISODE_KEYS = {"episode_id", "scene_id", "scene_dataset_config", "additional_obj_config_paths", "start_position",
                        "start_rotation", "info", "goals", "start_room", "shortest_paths"}
TASK = {"max_episode_steps": 20}


@pytest.fixture(scope="module")
def house():
    return house_bundle()


@pytest.fixture(scope="module")
def dataset(house, tmp_path_factory):
    path = tmp_path_factory.mktemp("eps") / "eps.json.gz"
    return write_episodes(path, sample_episodes(house, 12, seed=3))


def test_the_layout_is_habitats(dataset):
    data = json.loads(gzip.decompress(dataset.read_bytes()))
    head = data["lyra_sim"]
    for ep in data["episodes"]:
        assert set(ep) <= HABITAT_EPISODE_KEYS
        assert isinstance(ep["episode_id"], str) and ep["scene_id"] == "house/collision.obj"
        assert len(ep["start_position"]) == 3 and len(ep["start_rotation"]) == 4
        assert set(ep["goals"][0]) == {"position", "radius"} and ep["goals"][0]["radius"] == 0.3
        assert ep["info"]["geodesic_distance"] >= 1.0 and ep["info"]["rooms_crossed"] >= 1
        assert ep["info"]["geodesic_distance"] >= ep["info"]["euclidean_distance"] - 1e-6
        assert ep["start_room"] != ep["info"]["lyra_sim"]["goal_room"]
    assert head["rooms"] == ["kitchen_0", "living_room_0", "bedroom_0"] and head["task"]["min_rooms_crossed"] == 1


def test_positions_and_headings_map_to_habitats_y_up_frame():
    # lyra-sim Z-up (x, y, z) is Habitat Y-up (x, z, -y): up stays up, and the map is a rotation.
    assert habitat_position([1.0, 2.0], 0.5) == [1.0, 0.5, -2.0]
    for yaw in np.linspace(-math.pi, math.pi, 13):
        q = habitat_rotation(yaw)
        assert q[3] >= 0 and abs(math.remainder(yaw_from_habitat(q) - yaw, 2 * math.pi)) < 1e-12
        forward = Rotation.from_quat(q).apply([0.0, 0.0, -1.0])  # scipy takes [x, y, z, w]; Habitat looks down -Z
        expected = habitat_position([math.cos(yaw), math.sin(yaw)], 0.0)  # our heading, in Habitat's frame
        np.testing.assert_allclose(forward, expected, atol=1e-12)


def test_same_seed_same_bytes_other_seed_other_episodes(house, tmp_path):
    a = write_episodes(tmp_path / "a.json.gz", sample_episodes(house, 8, seed=1))
    b = write_episodes(tmp_path / "b.json.gz", sample_episodes(house, 8, seed=1))
    c = write_episodes(tmp_path / "c.json.gz", sample_episodes(house, 8, seed=2))
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()


def test_the_dataset_is_the_single_envs_own_episodes(house, dataset):
    ds = read_episodes(dataset)
    env = make(house, width=16, height=16, device="cpu", task=TASK)
    u = env.unwrapped
    for i in range(4):
        _, info = env.reset(seed=3) if i == 0 else env.reset()
        st = u.task.state
        assert st.xy[0].tolist() == ds.start_xy[i].tolist() and float(st.yaw[0]) == ds.start_yaw[i]
        np.testing.assert_array_equal(u.task.goal_xy()[0].numpy(), ds.goal_xy[i].astype(np.float32))
        assert info["geodesic_distance"] == ds.geodesic[i]


def test_the_single_env_replays_the_dataset_in_order(house, dataset):
    ds = read_episodes(dataset)
    env = make(house, width=16, height=16, device="cpu", task=TASK, episodes=str(dataset))
    u = env.unwrapped
    for i in [0, 1, 2]:
        _, info = env.reset(seed=99) if i == 0 else env.reset()
        assert info["episode_index"] == i and info["geodesic_distance"] == ds.geodesic[i]
        assert u.task.state.xy[0].tolist() == ds.start_xy[i].tolist()
        np.testing.assert_array_equal(u.task.goal_xy()[0].numpy(), ds.goal_xy[i].astype(np.float32))
    _, info = env.reset(seed=0)  # a seed rewinds
    assert info["episode_index"] == 0
    _, _, _, _, info = env.step(env.action_space.sample())
    assert info["episode_index"] == 0


def test_the_vector_env_runs_episode_i_plus_k_n_in_env_i(house, dataset):
    ds = read_episodes(dataset)
    venv = gym.make_vec("LyraScene-v0", num_envs=5, vectorization_mode="vector_entry_point", scene=str(house),
                        width=16, height=16, device="cpu", action_type="discrete", task=TASK, episodes=str(dataset))
    _, info = venv.reset(seed=0)
    assert info["episode_index"].tolist() == [0, 1, 2, 3, 4]
    np.testing.assert_array_equal(info["geodesic_distance"], ds.geodesic[:5].astype(np.float32))
    venv.step(np.zeros(5, np.int64))  # stop: every episode ends
    _, _, _, _, info = venv.step(np.zeros(5, np.int64))  # next-step autoreset starts the next ones
    assert info["episode_index"].tolist() == [5, 6, 7, 8, 9]
    venv.step(np.zeros(5, np.int64))
    _, _, _, _, info = venv.step(np.zeros(5, np.int64))
    assert info["episode_index"].tolist() == [10, 11, 0, 1, 2]  # 12 episodes: the dataset repeats
    np.testing.assert_array_equal(venv.unwrapped.task.state.xy.numpy(), ds.start_xy[[10, 11, 0, 1, 2]].astype(np.float32))


def test_the_cursor_gives_each_env_its_own_fixed_sequence(dataset):
    cursor = EpisodeCursor(read_episodes(dataset), 5)
    assert [cursor(1)[3] for _ in range(4)] == [1, 6, 11, 4]
    cursor.rewind()
    assert cursor(1)[3] == 1


def test_the_command_writes_the_dataset_and_refuses_to_overwrite(house, tmp_path, capsys):
    out = tmp_path / "eps.json.gz"
    assert main(["episodes", str(house), "--num", "12", "--seed", "3", "--out", str(out)]) == 0
    line = capsys.readouterr().out
    assert "12 episodes" in line and "a building of 3 rooms" in line and "rooms crossed 1:" in line
    assert out.read_bytes() == write_episodes(tmp_path / "same.json.gz", sample_episodes(house, 12, seed=3)).read_bytes()
    assert main(["episodes", str(house), "--num", "12", "--out", str(out)]) == 2
    assert "exists (pass --overwrite" in capsys.readouterr().err
    assert main(["episodes", str(house), "--out", str(tmp_path / "eps.json")]) == 2
    assert "expected a .json.gz path" in capsys.readouterr().err


def test_a_single_room_dataset_crosses_no_rooms(bundle):
    data = sample_episodes(bundle, 5, seed=0, task={"min_geodesic": 0.5})
    assert {e["info"]["rooms_crossed"] for e in data["episodes"]} == {0}
    assert {e["start_room"] for e in data["episodes"]} == {None} and data["lyra_sim"]["rooms"] == []


def test_a_dataset_of_another_scene_or_agent_is_one_clear_error(bundle, dataset):
    with pytest.raises(ValueError, match="was drawn in another scene") as info:
        make(bundle, width=16, height=16, device="cpu", episodes=str(dataset))
    assert str(dataset) in str(info.value)
    with pytest.raises(ValueError, match="was drawn for an agent of radius 0.18 m"):
        make(house_bundle(), width=16, height=16, device="cpu", episodes=str(dataset), agent={"radius": 0.2})
    with pytest.raises(ValueError, match="with episodes= the dataset's run"):
        make(house_bundle(), device="cpu", episodes=str(dataset), task={"min_rooms_crossed": 1})


def _edit(dataset, tmp_path, change):
    data = json.loads(gzip.decompress(dataset.read_bytes()))
    change(data)
    out = tmp_path / "edited.json.gz"
    out.write_bytes(gzip.compress(json.dumps(data).encode()))
    return out


def _set(path, value):
    def change(data):
        target = data
        for key in path[:-1]:
            target = target[key]
        if value is None:
            del target[path[-1]]
        else:
            target[path[-1]] = value
    return change


@pytest.mark.parametrize("change, message", [
    (_set(["lyra_sim"], None), "not a lyra-sim episode dataset"),
    (_set(["lyra_sim", "format_version"], 9), "format version 9"),
    (_set(["episodes"], []), "episodes: expected a non-empty list"),
    (_set(["episodes", 2, "start_position"], [1.0, 2.0]), r"episodes\[2\].start_position: expected a list of 3 numbers"),
    (_set(["episodes", 1, "info", "lyra_sim"], None), r"episodes\[1\].info: missing 'lyra_sim'"),
    (_set(["episodes", 0, "start_position", 0], 100.0), r"episodes\[0\].start_position disagrees with info.lyra_sim"),
    (_set(["episodes", 0, "start_rotation"], [0.5, 0.5, 0.5, 0.5]), r"about \+Y"),
    (_set(["episodes", 3, "goals"], []), r"episodes\[3\].goals: expected one point goal"),
    (_set(["episodes", 1, "episode_id"], "0"), "episode_id values must be unique"),
    (_set(["episodes", 0, "info", "geodesic_distance"], "far"), "geodesic_distance: expected"),
])
def test_malformed_datasets_are_one_clear_error(dataset, tmp_path, change, message):
    bad = _edit(dataset, tmp_path, change)
    with pytest.raises(ValueError, match=message) as info:
        read_episodes(bad)
    assert str(bad) in str(info.value) and "\n" not in str(info.value)


def test_an_unreadable_or_missing_file_is_one_clear_error(house, tmp_path):
    (tmp_path / "text.json.gz").write_text("not gzip")
    with pytest.raises(ValueError, match="not a gzipped JSON episode dataset"):
        read_episodes(tmp_path / "text.json.gz")
    (tmp_path / "half.json.gz").write_bytes(gzip.compress(b'{"episodes": ['))
    with pytest.raises(ValueError, match="not a gzipped JSON episode dataset"):
        make(house, device="cpu", episodes=str(tmp_path / "half.json.gz"))
    with pytest.raises(FileNotFoundError, match="no such episode dataset"):
        read_episodes(tmp_path / "missing.json.gz")


def test_a_start_the_agent_does_not_fit_is_refused_at_make(house, dataset, tmp_path):
    def wall_start(data):  # both frames moved onto the outer wall at y = 0
        ep = data["episodes"][4]
        ep["info"]["lyra_sim"]["start_xy"][1] = 0.0
        ep["start_position"][2] = 0.0
    bad = _edit(dataset, tmp_path, wall_start)
    parse_episodes(json.loads(gzip.decompress(bad.read_bytes())))  # well formed...
    with pytest.raises(ValueError, match="episode '4': the start .* has no room for the agent's body"):
        make(house, device="cpu", episodes=str(bad))  # ...but not a place the agent can stand


@pytest.mark.gpu
def test_cuda_vector_env_replays_the_dataset(tmp_path, monkeypatch):
    from _scenes import box_room_bundle_by_hand

    monkeypatch.setenv("LYRA_SIM_CACHE", str(tmp_path / "cache"))
    bundle = box_room_bundle_by_hand(tmp_path / "bundle")  # no open3d on the GPU machine
    path = write_episodes(tmp_path / "eps.json.gz", sample_episodes(bundle, 6, seed=0, task={"min_geodesic": 0.5}))
    ds = read_episodes(path)
    venv = gym.make_vec("LyraScene-v0", num_envs=4, vectorization_mode="vector_entry_point", scene=str(bundle), device="cuda",
                        array_type="torch", action_check="async", action_type="discrete", task=TASK, episodes=str(path))
    _, info = venv.reset(seed=0)
    assert info["episode_index"].tolist() == [0, 1, 2, 3]
    stop = torch.zeros(4, dtype=torch.long, device="cuda")
    venv.step(stop)
    _, _, _, _, info = venv.step(stop)
    assert info["episode_index"].tolist() == [4, 5, 0, 1]
    np.testing.assert_array_equal(venv.unwrapped.task.state.xy.cpu().numpy(), ds.start_xy[[4, 5, 0, 1]].astype(np.float32))
