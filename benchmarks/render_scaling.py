"""Agent-camera render throughput against scene size and camera count (the observation renderer alone).

    python benchmarks/render_scaling.py --device cuda --copies 1 2 7 --num-envs 256 1024 4096

A scene of ``k`` copies of a procedural room side by side (``--prompt``, 8 m apart; e.g. 7 living
rooms ≈ 3.1M Gaussians, what a house of several rooms holds) is turned into one level-of-detail
structure, as an environment's scene is, and ``N`` agent cameras (64 × 64 by default) are placed
at random free heights and headings inside random copies. Each row: Gaussians, level-of-detail
build seconds (CPU), the fitted per-camera budget, frames/s of the fused path and of the
gathered-copies reference (`lyra_sim.render.rasterizer.rasterize_selected`), and peak GPU memory
of a render. ``--sparse`` adds a sparser copy of the room (Gaussian spacing x2) for the small end.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

from lyra_sim.envs.views import CameraConfig, SceneViews, agent_viewmats
from lyra_sim.render.lod import LODConfig, build_lod
from lyra_sim.scene import merge
from lyra_sim.worlds import procedural


def _scene(prompt: str, copies: int, spacing: float | None):
    config = procedural.ProceduralConfig() if spacing is None else procedural.ProceduralConfig(spacing=spacing)
    world = procedural.generate(prompt, seed=0, config=config)
    lo, hi = (np.asarray(b, float) for b in world.room_bounds)
    step = float(hi[0] - lo[0]) + 8.0
    scenes = [world.gaussians.transform(torch.eye(3), torch.tensor([i * step, 0.0, 0.0])) for i in range(copies)]
    return merge(scenes) if copies > 1 else scenes[0], lo, hi, step


def _cameras(n: int, lo: np.ndarray, hi: np.ndarray, step: float, copies: int, seed: int, device) -> tuple:
    rng = np.random.default_rng(seed)
    copy = rng.integers(0, copies, n)
    xy = np.stack([rng.uniform(lo[0] + 0.4, hi[0] - 0.4, n) + copy * step, rng.uniform(lo[1] + 0.4, hi[1] - 0.4, n)], 1)
    yaw = rng.uniform(0, 2 * math.pi, n)
    xy, yaw = torch.tensor(xy, dtype=torch.float32, device=device), torch.tensor(yaw, dtype=torch.float32, device=device)
    return agent_viewmats(xy, yaw, torch.full((n,), float(lo[2]) + 1.0, device=device), 0.0)


def _rate(fn, items: int, seconds: float, device) -> float:
    fn()
    torch.cuda.synchronize(device) if device.type == "cuda" else None
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        torch.cuda.synchronize(device) if device.type == "cuda" else None
        if time.perf_counter() - start >= seconds and calls >= 3:
            return calls * items / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--prompt", default="a living room")
    p.add_argument("--copies", type=int, nargs="+", default=[1, 2, 7])
    p.add_argument("--sparse", action="store_true", help="also one sparser copy (spacing x2)")
    p.add_argument("--num-envs", type=int, nargs="+", default=[256, 1024, 4096])
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--seconds", type=float, default=1.0)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    cases = ([(1, 2 * procedural.ProceduralConfig().spacing)] if args.sparse else []) + [(k, None) for k in args.copies]
    rows = []
    camera = CameraConfig(width=args.size, height=args.size)
    for copies, spacing in cases:
        scene, lo, hi, step = _scene(args.prompt, copies, spacing)
        t0 = time.perf_counter()
        lod = build_lod(scene, LODConfig())
        build_s = time.perf_counter() - t0
        views = SceneViews([lod], camera, device)
        survey = _cameras(4096, lo, hi, step, copies, seed=1, device=device)
        budget = views.fit_budget(torch.zeros(len(survey), dtype=torch.long, device=device), survey)
        for n in args.num_envs:
            viewmats = _cameras(n, lo, hi, step, copies, seed=2, device=device)
            idx = torch.zeros(n, dtype=torch.long, device=device)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
                torch.cuda.reset_peak_memory_stats(device)
            fused = _rate(lambda: views.render(idx, viewmats), n, args.seconds, device)
            peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")
            gathered = float("nan")
            if device.type == "cuda":
                views.selected_backend = "gsplat"
                gathered = _rate(lambda: views.render(idx, viewmats), n, args.seconds, device)
                views.selected_backend = "auto"
            rows.append(dict(gaussians=len(scene), copies=copies, build=build_s, budget=budget, n=n, fused=fused,
                             gathered=gathered, peak=peak))
        views = lod = scene = None  # freed before the next scene
        if device.type == "cuda":
            torch.cuda.empty_cache()
    where = torch.cuda.get_device_name() if device.type == "cuda" else "CPU"
    print(f"\nobservation renderer on {where}: {args.prompt!r} copies, {args.size}² agent cameras, pixel_ratio "
          f"{camera.pixel_ratio_on(device)}\n")
    print("| Gaussians | rooms | LOD build s (CPU) | budget | N | fused frames/s | gathered frames/s | fused/gathered | peak GiB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['gaussians']:,} | {r['copies']} | {r['build']:.1f} | {r['budget']:,} | {r['n']} | {r['fused']:,.0f} | "
              f"{r['gathered']:,.0f} | {r['fused'] / r['gathered']:.2f} | {r['peak']:.2f} |")


if __name__ == "__main__":
    main()
