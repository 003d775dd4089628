"""``lyra-sim eval-mesh``: a bundle's collision mesh scored against the procedural ground truth."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .common import positive


def add_parser(sub) -> None:
    ev = sub.add_parser("eval-mesh", help="score a bundle's collision mesh against the procedural ground truth")
    ev.add_argument("bundle")
    ev.add_argument("--points", type=positive, default=200_000, help="points sampled on each surface")
    ev.add_argument("--eval-seed", type=int, default=0, help="sampling seed")
    ev.add_argument("--all-surfaces", action="store_true", help="compare with every ground-truth surface, also those no camera can see")
    ev.add_argument("--json", action="store_true", help="print the scores as JSON")
    ev.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import trimesh

    from lyra_sim.exporters.mesh_metrics import EvalConfig, evaluate_mesh
    from lyra_sim.manifest import read_manifest, verify
    from lyra_sim.worlds.ground_truth import regenerate, scoring_regions

    bundle = Path(args.bundle)
    problems = verify(bundle)
    if problems:
        raise ValueError(f"{bundle}: the bundle does not verify ({problems[0]}); run `lyra-sim verify` for details")
    manifest = read_manifest(bundle)
    if "collision.obj" not in manifest["files"]:
        raise ValueError(f"{bundle}: no collision.obj in the bundle")
    world = regenerate(manifest, str(bundle))
    mesh = trimesh.load(bundle / "collision.obj", process=False, force="mesh")
    config = EvalConfig(num_points=args.points, seed=args.eval_seed, visible_only=not args.all_surfaces)
    rooms, solids = scoring_regions(world)
    result = evaluate_mesh(
        np.asarray(mesh.vertices), np.asarray(mesh.faces), [(m.vertices, m.faces) for m in world.meshes],
        (world.room_bounds[0], world.room_bounds[1]), config, free_boxes=rooms, solid_meshes=solids,
    )
    if args.json:
        print(json.dumps(result.as_dict(), indent=2, sort_keys=True))
        return 0
    scope = "all ground-truth surfaces" if args.all_surfaces else (
        f"ground truth visible from the free space ({result.visible_fraction:.0%} of its area)")
    print(f"{bundle}: collision mesh vs {scope}")
    print(f"  chamfer   {result.chamfer * 100:6.2f} cm  (accuracy {result.accuracy * 100:.2f} cm, "
          f"completeness {result.completeness * 100:.2f} cm)")
    for t in config.thresholds:
        print(f"  F@{t * 100:.0f}cm    {result.fscore[t]:6.3f}     (precision {result.precision[t]:.3f}, recall {result.recall[t]:.3f})")
    return 0
