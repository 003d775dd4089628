"""scripts/distill_dynamic_device.sh end to end on the CPU at tiny size: cache, fine-tuning from a static
checkpoint, held-out evaluation with both baselines, the checkpoint handed back."""

import json
import os
import subprocess
import sys

from _training import ROOT, tiny_static_checkpoint
from lyra_sim.decoder import PRESETS, load_decoder


def run_script(tmp_path, train_seconds: int, timeout: int, steps: int | None = None, **stage_env: str):
    """The script on the tiny CPU config (cache and run in ``tmp_path``, results in ``tmp_path / "out"``), with
    ``stage_env`` (INIT, BASELINE, CACHE_S, EVAL_S) added to the environment; returns the finished process."""
    config = json.loads((ROOT / "configs/distill_dynamic_tiny_cpu.json").read_text())
    config["data"]["cache_dir"] = str(tmp_path / "cache")
    config["run"]["out_dir"] = str(tmp_path / "run")
    if steps is not None:
        config["train"]["steps"] = steps
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    env = {**os.environ, "DEVICE": "cpu", "OUT": str(tmp_path / "out"), "PYTHON": sys.executable,
           "OMP_NUM_THREADS": "1", **stage_env}
    return subprocess.run(["bash", str(ROOT / "scripts/distill_dynamic_device.sh"), str(path), str(train_seconds)],
                          env=env, capture_output=True, text=True, timeout=timeout)


def test_the_device_script_runs_every_stage_on_the_cpu(tmp_path):
    static = tiny_static_checkpoint(tmp_path / "static.safetensors")
    done = run_script(tmp_path, 120, 600, INIT=str(static), BASELINE=str(static), CACHE_S="120", EVAL_S="150")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    out = tmp_path / "out"
    assert "training scenes cached: 2 of 2" in done.stdout
    assert "6 weights of additions the checkpoint lacks, newly initialized: offset_head, target_embed, time_embed" in done.stdout
    table = (out / "eval_dynamic.md").read_text()
    for method in ("| dynamic |", "| static per time |", "| static all frames |"):
        assert method in table
    assert "moving PSNR (dB)" in table and "centre error (cm)" in table and "decode s / target (cpu)" in table
    assert "depth ratio, static" in table and "depth ratio, movers" in table
    rows = json.loads((out / "eval_dynamic.json").read_text())
    assert {r["method"] for r in rows} == {"dynamic", "static per time", "static all frames"}
    assert {r["seed"] for r in rows} == {1_000_000_000, 1_000_000_001}
    assert all(r["condition"] == "a rolling ball" for r in rows)  # the unseen prompt
    assert all(r["depth_ratio"] > 0 and r["depth_error"] >= 0 for r in rows)
    model, _ = load_decoder(out / "decoder_dynamic.safetensors")
    assert model.config == PRESETS["tiny_dynamic"]


def test_the_device_script_fails_when_no_checkpoint_can_be_written(tmp_path):
    missing = tmp_path / "no_such_checkpoint.safetensors"
    done = run_script(tmp_path, 60, 300, INIT=str(missing), CACHE_S="1", EVAL_S="30")
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    assert "no checkpoint could be written" in done.stdout
    assert "evaluating" not in done.stdout
    assert not list((tmp_path / "out").glob("decoder_dynamic*"))


def test_a_stage_budget_of_zero_skips_the_stage(tmp_path):
    """CACHE_S=0 trains on what is cached (nothing: it renders while training); EVAL_S=0 hands back the checkpoint
    without a table."""
    static = tiny_static_checkpoint(tmp_path / "static.safetensors")
    done = run_script(tmp_path, 120, 300, steps=2, INIT=str(static), CACHE_S="0", EVAL_S="0")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "teacher cache" not in done.stdout and "training scenes cached: 0 of 2" in done.stdout
    assert "evaluation skipped (EVAL_S=0)" in done.stdout
    out = tmp_path / "out"
    assert not (out / "eval_dynamic.md").exists()
    model, _ = load_decoder(out / "decoder_dynamic.safetensors")
    assert model.config == PRESETS["tiny_dynamic"]
