"""Atomic file and directory writes: build beside the target, then rename.

A reader (or a crash) never sees a half-written file or bundle: either the old content,
or the new one, or nothing. Two writers to one target never both "succeed": without
``overwrite`` the later one fails and the earlier one's output stays.

Scratch space (the temporary file or directory beside a target) is named for its owner:
``.<target name>.<pid>-<host>.<random>.<kind>`` (kind ``tmp``, ``old`` or ``gen``; a file
keeps the target's extension after it). A process killed with SIGKILL cannot clean up, so
every later write beside it (`sweep_scratch`) removes the scratch of owners that are dead:
same host, pid no longer running. Scratch of live processes and of other hosts (a shared
filesystem) is never touched; a pid reused by an unrelated process only delays the sweep.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Iterator

SCRATCH_KINDS = ("tmp", "old", "gen")
"""Kinds of scratch: a write in progress, an old directory moved aside, a pipeline's work space."""

_NAME_CHARS = 96
"""Characters of the target name kept in a scratch name (the rest of the name is < 40), so a long
but legal target name never makes its scratch name too long for the filesystem (255 bytes)."""

_SCRATCH = re.compile(
    r"^\.(?P<name>.*)\.(?P<pid>\d+)-(?P<host>[0-9a-f]{8})\.[A-Za-z0-9_]+\.(?P<kind>" + "|".join(SCRATCH_KINDS) + r")(\.[^.]*)?$"
)


def _host() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def _prefix(target: Path) -> str:
    """The start of every scratch name this process makes for ``target`` (pid read now: forks differ)."""
    return f".{target.name[:_NAME_CHARS]}.{os.getpid()}-{_host()}."


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def sweep_scratch(directory: str | os.PathLike, name: str | None = None) -> list[Path]:
    """Remove scratch entries in ``directory`` whose owner is dead (see the module docstring).

    Args:
        name: only scratch made for targets of this name (None: every target's).

    Returns:
        The paths removed.
    """
    directory = Path(directory)
    removed = []
    try:
        # Names only (not scandir's entries): a writer of many files into one directory sweeps
        # it once per file, so this loop is what grows with the directory.
        names = [n for n in os.listdir(directory) if n.startswith(".")]
    except OSError:
        return removed
    host = _host() if names else ""
    for entry_name in names:
        match = _SCRATCH.match(entry_name)
        if match is None or match["host"] != host or _alive(int(match["pid"])):
            continue
        if name is not None and match["name"] != name[:_NAME_CHARS]:
            continue
        path = directory / entry_name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def _creation_error(target: Path, exc: OSError) -> OSError:
    """``exc`` retold about ``target`` (not about the scratch name), as the same kind of error."""
    kind = PermissionError if exc.errno == errno.EROFS else type(exc)
    error = kind(f"{target}: cannot write there ({exc.strerror or exc})")
    error.errno = exc.errno
    return error


def scratch_directory(target: str | os.PathLike, kind: str = "gen") -> Path:
    """A new, empty scratch directory beside ``target`` named for this process (see the module
    docstring); the caller removes it. Stale scratch of dead owners beside it is swept first."""
    if kind not in SCRATCH_KINDS:
        raise ValueError(f"kind: expected one of {', '.join(SCRATCH_KINDS)}, got {kind!r}")
    target = Path(target)
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        sweep_scratch(parent)
        return Path(tempfile.mkdtemp(prefix=_prefix(target), suffix=f".{kind}", dir=parent))
    except OSError as exc:
        raise _creation_error(target, exc) from None


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, sweep: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path``.

    The caller writes the whole file to the yielded path, which keeps the target's
    extension (writers such as imageio pick the format from it). On an exception the
    temporary file is removed and ``path`` is left as it was.

    Args:
        sweep: first remove dead owners' scratch beside ``path`` (`sweep_scratch`). False when
            the directory is known to hold none, e.g. one this process just made: a writer of
            many files into one directory otherwise lists it once per file.
    """
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise FileNotFoundError(f"{target}: the directory {parent} does not exist")
    if sweep:
        sweep_scratch(parent, target.name)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=_prefix(target), suffix=f".tmp{target.suffix}", dir=parent)
    except OSError as exc:
        raise _creation_error(target, exc) from None
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
    directory unless ``overwrite``; and one that cannot be replaced at all: an empty path, the
    current directory or one containing it. Call it before slow work starts; returns ``path``
    as a `Path`."""
    if not str(path).strip():  # Path("") would be ".": the current directory
        raise ValueError("output directory: the path is empty; name a directory to create, e.g. out/scene")
    target = Path(path)
    here = Path.cwd().resolve()
    resolved = target.resolve()
    if target.name in ("", "..") or resolved == here or resolved in here.parents:
        raise ValueError(f"{path}: is the current directory or contains it, which cannot be replaced; "
                         "name a new directory, e.g. out/scene")
    if target.exists() and not target.is_dir():
        raise FileExistsError(f"{target}: exists and is not a directory")
    if target.is_dir() and any(target.iterdir()) and not overwrite:
        raise FileExistsError(f"{target}: directory exists and is not empty (use --overwrite to replace it)")
    return target


def _rename_new(tmp: Path, target: Path) -> None:
    """Move ``tmp`` to ``target`` unless something is there now, in one system call.

    Why `os.rename` and not a check then a rename: POSIX rename(2) of a directory replaces
    only an *empty* directory and fails (ENOTEMPTY / EEXIST) on a non-empty one, or ENOTDIR on
    a file, atomically in the kernel. So a target that another writer finished after our
    `check_target_dir` can never be replaced, with no window between a check and the rename
    (an O_EXCL lock would need every writer to take it; renameat2(RENAME_NOREPLACE) would also
    refuse an empty directory that the user made for the output).
    """
    try:
        os.rename(tmp, target)
    except OSError as exc:
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
            raise FileExistsError(
                f"{target}: appeared while this was being written (another writer?) and is left as it is; "
                "nothing was written (use --overwrite to replace it)"
            ) from None
        raise


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a fresh temporary directory beside ``path``; on success it becomes ``path``.

    Args:
        path: the directory to create.
        overwrite: replace an existing directory at ``path``. Otherwise an existing,
            non-empty ``path`` raises ``FileExistsError`` before anything is written, and so
            does one that appears while the body runs (another writer): it is never replaced.

    On an exception the temporary directory is deleted and ``path`` is untouched. When
    overwriting, the old directory is moved aside first and deleted only after the new
    one is in place, so no data is lost if the swap fails.
    """
    target = check_target_dir(path, overwrite)
    tmp = scratch_directory(target, "tmp")
    parent = target.parent
    try:
        yield tmp
        os.chmod(tmp, 0o755)
        if overwrite and target.exists():
            old = Path(tempfile.mkdtemp(prefix=_prefix(target), suffix=".old", dir=parent))
            os.replace(target, old / "d")
            try:
                os.replace(tmp, target)
            except BaseException:
                os.replace(old / "d", target)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            _rename_new(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
