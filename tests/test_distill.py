"""Self-distillation trainer: config, losses, loss falls, resume, and 2-process DDP on the CPU (gloo)."""

from __future__ import annotations

import json
import math
import os
import socket
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file

from lyra_sim.decoder import PRESETS, load_decoder
from lyra_sim.distill import (
    DataSettings,
    DistEnv,
    DistillConfig,
    RunSettings,
    TrainSettings,
    WorldSettings,
    _optimizer_state,
    _optimizer_tensors,
    build_cache,
    main,
    scale_invariant_depth_loss,
    train,
)
from lyra_sim.worlds.video import VideoSpec

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


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """Teacher videos of training scenes 0 and 1, rendered once for the module."""
    path = tmp_path_factory.mktemp("teacher")
    build_cache(tiny_config(path / "unused", path), "train", CPU, log=lambda s: None)
    return path


def _weights(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _assert_same_weights(a, b, atol=0.0):
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=atol, rtol=0, msg=lambda m: f"{k}: {m}")


def test_shipped_configs_parse_and_mismatches_are_named():
    small = DistillConfig.load(ROOT / "configs" / "distill_small.json")
    assert small.decoder == PRESETS["small"] and small.train.batch_size == 8
    DistillConfig.load(ROOT / "configs" / "distill_tiny_cpu.json")
    with pytest.raises(ValueError, match="decoder.latent_channels=192 but the codec gives 768"):
        DistillConfig.from_dict({"decoder": "tiny", "codec": {"name": "s2d", "temporal_compression": 4}})
    with pytest.raises(ValueError, match="unknown key"):
        DistillConfig.from_dict({"train": {"stepz": 3}})
    data = small.to_dict()
    assert DistillConfig.from_dict(json.loads(json.dumps(data))) == small


def test_scale_invariant_depth_loss():
    g = torch.Generator().manual_seed(0)
    target = 1 + 4 * torch.rand(3, 8, 8, 1, generator=g)
    assert float(scale_invariant_depth_loss(2.5 * target + 0.7, target)) < 1e-6  # scale and shift do not count
    other = 1 + 4 * torch.rand(3, 8, 8, 1, generator=g)
    assert float(scale_invariant_depth_loss(other, target)) > 0.1
    holes = target.clone()
    holes[:, :4] = 0  # pixels without depth are ignored
    pred = target.clone()
    pred[:, :4] = 100.0
    assert float(scale_invariant_depth_loss(pred, holes)) < 1e-6


def test_optimizer_state_round_trips_without_pickle():
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.ones(4, 3)).sum().backward()
    opt.step()
    tensors, meta = _optimizer_tensors(opt)
    meta = json.loads(json.dumps(meta))
    opt2 = torch.optim.AdamW(torch.nn.Linear(3, 2).parameters(), lr=1e-3)
    opt2.load_state_dict(_optimizer_state(tensors, meta))
    for s1, s2 in zip(opt.state.values(), opt2.state.values()):
        for key in s1:
            torch.testing.assert_close(s1[key], s2[key])


def test_loss_falls_on_cpu(cache, tmp_path):
    cfg = tiny_config(tmp_path, cache, steps=8)
    cfg = replace(cfg, data=replace(cfg.data, train_scenes=1), run=replace(cfg.run, ckpt_every=100))
    result = train(cfg, log=lambda s: None, env=CPU)
    losses = [r["loss"] for r in result.history]
    assert len(losses) == 8 and all(math.isfinite(x) for x in losses)
    assert sum(losses[-3:]) / 3 < 0.7 * sum(losses[:3]) / 3, losses
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines] == list(range(1, 9)) and "psnr_holdout" in lines[0]
    model, extra = load_decoder(tmp_path / "decoder.safetensors", expected=PRESETS["tiny"])
    assert extra["codec"]["name"] == "s2d" and extra["video"]["width"] == 32 and extra["step"] == 8


def test_resume_continues_exactly(cache, tmp_path):
    straight = train(tiny_config(tmp_path / "a", cache, steps=3), log=lambda s: None, env=CPU)
    # First leg through the command line (python -m lyra_sim.distill --config ...), then resume.
    path = tmp_path / "b.json"
    path.write_text(json.dumps(tiny_config(tmp_path / "b", cache, steps=2).to_dict()))
    assert main(["--config", str(path)]) == 0
    assert json.loads((tmp_path / "b" / "latest.json").read_text())["step"] == 2
    resumed = train(tiny_config(tmp_path / "b", cache, steps=3), log=lambda s: None, env=CPU)
    assert [r["step"] for r in resumed.history] == [3]  # picked up at step 2
    assert [r["seeds"] for r in resumed.history] == [r["seeds"] for r in straight.history[2:]]
    _assert_same_weights(_weights(straight.model), _weights(resumed.model), atol=1e-6)
    ckpts = sorted(p.name for p in (tmp_path / "b" / "checkpoints").iterdir())
    assert ckpts == ["step_0000001", "step_0000002", "step_0000003"]
    assert not list((tmp_path / "b").rglob("*.pt")) and not list((tmp_path / "b").rglob("*.pkl"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, config: dict, out: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    result = train(DistillConfig.from_dict(config), log=lambda s: None)
    save_file({k: v.contiguous() for k, v in _weights(result.model).items()}, f"{out}/rank{rank}.safetensors")
    Path(f"{out}/rank{rank}.json").write_text(json.dumps([r["seeds"] for r in result.history]))
    dist.destroy_process_group()


def test_ddp_two_processes_match_one(cache, tmp_path):
    ddp_cfg = tiny_config(tmp_path / "ddp", cache, steps=2, batch_size=2)
    mp.spawn(_ddp_worker, args=(2, _free_port(), ddp_cfg.to_dict(), str(tmp_path)), nprocs=2, join=True)
    seeds0 = json.loads((tmp_path / "rank0.json").read_text())
    seeds1 = json.loads((tmp_path / "rank1.json").read_text())
    assert all(a != b for a, b in zip(seeds0, seeds1))  # each rank draws its own scenes
    w0, w1 = load_file(str(tmp_path / "rank0.safetensors")), load_file(str(tmp_path / "rank1.safetensors"))
    _assert_same_weights(w0, w1)  # gradients averaged: identical replicas

    # One process with the same global batch sees the same scenes and ends with the same weights.
    single = train(tiny_config(tmp_path / "single", cache, steps=3, batch_size=2), log=lambda s: None, env=CPU)
    assert [sorted(s) for s in (r["seeds"] for r in single.history[:2])] == [sorted(a + b) for a, b in zip(seeds0, seeds1)]
    step2 = load_file(str(tmp_path / "single" / "checkpoints" / "step_0000002" / "decoder.safetensors"))
    _assert_same_weights(w0, step2, atol=1e-5)

    # Resume the 2-process run with 1 process: it continues like the single run.
    resumed = train(tiny_config(tmp_path / "ddp", cache, steps=3, batch_size=2), log=lambda s: None, env=CPU)
    assert [r["step"] for r in resumed.history] == [3]
    _assert_same_weights(_weights(resumed.model), _weights(single.model), atol=1e-5)
    lines = [json.loads(x) for x in (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()]
    assert lines[0]["world_size"] == 2 and len(lines[0]["rank_seeds"]) == 2 and lines[-1]["world_size"] == 1


def test_perceptual_term_says_what_it_needs():
    try:
        import lpips  # noqa: F401
    except ImportError:
        from lyra_sim.distill import PerceptualLoss

        with pytest.raises(ImportError, match="pip install lpips.*vgg16"):
            PerceptualLoss(torch.device("cpu"))
    else:
        pytest.skip("lpips is installed; its VGG weights may be missing offline")


@pytest.mark.gpu
def test_cuda_bf16_training_with_gsplat(cache, tmp_path):
    """On the H100: bf16 autocast, gsplat renders, fused AdamW; a few steps, finite and falling."""
    pytest.importorskip("gsplat")
    env = DistEnv(0, 1, 0, torch.device("cuda", 0))
    cfg = tiny_config(tmp_path, cache, steps=8, bf16=True, device="cuda")
    cfg = replace(cfg, data=replace(cfg.data, train_scenes=1))
    result = train(cfg, log=lambda s: None, env=env)
    losses = [r["loss"] for r in result.history]
    assert all(math.isfinite(x) for x in losses) and losses[-1] < losses[0]
    assert next(result.model.parameters()).device.type == "cuda"


def test_tf32_is_enabled_only_while_training():
    from lyra_sim.distill import _tf32

    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    with _tf32(True):
        assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
    assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == before
    with pytest.raises(RuntimeError), _tf32(True):
        raise RuntimeError("a failed step must not leave TF32 on")
    assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == before
