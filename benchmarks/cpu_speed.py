"""CPU speed of the two everyday paths: prompt → complete bundle, and one LyraScene-v0 env.

    python benchmarks/cpu_speed.py                          # both, 3 bundle runs, 5 env windows
    python benchmarks/cpu_speed.py --skip-bundle --sizes 64 --rasterizers numba torch

Bundle: ``lyra-sim generate PROMPT --seed 0 --export all`` in a fresh process per run (start-up
imports included, as a user runs it), each into a new directory. Per run: wall seconds,
CPU seconds (user + sys of the child), and the CLI's own per-stage seconds; the table gives
the min and the median over ``--bundle-runs``.

Env: ``gym.make("LyraScene-v0", scene=BUNDLE)`` at each size, random actions, ``--window``
steps per timing window after a warm-up, ``--windows`` windows: steps/s (min and median
window) and CPU milliseconds per step (``time.process_time``). ``--rasterizers`` compares the
compiled observation rasterizer ("numba") with the PyTorch reference ("torch") on the same env.

The machine may be shared: every row carries ``os.getloadavg()`` (1-minute) before and after.
CPU time per step or per run is what an idle machine would need at most per core used; on a
loaded machine wall time is the less reliable figure.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STAGE_RE = re.compile(r"^timings: (.*)$", re.MULTILINE)


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def bundle_runs(prompt: str, runs: int, threads: int, exes: list[str]) -> list[dict]:
    """``runs`` CLI runs of each of ``exes`` (alternating, so that they share the machine's load), each
    into a new directory (the first kept, for the env rows); each row: exe, wall, cpu, loads, stage
    seconds, out."""
    work = Path(tempfile.mkdtemp(prefix="cpu_speed_"))
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), LYRA_SIM_CACHE=str(work / "cache"))
    rows = []
    for i, exe in enumerate(e for _ in range(runs) for e in exes):
        out = work / f"bundle{i}"
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        load0 = _load()
        t0 = time.perf_counter()
        proc = subprocess.run([str(exe), "generate", prompt, "--seed", "0", "--export", "all", "--out", str(out)],
                              env=env, capture_output=True, text=True, check=True)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        stages = {}
        match = STAGE_RE.search(proc.stderr + proc.stdout)
        if match:
            for part in match.group(1).split(", "):
                name, seconds = part.rsplit(" ", 1)
                stages[name] = float(seconds.rstrip("s"))
        rows.append({"exe": exe, "wall": wall, "cpu": cpu, "load": (load0, _load()), "stages": stages, "out": str(out)})
        if i:
            shutil.rmtree(out)
    return rows


def env_rates(scene: str, size: int, rasterizer: str, windows: int, window: int) -> dict:
    import gymnasium as gym
    import numpy as np

    import lyra_sim  # noqa: F401  (registers LyraScene-v0)

    env = gym.make("LyraScene-v0", scene=scene, seed=0, width=size, height=size)
    env.unwrapped.scenes.views.cpu_rasterizer = rasterizer
    env.reset(seed=0)
    actions = np.random.default_rng(0).uniform(-1, 1, (window * (windows + 1), 2)).astype(np.float32)

    def run(lo: int, hi: int) -> None:
        for a in actions[lo:hi]:
            _, _, term, trunc, _ = env.step(a)
            if term or trunc:
                env.reset()

    run(0, window)  # warm-up (and Numba's first call)
    load0 = _load()
    rates, cpu_ms = [], []
    for w in range(1, windows + 1):
        t, c = time.perf_counter(), time.process_time()
        run(w * window, (w + 1) * window)
        rates.append(window / (time.perf_counter() - t))
        cpu_ms.append((time.process_time() - c) / window * 1e3)
    env.close()
    return {"size": size, "rasterizer": rasterizer, "rates": rates, "cpu_ms": cpu_ms, "load": (load0, _load())}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--prompt", default="a kitchen with a table and two chairs")
    p.add_argument("--bundle-runs", type=int, default=3)
    p.add_argument("--exe", nargs="+", default=[str(Path(sys.executable).with_name("lyra-sim"))],
                   help="lyra-sim executables to time, runs alternating (e.g. a baseline install and this one)")
    p.add_argument("--skip-bundle", action="store_true", help="env rows only (on --scene, or a bundle made once)")
    p.add_argument("--skip-env", action="store_true", help="bundle rows only")
    p.add_argument("--scene", help="bundle for the env rows (default: the first benchmark bundle)")
    p.add_argument("--threads", type=int, default=2, help="torch / OpenMP threads (OMP_NUM_THREADS)")
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    p.add_argument("--rasterizers", nargs="+", default=["numba", "torch"])
    p.add_argument("--windows", type=int, default=5)
    p.add_argument("--window", type=int, default=200, help="env steps per timing window")
    args = p.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    print(f"cores: {os.cpu_count()}, torch threads: {args.threads}, load at start: {os.getloadavg()}")
    scene = args.scene
    if not args.skip_bundle:
        rows = bundle_runs(args.prompt, args.bundle_runs, args.threads, args.exe)
        scene = scene or rows[0]["out"]
        stages = list(rows[0]["stages"])
        print(f"\nbundle: `lyra-sim generate {args.prompt!r} --seed 0 --export all`, {args.bundle_runs} runs each\n")
        print("| exe | run | wall s | CPU s (user+sys) | load before/after | " + " | ".join(stages) + " |")
        print("|---" * (5 + len(stages)) + "|")
        for i, r in enumerate(rows):
            print(f"| {args.exe.index(r['exe'])} | {i} | {r['wall']:.2f} | {r['cpu']:.2f} | {r['load'][0]}/{r['load'][1]} | "
                  + " | ".join(f"{r['stages'].get(s, 0):.2f}" for s in stages) + " |")
        for e, exe in enumerate(args.exe):
            mine = [r for r in rows if r["exe"] == exe]
            walls, cpus = [r["wall"] for r in mine], [r["cpu"] for r in mine]
            print(f"| {e} | min / median | {min(walls):.2f} / {statistics.median(walls):.2f} | "
                  f"{min(cpus):.2f} / {statistics.median(cpus):.2f} | | "
                  + " | ".join(f"{min(r['stages'].get(s, 0) for r in mine):.2f}" for s in stages) + " |")
        print("\nexe: " + ", ".join(f"{e} = {exe}" for e, exe in enumerate(args.exe)))
    if args.skip_env:
        return
    if scene is None:
        p.error("--skip-bundle needs --scene")
    print(f"\nenv: LyraScene-v0 on {scene}, single env, RGB, {args.windows} windows of {args.window} steps\n")
    print("| size | rasterizer | steps/s min | steps/s median | steps/s max | CPU ms/step min | load before/after |")
    print("|---|---|---|---|---|---|---|")
    for size in args.sizes:
        for rasterizer in args.rasterizers:
            r = env_rates(scene, size, rasterizer, args.windows, args.window)
            print(f"| {size}² | {rasterizer} | {min(r['rates']):.1f} | {statistics.median(r['rates']):.1f} | "
                  f"{max(r['rates']):.1f} | {min(r['cpu_ms']):.2f} | {r['load'][0]}/{r['load'][1]} |", flush=True)


if __name__ == "__main__":
    main()
