"""Motion from the Gaussians: a `DynamicScene` split into a static part and rigid moving parts, with poses.

Only the Gaussians are read (never a world model's ground truth). How the scene is split:

- **By label** (the scene carries semantic labels): each label's Gaussians are one candidate.
  A label whose Gaussians stay within `MotionConfig.move_tolerance` of where they were at the
  first time is static; one that moves is a part, or, when it does not move as one rigid body
  (Kabsch residual above `MotionConfig.rigid_tolerance`), is split by motion clustering below.
- **By motion clustering** (no labels, the same Gaussians at every time: an imported 4D
  sequence): Gaussians that move are linked to their nearest neighbours (at the first time,
  within `MotionConfig.neighbour_radius`) where the distance between the two stays the same at
  every time (within ``rigid_tolerance``); the connected groups of at least
  `MotionConfig.min_part_gaussians` are the rigid parts.
- **By change** (no labels and no correspondence: each time's Gaussians drawn anew, as a
  decoder does): Gaussians of the first time with no Gaussian near them at some later time have
  moved; they are grouped by proximity and each group is tracked by ICP against what, at each
  time, the static Gaussians do not explain.

Poses: with the same Gaussians at every time (same count and labels), each part's pose is the
least-squares rigid fit of its Gaussians at the first time onto those at time t (Kabsch, SVD);
otherwise ICP (point to point, nearest neighbours with a shrinking distance bound, Kabsch per
iteration, started from the previous pose and from a constant-velocity guess). An articulated
motion (a door on its hinge) is a part whose pose turns about the hinge.

A part's frame: origin at its Gaussians' centroid at the first time, axes of the world. Its
pose ``P(t)`` takes the part frame to the world at time t (``P(t0)`` is a translation), and its
Gaussians are stored in its frame (at the first time). Deterministic: same scene, same result.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from lyra_sim.dynamic import DynamicScene
from lyra_sim.scene import GaussianScene

from .motion_track import MotionTrack, detect_loop, poses_to_tracks

SEGMENTATIONS = ("labels", "clustering", "change")
CORRESPONDENCE_STEP = 0.5
"""Meters: in a sequence of the same Gaussians, most move less than this from one time to the next."""


@dataclass(frozen=True)
class MotionConfig:
    """Settings of `estimate_motion` (meters unless said otherwise).

    Attributes:
        move_tolerance: a Gaussian, label or part that moves less than this at every time is static.
        rigid_tolerance: how much a rigid part's Gaussians may deviate from a rigid motion (Kabsch
            RMS residual; change of neighbour distances when clustering).
        min_part_gaussians: smaller moving groups are left static (noise, floaters).
        neighbours: neighbours per Gaussian in the clustering graph.
        neighbour_radius: neighbours farther apart than this are not linked.
        icp_iterations: ICP iterations per time; icp_distance: its first correspondence bound
            (it shrinks to ``3 · rigid_tolerance``); icp_points: source points used (a stride subsample).
        min_opacity: fainter Gaussians are ignored when clustering and tracking (they stay static).
    """

    move_tolerance: float = 0.02
    rigid_tolerance: float = 0.01
    min_part_gaussians: int = 64
    neighbours: int = 8
    neighbour_radius: float = 0.1
    icp_iterations: int = 40
    icp_distance: float = 0.15
    icp_points: int = 4000
    min_opacity: float = 1.0 / 255.0

    def __post_init__(self) -> None:
        for name in ("move_tolerance", "rigid_tolerance", "neighbour_radius", "icp_distance"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 10):
                raise ValueError(f"{name}: expected a positive number of meters below 10, got {value!r}")
        for name in ("min_part_gaussians", "neighbours", "icp_iterations", "icp_points"):
            value = getattr(self, name)
            if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
                raise ValueError(f"{name}: expected a positive integer, got {value!r}")
        if not 0 <= self.min_opacity < 1:
            raise ValueError(f"min_opacity: expected a value in [0, 1), got {self.min_opacity!r}")


@dataclass(frozen=True)
class MovingPart:
    """One rigid moving part.

    Attributes:
        name: unique in the scene: its label, or ``part_NN`` (clustered), ``label.k`` (a label split in k).
        label: the semantic label its Gaussians carry, or None.
        gaussians: its Gaussians at the first time, in its own frame.
        poses: ``[T, 4, 4]`` float64 part frame → world at each time.
        residual: ``[T]`` RMS distance (m) of its Gaussians from the fitted rigid motion.
        method: ``kabsch`` or ``icp``.
        loop: how its motion loops (`lyra_sim.exporters.motion_track.LOOPS`).
    """

    name: str
    label: str | None
    gaussians: GaussianScene
    poses: np.ndarray
    residual: np.ndarray
    method: str
    loop: str

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """``(lo [3], hi [3])`` of its Gaussians' centers, part frame."""
        m = self.gaussians.means.double().numpy()
        return m.min(0), m.max(0)

    def track(self, times) -> MotionTrack:
        positions, orientations = poses_to_tracks(self.poses)
        return MotionTrack(self.name, np.asarray(times, float), positions, orientations, self.loop)


@dataclass(frozen=True)
class MotionEstimate:
    """What `estimate_motion` returns: the static Gaussians (first time), the parts, and how they were found."""

    times: tuple[float, ...]
    fps: float | None
    static: GaussianScene
    parts: tuple[MovingPart, ...]
    segmentation: str
    correspondence: bool

    def tracks(self) -> tuple[MotionTrack, ...]:
        return tuple(p.track(self.times) for p in self.parts)


# ---------------------------------------------------------------------- rigid fits
def kabsch(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``[4, 4]`` the rigid transform minimizing ``Σ |R s + t − x|²`` over pairs ``source, target [n, 3]``."""
    cs, ct = source.mean(0), target.mean(0)
    h = (source - cs).T @ (target - ct)
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(vt.T @ u.T)) or 1.0
    r = vt.T @ np.diag([1.0, 1.0, d]) @ u.T
    m = np.eye(4)
    m[:3, :3], m[:3, 3] = r, ct - r @ cs
    return m


def _apply(m: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ m[:3, :3].T + m[:3, 3]


def _fit_all(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kabsch of ``x[0]`` onto every ``x[t]`` (``x: [T, n, 3]``): world motions ``[T, 4, 4]`` and RMS residuals ``[T]``."""
    motions = np.stack([np.eye(4)] + [kabsch(x[0], x[t]) for t in range(1, len(x))])
    residual = np.array([np.sqrt(np.mean(np.sum((_apply(m, x[0]) - xt) ** 2, 1))) for m, xt in zip(motions, x)])
    return motions, residual


def normals_of(points: np.ndarray, k: int = 12) -> np.ndarray:
    """``[m, 3]`` unit normals of ``points [m, 3]``: the least-variance axis of each point's ``k`` nearest neighbours."""
    from scipy.spatial import cKDTree

    k = min(k, len(points))
    _, nb = cKDTree(points).query(points, k=k)
    local = points[nb] - points[nb].mean(1, keepdims=True)
    _, vecs = np.linalg.eigh(np.einsum("mki,mkj->mij", local, local))
    return vecs[:, :, 0]


def _rotation(w: np.ndarray) -> np.ndarray:
    """``[3, 3]`` rotation by the rotation vector ``w`` (Rodrigues)."""
    angle = float(np.linalg.norm(w))
    if angle < 1e-12:
        return np.eye(3)
    x, y, z = w / angle
    k = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * (k @ k)


def icp(source: np.ndarray, target: np.ndarray, init: np.ndarray, config: MotionConfig, tree=None,
        normals: np.ndarray | None = None) -> tuple[np.ndarray, float, int]:
    """ICP of ``source [n, 3]`` onto ``target [m, 3]`` from ``init [4, 4]``: point to point (Kabsch on the
    nearest neighbours within a shrinking bound), then, given the target's ``normals [m, 3]``, point to plane
    (Gauss-Newton on the distances along the normals), which does not drag a surface along its own samples.

    Returns ``(transform [4, 4], RMS of the inlier distances, inlier count)``.
    """
    from scipy.spatial import cKDTree

    tree = cKDTree(target) if tree is None else tree
    m = init.copy()
    floor = 3 * config.rigid_tolerance
    bound = config.icp_distance
    for it in range(config.icp_iterations):
        moved = _apply(m, source)
        d, j = tree.query(moved, distance_upper_bound=bound)
        ok = np.isfinite(d)
        if ok.sum() < 6:
            break
        if normals is None or bound > floor:
            new = kabsch(source[ok], target[j[ok]])
        else:
            p, x, n = moved[ok], target[j[ok]], normals[j[ok]]
            a = np.concatenate([np.cross(p, n), n], 1)  # d/d(w, t) of (R p + t - x) . n at w = 0
            b = -np.einsum("ij,ij->i", p - x, n)
            h = a.T @ a
            # Damped: directions the surface does not constrain (sliding along a plane) stay put.
            step = np.linalg.solve(h + 1e-3 * np.trace(h) / 6 * np.eye(6) + 1e-12 * np.eye(6), a.T @ b)
            delta = np.eye(4)
            delta[:3, :3], delta[:3, 3] = _rotation(step[:3]), step[3:]
            new = delta @ m
        change = np.abs(new - m).max()
        m = new
        if change < 1e-7 and bound <= floor:
            break
        bound = max(floor, 0.7 * bound)
    d, _ = tree.query(_apply(m, source), distance_upper_bound=bound)
    ok = np.isfinite(d)
    return m, float(np.sqrt(np.mean(d[ok] ** 2))) if ok.any() else float("inf"), int(ok.sum())


def _track(source: np.ndarray, targets: list[np.ndarray], config: MotionConfig) -> tuple[np.ndarray, np.ndarray]:
    """ICP of ``source`` onto each of ``targets`` in turn, from the previous pose, a constant-velocity guess and
    the previous pose moved onto the target's centroid; the fit with the most inliers (then the lowest RMS) wins."""
    from scipy.spatial import cKDTree

    motions, residual = [np.eye(4)], [0.0]
    for target in targets:
        prev = motions[-1]
        guesses = [prev] if len(motions) < 2 else [prev, prev @ np.linalg.inv(motions[-2]) @ prev]
        centred = prev.copy()  # the previous turn, moved onto the target's centroid (fast or turning motions)
        centred[:3, 3] += target.mean(0) - _apply(prev, source).mean(0)
        guesses.append(centred)
        tree, normals = cKDTree(target), normals_of(target)
        best = min((icp(source, target, g, config, tree, normals) for g in guesses), key=lambda r: (-r[2], r[1]))
        motions.append(best[0])
        residual.append(best[1])
    return np.stack(motions), np.array(residual)


def _stride(n: int, most: int) -> np.ndarray:
    return np.arange(0, n, max(1, -(-n // most)))


def _moved(motions: np.ndarray, points: np.ndarray) -> float:
    """Farthest any of ``points`` gets from where it started under ``motions [T, 4, 4]``."""
    return max(float(np.linalg.norm(_apply(m, points) - points, axis=1).max()) for m in motions)


# ---------------------------------------------------------------------- grouping
def rigid_groups(x: np.ndarray, config: MotionConfig) -> list[np.ndarray]:
    """The rigid moving groups of Gaussians followed over time, ``x: [T, n, 3]`` (see the module docstring).

    Returns index arrays into ``n``, each group sorted, groups ordered by their first index.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    moving = np.nonzero(np.linalg.norm(x - x[:1], axis=-1).max(0) > config.move_tolerance)[0]
    if len(moving) < config.min_part_gaussians:
        return []
    p = x[:, moving]
    k = min(config.neighbours + 1, len(moving))
    d, nb = cKDTree(p[0]).query(p[0], k=k, distance_upper_bound=config.neighbour_radius)
    i = np.repeat(np.arange(len(moving)), k - 1)
    j = nb[:, 1:].ravel()
    ok = np.isfinite(d[:, 1:].ravel())
    i, j = i[ok], j[ok]
    rest = np.linalg.norm(p[0, i] - p[0, j], axis=-1)
    stretch = np.abs(np.linalg.norm(p[:, i] - p[:, j], axis=-1) - rest).max(0)
    keep = stretch <= config.rigid_tolerance
    graph = coo_matrix((np.ones(int(keep.sum())), (i[keep], j[keep])), shape=(len(moving),) * 2)
    _, comp = connected_components(graph, directed=False)
    # Pieces of one body that do not touch (a cart's handle, a figure's arms) move alike: each
    # component joins the first larger group whose rigid motion carries it too.
    pieces = sorted((np.nonzero(comp == c)[0] for c in np.unique(comp)), key=lambda g: (-len(g), int(g[0])))
    groups: list[list[np.ndarray]] = []
    fits: list[np.ndarray] = []
    for piece in pieces:
        for members, motions in zip(groups, fits):
            moved = np.einsum("tij,pj->tpi", motions[:, :3, :3], p[0, piece]) + motions[:, None, :3, 3]
            # RMS per time, as the Kabsch residual: the largest single deviation grows with the piece's size
            # under noise (a 2 mm jitter of every Gaussian split a spinning platter in two with it).
            if np.sqrt((np.linalg.norm(moved - p[:, piece], axis=-1) ** 2).mean(1)).max() <= config.rigid_tolerance:
                members.append(piece)
                break
        else:
            if len(piece) >= 3:
                groups.append([piece])
                fits.append(_fit_all(p[:, piece])[0])
    out = [np.sort(moving[np.concatenate(g)]) for g in groups]
    return sorted((g for g in out if len(g) >= config.min_part_gaussians), key=lambda g: int(g[0]))


def _proximity_groups(points: np.ndarray, config: MotionConfig) -> list[np.ndarray]:
    """Connected groups of ``points [n, 3]`` within ``neighbour_radius`` of each other (at least ``min_part_gaussians``)."""
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    if len(points) < config.min_part_gaussians:
        return []
    graph = cKDTree(points).sparse_distance_matrix(cKDTree(points), config.neighbour_radius, output_type="coo_matrix")
    _, comp = connected_components(graph, directed=False)
    groups = [np.nonzero(comp == c)[0] for c in np.unique(comp)]
    return sorted((g for g in groups if len(g) >= config.min_part_gaussians), key=lambda g: int(g[0]))


# ---------------------------------------------------------------------- the split
@dataclass
class _Found:
    name: str
    label: str | None
    index: np.ndarray  # rows of the first time's scene
    motions: np.ndarray  # [T, 4, 4] world motions from the first time
    residual: np.ndarray
    method: str


def _by_label(scenes: list[GaussianScene], corresponding: bool, config: MotionConfig) -> list[_Found]:
    from scipy.spatial import cKDTree

    first = scenes[0]
    labels0 = first.labels.numpy()
    means = [s.means.double().numpy() for s in scenes]
    found: list[_Found] = []
    for li in np.unique(labels0[labels0 >= 0]):
        name = first.label_names[li]
        index = np.nonzero(labels0 == li)[0]
        if corresponding:
            x = np.stack([m[index] for m in means])
            if np.linalg.norm(x - x[:1], axis=-1).max() <= config.move_tolerance:
                continue
            motions, residual = _fit_all(x)
            if residual.max() <= config.rigid_tolerance:
                found.append(_Found(name, name, index, motions, residual, "kabsch"))
                continue
            groups = rigid_groups(x, config)
            for k, g in enumerate(groups):
                motions, residual = _fit_all(x[:, g])
                found.append(_Found(name if len(groups) == 1 else f"{name}.{k}", name, index[g], motions, residual, "kabsch"))
            continue
        visible = index[first.opacities.numpy()[index] >= config.min_opacity]
        source = means[0][visible][_stride(len(visible), config.icp_points)]
        targets = []
        for t, s in enumerate(scenes[1:], 1):
            sel = (s.labels.numpy() == li) & (s.opacities.numpy() >= config.min_opacity)
            if not sel.any():
                raise ValueError(f"label {name!r} has no Gaussians at time {t} ({s.label_names[li]} vanished): "
                                 "its motion cannot be followed")
            targets.append(means[t][sel])
        if len(source) < 3:
            continue
        if all(np.median(cKDTree(tg).query(source)[0]) <= config.move_tolerance for tg in targets):
            continue  # every time's Gaussians lie where the first time's were (most of them, as drawn): static
        motions, residual = _track(source, targets, config)
        if _moved(motions, source) > config.move_tolerance:
            found.append(_Found(name, name, index, motions, residual, "icp"))
    return found


def _by_clustering(scenes: list[GaussianScene], rows: np.ndarray, config: MotionConfig) -> list[_Found]:
    x = np.stack([s.means.double().numpy()[rows] for s in scenes])
    out = []
    for g in rigid_groups(x, config):
        motions, residual = _fit_all(x[:, g])
        out.append(_Found("", None, rows[g], motions, residual, "kabsch"))
    return out


def _by_change(scenes: list[GaussianScene], config: MotionConfig) -> list[_Found]:
    from scipy.spatial import cKDTree

    visible = [np.nonzero(s.opacities.numpy() >= config.min_opacity)[0] for s in scenes]
    means = [s.means.double().numpy()[v] for s, v in zip(scenes, visible)]
    if any(len(m) < 2 for m in means):
        return []
    trees = [cKDTree(m) for m in means]
    # Each time's Gaussians are drawn anew, so "no Gaussian near" is measured against how far apart that
    # time's Gaussians are there: beyond its local spacing by more than the move tolerance.
    spacing = [t.query(m, k=2)[0][:, 1] for t, m in zip(trees, means)]
    excess = np.zeros(len(means[0]))
    for tree, gap in zip(trees[1:], spacing[1:]):
        d, j = tree.query(means[0])
        excess = np.maximum(excess, d - gap[j])
    changed = excess > config.move_tolerance
    if changed.all() or not changed.any():
        return []
    static_tree, static_gap = cKDTree(means[0][~changed]), spacing[0][~changed]

    def unexplained(m: np.ndarray) -> np.ndarray:  # what the static Gaussians do not explain: the movers then
        d, j = static_tree.query(m)
        return m[d - static_gap[j] > config.move_tolerance / 2]

    targets = [unexplained(m) for m in means[1:]]
    if any(len(u) < 6 for u in targets):
        return []
    out = []
    rows = np.nonzero(changed)[0]
    for g in _proximity_groups(means[0][rows], config):
        source = means[0][rows[g]]
        motions, residual = _track(source[_stride(len(source), config.icp_points)], targets, config)
        if _moved(motions, source) > config.move_tolerance:
            members = _grow(rows[g], motions, means, trees, config)
            out.append(_Found("", None, visible[0][members], motions, residual, "icp"))
    return out


def _grow(members: np.ndarray, motions: np.ndarray, means: list[np.ndarray], trees: list, config: MotionConfig,
          rounds: int = 3) -> np.ndarray:
    """``members`` (rows of ``means[0]``) with the nearby Gaussians that the part's ``motions`` explain better
    than standing still (summed distances to each time's nearest Gaussian): where a part's motion carries
    its Gaussians onto its own surface (a cart's long sides sliding along themselves) it shows nowhere."""
    from scipy.spatial import cKDTree

    members = np.asarray(members)
    inside = np.zeros(len(means[0]), dtype=bool)
    inside[members] = True
    for _ in range(rounds):
        near = cKDTree(means[0][inside]).query(means[0], distance_upper_bound=config.neighbour_radius)[0]
        candidates = np.nonzero(np.isfinite(near) & ~inside)[0]
        if not len(candidates):
            break
        q = means[0][candidates]
        moving = sum(tree.query(_apply(m, q))[0] for m, tree in zip(motions[1:], trees[1:]))
        still = sum(tree.query(q)[0] for tree in trees[1:])
        joins = candidates[moving < 0.5 * still]  # clearly better: a floor under a sliding part fits both
        if not len(joins):
            break
        inside[joins] = True
    return np.nonzero(inside)[0]


def _corresponding(scenes: list[GaussianScene]) -> bool:
    """Whether row i is the same Gaussian at every time: equal counts and labels, and from each time to
    the next most Gaussians (half) move less than `CORRESPONDENCE_STEP` (a shuffled or redrawn set does not)."""
    first = scenes[0]
    if any(len(s) != len(first) for s in scenes) or (
            first.labels is not None and not all(torch.equal(s.labels, first.labels) for s in scenes)):
        return False
    return all(float(((a.means - b.means).norm(dim=1) <= CORRESPONDENCE_STEP).float().mean()) >= 0.5
               for a, b in zip(scenes, scenes[1:]))


def estimate_motion(dynamic: DynamicScene, config: MotionConfig = MotionConfig()) -> MotionEstimate:
    """Split ``dynamic`` into its static Gaussians and rigid moving parts with their poses (module docstring).

    Raises:
        ValueError: fewer than two times, or a labelled part that vanishes at some time.
    """
    if not isinstance(dynamic, DynamicScene):
        raise ValueError(f"estimate_motion: expected a DynamicScene, got {type(dynamic).__name__}")
    if len(dynamic) < 2:
        raise ValueError(f"a dynamic scene needs at least 2 times to show motion, got {len(dynamic)}")
    scenes = [s.to("cpu") for s in dynamic.scenes]
    first = scenes[0]
    if len(first) == 0:
        raise ValueError("the scene has no Gaussians at its first time")
    corresponding = _corresponding(scenes)
    labelled = first.labels is not None and bool((first.labels >= 0).any())
    if labelled:
        found = _by_label(scenes, corresponding, config)
        unlabelled = np.nonzero(first.labels.numpy() < 0)[0]
        if corresponding and len(unlabelled):
            found += _by_clustering(scenes, unlabelled[first.opacities.numpy()[unlabelled] >= config.min_opacity], config)
        segmentation = "labels"
    elif corresponding:
        found = _by_clustering(scenes, np.nonzero(first.opacities.numpy() >= config.min_opacity)[0], config)
        segmentation = "clustering"
    else:
        found = _by_change(scenes, config)
        segmentation = "change"
    clustered = 0
    for f in found:
        if not f.name:
            f.name = f"part_{clustered:02d}"
            clustered += 1
    taken = np.zeros(len(first), dtype=bool)
    parts = []
    for f in found:
        index = f.index[~taken[f.index]]  # a Gaussian belongs to one part (the first that claims it)
        taken[index] = True
        if len(index) == 0:
            continue
        center = first.means.double().numpy()[index].mean(0)
        to_part = np.eye(4)
        to_part[:3, 3] = center
        poses = f.motions @ to_part
        gaussians = first.select(torch.as_tensor(index))
        gaussians = replace(gaussians, means=gaussians.means - torch.as_tensor(center, dtype=torch.float32))
        m = gaussians.means.double().numpy()
        lo, hi = m.min(0), m.max(0)
        corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
        parts.append(MovingPart(f.name, f.label, gaussians, poses, f.residual, f.method, detect_loop(poses, corners)))
    static = first.select(torch.as_tensor(np.nonzero(~taken)[0]))
    return MotionEstimate(dynamic.times, dynamic.fps, static, tuple(parts), segmentation, corresponding)


__all__ = ["SEGMENTATIONS", "MotionConfig", "MotionEstimate", "MovingPart", "estimate_motion", "icp", "kabsch",
           "rigid_groups"]
