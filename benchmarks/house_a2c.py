"""A2C (examples/train_torch.py) in a house against a single room, with one fixed budget: success rates.

    python benchmarks/house_a2c.py --house out/flat --room out/living --device cuda
    python benchmarks/house_a2c.py --house out/flat --only house --updates 300   # one scene per command

For each scene (a bundle directory, or a prompt generated into the env cache): an evaluation
dataset of ``--eval-num`` episodes is drawn (``lyra-sim episodes``'s `sample_episodes`, seed
``--eval-seed``, beside the training episodes' seeds), the untrained network is scored on it, A2C
trains for ``--updates`` x ``--rollout`` x ``--num-envs`` env steps, and the trained network is
scored on the same dataset (mean actions, every episode once; `train_torch.evaluate`). In the
house, training and evaluation episodes cross at least one doorway (``min_rooms_crossed`` 1).
Prints one table row per scene: rooms, env steps, wall time, success rate and SPL before and after.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import tempfile
import time
from pathlib import Path

import torch

from lyra_sim.envs.episode_sampling import sample_episodes, summarize_episodes
from lyra_sim.envs.episodes import write_episodes

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "train_torch.py"


def _train_torch():
    spec = importlib.util.spec_from_file_location("train_torch", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_scene(name: str, value: str, args: argparse.Namespace, out: Path) -> dict:
    tt = _train_torch()
    source = ["--scene", value] if os.path.exists(value) else ["--prompt", value]
    common = [*source, "--seed", str(args.seed), "--num-envs", str(args.num_envs), "--width", str(args.size),
              "--height", str(args.size), "--max-episode-steps", str(args.max_episode_steps), "--device", args.device]
    train_args = tt.parse_args([*common, "--updates", str(args.updates), "--rollout", str(args.rollout)])
    # The dataset is drawn in the bundle the env uses (for a prompt: the cached one).
    from lyra_sim.envs.settings import make_settings, resolve_bundle

    settings = make_settings(**({"scene": value} if os.path.exists(value) else {"prompt": value, "seed": args.seed}), device="cpu")
    bundle = resolve_bundle(*settings.sources[0], settings)
    data = sample_episodes(bundle, args.eval_num, args.eval_seed, task={"min_geodesic": train_args.min_geodesic})
    episodes = write_episodes(out / f"{name}_eval.json.gz", data)
    stats = summarize_episodes(data)
    torch.manual_seed(args.seed)
    before = tt.evaluate(tt.ActorCritic().to(args.device), train_args.scene, train_args.prompt, str(episodes), train_args)
    start = time.perf_counter()
    model, _ = tt.main([*common, "--updates", str(args.updates), "--rollout", str(args.rollout)])
    seconds = time.perf_counter() - start
    after = tt.evaluate(model, train_args.scene, train_args.prompt, str(episodes), train_args)
    return {"scene": name, "source": value, "rooms": max(stats["rooms"], 1), "steps": args.updates * args.rollout * args.num_envs,
            "seconds": seconds, "geodesic": stats["geodesic_mean"], "before": before, "after": after,
            "crossed": stats["rooms_crossed"]}


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--house", default="a two-bedroom apartment", help="bundle directory or prompt")
    p.add_argument("--room", default="a living room", help="bundle directory or prompt")
    p.add_argument("--only", choices=("room", "house"), help="run one scene (to stay within a time limit per command)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num-envs", type=int, default=512)
    p.add_argument("--rollout", type=int, default=32)
    p.add_argument("--updates", type=int, default=600, help="the budget: updates x rollout x num-envs env steps")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--max-episode-steps", type=int, default=200)
    p.add_argument("--eval-num", type=int, default=500)
    p.add_argument("--eval-seed", type=int, default=1_000_000)
    p.add_argument("--out", help="directory for the evaluation datasets (default: a temporary one)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = p.parse_args(argv)
    scenes = [(n, v) for n, v in (("room", args.room), ("house", args.house)) if args.only in (None, n)]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out) if args.out else Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        rows = [run_scene(n, v, args, out) for n, v in scenes]
    print(f"A2C (examples/train_torch.py), {args.num_envs} envs x {args.rollout} steps x {args.updates} updates, "
          f"{args.size}x{args.size}, episodes <= {args.max_episode_steps} steps, on {args.device}")
    print("| scene | rooms | env steps | train s | eval episodes: mean geodesic m, rooms crossed | success before | success after | SPL after |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        crossed = ", ".join(f"{k}: {v}" for k, v in r["crossed"].items())
        print(f"| {r['scene']} ({r['source']}) | {r['rooms']} | {r['steps']:,} | {r['seconds']:.0f} | {r['geodesic']:.2f}, {crossed} | "
              f"{r['before']['success_rate']:.3f} | {r['after']['success_rate']:.3f} | {r['after']['spl']:.3f} |")
    return rows


if __name__ == "__main__":
    main()
