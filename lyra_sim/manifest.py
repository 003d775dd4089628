"""``manifest.json``: what a scene directory holds, how it was made, and the sha256 of every file.

A directory is complete only when its manifest verifies: every listed file exists with the
recorded digest and no other file is present. Every listed name must be a relative path inside
the directory (no absolute paths, no ``..``) that does not resolve outside it through a symbolic
link: a tampered manifest cannot make `verify` read (and vouch for) files elsewhere.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
from pathlib import Path, PurePosixPath
from typing import Any

from .atomic import atomic_path
from .config import read_json

MANIFEST = "manifest.json"
FORMAT = "lyra-sim-scene"
FORMAT_VERSION = 1

_PACKAGES = ("lyra-sim", "torch", "numpy", "plyfile", "trimesh", "scipy", "pillow", "numba")
"""Packages whose versions a scene directory records (numba: the preview is drawn by its rasterizer when installed)."""


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def package_versions(names: tuple[str, ...] = _PACKAGES, *, python: bool = True) -> dict[str, str]:
    """Installed versions of the packages that shape the output (missing ones are left out),
    and of Python itself unless ``python`` is false."""
    versions = {"python": platform.python_version()} if python else {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def _listed_files(directory: Path) -> list[str]:
    return sorted(
        p.relative_to(directory).as_posix()
        for p in directory.rglob("*")
        if p.is_file() and p.name != MANIFEST
    )


def write_manifest(directory: str | os.PathLike, data: dict[str, Any]) -> dict[str, Any]:
    """Write ``manifest.json`` with ``data`` plus the sha256 of every other file in ``directory``.

    Returns the manifest as written. Keys are sorted so equal content gives equal bytes.
    """
    directory = Path(directory)
    manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, **data}
    manifest["files"] = {name: sha256_file(directory / name) for name in _listed_files(directory)}
    with atomic_path(directory / MANIFEST) as tmp:
        tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    return manifest


def read_manifest(directory: str | os.PathLike) -> dict[str, Any]:
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{directory}: no {MANIFEST} (not a lyra-sim scene directory)")
    manifest = read_json(path)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ValueError(f"{path}: not a lyra-sim manifest (expected \"format\": \"{FORMAT}\")")
    return manifest


def _outside(directory: Path, name: str) -> str | None:
    """Why the listed ``name`` is not a file path inside ``directory``, or None."""
    parts = PurePosixPath(name).parts
    if not name or name.startswith("/") or "\\" in name or ".." in parts or PurePosixPath(*parts).as_posix() != name:
        return "not a relative path inside the directory (absolute, with '..' or not normalized); refused"
    root = directory.resolve()
    resolved = (directory / name).resolve()
    if resolved != root and root not in resolved.parents:
        return f"resolves outside the directory (a symbolic link to {resolved}); refused"
    return None


def verify(directory: str | os.PathLike) -> list[str]:
    """Problems found in ``directory`` against its manifest; an empty list means it verifies.

    A listed name that points outside ``directory`` is a problem and is never read."""
    directory = Path(directory)
    try:
        manifest = read_manifest(directory)
    except (FileNotFoundError, ValueError) as exc:
        return [str(exc)]
    files = manifest.get("files")
    if not isinstance(files, dict) or not all(isinstance(d, str) for d in files.values()):
        return [f"{directory / MANIFEST}: no \"files\" table"]
    problems = []
    for name, digest in sorted(files.items()):
        path = directory / name
        outside = _outside(directory, name)
        if outside is not None:
            problems.append(f"{name}: {outside}")
        elif not path.is_file():
            problems.append(f"{name}: listed in the manifest but missing")
        elif sha256_file(path) != digest:
            problems.append(f"{name}: sha256 differs from the manifest (modified or corrupt)")
    for name in _listed_files(directory):
        if name not in files:
            problems.append(f"{name}: present but not listed in the manifest")
    return problems
