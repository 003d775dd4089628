"""Carry a bundle to a machine that cannot build one (no open3d) under a size limit, for the env benchmarks.

    python benchmarks/carry_bundle.py pack out/flat .carry/flat     # here: ~4 MB of SPZ instead of a 93 MB PLY
    python benchmarks/carry_bundle.py unpack .carry/flat            # there: a bundle LyraScene-v0 takes

``pack`` keeps what the env reads (``collision.obj``, ``nav.npz``, the manifest's fields, and
``floorplan.png`` / ``preview.png`` when present) and stores the Gaussians as SPZ
(`lyra_sim.exchange`: positions to about 0.1 mm, 8-bit colours and opacities, no labels).
``unpack`` decodes ``scene.ply`` from it and writes a fresh manifest over the files there (its
``carried`` entry names the original ``scene.ply`` digest), so the directory verifies. The
Gaussians are the SPZ-quantized ones: right for throughput (same count, same places), not a
byte-identical copy.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from lyra_sim.exchange import read_splats, write_splats
from lyra_sim.manifest import read_manifest, write_manifest
from lyra_sim.ply import write_ply

KEEP = ("collision.obj", "nav.npz", "floorplan.png", "preview.png")


def pack(bundle: Path, out: Path) -> Path:
    manifest = read_manifest(bundle)
    if manifest.get("kind") != "bundle":
        raise SystemExit(f"{bundle}: not a bundle")
    out.mkdir(parents=True, exist_ok=False)
    write_splats(out / "scene.spz", read_splats(bundle / "scene.ply"))
    for name in KEEP:
        if (bundle / name).is_file():
            shutil.copyfile(bundle / name, out / name)
    data = {k: v for k, v in manifest.items() if k not in ("format", "format_version", "files")}
    data["carried"] = {"scene_ply_sha256": manifest["files"]["scene.ply"], "note": "scene.ply decoded from SPZ by benchmarks/carry_bundle.py"}
    write_manifest(out, data)
    return out


def unpack(packed: Path) -> Path:
    data = {k: v for k, v in read_manifest(packed).items() if k not in ("format", "format_version", "files")}
    write_ply(packed / "scene.ply", read_splats(packed / "scene.spz"))
    (packed / "scene.spz").unlink()
    write_manifest(packed, data)
    return packed


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="verb", required=True)
    a = sub.add_parser("pack")
    a.add_argument("bundle", type=Path)
    a.add_argument("out", type=Path)
    b = sub.add_parser("unpack")
    b.add_argument("packed", type=Path)
    args = p.parse_args(argv)
    print(pack(args.bundle, args.out) if args.verb == "pack" else unpack(args.packed))


if __name__ == "__main__":
    main()
