"""Exact clearance of a vertical cylinder (a mobile base) from a triangle mesh, for checking collision handling.

The body is the cylinder of radius ``r`` around the vertical axis through ``center = (x, y)``
between heights ``z0`` and ``z1``. It overlaps a *solid* bounded by a closed mesh iff the
horizontal distance from the axis to the mesh's surface within ``[z0, z1]`` is below ``r``, or the
axis lies inside the solid (then it may touch no surface at all). `horizontal_distance` computes
the first exactly: the part of each triangle within the height band is a convex polygon whose
edges are the triangle's edges clipped to the band and its cuts with the planes ``z0`` and ``z1``;
the distance from the axis is 0 when the vertical line through the center meets the triangle
within the band, else the least distance, in the floor plane, from the center to those edges.
`inside` tests points against a closed mesh (Open3D's ray-cast occupancy).

Used by the tests and benchmarks of moving colliders (`benchmarks/dynamic_assets.py`).
"""

from __future__ import annotations

import numpy as np


def _segment_distance(c: np.ndarray, a: np.ndarray, b: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Floor-plane distances ``[F]`` from ``c [2]`` to segments ``a, b [F, 2]`` (inf where not ``valid``)."""
    ab = b - a
    t = np.clip(np.einsum("fi,fi->f", c - a, ab) / np.maximum(np.einsum("fi,fi->f", ab, ab), 1e-30), 0.0, 1.0)
    d = np.linalg.norm(a + t[:, None] * ab - c, axis=1)
    return np.where(valid, d, np.inf)


def horizontal_distance(vertices: np.ndarray, faces: np.ndarray, center, z0: float, z1: float) -> float:
    """Least floor-plane distance (m) from the vertical axis through ``center`` to the mesh within ``[z0, z1]``
    (inf when no face reaches the band)."""
    c = np.asarray(center, dtype=np.float64)
    tri = np.asarray(vertices, dtype=np.float64)[np.asarray(faces)]
    best = np.inf
    for i in range(3):  # the triangle's edges, clipped to the band
        p, q = tri[:, i], tri[:, (i + 1) % 3]
        dz = q[:, 2] - p[:, 2]
        flat = np.abs(dz) < 1e-15
        with np.errstate(divide="ignore", invalid="ignore"):
            s0 = np.where(flat, -np.inf, (z0 - p[:, 2]) / dz)
            s1 = np.where(flat, np.inf, (z1 - p[:, 2]) / dz)
        enter, leave = np.minimum(s0, s1), np.maximum(s0, s1)
        lo, hi = np.clip(enter, 0.0, 1.0), np.clip(leave, 0.0, 1.0)
        inside_flat = (p[:, 2] >= z0) & (p[:, 2] <= z1)
        valid = np.where(flat, inside_flat, (enter <= 1.0) & (leave >= 0.0))
        a = p[:, :2] + lo[:, None] * (q[:, :2] - p[:, :2])
        b = p[:, :2] + hi[:, None] * (q[:, :2] - p[:, :2])
        best = min(best, float(_segment_distance(c, a, b, valid).min(initial=np.inf)))
    for h in (z0, z1):  # the triangle's cuts with the band's planes
        side = tri[..., 2] - h
        points, counts = np.zeros((len(tri), 2, 2)), np.zeros(len(tri), dtype=np.int64)
        for i in range(3):
            p, q = tri[:, i], tri[:, (i + 1) % 3]
            sp, sq = side[:, i], side[:, (i + 1) % 3]
            cross = (sp * sq < 0)
            with np.errstate(divide="ignore", invalid="ignore"):
                s = np.where(cross, sp / (sp - sq), 0.0)
            x = p[:, :2] + s[:, None] * (q[:, :2] - p[:, :2])
            slot = np.minimum(counts, 1)
            rows = np.nonzero(cross)[0]
            points[rows, slot[rows]] = x[rows]
            counts += cross
        best = min(best, float(_segment_distance(c, points[:, 0], points[:, 1], counts == 2).min(initial=np.inf)))
    # The vertical line through the center meeting a face within the band: distance 0.
    a, b, d = tri[:, 0], tri[:, 1], tri[:, 2]
    v0, v1, v2 = b[:, :2] - a[:, :2], d[:, :2] - a[:, :2], c - a[:, :2]
    den = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
    ok = np.abs(den) > 1e-15
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.where(ok, (v2[:, 0] * v1[:, 1] - v1[:, 0] * v2[:, 1]) / den, -1.0)
        w = np.where(ok, (v0[:, 0] * v2[:, 1] - v2[:, 0] * v0[:, 1]) / den, -1.0)
    hit = ok & (u >= 0) & (w >= 0) & (u + w <= 1)
    z = a[:, 2] + u * (b[:, 2] - a[:, 2]) + w * (d[:, 2] - a[:, 2])
    if bool((hit & (z >= z0) & (z <= z1)).any()):
        return 0.0
    return best


def inside(vertices: np.ndarray, faces: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``[P]`` bool: which ``points [P, 3]`` lie inside the closed mesh (ray-cast occupancy, majority of 3 rays)."""
    import open3d as o3d
    import open3d.core as o3c

    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(np.asarray(vertices, np.float32), np.asarray(faces, np.uint32))
    occ = scene.compute_occupancy(o3c.Tensor(np.asarray(points, np.float32)), nsamples=3)
    return occ.numpy() > 0.5


__all__ = ["horizontal_distance", "inside"]
