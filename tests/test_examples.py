"""examples/: the PPO and plain-PyTorch training scripts, driven for a few steps on the box room bundle."""

import importlib.util
import math
from pathlib import Path

import gymnasium as gym
import pytest
import torch

import lyra_sim  # noqa: F401  (registers LyraScene-v0)

PPO = pytest.importorskip("stable_baselines3", reason="the rl extra (stable-baselines3) is not installed").PPO
from _scenes import box_room_bundle

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load_example(name):
    """The script as a module (examples/ is not a package: users run or copy the files)."""
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bundle():
    return box_room_bundle()


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LYRA_SIM_CACHE", str(tmp_path / "cache"))


def test_train_ppo_saves_a_model_that_reloads_and_acts(bundle, tmp_path):
    out = tmp_path / "ppo.zip"
    stats = load_example("train_ppo").main([
        "--scene", str(bundle), "--timesteps", "256", "--num-envs", "2", "--n-steps", "64", "--batch-size", "32",
        "--width", "48", "--height", "48", "--max-episode-steps", "40", "--min-geodesic", "0.5", "--out", str(out),
    ])
    # 2 envs × 128 steps with episodes of at most 40 steps: at least 3 episodes each reach Monitor.
    assert stats["episodes"] >= 6
    assert math.isfinite(stats["mean_return"]) and 0 <= stats["success_rate"] <= 1

    model = PPO.load(out, device="cpu")
    assert model.num_timesteps == 256
    env = gym.make(
        "LyraScene-v0", scene=str(bundle), width=48, height=48, task={"min_geodesic": 0.5, "max_episode_steps": 40}, device="cpu"
    )
    obs, _ = env.reset(seed=0)
    for _ in range(3):
        action, _ = model.predict(obs, deterministic=True)
        assert env.action_space.contains(action)
        obs, *_ = env.step(action)  # the env raises on actions outside its space


def test_discounted_returns_bootstrap_truncation_only():
    returns = load_example("train_torch").discounted_returns(
        rewards=torch.tensor([[1.0, 1.0], [2.0, 2.0], [4.0, 4.0]]),
        terminated=torch.tensor([[False, False], [False, True], [False, False]]),
        truncated=torch.tensor([[True, False], [False, False], [False, False]]),
        next_values=torch.tensor([[10.0, 20.0], [30.0, 40.0], [50.0, 60.0]]),
        gamma=0.5,
    )
    # env 0: truncated at step 0 → 1 + 0.5·V(its final obs) = 6, not chained into step 1 (the
    # autoreset step); steps 2 and 1 chain from the bootstrap 50. env 1: terminated at step 1 →
    # no future there; step 0 chains into it; step 2 bootstraps from 60.
    assert returns.tolist() == [[6.0, 2.0], [16.5, 2.0], [29.0, 34.0]]


def test_train_torch_updates_the_network(bundle):
    train_torch = load_example("train_torch")
    torch.manual_seed(0)  # main seeds torch with --seed before building the network: the same initial weights
    initial = train_torch.ActorCritic().state_dict()
    model, losses = train_torch.main([
        "--scene", str(bundle), "--num-envs", "4", "--rollout", "8", "--updates", "2",
        "--max-episode-steps", "5", "--min-geodesic", "0.5", "--device", "cpu", "--seed", "0",
    ])  # episodes of 5 steps: each rollout holds an autoreset step, masked out of the loss
    assert len(losses) == 2 and all(math.isfinite(x) for x in losses)
    trained = model.state_dict()
    assert trained.keys() == initial.keys()
    assert all(not torch.equal(trained[k], initial[k]) for k in initial)


def test_train_mujoco_ppo_drives_the_base_and_saves_a_model_that_acts(bundle, tmp_path):
    pytest.importorskip("mujoco")
    out = tmp_path / "ppo_mujoco.zip"
    stats = load_example("train_mujoco_ppo").main([
        "--scene", str(bundle), "--timesteps", "256", "--num-envs", "2", "--n-steps", "64", "--batch-size", "32",
        "--width", "48", "--height", "48", "--max-episode-steps", "30", "--min-geodesic", "0.5", "--out", str(out),
    ])
    # 2 envs × 128 steps with episodes of at most 30 steps: at least 4 episodes each reach Monitor.
    assert stats["episodes"] >= 8
    assert math.isfinite(stats["mean_return"]) and 0 <= stats["success_rate"] <= 1

    model = PPO.load(out, device="cpu")
    assert model.num_timesteps == 256
    env = gym.wrappers.RescaleAction(
        gym.make("LyraMuJoCo-v0", scene=str(bundle), width=48, height=48, task={"min_geodesic": 0.5, "max_episode_steps": 30},
                 device="cpu"), -1.0, 1.0)
    obs, _ = env.reset(seed=0)
    for _ in range(3):
        action, _ = model.predict(obs, deterministic=True)
        assert env.action_space.contains(action)
        obs, *_ = env.step(action)  # the env raises on wheel speeds outside the actuators' ranges


def test_train_torch_evaluates_every_dataset_episode_once(bundle, tmp_path):
    from lyra_sim.envs.episode_sampling import sample_episodes
    from lyra_sim.envs.episodes import write_episodes

    train_torch = load_example("train_torch")
    episodes = write_episodes(tmp_path / "eval.json.gz", sample_episodes(bundle, 5, seed=1, task={"min_geodesic": 0.5}))
    args = train_torch.parse_args(["--scene", str(bundle), "--num-envs", "3", "--max-episode-steps", "3", "--device", "cpu",
                                   "--width", "16", "--height", "16"])
    model = train_torch.ActorCritic()
    for p in model.parameters():  # mean action 0: the agent stands still, so every episode is truncated, none succeeds
        torch.nn.init.zeros_(p)
    result = train_torch.evaluate(model, str(bundle), None, str(episodes), args)
    assert result == {"episodes": 5, "success_rate": 0.0, "spl": 0.0}
