"""Triangle-mesh helpers shared by the exporters: normals, canonical order, surface samples,
ray casting, file-safe names. Meshes are ``vertices [V, 3]`` float and ``faces [F, 3]`` int."""

from __future__ import annotations

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
    unique, inverse = np.unique(vertices, axis=0, return_inverse=True)  # rows sorted lexicographically
    f = inverse.reshape(-1)[faces]
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


def safe_name(text: str) -> str:
    """``text`` with every character but letters, digits, ``_`` and ``-`` replaced by ``_``
    (MJCF / URDF names, part file names)."""
    return "".join(c if c.isalnum() or c in "_-" else "_" for c in text)
