"""``lyra-sim verify``: a scene directory or bundle against its manifest (the sha256 of every file); a dynamic
bundle also against its motion (`lyra_sim.exporters.dynamic_bundle.verify_dynamic`)."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    ver = sub.add_parser("verify", help="check a scene directory or bundle against its manifest (sha256 of every file)")
    ver.add_argument("bundle")
    ver.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lyra_sim.exporters.dynamic_bundle import verify_bundle
    from lyra_sim.manifest import read_manifest

    problems = verify_bundle(args.bundle)
    if problems:
        for problem in problems:
            print(f"{args.bundle}: {problem}")
        print(f"{args.bundle}: FAILED ({len(problems)} problem{'s' * (len(problems) != 1)})")
        return 1
    print(f"{args.bundle}: OK ({len(read_manifest(args.bundle)['files'])} files verified)")
    return 0
