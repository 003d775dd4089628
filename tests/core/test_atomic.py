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
