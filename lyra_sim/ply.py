"""3DGS PLY files in the INRIA layout, as written by gsplat's ``export_splats``, SuperSplat and Lyra.

One ``vertex`` element with float properties::

    x y z [nx ny nz] f_dc_0..2 [f_rest_0..f_rest_{3(K-1)-1}] opacity scale_0..2 rot_0..3

Values in the file are *raw*: ``opacity`` is a logit, ``scale_*`` are natural logs,
``rot_*`` is an unnormalized ``w, x, y, z`` quaternion, and ``f_rest`` is channel-major
(all of red's higher-order coefficients, then green's, then blue's). This module is the one
place where raw values are converted to the activated values `GaussianScene` holds.

Optional semantic labels travel as an extra int ``label`` property plus a ``comment
label_names ...`` header line; other readers ignore both.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import plyfile
import torch

from .atomic import atomic_path
from .config import parse_json
from .scene import GaussianScene, num_sh_bases, sh_degree_from_bases

_LABEL_COMMENT = "lyra_sim label_names "
# Opacities of exactly 0 or 1 have infinite logits; the file stores this bound instead.
_MAX_LOGIT = 20.0


class PlyFormatError(ValueError):
    """The file is not a readable 3DGS PLY."""


# ---------------------------------------------------------------- raw <-> activated
def opacity_to_raw(opacities: np.ndarray) -> np.ndarray:
    """Activated opacities in [0, 1] → logits (float64 math, clipped to ±20)."""
    o = opacities.astype(np.float64)
    with np.errstate(divide="ignore"):
        logit = np.log(o) - np.log1p(-o)
    return np.clip(logit, -_MAX_LOGIT, _MAX_LOGIT)


def opacity_from_raw(raw: np.ndarray) -> np.ndarray:
    """Logits → opacities in [0, 1] (float64 math)."""
    return 1.0 / (1.0 + np.exp(-raw.astype(np.float64)))


def scale_to_raw(scales: np.ndarray) -> np.ndarray:
    return np.log(scales.astype(np.float64))


def scale_from_raw(raw: np.ndarray) -> np.ndarray:
    return np.exp(raw.astype(np.float64))


# ---------------------------------------------------------------- write
def _property_names(sh_degree: int, normals: bool) -> list[str]:
    k = num_sh_bases(sh_degree)
    names = ["x", "y", "z"]
    if normals:
        names += ["nx", "ny", "nz"]
    names += [f"f_dc_{i}" for i in range(3)]
    names += [f"f_rest_{i}" for i in range(3 * (k - 1))]
    names += ["opacity"] + [f"scale_{i}" for i in range(3)] + [f"rot_{i}" for i in range(4)]
    return names


def write_ply(
    path: str | os.PathLike,
    scene: GaussianScene,
    *,
    ascii: bool = False,
    normals: bool = True,
) -> None:
    """Write ``scene`` as an INRIA 3DGS PLY, atomically.

    Args:
        path: destination ``.ply``; replaced only once the new file is complete.
        ascii: write ``format ascii 1.0`` instead of binary little-endian.
        normals: include the (zero) ``nx ny nz`` properties that INRIA's trainer writes.
    """
    n = len(scene)
    names = _property_names(scene.sh_degree, normals)
    data = np.empty(n, dtype=[(name, "<f4") for name in names] + (
        [("label", "<i4")] if scene.labels is not None else []
    ))
    s = scene.to("cpu")
    means = s.means.numpy()
    for i, axis in enumerate("xyz"):
        data[axis] = means[:, i]
    if normals:
        for axis in ("nx", "ny", "nz"):
            data[axis] = 0.0
    sh = s.sh.numpy()  # [N, K, 3]
    for c in range(3):
        data[f"f_dc_{c}"] = sh[:, 0, c]
    rest = sh[:, 1:, :].transpose(0, 2, 1).reshape(n, 3 * (sh.shape[1] - 1))  # channel-major (explicit width: n may be 0)
    for i in range(rest.shape[1]):
        data[f"f_rest_{i}"] = rest[:, i]
    data["opacity"] = opacity_to_raw(s.opacities.numpy())
    log_scales = scale_to_raw(s.scales.numpy())
    quats = s.quats.numpy()
    for i in range(3):
        data[f"scale_{i}"] = log_scales[:, i]
    for i in range(4):
        data[f"rot_{i}"] = quats[:, i]
    comments = []
    if scene.labels is not None:
        data["label"] = s.labels.numpy().astype(np.int32)
        comments.append(_LABEL_COMMENT + json.dumps(list(scene.label_names), separators=(",", ":")))
    ply = plyfile.PlyData(
        [plyfile.PlyElement.describe(data, "vertex")], text=ascii, byte_order="<", comments=comments
    )
    with atomic_path(path) as tmp:
        ply.write(str(tmp))


# ---------------------------------------------------------------- read
def _read_plydata(path: Path) -> plyfile.PlyData:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    with open(path, "rb") as f:
        magic = f.read(5)
    if not (magic.startswith(b"ply\n") or magic == b"ply\r\n"):
        raise PlyFormatError(f"{path}: not a PLY file (it does not start with 'ply')")
    try:
        # plyfile parses binary data row by row (seconds per 100k Gaussians) unless it may
        # memory-map the file; map it copy-on-write, then copy every element into memory so
        # no mapping (and no open file) outlives this call and errors surface here.
        with open(path, "rb") as f:
            ply = plyfile.PlyData.read(f, mmap="c")
            for element in ply.elements:
                element.data = np.array(element.data)
    except (plyfile.PlyParseError, plyfile.PlyHeaderParseError) as exc:
        raise PlyFormatError(f"{path}: malformed or truncated PLY ({exc})") from exc
    except (ValueError, EOFError, IndexError, UnicodeDecodeError, MemoryError, OverflowError) as exc:
        raise PlyFormatError(f"{path}: malformed or truncated PLY ({type(exc).__name__}: {exc})") from exc
    _check_body_length(path, ply)
    return ply


def _check_body_length(path: Path, ply: plyfile.PlyData) -> None:
    """Refuse data after the rows the header declares: a header that under-counts its vertices
    would otherwise be read as a smaller scene, the rest ignored without a word (plyfile stops
    after the declared count)."""
    with open(path, "rb") as f:
        head = f.read(1 << 16)
        end = head.find(b"\n", head.find(b"end_header")) + 1
        f.seek(end)
        body = f.read() if ply.text else None
    rows = sum(len(e.data) for e in ply.elements)
    if ply.text:
        lines = sum(1 for line in body.splitlines() if line.strip())
        if lines > rows:
            raise PlyFormatError(f"{path}: {lines} data lines after a header that declares {rows} rows "
                                 f"({', '.join(f'{len(e.data)} {e.name}' for e in ply.elements)}): the header under-counts")
        return
    if any(isinstance(p, plyfile.PlyListProperty) for e in ply.elements for p in e.properties):
        return  # rows of list properties have no fixed size (no 3DGS file has them)
    expected = end + sum(len(e.data) * e.data.dtype.itemsize for e in ply.elements)
    size = path.stat().st_size
    if size > expected:
        raise PlyFormatError(
            f"{path}: {size - expected:,} bytes after the rows the header declares "
            f"({', '.join(f'{len(e.data):,} {e.name}' for e in ply.elements)}; {expected:,} bytes in all): "
            "the header under-counts"
        )


def read_ply(path: str | os.PathLike, device: torch.device | str = "cpu") -> GaussianScene:
    """Read an INRIA 3DGS PLY (binary little/big-endian or ASCII; SH degree 0..3; normals optional).

    Raises:
        PlyFormatError: not a PLY, truncated, no ``vertex`` element, a missing property,
            an ``f_rest`` count that is no SH degree, or values that fail `GaussianScene`
            validation (NaN, inf, ...), with the file and the problem named.
    """
    path = Path(path)
    ply = _read_plydata(path)
    if "vertex" not in ply:
        raise PlyFormatError(f"{path}: no 'vertex' element (found: {[e.name for e in ply.elements]})")
    vertex = ply["vertex"].data
    present = set(vertex.dtype.names or ())
    required = ["x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity"]
    required += [f"scale_{i}" for i in range(3)] + [f"rot_{i}" for i in range(4)]
    missing = [name for name in required if name not in present]
    if missing:
        raise PlyFormatError(
            f"{path}: missing 3DGS properties {missing}; an INRIA 3DGS PLY has "
            "x y z f_dc_0..2 [f_rest_*] opacity scale_0..2 rot_0..3"
        )
    n_rest = sum(1 for name in present if name.startswith("f_rest_"))
    if n_rest % 3:
        raise PlyFormatError(f"{path}: {n_rest} f_rest properties is not a multiple of 3")
    try:
        k = 1 + n_rest // 3
        sh_degree_from_bases(k)
    except ValueError as exc:
        raise PlyFormatError(f"{path}: {n_rest} f_rest properties match no SH degree 0..3") from exc
    absent_rest = [f"f_rest_{i}" for i in range(n_rest) if f"f_rest_{i}" not in present]
    if absent_rest:
        raise PlyFormatError(f"{path}: f_rest properties are not numbered 0..{n_rest - 1} (missing {absent_rest[:3]})")

    n = len(vertex)

    def col(name: str) -> np.ndarray:
        return np.asarray(vertex[name], dtype=np.float64)

    means = np.stack([col("x"), col("y"), col("z")], -1)
    sh = np.empty((n, k, 3), dtype=np.float64)
    for c in range(3):
        sh[:, 0, c] = col(f"f_dc_{c}")
    if n_rest:
        rest = np.stack([col(f"f_rest_{i}") for i in range(n_rest)], -1)  # [N, 3*(K-1)]
        sh[:, 1:, :] = rest.reshape(n, 3, k - 1).transpose(0, 2, 1)
    raw_opacity = col("opacity")
    raw_scales = np.stack([col(f"scale_{i}") for i in range(3)], -1)
    quats = np.stack([col(f"rot_{i}") for i in range(4)], -1)
    for name, value in (("opacity", raw_opacity), ("scale", raw_scales)):
        if not np.isfinite(value).all():
            raise PlyFormatError(f"{path}: {name}: {int((~np.isfinite(value)).sum())} non-finite raw value(s)")

    labels = None
    label_names: tuple[str, ...] = ()
    comment = next((c for c in ply.comments if c.startswith(_LABEL_COMMENT)), None)
    if "label" in present and comment is not None:
        try:
            label_names = parse_json(comment[len(_LABEL_COMMENT):], "label_names comment")
        except ValueError as exc:
            raise PlyFormatError(f"{path}: {exc}") from None
        if not (isinstance(label_names, list) and all(isinstance(n, str) for n in label_names)):
            raise PlyFormatError(f"{path}: the label_names comment is not a JSON list of strings")
        label_names = tuple(label_names)
        labels = torch.from_numpy(np.asarray(vertex["label"], dtype=np.int64))

    def t(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))

    try:
        scene = GaussianScene(
            means=t(means),
            quats=t(quats),
            scales=t(scale_from_raw(raw_scales)),
            opacities=t(opacity_from_raw(raw_opacity)),
            sh=t(sh),
            labels=labels,
            label_names=label_names,
        )
    except ValueError as exc:
        raise PlyFormatError(f"{path}: {exc}") from exc
    return scene.to(device)
