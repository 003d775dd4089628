"""The distillation loop: (re)start a run, step the optimizer over teacher samples, log, checkpoint.

Each rank draws different scenes: sample ``g`` of the run (``g = step · batch + rank · batch / N + i``)
maps to a scene seed, so the scenes seen depend on the sample count only, and a run resumed on a
different number of GPUs continues the same sequence. Only rank 0 writes checkpoints and logs.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
import torch.distributed as dist

from ..decoder import LyraDecoder, load_initial_weights, resolve_checkpoint, save_decoder
from ..decoder.codecs import make_codec
from .config import DistillConfig
from .distributed import DistEnv, init_distributed
from .losses import PerceptualLoss, distill_step_loss, psnr_from_mse
from .resume import checkpoint_extra, resume, save_training_checkpoint
from .teacher_cache import TeacherSource, collate_list, materialize, teacher_world


@dataclass
class TrainResult:
    """What `train` returns: the trained (unwrapped) decoder and this rank's per-step records."""

    model: LyraDecoder
    history: list[dict[str, Any]]
    out_dir: Path


def _param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    decay = [p for _, p in sorted(model.named_parameters()) if p.ndim >= 2]
    no_decay = [p for _, p in sorted(model.named_parameters()) if p.ndim < 2]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _rank_samples(config: DistillConfig, step: int, env: DistEnv) -> list[int]:
    """Indices (in the run) of the samples this rank trains on at ``step``."""
    local = config.train.batch_size // env.world_size
    first = step * config.train.batch_size + env.rank * local
    return list(range(first, first + local))


def _rank_seeds(config: DistillConfig, step: int, env: DistEnv) -> list[int]:
    return [config.data.train_seed(g, config.train.seed) for g in _rank_samples(config, step, env)]


def _sample_generator(config: DistillConfig, sample: int) -> torch.Generator:
    state = np.random.SeedSequence(config.train.seed, spawn_key=(1, sample)).generate_state(1)[0]
    return torch.Generator().manual_seed(int(state))


class _SeedSampler(torch.utils.data.Sampler):
    """Scene seeds this rank trains on, step after step, from ``start`` to the last step."""

    def __init__(self, config: DistillConfig, env: DistEnv, start: int) -> None:
        self.config, self.env, self.start = config, env, start

    def __iter__(self) -> Iterator[int]:
        for step in range(self.start, self.config.train.steps):
            yield from _rank_seeds(self.config, step, self.env)

    def __len__(self) -> int:
        return (self.config.train.steps - self.start) * (self.config.train.batch_size // self.env.world_size)


@contextlib.contextmanager
def _tf32(enabled: bool) -> Iterator[None]:
    """TF32 matmuls for the duration of training only: the flags are process-wide, and the
    PyTorch rasterizer on CUDA (among others) must not silently lose float32 precision after."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    if enabled:
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def train(config: DistillConfig, *, log: Callable[[str], None] = print, env: DistEnv | None = None) -> TrainResult:
    """Run (or resume) the distillation described by ``config`` on this process's rank."""
    env = env or init_distributed(config.train.device)
    with _tf32(env.device.type == "cuda"):
        return _train(config, log, env)


def _train(config: DistillConfig, log: Callable[[str], None], env: DistEnv) -> TrainResult:
    tc = config.train
    if tc.batch_size % env.world_size:
        raise ValueError(f"train.batch_size: {tc.batch_size} scenes do not split evenly over {env.world_size} ranks")
    device = env.device
    out_dir = Path(config.run.out_dir)
    if env.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "config.json").write_text(json.dumps(config.to_dict(), indent=1, sort_keys=True))

    codec = make_codec(config.codec, device=device)
    model = LyraDecoder(config.decoder, seed=tc.seed)
    if tc.init_from is not None:  # before resume, which overrides it when the run has a checkpoint
        fresh = load_initial_weights(resolve_checkpoint(tc.init_from), model)
        if env.is_main:
            added = ", ".join(sorted({k.split(".")[0] for k in fresh}))
            log(f"initialized from {tc.init_from}"
                + (f" ({len(fresh)} weights of additions the checkpoint lacks, newly initialized: {added})" if fresh else ""))
    model = model.to(device)
    model.gradient_checkpointing = tc.grad_checkpoint
    opt = torch.optim.AdamW(_param_groups(model, tc.weight_decay), lr=tc.lr, betas=tuple(tc.betas),
                            fused=device.type == "cuda")
    step, samples_seen = (0, 0)
    if config.run.resume:
        step, samples_seen = resume(out_dir, model, opt, env)
        if step and env.is_main:
            log(f"resumed from step {step} ({samples_seen} samples seen)")
    ddp = model
    if env.distributed:
        ddp = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    model.train()
    perceptual = PerceptualLoss(device) if config.loss.lpips > 0 else None
    world = teacher_world(config.world, device, config.data.between)

    source = TeacherSource(config)
    local = tc.batch_size // env.world_size
    loader = torch.utils.data.DataLoader(
        source, batch_size=local, sampler=_SeedSampler(config, env, step), num_workers=config.data.num_workers,
        collate_fn=collate_list, prefetch_factor=4 if config.data.num_workers else None,
        persistent_workers=False, pin_memory=device.type == "cuda",
    )
    metrics_path = out_dir / "metrics.jsonl"
    history: list[dict[str, Any]] = []
    window: list[dict[str, float]] = []
    t_last = time.perf_counter()
    for items in loader:
        samples = [materialize(it, world, device) for it in items]
        gens = [_sample_generator(config, g) for g in _rank_samples(config, step, env)]
        for group in opt.param_groups:
            group["lr"] = tc.lr_at(step)
        loss, m = distill_step_loss(ddp, samples, codec, config, step, gens, perceptual, device)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
        opt.step()
        step += 1
        samples_seen += tc.batch_size
        record = {"step": step, "loss": float(loss.detach()), "grad_norm": float(grad_norm), "lr": tc.lr_at(step - 1),
                  "seeds": [s.seed for s in samples], **m}
        history.append(record)
        window.append(record)

        if step % config.run.log_every == 0 or step == tc.steps:
            keys = ("loss", "mse", "mse_holdout", "depth", "lpips", "opacity", "grad_norm", "gaussian_depth",
                    "mover_position", "mover_fade", "mover_depth", "motion_mask")
            avg = torch.tensor([[r[k] for k in keys] for r in window], dtype=torch.float64).mean(0).to(device)
            seeds: list[Any] = [[r["seeds"] for r in window]]
            if env.distributed:
                dist.all_reduce(avg)
                avg /= env.world_size
                seeds = [None] * env.world_size
                dist.all_gather_object(seeds, [r["seeds"] for r in window])
            if env.is_main:
                now = time.perf_counter()
                rate = len(window) * tc.batch_size / (now - t_last)
                entry = {"step": step, "samples_seen": samples_seen, "lr": record["lr"], **dict(zip(keys, avg.tolist())),
                         "psnr": psnr_from_mse(float(avg[1])), "psnr_holdout": psnr_from_mse(float(avg[2])),
                         "gaussians": m["gaussians"], "pruning": bool(m["pruning"]), "samples_per_s": rate,
                         "world_size": env.world_size, "time": time.time(), "rank_seeds": seeds}
                with metrics_path.open("a") as f:
                    f.write(json.dumps(entry) + "\n")
                eta = (tc.steps - step) * (now - t_last) / len(window)
                log(f"step {step}/{tc.steps}  loss {entry['loss']:.4f}  psnr {entry['psnr']:.2f} "
                    f"(held-out {entry['psnr_holdout']:.2f})  depth {entry['depth']:.3f}  "
                    f"gaussian depth {entry['gaussian_depth']:.3f}  "
                    + (f"movers {entry['mover_position']:.3f} / {entry['mover_fade']:.4f} / {entry['mover_depth']:.3f}  "
                       f"motion mask {entry['motion_mask']:.3f}  " if config.dynamic else "")
                    + f"lr {entry['lr']:.2e}  "
                    f"{rate:.1f} samples/s  eta {eta / 60:.1f} min")
            window, t_last = [], time.perf_counter()
        if step % config.run.ckpt_every == 0 or step == tc.steps:
            if env.is_main:
                save_training_checkpoint(out_dir, step, samples_seen, model, opt, config, env)
            if env.distributed:
                dist.barrier()
    if env.is_main:
        save_decoder(out_dir / "decoder.safetensors", model, checkpoint_extra(config, step))
    return TrainResult(model, history, out_dir)
