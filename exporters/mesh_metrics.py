"""Accuracy of an extracted mesh against ground-truth meshes: Chamfer distance and F-scores.

What is compared (a fair comparison for a mesh made from views *inside* a scene):

- **Precision side**: points sampled on the predicted mesh, each scored by its exact distance
  to the *full* ground-truth surface. Any predicted surface that is not in the ground truth
  is an error, wherever it is.
- **Recall side**: points sampled on the ground-truth surface, each scored by its exact
  distance to the predicted mesh, counting only points *visible from the free space*: a
  point counts if an unobstructed line of sight reaches it, from its front side, from at
  least one point of a grid filling the free space (inside the room bounds, away from every
  surface, outside every object). The outer faces of walls, the floor's underside and faces
  pressed against other surfaces cannot be seen by any camera, so no method can recover
  them; counting them would cap recall near 60 % for any room.
  The grid is independent of the views a method used, so poor view planning still shows up
  as missing recall. A building's free space is its rooms: the grid fills each room's
  interior box (``free_boxes``), and the inside test uses the objects alone (walls that
  touch along a seam would fool a ray-parity test; the room boxes already exclude them).

Distances are exact point-to-triangle distances (Open3D ``RaycastingScene``) rather than
nearest sampled points, so the score does not depend on sampling density. Sampling is
area-weighted and seeded: the same meshes and seed give the same numbers.

    chamfer = (mean d(pred → GT) + mean d(GT_visible → pred)) / 2
    precision@τ = fraction of pred points with d < τ;  recall@τ likewise for GT_visible
    F@τ = 2 P R / (P + R)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .mesh_tools import raycasting_scene, sample_surface

DEFAULT_THRESHOLDS = (0.02, 0.05)


@dataclass(frozen=True)
class EvalConfig:
    """Settings of `evaluate_mesh`.

    Attributes:
        num_points: points sampled on each of the two surfaces.
        thresholds: F-score distance thresholds, meters.
        seed: sampling seed.
        visible_only: count only ground truth visible from the free space (see the module
            docstring); False compares against the whole ground-truth surface.
        viewpoint_spacing: grid spacing of the free-space points for visibility, meters.
        clearance: free-space points keep at least this distance from every surface, meters.
    """

    num_points: int = 200_000
    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS
    seed: int = 0
    visible_only: bool = True
    viewpoint_spacing: float = 0.4
    clearance: float = 0.15

    def __post_init__(self) -> None:
        if self.num_points < 100:
            raise ValueError(f"num_points: expected >= 100, got {self.num_points}")
        if not self.thresholds or any(t <= 0 for t in self.thresholds):
            raise ValueError(f"thresholds: expected positive distances, got {self.thresholds}")
        if self.viewpoint_spacing <= 0 or self.clearance < 0:
            raise ValueError("viewpoint_spacing must be > 0 and clearance >= 0")


@dataclass(frozen=True)
class EvalResult:
    """Scores of one comparison (distances in meters).

    Attributes:
        chamfer: symmetric Chamfer distance (mean of the two mean distances).
        accuracy: mean distance, predicted → ground truth.
        completeness: mean distance, visible ground truth → predicted.
        precision, recall, fscore: per threshold (keys are the thresholds in meters).
        visible_fraction: share of the ground-truth area visible from the free space.
        num_viewpoints: free-space points used for visibility.
    """

    chamfer: float
    accuracy: float
    completeness: float
    precision: dict[float, float]
    recall: dict[float, float]
    fscore: dict[float, float]
    visible_fraction: float
    num_viewpoints: int

    def as_dict(self) -> dict:
        """JSON-able summary (thresholds become strings such as ``"0.02"``)."""
        return {
            "chamfer": self.chamfer,
            "accuracy": self.accuracy,
            "completeness": self.completeness,
            "precision": {str(k): v for k, v in self.precision.items()},
            "recall": {str(k): v for k, v in self.recall.items()},
            "fscore": {str(k): v for k, v in self.fscore.items()},
            "visible_fraction": self.visible_fraction,
            "num_viewpoints": self.num_viewpoints,
        }


def _check_mesh(name: str, vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    if v.ndim != 2 or v.shape[1] != 3 or f.ndim != 2 or f.shape[1] != 3:
        raise ValueError(f"{name}: expected vertices [V, 3] and faces [F, 3], got {list(v.shape)} and {list(f.shape)}")
    if len(f) == 0:
        raise ValueError(f"{name}: the mesh has no faces")
    if f.min() < 0 or f.max() >= len(v):
        raise ValueError(f"{name}: face indices out of range for {len(v)} vertices")
    if not np.isfinite(v).all():
        raise ValueError(f"{name}: vertices contain NaN or inf")
    return v, f


def concatenate(meshes: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """One ``(vertices [V, 3], faces [F, 3])`` mesh from several, indices offset."""
    vs, fs, offset = [], [], 0
    for v, f in meshes:
        vs.append(np.asarray(v, dtype=np.float64))
        fs.append(np.asarray(f, dtype=np.int64) + offset)
        offset += len(v)
    if not vs:
        raise ValueError("ground truth: no meshes given")
    return np.concatenate(vs), np.concatenate(fs)




def point_to_mesh_distance(points: np.ndarray, vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Exact unsigned distance ``[N]`` from ``points: [N, 3]`` to a triangle mesh."""
    import open3d.core as o3c

    scene = raycasting_scene(vertices, faces)
    return scene.compute_distance(o3c.Tensor(points.astype(np.float32))).numpy().astype(np.float64)


def free_space_viewpoints(
    gt_vertices: np.ndarray,
    gt_faces: np.ndarray,
    lo: Sequence[float],
    hi: Sequence[float],
    spacing: float = 0.4,
    clearance: float = 0.15,
    solid: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Grid points ``[P, 3]`` in the box ``lo..hi`` that are in free space.

    Free: at least ``clearance`` from every ground-truth surface and outside every closed
    ground-truth mesh (ray-parity occupancy; of ``solid``'s meshes when given). Objects are
    closed meshes, so points inside a cabinet or a sofa are left out.
    """
    import open3d.core as o3c

    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    axes = [np.arange(a + clearance, b - clearance + 1e-9, spacing) for a, b in zip(lo, hi)]
    if any(len(a) == 0 for a in axes):
        axes = [np.array([(a + b) / 2]) for a, b in zip(lo, hi)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    scene = raycasting_scene(gt_vertices, gt_faces)
    q = o3c.Tensor(grid.astype(np.float32))
    far = scene.compute_distance(q).numpy() >= clearance
    inside_test = scene if solid is None else raycasting_scene(*solid)
    outside = inside_test.compute_occupancy(q, nsamples=3).numpy() < 0.5
    return grid[far & outside]


def visible_mask(
    points: np.ndarray,
    normals: np.ndarray,
    viewpoints: np.ndarray,
    gt_vertices: np.ndarray,
    gt_faces: np.ndarray,
    eps: float = 2e-3,
) -> np.ndarray:
    """Which of ``points: [N, 3]`` (on the mesh, outward ``normals``) some viewpoint sees.

    A point is seen from ``v`` when it faces ``v`` and the first hit of the ray ``v → p``
    is no nearer than ``|p - v| - eps``.
    """
    import open3d.core as o3c

    scene = raycasting_scene(gt_vertices, gt_faces)
    seen = np.zeros(len(points), dtype=bool)
    for v in viewpoints:
        todo = np.nonzero(~seen)[0]
        if len(todo) == 0:
            break
        to_p = points[todo] - v
        facing = np.einsum("ij,ij->i", normals[todo], to_p) < 0
        todo, to_p = todo[facing], to_p[facing]
        if len(todo) == 0:
            continue
        dist = np.linalg.norm(to_p, axis=1)
        rays = np.concatenate([np.broadcast_to(v, to_p.shape), to_p / dist[:, None]], axis=1)
        hit = scene.cast_rays(o3c.Tensor(rays.astype(np.float32)))["t_hit"].numpy()
        seen[todo[hit >= dist - eps]] = True
    return seen


def evaluate_mesh(
    pred_vertices: np.ndarray,
    pred_faces: np.ndarray,
    gt_meshes: Sequence[tuple[np.ndarray, np.ndarray]],
    free_box: tuple[Sequence[float], Sequence[float]] | None = None,
    config: EvalConfig = EvalConfig(),
    free_boxes: Sequence[tuple[Sequence[float], Sequence[float]]] | None = None,
    solid_meshes: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
) -> EvalResult:
    """Compare a predicted mesh with ground-truth meshes (see the module docstring).

    Args:
        pred_vertices, pred_faces: ``[V, 3]``, ``[F, 3]`` the extracted mesh.
        gt_meshes: ``(vertices [Vi, 3], faces [Fi, 3])`` closed meshes with outward winding.
        free_box: ``(lo [3], hi [3])`` box that holds the free space (a room's interior);
            required when ``config.visible_only`` (or ``free_boxes``).
        free_boxes: boxes that together hold the free space (a building's rooms), instead.
        solid_meshes: the meshes whose inside is not free space (default: ``gt_meshes``);
            with ``free_boxes``, a building's objects.
    """
    pv, pf = _check_mesh("predicted mesh", pred_vertices, pred_faces)
    gv, gf = _check_mesh("ground truth", *concatenate(gt_meshes))
    rng = np.random.default_rng(config.seed)
    pred_pts, _, _ = sample_surface(pv, pf, config.num_points, rng)
    gt_pts, gt_normals, _ = sample_surface(gv, gf, config.num_points, rng)

    viewpoints = np.zeros((0, 3))
    if config.visible_only:
        if free_box is None and not free_boxes:
            raise ValueError("evaluate_mesh: free_box (the interior's lo, hi) is needed with visible_only")
        solid = concatenate(solid_meshes) if solid_meshes else None
        viewpoints = np.concatenate([
            free_space_viewpoints(gv, gf, lo, hi, config.viewpoint_spacing, config.clearance, solid)
            for lo, hi in (free_boxes or [free_box])
        ])
        if len(viewpoints) == 0:
            raise ValueError("evaluate_mesh: no free-space point found inside free_box to judge visibility from")
        keep = visible_mask(gt_pts, gt_normals, viewpoints, gv, gf)
        if not keep.any():
            raise ValueError("evaluate_mesh: no ground-truth surface is visible from the free space")
        visible_fraction = float(keep.mean())
        gt_pts = gt_pts[keep]
    else:
        visible_fraction = 1.0

    d_pred = point_to_mesh_distance(pred_pts, gv, gf)
    d_gt = point_to_mesh_distance(gt_pts, pv, pf)
    precision = {t: float((d_pred < t).mean()) for t in config.thresholds}
    recall = {t: float((d_gt < t).mean()) for t in config.thresholds}
    fscore = {
        t: (2 * precision[t] * recall[t] / (precision[t] + recall[t]) if precision[t] + recall[t] > 0 else 0.0)
        for t in config.thresholds
    }
    accuracy, completeness = float(d_pred.mean()), float(d_gt.mean())
    return EvalResult(
        chamfer=(accuracy + completeness) / 2,
        accuracy=accuracy,
        completeness=completeness,
        precision=precision,
        recall=recall,
        fscore=fscore,
        visible_fraction=visible_fraction,
        num_viewpoints=len(viewpoints),
    )
