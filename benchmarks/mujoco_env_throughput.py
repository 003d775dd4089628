"""LyraMuJoCo-v0 throughput: env steps per second, with the physics and render shares of a step.

    python benchmarks/mujoco_env_throughput.py --scene runs/kitchen                  # CPU: single env, N = 1, 4
    python benchmarks/mujoco_env_throughput.py --scene runs/kitchen --device cuda --num-envs 64 256 1024

``--scene`` is a bundle with ``scene.xml`` (``lyra-sim generate --export``, or a bundle from the
env cache); ``--prompt`` generates one instead (needs Open3D for the collision mesh). Each row
runs the vector env (``gym.make_vec``; the first row with ``single`` is ``gym.make``) with
random wheel speeds inside the actuators' ranges for at least ``--seconds`` and reports:

- ``steps/s``: world steps per second (``N`` per vector step), and vector steps per second;
- ``physics ms``: MuJoCo stepping of all worlds on the thread pool (``Worlds.step`` +
  ``poses``) per vector step; ``render ms``: reading every camera and the one renderer call
  (``MuJoCoPointNav.observe``, synchronised on CUDA); ``other ms``: the rest (action checks,
  reward and geodesics, autoresets, host copies); each with its share of the step;
- the physics threads, ``control_dt`` (simulated seconds per step) and the machine's load
  average over the last minute when the row finished (the CPU may be shared).
"""

from __future__ import annotations

import argparse
import os
import time

import gymnasium as gym
import numpy as np
import torch

import lyra_sim  # noqa: F401  (registers LyraMuJoCo-v0)


class Timer:
    """Wall time spent in a wrapped method (CUDA synchronised before reading the clock)."""

    def __init__(self, device: torch.device) -> None:
        self.seconds, self.device = 0.0, device

    def wrap(self, fn):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            out = fn(*args, **kwargs)
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            self.seconds += time.perf_counter() - start
            return out

        return timed


def run(env, core, n: int, seconds: float, device: torch.device, single: bool) -> dict:
    physics, render = Timer(device), Timer(device)
    core.worlds.step = physics.wrap(core.worlds.step)
    core.worlds.poses = physics.wrap(core.worlds.poses)
    core.observe = render.wrap(core.observe)
    rng = np.random.default_rng(0)
    low, high = core.ctrl_low, core.ctrl_high
    env.reset(seed=0)

    def step():
        a = rng.uniform(low, high, (n, len(low))).astype(np.float32)
        out = env.step(a[0] if single else a)
        if single and (out[2] or out[3]):
            env.reset()

    for _ in range(3):
        step()
    physics.seconds = render.seconds = 0.0
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()
        steps += 1
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    total = time.perf_counter() - start
    other = total - physics.seconds - render.seconds

    def ms(seconds: float) -> float:
        return seconds / steps * 1000

    return {
        "world steps/s": n * steps / total, "vector steps/s": steps / total,
        "physics ms": ms(physics.seconds), "render ms": ms(render.seconds), "other ms": ms(other),
        "physics %": physics.seconds / total * 100, "render %": render.seconds / total * 100, "other %": other / total * 100,
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--scene", help="a bundle directory with scene.xml")
    src.add_argument("--prompt", help="generate the scene from this prompt")
    p.add_argument("--robot", default="diffdrive")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--size", type=int, default=64, help="camera width and height, pixels")
    p.add_argument("--num-envs", type=int, nargs="+", default=None, help="default: 1 4 on the CPU, 64 256 1024 on CUDA")
    p.add_argument("--threads", type=int, default=None, help="physics threads (default: one per core)")
    p.add_argument("--control-dt", type=float, default=0.1)
    p.add_argument("--seconds", type=float, default=5.0)
    args = p.parse_args(argv)
    device = torch.device(args.device)
    sizes = args.num_envs or ([64, 256, 1024] if device.type == "cuda" else [1, 4])
    kwargs = dict(prompt=args.prompt, scene=args.scene, robot=args.robot, width=args.size, height=args.size, device=args.device,
                  physics={"control_dt": args.control_dt, "threads": args.threads}, task={"min_geodesic": 0.5})
    threads = args.threads or os.cpu_count()
    print(f"LyraMuJoCo-v0, {args.size}x{args.size} RGB, robot {args.robot}, device {device}, {os.cpu_count()} CPU cores"
          + (f", {torch.cuda.get_device_name(device)}" if device.type == "cuda" else ""))
    print("| env | N | threads | world steps/s | vector steps/s | physics ms | render ms | other ms | physics % | render % "
          "| other % | load avg |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    rows = [("single", 1)] + [("vector", n) for n in sizes]
    for kind, n in rows:
        if kind == "single":
            env = gym.make("LyraMuJoCo-v0", **kwargs)
            core = env.unwrapped.core
        else:
            env = gym.make_vec("LyraMuJoCo-v0", num_envs=n, vectorization_mode="vector_entry_point", **kwargs)
            core = env.unwrapped.core if hasattr(env, "unwrapped") else env.core
        r = run(env, core, n, args.seconds, device, kind == "single")
        used = 1 if kind == "single" else min(n, threads)
        print(f"| {kind} | {n} | {used} | {r['world steps/s']:.0f} | {r['vector steps/s']:.1f} | {r['physics ms']:.2f} | "
              f"{r['render ms']:.2f} | {r['other ms']:.2f} | {r['physics %']:.0f} | {r['render %']:.0f} | {r['other %']:.0f} | "
              f"{os.getloadavg()[0]:.1f} |", flush=True)
        env.close()
        if device.type == "cuda":
            print(f"<!-- peak GPU memory {torch.cuda.max_memory_allocated(device) / 2**30:.2f} GiB -->")


if __name__ == "__main__":
    main()
