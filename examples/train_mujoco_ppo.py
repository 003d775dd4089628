"""Train Stable-Baselines3 PPO to drive the MuJoCo differential-drive base to a point goal (LyraMuJoCo-v0).

    python examples/train_mujoco_ppo.py --prompt "a kitchen with a table and two chairs" --timesteps 200000
    python examples/train_mujoco_ppo.py --scene out/kitchen_bundle --num-envs 4 --out ppo_diffdrive.zip

The robot (``--robot``: the shipped ``diffdrive`` base, or your own MJCF / URDF with a camera)
is simulated by MuJoCo in the scene's exported collision geometry; its camera images are
rendered from the scene's Gaussians. The policy sees the camera (``rgb``) and the goal vector
(``pointgoal``: distance, heading) through SB3's ``MultiInputPolicy`` (a CNN beside an MLP) and
outputs the wheel speeds, rescaled from [-1, 1] to the actuators' control ranges
(``RescaleAction``: PPO's Gaussian policy learns best on a normalized box). The first run
generates and exports the scene into the bundle cache (``$LYRA_SIM_CACHE``); reload the result
with ``PPO.load(path)``.
"""

from __future__ import annotations

import argparse

import numpy as np
from gymnasium.wrappers import RescaleAction
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

import lyra_sim  # noqa: F401  (registers LyraMuJoCo-v0)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--prompt", help="generate the scene from this prompt (procedural world model)")
    src.add_argument("--scene", help="an existing bundle directory, scene directory or .ply")
    p.add_argument("--robot", default="diffdrive", help="'diffdrive' or a path to a robot MJCF / URDF with a camera")
    p.add_argument("--seed", type=int, default=0, help="scene generation, episodes and PPO")
    p.add_argument("--timesteps", type=int, default=200_000, help="environment steps in total")
    p.add_argument("--num-envs", type=int, default=4, help="environments stepped side by side (DummyVecEnv)")
    p.add_argument("--n-steps", type=int, default=256, help="steps per environment per PPO rollout")
    p.add_argument("--batch-size", type=int, default=64, help="PPO minibatch size")
    p.add_argument("--width", type=int, default=64, help="camera width, pixels (SB3's CNN needs >= 36)")
    p.add_argument("--height", type=int, default=64, help="camera height, pixels (>= 36)")
    p.add_argument("--control-dt", type=float, default=0.1, help="seconds of physics per step")
    p.add_argument("--max-episode-steps", type=int, default=300, help="episodes are truncated after this many steps")
    p.add_argument("--min-geodesic", type=float, default=1.0, help="minimum start-to-goal path length, meters")
    p.add_argument("--device", default="cpu", help="where the policy and the renderer run")
    p.add_argument("--out", default="ppo_lyra_mujoco.zip", help="where to save the trained model")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Train, save the model to ``--out`` and return the training episodes' statistics."""
    args = parse_args(argv)
    env_kwargs = dict(
        prompt=args.prompt,
        scene=args.scene,
        robot=args.robot,
        seed=args.seed,
        width=args.width,
        height=args.height,
        device=args.device,
        # One physics thread per env: DummyVecEnv steps the envs one after another.
        physics={"control_dt": args.control_dt, "threads": 1},
        task={"max_episode_steps": args.max_episode_steps, "min_geodesic": args.min_geodesic},
    )
    # Monitor (added by make_vec_env) records each episode's return, plus the env's "success" flag.
    env = make_vec_env(
        "LyraMuJoCo-v0", n_envs=args.num_envs, seed=args.seed, env_kwargs=env_kwargs,
        wrapper_class=RescaleAction, wrapper_kwargs={"min_action": -1.0, "max_action": 1.0},
        monitor_kwargs={"info_keywords": ("success",)},
    )
    model = PPO(
        "MultiInputPolicy", env, n_steps=args.n_steps, batch_size=args.batch_size,
        seed=args.seed, device=args.device, verbose=1,  # verbose=1 prints a progress table per rollout
    )
    model.learn(total_timesteps=args.timesteps)
    model.save(args.out)
    env.close()

    episodes = list(model.ep_info_buffer)  # the last 100 finished training episodes
    stats = {
        "episodes": len(episodes),
        "mean_return": float(np.mean([e["r"] for e in episodes])) if episodes else float("nan"),
        "success_rate": float(np.mean([e["success"] for e in episodes])) if episodes else float("nan"),
    }
    print(
        f"saved {args.out}; last {stats['episodes']} episodes: mean return {stats['mean_return']:.3f}, "
        f"success rate {stats['success_rate']:.2f}"
    )
    return stats


if __name__ == "__main__":
    main()
