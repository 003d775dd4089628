"""``lyra-sim render``: a scene directory along a camera trajectory into a video; for a dynamic scene,
``--time A:B`` runs time from A to B seconds over the video (time-lapse), ``--time T`` freezes it (bullet time)."""

from __future__ import annotations

import argparse
import sys

from .common import positive


def add_parser(sub) -> None:
    ren = sub.add_parser("render", help="render a scene directory along a camera trajectory into a video")
    ren.add_argument("scene", help="a scene directory written by `lyra-sim generate`, or a bundle by `lyra-sim export`")
    ren.add_argument("--trajectory", default="orbit", help="orbit, still (the preview camera), left, right, up, zoom_out, "
                     "zoom_in or clockwise")
    ren.add_argument("--time", metavar="A:B|T", help="dynamic scenes: seconds A to B over the video (time-lapse), or one "
                     "time T (bullet time)")
    ren.add_argument("--out", required=True, help="video file (.mp4 or .gif)")
    ren.add_argument("--frames", type=positive, default=96, help="2..10000")
    ren.add_argument("--fps", type=positive, default=24, help="1..240")
    ren.add_argument("--width", type=positive, default=640, help="pixels (8..4096)")
    ren.add_argument("--height", type=positive, default=480, help="pixels (8..4096)")
    ren.add_argument("--device", default="cpu", help="torch device for rendering (cuda uses gsplat)")
    ren.add_argument("-q", "--quiet", action="store_true")
    ren.set_defaults(func=run)


def parse_time(text: str | None) -> float | tuple[float, float] | None:
    """``"A:B"`` → ``(A, B)``; ``"T"`` → ``T``; None → None (a ValueError names what is accepted)."""
    if text is None:
        return None
    try:
        parts = [float(p) for p in text.split(":")]
    except ValueError:
        parts = []
    if len(parts) not in (1, 2) or not all(p == p and abs(p) != float("inf") for p in parts):
        raise ValueError(f"--time {text!r}: expected seconds A:B (a time-lapse from A to B) or one time T (bullet time)")
    return parts[0] if len(parts) == 1 else (parts[0], parts[1])


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from lyra_sim.cameras import ViewConfig
    from lyra_sim.pipelines.videos import render_video

    with tqdm(total=args.frames, desc="rendering", unit="frame", disable=args.quiet, file=sys.stderr) as bar:
        out = render_video(
            args.scene,
            args.out,
            trajectory=args.trajectory,
            frames=args.frames,
            fps=args.fps,
            view=ViewConfig(args.width, args.height),
            device=args.device,
            times=parse_time(args.time),
            progress=lambda done, total: bar.update(done - bar.n),
        )
    print(f"wrote {out}")
    return 0
