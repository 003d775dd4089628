"""How far each moving object travels between a held-out target time and the decoder's Gaussian frames (0, 4, 8).

Usage: ``python benchmarks/dynamic_mover_travel.py [--config configs/distill_dynamic_small.json]``

No rendering: the held-out scenes are only staged. A mover's Gaussians from a frame at another time must move
that far (or fade out) for its centre at the target time to be right; the decoder's position offsets reach
`lyra_sim.decoder.config.DYNAMIC_OFFSETS` (0.25 m) at most.
"""

import argparse
from dataclasses import replace

import numpy as np

from lyra_sim.training.config import DistillConfig
from lyra_sim.training.teacher_cache import TeacherSource
from lyra_sim.worlds.dynamic_video import mover_paths


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="configs/distill_dynamic_small.json")
    args = p.parse_args()
    config = DistillConfig.load(args.config)
    config = replace(config, data=replace(config.data, cache_dir=None, between=1.0, num_workers=0))
    source = TeacherSource(config)
    nearest, farthest = [], []
    for seed in config.data.eval_seeds():
        staged = source[seed][1]
        frames = [staged.times[i] for i in range(0, len(staged.times), 4)]
        for tau in sorted(set(staged.holdout_times)):
            path = mover_paths(staged, [tau, *frames])  # [M, 1 + F, 3]
            d = np.linalg.norm(path[:, 1:] - path[:, :1], axis=-1)  # [M, F]
            nearest += list(d.min(1))
            farthest += list(d.max(1))
            print(f"{seed} {config.data.condition(seed)} at {tau:.3f} s: travel to the Gaussian frames (cm) "
                  f"{np.round(100 * d, 1).tolist()}")
    nearest, farthest = np.array(nearest), np.array(farthest)
    print(f"\nnearest Gaussian frame: mean {100 * nearest.mean():.1f} cm, max {100 * nearest.max():.1f} cm; farthest: "
          f"mean {100 * farthest.mean():.1f} cm, beyond 25 cm for {100 * np.mean(farthest > 0.25):.0f} % of (target, mover)")


if __name__ == "__main__":
    main()
