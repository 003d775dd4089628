"""``lyra-sim export``: a scene directory or any 3DGS ``.ply`` → an asset bundle; a dynamic scene directory
(``scene4d/``) → a dynamic bundle (its static part, and its moving parts with their motion)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import Stages, add_export_options, export_config, print_bundle

UP_CHOICES = ("auto", "+z", "-z", "+y", "-y", "+x", "-x")
"""``--up``: the source axis that points up, or auto."""


def add_parser(sub) -> None:
    exp = sub.add_parser("export", help="build an asset bundle (collision mesh, USD, MJCF, URDF, GLB) from a scene")
    exp.add_argument("src", help="a scene directory from `lyra-sim generate` (with scene4d/ from --dynamic: a dynamic "
                     "bundle), a scene4d directory, or a splat file: 3DGS .ply, SuperSplat compressed .ply, .spz, .splat")
    exp.add_argument("--formats", default="usd,usdz,mjcf,urdf,glb", help="all, or a comma-separated list of: usd, usdz, mjcf, urdf, glb, obj")
    exp.add_argument("--out", required=True, help="bundle directory (must not exist or be empty)")
    exp.add_argument("--overwrite", action="store_true", help="replace an existing bundle directory")
    exp.add_argument("-q", "--quiet", action="store_true")
    frame = exp.add_argument_group("frame of an imported capture (the bundle is Z-up meters, floor at z = 0)")
    frame.add_argument("--up", choices=UP_CHOICES, default="+z",
                       help="the source axis that points up, or auto (from the floor and walls); default +z")
    frame.add_argument("--scale", type=_scale, default=1.0, metavar="S|auto",
                       help="meters per source unit, or auto (from a door or the ceiling height); default 1")
    add_export_options(exp)
    exp.set_defaults(func=run)


def _scale(value: str) -> float | str:
    if value == "auto":
        return value
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not 0 < number < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of meters per unit or 'auto', got {value}")
    return number


def run(args: argparse.Namespace) -> int:
    from lyra_sim.exporters.bundle import export_bundle, parse_formats
    from lyra_sim.exporters.dynamic_bundle import export_dynamic_bundle, scene4d_of

    stages = Stages(args.quiet)
    timings: dict[str, float] = {}
    export = export_dynamic_bundle if Path(args.src).is_dir() and scene4d_of(args.src) is not None else export_bundle
    manifest = export(
        args.src, args.out, parse_formats(args.formats), export_config(args),
        overwrite=args.overwrite, stage=stages, timings=timings,
    )
    print(f"{args.out}: {manifest['num_gaussians']:,} Gaussians ({stages.elapsed():.1f}s)")
    if "dynamic" in manifest:
        d = manifest["dynamic"]
        print(f"moving parts ({d['segmentation']}, {len(d['times'])} times): {', '.join(d['parts'])}; static part in "
              "scene.ply and collision.obj, the parts under parts/, their motion in motion.json (URDF stays static)")
    if "alignment" in manifest:
        up, scale = manifest["alignment"]["up"], manifest["alignment"]["scale"]
        print(f"frame: up {up['requested']} -> source direction {up['source_direction']} ({up['reason']}; "
              f"confidence {up['confidence']:.2f}); {scale['meters_per_unit']:.4g} m per unit ({scale['reason']}; "
              f"confidence {scale['confidence']:.2f}); floor at z = 0")
    elif manifest.get("source_format") and Path(args.src).is_file():
        print(f"frame: {Path(args.src).name} taken as Z-up meters (pass --up auto --scale auto to detect them)")
    if manifest.get("floaters", {}).get("removed_from_collision"):
        floaters = manifest["floaters"]
        print(f"floaters: {floaters['removed_from_collision']:,} of {floaters['of']:,} splats left out of the collision mesh "
              "(kept in scene.ply)")
    print_bundle(manifest, timings, args.quiet)
    return 0
