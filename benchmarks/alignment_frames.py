"""How well ``up auto`` / ``scale auto`` recover the frame of procedural rooms that are turned and rescaled.

Usage: ``python benchmarks/alignment_frames.py [--rooms "a bedroom" "a kitchen"] [--seeds 8] [--spacing 0.04]``

Each room (procedural world model, seed) is turned by a random rotation (seed 0: -Y up, as COLMAP
frames often are), scaled by a random factor in [0.2, 5] and shifted; `estimate_alignment` then has
to undo it. Prints one row per room: the angle between the recovered and the true up (degrees),
the wall yaw left (degrees off the x / y axes), the scale error, both confidences, what set the
scale (door / ceiling / none) and the seconds taken.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import replace

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from lyra_sim.exporters.alignment import estimate_alignment, transform_scene
from lyra_sim.worlds.procedural import ProceduralConfig, generate


def trial(prompt: str, seed: int, spacing: float) -> dict:
    room = generate(prompt, seed=seed, config=ProceduralConfig(spacing=spacing)).gaussians
    rng = np.random.default_rng(1000 + seed)
    rotation = Rotation.from_euler("x", 90, degrees=True).as_matrix() if seed == 0 else Rotation.random(random_state=seed).as_matrix()
    scale = float(np.exp(rng.uniform(math.log(0.2), math.log(5))))
    capture = room.transform(torch.tensor(rotation, dtype=torch.float32), torch.tensor(rng.uniform(-3, 3, 3), dtype=torch.float32))
    capture = replace(capture, means=capture.means * scale, scales=capture.scales * scale)
    start = time.perf_counter()
    alignment = estimate_alignment(capture, "auto", "auto")
    seconds = time.perf_counter() - start
    true_up = rotation @ np.array([0.0, 0.0, 1.0])
    angle = math.degrees(math.acos(np.clip(np.dot(alignment.up_source, true_up), -1, 1)))
    walls = transform_scene(capture, alignment).means[room.labels == room.label_names.index("wall")].double().numpy()
    direction = np.linalg.svd(walls[:, :2] - walls[:, :2].mean(0), full_matrices=False)[2][0]
    yaw = math.degrees(math.atan2(direction[1], direction[0])) % 90
    source = alignment.scale_reason.split()[0]
    return {"room": f"{prompt} #{seed}", "angle": angle, "yaw": min(yaw, 90 - yaw), "scale_error": alignment.scale * scale - 1,
            "up_conf": alignment.up_confidence, "scale_conf": alignment.scale_confidence,
            "scale_from": {"door": "door", "floor-to-ceiling": "ceiling"}.get(source, "none"), "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", nargs="+", default=["a bedroom", "a kitchen", "an office", "a living room"])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--spacing", type=float, default=0.04, help="procedural surface sample spacing (m)")
    args = parser.parse_args()
    print("| room | up error (°) | yaw left (°) | scale error | up conf. | scale conf. | scale from | time (s) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |")
    for prompt in args.rooms:
        for seed in range(args.seeds):
            r = trial(prompt, seed, args.spacing)
            print(f"| {r['room']} | {r['angle']:.3f} | {r['yaw']:.3f} | {r['scale_error'] * 100:+.1f} % | {r['up_conf']:.2f} "
                  f"| {r['scale_conf']:.2f} | {r['scale_from']} | {r['seconds']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
