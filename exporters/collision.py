"""Collision mesh from any `GaussianScene`: rendered depth → TSDF fusion → cleaned triangle mesh.

Only the Gaussians are used (never a world model's ground truth), so imported splats get the
same treatment as generated ones:

1. **View planning** (`lyra_sim.exporters.view_planning`): depth cameras inside each room of the
   scene, or around it when it has none.
2. **Depth.** `lyra_sim.render.render` in mode ``"ED"``: expected camera-z depth and alpha, drawn by
   the compiled CPU rasterizer when numba is installed, else by the PyTorch reference
   (`lyra_sim.render.fastest_backend`; the manifest's ``collision.depth_backend`` says which).
   Pixels with ``alpha < alpha_threshold`` are dropped, and so are pixels at depth
   discontinuities, where expected depth blends foreground and background ("flying pixels"),
   and pixels that see their surface at a grazing angle, where expected depth reads too near
   (`valid_depth`); view planning looks for head-on views of every surface instead.
3. **Fusion.** Open3D's tensor `VoxelBlockGrid` TSDF (camera-z depth is what Open3D expects),
   marching cubes at the zero crossing.
4. **Cleanup** with pymeshlab: merge close vertices, drop null / duplicate faces and small
   connected components, repair non-manifold edges and vertices, quadric edge-collapse
   decimation to a face budget, repair again, orient faces coherently. Each component's
   facing is then fixed so normals point into the observed free space (as fused).

Everything is deterministic: the same scene and config give the same arrays, bit for bit
(the fused mesh is put in a canonical vertex / face order before cleanup). Steps 2-4 live in
`lyra_sim.exporters.depth_fusion`; this module holds the settings and runs the whole.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

from lyra_sim.config import check_number
from lyra_sim.render import fastest_backend, numba_impl
from lyra_sim.scene import GaussianScene

from .depth_fusion import clean_mesh, default_face_budget, fuse_tsdf, orient_like, render_depth, valid_depth
from .mesh_tools import canonical_order
from .view_planning import plan_views, visible_gaussians

Stage = Callable[[str], None]

MIN_VOXEL = 0.005
"""TSDF voxel edge at least, meters. Memory grows with the surface over the voxel edge squared
(a 5 mm room is ~0.3 GB of voxel blocks; --voxel-size 0.0005 crashed Open3D)."""


@dataclass(frozen=True)
class CollisionConfig:
    """Settings of `extract_collision_mesh`; ``None`` fields default from the scene's size.

    Attributes (caps checked before any work; the voxel cap against the scene before fusion):
        voxel_size: TSDF voxel edge, meters in [`MIN_VOXEL`, 0.5], and at least the scene's
            diagonal / `lyra_sim.exporters.view_planning.MAX_VOXELS_ACROSS`. Default: the bounding box diagonal / 240,
            clamped to [0.01, 0.04] (about 2.8 cm for a 5 × 3.6 × 2.7 m room, 4 cm for a
            warehouse: coarser voxels erode shelf boards and close the gaps between them).
        resolution: width and height of every depth view, pixels in [16, 2048]. At 112 px a pixel spans
            5 cm at 3 m, and `valid_depth` drops every pixel beside a depth step: shelves
            full of boards and boxes kept almost no depth (warehouse F@5cm 0.835 at 112 px,
            0.878 at 224 px, for 1.5 times the render time).
        num_viewpoints: interiors get ``6 · num_viewpoints`` cube faces per room (at fewer
            distinct points); object scenes that many whole cube maps; at most 256. Default: one
            per 3 m³ of the room's free volume, clamped to [6, 24] (object scenes: 4).
        orbit_views: views on the rings around an object scene (half on each ring).
        clearance: smallest distance from a viewpoint to the nearest occupied cell, meters.
        alpha_threshold: pixels with a lower accumulated opacity carry no depth.
        edge_threshold: a pixel is a depth discontinuity when a 4-neighbour's depth differs by
            more than this fraction of its own depth.
        min_cos: pixels seen at a grazing angle (cosine between the viewing ray and the
            surface normal below this) are dropped; see `valid_depth`. 0 keeps them.
        sdf_trunc_voxels: TSDF truncation distance in voxels. Small, because depth from
            Gaussians is nearly noise-free, and a wide band erodes thin parts (a 4 cm table top
            seen from both sides) and grows lips at object corners.
        min_weight: voxels with less TSDF weight are not meshed (Open3D keeps weight >
            threshold, so 0.5 meshes what a single view saw).
        min_component_size: connected components with a smaller bounding-box diagonal are
            removed, meters. Default: 6 voxels.
        face_budget: target face count after decimation, at most 5 000 000. Default: scaled to
            the fused surface area (one face per (2.2 · voxel_size)² / 2), clamped to [2 000, 150 000].
        min_interior_fraction: smallest enclosed free volume, as a fraction of the bounding
            box, that makes the scene an interior (room).
        min_interior_clearance: an interior must also hold a point this far from every
            occupied grid cell, meters (about 1.5 cells less than the true distance to the
            nearest surface): a closed object (a box, a fridge) encloses empty space too, but
            nothing fits inside it.
        view_height: interior viewpoints stay in the lowest fraction of the interior's height:
            what hides surfaces (furniture) stands on the floor, and a ceiling is seen from
            anywhere.
        outside_views: "auto" (around the scene only when it has no interior), "always" or
            "never".
    """

    voxel_size: float | None = None
    resolution: int = 224
    num_viewpoints: int | None = None
    orbit_views: int = 24
    clearance: float = 0.3
    alpha_threshold: float = 0.5
    edge_threshold: float = 0.04
    min_cos: float = 0.65
    sdf_trunc_voxels: float = 2.0
    min_weight: float = 0.5
    min_component_size: float | None = None
    face_budget: int | None = None
    min_interior_fraction: float = 0.15
    min_interior_clearance: float = 0.3
    view_height: float = 0.65
    outside_views: str = "auto"

    def __post_init__(self) -> None:
        # None: automatic (from the scene's size)
        if self.voxel_size is not None:
            check_number("voxel_size", self.voxel_size, MIN_VOXEL, 0.5)
        if self.num_viewpoints is not None:
            check_number("num_viewpoints", self.num_viewpoints, 1, 256, integer=True)
        if self.min_component_size is not None:
            check_number("min_component_size", self.min_component_size, 0, 100, lo_open=True)
        if self.face_budget is not None:
            check_number("face_budget", self.face_budget, 1, 5_000_000, integer=True)
        if not (isinstance(self.resolution, int) and 16 <= self.resolution <= 2048):
            raise ValueError(f"resolution: expected an integer in 16..2048 pixels, got {self.resolution!r}")
        if not 0 < self.alpha_threshold < 1:
            raise ValueError(f"alpha_threshold: expected a value in (0, 1), got {self.alpha_threshold}")
        if not 0 < self.view_height <= 1:
            raise ValueError(f"view_height: expected a fraction in (0, 1], got {self.view_height}")
        if not 0 <= self.min_cos < 1:
            raise ValueError(f"min_cos: expected a value in [0, 1), got {self.min_cos}")
        if not self.edge_threshold > 0:
            raise ValueError(f"edge_threshold: expected > 0, got {self.edge_threshold}")
        if not self.sdf_trunc_voxels >= 1:
            raise ValueError(f"sdf_trunc_voxels: expected >= 1, got {self.sdf_trunc_voxels}")
        if self.clearance < 0 or self.orbit_views < 0 or self.min_weight <= 0:
            raise ValueError("clearance and orbit_views must be >= 0 and min_weight > 0")
        if self.outside_views not in ("auto", "always", "never"):
            raise ValueError(f"outside_views: expected 'auto', 'always' or 'never', got {self.outside_views!r}")


@dataclass(frozen=True)
class CollisionMesh:
    """A cleaned, consistently oriented triangle mesh and how it was made.

    Attributes:
        vertices: ``[V, 3]`` float64 meters.
        faces: ``[F, 3]`` int64, counter-clockwise seen from the free space (normals point
            out of the solid, into the space the cameras saw).
        viewpoints: ``[P, 3]`` distinct camera centers used for fusion.
        interior: the scene was fused from inside an enclosed free volume (a room).
        stats: voxel size, view count, timings (seconds) and face counts.
    """

    vertices: np.ndarray
    faces: np.ndarray
    viewpoints: np.ndarray
    interior: bool
    stats: dict = field(default_factory=dict)

    def to_trimesh(self):
        """The mesh as a ``trimesh.Trimesh`` (no processing, so arrays stay as they are)."""
        import trimesh

        return trimesh.Trimesh(self.vertices, self.faces, process=False)


# ---------------------------------------------------------------- all together
def extract_collision_mesh(
    scene: GaussianScene,
    config: CollisionConfig = CollisionConfig(),
    stage: Stage = lambda name: None,
    meanwhile: Callable[[], None] | None = None,
) -> CollisionMesh:
    """The static collision mesh of ``scene`` (see the module docstring for the method).

    ``meanwhile`` runs on this thread while it would wait for the other core in cleanup (`clean_mesh`);
    it may not run at all (a small mesh, one core).

    Raises:
        ValueError: no Gaussians, all transparent, no free space for cameras, or a fusion
            that yields no surface.
    """
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    numba_impl.preload()  # beside the planning (a no-op if a scene source started it)
    stage("planning depth views")
    visible = visible_gaussians(scene)
    plan = plan_views(visible, config)
    timings["plan"] = time.perf_counter() - t0

    stage(f"rendering {len(plan.cameras)} depth views at {config.resolution}x{config.resolution}")
    t = time.perf_counter()
    backend = fastest_backend("cpu")
    ks = plan.cameras.Ks.numpy()
    depth, _ = render_depth(
        visible, plan.cameras, backend=backend,
        reliable=lambda d, a, group: valid_depth(d, a, ks[group], config.alpha_threshold, config.edge_threshold,
                                                 config.min_cos),
    )
    timings["render"] = time.perf_counter() - t
    if not (depth > 0).any():
        raise ValueError(
            f"collision: no depth in any of {len(plan.cameras)} views (alpha below {config.alpha_threshold} "
            "everywhere); the Gaussians are too sparse or transparent to fuse"
        )

    stage(f"fusing depth into a TSDF (voxel {plan.voxel_size * 100:.1f} cm)")
    t = time.perf_counter()
    raw_v, raw_f = fuse_tsdf(depth, plan.cameras, plan.voxel_size, config.sdf_trunc_voxels, config.min_weight)
    timings["fusion"] = time.perf_counter() - t
    if len(raw_f) == 0:
        raise ValueError("collision: depth fusion yielded no surface (no zero crossing in the TSDF)")

    stage(f"cleaning {len(raw_f):,} faces")
    t = time.perf_counter()
    budget = config.face_budget or default_face_budget(raw_v, raw_f, plan.voxel_size)
    min_size = config.min_component_size or 6 * plan.voxel_size
    v, f = clean_mesh(raw_v, raw_f, merge_distance=0.05 * plan.voxel_size, min_component_size=min_size, face_budget=budget,
                      meanwhile=meanwhile)
    if len(f) == 0:
        raise ValueError(
            f"collision: the fused surface vanished in cleanup (every component is smaller than {min_size:.3f} m)"
        )
    f = orient_like(v, f, raw_v, raw_f)
    v, f = canonical_order(v, f)
    timings["cleanup"] = time.perf_counter() - t
    stats = {
        "voxel_size": plan.voxel_size,
        "views": len(plan.cameras),
        "resolution": config.resolution,
        "depth_backend": backend,
        "viewpoints": len(plan.viewpoints),
        "interior": plan.interior,
        "fused_faces": int(len(raw_f)),
        "faces": int(len(f)),
        "vertices": int(len(v)),
        "face_budget": int(budget),
        "seconds": {k: round(s, 3) for k, s in timings.items()},
        "config": asdict(config),
    }
    return CollisionMesh(v, f, plan.viewpoints, plan.interior, stats)
