"""Triangle-mesh helpers shared by the exporters: normals, canonical order, surface samples,
ray casting, file-safe names. Meshes are ``vertices [V, 3]`` float and ``faces [F, 3]`` int."""

from __future__ import annotations

import hashlib
import re
from typing import Collection, Sequence

import numpy as np


def face_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Unnormalized face normals ``[F, 3]`` (length = 2 × area), right-hand rule."""
    v = vertices[faces]
    return np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])


def canonical_order(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same surface with coincident vertices merged, vertices sorted by (x, y, z), faces sorted.

    Windings are kept; faces that collapse when coincident vertices merge are dropped. Makes
    results independent of the order in which a multithreaded library emitted them (Open3D's
    marching cubes may emit two vertices at one position, in either order).
    """
    if len(faces) == 0:
        return vertices[:0], faces
    # np.unique(vertices, axis=0, return_inverse=True), through lexsort: the same arrays, 5x faster.
    order = np.lexsort(vertices.T[::-1])  # rows sorted lexicographically by (x, y, z)
    ranked = vertices[order]
    first = np.ones(len(ranked), dtype=bool)
    first[1:] = (ranked[1:] != ranked[:-1]).any(1)
    unique = ranked[first]
    inverse = np.empty(len(vertices), dtype=np.int64)
    inverse[order] = np.cumsum(first) - 1
    f = inverse[faces]
    f = f[(f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])]
    # Rotate each face so its smallest index comes first (same winding), then sort faces.
    shift = np.argmin(f, axis=1)
    rows = np.arange(len(f))[:, None]
    f = f[rows, (shift[:, None] + np.arange(3)) % 3]
    f = f[np.lexsort(f.T[::-1])]
    used = np.zeros(len(unique), dtype=bool)
    used[f.ravel()] = True
    remap = np.cumsum(used) - 1
    return unique[used], remap[f]


# ---------------------------------------------------------------- cleanup


def sample_surface(
    vertices: np.ndarray, faces: np.ndarray, count: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Area-weighted uniform samples on a triangle mesh.

    Returns:
        ``(points [count, 3], unit normals [count, 3], face index [count])``; degenerate faces
        are never picked.
    """
    tri = vertices[faces]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    area = np.linalg.norm(cross, axis=1)
    if not area.sum() > 0:
        raise ValueError("sample_surface: the mesh has zero area")
    face = rng.choice(len(faces), size=count, p=area / area.sum())
    r1, r2 = rng.random(count), rng.random(count)
    s = np.sqrt(r1)
    w = np.stack([1 - s, s * (1 - r2), s * r2], axis=1)  # uniform barycentrics
    points = np.einsum("ni,nij->nj", w, tri[face])
    normals = cross[face] / area[face, None]
    return points, normals, face


def raycasting_scene(vertices: np.ndarray, faces: np.ndarray):
    """An Open3D ``RaycastingScene`` holding the triangle mesh (ray casts, closest points, distances)."""
    import open3d as o3d

    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(vertices.astype(np.float32), faces.astype(np.uint32))
    return scene


MAX_NAME = 64
"""Characters of a name made from a label at most (labels come from imported files: any length)."""


def _identifier(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_]", "_", text)
    return name if name and not name[0].isdigit() else f"_{name}"


def safe_name(text: str) -> str:
    """``text`` as an identifier: ASCII letters, digits and ``_`` (others become ``_``), not starting
    with a digit, at most `MAX_NAME` characters (longer ones are cut and end in 8 hex of their sha256)."""
    name = _identifier(text)
    return name if len(name) <= MAX_NAME else f"{name[:MAX_NAME - 9]}_{_digest(text)}"


def _digest(text: str, salt: int = 0) -> str:
    return hashlib.sha256(f"{salt}\n{text}".encode() if salt else text.encode()).hexdigest()[:8]


def safe_names(labels: Sequence[str], reserved: Collection[str] = ()) -> dict[str, str]:
    """A distinct `safe_name` per label (MJCF bodies, URDF links, USD prims, part file names).

    Labels that would share a name ("chair 1", "chair_1"), or take a ``reserved`` one, get their
    sha256 appended instead, so no two labels ever write the same file or prim. Depends only on
    ``labels`` (in order) and ``reserved``.

    Raises:
        ValueError: a label appears twice (two objects cannot be told apart).
    """
    out: dict[str, str] = {}
    taken = set(reserved)
    for label in labels:
        if label in out:
            raise ValueError(f"label names: {label!r} appears twice; every label must be distinct")
        name, salt = safe_name(label), 0
        while name in taken:
            salt += 1
            name = f"{_identifier(label)[:MAX_NAME - 9]}_{_digest(label, salt)}"
        out[label] = name
        taken.add(name)
    return out
