"""The trainer's command line: ``lyra-sim distill`` and ``python -m lyra_sim.training`` (torchrun for DDP)::

    lyra-sim distill --config configs/distill_small.json                          # train
    lyra-sim distill --config configs/distill_small.json --build-cache train      # teacher videos
    torchrun --nproc_per_node=N -m lyra_sim.training --config ...                # DDP
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import Sequence

# The trainer's modules load in `run`: `lyra-sim` builds every subcommand's parser at start-up,
# and importing the training loop there would cost every command about 0.4 s.

DESCRIPTION = "Self-distill the Lyra 3DGS decoder from a world model (runs under torchrun for DDP)."


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The trainer's options; shared by ``python -m lyra_sim.training`` and ``lyra-sim distill``."""
    p.add_argument("--config", required=True, help="JSON run config (see configs/distill_small.json)")
    p.add_argument("--build-cache", choices=("train", "eval"), help="render the split's teacher videos to data.cache_dir and exit")
    p.add_argument("--out-dir", help="override run.out_dir")
    p.add_argument("--steps", type=int, help="override train.steps")
    p.add_argument("--cache-dir", help="override data.cache_dir")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), help="override train.device")
    p.add_argument("--num-workers", type=int, help="override data.num_workers")
    p.add_argument("--init-from", help="override train.init_from ('default': the shipped static decoder, or a checkpoint)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lyra_sim.training", description=DESCRIPTION)
    return run(add_arguments(parser).parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Train (or ``--build-cache``) as the parsed options say."""
    import torch.distributed as dist

    from .config import DistillConfig
    from .distributed import init_distributed
    from .loop import train
    from .teacher_cache import build_cache

    config = DistillConfig.load(args.config)
    if args.out_dir:
        config = replace(config, run=replace(config.run, out_dir=args.out_dir))
    if args.steps is not None:
        config = replace(config, train=replace(config.train, steps=args.steps))
    if args.cache_dir:
        config = replace(config, data=replace(config.data, cache_dir=args.cache_dir))
    if args.device:
        config = replace(config, train=replace(config.train, device=args.device))
    if args.num_workers is not None:
        config = replace(config, data=replace(config.data, num_workers=args.num_workers))
    if args.init_from:
        config = replace(config, train=replace(config.train, init_from=args.init_from))
    env = init_distributed(config.train.device)
    try:
        if args.build_cache:
            path = build_cache(config, args.build_cache, env, log=lambda s: print(s, flush=True))
            if env.is_main:
                print(f"teacher cache ({args.build_cache}) ready in {path}")
        else:
            result = train(config, env=env, log=lambda s: print(s, flush=True))
            if env.is_main:
                print(f"done: {result.out_dir / 'decoder.safetensors'}")
    finally:
        if env.distributed and dist.is_initialized():
            dist.destroy_process_group()
    return 0
