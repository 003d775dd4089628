"""Rollout files (envs/rollout.py): recorder → reader round trips, vector-env masks, and every
malformed file is one ValueError naming the problem."""

from __future__ import annotations

import io
import zipfile

import gymnasium as gym
import numpy as np
import pytest
import torch

import lyra_sim  # noqa: F401  (registers LyraScene-v0)
from _scenes import box_room_bundle
from lyra_sim.envs.rollout import (
    FORMAT,
    RolloutInfo,
    RolloutRecorder,
    episodes_in_scene,
    read_rollout,
    summarize,
)
from lyra_sim.exporters.nav_grid import save_npz
from lyra_sim.manifest import read_manifest

INFO = RolloutInfo(action_type="continuous", agent_radius=0.18, agent_height=1.0, camera_height_m=0.8,
                   camera_pitch_deg=10.0, camera_hfov_deg=90.0, scene_sha256=("a" * 64,), floor_z=(0.0,))


def _record(path, n=2, steps=3, images=True, info=INFO):
    rng = np.random.default_rng(0)
    rec = RolloutRecorder(path, info, num_envs=n, images=images)
    img = lambda: rng.integers(0, 256, (n, 4, 6, 3), dtype=np.uint8) if images else None  # noqa: E731
    rec.reset(rng.normal(size=(n, 2)), rng.normal(size=n), rng.normal(size=(n, 2)), image=img())
    for t in range(steps):
        done = np.zeros(n, bool)
        done[0] = t == steps - 1
        rec.step(rng.normal(size=(n, 2)), rng.normal(size=n), rng.normal(size=(n, 2)), rng.uniform(-1, 1, (n, 2)),
                 rng.normal(size=n), done, np.zeros(n, bool), np.zeros(n, bool), done, image=img())
    return rec.close()


def test_round_trip_keeps_every_value(tmp_path):
    rng = np.random.default_rng(0)
    rec = RolloutRecorder(tmp_path / "r.npz", INFO, num_envs=1)
    xy0, goal = np.array([1.0, 2.0]), np.array([0.5, -0.5])
    image0 = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    rec.reset(torch.from_numpy(xy0[None]), torch.tensor([0.25]), goal, image=image0)  # tensors and unbatched arrays both work
    image1 = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    rec.step([1.5, 2.0], 0.5, goal, [0.3, -0.7], 0.125, False, True, True, False, image=image1)
    path = rec.close()
    r = read_rollout(path)
    assert len(r) == 2
    assert r.episode.tolist() == [0, 0] and r.step.tolist() == [0, 1] and r.env.tolist() == [0, 0]
    np.testing.assert_array_equal(r.xy, np.array([[1.0, 2.0], [1.5, 2.0]], np.float32))
    np.testing.assert_array_equal(r.yaw, np.array([0.25, 0.5], np.float32))
    assert np.isnan(r.action[0]).all() and r.action[1].tolist() == pytest.approx([0.3, -0.7])
    assert r.reward.tolist() == [0.0, 0.125]
    assert r.truncated.tolist() == [False, True] and r.collided.tolist() == [False, True] and not r.success.any()
    np.testing.assert_array_equal(r.image, np.stack([image0, image1]))
    assert r.info == INFO


def test_same_steps_give_the_same_bytes(tmp_path):
    a, b = _record(tmp_path / "a.npz"), _record(tmp_path / "b.npz")
    assert a.read_bytes() == b.read_bytes()


def test_masks_start_episodes_per_env_and_rows_come_back_in_order(tmp_path):
    rec = RolloutRecorder(tmp_path / "r.npz", INFO, num_envs=3, images=False)
    z2, z = np.zeros((3, 2)), np.zeros(3)
    rec.reset(z2, z, z2)  # episodes 0, 1, 2
    rec.step(z2 + 1, z, z2, z2, z + 1, [True, False, False], z, z, z)
    rec.reset(z2 + 5, z, z2, mask=[True, False, False])  # env 0 starts episode 3
    rec.step(z2 + 2, z, z2, z2, z + 2, z, z, z, z, mask=[False, True, True])
    r = read_rollout(rec.close())
    assert r.episode_ids().tolist() == [0, 1, 2, 3]
    assert r.rows(1).tolist() == [1, 4, 7] and r.step[r.rows(1)].tolist() == [0, 1, 2]
    assert r.rows(3).tolist() == [6] and r.xy[6].tolist() == [5.0, 5.0]
    s = {e["id"]: e for e in summarize(r, [0, 1, 3])}
    assert s[0] == {"id": 0, "env": 0, "steps": 1, "return": 1.0, "success": False}
    assert s[1]["steps"] == 2 and s[1]["return"] == 3.0 and s[3]["steps"] == 0


def test_episodes_are_matched_to_a_scene_by_its_digest(tmp_path):
    info = RolloutInfo(**{**INFO.__dict__, "scene_sha256": ("a" * 64, "b" * 64, ""), "floor_z": (0.0, 0.1, 0.2)})
    rec = RolloutRecorder(tmp_path / "r.npz", info, num_envs=3, images=False)
    rec.reset(np.zeros((3, 2)), np.zeros(3), np.zeros((3, 2)), scene=[0, 1, 2])
    r = read_rollout(rec.close())
    assert episodes_in_scene(r, "a" * 64) == [0, 2]  # unknown digests match any scene
    assert episodes_in_scene(r, "b" * 64) == [1, 2]


def test_recorder_refuses_bad_calls(tmp_path):
    rec = RolloutRecorder(tmp_path / "r.npz", INFO, num_envs=2)
    z2, z = np.zeros((2, 2)), np.zeros(2)
    with pytest.raises(ValueError, match="image: this recorder keeps camera images"):
        rec.reset(z2, z, z2)
    with pytest.raises(ValueError, match=r"xy: expected shape \[2, 2\]"):
        rec.reset(np.zeros((3, 2)), z, z2, image=np.zeros((2, 4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="env 0 was never reset"):
        rec.step(z2, z, z2, z2, z, z, z, image=np.zeros((2, 4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="scene: expected indices in 0..0"):
        rec.reset(z2, z, z2, scene=[0, 1], image=np.zeros((2, 4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="nothing was recorded"):
        rec.close()
    assert not (tmp_path / "r.npz").exists()
    with pytest.raises(ValueError, match="action_type"):
        RolloutInfo(**{**INFO.__dict__, "action_type": "teleport"})


def _rewrite(src, dst, **changes):
    with np.load(src) as data:
        arrays = {k: data[k] for k in data.files}
    arrays.update(changes)
    for k in [k for k, v in changes.items() if v is None]:
        del arrays[k]
    save_npz(dst, arrays)
    return dst


@pytest.mark.parametrize(
    "change, message",
    [
        ({"format": np.array("something-else")}, "not a lyra-sim rollout"),
        ({"format_version": np.int64(7)}, "format version 7"),
        ({"reward": None}, "missing reward"),
        ({"xy": np.zeros((8, 3), np.float32)}, r"xy: expected float32 \[8, 2\], got float32 \[8, 3\]"),
        ({"yaw": np.zeros(8, np.float64)}, r"yaw: expected float32 \[8\]"),
        ({"step": np.array([0, 1, 2, 4, 0, 1, 2, 3])}, "steps must run 0, 1, 2"),
        ({"scene": np.full(8, 3)}, r"scene: indices outside 0..0"),
        ({"xy": np.full((8, 2), np.nan, np.float32)}, "xy: contains NaN"),
        ({"image": np.zeros((8, 4, 6), np.uint8)}, r"image: expected uint8 \[8, H, W, 3\]"),
        ({"agent_radius": np.float64(-1)}, "agent_radius"),
    ],
)
def test_malformed_files_are_one_clear_error(tmp_path, change, message):
    good = _record(tmp_path / "good.npz")
    bad = _rewrite(good, tmp_path / "bad.npz", **change)
    with pytest.raises(ValueError, match=message) as info:
        read_rollout(bad)
    assert str(bad) in str(info.value) and "\n" not in str(info.value)


def test_unreadable_files_are_one_clear_error(tmp_path):
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(ValueError, match="not a readable rollout"):
        read_rollout(tmp_path / "text.npz")
    # A pickled object array is refused, never unpickled.
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(tmp_path / "pickle.npz", "w") as zf:
        zf.writestr("format.npy", buffer.getvalue())
    with pytest.raises(ValueError, match="not a readable rollout"):
        read_rollout(tmp_path / "pickle.npz")
    with pytest.raises(FileNotFoundError, match="no such rollout file"):
        read_rollout(tmp_path / "missing.npz")


def record_env_rollout(bundle, path, steps: int = 12, seed: int = 0):
    """What the env's ``record=`` will do: one single-env episode of random actions (32 px images)."""
    env = gym.make("LyraScene-v0", scene=str(bundle), width=32, height=32, device="cpu",
                   task={"min_geodesic": 0.5, "max_episode_steps": steps})
    u = env.unwrapped
    s = u.settings
    info = RolloutInfo(
        action_type=s.task.action_type, agent_radius=s.agent.radius, agent_height=s.agent.height,
        camera_height_m=s.camera.height_m, camera_pitch_deg=s.camera.pitch_deg, camera_hfov_deg=s.camera.hfov_deg,
        scene_sha256=(read_manifest(u.bundle)["files"]["scene.ply"],), floor_z=(float(u.scenes.fields.floor_z[0]),),
    )
    env.action_space.seed(seed)
    with RolloutRecorder(path, info) as rec:
        obs, _ = env.reset(seed=seed)
        st = u.task.state
        rec.reset(st.xy, st.yaw, u.task.goal_xy(), image=obs["rgb"])
        for _ in range(steps):
            action = env.action_space.sample()
            obs, reward, terminated, truncated, step_info = env.step(action)
            rec.step(st.xy, st.yaw, u.task.goal_xy(), action, reward, terminated, truncated,
                     step_info["collided"], step_info["success"], image=obs["rgb"])
            if terminated or truncated:
                break
    return path


def test_a_recorded_env_episode_reads_back(tmp_path):
    bundle = box_room_bundle()
    r = read_rollout(record_env_rollout(bundle, tmp_path / "env.npz", steps=6))
    assert r.episode_ids().tolist() == [0] and r.step.tolist() == list(range(len(r)))
    assert r.image.shape[1:] == (32, 32, 3) and len(r) >= 2
    assert episodes_in_scene(r, read_manifest(bundle)["files"]["scene.ply"]) == [0]
    # Positions stay on the nav grid's free floor, goals stay put within the episode.
    assert (np.diff(r.goal, axis=0) == 0).all()
    assert str(FORMAT) == "lyra-sim-rollout"
