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

    python benchmarks/viewer_startup.py --dynamic 9 30 --sizes 500000 --moving 0.05 1

adds dynamic scenes (``scene4d/`` of T times beside ``scene.ply``): a fraction ``--moving`` of the
Gaussians (a block of them, like a cart) slides along x from time to time, the rest stays put.
Per scene and splat strategy (`lyra_sim.viewer.nodes`: ``nodes`` preloads the moving part of
every time and toggles visibility, ``swap`` replaces one node's Gaussians) it prints the same
stages, the payload the browser downloads at startup, the server's time per time step and the
bytes a time step sends.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from lyra_sim.dynamic import DynamicScene, read_scene4d, rigid_transform, write_scene4d
from lyra_sim.manifest import verify, write_manifest
from lyra_sim.ply import read_ply, write_ply
from lyra_sim.scene import GaussianScene
from lyra_sim.viewer.app import SceneViewer
from lyra_sim.viewer.nodes import PRELOAD_GAUSSIANS, moving_total
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


def moving_scene(n: int, times: int, moving: float, sh_degree: int = 0) -> DynamicScene:
    """``n`` random Gaussians at ``times`` times 1/8 s apart; the first ``moving`` fraction slides 5 cm per step."""
    rest = random_scene(n, sh_degree)
    mask = torch.arange(n) < round(moving * n)
    scenes = tuple(rigid_transform(rest, torch.eye(3), torch.tensor([0.05 * k, 0.0, 0.0]), mask=mask) for k in range(times))
    return DynamicScene(tuple(k / 8 for k in range(times)), scenes, 8.0)


def dynamic_rows(tmp: Path, sizes: list[int], counts: list[int], fractions: list[float]) -> None:
    print("\n| Gaussians | times | moving | strategy | PLYs MB | verify s | read s | serve s | in-process s | command s "
          "| payload MB | step ms | step MB |")
    print("| ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n in sizes:
        for t in counts:
            for fraction in fractions:
                directory = tmp / f"dyn_{n}_{t}_{fraction}"
                directory.mkdir()
                dyn = moving_scene(n, t, fraction)
                write_ply(directory / "scene.ply", dyn.scenes[0])
                write_scene4d(directory / "scene4d", dyn)
                del dyn
                write_manifest(directory, {"kind": "scene directory"})
                mb = sum(p.stat().st_size for p in (directory / "scene4d").glob("*.ply")) / 1e6
                _, t_verify = timed(lambda: verify(directory))
                _, t_read = timed(lambda: read_scene4d(directory / "scene4d"))
                wall = command_wall(directory)
                for strategy in ("nodes", "swap"):
                    start = time.perf_counter()
                    source = load_source(directory)
                    viewer, t_serve = timed(lambda: SceneViewer(source, port=0, splat_strategy=strategy))
                    total = time.perf_counter() - start
                    splats = viewer.splats
                    static = splats.static.size if splats.static is not None else 0
                    moving = sum(p.size for p in splats.moving if p is not None)
                    step = max(1, t // 4)
                    _, t_step = timed(lambda: [viewer.show_time((k * step) % t) for k in range(1, 9)])
                    per_step = n - static if strategy == "swap" else 0
                    auto = "nodes" if moving_total(source.dynamic.scenes) <= PRELOAD_GAUSSIANS else "swap"
                    chosen = " (auto)" if strategy == auto else ""
                    viewer.stop()
                    print(f"| {n:,} | {t} | {fraction:.0%} | {strategy}{chosen} | {mb:.0f} | {t_verify:.2f} | {t_read:.2f} | "
                          f"{t_serve:.2f} | {total:.2f} | {wall:.2f} | {32 * (static + moving) / 1e6:.0f} | "
                          f"{1000 * t_step / 8:.1f} | {32 * per_step / 1e6:.2f} |", flush=True)
                shutil.rmtree(directory)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 500_000])
    parser.add_argument("--sh", type=int, nargs="+", default=[0, 3], help="SH degrees")
    parser.add_argument("--dynamic", type=int, nargs="*", default=[], metavar="T",
                        help="also dynamic scenes of these numbers of times (SH degree 0)")
    parser.add_argument("--moving", type=float, nargs="+", default=[0.05, 1.0], help="fractions of Gaussians that move")
    parser.add_argument("--static", action=argparse.BooleanOptionalAction, default=True, help="the static rows")
    args = parser.parse_args()
    print(f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        if args.static:
            print("| Gaussians | SH | PLY MB | verify s | read s | arrays s | serve s | in-process s | command s | payload MB |")
            print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for n in args.sizes if args.static else []:
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
        if args.dynamic:
            dynamic_rows(Path(tmp), args.sizes, args.dynamic, args.moving)


if __name__ == "__main__":
    main()
