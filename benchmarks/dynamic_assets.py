"""Dynamic scenes as assets (CPU): part poses and part colliders against ground truth, and penetrations in the env.

    python benchmarks/dynamic_assets.py                     # all three tables (about 10 minutes on 2 cores)
    python benchmarks/dynamic_assets.py --tables poses      # one of: poses, colliders, penetration
    python benchmarks/dynamic_assets.py --out benchmarks/results/dynamic_assets_cpu.md

Held-out prompts and seeds (none of them is a test's): one prompt per motion kind (walk, drive, swing,
slide, spin, bounce), each at two seeds, 9 times at 8 fps, procedural Gaussians (``spacing`` 6 cm).

- **poses**: `lyra_sim.exporters.motion.estimate_motion` on the Gaussians alone (the world's ground
  truth is only compared with), in three settings: *labels* (the Gaussians as generated: labelled, the
  same Gaussians at every time, Kabsch), *unlabelled* (the same Gaussians at every time with 2 mm noise
  per time and no labels, as an imported 4D sequence: motion clustering, Kabsch) and *redrawn* (each
  time's Gaussians drawn anew, 85 % of them shuffled with 2 mm noise and no labels, as a decoder gives
  them: change detection and ICP). Error
  of each true mover's matched part: its centroid's position (cm) and its rotation (degrees) against
  the true motion, worst time, mean and worst over the scenes of a kind.
- **colliders**: F-score at 5 cm (`lyra_sim.exporters.mesh_metrics.evaluate_mesh`, whole surface) of
  each part's collision mesh (the dynamic bundle's, `lyra_sim.exporters.dynamic_bundle`: TSDF of its
  own Gaussians) against the true part mesh in the part's frame, *labels* setting.
- **penetration**: ``--steps`` agent steps (default 10⁴) at full speed (random actions in [-1, 1],
  every sub-step of them) per dynamic scene (three prompts' bundles as ``gym.make(..., dynamic=True)``
  builds them), with the env's own task and no rendering (`envs.settings.load_scenes(views=False)`).
  After each step every agent's body is checked by exact distance (`lyra_sim.exporters.body_clearance`)
  against every moving part's collision mesh posed at that step's time (`tests/_dynamic.ExactClearance`):
  a penetration is a body closer than its radius to a part, or its axis inside one.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import open3d  # noqa: F401  (before mujoco, which the env imports: the other order breaks open3d's bindings)
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _dynamic import ExactClearance  # noqa: E402
from lyra_sim.dynamic import DynamicScene  # noqa: E402
from lyra_sim.exporters.bundle import ExportConfig  # noqa: E402
from lyra_sim.exporters.dynamic_bundle import _part_collision  # noqa: E402
from lyra_sim.exporters.mesh_metrics import EvalConfig, evaluate_mesh  # noqa: E402
from lyra_sim.exporters.motion import estimate_motion  # noqa: E402
from lyra_sim.worlds.dynamic_world import frame_times, generate_dynamic  # noqa: E402
from lyra_sim.worlds.procedural import ProceduralConfig  # noqa: E402

HELD_OUT = {  # motion kind -> prompt (the tests use other rooms and words: tests/worlds/test_dynamic_world.py)
    "walk": "an office with a person walking",
    "drive": "a living room with a robot vacuum",
    "swing": "a kitchen with a door swinging",
    "slide": "a living room with a drawer sliding",
    "spin": "a bedroom with a turntable spinning on a cabinet",
    "bounce": "a kitchen with a ball bouncing",
}
SEEDS = (11, 12)
PENETRATION_PROMPTS = ("a corridor with a rolling cart", "an office with a person walking and a robot vacuum",
                       "a bedroom with a door swinging and a ball bouncing")
PENETRATION_SEEDS = (21, 22, 23, 24)
"""Tried in turn per prompt: a seed whose layout leaves a mover no room is an error (`generate_dynamic`), the next is tried."""
CFG = ProceduralConfig(spacing=0.06)


def _unlabelled(dynamic: DynamicScene, seed: int = 0) -> DynamicScene:
    """The same Gaussians at every time, 2 mm noise per time, no labels: an imported 4D sequence (motion clustering)."""
    g = torch.Generator().manual_seed(seed)
    jittered = (replace(s, means=s.means + 0.002 * torch.randn(s.means.shape, generator=g), labels=None, label_names=())
                for s in dynamic.scenes)
    return DynamicScene(dynamic.times, tuple(jittered), dynamic.fps)


def _redrawn(dynamic: DynamicScene, seed: int = 0) -> DynamicScene:
    """Each time's Gaussians drawn anew (85 %, shuffled, 2 mm noise, no labels): no correspondence between times."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for s in dynamic.scenes:
        s = s.select(torch.randperm(len(s), generator=g)[: int(0.85 * len(s))])
        s = replace(s, means=s.means + 0.002 * torch.randn(s.means.shape, generator=g), labels=None, label_names=())
        out.append(s)
    return DynamicScene(dynamic.times, tuple(out), dynamic.fps)


def _errors(part, truth: np.ndarray) -> tuple[float, float]:
    """Worst centroid error (m) and rotation error (degrees) over time of a part's motion against ``truth [T, 4, 4]``
    (world motion of the true mover from the first time)."""
    motions = part.poses @ np.linalg.inv(part.poses[0])
    c = part.poses[0][:3, 3]  # the part's centroid at the first time (its frame's origin)
    est = motions[:, :3, :3] @ c + motions[:, :3, 3]
    true = truth[:, :3, :3] @ c + truth[:, :3, 3]
    rel = np.einsum("tij,tkj->tik", motions[:, :3, :3], truth[:, :3, :3])
    angle = np.degrees(np.arccos(np.clip((np.trace(rel, axis1=1, axis2=2) - 1) / 2, -1, 1)))
    return float(np.linalg.norm(est - true, axis=1).max()), float(angle.max())


def _scenes():
    times = frame_times(9, 8.0)
    for kind, prompt in HELD_OUT.items():
        for seed in SEEDS:
            yield kind, prompt, seed, generate_dynamic(prompt, seed, times, fps=8.0, config=CFG)


def poses_and_colliders(tables: set[str]) -> tuple[list[dict], list[dict]]:
    pose_rows, collider_rows = [], []
    export = ExportConfig()
    for kind, prompt, seed, d in _scenes():
        dynamic = d.dynamic()
        truth = {m.label: d.poses[:, k] @ np.linalg.inv(d.poses[0, k]) for k, m in enumerate(d.movers)}
        settings = (("labels", dynamic), ("unlabelled", _unlabelled(dynamic, seed)), ("redrawn", _redrawn(dynamic, seed)))
        for setting, scene in settings:
            if "poses" not in tables and setting != "labels":
                continue
            start = time.perf_counter()
            est = estimate_motion(scene)
            seconds = time.perf_counter() - start
            for label, motion in truth.items():
                errs = [(_errors(p, motion), p) for p in est.parts]
                if not errs:
                    pose_rows.append(dict(kind=kind, setting=setting, seed=seed, found=False, t=math.nan, r=math.nan, s=seconds,
                                          parts=0, movers=len(truth)))
                    continue
                (t, r), part = min(errs, key=lambda e: e[0][0])
                pose_rows.append(dict(kind=kind, setting=setting, seed=seed, found=t < 0.05, t=t, r=r, s=seconds,
                                      parts=len(est.parts), movers=len(truth), method=part.method))
                if setting == "labels" and "colliders" in tables:
                    k = [m.label for m in d.movers].index(label)
                    mesh = d.world.meshes[d.movers[k].label_index]
                    rest_to_t0 = d.poses[0, k]
                    v = mesh.vertices @ rest_to_t0[:3, :3].T + rest_to_t0[:3, 3] - part.poses[0][:3, 3]  # the part's frame
                    start = time.perf_counter()
                    collision, method = _part_collision(part, export)
                    res = evaluate_mesh(collision.vertices, collision.faces, [(v, mesh.faces)],
                                        config=EvalConfig(num_points=20_000, thresholds=(0.02, 0.05), visible_only=False))
                    collider_rows.append(dict(kind=kind, seed=seed, label=label, f5=res.fscore[0.05], f2=res.fscore[0.02],
                                              chamfer=res.chamfer, faces=len(collision.faces), method=method,
                                              s=time.perf_counter() - start))
        print(f"  {kind:6s} seed {seed}: {len(truth)} movers, {len(dynamic[0]):,} Gaussians", flush=True)
    return pose_rows, collider_rows


def penetration(steps: int, num_agents: int, cache: Path) -> list[dict]:
    from gymnasium.utils import seeding

    from lyra_sim.envs.moving_parts import DynamicConfig
    from lyra_sim.envs.settings import load_scenes, make_settings, make_task

    rows = []
    for i, prompt in enumerate(PENETRATION_PROMPTS):
        start = time.perf_counter()
        for seed in PENETRATION_SEEDS:
            settings = make_settings(prompt=prompt, seed=seed, dynamic=DynamicConfig(), device="cpu", cache_dir=cache)
            try:
                scenes = load_scenes(settings, views=False)
                break
            except ValueError as exc:
                print(f"  {prompt!r} seed {seed}: {exc}", flush=True)
        else:
            raise SystemExit(f"{prompt!r}: no seed of {PENETRATION_SEEDS} builds")
        built = time.perf_counter() - start
        task = make_task(settings, scenes, torch.zeros(num_agents, dtype=torch.long))
        floor = float(scenes.fields.floor_z[0])
        exact = ExactClearance(scenes.bundles[0], floor + float(read_step(scenes)), floor + settings.agent.height)
        radius = settings.agent.radius
        rngs = [seeding.np_random(1000 * i + r)[0] for r in range(num_agents)]
        task.reset(list(range(num_agents)), rngs)
        act = np.random.default_rng(i)
        done_steps, penetrations, least, moving, collided, start = 0, 0, math.inf, 0, 0, time.perf_counter()
        while done_steps < steps:
            a = act.choice([-1.0, 1.0], (num_agents, 2)) * act.uniform(0.5, 1.0, (num_agents, 2))
            a[:, 0] = np.abs(a[:, 0])  # forward at 50-100 % of full speed: into things, not away from them
            result = task.step(torch.tensor(a, dtype=torch.float32))
            xy, times = task.state.xy.numpy().astype(np.float64), task.state.time.numpy().astype(np.float64)
            for r in range(num_agents):
                d, inside = exact(xy[r], times[r])
                least = min(least, d - radius)
                penetrations += bool(inside or d < radius - 1e-6)
            moving += int(result.moving_collision.sum())
            collided += int(result.collided.sum())
            done_steps += num_agents
            ended = torch.nonzero(result.terminated | result.truncated).flatten().tolist()
            task.reset(ended, [rngs[r] for r in ended])
        rows.append(dict(prompt=prompt, seed=seed, parts=len(exact.tracks), steps=done_steps, penetrations=penetrations,
                         least_cm=100 * least, moving=moving, collided=collided, build_s=built,
                         run_s=time.perf_counter() - start))
        print(f"  {prompt!r}: {done_steps} steps, {penetrations} penetrations", flush=True)
    return rows


def read_step(scenes) -> float:
    """The agent's height band starts at the nav grid's step height above the floor (as the env's footprints)."""
    from lyra_sim.exporters.nav_grid import read_nav

    return float(read_nav(scenes.bundles[0] / "nav.npz").height_range[0])


def _nan(f, x: np.ndarray) -> float:
    return float(f(x)) if len(x) else math.nan


def _fmt(x: float, digits: int = 2) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{x:.{digits}f}"


def tables_md(pose_rows: list[dict], collider_rows: list[dict], pen_rows: list[dict]) -> str:
    out = []
    if pose_rows:
        out += ["### Part pose error against ground truth (worst time of each scene; mean / worst over scenes)", "",
                "| kind | setting | scenes | found | parts / movers | position cm (mean / worst) | rotation deg (mean / worst) "
                "| method | estimate s |",
                "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for kind in HELD_OUT:
            for setting in ("labels", "unlabelled", "redrawn"):
                rs = [r for r in pose_rows if r["kind"] == kind and r["setting"] == setting]
                if not rs:
                    continue
                t = np.array([r["t"] for r in rs]) * 100
                a = np.array([r["r"] for r in rs])
                if np.isnan(t).all():  # no part matched in any scene of the kind
                    t = a = np.zeros(0)
                methods = ", ".join(sorted({r.get("method", "-") for r in rs}))
                out.append(f"| {kind} | {setting} | {len(rs)} | {sum(r['found'] for r in rs)}/{len(rs)} | "
                           f"{sum(r['parts'] for r in rs)}/{sum(r['movers'] for r in rs)} | "
                           f"{_fmt(_nan(np.nanmean, t))} / {_fmt(_nan(np.nanmax, t))} | {_fmt(_nan(np.nanmean, a))} / {_fmt(_nan(np.nanmax, a))} | "
                           f"{methods} | {_fmt(np.mean([r['s'] for r in rs]), 1)} |")
        out.append("")
    if collider_rows:
        out += ["### Per-part collision meshes against the true part meshes (part frame, whole surface)", "",
                "| kind | part | seed | F@5cm | F@2cm | Chamfer cm | faces | method | s |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for r in collider_rows:
            out.append(f"| {r['kind']} | {r['label']} | {r['seed']} | {r['f5']:.3f} | {r['f2']:.3f} | {100 * r['chamfer']:.2f} | "
                       f"{r['faces']} | {r['method']} | {r['s']:.1f} |")
        f5 = [r["f5"] for r in collider_rows]
        out += [f"| all | {len(f5)} parts | | mean {np.mean(f5):.3f}, min {np.min(f5):.3f} | | | | | |", ""]
    if pen_rows:
        out += ["### Penetrations over full-speed random steps (exact distance to every part, posed at each step's time)", "",
                "| scene | seed | parts | steps | penetrations | least clearance cm | moving-part collisions | collisions | bundle s | run s |",
                "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for r in pen_rows:
            out.append(f"| {r['prompt']} | {r['seed']} | {r['parts']} | {r['steps']} | {r['penetrations']} | {r['least_cm']:.2f} | "
                       f"{r['moving']} | {r['collided']} | {r['build_s']:.0f} | {r['run_s']:.0f} |")
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tables", nargs="+", default=["poses", "colliders", "penetration"],
                   choices=["poses", "colliders", "penetration"])
    p.add_argument("--steps", type=int, default=10_000, help="agent steps per dynamic scene (penetration)")
    p.add_argument("--agents", type=int, default=50, help="agents stepped together (penetration)")
    p.add_argument("--cache", type=Path, default=None, help="bundle cache (default: a temporary directory)")
    p.add_argument("--out", type=Path, default=None, help="also write the tables (markdown) here")
    args = p.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    tables = set(args.tables)
    start = time.perf_counter()
    pose_rows, collider_rows = poses_and_colliders(tables) if tables & {"poses", "colliders"} else ([], [])
    if "poses" not in tables:
        pose_rows = []
    pen_rows = []
    if "penetration" in tables:
        with tempfile.TemporaryDirectory() as tmp:
            pen_rows = penetration(args.steps, args.agents, args.cache or Path(tmp))
    text = tables_md(pose_rows, collider_rows, pen_rows)
    text += f"\n{time.perf_counter() - start:.0f} s in all, torch threads {torch.get_num_threads()}.\n"
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("# Dynamic assets (CPU)\n\n`python benchmarks/dynamic_assets.py`\n\n" + text)


if __name__ == "__main__":
    main()
