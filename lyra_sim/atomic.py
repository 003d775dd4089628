"""Atomic file and directory writes: build beside the target, then rename.

A reader (or a crash) never sees a half-written file or bundle: either the old content,
or the new one, or nothing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path``.

    The caller writes the whole file to the yielded path, which keeps the target's
    extension (writers such as imageio pick the format from it). On an exception the
    temporary file is removed and ``path`` is left as it was.
    """
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise FileNotFoundError(f"{target}: the directory {parent} does not exist")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{target.suffix}", dir=parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def check_target_dir(path: str | os.PathLike, overwrite: bool) -> Path:
    """Refuse a directory ``path`` that writing would clobber: an existing file, or a non-empty
    directory unless ``overwrite``. Call it before slow work starts; returns ``path`` as a `Path`."""
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise FileExistsError(f"{target}: exists and is not a directory")
    if target.is_dir() and any(target.iterdir()) and not overwrite:
        raise FileExistsError(f"{target}: directory exists and is not empty (use --overwrite to replace it)")
    return target


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a fresh temporary directory beside ``path``; on success it becomes ``path``.

    Args:
        path: the directory to create.
        overwrite: replace an existing directory at ``path``. Otherwise an existing,
            non-empty ``path`` raises ``FileExistsError`` before anything is written.

    On an exception the temporary directory is deleted and ``path`` is untouched. When
    overwriting, the old directory is moved aside first and deleted only after the new
    one is in place, so no data is lost if the swap fails.
    """
    target = check_target_dir(path, overwrite)
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent))
    try:
        yield tmp
        os.chmod(tmp, 0o755)
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=parent))
            os.replace(target, old / "d")
            try:
                os.replace(tmp, target)
            except BaseException:
                os.replace(old / "d", target)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
