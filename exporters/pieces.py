"""Convex pieces for static collision in simulators that collide only convex shapes.

MuJoCo collides a mesh geom through its convex hull, and so do PyBullet's URDF meshes: a room's
one concave collision mesh would become one solid box that no object can enter. This module
cuts the (oriented) collision surface into many small, nearly flat patches and thickens each
one *behind* the surface, into the solid: every piece is a thin convex slab whose front face
follows the surface.

How patches are found:

1. Faces are grouped by the axis direction nearest to their normal (6 classes), so a corner
   where the floor meets a wall becomes two slabs, not one wedge filling the corner.
2. Space is cut into cubes of ``max_cell``; within a cube, a class's faces are split into
   layers along the class's mean normal wherever consecutive faces are more than
   ``flatness`` apart (a floor and a chair seat above it become two layers).
3. A layer thicker than ``flatness`` along its normal (a curved or stepped surface) is split
   into the 8 octants of its cube, down to ``min_cell``; then it is emitted as it is.
4. Each emitted patch's vertices, plus the same vertices moved back along the negative mean
   normal, are the piece's points; its convex hull is the collider. The move is ``thickness``,
   or less where a ray cast backwards from the patch meets another surface sooner (the other
   side of a thin object).

A convex slab never reaches in front of its patch by more than the patch's flatness, so
free space stays free to within ``flatness`` (4 cm at most; fused rooms carry plateaus of
1-3 cm where views disagree, so a stricter bound only multiplies the pieces), while the surface is
covered without gaps (faces are assigned to exactly one patch and patches share edges).
The cost: more geoms (a few hundred for a room), which simulators handle easily.

**The floor** is not cut into slabs (`static_colliders`): the hull of a floor patch that takes
in a 1-3 cm plateau or the foot of a wall has a tilted, raised top, and a ball dropped on it
rolls away (5-28 cm in 2 s, measured). Every face lying within ``floor_band`` of the floor
height (the nav grid's `floor_height` of the same mesh) is floor; together they become one
axis-aligned box whose top is exactly that height, spanning the floor faces' footprint. The
rest of the mesh is cut as above, and each piece that reaches down into the band is continued
straight down into the box, so walls and objects meet the floor without a gap under them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .mesh_tools import face_normals, raycasting_scene


@dataclass(frozen=True)
class PieceConfig:
    """Settings of `surface_pieces`.

    Attributes:
        max_cell: edge of the largest cube a piece may span, meters.
        min_cell: smallest cube edge the subdivision goes down to, meters.
        flatness: largest extent of a patch along its normal, meters.
        thickness: how far each slab reaches behind its patch, meters, at most: a slab stops
            short of the next surface behind its patch (the underside of a table top), so it
            never pokes out into the free space on the other side of a thin object.
        min_thickness: the thinnest slab, meters.
        floor_band: faces lying within this height of the floor are floor (flattened into the
            floor box), meters: fused floors carry 1-3 cm plateaus where views disagree.
        floor_thickness: how far the floor box reaches below the floor, meters.
    """

    max_cell: float = 1.0
    min_cell: float = 0.15
    flatness: float = 0.04
    thickness: float = 0.05
    min_thickness: float = 0.005
    floor_band: float = 0.03
    floor_thickness: float = 0.1

    def __post_init__(self) -> None:
        if not 0 < self.floor_band < self.floor_thickness:
            raise ValueError(
                f"floor_band, floor_thickness: expected 0 < floor_band < floor_thickness, got {self.floor_band}, {self.floor_thickness}"
            )
        if not 0 < self.min_cell <= self.max_cell:
            raise ValueError(f"min_cell, max_cell: expected 0 < min_cell <= max_cell, got {self.min_cell}, {self.max_cell}")
        if self.flatness <= 0 or not 0 < self.min_thickness <= self.thickness:
            raise ValueError(
                f"flatness must be > 0 and 0 < min_thickness <= thickness, got {self.flatness}, "
                f"{self.min_thickness}, {self.thickness}"
            )


@dataclass(frozen=True)
class ConvexPiece:
    """One convex collider: its hull ``vertices [V, 3]`` and ``faces [F, 3]`` (outward winding)."""

    vertices: np.ndarray
    faces: np.ndarray


def convex_hull(points: np.ndarray) -> ConvexPiece | None:
    """The convex hull of ``points: [M, 3]`` as a triangle mesh, or None when it is flat / degenerate."""
    from scipy.spatial import ConvexHull, QhullError

    points = np.unique(np.round(points, 9), axis=0)
    if len(points) < 4:
        return None
    try:
        hull = ConvexHull(points)
    except QhullError:
        return None
    used = np.unique(hull.simplices)
    remap = np.full(len(points), -1)
    remap[used] = np.arange(len(used))
    vertices = points[used]
    faces = remap[hull.simplices]
    # Qhull does not orient simplices: flip those whose normal points toward the centroid.
    center = vertices.mean(0)
    normals = face_normals(vertices, faces)
    inward = np.einsum("ij,ij->i", normals, vertices[faces[:, 0]] - center) < 0
    faces[inward] = faces[inward][:, ::-1]
    return ConvexPiece(vertices, faces.astype(np.int64))


_DIRECTIONS = np.concatenate([np.eye(3), -np.eye(3)])
"""Normal classes: a face joins the axis direction nearest to its normal."""


def _layers(offsets: np.ndarray, gap: float) -> list[np.ndarray]:
    """Split indices of 1D ``offsets`` wherever sorted neighbours are more than ``gap`` apart."""
    order = np.argsort(offsets, kind="stable")
    breaks = np.nonzero(np.diff(offsets[order]) > gap)[0] + 1
    return np.split(order, breaks)


def surface_pieces(
    vertices: np.ndarray, faces: np.ndarray, config: PieceConfig = PieceConfig(), solid_faces: np.ndarray | None = None
) -> list[ConvexPiece]:
    """Cut an oriented surface (normals toward free space) into thin convex slabs.

    Args:
        vertices: ``[V, 3]`` meters.
        faces: ``[F, 3]`` counter-clockwise seen from the free space.
        solid_faces: the whole surface that bounds the solid behind ``faces`` (rays measure
            each slab's room against it), when ``faces`` is only part of it; default ``faces``.

    Returns:
        Convex pieces in a deterministic order; together they cover every face.
    """
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    if len(faces) == 0:
        raise ValueError("pieces: the mesh has no faces")
    normals = face_normals(vertices, faces)
    area2 = np.linalg.norm(normals, axis=1)
    keep = area2 > 1e-14
    faces, normals, area2 = faces[keep], normals[keep], area2[keep]
    unit = normals / area2[:, None]
    klass = np.argmax(unit @ _DIRECTIONS.T, axis=1)
    centroids = vertices[faces].mean(1)
    origin = vertices.min(0)

    patches: list[tuple[np.ndarray, np.ndarray]] = []  # (vertex ids, unit mean normal)

    def emit(idx: np.ndarray, mean_normal: np.ndarray) -> None:
        patches.append((np.unique(faces[idx]), mean_normal))

    def visit(idx: np.ndarray, lo: np.ndarray, size: float) -> None:
        """Faces ``idx`` of one normal class inside the cube at ``lo`` with edge ``size``."""
        n = (normals[idx]).sum(0)
        n = n / (np.linalg.norm(n) + 1e-12)
        corner = vertices[faces[idx]]  # [k, 3, 3]
        heights = corner @ n  # [k, 3]
        for layer in _layers(centroids[idx] @ n, config.flatness):
            sub = idx[layer]
            h = heights[layer]
            if h.max() - h.min() <= config.flatness or size / 2 < config.min_cell:
                n_layer = normals[sub].sum(0)
                emit(sub, n_layer / (np.linalg.norm(n_layer) + 1e-12))
                continue
            half = size / 2
            octant = ((centroids[sub] - lo) >= half).astype(np.int64) @ np.array([1, 2, 4])
            for o in range(8):
                child = sub[octant == o]
                if len(child):
                    visit(child, lo + half * np.array([o & 1, (o >> 1) & 1, (o >> 2) & 1]), half)

    cell = np.floor((centroids - origin) / config.max_cell).astype(np.int64)
    key = np.lexsort((klass, cell[:, 2], cell[:, 1], cell[:, 0]))
    groups = np.stack([cell[key, 0], cell[key, 1], cell[key, 2], klass[key]], 1)
    starts = np.nonzero(np.any(np.diff(groups, axis=0) != 0, axis=1))[0] + 1
    for chunk in np.split(key, starts):
        c = cell[chunk[0]]
        visit(chunk, origin + c * config.max_cell, config.max_cell)
    depth = _solid_depth(vertices, faces if solid_faces is None else np.asarray(solid_faces, np.int64), patches, config)
    pieces = []
    for (ids, normal), t in zip(patches, depth):
        pts = vertices[ids]
        hull = convex_hull(np.concatenate([pts, pts - t * normal]))
        if hull is not None:
            pieces.append(hull)
    return pieces


def _solid_depth(
    vertices: np.ndarray, faces: np.ndarray, patches: list[tuple[np.ndarray, np.ndarray]], config: PieceConfig
) -> np.ndarray:
    """Per patch, how far the solid behind it reaches: rays from its vertices along -normal."""
    import open3d.core as o3c
    if not patches:
        return np.zeros(0)
    scene = raycasting_scene(vertices, faces)
    counts = np.array([len(ids) for ids, _ in patches])
    origins = vertices[np.concatenate([ids for ids, _ in patches])]
    directions = -np.repeat(np.stack([n for _, n in patches]), counts, axis=0)
    start = 1e-3  # step off the patch itself
    rays = np.concatenate([origins + start * directions, directions], axis=1).astype(np.float32)
    hit = scene.cast_rays(o3c.Tensor(rays))["t_hit"].numpy() + start
    per_patch = np.minimum.reduceat(hit, np.concatenate([[0], np.cumsum(counts)[:-1]]))
    # Half the gap: the slab from the other side of a thin object takes the other half.
    return np.clip(per_patch / 2, config.min_thickness, config.thickness)


@dataclass(frozen=True)
class FloorBox:
    """The floor collider: an axis-aligned box ``lo [3]`` .. ``hi [3]`` whose top ``hi[2]`` is the floor height."""

    lo: tuple[float, float, float]
    hi: tuple[float, float, float]

    @property
    def center(self) -> tuple[float, float, float]:
        return tuple((a + b) / 2 for a, b in zip(self.lo, self.hi))

    @property
    def size(self) -> tuple[float, float, float]:
        """Full edge lengths (MJCF takes half of them, URDF all)."""
        return tuple(b - a for a, b in zip(self.lo, self.hi))


def static_colliders(
    vertices: np.ndarray, faces: np.ndarray, floor_z: float | None, config: PieceConfig = PieceConfig()
) -> tuple[FloorBox | None, list[ConvexPiece]]:
    """The static scene as one floor box plus convex pieces of everything else (see the module docstring).

    Args:
        vertices: ``[V, 3]`` meters; faces: ``[F, 3]`` oriented toward free space.
        floor_z: the floor height (`lyra_sim.exporters.nav_grid.floor_height` of the same
            mesh), or None for no floor box (every face becomes pieces).

    Returns:
        ``(floor box or None when no face lies at the floor, pieces)``.
    """
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    if floor_z is None:
        return None, surface_pieces(vertices, faces, config) if len(faces) else []
    z = vertices[faces][:, :, 2]
    floor = (np.abs(z - floor_z) <= config.floor_band).all(1)
    if not floor.any():
        return None, surface_pieces(vertices, faces, config)
    xy = vertices[faces[floor]][:, :, :2].reshape(-1, 2)
    # Grown by the slab thickness: the box also reaches under the wall slabs behind the floor's edge.
    lo, hi = xy.min(0) - config.thickness, xy.max(0) + config.thickness
    box = FloorBox((float(lo[0]), float(lo[1]), float(floor_z - config.floor_thickness)), (float(hi[0]), float(hi[1]), float(floor_z)))
    rest = faces[~floor]
    pieces = surface_pieces(vertices, rest, config, solid_faces=faces) if len(rest) else []
    return box, [_down_to_floor(p, floor_z, config) for p in pieces]


def _down_to_floor(piece: ConvexPiece, floor_z: float, config: PieceConfig) -> ConvexPiece:
    """``piece`` continued straight down into the floor box from its vertices below the top of the
    floor band; a piece that does not reach into the band from above is returned as it is."""
    z = piece.vertices[:, 2]
    low = z < floor_z + config.floor_band
    in_band = np.abs(z - floor_z) <= config.floor_band
    if not in_band.any() or z.max() <= floor_z + config.floor_band:
        return piece
    dropped = piece.vertices[low].copy()
    dropped[:, 2] = np.minimum(dropped[:, 2], floor_z - config.floor_thickness / 2)
    hull = convex_hull(np.concatenate([piece.vertices, dropped]))
    return piece if hull is None else hull
