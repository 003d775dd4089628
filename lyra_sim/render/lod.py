"""Level of detail for a `GaussianScene`: coarser copies for cameras that cannot resolve the full one.

A 64×64 camera with a 90° field of view sees 3 cm per pixel at one meter and 15 cm at five;
a splat scene made for 720p has centimeter Gaussians, so most of them land dozens to a pixel.
Rasterizing them all costs time and changes little. Here the scene is summarised once, per
level ``l``, by one Gaussian per occupied cubic cell of edge ``base_cell · 2**l``, and every
camera draws, region by region, the coarsest level whose cells still project to at most
``pixel_ratio`` pixels (the full scene where even level 0 is too coarse).

**Merging** a cell's Gaussians is moment matching, weighted by each Gaussian's opacity times
its footprint area ``w = o · s₁ s₂`` (two largest scales): the merged mean and covariance are
those of the weighted mixture, with the spread of the centers scaled by `LODConfig.spread`
(``Σ = Σ w Σᵢ / Σ w + spread² · Σ w (μᵢ − μ)(μᵢ − μ)ᵀ / Σ w``), SH coefficients are the
weighted mean, and the opacity keeps the cell's opacity-weighted area: ``o = min(Σ o s₁ s₂ /
(S₁ S₂), MAX_OPACITY)`` with ``S`` the merged scales (a covered cell stays opaque, a sparse
one stays see-through).

**Regions** ("anchors") are cubic cells of edge ``base_cell · 2**levels``, so every level's
cells nest in exactly one anchor, and each camera picks one level per anchor from the
nearest point of the anchor's box: no region is drawn twice or skipped. Anchors whose
bounding sphere (covering their Gaussians' 3.33σ extent, the rasterizer's) is behind the
camera or outside its field of view widened by `EDGE_MARGIN_PX` (the rasterizer's blur and
rounding reach past a Gaussian's own extent) are skipped: this is the frustum culling. ``pixel_ratio`` is chosen per
call, so one structure serves every camera resolution.

The structure is built on the CPU in float64 (deterministic), and its tensors move with
`GaussianLOD.to`. Renders through it are checked against full-scene renders in the tests and
in ``benchmarks/`` (PSNR).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from ..cameras import Cameras
from ..scene import GaussianScene, quat_to_rotmat, rotmat_to_quat
from . import numba_lod
from .rasterizer import EPS2D
from .torch_impl import MAX_EXTENT_SIGMAS

EDGE_MARGIN_PX = MAX_EXTENT_SIGMAS * math.sqrt(EPS2D) + 1.5
"""Pixels by which the culling frustum is widened on every side: the 2D blur ``eps2d`` grows
every footprint by up to 3.33·√eps2d pixels (≈ 1.8), plus the rasterizer's pixel rounding."""

MAX_OPACITY = 0.99
"""Merged opacities are capped here: a merged Gaussian stands for a cell, never a solid wall."""


@dataclass(frozen=True)
class LODConfig:
    """Settings of `build_lod`.

    Attributes:
        base_cell: edge of level 0's cells, meters.
        levels: number of merged levels (cells ``base_cell · 2**l``, l < levels).
        spread: the spread of a cell's Gaussian centers is scaled by this in the merged
            covariance. Centers spread evenly over a cell of edge h have a standard deviation
            of 0.29 h, so a Gaussian matched to them leaves gaps between neighbouring cells;
            2 (0.58 h) closes them (measured: 35 dB against 24 dB PSNR at 2 pixels per cell).
    """

    base_cell: float = 0.04
    levels: int = 3
    spread: float = 2.0

    def __post_init__(self) -> None:
        if not self.base_cell > 0:
            raise ValueError(f"base_cell: expected > 0 meters, got {self.base_cell}")
        if not 1 <= self.levels <= 10:
            raise ValueError(f"levels: expected 1..10, got {self.levels}")
        if not self.spread >= 1:
            raise ValueError(f"spread: expected >= 1, got {self.spread}")

    @property
    def anchor_cell(self) -> float:
        return self.base_cell * 2**self.levels


@dataclass(frozen=True)
class GaussianLOD:
    """A scene and its merged levels, grouped by anchor.

    Attributes:
        scene: every level's Gaussians in one scene: level -1 (the original Gaussians) first,
            then levels 0, 1, ...; within a level, sorted by anchor.
        offsets: ``[L + 1, A + 1]`` int64: anchor ``a`` of level row ``r`` (row 0 = the original
            scene, row ``l + 1`` = level ``l``) holds ``scene`` rows ``offsets[r, a]`` to
            ``offsets[r, a + 1]``.
        anchor_lo, anchor_hi: ``[A, 3]`` the anchors' boxes.
        anchor_center, anchor_radius: ``[A, 3]``, ``[A]`` spheres holding the 3σ extent of
            every Gaussian of the anchor at every level.
        cell_sizes: ``[L]`` edge of each merged level's cells, meters.
        config: how it was built.
    """

    scene: GaussianScene
    offsets: Tensor
    anchor_lo: Tensor
    anchor_hi: Tensor
    anchor_center: Tensor
    anchor_radius: Tensor
    cell_sizes: Tensor
    config: LODConfig

    @property
    def num_anchors(self) -> int:
        return self.anchor_lo.shape[0]

    def level_sizes(self) -> list[int]:
        """Number of Gaussians in the original scene and in each merged level."""
        return [int(self.offsets[r, -1] - self.offsets[r, 0]) for r in range(self.offsets.shape[0])]

    def to(self, device: torch.device | str) -> "GaussianLOD":
        move = {k: getattr(self, k).to(device) for k in ("offsets", "anchor_lo", "anchor_hi", "anchor_center", "anchor_radius", "cell_sizes")}
        return GaussianLOD(scene=self.scene.to(device), config=self.config, **move)

    def _anchor_view(self, vm: Tensor, ks: Tensor, width: int, height: int, near_plane: float) -> tuple[Tensor, Tensor]:
        """Meters per pixel at each anchor's nearest point ``[C, A]`` and the frustum test ``[C, A]`` bool."""
        rot, trans = vm[:, :3, :3], vm[:, :3, 3]
        eye = -(rot.transpose(1, 2) @ trans[..., None])[..., 0]  # [C, 3] camera centers
        # Nearest point of each anchor box to each camera → the finest detail it can show there.
        nearest = torch.maximum(torch.minimum(eye[:, None], self.anchor_hi), self.anchor_lo)
        dist = (nearest - eye[:, None]).norm(dim=-1)  # [C, A]
        focal = torch.maximum(ks[:, 0, 0], ks[:, 1, 1])[:, None]
        meters_per_pixel = dist / focal

        # Frustum test on the anchors' spheres: camera-space center against the four side planes.
        center_c = torch.einsum("cij,aj->cai", rot, self.anchor_center) + trans[:, None]
        x, y, z = center_c.unbind(-1)
        r = self.anchor_radius[None]
        visible = z + r > near_plane
        w, h = float(width), float(height)
        for coord, f, c, size in ((x, ks[:, 0, 0], ks[:, 0, 2], w), (y, ks[:, 1, 1], ks[:, 1, 2], h)):
            for edge, sign in ((-c - EDGE_MARGIN_PX, -1.0), (size - c + EDGE_MARGIN_PX, 1.0)):  # planes through the camera and the widened image's edges
                # Signed distance of the sphere center outside the plane (positive = outside).
                outside = sign * (coord * f[:, None] - z * edge[:, None]) / torch.sqrt(f**2 + edge**2)[:, None]
                visible &= outside < r
        return meters_per_pixel, visible

    def _rows(self, meters_per_pixel: Tensor, visible: Tensor, pixel_ratio: float) -> Tensor:
        fits = self.cell_sizes[None, None, :] <= pixel_ratio * meters_per_pixel[..., None]  # [C, A, L]
        rows = fits.sum(-1)  # levels are increasing in size: the count of fitting ones is the coarsest + 1
        return torch.where(visible, rows, torch.full_like(rows, -1))

    def choose_levels(self, cameras: Cameras, pixel_ratio: float = 1.0, near_plane: float = 0.01) -> Tensor:
        """Level row per camera and anchor: ``[C, A]`` int64, row 0 = original, -1 = culled.

        Args:
            cameras: ``C`` cameras (viewmats ``[C, 4, 4]``, Ks ``[C, 3, 3]``).
            pixel_ratio: a level is drawn where its cells span at most this many pixels
                (0 draws the original Gaussians everywhere, still frustum-culled).
        """
        view = self._anchor_view(cameras.viewmats, cameras.Ks, cameras.width, cameras.height, near_plane)
        return self._rows(*view, pixel_ratio)

    def _lengths(self, rows: Tensor) -> tuple[Tensor, Tensor]:
        """First scene row ``[C, A]`` and Gaussian count ``[C, A]`` (0 where culled) of each chosen level."""
        a = torch.arange(self.num_anchors, device=rows.device)
        r = rows.clamp_min(0)
        starts = self.offsets[r, a]
        return starts, torch.where(rows >= 0, self.offsets[r, a + 1] - starts, 0)

    def select(self, cameras: Cameras, pixel_ratio: float = 1.0, near_plane: float = 0.01) -> tuple[Tensor, Tensor]:
        """The Gaussians each camera draws (see `choose_levels` for the arguments).

        On the CPU one compiled loop where Numba is installed (`lyra_sim.render.numba_lod`: the same
        selections but where a decision lies within float32 rounding of its threshold), else
        `select_reference`.

        Returns:
            ``(ids [M], counts [C])``: rows of `scene`, camera after camera (camera ``c``'s
            are ``ids[counts[:c].sum() : counts[:c + 1].sum()]``).
        """
        if self.offsets.device.type == "cpu" and numba_lod.available():
            return numba_lod.select(self.offsets, self.anchor_lo, self.anchor_hi, self.anchor_center, self.anchor_radius,
                                    self.cell_sizes, cameras.viewmats, cameras.Ks, cameras.width, cameras.height,
                                    pixel_ratio, near_plane, EDGE_MARGIN_PX)
        return self.select_reference(cameras, pixel_ratio, near_plane)

    def select_reference(self, cameras: Cameras, pixel_ratio: float = 1.0, near_plane: float = 0.01) -> tuple[Tensor, Tensor]:
        """`select` in PyTorch, on any device: the reference."""
        rows = self.choose_levels(cameras, pixel_ratio, near_plane)  # [C, A]
        anchors = torch.arange(self.num_anchors, device=rows.device).expand_as(rows)
        keep = rows >= 0
        r, a = rows[keep], anchors[keep]
        starts = self.offsets[r, a]
        lengths = self.offsets[r, a + 1] - starts
        counts = torch.zeros(rows.shape[0], dtype=torch.int64, device=rows.device)
        counts.index_add_(0, torch.nonzero(keep)[:, 0], lengths)
        total = int(lengths.sum())
        # ids = concat(arange(start, start + length)) without a Python loop.
        seg = torch.repeat_interleave(torch.arange(len(lengths), device=rows.device), lengths, output_size=total)
        first = torch.cumsum(lengths, 0) - lengths
        ids = starts[seg] + torch.arange(total, device=rows.device) - first[seg]
        return ids, counts

    def selection_counts(
        self, viewmats: Tensor, Ks: Tensor, width: int, height: int, pixel_ratio: float, near_plane: float = 0.01,
        anchor_mask: Tensor | None = None,
    ) -> Tensor:
        """``[C]`` sizes of `select`'s per-camera selections (arguments as `select_padded`), without building them."""
        mpp, visible = self._anchor_view(viewmats, Ks, width, height, near_plane)
        if anchor_mask is not None:
            visible = visible & anchor_mask
        return self._lengths(self._rows(mpp, visible, pixel_ratio))[1].sum(1)

    def select_padded(
        self, viewmats: Tensor, Ks: Tensor, width: int, height: int, pixel_ratio: float, budget: int,
        near_plane: float = 0.01, anchor_mask: Tensor | None = None,
    ) -> PaddedSelection:
        """`select` into a fixed ``[C, budget]`` table, with no host synchronisation (for batched GPU rendering).

        The cameras come as the fields of a `Cameras` (``viewmats [C, 4, 4]``, ``Ks [C, 3, 3]``):
        building one checks finiteness, a host synchronisation.

        A camera whose selection exceeds ``budget`` takes the first of the pixel ratios
        ``2 · pixel_ratio``, ``4 · pixel_ratio``, ∞ (every visible anchor at the coarsest
        level) that fits: coarser, but never missing a region. Give ``budget >=`` the
        coarsest level's size (``level_sizes()[-1]``) so that ∞ always fits; a camera
        that still overflows stops the CUDA stream with a device-side assert (never a silent drop).

        Args:
            anchor_mask: optional ``[C, A]`` bool, anchors each camera may draw (e.g. those of
                its own scene, for several scenes merged by `merge_lods`).
        """
        mpp, visible = self._anchor_view(viewmats, Ks, width, height, near_plane)
        if anchor_mask is not None:
            visible = visible & anchor_mask
        rows = self._rows(mpp, visible, pixel_ratio)
        starts, lengths = self._lengths(rows)
        counts = lengths.sum(1)
        coarsened = torch.zeros_like(counts, dtype=torch.bool)
        for ratio in (2 * pixel_ratio, 4 * pixel_ratio, math.inf):
            over = counts > budget
            rows_c = self._rows(mpp, visible, ratio)
            starts_c, lengths_c = self._lengths(rows_c)
            starts = torch.where(over[:, None], starts_c, starts)
            lengths = torch.where(over[:, None], lengths_c, lengths)
            counts = lengths.sum(1)
            coarsened |= over
        if counts.device.type == "cuda":
            torch._assert_async((counts <= budget).all())
        elif bool((counts > budget).any()):
            raise ValueError(f"select_padded: budget {budget} is below the coarsest level's selection")
        ends = torch.cumsum(lengths, 1)  # [C, A]
        slot = torch.arange(budget, device=rows.device).expand(rows.shape[0], budget).contiguous()
        # The anchor holding each slot: the first whose cumulative end passes it.
        anchor = torch.searchsorted(ends, slot, right=True).clamp_max(self.num_anchors - 1)
        ids = starts.gather(1, anchor) + slot - (ends - lengths).gather(1, anchor)
        ids = torch.where(slot < counts[:, None], ids, len(self.scene))
        return PaddedSelection(ids=ids, counts=counts, coarsened=coarsened)


@dataclass(frozen=True)
class PaddedSelection:
    """What `GaussianLOD.select_padded` returns.

    Attributes:
        ids: ``[C, budget]`` int64 rows of the LOD's scene; camera ``c``'s first ``counts[c]``
            entries are its selection in `GaussianLOD.select`'s order, the rest hold
            ``len(scene)`` (one past the last row: the caller's padding Gaussian).
        counts: ``[C]`` selected Gaussians per camera.
        coarsened: ``[C]`` bool, cameras drawn at a coarser ratio to fit the budget.
    """

    ids: Tensor
    counts: Tensor
    coarsened: Tensor


def merge_lods(lods: list[GaussianLOD]) -> tuple[GaussianLOD, Tensor]:
    """Several scenes' LODs as one (their anchors side by side), and each anchor's scene ``[A]``.

    Rows stay grouped by level (each level holds scene 0's Gaussians, then scene 1's, ...), so
    the result is a `GaussianLOD` like any other; a camera is kept to its own scene by the
    ``anchor_mask`` of `GaussianLOD.select_padded`.
    """
    if len(lods) == 1:
        return lods[0], torch.zeros(lods[0].num_anchors, dtype=torch.int64, device=lods[0].offsets.device)
    if any(lod.config != lods[0].config for lod in lods):
        raise ValueError("merge_lods: the LODs were built with different settings")
    num_rows = lods[0].offsets.shape[0]
    parts, offsets, base = [], [], 0
    for r in range(num_rows):
        row_offsets = []
        for lod in lods:
            first, last = lod.offsets[r, 0], lod.offsets[r, -1]
            parts.append(lod.scene.select(torch.arange(int(first), int(last), device=lod.offsets.device)))
            row_offsets.append(lod.offsets[r, :-1] - first + base)
            base += int(last - first)
        offsets.append(torch.cat([*row_offsets, torch.tensor([base], device=row_offsets[0].device)]))
    if len({p.sh.shape[1] for p in parts}) > 1:
        raise ValueError("merge_lods: the scenes have different SH degrees")
    # Labels index per-scene name lists; a merged render does not need them.
    scene = GaussianScene(**{k: torch.cat([getattr(p, k) for p in parts]) for k in ("means", "quats", "scales", "opacities", "sh")})
    merged = GaussianLOD(
        scene=scene,
        offsets=torch.stack(offsets),
        config=lods[0].config,
        cell_sizes=lods[0].cell_sizes,
        **{k: torch.cat([getattr(lod, k) for lod in lods]) for k in ("anchor_lo", "anchor_hi", "anchor_center", "anchor_radius")},
    )
    anchor_scene = torch.cat([torch.full((lod.num_anchors,), s, dtype=torch.int64, device=lod.offsets.device) for s, lod in enumerate(lods)])
    return merged, anchor_scene


def _covariances(scene: GaussianScene) -> Tensor:
    """``[N, 3, 3]`` float64 world covariances ``R S² Rᵀ``."""
    rot = quat_to_rotmat(scene.quats).double()
    s2 = scene.scales.double() ** 2
    return (rot * s2[:, None, :]) @ rot.transpose(1, 2)


def _merge_level(
    means: Tensor, cov: Tensor, weight: Tensor, mass: Tensor, sh: Tensor, labels: Tensor | None, cell: Tensor, num_cells: int,
    spread: float,
) -> tuple[Tensor, ...]:
    """Moment-match the Gaussians of each cell (``cell: [N]`` in ``[0, num_cells)``); float64 inputs."""
    def cell_sum(x: Tensor) -> Tensor:
        out = torch.zeros((num_cells, *x.shape[1:]), dtype=x.dtype)
        return out.index_add_(0, cell, x)

    w = cell_sum(weight)
    mean = cell_sum(weight[:, None] * means) / w[:, None]
    within = cell_sum(weight[:, None, None] * cov) / w[:, None, None]
    offset = means - mean[cell]
    between = cell_sum(weight[:, None, None] * offset[:, :, None] * offset[:, None, :]) / w[:, None, None]
    cov_m = within + spread**2 * between
    cov_m = 0.5 * (cov_m + cov_m.transpose(1, 2))
    evals, evecs = torch.linalg.eigh(cov_m)
    scales = evals.clamp_min(1e-12).sqrt()
    # eigh's vectors may form a reflection; flip one axis so they are a rotation.
    evecs[:, :, 0] *= torch.sign(torch.linalg.det(evecs))[:, None]
    quats = rotmat_to_quat(evecs.float()).double()
    area = scales[:, 1] * scales[:, 2]  # eigh sorts ascending: the two largest are last
    opacity = (cell_sum(mass) / area).clamp(max=MAX_OPACITY)
    sh_m = cell_sum(weight[:, None, None] * sh) / w[:, None, None]
    label = None
    if labels is not None:
        # The label with the largest weight in the cell (-1, unlabeled, counts as a label).
        n_lab = int(labels.max()) + 2
        votes = torch.zeros(num_cells * n_lab, dtype=torch.float64).index_add_(0, cell * n_lab + labels + 1, weight)
        label = votes.view(num_cells, n_lab).argmax(1) - 1
    return mean, quats, scales, opacity, sh_m, label


def build_lod(scene: GaussianScene, config: LODConfig = LODConfig()) -> GaussianLOD:
    """Build the levels of ``scene`` (on the CPU; see the module docstring).

    Args:
        scene: ``N`` Gaussians.

    Returns:
        A `GaussianLOD` on the CPU; call ``.to(device)`` to render elsewhere.
    """
    src = scene.to("cpu")
    if len(src) == 0:
        raise ValueError("build_lod: the scene has no Gaussians")
    means = src.means.double()
    sc = src.scales.double().sort(-1).values
    mass = src.opacities.double() * sc[:, 1] * sc[:, 2]
    weight = mass.clamp_min(1e-30)
    cov = _covariances(src)
    sh = src.sh.double()

    anchor_key = torch.floor(means / config.anchor_cell).long()
    anchor_keys, anchor_of = torch.unique(anchor_key, dim=0, return_inverse=True)
    num_anchors = anchor_keys.shape[0]

    levels: list[tuple[Tensor, ...]] = [(src.means, src.quats, src.scales, src.opacities, src.sh, src.labels, anchor_of)]
    for level in range(config.levels):
        size = config.base_cell * 2**level
        key = torch.floor(means / size).long()
        # Cells sorted by (anchor, cell key) so each anchor's cells are contiguous.
        cell_keys, cell = torch.unique(torch.cat([anchor_of[:, None], key], 1), dim=0, return_inverse=True)
        mean, quats, scales, opacity, sh_m, label = _merge_level(
            means, cov, weight, mass, sh, src.labels, cell, len(cell_keys), config.spread
        )
        levels.append((mean.float(), quats.float(), scales.float(), opacity.float(), sh_m.float(), label, cell_keys[:, 0]))

    parts, offsets, base = [], [], 0
    lo = torch.full((num_anchors, 3), math.inf, dtype=torch.float64)
    hi = torch.full((num_anchors, 3), -math.inf, dtype=torch.float64)
    for m, q, s, o, c, lab, anchor in levels:
        order = torch.argsort(anchor, stable=True)
        m, q, s, o, c, anchor = m[order], q[order], s[order], o[order], c[order], anchor[order]
        lab = lab[order] if lab is not None else None
        parts.append((m, q, s, o, c, lab))
        counts = torch.bincount(anchor, minlength=num_anchors)
        offsets.append(base + torch.cat([torch.zeros(1, dtype=torch.int64), torch.cumsum(counts, 0)]))
        base += len(m)
        reach = MAX_EXTENT_SIGMAS * s.double().amax(-1, keepdim=True)
        lo = lo.scatter_reduce(0, anchor[:, None].expand(-1, 3), m.double() - reach, "amin")
        hi = hi.scatter_reduce(0, anchor[:, None].expand(-1, 3), m.double() + reach, "amax")
    merged = GaussianScene(
        means=torch.cat([p[0] for p in parts]),
        quats=torch.cat([p[1] for p in parts]),
        scales=torch.cat([p[2] for p in parts]),
        opacities=torch.cat([p[3] for p in parts]),
        sh=torch.cat([p[4] for p in parts]),
        labels=torch.cat([p[5] for p in parts]) if src.labels is not None else None,
        label_names=src.label_names,
    )
    box_lo = anchor_keys.double() * config.anchor_cell
    return GaussianLOD(
        scene=merged,
        offsets=torch.stack(offsets),
        anchor_lo=box_lo.float(),
        anchor_hi=(box_lo + config.anchor_cell).float(),
        anchor_center=((lo + hi) / 2).float(),
        anchor_radius=((hi - lo).norm(dim=-1) / 2 * (1 + 1e-4) + 1e-4).float(),
        cell_sizes=torch.tensor([config.base_cell * 2**l for l in range(config.levels)], dtype=torch.float32),
        config=config,
    )
