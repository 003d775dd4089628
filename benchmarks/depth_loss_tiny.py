"""Does the per-Gaussian depth loss fix the decoded depth scale? A short dynamic distillation on the CPU, twice.

Usage: ``python benchmarks/depth_loss_tiny.py [--config configs/distill_dynamic_tiny_cpu.json] [--steps 60]
[--scenes 4] [--weight 0.1] [--init CKPT] [--lr LR] [--size WxH] [--eval-scenes N]``

``--init`` starts both runs from a checkpoint (e.g. the shipped dynamic decoder with
``--config configs/distill_dynamic_small.json --size 128x96``: the real decoder at a size the CPU trains fast).

Trains the config's decoder from the same seed on the same teacher scenes for the same steps, once with the
config's losses (rendered-depth terms only: SI depth, relative depth error) and once with ``loss.gaussian_depth``
added, then measures on the training and the held-out scenes, at every held-out target time, the kept
Gaussians' camera depth over the world's depth at their pixel (`lyra_sim.training.dynamic_evaluation.
depth_ratios`): the median ratio and median relative error on static pixels, and the slope of ``log decoded``
on ``log true`` depth (1: metric; towards 0: every Gaussian at the head's initial depth). Prints one table.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from lyra_sim.decoder import LyraDecoder, load_initial_weights, resolve_checkpoint
from lyra_sim.decoder.codecs import make_codec
from lyra_sim.decoder.model import normalize_times
from lyra_sim.training import DistEnv, build_cache, train
from lyra_sim.training.config import DistillConfig
from lyra_sim.training.dynamic_evaluation import _pruned, depth_ratios, source_pixels
from lyra_sim.training.teacher_cache import TeacherSource, teacher_world

CPU = DistEnv(0, 1, 0, torch.device("cpu"))


def measure(model, config: DistillConfig, seeds: list[int], videos: dict) -> tuple[float, float, float]:
    """Mean over scenes and target times of (median ratio, median relative error, log-log slope), static pixels;
    ``videos``: teacher videos by seed, filled as scenes are first shot."""
    codec = make_codec(config.codec)
    world = teacher_world(config.world, "cpu", between=1.0)
    source = TeacherSource(replace(config, data=replace(config.data, cache_dir=None)))
    ratios, errors, slopes = [], [], []
    model.eval()
    for seed in seeds:
        if seed not in videos:
            videos[seed] = world.shoot(source[seed][1])
        video = videos[seed]
        v = video.frames.shape[0]
        latents = codec.encode(video.frames)
        sources = source_pixels(model, latents.shape[2], latents.shape[3], latents.shape[4], v)
        frame_t, _ = normalize_times(video.times[None].double(), video.times[:1][None].double())
        for tau in torch.unique(video.holdout.times).tolist():
            _, target_t = normalize_times(video.times[None].double(), torch.tensor([tau], dtype=torch.float64))
            with torch.no_grad():
                batch = model(latents[None], video.viewmats[None].float(), video.Ks[None].float(), frame_t.float(),
                              target_t.float())
            kept, idx = _pruned(batch, model.config.keep_ratio)
            ratio, error, _ = depth_ratios(kept, idx, sources, torch.arange(video.frames.shape[1]), video)
            ratios.append(ratio)
            errors.append(error)
            view, frame, px, py = (x[idx] for x in sources)
            true = video.depth[view, frame, py.long(), px.long(), 0].double()
            vm = video.viewmats[view, frame].double()
            z = (vm[:, 2, :3] * kept.means[0].double()).sum(-1) + vm[:, 2, 3]
            ok = (true > 0) & (z > 0) & (video.labels[view, frame, py.long(), px.long()] == 0)
            x, y = true[ok].log(), z[ok].log()
            x = x - x.mean()
            slopes.append(float((x * (y - y.mean())).sum() / (x * x).sum()))
    return float(np.mean(ratios)), float(np.mean(errors)), float(np.mean(slopes))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="configs/distill_dynamic_tiny_cpu.json")
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--scenes", type=int, default=4, help="training scenes")
    p.add_argument("--weight", type=float, default=0.1, help="loss.gaussian_depth of the second run")
    p.add_argument("--init", help="checkpoint both runs start from (default: the config's train.init_from)")
    p.add_argument("--lr", type=float, help="learning rate (default: the config's)")
    p.add_argument("--size", help="video WxH (default: the config's)")
    p.add_argument("--eval-scenes", type=int, help="held-out scenes measured (default: the config's eval_scenes)")
    p.add_argument("--batch", type=int, default=1)
    args = p.parse_args()
    base = DistillConfig.load(args.config)
    video = base.video
    if args.size:
        w, h = (int(x) for x in args.size.split("x"))
        video = replace(video, width=w, height=h)
    base = replace(base, video=video, train=replace(
        base.train, init_from=args.init or base.train.init_from, lr=args.lr or base.train.lr, batch_size=args.batch,
        warmup_steps=min(base.train.warmup_steps, max(1, args.steps // 10))),
        data=replace(base.data, num_workers=0, eval_scenes=args.eval_scenes or base.data.eval_scenes))
    rows, videos = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        base = replace(base, data=replace(base.data, train_scenes=args.scenes, cache_dir=str(tmp / "cache")),
                       train=replace(base.train, steps=args.steps, min_lr_ratio=1.0, device="cpu"),
                       run=replace(base.run, log_every=args.steps, ckpt_every=args.steps, resume=False))
        build_cache(base, "train", CPU, log=lambda s: None)
        train_seeds = [base.data.train_seed_start + i for i in range(args.scenes)]
        start = LyraDecoder(base.decoder, seed=base.train.seed)
        if base.train.init_from:
            load_initial_weights(resolve_checkpoint(base.train.init_from), start)
        rows.append(("start (step 0)", 0.0, float("nan"), measure(start, base, train_seeds, videos),
                     measure(start, base, base.data.eval_seeds(), videos)))
        for name, weight in (("rendered depth only", 0.0), (f"+ gaussian_depth {args.weight:g}", args.weight)):
            config = replace(base, loss=replace(base.loss, gaussian_depth=weight),
                             run=replace(base.run, out_dir=str(tmp / f"run{weight}")))
            start = time.perf_counter()
            result = train(config, env=CPU, log=lambda s: None)
            seconds = time.perf_counter() - start
            last = result.history[-5:]
            rows.append((name, seconds, float(np.mean([r["mse_holdout"] for r in last])),
                         measure(result.model, config, train_seeds, videos),
                         measure(result.model, config, config.data.eval_seeds(), videos)))
    print(f"{args.steps} steps of {args.config} ({video.width}x{video.height}, from {base.train.init_from}, lr "
          f"{base.train.lr:g}) on {args.scenes} scenes (CPU), kept Gaussians on static pixels\n")
    print("| losses | train s | held-out MSE (last 5 steps) | train: depth ratio | train: rel. error | train: log-log slope "
          "| held-out: depth ratio | held-out: rel. error | held-out: log-log slope |\n|" + "---|" * 9)
    for name, seconds, mse, tr, ev in rows:
        print(f"| {name} | {seconds:.0f} | {mse:.4f} | " + " | ".join(f"{x:.3f}" for x in (*tr, *ev)) + " |")


if __name__ == "__main__":
    main()
