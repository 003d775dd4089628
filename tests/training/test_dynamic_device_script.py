"""scripts/distill_dynamic_device.sh end to end on the CPU at tiny size: cache, fine-tuning from a static
checkpoint, held-out evaluation with both baselines, the checkpoint handed back."""

import json
import os
import subprocess
import sys

from _training import ROOT, tiny_static_checkpoint

from lyra_sim.decoder import PRESETS, load_decoder


def test_the_device_script_runs_every_stage_on_the_cpu(tmp_path):
    config = json.loads((ROOT / "configs/distill_dynamic_tiny_cpu.json").read_text())
    config["data"]["cache_dir"] = str(tmp_path / "cache")
    config["run"]["out_dir"] = str(tmp_path / "run")
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    static = tiny_static_checkpoint(tmp_path / "static.safetensors")
    env = {**os.environ, "DEVICE": "cpu", "OUT": str(tmp_path / "out"), "INIT": str(static), "BASELINE": str(static),
           "CACHE_S": "120", "EVAL_S": "150", "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(["bash", str(ROOT / "scripts/distill_dynamic_device.sh"), str(path), "120"], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    out = tmp_path / "out"
    assert "training scenes cached: 2 of 2" in done.stdout
    assert "6 weights start at zero: offset_head, target_embed, time_embed" in done.stdout
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
    config = json.loads((ROOT / "configs/distill_dynamic_tiny_cpu.json").read_text())
    config["data"]["cache_dir"] = str(tmp_path / "cache")
    config["run"]["out_dir"] = str(tmp_path / "run")
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    missing = tmp_path / "no_such_checkpoint.safetensors"
    env = {**os.environ, "DEVICE": "cpu", "OUT": str(tmp_path / "out"), "INIT": str(missing), "CACHE_S": "1",
           "EVAL_S": "30", "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(["bash", str(ROOT / "scripts/distill_dynamic_device.sh"), str(path), "60"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    assert "no checkpoint could be written" in done.stdout
    assert "evaluating" not in done.stdout
    assert not list((tmp_path / "out").glob("decoder_dynamic*"))


def test_a_stage_budget_of_zero_skips_the_stage(tmp_path):
    """CACHE_S=0 trains on what is cached (nothing: it renders while training); EVAL_S=0 hands back the checkpoint
    without a table."""
    config = json.loads((ROOT / "configs/distill_dynamic_tiny_cpu.json").read_text())
    config["data"]["cache_dir"] = str(tmp_path / "cache")
    config["run"]["out_dir"] = str(tmp_path / "run")
    config["train"]["steps"] = 2
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    static = tiny_static_checkpoint(tmp_path / "static.safetensors")
    env = {**os.environ, "DEVICE": "cpu", "OUT": str(tmp_path / "out"), "INIT": str(static), "CACHE_S": "0",
           "EVAL_S": "0", "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(["bash", str(ROOT / "scripts/distill_dynamic_device.sh"), str(path), "120"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "teacher cache" not in done.stdout and "training scenes cached: 0 of 2" in done.stdout
    assert "evaluation skipped (EVAL_S=0)" in done.stdout
    out = tmp_path / "out"
    assert not (out / "eval_dynamic.md").exists()
    model, _ = load_decoder(out / "decoder_dynamic.safetensors")
    assert model.config == PRESETS["tiny_dynamic"]
