"""`lyra_sim.atomic`: files and directories appear whole or not at all, and old data survives failures."""

import os
import stat

import pytest

from lyra_sim import atomic
from lyra_sim.atomic import atomic_directory, atomic_path, check_target_dir


class Boom(Exception):
    pass


def _names(directory):
    return sorted(p.name for p in directory.iterdir())


# ----------------------------------------------------------------------------- atomic_path

def test_atomic_path_renames_on_success(tmp_path):
    target = tmp_path / "out.png"
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp != target
        assert tmp.suffix == ".png"  # writers that pick the format from the name still work
        assert not target.exists()
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert _names(tmp_path) == ["out.png"]


def test_atomic_path_failure_leaves_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "data.json"
    target.write_text("old")
    with pytest.raises(Boom):
        with atomic_path(target) as tmp:
            tmp.write_text("half writ")
            raise Boom
    assert target.read_text() == "old"
    assert _names(tmp_path) == ["data.json"]


def test_atomic_path_failure_without_old_file_leaves_nothing(tmp_path):
    with pytest.raises(KeyboardInterrupt):  # BaseException too: Ctrl-C leaves no temp file
        with atomic_path(tmp_path / "x.bin") as tmp:
            tmp.write_bytes(b"1")
            raise KeyboardInterrupt
    assert _names(tmp_path) == []


def test_atomic_path_overwrites_only_at_the_end(tmp_path):
    target = tmp_path / "f.txt"
    target.write_text("old")
    with atomic_path(target) as tmp:
        tmp.write_text("new")
        assert target.read_text() == "old"
    assert target.read_text() == "new" and _names(tmp_path) == ["f.txt"]


def test_atomic_path_needs_an_existing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="the directory .*missing does not exist"):
        with atomic_path(tmp_path / "missing" / "f.txt"):
            pass


def test_atomic_path_relative_to_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with atomic_path("plain.txt") as tmp:
        tmp.write_text("x")
    assert (tmp_path / "plain.txt").read_text() == "x" and _names(tmp_path) == ["plain.txt"]


# ----------------------------------------------------------------------------- check_target_dir

def test_check_target_dir(tmp_path):
    assert check_target_dir(str(tmp_path / "new"), overwrite=False) == tmp_path / "new"
    (tmp_path / "empty").mkdir()
    assert check_target_dir(tmp_path / "empty", overwrite=False) == tmp_path / "empty"
    full = tmp_path / "full"
    full.mkdir()
    (full / "a").write_text("a")
    with pytest.raises(FileExistsError, match=r"full: directory exists and is not empty \(use --overwrite"):
        check_target_dir(full, overwrite=False)
    assert check_target_dir(full, overwrite=True) == full
    (tmp_path / "file").write_text("f")
    for overwrite in (False, True):
        with pytest.raises(FileExistsError, match="file: exists and is not a directory"):
            check_target_dir(tmp_path / "file", overwrite=overwrite)
    assert (full / "a").read_text() == "a" and (tmp_path / "file").read_text() == "f"  # only checks


# ----------------------------------------------------------------------------- atomic_directory

def test_atomic_directory_renames_on_success(tmp_path):
    target = tmp_path / "sub" / "bundle"  # missing parents are made
    with atomic_directory(target) as tmp:
        assert tmp.parent == target.parent and not target.exists()
        (tmp / "a.txt").write_text("a")
        (tmp / "nested").mkdir()
        (tmp / "nested" / "b.txt").write_text("b")
    assert (target / "a.txt").read_text() == "a" and (target / "nested" / "b.txt").read_text() == "b"
    assert stat.S_IMODE(target.stat().st_mode) == 0o755
    assert _names(target.parent) == ["bundle"]


def test_atomic_directory_failure_leaves_nothing(tmp_path):
    with pytest.raises(Boom):
        with atomic_directory(tmp_path / "bundle") as tmp:
            (tmp / "a.txt").write_text("a")
            raise Boom
    assert _names(tmp_path) == []


def test_atomic_directory_refuses_a_non_empty_target_before_the_body_runs(tmp_path):
    target = tmp_path / "bundle"
    target.mkdir()
    (target / "keep.txt").write_text("keep")
    ran = []
    with pytest.raises(FileExistsError, match="not empty"):
        with atomic_directory(target):
            ran.append(1)
    assert ran == [] and _names(target) == ["keep.txt"] and _names(tmp_path) == ["bundle"]


def test_atomic_directory_fills_an_existing_empty_directory(tmp_path):
    (tmp_path / "bundle").mkdir()
    with atomic_directory(tmp_path / "bundle") as tmp:
        (tmp / "a").write_text("a")
    assert _names(tmp_path / "bundle") == ["a"] and _names(tmp_path) == ["bundle"]


def test_overwrite_keeps_the_old_data_until_the_new_one_is_in_place(tmp_path):
    target = tmp_path / "bundle"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with atomic_directory(target, overwrite=True) as tmp:
        (tmp / "new.txt").write_text("new")
        assert _names(target) == ["old.txt"]  # readers still see the complete old directory
    assert _names(target) == ["new.txt"]  # replaced, not merged
    assert _names(tmp_path) == ["bundle"]  # no .tmp / .old left behind


def test_failed_overwrite_keeps_the_old_directory(tmp_path):
    target = tmp_path / "bundle"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(Boom):
        with atomic_directory(target, overwrite=True) as tmp:
            (tmp / "new.txt").write_text("new")
            raise Boom
    assert _names(target) == ["old.txt"] and _names(tmp_path) == ["bundle"]


def test_failed_swap_puts_the_old_directory_back(tmp_path, monkeypatch):
    target = tmp_path / "bundle"
    target.mkdir()
    (target / "old.txt").write_text("old")
    real_replace = os.replace
    calls = []

    def flaky_replace(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:  # 1: old directory aside, 2: new one into place (fails), 3: old one back
            raise OSError("disk on fire")
        return real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", flaky_replace)
    with pytest.raises(OSError, match="disk on fire"):
        with atomic_directory(target, overwrite=True) as tmp:
            (tmp / "new.txt").write_text("new")
    assert len(calls) == 3
    assert _names(target) == ["old.txt"] and (target / "old.txt").read_text() == "old"
    # the emptied ".old" holder is the only thing left besides the target: no data lost, none duplicated
    assert [n for n in _names(tmp_path) if n != "bundle"] == [n for n in _names(tmp_path) if n.endswith(".old")]
    assert not any(n.endswith(".tmp") for n in _names(tmp_path))


# ----------------------------------------------------------------------------- two writers, killed writers
# Real processes: each runs `WRITER` (an atomic_directory whose body waits for a line on stdin). It loads
# lyra_sim/atomic.py by path (standard library only): importing the package would load torch, seconds each.
WRITER = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("atomic", sys.argv[4])
atomic = importlib.util.module_from_spec(spec)
spec.loader.exec_module(atomic)
atomic_directory = atomic.atomic_directory
target, tag, overwrite = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
try:
    with atomic_directory(target, overwrite=overwrite) as tmp:
        (tmp / "who").write_text(tag)
        print("ready", flush=True)
        sys.stdin.readline()
except FileExistsError as exc:
    print("refused:", exc, flush=True)
    sys.exit(3)
print("done", flush=True)
"""


def _writer(target, tag, overwrite=False):
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target), tag, "1" if overwrite else "0", atomic.__file__],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "ready\n"  # its scratch directory exists and holds its file
    return proc


def _finish(proc):
    out, _ = proc.communicate("go\n", timeout=60)
    return proc.returncode, out


def test_a_second_writer_never_replaces_what_the_first_finished(tmp_path):
    target = tmp_path / "out"
    slow = _writer(target, "slow")  # checked the target (absent) and is writing
    fast = _writer(target, "fast")
    assert _finish(fast) == (0, "done\n")
    assert (target / "who").read_text() == "fast"
    code, out = _finish(slow)  # finishes after the target appeared: refused, not a silent replace
    assert code == 3 and "appeared while this was being written" in out and str(target) in out
    assert (target / "who").read_text() == "fast"
    assert _names(tmp_path) == ["out"]  # the refused writer's scratch is gone too


def test_with_overwrite_the_later_writer_replaces(tmp_path):
    target = tmp_path / "out"
    slow = _writer(target, "slow", overwrite=True)
    assert _finish(_writer(target, "fast", overwrite=True))[0] == 0
    assert _finish(slow)[0] == 0
    assert (target / "who").read_text() == "slow" and _names(tmp_path) == ["out"]


def test_scratch_of_a_killed_writer_is_swept_by_the_next_write_but_a_live_ones_is_kept(tmp_path):
    import signal

    killed = _writer(tmp_path / "a", "killed")
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    stale = [n for n in _names(tmp_path) if n.startswith(".a.")]
    assert len(stale) == 1 and stale[0].endswith(".tmp") and f".{killed.pid}-" in stale[0]
    live = _writer(tmp_path / "b", "live")  # its own write beside the stale scratch sweeps it
    assert not any(n.startswith(".a.") for n in _names(tmp_path))
    with atomic_directory(tmp_path / "c") as tmp:
        (tmp / "x").write_text("x")
    names = _names(tmp_path)
    assert not any(n.startswith(".a.") for n in names)  # the dead writer's scratch: swept
    assert any(n.startswith(f".b.{live.pid}-") for n in names)  # a running writer's: untouched
    assert _finish(live)[0] == 0
    assert _names(tmp_path) == ["b", "c"]


def test_sweep_scratch_only_removes_dead_owners_on_this_host(tmp_path):
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    dead_pid = int(dead.stdout)
    host = atomic._host()
    names = {
        f".x.{dead_pid}-{host}.ab12.tmp": True,  # dead owner, this host: swept
        f".x.ply.{dead_pid}-{host}.q_9.tmp.ply": True,  # a file's scratch keeps the target's extension
        f".y.{dead_pid}-{host}.k.gen": True,
        f".x.{os.getpid()}-{host}.ab12.old": False,  # alive (this process)
        f".x.{dead_pid}-00000000.ab12.tmp": False,  # another host on a shared filesystem: unknown
        ".x.ab12.tmp": False,  # not named by lyra_sim.atomic
        "x": False,
    }
    for name in names:
        (tmp_path / name).mkdir() if not name.endswith(".ply") else (tmp_path / name).write_text("")
    assert sorted(p.name for p in atomic.sweep_scratch(tmp_path, name="y")) == [f".y.{dead_pid}-{host}.k.gen"]
    removed = sorted(p.name for p in atomic.sweep_scratch(tmp_path))
    assert removed == sorted(n for n, gone in names.items() if gone and not n.startswith(".y."))
    assert _names(tmp_path) == sorted(n for n, gone in names.items() if not gone)


def test_atomic_path_without_sweep_leaves_stale_scratch_for_a_later_write(tmp_path):
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    stale = tmp_path / f".a.stl.{int(dead.stdout)}-{atomic._host()}.zz.tmp.stl"
    stale.write_text("half")
    with atomic.atomic_path(tmp_path / "a.stl", sweep=False) as tmp:
        tmp.write_text("one")
    assert _names(tmp_path) == sorted([stale.name, "a.stl"])
    with atomic.atomic_path(tmp_path / "a.stl") as tmp:
        tmp.write_text("two")
    assert _names(tmp_path) == ["a.stl"] and (tmp_path / "a.stl").read_text() == "two"


def test_scratch_names_carry_the_owner_and_stay_short_for_long_targets(tmp_path):
    long = "n" * 250  # a legal name: its scratch names must be legal too
    with atomic_directory(tmp_path / long) as tmp:
        assert tmp.name.startswith(f".{'n' * 96}.{os.getpid()}-{atomic._host()}.") and tmp.name.endswith(".tmp")
        assert len(tmp.name) < 255
        with atomic_path(tmp / (long[:-4] + ".ply")) as f:
            assert f.name.endswith(".tmp.ply") and len(f.name) < 255
            f.write_text("x")
    assert (tmp_path / long / (long[:-4] + ".ply")).read_text() == "x"


@pytest.mark.parametrize("out", ["", " ", ".", "..", "./", "sub/.."])
def test_the_current_directory_or_an_empty_path_is_refused(tmp_path, monkeypatch, out):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "keep.txt").write_text("keep")
    for overwrite in (False, True):
        with pytest.raises(ValueError, match="empty|current directory"):
            check_target_dir(out, overwrite)
        with pytest.raises(ValueError, match="empty|current directory"):
            with atomic_directory(out, overwrite=overwrite):
                pass
    assert _names(tmp_path) == ["keep.txt", "sub"]


def test_an_ancestor_of_the_current_directory_is_refused(tmp_path, monkeypatch):
    (tmp_path / "a" / "b").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "a" / "b")
    with pytest.raises(ValueError, match="current directory or contains it"):
        check_target_dir(tmp_path / "a", overwrite=True)


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")
def test_an_unwritable_place_is_named_as_given_not_by_its_scratch_name():
    with pytest.raises(OSError) as info:
        with atomic_directory("/proc/lyra-sim-x"):
            pass
    assert str(info.value) == "/proc/lyra-sim-x: cannot write there (No such file or directory)"
    assert isinstance(info.value, FileNotFoundError) and info.value.errno == 2
    assert ".tmp" not in str(info.value)
