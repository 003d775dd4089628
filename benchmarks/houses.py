"""Houses end to end on the CPU: prompt → scene → full bundle, collision accuracy, walkable floor.

Usage: ``python benchmarks/houses.py [--out runs/houses] [--seed 0] [--prompt "..." ...]``

For each prompt, as a user would run it: ``lyra-sim generate PROMPT --seed S --export all``
(`lyra_sim.exporters.bundle.generate_bundle`), then ``lyra-sim eval-mesh`` on the bundle, then
the walkable floor of its ``nav.npz``. Prints one markdown row per house:

- rooms and area (m², the plan's cells), Gaussians;
- generation seconds and prompt → full bundle seconds (wall clock; the machine may be
  shared, so the 1-minute load average is printed before and after each house);
- F@2cm / F@5cm of ``collision.obj`` against the world model's ground truth;
- reachable: the share of the nav grid's walkable cells (clearance >= the 0.25 m agent
  radius) in its largest connected region; GT floor reached: the share of the world model's
  own free floor (`lyra_sim.worlds.procedural.ProceduralScene.free_space`) that lies in that
  region of the nav grid.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

PROMPTS = (
    "a house with a kitchen and a living room",
    "an apartment with a living room, a kitchen and a bedroom",
    "a house with a kitchen, a living room, a bathroom and two bedrooms",
    "a two-bedroom apartment",
    "an office floor with four offices, a meeting room and a corridor",
    "a house with a hallway, a living room, a kitchen, a dining room, a bathroom and three bedrooms",
)
RADIUS = 0.25


def walkable_stats(bundle: Path, seed: int, prompt: str) -> tuple[float, float]:
    """``(reachable share of walkable nav cells, share of the ground-truth free floor reached)``."""
    from lyra_sim.exporters.nav_grid import read_nav
    from lyra_sim.worlds import procedural

    nav = read_nav(bundle / "nav.npz")
    walkable = nav.distance >= RADIUS
    labels, _ = ndimage.label(walkable)
    region = labels == np.argmax(np.bincount(labels[walkable]))
    world = procedural.generate(prompt, seed)
    gt = world.free_space.cell_centers()[world.free_space.free]
    idx = np.floor((gt - nav.origin) / nav.resolution).astype(int)
    ok = (idx >= 0).all(1) & (idx[:, 0] < region.shape[1]) & (idx[:, 1] < region.shape[0])
    reached = np.zeros(len(gt), dtype=bool)
    reached[ok] = region[idx[ok, 1], idx[ok, 0]]
    return float(region.sum() / walkable.sum()), float(reached.mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/houses")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--prompt", action="append", help="a house prompt (repeatable; default: six of 2-8 rooms)")
    args = parser.parse_args()

    from lyra_sim.cli import main as cli
    from lyra_sim.pipelines import ProceduralSource, generate_bundle
    from lyra_sim.manifest import read_manifest

    out = Path(args.out)
    print("| prompt | rooms | area m² | Gaussians | generation s | prompt → bundle s | F@2cm | F@5cm | reachable | "
          "GT floor reached | load before/after |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for k, prompt in enumerate(args.prompt or PROMPTS):
        bundle = out / f"house_{k}"
        load = os.getloadavg()[0]
        timings: dict[str, float] = {}
        start = time.perf_counter()
        manifest = generate_bundle(bundle, ProceduralSource(prompt, args.seed), "all", overwrite=True, timings=timings)
        total = time.perf_counter() - start
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            cli(["eval-mesh", str(bundle), "--json"])
        scores = json.loads(buffer.getvalue())["fscore"]
        reachable, gt_reached = walkable_stats(bundle, args.seed, prompt)
        plan = read_manifest(bundle)["floor_plan"]
        print(f"| {prompt} | {len(plan['rooms'])} | {plan['area_m2']:.1f} | {manifest['num_gaussians']:,} | "
              f"{timings['generation']:.1f} | {total:.0f} | {scores['0.02']:.3f} | {scores['0.05']:.3f} | "
              f"{reachable:.3f} | {gt_reached:.3f} | {load:.1f} / {os.getloadavg()[0]:.1f} |", flush=True)


if __name__ == "__main__":
    main()
