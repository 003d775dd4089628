"""The distillation loop (`lyra_sim.training.loop`): the loss falls, checkpoints load, TF32 stays scoped, CUDA bf16."""

import json
import math
from dataclasses import replace

import pytest
import torch

from _training import CPU, tiny_config
from lyra_sim.decoder import PRESETS, load_decoder
from lyra_sim.training import DistEnv, train


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

def test_tf32_is_enabled_only_while_training():
    from lyra_sim.training.loop import _tf32

    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    with _tf32(True):
        assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
    assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == before
    with pytest.raises(RuntimeError), _tf32(True):
        raise RuntimeError("a failed step must not leave TF32 on")
    assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == before

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
