"""SuperSplat / PlayCanvas compressed PLY (read).

A binary little-endian PLY with a ``chunk`` element (one row per 256 splats: the float
bounds of positions, log scales and, optionally, colors within the chunk), a ``vertex``
element of four packed ``uint`` words per splat, and an optional ``sh`` element of ``uchar``
``f_rest_*`` (channel-major, as in the INRIA layout). Decoded as PlayCanvas's
``splat-transform`` decompresses it:

- ``packed_position`` / ``packed_scale``: 11-10-11 bit unorms (x in the top bits),
  interpolated between the chunk's min and max (scales are natural logs);
- ``packed_rotation``: 2 bits naming the largest of ``w x y z``, then the other three as
  10-bit unorms of ``(q + 1/√2) · √2/2``; the largest is rebuilt as positive;
- ``packed_color``: 8-8-8-8 bit unorms of r g b (interpolated between the chunk's color
  bounds when present) and the activated opacity;
- ``sh``: byte ``v`` → ``(n - 0.5) · 8`` with ``n = 0, 1 or (v + 0.5) / 256`` for ``v = 0, 255,
  other``.

The frame is the file's own (the PLY convention, right-down-forward, as in INRIA PLYs).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch

from lyra_sim.scene import SH_C0, GaussianScene, sh_degree_from_bases

from .plyheader import PlyHeader, is_ply, parse_ply_header

CHUNK_SIZE = 256
CHUNK_BOUNDS = (
    "min_x", "min_y", "min_z", "max_x", "max_y", "max_z",
    "min_scale_x", "min_scale_y", "min_scale_z", "max_scale_x", "max_scale_y", "max_scale_z",
)
CHUNK_COLORS = ("min_r", "min_g", "min_b", "max_r", "max_g", "max_b")
PACKED = ("packed_position", "packed_rotation", "packed_scale", "packed_color")


def is_compressed_header(header: PlyHeader) -> bool:
    """A header with a ``chunk`` element and a ``vertex`` element of packed words."""
    vertex = header.element("vertex")
    return header.element("chunk") is not None and vertex is not None and "packed_position" in vertex.names


def sniff(head: bytes, suffix: str) -> bool:
    if not is_ply(head):
        return False
    try:
        return is_compressed_header(parse_ply_header(head))
    except ValueError:
        return False


def _dtype(element, types: dict[str, str], path: Path) -> np.dtype:
    fields = []
    for name, ply_type in element.properties:
        expected = types.get(name)
        if expected is None:
            raise ValueError(f"{path}: compressed PLY element '{element.name}' has an unexpected property {name!r}")
        if ply_type not in expected:
            raise ValueError(f"{path}: compressed PLY property {element.name}.{name} is {ply_type}, expected {expected[0]}")
        fields.append((name, "<" + {"float": "f4", "float32": "f4", "uint": "u4", "uint32": "u4", "uchar": "u1", "uint8": "u1"}[ply_type]))
    return np.dtype(fields)


def _unorm(value: np.ndarray, shift: int, bits: int) -> np.ndarray:
    return ((value >> shift) & ((1 << bits) - 1)).astype(np.float64) / ((1 << bits) - 1)


def _lerp(lo: np.ndarray, hi: np.ndarray, t: np.ndarray) -> np.ndarray:
    return lo * (1 - t) + hi * t


def _unpack_111011(value: np.ndarray) -> np.ndarray:
    return np.stack([_unorm(value, 21, 11), _unorm(value, 11, 10), _unorm(value, 0, 11)], -1)


def _unpack_rotation(value: np.ndarray) -> np.ndarray:
    """``packed_rotation [N]`` → quaternions ``[N, 4]`` (w x y z)."""
    others = np.stack([(_unorm(value, s, 10) - 0.5) * math.sqrt(2) for s in (20, 10, 0)], -1)
    largest = np.sqrt(np.maximum(0.0, 1.0 - (others**2).sum(-1)))
    which = (value >> 30).astype(np.int64)
    quats = np.empty((len(value), 4))
    for i in range(4):  # the three stored components fill the slots other than `which`, in order
        slot = np.arange(4) != i
        rows = which == i
        quats[np.ix_(rows, slot)] = others[rows]
        quats[rows, i] = largest[rows]
    return quats


def read(path: str | os.PathLike) -> GaussianScene:
    """Read a compressed PLY (see the module docstring) into activated values.

    Raises:
        ValueError: a malformed header, a missing or mistyped property, a chunk count that
            does not match the splat count, or a body shorter or longer than the header says.
    """
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(min(size, 1 << 16))
    try:
        header = parse_ply_header(head)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc
    if header.encoding != "binary_little_endian":
        raise ValueError(f"{path}: compressed PLY must be binary_little_endian, got {header.encoding}")
    chunk, vertex, sh = header.element("chunk"), header.element("vertex"), header.element("sh")
    extra = [e.name for e in header.elements if e.name not in ("chunk", "vertex", "sh")]
    if chunk is None or vertex is None or extra:
        raise ValueError(f"{path}: a compressed PLY has elements chunk, vertex [, sh]; got {[e.name for e in header.elements]}")
    float_type = ("float", "float32")
    chunk_dtype = _dtype(chunk, {name: float_type for name in CHUNK_BOUNDS + CHUNK_COLORS}, path)
    missing = [n for n in CHUNK_BOUNDS if n not in chunk.names]
    has_colors = any(n in chunk.names for n in CHUNK_COLORS)
    missing += [n for n in CHUNK_COLORS if has_colors and n not in chunk.names]
    missing += [n for n in PACKED if n not in vertex.names]
    if missing:
        raise ValueError(f"{path}: compressed PLY lacks properties {missing}")
    vertex_dtype = _dtype(vertex, {name: ("uint", "uint32") for name in PACKED}, path)
    n = vertex.count
    if chunk.count != math.ceil(n / CHUNK_SIZE):
        raise ValueError(f"{path}: {chunk.count} chunks for {n} splats; expected ceil({n} / {CHUNK_SIZE}) = {math.ceil(n / CHUNK_SIZE)}")
    sh_dtype = None
    if sh is not None:
        sh_dtype = _dtype(sh, {f"f_rest_{i}": ("uchar", "uint8") for i in range(45)}, path)
        if sh.count != n or len(sh.names) not in (9, 24, 45) or set(sh.names) != {f"f_rest_{i}" for i in range(len(sh.names))}:
            raise ValueError(f"{path}: the sh element must have {n} rows of f_rest_0..f_rest_(9|24|45 - 1); "
                             f"got {sh.count} rows of {len(sh.names)} properties")
    sizes = [chunk.count * chunk_dtype.itemsize, n * vertex_dtype.itemsize, 0 if sh is None else n * sh_dtype.itemsize]
    expected = header.length + sum(sizes)
    if size != expected:
        what = "truncated" if size < expected else f"{size - expected} bytes after the last element"
        raise ValueError(f"{path}: compressed PLY is {size} bytes, its header describes {expected} ({what})")

    with open(path, "rb") as f:
        f.seek(header.length)
        chunks = np.frombuffer(f.read(sizes[0]), chunk_dtype)
        packed = np.frombuffer(f.read(sizes[1]), vertex_dtype)
        sh_bytes = np.frombuffer(f.read(sizes[2]), sh_dtype) if sh is not None else None

    def bounds(names: tuple[str, ...]) -> np.ndarray:  # [N, len(names)] chunk values per splat
        per_chunk = np.stack([chunks[name].astype(np.float64) for name in names], -1)
        return np.repeat(per_chunk, CHUNK_SIZE, axis=0)[:n]

    lo, hi = bounds(CHUNK_BOUNDS[0:3]), bounds(CHUNK_BOUNDS[3:6])
    means = _lerp(lo, hi, _unpack_111011(packed["packed_position"]))
    lo, hi = bounds(CHUNK_BOUNDS[6:9]), bounds(CHUNK_BOUNDS[9:12])
    log_scales = _lerp(lo, hi, _unpack_111011(packed["packed_scale"]))
    quats = _unpack_rotation(packed["packed_rotation"])
    color = packed["packed_color"]
    rgb = np.stack([_unorm(color, 24, 8), _unorm(color, 16, 8), _unorm(color, 8, 8)], -1)
    if has_colors:
        rgb = _lerp(bounds(CHUNK_COLORS[0:3]), bounds(CHUNK_COLORS[3:6]), rgb)
    opacities = _unorm(color, 0, 8)
    k = 1 if sh is None else 1 + len(sh.names) // 3
    sh_degree_from_bases(k)
    coeffs = np.empty((n, k, 3))
    coeffs[:, 0] = (rgb - 0.5) / SH_C0
    if sh_bytes is not None:
        v = np.stack([sh_bytes[f"f_rest_{i}"] for i in range(len(sh.names))], -1).astype(np.float64)
        unit = np.where(v == 0, 0.0, np.where(v == 255, 1.0, (v + 0.5) / 256))
        coeffs[:, 1:] = ((unit - 0.5) * 8).reshape(n, 3, k - 1).transpose(0, 2, 1)

    def t(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))

    try:
        return GaussianScene(means=t(means), quats=t(quats), scales=t(np.exp(log_scales)), opacities=t(opacities), sh=t(coeffs))
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc
