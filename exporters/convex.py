"""Convex decomposition (CoACD) of objects, for dynamic-body colliders.

PhysX cooks GPU convex hulls of at most 64 vertices (and MuJoCo, PyBullet and Isaac Lab all
prefer small hulls), so every part is held to `ConvexConfig.max_hull_vertices`: CoACD's own
``max_ch_vertex`` limit (with ``decimate=True``), then a check that re-simplifies any hull
still above it.

What is decomposed: CoACD treats its input as the boundary of a solid. An *object* seen from
outside is one (its normals point away from it); a room seen from inside is not (its normals
point into the room, whose air CoACD would fill with hulls). `decompose_objects` therefore
splits the collision mesh by semantic label (the label of the nearest Gaussian per face) and
decomposes the labeled segments that face outward; the room shell stays a static collider.
A scene without labels is decomposed whole only if it faces outward (an object scan).

Determinism: CoACD takes a ``seed``; the same mesh, config and seed give the same parts
(checked in the tests). Parts come in CoACD's order, each hull in a canonical vertex order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .mesh_tools import canonical_order, face_normals
from .pieces import ConvexPiece, convex_hull


@dataclass(frozen=True)
class ConvexConfig:
    """Settings of `decompose` (CoACD's parameters; defaults favour speed over fine detail).

    Attributes:
        threshold: CoACD concavity threshold (smaller: more, tighter parts).
        max_parts: most parts per decomposed mesh (-1: no limit).
        max_hull_vertices: vertex limit of every part (PhysX GPU: 64).
        resolution: CoACD's sampling resolution.
        preprocess_resolution: voxel resolution of CoACD's manifold preprocessing.
        mcts_iterations, mcts_nodes, mcts_max_depth: CoACD's cut search budget.
        min_faces: segments with fewer faces are not decomposed.
        seed: CoACD's random seed.
    """

    threshold: float = 0.08
    max_parts: int = 16
    max_hull_vertices: int = 64
    resolution: int = 1000
    preprocess_resolution: int = 30
    mcts_iterations: int = 60
    mcts_nodes: int = 10
    mcts_max_depth: int = 2
    min_faces: int = 20
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.threshold <= 1:
            raise ValueError(f"threshold: expected a value in (0, 1], got {self.threshold}")
        if not 4 <= self.max_hull_vertices:
            raise ValueError(f"max_hull_vertices: expected >= 4, got {self.max_hull_vertices}")
        if self.max_parts == 0 or self.max_parts < -1:
            raise ValueError(f"max_parts: expected a positive count or -1, got {self.max_parts}")


def _coacd():
    try:
        import coacd
    except ImportError as exc:
        raise ImportError(
            "convex decomposition needs CoACD; install it with: pip install \"lyra-sim[convex]\""
        ) from exc
    return coacd


def limit_vertices(piece: ConvexPiece, max_vertices: int) -> ConvexPiece:
    """``piece`` with at most ``max_vertices`` hull vertices.

    Above the limit the hull is rebuilt from a farthest-point subset of its vertices (which
    keeps the extreme points, so the part shrinks least). Deterministic.
    """
    if len(piece.vertices) <= max_vertices:
        return piece
    v = piece.vertices
    chosen = [int(np.argmax(np.linalg.norm(v - v.mean(0), axis=1)))]
    dist = np.linalg.norm(v - v[chosen[0]], axis=1)
    while len(chosen) < max_vertices:
        nxt = int(np.argmax(dist))
        chosen.append(nxt)
        dist = np.minimum(dist, np.linalg.norm(v - v[nxt], axis=1))
    hull = convex_hull(v[np.sort(chosen)])
    if hull is None:
        raise ValueError("convex: a part collapsed while limiting its vertex count")
    return hull


def decompose(vertices: np.ndarray, faces: np.ndarray, config: ConvexConfig = ConvexConfig()) -> list[ConvexPiece]:
    """CoACD parts of a mesh ``(vertices [V, 3], faces [F, 3])``, each with <= ``max_hull_vertices``."""
    coacd = _coacd()
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    if len(faces) < 4:
        raise ValueError(f"convex: a mesh with {len(faces)} faces cannot be decomposed")
    coacd.set_log_level("error")
    parts = coacd.run_coacd(
        coacd.Mesh(vertices, faces),
        threshold=config.threshold,
        max_convex_hull=config.max_parts,
        preprocess_mode="auto",
        preprocess_resolution=config.preprocess_resolution,
        resolution=config.resolution,
        mcts_nodes=config.mcts_nodes,
        mcts_iterations=config.mcts_iterations,
        mcts_max_depth=config.mcts_max_depth,
        merge=True,
        decimate=True,
        max_ch_vertex=config.max_hull_vertices,
        seed=config.seed,
    )
    pieces = []
    for part_vertices, _ in parts:
        hull = convex_hull(np.asarray(part_vertices, dtype=np.float64))
        if hull is None:
            continue
        hull = limit_vertices(hull, config.max_hull_vertices)
        pieces.append(ConvexPiece(*canonical_order(hull.vertices, hull.faces)))
    return pieces


def faces_outward(vertices: np.ndarray, faces: np.ndarray) -> bool:
    """True when the faces point away from their area-weighted centroid (an object seen from outside).

    ``Σ area · n · (c - centroid)`` is the (3×) signed volume the faces enclose around their
    centroid; it is positive for outward normals and negative for a room's inward ones.
    """
    normals = face_normals(vertices, faces)  # length = 2 area
    centers = vertices[faces].mean(1)
    area = np.linalg.norm(normals, axis=1)
    centroid = (centers * area[:, None]).sum(0) / max(area.sum(), 1e-12)
    return float(np.einsum("ij,ij->", normals, centers - centroid)) > 0


def decompose_objects(
    vertices: np.ndarray,
    faces: np.ndarray,
    face_labels: np.ndarray | None,
    label_names: Sequence[str],
    config: ConvexConfig = ConvexConfig(),
) -> dict[str, list[ConvexPiece]]:
    """Convex parts per object: ``{label: parts}`` (see the module docstring for what is decomposed).

    Args:
        face_labels: ``[F]`` label index per face (-1: none), or None for an unlabeled scene.
        label_names: names of the label indices.

    Returns:
        Parts per label, labels in sorted order; ``"scene"`` for a whole unlabeled object scan.
    """
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    segments: dict[str, np.ndarray] = {}
    if face_labels is None:
        segments["scene"] = faces
    else:
        for index, name in enumerate(label_names):
            segment = faces[face_labels == index]
            if len(segment) >= config.min_faces:
                segments[name] = segment
    out: dict[str, list[ConvexPiece]] = {}
    for name in sorted(segments):
        segment = segments[name]
        used = np.unique(segment)
        remap = np.full(len(vertices), -1)
        remap[used] = np.arange(len(used))
        v, f = vertices[used], remap[segment]
        if not faces_outward(v, f):
            continue
        parts = decompose(v, f, config)
        if parts:
            out[name] = parts
    return out
