"""Time of ``lyra-sim generate --dynamic`` per step: the procedural path, and the learned path with a dynamic decoder.

Usage: ``python benchmarks/dynamic_generate.py [--prompt P] [--frames 9] [--decoder CKPT|init] [--device cpu]``

``--decoder init`` (default) writes a ``small_dynamic`` decoder initialized from the shipped static one
(time weights at zero) to a temporary file and times the learned path with it: the same architecture
and work as the shipped dynamic checkpoint will have (speed does not depend on the weights). Prints
one table row per path: seconds of every step the pipeline reports, and the total.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from lyra_sim.cameras import ViewConfig
from lyra_sim.decoder import DEFAULT_CHECKPOINT, PRESETS, LyraDecoder, load_initial_weights, read_decoder_metadata
from lyra_sim.decoder.checkpoint import save_decoder
from lyra_sim.pipelines import DecoderDynamicSource, ProceduralDynamicSource, generate_scene


def initialized_dynamic(path: Path) -> Path:
    """``small_dynamic`` started from the shipped static decoder, with the metadata of a dynamic run."""
    model = LyraDecoder(PRESETS["small_dynamic"], seed=0)
    load_initial_weights(DEFAULT_CHECKPOINT, model)
    _, extra = read_decoder_metadata(DEFAULT_CHECKPOINT)
    return save_decoder(path, model, {**extra, "world": {"name": "procedural_dynamic", "spacing": None, "fps": 8.0}})


def run(source, out: Path) -> tuple[dict[str, float], float]:
    steps: list[tuple[str, float]] = []
    start = time.perf_counter()
    generate_scene(out, source, view=ViewConfig(), stage=lambda name: steps.append((name, time.perf_counter())))
    end = time.perf_counter()
    marks = steps + [("end", end)]
    return {name.split(" (")[0]: marks[i + 1][1] - t for i, (name, t) in enumerate(steps)}, end - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--prompt", default="a kitchen with a person walking")
    p.add_argument("--frames", type=int, default=9)
    p.add_argument("--decoder", default="init", help="a dynamic checkpoint, 'init' (see above) or 'none'")
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rows = [("procedural", *run(ProceduralDynamicSource(args.prompt, 0, frames=args.frames), tmp / "proc"))]
        if args.decoder != "none":
            ckpt = initialized_dynamic(tmp / "dyn.safetensors") if args.decoder == "init" else Path(args.decoder)
            rows.append(("decoder", *run(DecoderDynamicSource(args.prompt, 0, frames=args.frames, checkpoint=ckpt,
                                                              device=args.device), tmp / "dec")))
    print(f"`generate --dynamic` for {args.frames} times of {args.prompt!r} on {args.device}\n")
    print("| path | total (s) | steps (s) |\n|---|---|---|")
    for name, steps, total in rows:
        print(f"| {name} | {total:.1f} | " + "; ".join(f"{k} {v:.1f}" for k, v in steps.items()) + " |")


if __name__ == "__main__":
    main()
