"""DDP (`lyra_sim.training.distributed` under the loop): 2 gloo processes equal 1 with the same global batch, resume across sizes."""

import json
import socket

import torch.multiprocessing as mp
from safetensors.torch import load_file

from _training import CPU, assert_same_weights, ddp_worker, tiny_config, weights
from lyra_sim.training import train


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def test_ddp_two_processes_match_one(cache, tmp_path):
    ddp_cfg = tiny_config(tmp_path / "ddp", cache, steps=2, batch_size=2)
    mp.spawn(ddp_worker, args=(2, _free_port(), ddp_cfg.to_dict(), str(tmp_path)), nprocs=2, join=True)
    seeds0 = json.loads((tmp_path / "rank0.json").read_text())
    seeds1 = json.loads((tmp_path / "rank1.json").read_text())
    assert all(a != b for a, b in zip(seeds0, seeds1))  # each rank draws its own scenes
    w0, w1 = load_file(str(tmp_path / "rank0.safetensors")), load_file(str(tmp_path / "rank1.safetensors"))
    assert_same_weights(w0, w1)  # gradients averaged: identical replicas

    # One process with the same global batch sees the same scenes and ends with the same weights.
    single = train(tiny_config(tmp_path / "single", cache, steps=3, batch_size=2), log=lambda s: None, env=CPU)
    assert [sorted(s) for s in (r["seeds"] for r in single.history[:2])] == [sorted(a + b) for a, b in zip(seeds0, seeds1)]
    step2 = load_file(str(tmp_path / "single" / "checkpoints" / "step_0000002" / "decoder.safetensors"))
    assert_same_weights(w0, step2, atol=1e-5)

    # Resume the 2-process run with 1 process: it continues like the single run.
    resumed = train(tiny_config(tmp_path / "ddp", cache, steps=3, batch_size=2), log=lambda s: None, env=CPU)
    assert [r["step"] for r in resumed.history] == [3]
    assert_same_weights(weights(resumed.model), weights(single.model), atol=1e-5)
    lines = [json.loads(x) for x in (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()]
    assert lines[0]["world_size"] == 2 and len(lines[0]["rank_seeds"]) == 2 and lines[-1]["world_size"] == 1
