"""Imported captures in any frame → Z-up meters with the floor at z = 0.

Captures come in the frame of their reconstruction: COLMAP and most 3DGS trainers leave up
along any axis (often −y) and the scale arbitrary. `estimate_alignment` finds the similarity
transform ``x ↦ s R x + t`` that makes a scene Z-up meters, from what the splats offer:

- **up** (``"auto"``): the dominant planes of the opaque splats' centers (Open3D RANSAC plane
  segmentation). The candidate up directions are the plane normals, each with either sign; the
  floor is the lowest large plane along a candidate. A floor has the scene on one side (at most
  3 % of the splats below it) and the scene's objects stand on it: the splats off the bounding
  planes, grouped into objects by DBSCAN, mostly reach down to it. The candidate scoring best
  on both wins; walls are the planes perpendicular to it, and the heaviest turns the scene so
  walls run along x / y. Up is refined as the inlier-weighted normal of the planes within 3° of
  the floor's. No plane with the scene on one side (an object capture without ground, such as
  a person): up cannot be told and ``auto`` refuses (ValueError) rather than guess.
- **up** given (``"+z" "-z" "+y" "-y" "+x" "-x"``): the named source axis becomes +z.
- **floor**: the lowest large plane perpendicular to up, else the 0.5th percentile of the
  opaque splats' heights; it is moved to z = 0.
- **scale** (``"auto"``): a door (a floor-standing rectangle 0.22-0.5 ceiling heights wide,
  0.6-0.92 tall, standing just off a wall) is taken as `DOOR_HEIGHT` m tall; failing that,
  the floor-to-ceiling height (the highest large plane parallel to the floor) as
  `CEILING_HEIGHT` m. Neither: the scale stays 1 with confidence 0 and says it could not tell.

Every decision is recorded (`Alignment.as_dict`) with the numbers behind it. Degree > 0 SH
coefficients are rotated with the scene (`transform_scene`), so view-dependent color turns
with it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from lyra_sim.scene import GaussianScene
from lyra_sim.sh import sh_basis

UP_CHOICES = ("auto", "+z", "-z", "+y", "-y", "+x", "-x")
DOOR_HEIGHT = 2.05
"""Meters: interior doors are 1.98-2.10 m (UK 1.98, US 2.03, DIN 2.01, FR 2.04, frames to 2.10)."""
CEILING_HEIGHT = 2.6
"""Meters: typical floor-to-ceiling height of rooms (homes 2.4-2.7, offices 2.7-3.0)."""

# Source axis named by `up` → rotation whose third row is that axis (a proper rotation).
_AXIS_ROTATIONS = {
    "+z": ((1, 0, 0), (0, 1, 0), (0, 0, 1)),
    "-z": ((1, 0, 0), (0, -1, 0), (0, 0, -1)),
    "+y": ((1, 0, 0), (0, 0, -1), (0, 1, 0)),
    "-y": ((1, 0, 0), (0, 0, 1), (0, -1, 0)),
    "+x": ((0, 1, 0), (0, 0, 1), (1, 0, 0)),
    "-x": ((0, 1, 0), (0, 0, -1), (-1, 0, 0)),
}


@dataclass(frozen=True)
class AlignConfig:
    """Settings of `estimate_alignment` (lengths relative to the scene, which has no units yet).

    Attributes:
        max_points: opaque splat centers used (a seeded subsample of those with opacity >= min_opacity).
        min_opacity: splats fainter than this are left out (floaters, haze).
        plane_threshold: RANSAC inlier distance, as a fraction of the scene's diagonal.
        min_plane_fraction: a plane must hold this share of the points to count.
        max_planes: planes extracted at most.
        seed: RANSAC and subsampling seed (same scene + seed → same alignment).
    """

    max_points: int = 20_000
    min_opacity: float = 0.5
    plane_threshold: float = 0.003
    min_plane_fraction: float = 0.03
    max_planes: int = 8
    seed: int = 0

    def __post_init__(self) -> None:
        if self.max_points < 100 or not 0 <= self.min_opacity < 1 or not 0 < self.plane_threshold < 0.1:
            raise ValueError("AlignConfig: max_points >= 100, min_opacity in [0, 1), plane_threshold in (0, 0.1)")


@dataclass(frozen=True)
class Alignment:
    """``x ↦ scale · rotation @ x + translation``, source frame → Z-up meters, and why."""

    rotation: np.ndarray  # [3, 3]
    scale: float
    translation: np.ndarray  # [3]
    up: str  # the requested up ("auto" or an axis)
    up_source: list[float]  # the source-frame direction that became +z
    up_reason: str
    up_confidence: float
    scale_request: str  # "auto" or the given number
    scale_reason: str
    scale_confidence: float
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def matrix(self) -> np.ndarray:
        """``[4, 4]`` homogeneous source → bundle transform."""
        m = np.eye(4)
        m[:3, :3] = self.scale * self.rotation
        m[:3, 3] = self.translation
        return m

    @property
    def is_identity(self) -> bool:
        return bool(np.allclose(self.matrix, np.eye(4), atol=1e-12))

    def as_dict(self) -> dict[str, Any]:
        return {
            "matrix": np.round(self.matrix, 9).tolist(),
            "up": {"requested": self.up, "source_direction": [round(v, 6) for v in self.up_source],
                   "reason": self.up_reason, "confidence": round(self.up_confidence, 3)},
            "scale": {"requested": self.scale_request, "meters_per_unit": round(self.scale, 6),
                      "reason": self.scale_reason, "confidence": round(self.scale_confidence, 3)},
            "floor": "moved to z = 0",
            **({"details": self.details} if self.details else {}),
        }

    def summary(self) -> str:
        return (f"up {self.up} -> source direction {np.round(self.up_source, 3).tolist()} "
                f"({self.up_reason}; confidence {self.up_confidence:.2f}); scale {self.scale:.4g} m/unit "
                f"({self.scale_reason}; confidence {self.scale_confidence:.2f})")


@dataclass
class _Plane:
    normal: np.ndarray  # unit, sign as RANSAC gave it
    offset: float  # normal · x = offset on the plane
    points: np.ndarray  # inliers [M, 3]

    @property
    def count(self) -> int:
        return len(self.points)


# ---------------------------------------------------------------- applying
def rotate_sh(sh: torch.Tensor, rotation: torch.Tensor) -> torch.Tensor:
    """SH coefficients ``[N, K, 3]`` of a color field turned by ``rotation [3, 3]``.

    Each band mixes only within itself; its matrix is fitted exactly (least squares on more
    directions than coefficients) from ``Y(Rᵀ d) = D Y(d)``.
    """
    k = sh.shape[1]
    degree = math.isqrt(k) - 1
    if degree == 0:
        return sh
    g = torch.Generator().manual_seed(0)
    dirs = torch.nn.functional.normalize(torch.randn(256, 3, generator=g, dtype=torch.float64), dim=-1)
    basis = sh_basis(degree, dirs)  # [M, K]
    turned = sh_basis(degree, dirs @ rotation.double())  # Y(Rᵀ d): rows d @ R = (Rᵀ d)ᵀ
    out = sh.clone()
    for band in range(1, degree + 1):
        lo, hi = band * band, (band + 1) * (band + 1)
        d = torch.linalg.lstsq(basis[:, lo:hi], turned[:, lo:hi]).solution  # Y(Rᵀd)_j = Σ_i Y(d)_i d_ij
        out[:, lo:hi] = torch.einsum("ij,njc->nic", d.to(sh.dtype), sh[:, lo:hi])
    return out


def transform_scene(scene: GaussianScene, alignment: Alignment) -> GaussianScene:
    """``scene`` moved by the similarity transform of ``alignment`` (means, rotations, scales and SH)."""
    rotation = torch.as_tensor(alignment.rotation, dtype=torch.float32, device=scene.device)
    moved = scene.transform(rotation)
    s = float(alignment.scale)
    t = torch.as_tensor(alignment.translation, dtype=torch.float32, device=scene.device)
    sh = rotate_sh(scene.sh, rotation.cpu()).to(scene.device) if scene.sh_degree else scene.sh
    return replace(moved, means=moved.means * s + t, scales=moved.scales * s, sh=sh)


# ---------------------------------------------------------------- estimating
def _points(scene: GaussianScene, config: AlignConfig) -> tuple[np.ndarray, np.ndarray]:
    """Centers ``[M, 3]`` and base colors ``[M, 3]`` of a seeded subsample of the opaque splats."""
    s = scene.to("cpu")
    keep = s.opacities.numpy() >= config.min_opacity
    if keep.sum() < 200:  # faint captures: fall back to every splat
        keep = np.ones(len(s), bool)
    index = np.flatnonzero(keep)
    if len(index) > config.max_points:
        index = np.sort(np.random.default_rng(config.seed).choice(index, config.max_points, replace=False))
    return s.means.double().numpy()[index], s.rgb.double().numpy()[index]


def _planes(points: np.ndarray, threshold: float, config: AlignConfig) -> list[_Plane]:
    import open3d as o3d

    o3d.utility.random.seed(config.seed)
    rest = points
    planes: list[_Plane] = []
    for _ in range(config.max_planes):
        if len(rest) < max(50, config.min_plane_fraction * len(points)):
            break
        cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(rest))
        model, inliers = cloud.segment_plane(threshold, 3, 300)
        if len(inliers) < config.min_plane_fraction * len(points):
            break
        mask = np.zeros(len(rest), bool)
        mask[np.asarray(inliers)] = True
        inlier_points = rest[mask]
        centroid = inlier_points.mean(0)
        normal = np.linalg.svd(inlier_points - centroid, full_matrices=False)[2][2]  # refine: least squares
        if normal @ np.asarray(model[:3]) < 0:
            normal = -normal
        planes.append(_Plane(normal, float(normal @ centroid), inlier_points))
        rest = rest[~mask]
    return planes


def _directions(planes: list[_Plane], tolerance_deg: float = 15.0) -> list[list[_Plane]]:
    """Planes grouped by orientation (normals within ``tolerance_deg``, either sign)."""
    groups: list[list[_Plane]] = []
    cos = math.cos(math.radians(tolerance_deg))
    for plane in sorted(planes, key=lambda p: -p.count):
        for group in groups:
            if abs(plane.normal @ group[0].normal) > cos:
                group.append(plane)
                break
        else:
            groups.append([plane])
    return groups


def _mean_normal(group: list[_Plane], sign_like: np.ndarray) -> np.ndarray:
    total = sum(p.count * (p.normal if p.normal @ sign_like >= 0 else -p.normal) for p in group)
    return total / np.linalg.norm(total)


def _spacing(points: np.ndarray) -> float:
    """Median distance from a splat center to its nearest neighbour."""
    from scipy.spatial import cKDTree

    dist, _ = cKDTree(points).query(points, k=2)
    return float(np.median(dist[:, 1]))


def _objects(points: np.ndarray, eps: float) -> list[np.ndarray]:
    """Groups of nearby points (DBSCAN), the scene's objects once its bounding planes are gone."""
    import open3d as o3d

    if len(points) < 10:
        return []
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points))
    labels = np.asarray(cloud.cluster_dbscan(eps=eps, min_points=8))
    return [points[labels == i] for i in range(labels.max() + 1)]


def _shell(groups: list[list[_Plane]], points: np.ndarray, threshold: float) -> list[_Plane]:
    """The planes that bound the scene: per orientation, those at the extremes of the splats."""
    shell = []
    for group in groups:
        n = group[0].normal
        heights = points @ n
        lo, hi = np.percentile(heights, 1), np.percentile(heights, 99)
        margin = 0.05 * (hi - lo) + 2 * threshold
        shell += [p for p in group if p.offset * (p.normal @ n) < lo + margin or p.offset * (p.normal @ n) > hi - margin]
    return shell


_MAX_BELOW_FLOOR = 0.03
"""Share of the splats that may lie below a floor (noise, a few floaters)."""


def _floor_numbers(up: np.ndarray, group: list[_Plane], points: np.ndarray, objects: list[np.ndarray],
                   threshold: float) -> dict[str, float]:
    """How floor-like the lowest plane of ``group`` is along ``up``: the share of the objects
    that stand on it (``resting``) and of the splats below it (``below_floor``)."""
    heights = points @ up
    floor = min(p.points.mean(0) @ up for p in group)
    extent = float(np.percentile(heights, 99) - floor)
    below = float((heights < floor - 3 * threshold).mean())
    if objects and extent > 0:
        bottoms = np.array([(o @ up).min() for o in objects])
        resting = float((bottoms - floor < 0.05 * extent + 3 * threshold).mean())
    else:  # nothing but planes: the side with the mass is up
        resting = float((heights > floor + 3 * threshold).mean())
    return {"resting": round(resting, 3), "below_floor": round(below, 4)}


def _auto_up(points: np.ndarray, planes: list[_Plane], threshold: float) -> tuple[np.ndarray, str, float, dict]:
    if not planes:
        raise ValueError(
            "up auto: cannot tell which way is up: no large plane (floor or ground) among the splats; "
            "give the up axis instead (+z, -z, +y, -y, +x or -x)"
        )
    groups = _directions(planes)
    on_shell = np.zeros(len(points), bool)
    for plane in _shell(groups, points, threshold):
        on_shell |= np.abs(points @ plane.normal - plane.offset) < 2 * threshold
    clusters = _objects(points[~on_shell], max(3 * threshold, 3 * _spacing(points)))
    objects = [c for c in clusters if len(c) >= max(20, 0.002 * len(points))]
    candidates = []
    for group in groups:
        normal = _mean_normal(group, group[0].normal)
        for up in (normal, -normal):
            numbers = _floor_numbers(up, group, points, objects, threshold)
            # a floor has (almost) the whole scene on one side; the objects standing on it tell it apart
            score = 0.5 * numbers["resting"] + 0.5 * (1 - numbers["below_floor"] / _MAX_BELOW_FLOOR)
            candidates.append((score, up, group, numbers))
    candidates.sort(key=lambda c: -c[0])
    details = {"objects": len(objects),
               "candidates": [{"direction": np.round(c[1], 4).tolist(), "score": round(c[0], 3), **c[3]} for c in candidates]}
    valid = [c for c in candidates if c[3]["below_floor"] <= _MAX_BELOW_FLOOR]
    if not valid:
        least = min(c[3]["below_floor"] for c in candidates)
        raise ValueError(
            f"up auto: cannot tell which way is up: none of the {len(planes)} large planes has the scene on one side "
            f"(at best {least:.0%} of the splats lie beyond it; a floor allows {_MAX_BELOW_FLOOR:.0%}), so there is no "
            "floor or ground to stand on; give the up axis instead (+z, -z, +y, -y, +x or -x)"
        )
    best = valid[0]
    margin = best[0] - (valid[1][0] if len(valid) > 1 else 0.5)
    confidence = float(np.clip(margin / 0.3, 0.0, 1.0))
    share = sum(p.count for p in best[2]) / len(points)
    what = f"{best[3]['resting']:.0%} of {len(objects)} objects stand on it" if objects else f"{best[3]['resting']:.0%} of the splats above it"
    reason = (f"normal of the lowest large plane ({len(best[2])} parallel plane(s), {share:.0%} of the splats): "
              f"{what}, {best[3]['below_floor']:.1%} of the splats below")
    floor_plane = min(best[2], key=lambda p: p.points.mean(0) @ best[1])
    level = [p for p in best[2] if abs(p.normal @ floor_plane.normal) > math.cos(math.radians(3))]
    return _mean_normal(level, best[1]), reason, confidence, details


def _frame(up: np.ndarray, planes: list[_Plane]) -> np.ndarray:
    """Rotation with ``up`` as its third row; the heaviest wall (a plane ⟂ up) sets x."""
    walls = [p for p in planes if abs(p.normal @ up) < math.sin(math.radians(15))]
    if walls:
        heaviest = max(walls, key=lambda p: p.count).normal
        x = heaviest - (heaviest @ up) * up
    else:
        x = np.eye(3)[int(np.argmin(np.abs(up)))]
        x = x - (x @ up) * up
    x /= np.linalg.norm(x)
    return np.stack([x, np.cross(up, x), up])


_DOOR_COLOR_STEPS = (0.2, 0.12)
"""RGB distances from the wall's median color: a door's lower part is found with the first
(few false cells), its height traced up its columns with the second (wood grain, shading)."""


def _door_heights(points: np.ndarray, colors: np.ndarray, walls: list[_Plane], up: np.ndarray, floor: float,
                  ceiling: float) -> list[float]:
    """Heights above the floor (source units) of door-like patches on the walls: regions whose
    color differs from the wall's, standing on the floor, 0.22-0.5 ceiling heights wide and
    0.6-0.92 tall."""
    from scipy import ndimage

    height = ceiling - floor
    cell = 0.04 * height
    rows = 28  # cells up to 1.12 ceiling heights
    found = []
    for wall in walls:
        normal = wall.normal - (wall.normal @ up) * up
        normal /= np.linalg.norm(normal)
        origin = wall.points.mean(0)
        lift = points @ up - floor
        ahead = (points - origin) @ normal
        if np.median(ahead) < 0:  # measure into the room
            ahead = -ahead
        # off the floor and the ceiling, whose strips along the wall would blend into its cells
        near = (np.abs((points - origin) @ normal) < 0.1 * height) & (lift > 0.03 * height) & (lift < 0.97 * height)
        if near.sum() < 50:
            continue
        u = (points[near] - origin) @ np.cross(up, normal)
        v = points[near] @ up - floor
        iu = np.floor((u - u.min()) / cell).astype(int)
        iv = np.floor(v / cell).astype(int)
        ok = (iv >= 0) & (iv < rows)
        count = np.zeros((iu.max() + 1, rows))
        total = np.zeros((iu.max() + 1, rows, 3))
        np.add.at(count, (iu[ok], iv[ok]), 1)
        np.add.at(total, (iu[ok], iv[ok]), colors[near][ok])
        filled = count >= 2
        wall_color = np.median((total / np.maximum(count, 1)[..., None])[filled], axis=0)
        distance = np.linalg.norm(total / np.maximum(count, 1)[..., None] - wall_color, axis=-1)
        strong = ndimage.binary_fill_holes(ndimage.binary_closing(filled & (distance > _DOOR_COLOR_STEPS[0]),
                                                                  structure=np.ones((1, 3)), iterations=2))
        weak = filled & (distance > _DOOR_COLOR_STEPS[1])
        labels, _ = ndimage.label(strong)
        for box in ndimage.find_objects(labels):
            columns = box[0]
            width = (columns.stop - columns.start) * cell
            if box[1].start * cell >= 0.1 * height or not 0.22 * height <= width <= 0.5 * height:
                continue
            share = weak[columns].sum(0) / np.maximum(filled[columns].sum(0), 1)  # per row
            top_row = 0
            while top_row + 1 < rows and (share[top_row + 1] >= 0.5 or (top_row + 2 < rows and share[top_row + 2] >= 0.5)):
                top_row += 1
            in_columns = (iu >= columns.start) & (iu < columns.stop) & (iv <= top_row)
            door = in_columns & (np.linalg.norm(colors[near] - wall_color, axis=-1) > _DOOR_COLOR_STEPS[1])
            if door.sum() < 20:
                continue
            top = float(np.percentile(v[door], 99))
            # a door is nearly flush with its wall; a bookcase or wardrobe fills the space in front
            u_lo, u_hi = u.min() + columns.start * cell, u.min() + columns.stop * cell
            across = (points - origin) @ np.cross(up, normal)
            in_front = ((across >= u_lo) & (across < u_hi) & (lift > 0.03 * height) & (lift < top)
                        & (ahead > 0.05 * height) & (ahead < 0.3 * height)).sum()
            if in_front > 0.1 * door.sum():
                continue
            if 0.6 * height <= top <= 0.92 * height:
                found.append(top)
    return found


def estimate_alignment(scene: GaussianScene, up: str = "auto", scale: float | str = "auto",
                       config: AlignConfig = AlignConfig()) -> Alignment:
    """The transform that makes ``scene`` Z-up meters with its floor at z = 0 (module docstring).

    Args:
        up: ``"auto"`` or the source axis that points up (``"+z"``, ``"-y"``, ...).
        scale: meters per source unit, or ``"auto"``.

    Raises:
        ValueError: a bad ``up`` or ``scale``, an empty scene, or ``up="auto"`` without any large plane.
    """
    if up not in UP_CHOICES:
        raise ValueError(f"up: expected one of {', '.join(UP_CHOICES)}, got {up!r}")
    if scale != "auto" and not (isinstance(scale, (int, float)) and not isinstance(scale, bool)
                                and math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale: expected a positive number of meters per unit or 'auto', got {scale!r}")
    if len(scene) == 0:
        raise ValueError("alignment: the scene has no Gaussians")
    points, colors = _points(scene, config)
    lo, hi = np.percentile(points, 1, 0), np.percentile(points, 99, 0)
    diag = float(np.linalg.norm(hi - lo))
    if not diag > 0:
        raise ValueError("alignment: the splats span no volume (all at one point)")
    threshold = config.plane_threshold * diag
    need_planes = up == "auto" or scale == "auto"
    planes = _planes(points, threshold, config) if need_planes or up != "+z" else []
    details: dict[str, Any] = {"points": len(points), "plane_threshold": round(threshold, 6),
                               "planes": [{"normal": np.round(p.normal, 4).tolist(), "share": round(p.count / len(points), 3)}
                                          for p in planes]}
    if up == "auto":
        up_vector, up_reason, up_confidence, extra = _auto_up(points, planes, threshold)
        details.update(extra)
    else:
        up_vector = np.asarray(_AXIS_ROTATIONS[up][2], float)
        up_reason, up_confidence = "given", 1.0
    rotation = _frame(up_vector, planes) if up == "auto" else np.asarray(_AXIS_ROTATIONS[up], float)
    up_vector = rotation[2]

    parallel = [p for p in planes if abs(p.normal @ up_vector) > math.cos(math.radians(15))]
    heights = points @ up_vector
    if parallel:
        offsets = sorted(p.points.mean(0) @ up_vector for p in parallel)
        floor = offsets[0] if offsets[0] <= np.percentile(heights, 5) else float(np.percentile(heights, 0.5))
    else:
        offsets, floor = [], float(np.percentile(heights, 0.5))
    details["floor"] = "lowest large plane" if parallel and floor == offsets[0] else "0.5th percentile of the splat heights"

    if scale != "auto":
        meters, scale_reason, scale_confidence = float(scale), "given", 1.0
    else:
        meters, scale_reason, scale_confidence = _auto_scale(points, colors, planes, up_vector, floor, offsets, heights, details)
    translation = -meters * floor * np.array([0.0, 0.0, 1.0])
    return Alignment(
        rotation=rotation, scale=meters, translation=translation, up=up, up_source=up_vector.tolist(),
        up_reason=up_reason, up_confidence=up_confidence, scale_request=str(scale), scale_reason=scale_reason,
        scale_confidence=scale_confidence, details=details,
    )


def _auto_scale(points, colors, planes, up, floor, offsets, heights, details) -> tuple[float, str, float]:
    top = float(np.percentile(heights, 99.5))
    ceiling = offsets[-1] if len(offsets) >= 2 and offsets[-1] - floor > 0.5 * (top - floor) else None
    if ceiling is None:
        return 1.0, "cannot tell: no ceiling plane or door found; kept 1 unit = 1 m (give --scale)", 0.0
    walls = [p for p in planes if abs(p.normal @ up) < math.sin(math.radians(15))]
    doors = _door_heights(points, colors, walls, up, floor, ceiling)
    room = ceiling - floor
    details["ceiling_height_units"] = round(room, 6)
    details["door_heights_units"] = [round(d, 6) for d in doors]
    if doors:
        door = float(np.median(doors))
        meters = DOOR_HEIGHT / door
        implied = room * meters
        consistent = 2.2 <= implied <= 3.6
        confidence = 0.9 if consistent else 0.5
        return meters, (f"door {door:.4g} units tall taken as {DOOR_HEIGHT} m (ceiling then {implied:.2f} m"
                        f"{'' if consistent else ', unusual'})"), confidence
    return CEILING_HEIGHT / room, f"floor-to-ceiling {room:.4g} units taken as {CEILING_HEIGHT} m (rooms vary ±15 %)", 0.4
