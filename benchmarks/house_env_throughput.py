"""LyraScene-v0 vector env in a house against a single room, in one run: steps/s, peak memory, episodes.

    python benchmarks/house_env_throughput.py --device cuda --house out/flat --room out/living \\
        --num-envs 1024 4096 --size 64
    python benchmarks/house_env_throughput.py --house out/flat --room out/living --num-envs 16   # CPU

``--house`` and ``--room`` each take a bundle directory (what ``scene=`` takes) or, when no such
path exists, a prompt (generated and exported into the env cache on first use; that needs the
export stack, open3d included). Defaults: "a two-bedroom apartment" (6 rooms) and "a living room",
seed 0.

Per scene and ``N`` it prints: Gaussians, rooms, the nav grid's cells, vector-env steps/s (every
step renders all ``N`` observations; random continuous actions already on the device;
``action_check="async"`` on CUDA, so no host sync of ours in ``step``), peak GPU memory of the
env, the mean start-to-goal geodesic distance of the ``N`` first episodes and how many rooms
their paths cross (``min_rooms_crossed`` is 1 in the house by default). Timings run for at
least ``--seconds``; the scenes alternate per ``N`` so both see the same machine state.
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter

import gymnasium as gym
import torch

import lyra_sim  # noqa: F401  (registers LyraScene-v0)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _source(value: str, seed: int) -> dict:
    return {"scene": value} if os.path.exists(value) else {"prompt": value, "seed": seed}


def measure(name: str, value: str, n: int, args: argparse.Namespace) -> dict:
    """One row: the vector env of ``n`` agents on ``value`` (bundle or prompt)."""
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    venv = gym.make_vec(
        "LyraScene-v0", num_envs=n, vectorization_mode="vector_entry_point", array_type="torch",
        action_check="async" if device.type == "cuda" else "sync", width=args.size, height=args.size,
        device=args.device, **_source(value, args.seed),
    )
    _, info = venv.reset(seed=0)
    env = venv.unwrapped
    task, rooms = env.task, env.scenes.rooms[0]
    st = task.state
    crossed = Counter(task.rooms_crossed(0, int(g), xy) for g, xy in zip(st.goal.cpu().numpy(), st.xy.cpu().numpy()))
    geodesic = float(info["geodesic_distance"].float().mean())
    actions = torch.rand((64, n, 2), generator=torch.Generator().manual_seed(0)).mul(2).sub(1).to(device)
    for i in range(3):  # warm-up: CUDA graph capture, allocator, gsplat's first calls
        venv.step(actions[i])
    _sync(device)
    steps, start = 0, time.perf_counter()
    while True:
        venv.step(actions[steps % 64])
        steps += 1
        if steps % 8 == 0:
            _sync(device)
            elapsed = time.perf_counter() - start
            if elapsed >= args.seconds:
                break
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")
    row = {
        "scene": name, "n": n, "gaussians": len(env.scenes.views.full_scenes[0]),
        "rooms": rooms.count if rooms is not None else 1, "cells": int((env.scenes.fields.clearance[0] > 0).sum()),
        "sps": steps * n / elapsed, "peak_gib": peak, "geodesic": geodesic,
        "crossed": ", ".join(f"{k}: {v}" for k, v in sorted(crossed.items())),
    }
    venv.close()
    return row


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--house", default="a two-bedroom apartment", help="bundle directory or prompt (default: a 6-room apartment)")
    p.add_argument("--room", default="a living room", help="bundle directory or prompt of the single-room baseline")
    p.add_argument("--seed", type=int, default=0, help="generation seed of prompts")
    p.add_argument("--num-envs", type=int, nargs="+", default=[1024, 4096])
    p.add_argument("--size", type=int, default=64, help="observation width = height, pixels")
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = p.parse_args(argv)
    rows = [measure(name, value, n, args) for n in args.num_envs for name, value in (("room", args.room), ("house", args.house))]
    device = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"CPU ({torch.get_num_threads()} threads)"
    print(f"LyraScene-v0 vector env, house vs single room on {device}, {args.size}x{args.size}; house: {args.house}; room: {args.room}")
    print("| scene | N | Gaussians | rooms | nav cells | steps/s | house / room | peak GiB | mean start geodesic m | rooms crossed (first episodes) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    by = {(r["scene"], r["n"]): r for r in rows}
    for r in rows:
        ratio = r["sps"] / by[("room", r["n"])]["sps"]
        print(f"| {r['scene']} | {r['n']} | {r['gaussians']:,} | {r['rooms']} | {r['cells']:,} | {r['sps']:,.0f} | {ratio:.2f} | "
              f"{r['peak_gib']:.2f} | {r['geodesic']:.2f} | {r['crossed']} |")
    return rows


if __name__ == "__main__":
    main()
