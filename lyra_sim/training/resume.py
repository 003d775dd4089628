"""Resumable training state: ``OUT/checkpoints/step_NNNNNNN/`` and ``OUT/latest.json``.

A checkpoint directory holds ``decoder.safetensors`` (weights + config, loadable by
`lyra_sim.decoder.load_decoder`), ``trainer.safetensors`` (optimizer tensors, RNG state) and
``trainer.json`` (step, optimizer settings, the run config). No pickle anywhere.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor

from ..atomic import atomic_directory, atomic_path
from ..decoder import LyraDecoder, read_decoder_metadata, save_decoder
from ..decoder.checkpoint import load_weights
from .config import DistillConfig
from .distributed import DistEnv


def optimizer_tensors(opt: torch.optim.Optimizer) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Split an optimizer's state into safetensors-ready tensors and JSON-ready settings."""
    sd = opt.state_dict()
    tensors: dict[str, Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, state in sd["state"].items():
        for key, value in state.items():
            if isinstance(value, Tensor):
                tensors[f"optim.{pid}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(pid), {})[key] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def optimizer_state(tensors: dict[str, Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, pid, key = name.split(".", 2)
            state.setdefault(int(pid), {})[key] = value
    for pid, values in meta.get("scalars", {}).items():
        state.setdefault(int(pid), {}).update(values)
    return {"state": state, "param_groups": meta["param_groups"]}


def checkpoint_extra(config: DistillConfig, step: int) -> dict[str, Any]:
    """What inference needs besides the weights: the codec and the video it was trained on."""
    video = asdict(replace(config.video, num_holdout=0, anchor="corner"))
    return {"codec": dict(config.codec), "video": video, "world": asdict(config.world), "step": step}


def save_training_checkpoint(
    out_dir: Path, step: int, samples: int, model: LyraDecoder, opt: torch.optim.Optimizer,
    config: DistillConfig, env: DistEnv,
) -> Path:
    """Write ``checkpoints/step_NNNNNNN/`` atomically and point ``latest.json`` at it (rank 0 only)."""
    ckpt_root = out_dir / "checkpoints"
    target = ckpt_root / f"step_{step:07d}"
    tensors, meta = optimizer_tensors(opt)
    tensors["rng.cpu"] = torch.get_rng_state()
    if env.device.type == "cuda":
        tensors["rng.cuda"] = torch.cuda.get_rng_state(env.device)
    with atomic_directory(target, overwrite=True) as tmp:
        save_decoder(tmp / "decoder.safetensors", model, checkpoint_extra(config, step))
        save_file(tensors, str(tmp / "trainer.safetensors"))
        (tmp / "trainer.json").write_text(json.dumps(
            {"step": step, "samples_seen": samples, "world_size": env.world_size, "optimizer": meta,
             "config": config.to_dict()}, indent=1, sort_keys=True))
    with atomic_path(out_dir / "latest.json") as tmp:
        tmp.write_text(json.dumps({"step": step, "checkpoint": str(target.relative_to(out_dir))}))
    olds = sorted(p for p in ckpt_root.glob("step_*") if p.is_dir() and p != target)
    for old in olds[: max(0, len(olds) - (config.run.keep_last - 1))]:
        shutil.rmtree(old, ignore_errors=True)
    return target


def resume(out_dir: Path, model: LyraDecoder, opt: torch.optim.Optimizer, env: DistEnv) -> tuple[int, int]:
    """Load ``latest.json``'s checkpoint into model and optimizer; ``(step, samples_seen)`` or ``(0, 0)``."""
    latest = out_dir / "latest.json"
    if not latest.is_file():
        return 0, 0
    ckpt = out_dir / json.loads(latest.read_text())["checkpoint"]
    saved, _ = read_decoder_metadata(ckpt / "decoder.safetensors")
    if saved != model.config:
        diffs = "; ".join(f"{k}: checkpoint {a!r} vs config {b!r}" for k, (a, b) in saved.diff(model.config).items())
        raise ValueError(f"{ckpt}: cannot resume, the decoder config changed — {diffs} (use a new run.out_dir)")
    load_weights(ckpt / "decoder.safetensors", model)
    meta = json.loads((ckpt / "trainer.json").read_text())
    with safe_open(str(ckpt / "trainer.safetensors"), framework="pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    opt.load_state_dict(optimizer_state(tensors, meta["optimizer"]))
    torch.set_rng_state(tensors["rng.cpu"])
    if "rng.cuda" in tensors and env.device.type == "cuda":
        torch.cuda.set_rng_state(tensors["rng.cuda"], env.device)
    return int(meta["step"]), int(meta["samples_seen"])
