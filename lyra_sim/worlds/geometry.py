"""Closed primitives (box, cylinder/frustum/cone, ellipsoid) as indexed quad meshes.

Every primitive is a watertight surface made of *planar* quads (a triangle is a quad with
two equal corner indices). The same quads serve two purposes, which keeps them consistent
by construction:

- triangulated, they are the ground-truth mesh (every edge shared by exactly two faces,
  outward winding);
- sampled bilinearly (`lyra_sim.worlds.sampling`), they give Gaussian centers that lie
  exactly on that mesh, curved primitives included (samples sit on the facets, not on the
  ideal curve).

Local frames: boxes and ellipsoids are centered at the origin; cylinders, frustums and
cones stand on the z = 0 plane around the z axis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

FACET_LENGTH = 0.04
"""Target facet edge (m) around curved primitives; the sampler adds detail within a facet."""


@dataclass(frozen=True)
class QuadMesh:
    """A closed surface of planar quads.

    Attributes:
        vertices: ``[V, 3]`` float64.
        quads: ``[Q, 4]`` int64 corner indices ``(p00, p10, p11, p01)`` counter-clockwise seen
            from outside; a triangle repeats one index (a collapsed edge).
    """

    vertices: np.ndarray
    quads: np.ndarray

    def transformed(self, rotation: np.ndarray, translation: np.ndarray) -> "QuadMesh":
        """The mesh under ``x ↦ R x + t`` (``R [3, 3]`` proper rotation, ``t [3]``)."""
        return QuadMesh(self.vertices @ np.asarray(rotation).T + np.asarray(translation), self.quads)

    def triangles(self) -> np.ndarray:
        """``[F, 3]`` triangle indices: each quad split along ``p00–p11``, degenerate halves dropped."""
        q = self.quads
        tris = np.concatenate([q[:, [0, 1, 2]], q[:, [0, 2, 3]]])
        ok = (tris[:, 0] != tris[:, 1]) & (tris[:, 1] != tris[:, 2]) & (tris[:, 0] != tris[:, 2])
        return tris[ok]


def _ring(radius: float, z: float, sections: int) -> np.ndarray:
    theta = np.arange(sections) * (2 * math.pi / sections)
    return np.stack([radius * np.cos(theta), radius * np.sin(theta), np.full(sections, z)], -1)


def sections_for(radius: float) -> int:
    """Facets around a circle of ``radius`` meters: ~`FACET_LENGTH` long, 12..64 of them."""
    return int(np.clip(math.ceil(2 * math.pi * radius / FACET_LENGTH), 12, 64))


def box(size) -> QuadMesh:
    """Axis-aligned box of ``size = (sx, sy, sz)`` centered at the origin."""
    h = np.asarray(size, dtype=np.float64) / 2
    signs = np.array([[x, y, z] for z in (-1, 1) for y in (-1, 1) for x in (-1, 1)], dtype=np.float64)
    vertices = signs * h  # index = x_bit + 2 y_bit + 4 z_bit
    quads = np.array(
        [
            [0, 2, 3, 1],  # -z
            [4, 5, 7, 6],  # +z
            [0, 1, 5, 4],  # -y
            [2, 6, 7, 3],  # +y
            [0, 4, 6, 2],  # -x
            [1, 3, 7, 5],  # +x
        ],
        dtype=np.int64,
    )
    return QuadMesh(vertices, quads)


def frustum(r_bottom: float, r_top: float, height: float, sections: int | None = None) -> QuadMesh:
    """Solid of revolution around z from z = 0 (radius ``r_bottom``) to ``height`` (``r_top``).

    ``r_top = r_bottom`` is a cylinder, ``r_top = 0`` a cone (apex is a single vertex).
    """
    if r_bottom <= 0 or height <= 0 or r_top < 0:
        raise ValueError(f"frustum: need r_bottom > 0, height > 0, r_top >= 0, got {r_bottom}, {r_top}, {height}")
    n = sections or sections_for(max(r_bottom, r_top))
    j = np.arange(n)
    jn = (j + 1) % n
    bottom = _ring(r_bottom, 0.0, n)
    cb = n  # bottom center
    if r_top > 0:
        top = _ring(r_top, height, n)
        vertices = np.concatenate([bottom, [[0.0, 0.0, 0.0]], top, [[0.0, 0.0, height]]])
        t0, ct = n + 1, 2 * n + 1
        side = np.stack([j, jn, t0 + jn, t0 + j], -1)
        cap_top = np.stack([np.full(n, ct), t0 + j, t0 + jn, np.full(n, ct)], -1)
    else:
        vertices = np.concatenate([bottom, [[0.0, 0.0, 0.0]], [[0.0, 0.0, height]]])
        apex = n + 1
        side = np.stack([j, jn, np.full(n, apex), np.full(n, apex)], -1)
        cap_top = np.zeros((0, 4), dtype=np.int64)
    cap_bottom = np.stack([np.full(n, cb), jn, j, np.full(n, cb)], -1)
    return QuadMesh(vertices, np.concatenate([side, cap_bottom, cap_top]).astype(np.int64))


def cylinder(radius: float, height: float, sections: int | None = None) -> QuadMesh:
    """Cylinder around z from z = 0 to ``height``."""
    return frustum(radius, radius, height, sections)


def ellipsoid(radii) -> QuadMesh:
    """Ellipsoid with semi-axes ``radii = (a, b, c)`` centered at the origin (a latitude–longitude mesh).

    Lat-long quads of a sphere are isosceles trapezoids, hence planar, and an axis scaling
    keeps them planar: the samples stay on the mesh.
    """
    radii = np.asarray(radii, dtype=np.float64)
    n_lon = sections_for(float(radii[:2].max()))
    n_lat = max(6, n_lon // 2)
    phi = np.arange(1, n_lat) * (math.pi / n_lat)  # polar angles of the inner rings
    theta = np.arange(n_lon) * (2 * math.pi / n_lon)
    rings = np.stack(
        [
            np.sin(phi)[:, None] * np.cos(theta)[None],
            np.sin(phi)[:, None] * np.sin(theta)[None],
            np.broadcast_to(np.cos(phi)[:, None], (n_lat - 1, n_lon)),
        ],
        -1,
    ).reshape(-1, 3)
    vertices = np.concatenate([rings, [[0.0, 0.0, 1.0]], [[0.0, 0.0, -1.0]]]) * radii
    north, south = len(rings), len(rings) + 1
    j = np.arange(n_lon)
    jn = (j + 1) % n_lon
    quads = [np.stack([np.full(n_lon, north), j, jn, np.full(n_lon, north)], -1)]
    for i in range(n_lat - 2):  # ring i (upper) to ring i + 1 (lower)
        a, b = i * n_lon, (i + 1) * n_lon
        quads.append(np.stack([b + j, b + jn, a + jn, a + j], -1))
    last = (n_lat - 2) * n_lon
    quads.append(np.stack([np.full(n_lon, south), last + jn, last + j, np.full(n_lon, south)], -1))
    return QuadMesh(vertices, np.concatenate(quads).astype(np.int64))


def rot_z(angle: float) -> np.ndarray:
    """``[3, 3]`` rotation by ``angle`` radians about +z."""
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rot_x(angle: float) -> np.ndarray:
    """``[3, 3]`` rotation by ``angle`` radians about +x."""
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def rot_y(angle: float) -> np.ndarray:
    """``[3, 3]`` rotation by ``angle`` radians about +y."""
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
