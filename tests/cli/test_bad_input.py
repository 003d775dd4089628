"""The `lyra-sim` command under bad input (issue 17, section 3): one line on stderr, exit 2, nothing written,
nothing lost; SIGTERM unwinds like Ctrl-C."""

import os
import signal
import subprocess
import sys

import pytest

from lyra_sim.cli import main

SMALL = ["--width", "32", "--height", "24", "-q"]
ROOM = "a tiny kitchen with a chair"


def one_line_error(capsys, argv) -> str:
    """Run ``lyra-sim argv`` in-process; assert exit 2 with one stderr line; return that line."""
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("lyra-sim: error: "), (code, err)
    return err[0]


def _entries(directory):
    return sorted(p.name for p in directory.iterdir())


# ---------------------------------------------------------------- --out
@pytest.mark.parametrize("out", ["", "."])
def test_out_empty_or_the_current_directory_with_overwrite(tmp_path, monkeypatch, capsys, out):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keep.txt").write_text("keep")
    line = one_line_error(capsys, ["generate", ROOM, "--out", out, "--overwrite", *SMALL])
    assert "empty" in line or "current directory" in line
    assert _entries(tmp_path) == ["keep.txt"]


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")
def test_out_in_an_unwritable_place_names_out(capsys):
    line = one_line_error(capsys, ["generate", ROOM, "--out", "/proc/lyra-sim-x", *SMALL])
    assert line == "lyra-sim: error: /proc/lyra-sim-x: cannot write there (No such file or directory)"


def test_an_out_that_another_writer_fills_meanwhile_is_kept_and_this_run_fails(tmp_path, monkeypatch, capsys):
    from lyra_sim.pipelines import scene_dir

    out = tmp_path / "out"
    real = scene_dir.write_ply

    def write_while_another_writer_finishes(path, scene):  # after every check: only the rename can notice
        out.mkdir()
        (out / "theirs.txt").write_text("the other writer's")
        real(path, scene)

    monkeypatch.setattr(scene_dir, "write_ply", write_while_another_writer_finishes)
    line = one_line_error(capsys, ["generate", ROOM, "--out", str(out), *SMALL])
    assert "appeared while this was being written" in line
    assert _entries(out) == ["theirs.txt"] and _entries(tmp_path) == ["out"]


# ---------------------------------------------------------------- SIGTERM
BLOCKED = """
import sys
from lyra_sim import cli
from lyra_sim.pipelines import sources
real = sources.ProceduralSource.make
def make(self, view, stage):
    print("ready", flush=True)
    sys.stdin.readline()  # blocks until the test is done with it
    return real(self, view, stage)
sources.ProceduralSource.make = make
sys.exit(cli.main(sys.argv[1:]))
"""


def test_sigterm_removes_scratch_as_ctrl_c_does(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-c", BLOCKED, "generate", ROOM, "--export", "obj", "--out", str(out), *SMALL],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    try:
        assert proc.stdout.readline() == "ready\n"
        assert [n for n in _entries(tmp_path) if n.endswith(".gen")]  # mid-run: its scratch exists
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM and err.strip().splitlines()[-1] == "lyra-sim: terminated"
    assert _entries(tmp_path) == []


def test_main_restores_the_previous_sigterm_handler(tmp_path):
    before = signal.getsignal(signal.SIGTERM)
    assert main(["verify", str(tmp_path)]) == 1
    assert signal.getsignal(signal.SIGTERM) is before


# ---------------------------------------------------------------- files a user hands in
@pytest.mark.parametrize("content, message", [
    (("[" * 100_000 + "]" * 100_000).encode(), "spec.json: JSON nested deeper than 64 levels"),
    (b'{"room": {"type": "caf\xe9"}}', r"spec.json: not UTF-8 text (byte 22 is b'\xe9')"),
])
def test_a_spec_nested_too_deeply_or_not_utf8(tmp_path, capsys, content, message):
    spec = tmp_path / "spec.json"
    spec.write_bytes(content)
    line = one_line_error(capsys, ["generate", "--spec", str(spec), "--out", str(tmp_path / "out"), *SMALL])
    assert line.endswith(message)
    assert _entries(tmp_path) == ["spec.json"]


def test_a_prompts_file_that_is_not_utf8_is_named(tmp_path, capsys):
    prompts = tmp_path / "prompts.txt"
    prompts.write_bytes(b"a kitchen\na caf\xe9\n")
    line = one_line_error(capsys, ["batch", str(prompts), "--out", str(tmp_path / "out")])
    assert line.endswith("prompts.txt: not UTF-8 text (byte 15 is b'\\xe9')")


# ---------------------------------------------------------------- caps checked before any work
@pytest.mark.parametrize("argv, message", [
    (["generate", ROOM, "--width", "100000", "--height", "100000"], "view width: expected an integer in [8, 4096], got 100000"),
    (["generate", ROOM, "--height", "5000"], "view height: expected an integer in [8, 4096], got 5000"),
    (["generate", ROOM, "--export", "obj", "--voxel-size", "0.0005"], "voxel_size: expected a number in [0.005, 0.5], got 0.0005"),
    (["generate", ROOM, "--export", "obj", "--voxel-size", "nan"], "voxel_size: expected a number in [0.005, 0.5], got nan"),
    (["generate", ROOM, "--export", "obj", "--viewpoints", "100000"], "num_viewpoints: expected an integer in [1, 256]"),
    (["generate", ROOM, "--export", "obj", "--face-budget", "1000000000"], "face_budget: expected an integer in [1, 5e+06]"),
])
def test_caps_are_checked_before_any_work(tmp_path, monkeypatch, capsys, argv, message):
    from lyra_sim.pipelines import sources

    def never(*args, **kwargs):
        raise AssertionError("the scene was generated before the options were checked")

    monkeypatch.setattr(sources.ProceduralSource, "make", never)
    line = one_line_error(capsys, [*argv, "--out", str(tmp_path / "out"), "-q"])
    assert line.endswith(message) or message in line, line
    assert _entries(tmp_path) == []


def test_render_caps_frames_and_size_before_rendering(tmp_path, capsys):
    for argv, message in ((["--frames", "20000"], "frames: expected an integer in [2, 10000], got 20000"),
                          (["--width", "9000"], "view width: expected an integer in [8, 4096], got 9000"),
                          (["--fps", "1000"], "fps: expected an integer in [1, 240], got 1000")):
        line = one_line_error(capsys, ["render", str(tmp_path / "nope"), "--out", str(tmp_path / "v.gif"), "-q", *argv])
        assert line.endswith(message), line



# ---------------------------------------------------------------- the program's exit
ENTRY_EXITS = """
import atexit, sys
from lyra_sim import cli
atexit.register(lambda: print("exit handler ran", file=sys.stderr))
cli.entry()
"""


@pytest.mark.parametrize("fails", [False, True])
def test_the_program_exits_with_the_status_streams_flushed_and_exit_handlers_run(tmp_path, fails):
    """`lyra_sim.cli.entry` skips the interpreter teardown (os._exit) after `main`: nothing printed may be lost."""
    from lyra_sim.manifest import write_manifest

    (tmp_path / "a.txt").write_text("a")
    write_manifest(tmp_path, {"kind": "scene"})
    if fails:
        (tmp_path / "a.txt").write_text("changed")
    proc = subprocess.run([sys.executable, "-c", ENTRY_EXITS, "verify", str(tmp_path)], capture_output=True, text=True, check=False,
                          timeout=120)
    assert proc.returncode == (1 if fails else 0)
    assert proc.stdout.strip().splitlines()[-1] == (f"{tmp_path}: FAILED (1 problem)" if fails else f"{tmp_path}: OK (1 files verified)")
    assert proc.stderr.strip().splitlines()[-1] == "exit handler ran"
