"""Niantic SPZ, versions 2 to 4 (read and write), after the published format (nianticlabs/spz).

Header (little-endian): ``magic "NGSP" (0x5053474e), version u32, numPoints u32, shDegree u8,
fractionalBits u8, flags u8, and a fourth byte`` (16 bytes; reserved in versions 2 and 3, the
number of streams in version 4, whose header goes on with ``tocByteOffset u32`` and 12 reserved
bytes to 32). The attributes follow in this order, each for every splat:

- positions: 3 × 24-bit signed fixed point with ``fractionalBits`` fractional bits;
- alphas: a byte of the activated opacity (``a / 255``);
- colors: 3 bytes of ``0.5 + 0.15 · f_dc`` (not SH_C0: a wider range);
- scales: 3 bytes of ``(log s + 10) · 16``;
- rotations: version 2: ``x y z`` as bytes of ``q · 127.5 + 127.5`` (``w >= 0`` rebuilt);
  versions 3 and 4: "smallest three", a u32 with the index of the largest component in the
  top 2 bits and three 10-bit fields (sign bit + 9-bit magnitude of ``|q_i| · √2``);
- SH (degree > 0): ``(K - 1) · 3`` bytes, coefficient-major, color inner, ``(b - 128) / 128``.

Versions 2 and 3 gzip the header and the attributes as one stream; version 4 stores the
header raw, then a table of contents (``compressedSize u64, uncompressedSize u64`` per stream)
at ``tocByteOffset`` and one ZSTD frame per attribute. Files with extensions (flag 0x2, e.g.
Adobe's SH quantization range), version 1 (half-float positions) or later versions are
refused with an error naming what they use.

SPZ stores a right-up-back (RUB, OpenGL / three.js) frame. Like Niantic's reference
(``unpackGaussians`` with ``to = RDF``, the PLY convention) the reader converts to
right-down-forward, the frame of INRIA PLYs, so an SPZ and the PLY of the same capture read
alike: y and z flip, as do the quaternion's y and z and the SH coefficients odd in y or z.
The writer applies the same flips (RDF → RUB) before quantizing.

Quantization (what a round trip through `write` then `read` can change): positions by at
most ``2^-(fractionalBits+1)`` (0.12 mm at 12 bits); log scales by 1/32 (3.2 %); opacities by
0.5/255; ``f_dc`` by 0.5/(0.15·255) = 0.0131; SH by 4.5/128 (degree 1: 1/128 steps in buckets
of 8) and 8.5/128 (degrees 2-3: buckets of 16) after clipping to [-1, 127/128]; rotations by
at most 0.36° (versions 3 and 4) or about 1° (version 2, while ``|w| > 0.5``). Log scales
outside [-10, 5.94] and ``f_dc`` outside ±3.33 clip, as in the reference.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import torch

from lyra_sim.atomic import atomic_path
from lyra_sim.scene import GaussianScene, num_sh_bases

MAGIC = 0x5053474E
VERSIONS = (2, 3, 4)
MAX_POINTS = 10_000_000
"""The reference reader's limit; also bounds what a corrupt header can make us allocate."""

FRACTIONAL_BITS = 12
COLOR_SCALE = 0.15
FLAG_ANTIALIASED = 0x1
FLAG_EXTENSIONS = 0x2
SH1_BITS, SH_REST_BITS = 5, 4
"""The reference's default SH precision without the SH quantization extension."""

# RUB <-> RDF (an involution): flips of positions, quaternion x y z, and SH coefficients 1..15
# (the reference's CoordinateConverter with x kept, y and z flipped).
FLIP_P = np.array([1.0, -1.0, -1.0])
FLIP_Q = np.array([1.0, -1.0, -1.0])
FLIP_SH = np.array([-1, -1, 1, -1, 1, 1, -1, 1, -1, 1, -1, -1, 1, -1, 1], dtype=np.float64)

_HEADER = struct.Struct("<IIIBBBB")  # 16 bytes
_HEADER_V4 = struct.Struct("<IIIBBBBI12x")  # 32 bytes
_TOC_ENTRY = struct.Struct("<QQ")
_GZIP_MAGIC = b"\x1f\x8b"


def sniff(head: bytes, suffix: str) -> bool:
    """A raw NGSP header (version 4), or a gzip stream whose first bytes are one (versions 1-3)."""
    if head[:4] == b"NGSP":
        return True
    if head[:2] != _GZIP_MAGIC:
        return False
    try:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, 4) == b"NGSP"
    except zlib.error:
        return False


def _stream_sizes(n: int, sh_degree: int, version: int) -> list[int]:
    """Bytes of positions, alphas, colors, scales, rotations [, sh] for ``n`` splats."""
    sizes = [9 * n, n, 3 * n, 3 * n, (3 if version == 2 else 4) * n]
    if sh_degree:
        sizes.append((num_sh_bases(sh_degree) - 1) * 3 * n)
    return sizes


def _check_header(path: Path, version: int, n: int, sh_degree: int, fractional_bits: int, flags: int) -> None:
    if version == 1:
        raise ValueError(f"{path}: SPZ version 1 (half-float positions) is not supported; accepted: versions {VERSIONS}")
    if version not in VERSIONS:
        raise ValueError(f"{path}: SPZ version {version} is not supported; accepted: versions {VERSIONS}")
    if n > MAX_POINTS:
        raise ValueError(f"{path}: SPZ header claims {n:,} splats (more than the format's {MAX_POINTS:,}); corrupt file")
    if sh_degree > 3:
        raise ValueError(f"{path}: SPZ SH degree {sh_degree} is not supported; accepted: 0 to 3")
    if fractional_bits > 23:
        raise ValueError(f"{path}: SPZ fractionalBits {fractional_bits} leaves no integer bits (at most 23)")
    if flags & FLAG_EXTENSIONS:
        raise ValueError(f"{path}: SPZ with extensions (flag 0x2, e.g. Adobe SH quantization) is not supported")


def _gunzip(path: Path, data: bytes) -> tuple[tuple, list[bytes]]:
    """Header fields and attribute streams of a gzipped (version 2/3) file, bounded by its header."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        head = inflater.decompress(data, _HEADER.size)
        if len(head) < _HEADER.size:
            raise ValueError(f"{path}: truncated SPZ (no complete header)")
        fields = _HEADER.unpack(head)
        magic, version, n, sh_degree, fractional_bits, flags, _ = fields
        if magic != MAGIC:
            raise ValueError(f"{path}: gzip stream is not SPZ (no NGSP magic)")
        _check_header(path, version, n, sh_degree, fractional_bits, flags)
        sizes = _stream_sizes(n, sh_degree, version)
        body = inflater.decompress(inflater.unconsumed_tail, sum(sizes) + 1)
    except zlib.error as exc:
        raise ValueError(f"{path}: corrupt SPZ gzip stream ({exc})") from exc
    if len(body) != sum(sizes):
        what = f"truncated ({len(body)} bytes)" if len(body) < sum(sizes) else "longer than its header says"
        raise ValueError(f"{path}: SPZ body is {what}; {n} splats need {sum(sizes)} bytes")
    if not inflater.eof:
        raise ValueError(f"{path}: truncated SPZ (the gzip stream does not end)")
    offsets = np.cumsum([0] + sizes)
    return fields, [body[a:b] for a, b in zip(offsets[:-1], offsets[1:])]


def _unzstd(path: Path, data: bytes) -> tuple[tuple, list[bytes]]:
    """Header fields and attribute streams of a version 4 file (raw header, TOC, ZSTD frames)."""
    import zstandard

    if len(data) < _HEADER_V4.size:
        raise ValueError(f"{path}: truncated SPZ (no complete version 4 header)")
    magic, version, n, sh_degree, fractional_bits, flags, num_streams, toc = _HEADER_V4.unpack_from(data)
    _check_header(path, version, n, sh_degree, fractional_bits, flags)
    if version != 4:
        raise ValueError(f"{path}: an uncompressed NGSP header must be version 4, got version {version}")
    sizes = _stream_sizes(n, sh_degree, version)
    if num_streams != len(sizes):
        raise ValueError(f"{path}: SPZ v4 lists {num_streams} streams; SH degree {sh_degree} needs {len(sizes)}")
    start = toc + _TOC_ENTRY.size * num_streams
    if toc < _HEADER_V4.size or start > len(data):
        raise ValueError(f"{path}: SPZ v4 table of contents at byte {toc} lies outside the file ({len(data)} bytes)")
    entries = [_TOC_ENTRY.unpack_from(data, toc + i * _TOC_ENTRY.size) for i in range(num_streams)]
    if start + sum(c for c, _ in entries) != len(data):
        raise ValueError(f"{path}: SPZ v4 streams take {sum(c for c, _ in entries)} bytes, the file has {len(data) - start} after its table")
    streams, decompressor = [], zstandard.ZstdDecompressor()
    for i, ((compressed, uncompressed), expected) in enumerate(zip(entries, sizes)):
        if uncompressed != expected:
            raise ValueError(f"{path}: SPZ v4 stream {i} holds {uncompressed} bytes, {n} splats need {expected}")
        try:
            out = decompressor.decompress(data[start:start + compressed], max_output_size=expected)
        except zstandard.ZstdError as exc:
            raise ValueError(f"{path}: SPZ v4 stream {i} is not valid ZSTD ({exc})") from exc
        if len(out) != expected:
            raise ValueError(f"{path}: SPZ v4 stream {i} decompresses to {len(out)} bytes, expected {expected}")
        streams.append(out)
        start += compressed
    return (magic, version, n, sh_degree, fractional_bits, flags, 0), streams


def _unpack_smallest_three(comp: np.ndarray) -> np.ndarray:
    """u32 ``[N]`` → quaternions ``[N, 4]`` in the file's ``x y z w`` order."""
    largest = comp >> 30
    q = np.zeros((len(comp), 4))
    rest = comp.copy()
    for i in (3, 2, 1, 0):  # the last-stored component sits in the lowest bits
        stored = largest != i
        value = math.sqrt(0.5) * (rest & 511) / 511.0 * np.where((rest >> 9) & 1, -1.0, 1.0)
        q[stored, i] = value[stored]
        rest = np.where(stored, rest >> 10, rest)
    rows = np.arange(len(comp))
    q[rows, largest] = np.sqrt(np.maximum(0.0, 1.0 - (q**2).sum(-1)))
    return q


def _pack_smallest_three(q: np.ndarray) -> np.ndarray:
    """Unit quaternions ``[N, 4]`` (x y z w) → u32 ``[N]``."""
    largest = np.abs(q).argmax(-1)
    negate = q[np.arange(len(q)), largest] < 0
    comp = largest.astype(np.uint32)
    for i in range(4):
        stored = largest != i
        sign = ((q[:, i] < 0) ^ negate).astype(np.uint32)
        mag = np.minimum(np.floor(511.0 * np.abs(q[:, i]) / math.sqrt(0.5) + 0.5), 511).astype(np.uint32)
        comp = np.where(stored, (comp << 10) | (sign << 9) | mag, comp).astype(np.uint32)
    return comp


def read(path: str | os.PathLike) -> GaussianScene:
    """Read an SPZ file (versions 2-4) into activated values in the PLY (RDF) frame.

    Raises:
        ValueError: not SPZ, an unsupported version or extension, a truncated or corrupt
            stream, or sizes that disagree with the header (each checked before decoding).
    """
    path = Path(path)
    data = path.read_bytes()
    if data[:2] == _GZIP_MAGIC:
        fields, streams = _gunzip(path, data)
    elif data[:4] == b"NGSP":
        fields, streams = _unzstd(path, data)
    else:
        raise ValueError(f"{path}: not an SPZ file (neither gzip nor an NGSP header)")
    _, version, n, sh_degree, fractional_bits, _, _ = fields
    positions, alphas, colors, scales, rotations = streams[:5]

    b = np.frombuffer(positions, np.uint8).reshape(n, 3, 3).astype(np.int32)
    fixed = b[..., 0] | (b[..., 1] << 8) | (b[..., 2] << 16)
    fixed = (fixed ^ 0x800000) - 0x800000  # sign-extend 24 bits
    means = fixed / float(1 << fractional_bits)
    opacities = np.frombuffer(alphas, np.uint8) / 255.0
    f_dc = (np.frombuffer(colors, np.uint8).reshape(n, 3) / 255.0 - 0.5) / COLOR_SCALE
    log_scales = np.frombuffer(scales, np.uint8).reshape(n, 3) / 16.0 - 10.0
    if version == 2:
        xyz = np.frombuffer(rotations, np.uint8).reshape(n, 3) / 127.5 - 1.0
        xyzw = np.concatenate([xyz, np.sqrt(np.maximum(0.0, 1.0 - (xyz**2).sum(-1, keepdims=True)))], -1)
    else:
        xyzw = _unpack_smallest_three(np.frombuffer(rotations, "<u4").astype(np.uint32))
    k = num_sh_bases(sh_degree)
    sh = np.empty((n, k, 3))
    sh[:, 0] = f_dc
    if sh_degree:
        sh[:, 1:] = (np.frombuffer(streams[5], np.uint8).reshape(n, k - 1, 3) - 128.0) / 128.0

    means = means * FLIP_P
    xyzw[:, :3] *= FLIP_Q
    sh[:, 1:] *= FLIP_SH[: k - 1, None]

    def t(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))

    try:
        return GaussianScene(
            means=t(means), quats=t(xyzw[:, [3, 0, 1, 2]]), scales=t(np.exp(log_scales)), opacities=t(opacities), sh=t(sh)
        )
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def _quantize_sh(x: np.ndarray, bits: int) -> np.ndarray:
    bucket = 1 << (8 - bits)
    q = np.round(x * 128.0).astype(np.int64) + 128
    q = (q + bucket // 2) // bucket * bucket
    return np.clip(q, 0, 255).astype(np.uint8)


def encode(scene: GaussianScene, version: int = 3) -> bytes:
    """The bytes of ``scene`` (PLY / RDF frame) as an SPZ file of ``version`` (2, 3 or 4).

    Raises:
        ValueError: an unsupported version, or positions beyond the 24-bit fixed-point range
            (±2048 units at 12 fractional bits).
    """
    import zstandard

    if version not in VERSIONS:
        raise ValueError(f"SPZ version {version!r} cannot be written; accepted: {VERSIONS}")
    s = scene.to("cpu")
    n, sh_degree = len(s), s.sh_degree
    if n > MAX_POINTS:
        raise ValueError(f"SPZ holds at most {MAX_POINTS:,} splats, the scene has {n:,}")
    means = s.means.double().numpy() * FLIP_P
    fixed = np.round(means * (1 << FRACTIONAL_BITS)).astype(np.int64)
    if n and np.abs(fixed).max() >= 1 << 23:
        limit = (1 << 23) / (1 << FRACTIONAL_BITS)
        raise ValueError(f"SPZ positions must lie within ±{limit:g} units; the scene reaches {np.abs(means).max():.1f}")
    positions = np.stack([(fixed >> shift) & 0xFF for shift in (0, 8, 16)], -1).astype(np.uint8)
    alphas = _to_uint8(s.opacities.double().numpy() * 255.0)
    sh = s.sh.double().numpy()
    colors = _to_uint8(sh[:, 0] * (COLOR_SCALE * 255.0) + 0.5 * 255.0)
    scales = _to_uint8((np.log(s.scales.double().numpy()) + 10.0) * 16.0)
    wxyz = s.quats.double().numpy()
    xyzw = wxyz[:, [1, 2, 3, 0]] / np.linalg.norm(wxyz, axis=-1, keepdims=True)
    xyzw[:, :3] *= FLIP_Q
    if version == 2:
        rotations = _to_uint8(xyzw[:, :3] * np.where(xyzw[:, 3:] < 0, -127.5, 127.5) + 127.5)
    else:
        rotations = _pack_smallest_three(xyzw).astype("<u4")
    streams = [positions.tobytes(), alphas.tobytes(), colors.tobytes(), scales.tobytes(), rotations.tobytes()]
    if sh_degree:
        rest = sh[:, 1:] * FLIP_SH[: sh.shape[1] - 1, None]  # [N, K-1, 3]
        quantized = np.concatenate([_quantize_sh(rest[:, :3], SH1_BITS), _quantize_sh(rest[:, 3:], SH_REST_BITS)], 1)
        streams.append(quantized.tobytes())
    if version < 4:
        header = _HEADER.pack(MAGIC, version, n, sh_degree, FRACTIONAL_BITS, 0, 0)
        return gzip.compress(header + b"".join(streams), mtime=0)  # mtime 0: same scene, same bytes
    compressor = zstandard.ZstdCompressor(level=12)
    frames = [compressor.compress(stream) for stream in streams]
    header = _HEADER_V4.pack(MAGIC, 4, n, sh_degree, FRACTIONAL_BITS, 0, len(streams), _HEADER_V4.size)
    toc = b"".join(_TOC_ENTRY.pack(len(frame), len(stream)) for frame, stream in zip(frames, streams))
    return header + toc + b"".join(frames)


def write(path: str | os.PathLike, scene: GaussianScene, *, version: int = 3) -> None:
    """Write ``scene`` as SPZ (atomically). Version 3 is the default: the version most readers
    take (PlayCanvas, Spark and Niantic's own read 2 and 3; version 4 needs a recent reader)."""
    data = encode(scene, version)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
