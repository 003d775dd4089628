"""``lyra-sim batch``: one bundle per prompt of a file, in parallel on Ray (resumable)."""

from __future__ import annotations

import argparse
import sys

from .common import add_export_options, export_config, positive


def add_parser(sub) -> None:
    bat = sub.add_parser("batch", help="one bundle per prompt of a file, in parallel on Ray (resumable)")
    bat.add_argument("prompts", help="text file: one prompt per line, optionally <TAB>seed; '#' comments")
    bat.add_argument("--out", required=True, help="directory that receives one bundle per prompt")
    bat.add_argument("--formats", default="all", help="as for `export`")
    bat.add_argument("--seed", type=int, default=0, help="base seed for lines without their own")
    bat.add_argument("--ray-address", help="join this Ray cluster instead of starting a local one")
    bat.add_argument("--workers", type=positive, help="CPUs of the local Ray instance (default: all)")
    bat.add_argument("-q", "--quiet", action="store_true")
    add_export_options(bat)
    bat.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from lyra_sim.exporters.bundle import parse_formats
    from lyra_sim.pipelines.batch import read_prompts, run_batch, summary_table

    items = read_prompts(args.prompts, args.seed)
    formats = parse_formats(args.formats)
    config = export_config(args)
    with tqdm(total=len(items), desc="bundles", unit="scene", disable=args.quiet, file=sys.stderr) as bar:
        def progress(result) -> None:
            bar.update(1)
            if result.status == "failed":
                bar.write(f"failed: {result.item.prompt}: {result.error}", file=sys.stderr)

        results = run_batch(
            items, args.out, formats, config, ray_address=args.ray_address, num_workers=args.workers, progress=progress
        )
    print(summary_table(results))
    return 1 if any(r.status == "failed" for r in results) else 0
