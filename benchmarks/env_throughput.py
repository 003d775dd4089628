"""LyraScene-v0 throughput: env steps per second against the raw renderer on the same scene and cameras.

    python benchmarks/env_throughput.py                       # CPU: single env + N = 1, 16
    python benchmarks/env_throughput.py --device cuda --num-envs 256 1024 4096 --quality

For each image size it prints, in one run:

- ``raw full``: the renderer alone (`lyra_sim.render.render`: gsplat on CUDA, the PyTorch
  rasterizer on the CPU) drawing the whole scene into N agent cameras in one call, frames/s;
- ``render path``: the env's observation renderer (`lyra_sim.envs.views.SceneViews`: per-camera
  frustum culling and level of detail), frames/s, and its PSNR against ``raw full`` (mean over
  the cameras, and the worst camera), and the per-camera budget; on CUDA also ``gathered
  path``, the same selections drawn from gathered per-camera copies (the reference of the
  fused Triton projection, `lyra_sim.render.rasterizer.rasterize_selected`);
- ``env``: steps/s of the single env (``gym.make``, N = 1 row marked "single") and of the
  vector env (``gym.make_vec``), each step rendering every env's observation, with
  random actions; ``env / raw`` is the env's frame rate over the raw renderer's. On CUDA the
  vector env runs with ``action_check="async"`` (no host sync of ours in ``step``); the ``sync
  chk`` column is the same with the default ``"sync"`` action check.

``--quality`` adds, per size, the level-of-detail PSNR for several pixel ratios on 64 agent
cameras: against full-scene renders, and, with the full-scene render's own, against a reference
rendered at 4× the resolution and box-downsampled (the fast path should stay within 1 dB of full).

Cameras for the raw rows are the env's own agent cameras after stepping, so all rows draw
the same views. Peak GPU memory is the env's own (measured before the raw renderer runs).
Timings run for at least ``--seconds``.

``--dynamic`` measures a dynamic scene instead, beside the static figure of the same room in the
same run (issue 14's aim: within 20 % of static):

    python benchmarks/env_throughput.py --device cuda --dynamic --num-envs 1024 4096 --sizes 64

Without ``--scene`` both rooms are built by hand in seconds, without open3d (the GPU machine has
none): the dynamic box room of ``tests/_dynamic.py`` (a cart driving along the far wall and a door
leaf swinging on its hinge, 8 times at 4 fps, looping; `box_room_dynamic_bundle_by_hand`) and its
static twin, the same Gaussians frozen at t = 0 (movers included) on the same nav grid, so both
rows draw the same Gaussians (``--spacing`` sets how many: 17k at the default 4 cm, ~310k at 0.95 cm).
``--scene DIR --static-scene DIR`` gives a dynamic bundle and its static twin instead. Both envs are built
side by side and timed in ``--repeats`` alternating rounds (so a drift of the machine's speed hits both alike);
per row: the median vector env steps/s (``action_check="async"``, and the default ``"sync"``) and the rounds'
range, peak GPU memory, the per-camera budgets (static rows, and per part slot), camera renders coarsened to
fit them, and dynamic / static steps/s at the same N.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

import lyra_sim  # noqa: F401  (registers LyraScene-v0)
from lyra_sim.cameras import Cameras
from lyra_sim.envs.views import agent_viewmats
from lyra_sim.images import to_uint8
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
    """PSNR (dB) of images in [0, 255] (any shape)."""
    mse = float(((a.float() - b.float()) ** 2).mean()) / 255**2
    return math.inf if mse == 0 else -10 * math.log10(mse)


def _make(args: argparse.Namespace, size: int, n: int, **extra):
    source = dict(scene=args.scene) if args.scene else dict(prompt=args.prompt, seed=args.seed)
    kw = dict(**source, width=size, height=size, device=args.device, **extra)
    return gym.make_vec("LyraScene-v0", num_envs=n, vectorization_mode="vector_entry_point", array_type="torch", **kw)


def quality(args: argparse.Namespace, ratios=(1.0, 1.5, 2.0, 3.0), n: int = 64) -> list[dict]:
    """LOD PSNR per pixel ratio: vs full-scene renders, and vs 4x-supersampled references (with full's)."""
    rows = []
    for size in args.sizes:
        venv = _make(args, size, n)
        venv.reset(seed=1)
        env = venv.unwrapped
        st, views = env.task.state, env.scenes.views
        viewmats = agent_viewmats(st.xy, st.yaw, env.task.camera_z(), env.settings.camera.pitch_deg)
        full_scene = views.full_scenes[0]
        cams = Cameras(viewmats, views.K[None].expand(n, 3, 3).contiguous(), size, size)
        cfg = env.settings.camera
        with torch.no_grad():
            full = to_uint8(render(full_scene, cams, "RGB", near_plane=cfg.near, far_plane=cfg.far).rgb)
            k4 = views.K.clone()
            k4[:2] *= 4
            big = Cameras(viewmats, k4[None].expand(n, 3, 3).contiguous(), 4 * size, 4 * size)
            ref = torch.cat([
                render(full_scene, big[i : i + 16], "RGB", near_plane=cfg.near, far_plane=cfg.far).rgb for i in range(0, n, 16)
            ])
            ref = to_uint8(ref.clamp(0, 1).view(n, size, 4, size, 4, 3).mean((2, 4)))
        full_vs_ref = _psnr(full, ref)
        for ratio in ratios:
            views.pixel_ratio = ratio
            views.budget = max(len(f) for f in views.full_scenes)
            budget = views.fit_budget(*env.task.survey_viewmats())
            fast = views.render(st.scene, viewmats)[0]
            rows.append(dict(size=size, ratio=ratio, budget=budget, vs_full=_psnr(fast, full),
                             vs_full_min=min(_psnr(fast[i], full[i]) for i in range(n)),
                             full_vs_ref=full_vs_ref, fast_vs_ref=_psnr(fast, ref)))
        venv.close()
    return rows


def bench(args: argparse.Namespace) -> list[dict]:
    device = torch.device(args.device)
    rows = []
    for size in args.sizes:
        source = dict(scene=args.scene) if args.scene else dict(prompt=args.prompt, seed=args.seed)
        single = gym.make("LyraScene-v0", **source, width=size, height=size, device=args.device) if 1 in args.num_envs else None
        if single is not None:
            single.reset(seed=0)
        for n in args.num_envs:
            if device.type == "cuda":
                torch.cuda.synchronize(device)
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats(device)
            venv = _make(args, size, n, action_check="async") if device.type == "cuda" else _make(args, size, n)
            venv.reset(seed=0)
            env = venv.unwrapped
            views = env.scenes.views
            rng = np.random.default_rng(0)
            actions = torch.as_tensor(rng.uniform(-1, 1, (64, n, 2)).astype(np.float32), device=device)
            i = [0]

            def vstep():
                venv.step(actions[i[0] % 64])
                i[0] += 1

            # The env alone first, so that its peak memory is its own (the raw renderer's comes after).
            env_sps = _rate(vstep, n, args.seconds, device)
            peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")
            sync_sps = float("nan")
            if device.type == "cuda":
                env.action_check = "sync"
                sync_sps = _rate(vstep, n, args.seconds, device)
                env.action_check = "async"
            st = env.task.state
            cfg = env.settings.camera
            viewmats = agent_viewmats(st.xy, st.yaw, env.task.camera_z(), cfg.pitch_deg)
            cams = Cameras(viewmats, views.K[None].expand(n, 3, 3).contiguous(), size, size)
            full = views.full_scenes[0]

            def raw():
                with torch.no_grad():
                    return render(full, cams, "RGB", near_plane=cfg.near, far_plane=cfg.far)

            def path():
                return views.render(st.scene, viewmats)

            fast = path()[0]
            path_fps = _rate(path, n, args.seconds, device)
            gather_fps = float("nan")
            if device.type == "cuda" and views.pixel_ratio > 0:  # the gathered-copies reference of the same path
                views.selected_backend = "gsplat"
                gathered = path()[0]
                gather_fps = _rate(path, n, args.seconds, device)
                views.selected_backend = "auto"
                assert _psnr(gathered, fast) > 45, "fused and gathered paths disagree"
            ref = to_uint8(raw().rgb)
            psnr = _psnr(fast, ref)
            psnr_min = min(_psnr(fast[j], ref[j]) for j in range(n))
            raw_fps = _rate(raw, n, args.seconds, device)
            coarsened = int(views.coarsened)
            row = dict(size=size, n=n, kind="vector", raw=raw_fps, path=path_fps, gather=gather_fps, psnr=psnr,
                       psnr_min=psnr_min, env=env_sps, sync=sync_sps, peak_gib=peak, gaussians=len(full),
                       budget=getattr(views, "budget", 0), coarsened=coarsened, ratio=views.pixel_ratio)
            rows.append(row)
            if n == 1 and single is not None:
                sample = single.action_space.sample

                def sstep():
                    _, _, term, trunc, _ = single.step(sample())
                    if term or trunc:
                        single.reset()

                rows.append({**row, "kind": "single", "env": _rate(sstep, 1, args.seconds, device)})
            venv.close()
            venv = env = views = cams = None  # freed before the next row measures its own peak
        if single is not None:
            single.close()
    return rows


def dynamic_rooms(tmp: Path, spacing: float = 0.04) -> tuple[str, str]:
    """``(static twin, dynamic bundle)`` of the dynamic box room with Gaussians ``spacing`` apart, built by hand under
    ``tmp`` (see the module docstring): the twin's ``scene.ply`` is the dynamic bundle's static part and its parts at
    t = 0, so both draw the same Gaussians."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from _dynamic import box_room_dynamic, box_room_dynamic_bundle_by_hand
    from _scenes import box_room_bundle_by_hand
    from lyra_sim.manifest import read_manifest, write_manifest
    from lyra_sim.ply import write_ply

    dynamic = box_room_dynamic_bundle_by_hand(tmp / "dynamic", spacing)
    static = box_room_bundle_by_hand(tmp / "static", spacing=spacing)
    write_ply(static / "scene.ply", box_room_dynamic(spacing=spacing)[0][0])  # every Gaussian, the movers at t = 0
    write_manifest(static, {k: v for k, v in read_manifest(static).items() if k not in ("format", "format_version", "files")})
    return str(static), str(dynamic)


def bench_dynamic(args: argparse.Namespace) -> list[dict]:
    """Vector env steps/s on the static twin and the dynamic scene: both envs built side by side, then
    ``--repeats`` rounds that each time both in turn (async, then sync action check); the medians per kind."""
    device = torch.device(args.device)
    rows = []
    extra = dict(action_check="async") if device.type == "cuda" else {}
    with tempfile.TemporaryDirectory() as tmp:
        static, dynamic = (args.static_scene, args.scene) if args.scene else dynamic_rooms(Path(tmp), args.spacing)
        for size in args.sizes:
            for n in args.num_envs:
                envs, peak = {}, {}
                for kind, scene in (("static", static), ("dynamic", dynamic)):
                    base = 0
                    if device.type == "cuda":
                        torch.cuda.synchronize(device)
                        base = torch.cuda.memory_allocated(device)
                        torch.cuda.reset_peak_memory_stats(device)
                    venv = gym.make_vec("LyraScene-v0", num_envs=n, vectorization_mode="vector_entry_point", array_type="torch",
                                        scene=scene, width=size, height=size, device=args.device, agent={"height": 1.2},
                                        task={"min_geodesic": 0.5}, dynamic=kind == "dynamic", **extra)
                    venv.reset(seed=0)
                    actions = torch.as_tensor(np.random.default_rng(0).uniform(-1, 1, (64, n, 2)).astype(np.float32), device=device)
                    envs[kind] = (venv, actions, [0])
                    _rate(_stepper(*envs[kind]), n, 0.5, device)  # warm: graphs captured, caches filled
                    peak[kind] = (torch.cuda.max_memory_allocated(device) - base) / 2**30 if device.type == "cuda" else float("nan")
                checks = ("async", "sync") if device.type == "cuda" else ("sync",)  # the first is the main column
                rates = {k: {"async": [], "sync": []} for k in envs}
                for _ in range(args.repeats):
                    for kind, (venv, actions, i) in envs.items():
                        for check in checks:
                            venv.unwrapped.action_check = check
                            rates[kind][check].append(_rate(_stepper(venv, actions, i), n, args.seconds, device))
                for kind, (venv, _, _) in envs.items():
                    env, med = venv.unwrapped, {c: float(np.median(v)) if v else float("nan") for c, v in rates[kind].items()}
                    main_rates = rates[kind][checks[0]]
                    views = env.scenes.views
                    rows.append(dict(size=size, n=n, kind=kind, env=med[checks[0]], sync=med["sync"], peak_gib=peak[kind],
                                     spread=(min(main_rates), max(main_rates)),
                                     budget=getattr(views, "budget", 0), part_budget=", ".join(f"{b:,}" for b in getattr(views, "part_budgets", ())),
                                     coarsened=int(views.coarsened),
                                     gaussians=sum(len(f) for f in views.full_scenes) + sum(int(p.offsets[0, -1]) for p in views.flat_parts),
                                     parts=len(views.flat_parts), ratio=med[checks[0]] / float(np.median(rates["static"][checks[0]]))))
                    print(f"# {kind} N={n} {size}x{size}: {med[checks[0]]:,.0f} steps/s (sync {med['sync']:,.0f}), "
                          f"rounds {[round(r) for r in main_rates]}", file=sys.stderr, flush=True)
                for venv, _, _ in envs.values():
                    venv.close()
                envs = None  # freed before the next N measures its own peak
    return rows


def _stepper(venv, actions: torch.Tensor, i: list[int]):
    def step():
        venv.step(actions[i[0] % len(actions)])
        i[0] += 1
    return step


def print_dynamic(rows: list[dict], args: argparse.Namespace) -> None:
    where = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"CPU, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads"
    scene = args.scene or "the dynamic box room (tests/_dynamic.py, built by hand)"
    print(f"\nLyraScene-v0 on a dynamic scene beside its static twin, {where}; {scene}, {rows[0]['gaussians']:,} Gaussians, "
          f"{rows[-1]['parts']} moving parts")
    print(f"\nMedians of {args.repeats} alternating rounds of {args.seconds:g} s per kind (both envs alive; min-max of the rounds shown).")
    print("\n| size | N | scene | env steps/s | rounds min-max | sync chk | / static | peak GiB | budget | part budget | coarsened |")
    print("|" + "---|" * 11)
    for r in rows:
        print(f"| {r['size']}² | {r['n']} | {r['kind']} | {r['env']:,.0f} | {r['spread'][0]:,.0f}-{r['spread'][1]:,.0f} | {r['sync']:,.0f} | "
              f"{r['ratio']:.2f} | {r['peak_gib']:.2f} | {r['budget']:,} | {r['part_budget'] or '-'} | {r['coarsened']} |")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--prompt", default="a kitchen with a table and two chairs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--scene", help="a bundle directory, scene directory or .ply instead of --prompt")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    p.add_argument("--num-envs", type=int, nargs="+", default=[1, 16])
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--quality", action="store_true", help="also the level-of-detail PSNR table (needs a GPU for 4x references in time)")
    p.add_argument("--dynamic", action="store_true", help="a dynamic scene beside its static twin (see the module docstring)")
    p.add_argument("--spacing", type=float, default=0.04,
                   help="with --dynamic, without --scene: meters between the box room's Gaussians (0.04: 17k; 0.0095: ~310k)")
    p.add_argument("--repeats", type=int, default=5, help="with --dynamic: alternating timing rounds per kind (medians reported)")
    p.add_argument("--static-scene", help="with --dynamic and --scene: the static twin of the dynamic bundle --scene")
    args = p.parse_args(argv)
    if args.dynamic:
        if bool(args.scene) != bool(args.static_scene):
            p.error("--dynamic takes both --scene (a dynamic bundle) and --static-scene (its static twin), or neither")
        print_dynamic(bench_dynamic(args), args)
        return
    q = quality(args) if args.quality else []
    rows = bench(args)
    threads = torch.get_num_threads()
    where = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"CPU, {os.cpu_count()} cores, {threads} torch threads"
    print(f"\nLyraScene-v0 throughput on {where}; scene: {args.scene or repr(args.prompt) + f' seed {args.seed}'} ({rows[0]['gaussians']:,} Gaussians), "
          f"pixel_ratio {rows[0]['ratio']}")
    print("\n| size | N | env | raw full fps | path fps | gathered path fps | budget | PSNR vs full mean/min | env steps/s "
          "| sync chk | env/raw | env peak GiB | coarsened |")
    print("|" + "---|" * 13)
    for r in rows:
        print(
            f"| {r['size']}² | {r['n']} | {r['kind']} | {r['raw']:,.0f} | {r['path']:,.0f} | {r['gather']:,.0f} | {r['budget']:,} | "
            f"{r['psnr']:.2f}/{r['psnr_min']:.2f} | {r['env']:,.0f} | {r['sync']:,.0f} | {r['env'] / r['raw']:.2f} | "
            f"{r['peak_gib']:.2f} | {r['coarsened']} |"
        )
    if q:
        print("\nLevel-of-detail quality (64 agent cameras, PSNR dB; ref = 4x resolution, box-downsampled)")
        print(f"{'size':>7} {'ratio':>6} {'budget':>7} {'fast vs full':>13} {'worst cam':>10} {'full vs ref':>12} {'fast vs ref':>12} {'delta':>6}")
        for r in q:
            print(f"{r['size']:>4}x{r['size']:<3}{r['ratio']:>5.1f} {r['budget']:>7} {r['vs_full']:>13.2f} {r['vs_full_min']:>10.2f} "
                  f"{r['full_vs_ref']:>12.2f} {r['fast_vs_ref']:>12.2f} {r['fast_vs_ref'] - r['full_vs_ref']:>6.2f}")


if __name__ == "__main__":
    main()
