"""``lyra-sim episodes``: a PointNav episode dataset for a bundle (Habitat's layout; `lyra_sim.envs.episodes`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import positive

DESCRIPTION = (
    "Draw point-goal navigation episodes in a bundle as LyraScene-v0 draws them (in a building, each "
    "geodesic path crosses at least --min-rooms-crossed rooms) and write them in habitat-lab's PointNav "
    "dataset layout (.json.gz; positions in Habitat's Y-up frame, lyra-sim's Z-up values beside them). "
    "Replay them with gym.make('LyraScene-v0', scene=BUNDLE, episodes=OUT)."
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("episodes", help="write a PointNav episode dataset (Habitat layout) for a bundle",
                       description=DESCRIPTION)
    p.add_argument("bundle", help="a bundle directory (or a scene directory / splat file, exported into the env cache)")
    p.add_argument("--num", type=positive, default=1000, help="episodes (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="episode seed: the same seed gives the same file")
    p.add_argument("--out", required=True, help="the dataset to write (.json.gz)")
    p.add_argument("--min-geodesic", type=float, help="minimum start-to-goal geodesic distance, m (default 1.0)")
    p.add_argument("--min-rooms-crossed", type=int,
                   help="rooms the geodesic path crosses at least (default 1 in a building, 0 in a single room)")
    p.add_argument("--success-distance", type=float, help="goal radius, m (default 0.3)")
    p.add_argument("--agent-radius", type=float, help="the agent's radius, m (default 0.18)")
    p.add_argument("--agent-height", type=float, help="the agent's height, m (default 1.2)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lyra_sim.envs.episode_sampling import sample_episodes, summarize_episodes
    from lyra_sim.envs.episodes import write_episodes

    out = Path(args.out)
    if not out.name.endswith(".json.gz"):
        raise ValueError(f"--out: expected a .json.gz path (Habitat's dataset files), got {out}")
    if out.exists() and not args.overwrite:
        raise FileExistsError(f"{out}: exists (pass --overwrite to replace it)")
    if args.seed < 0:
        raise ValueError(f"--seed: expected a non-negative integer, got {args.seed}")
    task = {k: v for k, v in (("min_geodesic", args.min_geodesic), ("min_rooms_crossed", args.min_rooms_crossed),
                              ("success_distance", args.success_distance)) if v is not None}
    agent = {k: v for k, v in (("radius", args.agent_radius), ("height", args.agent_height)) if v is not None}
    data = sample_episodes(args.bundle, args.num, args.seed, agent=agent, task=task)
    write_episodes(out, data)
    s = summarize_episodes(data)
    where = f"a building of {s['rooms']} rooms" if s["rooms"] else "one room"
    crossed = ", ".join(f"{k}: {v}" for k, v in s["rooms_crossed"].items())
    print(f"{out}: {s['episodes']} episodes in {args.bundle} ({where}); geodesic distance mean {s['geodesic_mean']:.2f} m "
          f"(min {s['geodesic_min']:.2f}, max {s['geodesic_max']:.2f}); rooms crossed {crossed}")
    return 0
