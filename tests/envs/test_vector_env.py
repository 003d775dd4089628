"""The batched `LyraScene-v0` (`lyra_sim.envs.vector_env`): equal to single envs through autoresets, several scenes, CUDA."""

import gymnasium as gym
import numpy as np
import pytest
import torch

import lyra_sim  # noqa: F401  (registers LyraScene-v0)
from _envs import TASK, make
from _scenes import box_room_bundle_by_hand
from lyra_sim.envs.vector_env import LyraSceneVectorEnv


def test_vector_env_matches_single_envs_including_autoreset(bundle, cache):
    n, seed = 3, 11
    venv = gym.make_vec("LyraScene-v0", num_envs=n, vectorization_mode="vector_entry_point", scene=str(bundle), task={**TASK, "max_episode_steps": 6})
    assert isinstance(venv.unwrapped, LyraSceneVectorEnv)
    singles = [make(bundle, task={**TASK, "max_episode_steps": 6}) for _ in range(n)]
    vobs, _ = venv.reset(seed=seed)
    sobs = [e.reset(seed=seed + i)[0] for i, e in enumerate(singles)]
    rng = np.random.default_rng(0)
    done = [False] * n
    ends = 0
    for _ in range(14):
        actions = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
        vobs, vr, vterm, vtrunc, vinfo = venv.step(actions)
        for i, e in enumerate(singles):
            if done[i]:  # next-step autoreset: the vector env reset this one and ignored its action
                sobs[i], sinfo = e.reset()
                r, term, trunc = 0.0, False, False
            else:
                sobs[i], r, term, trunc, sinfo = e.step(actions[i])
            assert vinfo["path_length"][i] == pytest.approx(sinfo["path_length"], abs=1e-5)
            assert vinfo["_spl"][i] == ("spl" in sinfo)
            if "spl" in sinfo:
                assert vinfo["spl"][i] == pytest.approx(sinfo["spl"], abs=1e-6)
            assert np.array_equal(vobs["rgb"][i], sobs[i]["rgb"])
            np.testing.assert_allclose(vobs["pointgoal"][i], sobs[i]["pointgoal"], atol=1e-6)
            assert vr[i] == pytest.approx(r, abs=1e-6) and vterm[i] == term and vtrunc[i] == trunc
            done[i] = term or trunc
            ends += done[i]
    assert ends >= n  # every env went through at least one autoreset


def test_vector_env_spreads_several_scenes(bundle, cache, tmp_path):
    # A second scene: the same room 10 m further along x.
    shifted = box_room_bundle_by_hand(tmp_path / "shifted", shift=10.0)
    venv = LyraSceneVectorEnv(num_envs=4, scene=[str(bundle), str(shifted)], task=TASK, array_type="torch")
    obs, _ = venv.reset(seed=0)
    x = venv.task.state.xy[:, 0]
    assert (x[0::2] < 3).all() and (x[1::2] > 9).all()
    assert isinstance(obs["rgb"], torch.Tensor) and obs["rgb"].shape == (4, 64, 64, 3)


@pytest.mark.gpu


def test_cuda_vector_env_agrees_with_the_cpu_one(tmp_path, monkeypatch):
    monkeypatch.setenv("LYRA_SIM_CACHE", str(tmp_path / "cache"))
    bundle = box_room_bundle_by_hand(tmp_path / "bundle")
    kw = dict(num_envs=8, scene=str(bundle), task=TASK, camera={"pixel_ratio": 0}, array_type="torch")
    cpu, gpu = LyraSceneVectorEnv(device="cpu", **kw), LyraSceneVectorEnv(device="cuda", **kw)
    a, _ = cpu.reset(seed=0)
    b, _ = gpu.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(5):
        actions = rng.uniform(-1, 1, (8, 2)).astype(np.float32)
        a, ra, *_ = cpu.step(actions)
        b, rb, *_ = gpu.step(torch.as_tensor(actions, device="cuda"))
        torch.testing.assert_close(gpu.task.state.xy.cpu(), cpu.task.state.xy, atol=1e-4, rtol=0)
        torch.testing.assert_close(rb.cpu(), ra, atol=1e-4, rtol=0)
        # gsplat and the PyTorch rasterizer agree to float rounding; uint8 may differ by one level.
        diff = (b["rgb"].cpu().int() - a["rgb"].int()).abs()
        assert diff.max() <= 2 and diff.float().mean() < 0.05
