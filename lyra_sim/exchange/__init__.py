"""lyra_sim.exchange: splat files in the formats people have, one module per format.

`read_splats` finds the format from the file's first bytes (and, for formats without a
magic number, its suffix) through the registry `FORMATS`; `write_splats` picks it from the
suffix or by name. Every reader returns a `GaussianScene` with activated values in the
file's own frame, converted to the PLY convention where the format stores another (SPZ's
right-up-back); nothing here guesses gravity or scale (``lyra_sim.exporters.alignment`` does).

| name | format | read | write |
| --- | --- | --- | --- |
| ``ply`` | INRIA 3DGS PLY (`lyra_sim.ply`) | yes | yes |
| ``compressed_ply`` | SuperSplat / PlayCanvas compressed PLY | yes | |
| ``spz`` | Niantic SPZ, versions 2-4 | yes | yes |
| ``splat`` | antimatter15 ``.splat`` | yes | yes |
| ``ksplat``, ``sog`` | GaussianSplats3D ``.ksplat``, PlayCanvas SOG | recognized, refused by name | |

A file that is truncated or corrupt, or in a recognized format (or format version) that is
not supported, raises one ``ValueError`` naming the file and the problem.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping, NamedTuple

import torch

from lyra_sim.scene import GaussianScene

from . import compressed_ply, inria_ply, spz, splat
from .plyheader import MAX_HEADER


class SplatFormat(NamedTuple):
    """One registry entry: ``sniff(head, suffix)`` says whether a file is in this format (from
    its first bytes and lower-case suffix); ``read`` / ``write`` are None when unsupported."""

    description: str
    suffixes: tuple[str, ...]
    sniff: Callable[[bytes, str], bool]
    read: Callable[[Path], GaussianScene] | None
    write: Callable[..., None] | None


def _by_suffix(*suffixes: str) -> Callable[[bytes, str], bool]:
    return lambda head, suffix: suffix in suffixes


FORMATS: Mapping[str, SplatFormat] = MappingProxyType({
    # Sniffed in this order: the compressed PLY before the INRIA PLY (both start with "ply").
    "compressed_ply": SplatFormat("SuperSplat compressed PLY", (".ply",), compressed_ply.sniff, compressed_ply.read, None),
    "ply": SplatFormat("INRIA 3DGS PLY", (".ply",), inria_ply.sniff, inria_ply.read, inria_ply.write),
    "spz": SplatFormat("Niantic SPZ", (".spz",), spz.sniff, spz.read, spz.write),
    "splat": SplatFormat("antimatter15 .splat", (".splat",), splat.sniff, splat.read, splat.write),
    "ksplat": SplatFormat("GaussianSplats3D .ksplat", (".ksplat",), _by_suffix(".ksplat"), None, None),
    "sog": SplatFormat("PlayCanvas SOG", (".sog",), _by_suffix(".sog"), None, None),
})
"""Format name → `SplatFormat`; adding a format is adding an entry (and its module)."""


def _readable() -> str:
    return ", ".join(f"{f.description} ({'/'.join(f.suffixes)})" for f in FORMATS.values() if f.read is not None)


def detect_format(path: str | os.PathLike) -> str:
    """The registry name of the format of the file at ``path``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a directory, or a file in no registered format.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if not path.is_file():
        raise ValueError(f"{path}: not a file (expected a splat file: {_readable()})")
    with open(path, "rb") as f:
        head = f.read(MAX_HEADER)
    suffix = path.suffix.lower()
    for name, fmt in FORMATS.items():
        if fmt.sniff(head, suffix):
            return name
    raise ValueError(f"{path}: not a splat file lyra-sim recognizes; accepted: {_readable()}")


def read_splats(path: str | os.PathLike, device: torch.device | str = "cpu") -> GaussianScene:
    """Read a splat file in any registered format (see the module docstring).

    Raises:
        FileNotFoundError: no such file.
        ValueError: an unrecognized, unsupported, truncated or corrupt file (one line, naming it).
    """
    name = detect_format(path)
    fmt = FORMATS[name]
    if fmt.read is None:
        raise ValueError(f"{path}: a {fmt.description} file, which lyra-sim cannot read; accepted: {_readable()}")
    return fmt.read(Path(path)).to(device)


def write_splats(path: str | os.PathLike, scene: GaussianScene, format: str | None = None, **options: Any) -> Path:
    """Write ``scene`` to ``path`` (atomically) as ``format``, or as the suffix says.

    Args:
        format: a registry name with a writer (``ply``, ``spz``, ``splat``), or None.
        options: passed to the writer, e.g. ``version=4`` for SPZ, ``ascii=True`` for PLY.

    Raises:
        ValueError: an unknown or read-only format, or a suffix that names none.
    """
    path = Path(path)
    writable = [name for name, f in FORMATS.items() if f.write is not None]
    if format is None:
        format = next((n for n in writable if path.suffix.lower() in FORMATS[n].suffixes), None)
        if format is None:
            raise ValueError(f"{path}: no splat format writes the suffix {path.suffix!r}; accepted: "
                             + ", ".join(f"{n} ({'/'.join(FORMATS[n].suffixes)})" for n in writable))
    if format not in writable:
        raise ValueError(f"format {format!r} cannot be written; accepted: {', '.join(writable)}")
    FORMATS[format].write(path, scene, **options)
    return path


__all__ = ["FORMATS", "SplatFormat", "detect_format", "read_splats", "write_splats"]
