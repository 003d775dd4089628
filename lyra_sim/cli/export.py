"""``lyra-sim export``: a scene directory or any 3DGS ``.ply`` → an asset bundle."""

from __future__ import annotations

import argparse

from .common import Stages, add_export_options, export_config, print_bundle


def add_parser(sub) -> None:
    exp = sub.add_parser("export", help="build an asset bundle (collision mesh, USD, MJCF, URDF, GLB) from a scene")
    exp.add_argument("src", help="a scene directory from `lyra-sim generate`, or any 3DGS .ply file")
    exp.add_argument("--formats", default="usd,usdz,mjcf,urdf,glb", help="all, or a comma-separated list of: usd, usdz, mjcf, urdf, glb, obj")
    exp.add_argument("--out", required=True, help="bundle directory (must not exist or be empty)")
    exp.add_argument("--overwrite", action="store_true", help="replace an existing bundle directory")
    exp.add_argument("-q", "--quiet", action="store_true")
    add_export_options(exp)
    exp.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lyra_sim.exporters.bundle import export_bundle, parse_formats

    stages = Stages(args.quiet)
    timings: dict[str, float] = {}
    manifest = export_bundle(
        args.src, args.out, parse_formats(args.formats), export_config(args),
        overwrite=args.overwrite, stage=stages, timings=timings,
    )
    print(f"{args.out}: {manifest['num_gaussians']:,} Gaussians ({stages.elapsed():.1f}s)")
    print_bundle(manifest, timings, args.quiet)
    return 0
