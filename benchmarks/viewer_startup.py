"""`lyra-sim view` startup time: from the command to the printed URL, for large scenes.

    python benchmarks/viewer_startup.py                   # 100k and 500k Gaussians, SH degree 0 and 3
    python benchmarks/viewer_startup.py --sizes 1000000 --sh 3

Each scene is a scene directory (``scene.ply`` + ``manifest.json``) of random Gaussians in a
10 x 10 x 3 m box. Per scene it prints the in-process stages of the command (checking the
manifest's sha256 digests, reading the PLY, building viser's splat arrays, starting the server
with every overlay and control) and the wall time of the real command, a fresh
``python -m lyra_sim.cli view DIR --port 0`` process, from its start until it prints the URL
(Python and torch imports included). ``payload`` is what a browser then downloads for the
splats (32 bytes per Gaussian), which bounds the first picture over a slow SSH tunnel.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from lyra_sim.manifest import verify, write_manifest
from lyra_sim.ply import read_ply, write_ply
from lyra_sim.scene import GaussianScene
from lyra_sim.viewer.app import SceneViewer
from lyra_sim.viewer.source import load_source
from lyra_sim.viewer.splats import splat_arrays


def random_scene(n: int, sh_degree: int, seed: int = 0) -> GaussianScene:
    g = torch.Generator().manual_seed(seed)
    means = torch.rand(n, 3, generator=g) * torch.tensor([10.0, 10.0, 3.0])
    quats = torch.randn(n, 4, generator=g)
    scales = torch.rand(n, 3, generator=g) * 0.03 + 0.005
    sh = torch.randn(n, (sh_degree + 1) ** 2, 3, generator=g) * 0.2
    return GaussianScene(means, quats, scales, torch.rand(n, generator=g), sh)


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def command_wall(directory: Path) -> float:
    """Seconds from spawning ``lyra-sim view`` until it prints the URL."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "lyra_sim.cli", "view", str(directory), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        seconds = time.perf_counter() - start
        if " at http://" not in line:
            raise RuntimeError(f"lyra-sim view did not start: {line!r}")
        return seconds
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 500_000])
    parser.add_argument("--sh", type=int, nargs="+", default=[0, 3], help="SH degrees")
    args = parser.parse_args()
    print(f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}")
    print("| Gaussians | SH | PLY MB | verify s | read s | arrays s | serve s | in-process s | command s | payload MB |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            for degree in args.sh:
                directory = Path(tmp) / f"scene_{n}_{degree}"
                directory.mkdir()
                write_ply(directory / "scene.ply", random_scene(n, degree))
                write_manifest(directory, {"kind": "scene directory"})
                mb = (directory / "scene.ply").stat().st_size / 1e6
                _, t_verify = timed(lambda: verify(directory))
                scene, t_read = timed(lambda: read_ply(directory / "scene.ply"))
                _, t_arrays = timed(lambda: splat_arrays(scene))
                start = time.perf_counter()
                source = load_source(directory)
                viewer, t_serve = timed(lambda: SceneViewer(source, port=0))
                total = time.perf_counter() - start
                viewer.stop()
                wall = command_wall(directory)
                print(f"| {n:,} | {degree} | {mb:.0f} | {t_verify:.2f} | {t_read:.2f} | {t_arrays:.2f} | {t_serve:.2f} | "
                      f"{total:.2f} | {wall:.2f} | {32 * n / 1e6:.0f} |", flush=True)


if __name__ == "__main__":
    main()
