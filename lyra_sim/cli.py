"""The ``lyra-sim`` command line.

Every failure a user can cause (bad prompt, bad file, existing output) exits non-zero with
one line on stderr and no traceback; nothing half-written is left behind.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

from . import __version__

# Errors that are the user's to fix: printed as one line. Anything else is a bug and keeps its traceback.
USER_ERRORS = (ValueError, FileNotFoundError, FileExistsError, NotADirectoryError, PermissionError, IsADirectoryError)


class _Stages:
    """Prints each pipeline step as it starts, with the seconds since the command began."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.start = time.perf_counter()

    def __call__(self, name: str) -> None:
        if not self.quiet:
            print(f"[{self.elapsed():5.1f}s] {name}", file=sys.stderr, flush=True)

    def elapsed(self) -> float:
        return time.perf_counter() - self.start


def _load_condition(args: argparse.Namespace) -> str | dict:
    if args.spec is not None and args.prompt is not None:
        raise ValueError("give either a PROMPT or --spec FILE, not both")
    if args.spec is not None:
        try:
            return json.loads(Path(args.spec).read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{args.spec}: not valid JSON ({exc})") from exc
    if args.prompt is None:
        raise ValueError("a PROMPT (or --spec FILE) is required")
    return args.prompt


def cmd_generate(args: argparse.Namespace) -> int:
    from .pipeline import ViewConfig, generate_scene

    stages = _Stages(args.quiet)
    manifest = generate_scene(
        _load_condition(args),
        args.seed,
        args.out,
        overwrite=args.overwrite,
        view=ViewConfig(args.width, args.height),
        stage=stages,
    )
    seconds = stages.elapsed()
    if manifest["unknown"]:
        print(f"note: words not understood (ignored): {', '.join(manifest['unknown'])}", file=sys.stderr)
    kinds = {}
    for obj in manifest["objects"]:
        kinds[obj["kind"]] = kinds.get(obj["kind"], 0) + 1
    room = manifest["scene_spec"]["room"]["type"]
    contents = ", ".join(f"{n} {k}" for k, n in kinds.items()) or "no objects"
    print(f"{args.out}: {room} with {contents}; {manifest['num_gaussians']:,} Gaussians ({seconds:.1f}s)")
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .pipeline import ViewConfig, render_video

    with tqdm(total=args.frames, desc="rendering", unit="frame", disable=args.quiet, file=sys.stderr) as bar:
        out = render_video(
            args.scene,
            args.out,
            trajectory=args.trajectory,
            frames=args.frames,
            fps=args.fps,
            view=ViewConfig(args.width, args.height),
            device=args.device,
            progress=lambda done, total: bar.update(done - bar.n),
        )
    print(f"wrote {out}")
    return 0


def _positive(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lyra-sim", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"lyra-sim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="generate a scene from a text prompt (or a JSON scene spec)")
    gen.add_argument("prompt", nargs="?", help='e.g. "a kitchen with a table and two chairs"')
    gen.add_argument("--spec", help="a JSON scene spec instead of a prompt")
    gen.add_argument("--seed", type=int, default=0, help="random seed (same prompt + seed → same bytes)")
    gen.add_argument("--out", required=True, help="output directory (must not exist or be empty)")
    gen.add_argument("--overwrite", action="store_true", help="replace an existing output directory")
    gen.add_argument("--width", type=_positive, default=640, help="preview width in pixels")
    gen.add_argument("--height", type=_positive, default=480, help="preview height in pixels")
    gen.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    gen.set_defaults(func=cmd_generate)

    ren = sub.add_parser("render", help="render a scene directory along a camera trajectory into a video")
    ren.add_argument("scene", help="a scene directory written by `lyra-sim generate`")
    ren.add_argument("--trajectory", default="orbit", help="orbit, left, right, up, zoom_out, zoom_in or clockwise")
    ren.add_argument("--out", required=True, help="video file (.mp4 or .gif)")
    ren.add_argument("--frames", type=_positive, default=96)
    ren.add_argument("--fps", type=_positive, default=24)
    ren.add_argument("--width", type=_positive, default=640)
    ren.add_argument("--height", type=_positive, default=480)
    ren.add_argument("--device", default="cpu", help="torch device for rendering (cuda uses gsplat)")
    ren.add_argument("-q", "--quiet", action="store_true")
    ren.set_defaults(func=cmd_render)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except USER_ERRORS as exc:
        print(f"lyra-sim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lyra-sim: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
