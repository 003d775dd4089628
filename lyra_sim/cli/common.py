"""What several subcommands share: progress lines, option types, the export options and the bundle summary."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace


class Stages:
    """Prints each pipeline step as it starts, with the seconds since the command began."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.start = time.perf_counter()

    def __call__(self, name: str) -> None:
        if not self.quiet:
            print(f"[{self.elapsed():5.1f}s] {name}", file=sys.stderr, flush=True)

    def elapsed(self) -> float:
        return time.perf_counter() - self.start


def positive(value: str) -> int:
    """argparse type: a positive integer."""
    number = int(value)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return number


def add_export_options(parser: argparse.ArgumentParser) -> None:
    """The collision-mesh and convex-part options of ``generate --export``, ``export`` and ``batch``."""
    group = parser.add_argument_group("collision mesh and convex parts (defaults scale with the scene)")
    group.add_argument("--voxel-size", type=float, help="TSDF voxel edge in meters: 0.005..0.5, and at least the scene's diagonal / 2000")
    group.add_argument("--resolution", type=positive, help="depth view width and height in pixels: 16..2048")
    group.add_argument("--viewpoints", type=positive, help="depth views (1..256): rooms get 6 x this many cube faces (chosen by surface coverage), other scenes this many cube maps")
    group.add_argument("--face-budget", type=positive, help="faces of the collision mesh after decimation: at most 5,000,000")
    group.add_argument("--convex", action="store_true", help="also decompose objects into convex parts with CoACD (slow)")
    group.add_argument("--convex-seed", type=int, default=0, help="CoACD seed")


def export_config(args: argparse.Namespace):
    """The `ExportConfig` the export options ask for."""
    from lyra_sim.exporters.bundle import ExportConfig
    from lyra_sim.exporters.collision import CollisionConfig
    from lyra_sim.exporters.convex import ConvexConfig

    collision = replace(
        CollisionConfig(),
        **{k: v for k, v in (("voxel_size", args.voxel_size), ("resolution", args.resolution),
                              ("num_viewpoints", args.viewpoints), ("face_budget", args.face_budget)) if v is not None},
    )
    frame = {"up": args.up, "scale": args.scale} if hasattr(args, "up") else {}  # `export` only
    return ExportConfig(collision=collision, convex=ConvexConfig(seed=args.convex_seed) if args.convex else None, **frame)


def print_bundle(manifest: dict, timings: dict[str, float], quiet: bool) -> None:
    """One line about the bundle on stdout; the seconds per step on stderr unless ``quiet``."""
    col = manifest["collision"]
    print(
        f"bundle: {len(manifest['files'])} files ({', '.join(manifest['formats'])}); collision mesh "
        f"{col['faces']:,} faces from {col['views']} depth views, voxel {col['voxel_size'] * 100:.1f} cm"
    )
    if not quiet and timings:
        order = ["generation", "collision.plan", "collision.render", "collision.fusion", "collision.cleanup",
                 "pieces", "convex", "usd", "mjcf", "urdf", "meshes", "nav"]
        parts = [f"{k.removeprefix('collision.')} {timings[k]:.1f}s" for k in order if k in timings]
        print("timings: " + ", ".join(parts), file=sys.stderr)
