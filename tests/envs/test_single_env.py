"""`LyraScene-v0`, one agent (`lyra_sim.envs.single_env`): registration, `check_env`, seeding, observations.

Runs on the box room bundle of `_scenes` (2.0 × 2.4 × 1.6 m with a 0.6 × 0.8 × 0.5 m block), so nothing is generated.
"""

import math
import os
import subprocess
import sys

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import lyra_sim  # noqa: F401  (registers LyraScene-v0)
from _envs import TASK, make
from _scenes import box_room_bundle_by_hand
from lyra_sim.envs.single_env import LyraSceneEnv
from lyra_sim.envs.vector_env import LyraSceneVectorEnv


def test_import_registers_without_loading_anything():
    code = (
        "import sys, lyra_sim, gymnasium as gym; "
        "assert 'LyraScene-v0' in gym.registry; "
        "spec = gym.spec('LyraScene-v0'); "
        "assert spec.vector_entry_point == 'lyra_sim.envs.vector_env:LyraSceneVectorEnv'; "
        "bad = [m for m in ('lyra_sim.envs', 'lyra_sim.exporters', 'gsplat', 'open3d') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_module_prefixed_id_in_a_fresh_interpreter_passes_check_env(bundle, tmp_path):
    code = (
        "import gymnasium as gym\n"
        "from gymnasium.utils.env_checker import check_env\n"
        f"env = gym.make('lyra_sim:LyraScene-v0', scene={str(bundle)!r}, task={TASK!r})\n"
        "check_env(env.unwrapped, skip_render_check=False)\n"
        "print('ok', env.observation_space['rgb'].shape)\n"
    )
    env = dict(os.environ, LYRA_SIM_CACHE=str(tmp_path / "cache"))
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env)
    assert "ok (64, 64, 3)" in out.stdout


@pytest.mark.parametrize("kw", [{}, {"action_type": "discrete"}, {"depth": True, "width": 48, "height": 32}])


def test_check_env(bundle, cache, kw):
    env = make(bundle, render_mode="rgb_array", **kw)
    check_env(env.unwrapped, skip_render_check=False)
    obs, _ = env.reset(seed=0)
    assert obs["rgb"].shape == (kw.get("height", 64), kw.get("width", 64), 3)
    assert ("depth" in obs) == bool(kw.get("depth"))
    if kw.get("depth"):
        d = obs["depth"]
        # Inside a closed room every pixel sees a surface between 0.2 m and the far corner.
        assert d.dtype == np.float32 and d.min() > 0.2 and d.max() < math.dist((0, 0, 0), (2.0, 2.4, 1.6)) + 0.05


def test_same_seed_same_episode_and_different_seed_differs(bundle, cache):
    def rollout(seed):
        env = make(bundle)
        obs, _ = env.reset(seed=seed)
        frames, rewards = [obs["rgb"]], []
        rng = np.random.default_rng(7)
        for _ in range(15):
            obs, r, term, trunc, _ = env.step(rng.uniform(-1, 1, 2).astype(np.float32))
            frames.append(obs["rgb"])
            rewards.append(r)
            if term or trunc:
                break
        return np.stack(frames), np.array(rewards)

    a, b, c = rollout(3), rollout(3), rollout(4)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0][0], c[0][0])


@pytest.mark.gpu


def test_cuda_single_env_matches_the_cuda_vector_env(tmp_path, monkeypatch):
    monkeypatch.setenv("LYRA_SIM_CACHE", str(tmp_path / "cache"))
    bundle = box_room_bundle_by_hand(tmp_path / "bundle")
    single = LyraSceneEnv(scene=str(bundle), task=TASK, device="cuda")
    vec = LyraSceneVectorEnv(num_envs=1, scene=str(bundle), task=TASK, device="cuda")
    assert single.scenes.views.budget == vec.scenes.views.budget  # both sized from the same survey
    a, _ = single.reset(seed=3)
    b, _ = vec.reset(seed=3)
    rng = np.random.default_rng(1)
    for _ in range(5):
        action = rng.uniform(-1, 1, 2).astype(np.float32)
        a, ra, *_ = single.step(action)
        b, rb, *_ = vec.step(action[None])
        assert np.array_equal(a["rgb"], b["rgb"][0]) and ra == pytest.approx(float(rb[0]), abs=1e-6)
