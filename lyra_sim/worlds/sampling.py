"""Surfaces → thin, surface-aligned Gaussians (and the ground-truth triangle meshes).

Each planar quad of every primitive is covered by a regular ``nu × nv`` grid of cells no
larger than the spacing; one Gaussian sits at each cell center (bilinear in the quad, so
exactly on the mesh), flattened along the quad normal (local z → normal) and as wide as
its cell along the surface. A parametric grid leaves no holes, unlike random triangle
sampling. Everything is vectorized over all quads at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lyra_sim.worlds.geometry import QuadMesh


@dataclass(frozen=True)
class SurfacePrimitive:
    """A closed primitive in the world with its look and label.

    Attributes:
        mesh: the primitive, world frame.
        texture: texture (material) name in `lyra_sim.worlds.materials.MATERIALS`.
        color: ``[3]`` base albedo.
        label: index into the scene's label table.
        tex_frame: ``[3, 3]`` rows = world directions of the texture axes (grain first).
        tex_origin: ``[3]`` world texture origin.
        key: per-primitive random value in [0, 1) (varies boards, books, tiles).
        base_z: height the primitive's object rests at; its down-facing faces there are
            hidden (they touch the floor or a support) and get no Gaussians.
        shell: a room slab (floor/wall/ceiling): only its faces toward the interior get Gaussians.
    """

    mesh: QuadMesh
    texture: str
    color: np.ndarray
    label: int
    tex_frame: np.ndarray
    tex_origin: np.ndarray
    key: float
    base_z: float = -math.inf
    shell: bool = False


@dataclass(frozen=True)
class Samples:
    """N surface samples.

    Attributes:
        points: ``[N, 3]`` positions on the mesh.
        normals: ``[N, 3]`` unit outward normals.
        tangents: ``[N, 3]`` unit tangents (first surface axis).
        sigmas: ``[N, 2]`` tangential standard deviations (along ``tangents`` and ``normals × tangents``).
        primitive: ``[N]`` index of the primitive each sample lies on.
        spacing: the sample spacing actually used (m), after the Gaussian budget.
    """

    points: np.ndarray
    normals: np.ndarray
    tangents: np.ndarray
    sigmas: np.ndarray
    primitive: np.ndarray
    spacing: float


def _quads(prims: list[SurfacePrimitive], room_lo: np.ndarray, room_hi: np.ndarray):
    """All sampled quads: corners ``[Q, 4, 3]``, normals ``[Q, 3]``, primitive index ``[Q]``."""
    corners = np.concatenate([p.mesh.vertices[p.mesh.quads] for p in prims])
    owner = np.concatenate([np.full(len(p.mesh.quads), i) for i, p in enumerate(prims)])
    n = np.cross(corners[:, 2] - corners[:, 0], corners[:, 3] - corners[:, 1])
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    shell = np.array([p.shell for p in prims])[owner]
    center = corners.mean(1)
    inside = ((center >= room_lo - 1e-6) & (center <= room_hi + 1e-6)).all(1)
    inward = np.einsum("qc,qc->q", n, (room_lo + room_hi) / 2 - center) > 0
    keep = ~shell | (inside & inward)
    return corners[keep], n[keep], owner[keep]


def _grid_counts(corners: np.ndarray, spacing: float) -> tuple[np.ndarray, np.ndarray]:
    a, b, c, d = corners[:, 0], corners[:, 1], corners[:, 2], corners[:, 3]
    lu = np.maximum(np.linalg.norm(b - a, axis=1), np.linalg.norm(c - d, axis=1))
    lv = np.maximum(np.linalg.norm(d - a, axis=1), np.linalg.norm(c - b, axis=1))
    return np.maximum(1, np.ceil(lu / spacing - 1e-9)).astype(np.int64), np.maximum(
        1, np.ceil(lv / spacing - 1e-9)
    ).astype(np.int64)


def sample_surfaces(
    prims: list[SurfacePrimitive],
    spacing: float,
    max_samples: int,
    room_lo: np.ndarray,
    room_hi: np.ndarray,
    tangent_scale: float = 0.7,
) -> Samples:
    """Grid-sample every visible quad of ``prims``.

    Args:
        spacing: target distance (m) between neighboring samples; raised when the scene
            would exceed ``max_samples`` (large rooms keep their look, with coarser detail).
        room_lo, room_hi: ``[3]`` interior box, to keep only the inner faces of room slabs.
        tangent_scale: tangential σ as a fraction of the local cell size (0.7 leaves no gaps
            between neighbors at opacity ~1).
    """
    corners, normals, owner = _quads(prims, np.asarray(room_lo), np.asarray(room_hi))
    nu, nv = _grid_counts(corners, spacing)
    while int((nu * nv).sum()) > max_samples:
        spacing *= math.sqrt((nu * nv).sum() / max_samples) * 1.01
        nu, nv = _grid_counts(corners, spacing)

    counts = nu * nv
    q = np.repeat(np.arange(len(corners)), counts)
    k = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    nuq, nvq = nu[q], nv[q]
    u = ((k % nuq) + 0.5) / nuq
    v = ((k // nuq) + 0.5) / nvq
    a, b, c, d = (corners[q, i] for i in range(4))
    uu, vv = u[:, None], v[:, None]
    points = (1 - uu) * (1 - vv) * a + uu * (1 - vv) * b + uu * vv * c + (1 - uu) * vv * d
    du = (1 - vv) * (b - a) + vv * (c - d)
    dv = (1 - uu) * (d - a) + uu * (c - b)
    n = normals[q]
    len_u, len_v = np.linalg.norm(du, axis=1), np.linalg.norm(dv, axis=1)
    t = np.where((len_u > 1e-9)[:, None], du, dv)  # collapsed edges of fan quads have du = 0
    t = t - np.einsum("nc,nc->n", t, n)[:, None] * n
    t /= np.linalg.norm(t, axis=1, keepdims=True)
    floor_sigma = 0.15 * spacing * tangent_scale
    sigmas = np.stack([len_u / nuq, len_v / nvq], -1) * tangent_scale
    sigmas = np.maximum(sigmas, floor_sigma)

    base_z = np.array([p.base_z for p in prims])[owner[q]]
    hidden = (n[:, 2] < -0.99) & (np.abs(points[:, 2] - base_z) < 1e-4)  # bottoms resting on something
    keep = ~hidden
    return Samples(points[keep], n[keep], t[keep], sigmas[keep], owner[q][keep], spacing)


def frame_quats(t: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Unit wxyz quaternions ``[N, 4]`` (w >= 0) of the rotations with columns ``(t, n × t, n)``.

    Local z goes to the normal ``n``; ``t [N, 3]`` must be a unit vector orthogonal to it.
    Shepperd's method, per sample the best-conditioned of four formulas (numpy, float64:
    a few times faster than the general batched torch conversion on large scenes).
    """
    b = np.cross(n, t)
    m00, m10, m20 = t[:, 0], t[:, 1], t[:, 2]
    m01, m11, m21 = b[:, 0], b[:, 1], b[:, 2]
    m02, m12, m22 = n[:, 0], n[:, 1], n[:, 2]
    diag = np.stack([1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], -1)
    best = diag.argmax(-1)
    q = np.empty((len(t), 4))
    rows = (
        (diag[:, 0], m21 - m12, m02 - m20, m10 - m01),
        (m21 - m12, diag[:, 1], m01 + m10, m02 + m20),
        (m02 - m20, m01 + m10, diag[:, 2], m12 + m21),
        (m10 - m01, m02 + m20, m12 + m21, diag[:, 3]),
    )  # row i = 4 q_i q
    for i, row in enumerate(rows):
        sel = best == i
        q[sel] = np.stack([c[sel] for c in row], -1)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return np.where(q[:, :1] < 0, -q, q)
