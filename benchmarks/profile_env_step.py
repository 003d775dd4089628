"""Where a LyraScene-v0 vector step spends its GPU time: CUDA kernel time by stage, per step.

    python benchmarks/profile_env_step.py --scene BUNDLE --num-envs 1024 4096 --sizes 64 128

For each (size, N) it runs ``--steps`` vector steps under ``torch.profiler`` (after warm-up)
and prints, per step: wall time, the summed CUDA kernel time of each stage, the per-camera
Gaussian budget against the mean and largest selection, and peak GPU memory. Stages are told
apart by kernel name (see `STAGES`); anything unmatched is "other".
"""

from __future__ import annotations

import argparse
import re
import time

import gymnasium as gym
import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile

import lyra_sim  # noqa: F401  (registers LyraScene-v0)
from lyra_sim.envs.views import agent_viewmats

STAGES = (
    ("projection (gsplat or fused Triton)", r"projection|fully_fused_projection|_project_kernel"),
    ("gsplat tile intersection", r"isect_tiles|isect_offset"),
    ("sort (cub radix)", r"[Rr]adix|DeviceSegmentedSort|cub::|onesweep"),
    ("gsplat rasterize", r"rasterize_to_pixels"),
    ("gather (index_select)", r"index_select|indexSelect|gather"),
    ("LOD selection", r"cumsum|scan|nonzero|masked|where|compare|lt_|gt_|le_|ge_"),
)
"""Stage name → regular expression on CUDA kernel names (first match wins)."""


def _stage(name: str) -> str:
    for stage, pattern in STAGES:
        if re.search(pattern, name):
            return stage
    return "other"


def profile_case(scene: str, size: int, n: int, steps: int, device: str) -> dict:
    venv = gym.make_vec("LyraScene-v0", num_envs=n, vectorization_mode="vector_entry_point", scene=scene,
                        width=size, height=size, device=device, array_type="torch", action_check="async")
    venv.reset(seed=0)
    env = venv.unwrapped
    views = env.scenes.views
    rng = np.random.default_rng(0)
    actions = torch.as_tensor(rng.uniform(-1, 1, (steps + 8, n, 2)).astype(np.float32), device=device)
    for i in range(8):
        venv.step(actions[i])
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for i in range(steps):
            venv.step(actions[8 + i])
        torch.cuda.synchronize()
    wall = (time.perf_counter() - start) / steps
    by_stage: dict[str, float] = {}
    kernels: dict[str, float] = {}
    for evt in prof.key_averages():
        cuda_us = getattr(evt, "device_time_total", None)
        if cuda_us is None:
            cuda_us = evt.cuda_time_total
        if cuda_us <= 0 or evt.key.startswith("ProfilerStep"):
            continue
        stage = _stage(evt.key)
        by_stage[stage] = by_stage.get(stage, 0.0) + cuda_us / 1e3 / steps
        kernels[evt.key] = kernels.get(evt.key, 0.0) + cuda_us / 1e3 / steps
    st, cfg = env.task.state, env.settings.camera
    viewmats = agent_viewmats(st.xy, st.yaw, env.task.camera_z(), cfg.pitch_deg)
    counts = views.lod.selection_counts(viewmats, views.K[None].expand(n, 3, 3), cfg.width, cfg.height, views.pixel_ratio,
                                        cfg.near, views.anchor_scene[None] == st.scene[:, None]) if hasattr(views, "lod") else None
    row = dict(size=size, n=n, wall_ms=wall * 1e3, sps=n / wall, stages=by_stage,
               top=sorted(kernels.items(), key=lambda kv: -kv[1])[:8], budget=getattr(views, "budget", 0),
               mean_sel=float(counts.float().mean()) if counts is not None else float("nan"),
               max_sel=int(counts.max()) if counts is not None else 0,
               peak_gib=torch.cuda.max_memory_allocated() / 2**30, gaussians=len(views.full_scenes[0]))
    venv.close()
    return row


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scene", required=True, help="a bundle directory")
    p.add_argument("--num-envs", type=int, nargs="+", default=[1024, 4096])
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--device", default="cuda")
    args = p.parse_args(argv)
    rows = [profile_case(args.scene, size, n, args.steps, args.device) for size in args.sizes for n in args.num_envs]
    stages = [s for s, _ in STAGES] + ["other"]
    print(f"\nscene: {rows[0]['gaussians']:,} Gaussians; ms per vector step (CUDA kernel time by stage)\n")
    print("| size | N | wall ms | steps/s | " + " | ".join(stages) + " | budget | mean sel | max sel | peak GiB |")
    print("|" + "---|" * (len(stages) + 8))
    for r in rows:
        cells = [f"{r['stages'].get(s, 0.0):.2f}" for s in stages]
        print(f"| {r['size']}² | {r['n']} | {r['wall_ms']:.2f} | {r['sps']:,.0f} | " + " | ".join(cells)
              + f" | {r['budget']:,} | {r['mean_sel']:,.0f} | {r['max_sel']:,} | {r['peak_gib']:.1f} |")
    for r in rows:
        print(f"\n{r['size']}² N={r['n']}: top kernels (ms/step)")
        for name, ms in r["top"]:
            print(f"  {ms:8.3f}  {name[:110]}")


if __name__ == "__main__":
    main()
