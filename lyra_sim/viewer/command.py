"""The ``lyra-sim view`` command: serve a scene in the browser until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time

DESCRIPTION = (
    "Serve a bundle, scene directory or splat file (.ply) as a web page (viser): the splats, the "
    "collision mesh, convex pieces, nav grid and spawn region, colouring by semantic label, the "
    "object list, camera presets and Lyra's trajectories, and with --episodes a recorded rollout. "
    "A dynamic scene (a directory with scene4d/, or a scene4d/ directory) gets a time slider and Play/Pause. "
    "It listens on localhost by default; from another machine forward the port over SSH "
    "(ssh -L 8080:localhost:8080 HOST) and open http://localhost:8080."
)


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number in 0..65535 (0: any free port), got {value}")
    return port


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="a bundle or scene directory (verified against its manifest), a .ply splat file, "
                                         "or a scene4d/ directory (a dynamic scene over time)")
    parser.add_argument("--port", type=_port, default=8080, help="port to serve on (default 8080; 0 picks a free one)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only, reach it over SSH "
                             "port forwarding; 0.0.0.0 for every interface)")
    parser.add_argument("--episodes", metavar="ROLLOUT", help="a rollout .npz (lyra_sim.envs.rollout) to play back over a bundle")


def run(args: argparse.Namespace) -> int:
    """Load, serve, print the URL, wait for Ctrl-C (or SIGTERM), shut the server down."""
    start = time.perf_counter()
    from lyra_sim.envs.rollout import read_rollout

    from .app import SceneViewer, check_port
    from .source import load_source

    check_port(args.host, args.port)  # before the slow part: fail fast on a taken port
    source = load_source(args.path)
    rollout = read_rollout(args.episodes) if args.episodes else None
    viewer = SceneViewer(source, host=args.host, port=args.port, rollout=rollout)
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        times = f", {len(source.dynamic)} times" if source.dynamic is not None else ""
        print(f"lyra-sim view: {source.path} ({source.kind}, {len(source.scene):,} Gaussians{times}) at {viewer.url} "
              f"(ready in {time.perf_counter() - start:.1f}s; Ctrl-C stops)", flush=True)
        if args.host in ("127.0.0.1", "localhost", "::1"):
            print(f"  from another machine: ssh -L {viewer.port}:localhost:{viewer.port} THIS_HOST, then open "
                  f"http://localhost:{viewer.port}", file=sys.stderr, flush=True)
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        viewer.stop()
    print("lyra-sim view: stopped", file=sys.stderr, flush=True)
    return 0
