"""Batch export on Ray (`lyra_sim.pipelines.batch`): parsing, resume, and survival of SIGKILL."""

import os
import signal
import subprocess
import sys
import time

import pytest

from lyra_sim.manifest import read_manifest, verify
from lyra_sim.pipelines.batch import (
    BatchItem,
    BatchResult,
    bundle_name,
    derived_seed,
    read_prompts,
    summary_table,
)


def test_prompts_file_parsing(tmp_path):
    path = tmp_path / "prompts.txt"
    path.write_text("# my scenes\n\na kitchen with a table\na bedroom\t7\n  \n")
    items = read_prompts(path, base_seed=5)
    assert [i.prompt for i in items] == ["a kitchen with a table", "a bedroom"]
    assert items[1].seed == 7
    assert items[0].seed == derived_seed(5, "a kitchen with a table") != derived_seed(6, "a kitchen with a table")
    assert items[0].name == bundle_name("a kitchen with a table", items[0].seed)
    assert items[0].name.startswith("a-kitchen-with-a-table-")
    # reordering lines does not change seeds or names
    path.write_text("a bedroom\t7\na kitchen with a table\n")
    assert read_prompts(path, base_seed=5)[::-1] == items


@pytest.mark.parametrize(
    "text,message",
    [("# nothing\n", "no prompts"), ("a kitchen\tseven\n", "not an integer"), ("a room\t1\na room\t1\n", "same prompt")],
)
def test_bad_prompts_files(tmp_path, text, message):
    path = tmp_path / "p.txt"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        read_prompts(path)


def test_summary_table():
    ok = BatchResult(BatchItem("a kitchen", 1, "a-kitchen-1"), "built", 12.3)
    bad = BatchResult(BatchItem("zxqv", 2, "zxqv-2"), "failed", 0.1, "ValueError: prompt: nothing recognizable")
    table = summary_table([ok, bad])
    assert "built" in table and "a-kitchen-1" in table and "ValueError: prompt: nothing recognizable" in table
    assert table.splitlines()[-1] == "2 prompts: 1 built, 0 skipped (verified), 1 failed"


# ---------------------------------------------------------------- end to end on Ray
SPEC_ROOM = "a tiny kitchen with a chair"
COARSE = ["--formats", "mjcf", "--voxel-size", "0.06", "--resolution", "48", "--viewpoints", "4", "--workers", "2"]


def _batch(prompts, out, **popen):
    return subprocess.Popen(
        [sys.executable, "-m", "lyra_sim.cli", "batch", str(prompts), "--out", str(out), *COARSE],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen,
    )


def _kill_tree(proc):
    """SIGKILL the batch and every process it started (Ray's raylet, workers ...), by pid."""
    psutil = pytest.importorskip("psutil")
    try:
        family = [proc.pid] + [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        family = [proc.pid]
    for pid in family:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


def _bundles(out):
    return sorted(p for p in out.iterdir() if p.is_dir() and not p.name.startswith("."))


def test_batch_survives_sigkill_and_resumes(tmp_path):
    pytest.importorskip("ray")
    prompts = tmp_path / "prompts.txt"
    prompts.write_text(f"{SPEC_ROOM}\t1\n{SPEC_ROOM}\t2\nzxqv blorp\t3\n{SPEC_ROOM}\t4\n")
    out = tmp_path / "out"

    # 1. start, wait for the first finished bundle, then kill everything mid-batch
    proc = _batch(prompts, out, start_new_session=True)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and proc.poll() is None:
        if out.is_dir() and _bundles(out):
            break
        time.sleep(0.2)
    assert proc.poll() is None, f"the batch ended before it could be killed: {proc.communicate()}"
    _kill_tree(proc)
    # whatever is visible is complete: every bundle directory verifies
    for bundle in _bundles(out):
        assert verify(bundle) == [], bundle

    # 2. resume: the rest is built, the bad prompt is reported, nothing stops the batch
    done_before = {b.name for b in _bundles(out)}
    proc = _batch(prompts, out)
    stdout, stderr = proc.communicate(timeout=900)
    assert proc.returncode == 1, stderr  # one prompt failed
    assert "zxqv blorp -- ValueError: prompt: nothing recognizable" in stdout
    assert "4 prompts: " in stdout and "1 failed" in stdout
    for name in done_before:
        assert any(line.startswith("skipped") and name in line for line in stdout.splitlines())
    bundles = _bundles(out)
    assert len(bundles) == 3
    for bundle in bundles:
        assert verify(bundle) == []
        manifest = read_manifest(bundle)
        assert manifest["prompt"] == SPEC_ROOM and bundle.name == bundle_name(SPEC_ROOM, manifest["seed"])
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no leftovers

    # 3. a third run skips the verified bundles (not one of their files is rewritten) and only retries the failed prompt
    def files(bundle):
        return {p.relative_to(bundle): (p.stat().st_mtime_ns, p.stat().st_size) for p in bundle.rglob("*") if p.is_file()}

    before = {b.name: files(b) for b in bundles}
    proc = _batch(prompts, out)
    stdout, _ = proc.communicate(timeout=300)
    assert "3 skipped (verified)" in stdout and "1 failed" in stdout
    assert {b.name: files(b) for b in _bundles(out)} == before
