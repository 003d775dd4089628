"""Helpers of the training tests: a tiny CPU distillation config and weight comparisons."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
import torch.distributed as dist
from safetensors.torch import save_file

from lyra_sim.decoder import PRESETS, WorldSettings
from lyra_sim.training import DataSettings, DistEnv, DistillConfig, RunSettings, TrainSettings, train
from lyra_sim.video import VideoSpec

CPU = DistEnv(0, 1, 0, torch.device("cpu"))
ROOT = Path(__file__).resolve().parents[1]


def tiny_config(tmp: Path, cache: Path, **train_kw) -> DistillConfig:
    train_defaults = dict(steps=4, batch_size=1, lr=3e-3, warmup_steps=1, min_lr_ratio=1.0, render_views=2,
                          bf16=False, device="cpu")
    return DistillConfig(
        decoder=PRESETS["tiny"],
        codec={"name": "s2d", "spatial_compression": 8, "temporal_compression": 1},
        video=VideoSpec(num_frames=2, width=32, height=32, num_holdout=1, anchor="corner"),
        world=WorldSettings(spacing=0.15),  # coarse rooms: fast CPU renders
        data=DataSettings(train_scenes=2, cache_dir=str(cache), num_workers=0),
        train=TrainSettings(**{**train_defaults, **train_kw}),
        run=RunSettings(out_dir=str(tmp), log_every=1, ckpt_every=1, keep_last=3),
    )


def weights(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same_weights(a, b, atol=0.0):
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=atol, rtol=0, msg=lambda m: f"{k}: {m}")


def ddp_worker(rank: int, world: int, port: int, config: dict, out: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    result = train(DistillConfig.from_dict(config), log=lambda s: None)
    save_file({k: v.contiguous() for k, v in weights(result.model).items()}, f"{out}/rank{rank}.safetensors")
    Path(f"{out}/rank{rank}.json").write_text(json.dumps([r["seeds"] for r in result.history]))
    dist.destroy_process_group()


def tiny_dynamic_config(tmp: Path, cache: Path | None, **train_kw) -> DistillConfig:
    """The tiny config over time: a time-conditioned tiny decoder, 3 frames, 2 held-out views at one target time."""
    base = tiny_config(tmp, cache if cache is not None else tmp / "cache", **train_kw)
    return DistillConfig(
        decoder=PRESETS["tiny_dynamic"], codec=base.codec,
        video=VideoSpec(num_frames=3, width=32, height=32, num_holdout=2, anchor="corner"),
        world=WorldSettings(name="procedural_dynamic", spacing=0.15, fps=8.0),
        data=DataSettings(conditions=("a bouncing ball", "a corridor with a rolling cart"), train_scenes=2,
                          cache_dir=None if cache is None else str(cache), num_workers=0, eval_scenes=1,
                          eval_conditions=("a rolling ball",)),
        train=base.train, run=base.run,
    )


def tiny_static_checkpoint(path: Path) -> Path:
    """A random tiny static decoder that reads the tiny configs' video (the start of dynamic fine-tuning)."""
    from lyra_sim.decoder import LyraDecoder, save_decoder

    extra = {"codec": {"name": "s2d", "spatial_compression": 8, "temporal_compression": 1},
             "video": {"num_frames": 3, "width": 32, "height": 32, "num_holdout": 0, "anchor": "corner"},
             "world": {"name": "procedural"}}
    return save_decoder(path, LyraDecoder(PRESETS["tiny"], seed=5), extra)
