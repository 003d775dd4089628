"""LyraScene-v0 throughput: env steps per second against the raw renderer on the same scene and cameras.

    python benchmarks/env_throughput.py                       # CPU: single env + N = 1, 16
    python benchmarks/env_throughput.py --device cuda --num-envs 1 16 256 1024

For each image size it prints, in one run:

- ``raw full``: the renderer alone (`lyra_sim.render.render`: gsplat on CUDA, the PyTorch
  rasterizer on the CPU) drawing the whole scene into N agent cameras in one call, frames/s;
- ``render path``: the env's observation renderer (`lyra_sim.envs.views.SceneViews`: on the
  CPU level of detail and frustum culling), frames/s, and its PSNR against ``raw full``;
- ``env``: steps/s of the single env (``gym.make``, N = 1 row marked "single") and of the
  vector env (``gym.make_vec``), each step rendering every env's observation, with
  random actions; ``env / raw`` is the env's frame rate over the raw renderer's.

Cameras for the raw rows are the env's own agent cameras after a reset, so all rows draw
the same views. Peak GPU memory is reported on CUDA. Timings run for at least ``--seconds``.
"""

from __future__ import annotations

import argparse
import math
import os
import time

import gymnasium as gym
import numpy as np
import torch

import lyra_sim  # noqa: F401  (registers LyraScene-v0)
from lyra_sim.cameras import Cameras
from lyra_sim.envs.views import agent_viewmats
from lyra_sim.render import render


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _rate(fn, count_per_call: int, seconds: float, device: torch.device, warmup: int = 2) -> float:
    """Items per second of ``fn`` (called repeatedly for at least ``seconds``)."""
    for _ in range(warmup):
        fn()
    _sync(device)
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        _sync(device)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and calls >= 3:
            return calls * count_per_call / elapsed


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a.float() - b.float()) ** 2).mean()) / 255**2
    return math.inf if mse == 0 else -10 * math.log10(mse)


def bench(args: argparse.Namespace) -> list[dict]:
    device = torch.device(args.device)
    rows = []
    for size in args.sizes:
        source = dict(scene=args.scene) if args.scene else dict(prompt=args.prompt, seed=args.seed)
        kw = dict(**source, width=size, height=size, device=args.device)
        single = gym.make("LyraScene-v0", **kw)
        single.reset(seed=0)
        for n in args.num_envs:
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            venv = gym.make_vec("LyraScene-v0", num_envs=n, vectorization_mode="vector_entry_point", array_type="torch", **kw)
            venv.reset(seed=0)
            env = venv.unwrapped
            st = env.task.state
            views = env.scenes.views
            viewmats = agent_viewmats(st.xy, st.yaw, env.task.camera_z(), env.settings.camera.pitch_deg)
            cams = Cameras(viewmats, views.K[None].expand(n, 3, 3).contiguous(), size, size)
            full = views.full_scenes[0]

            def raw():
                with torch.no_grad():
                    return render(full, cams)

            def path():
                return views.render(st.scene, viewmats)

            ref = (raw().rgb.clamp(0, 1) * 255 + 0.5).to(torch.uint8)
            psnr = min(_psnr(path()[0][i], ref[i]) for i in range(n))
            raw_fps = _rate(raw, n, args.seconds, device)
            path_fps = _rate(path, n, args.seconds, device)
            rng = np.random.default_rng(0)
            actions = torch.as_tensor(rng.uniform(-1, 1, (64, n, 2)).astype(np.float32), device=device)
            i = [0]

            def vstep():
                venv.step(actions[i[0] % 64])
                i[0] += 1

            env_sps = _rate(vstep, n, args.seconds, device)
            peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")
            row = dict(size=size, n=n, kind="vector", raw=raw_fps, path=path_fps, psnr=psnr, env=env_sps, peak_gib=peak,
                       gaussians=len(full))
            rows.append(row)
            if n == 1:
                sample = single.action_space.sample

                def sstep():
                    _, _, term, trunc, _ = single.step(sample())
                    if term or trunc:
                        single.reset()

                rows.append({**row, "kind": "single", "env": _rate(sstep, 1, args.seconds, device)})
            venv.close()
        single.close()
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--prompt", default="a kitchen with a table and two chairs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--scene", help="a bundle directory, scene directory or .ply instead of --prompt")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    p.add_argument("--num-envs", type=int, nargs="+", default=[1, 16])
    p.add_argument("--seconds", type=float, default=3.0)
    args = p.parse_args(argv)
    rows = bench(args)
    threads = torch.get_num_threads()
    where = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"CPU, {os.cpu_count()} cores, {threads} torch threads"
    print(f"\nLyraScene-v0 throughput on {where}; scene: {args.scene or repr(args.prompt) + f' seed {args.seed}'} ({rows[0]['gaussians']:,} Gaussians)")
    print(f"{'size':>7} {'N':>5} {'env':>7} {'raw full fps':>13} {'path fps':>10} {'path PSNR':>10} {'env steps/s':>12} {'env/raw':>8} {'peak GiB':>9}")
    for r in rows:
        print(
            f"{r['size']:>4}x{r['size']:<3}{r['n']:>4} {r['kind']:>7} {r['raw']:>13,.1f} {r['path']:>10,.1f} {r['psnr']:>10.2f} "
            f"{r['env']:>12,.1f} {r['env'] / r['raw']:>8.2f} {r['peak_gib']:>9.2f}"
        )


if __name__ == "__main__":
    main()
