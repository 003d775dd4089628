"""Depth views → one triangle mesh: reliable depth pixels, Open3D TSDF fusion, pymeshlab cleanup.

The stages of `lyra_sim.exporters.collision.extract_collision_mesh` after its view planning,
each a function of plain arrays and settings:

- `render_depth` / `valid_depth`: expected depth and alpha from the rasterizer, with
  transparent, discontinuous ("flying") and grazing pixels dropped;
- `fuse_tsdf`: Open3D's tensor `VoxelBlockGrid` TSDF and marching cubes;
- `clean_mesh`, `orient_like`, `default_face_budget`: merge, repair, decimate, orient.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np
import torch
from scipy.spatial import cKDTree

from lyra_sim.cameras import Cameras
from lyra_sim.render import fastest_backend, render
from lyra_sim.render.torch_impl import RasterConfig
from lyra_sim.scene import GaussianScene

from .decimation import SPLIT_MIN_FACES, HalfWorker, decimate
from .mesh_tools import canonical_order, face_normals


def valid_depth(
    depth: np.ndarray,
    alpha: np.ndarray,
    Ks: np.ndarray,
    alpha_threshold: float,
    edge_threshold: float,
    min_cos: float,
) -> np.ndarray:
    """Depth ``[C, H, W]`` with unreliable pixels set to 0.

    Args:
        depth, alpha: ``[C, H, W]`` expected depth and accumulated opacity.
        Ks: ``[C, 3, 3]`` intrinsics (to turn depth into camera-space points).

    Dropped:
      - ``alpha < alpha_threshold``: no surface;
      - depth discontinuities, where a 4-neighbour's depth differs by more than
        ``edge_threshold`` times the pixel's depth (expected depth there averages two
        surfaces and lands in the empty space between them);
      - grazing views, where the surface normal (from the depth map) and the viewing ray
        meet at an angle with cosine below ``min_cos``. Expected depth composites Gaussians
        front to back by their *center* depth, so seen at a grazing angle a surface reads
        several centimeters too near (measured on procedural rooms: about 2 cm at cos 0.5,
        6 cm at cos 0.3, none above 0.8); other viewpoints see such surfaces head-on.
    """
    d = np.where(alpha >= alpha_threshold, depth, 0.0).astype(np.float32)
    ok = d > 0
    bad = np.zeros_like(ok)
    for axis in (1, 2):
        diff = np.abs(np.diff(d, axis=axis))
        both = np.minimum(np.take(d, range(d.shape[axis] - 1), axis=axis), np.take(d, range(1, d.shape[axis]), axis=axis))
        # A neighbour without depth is a discontinuity too (object edge against nothing).
        edge = (diff > edge_threshold * np.maximum(both, 1e-6)) | (both <= 0)
        pad_lo = [(0, 0)] * 3
        pad_hi = [(0, 0)] * 3
        pad_lo[axis] = (1, 0)
        pad_hi[axis] = (0, 1)
        bad |= np.pad(edge, pad_lo) | np.pad(edge, pad_hi)
    if min_cos > 0:
        c, h, w = d.shape
        u = (np.arange(w, dtype=np.float32) + 0.5)[None, None, :]
        v = (np.arange(h, dtype=np.float32) + 0.5)[None, :, None]
        fx, fy = Ks[:, 0, 0, None, None], Ks[:, 1, 1, None, None]
        cx, cy = Ks[:, 0, 2, None, None], Ks[:, 1, 2, None, None]
        # One [C, H, W] plane per coordinate (every ray's z is 1, so a point's z is its depth):
        # the float32 operations of [C, H, W, 3] vectors (cross product, dot, norms), term by
        # term in numpy's order, so the same bits, at a fraction of the memory traffic.
        rx = np.broadcast_to((u - cx) / fx, d.shape)
        ry = np.broadcast_to((v - cy) / fy, d.shape)
        points = (rx * d, ry * d, d)  # camera space
        du = [np.zeros_like(d) for _ in range(3)]
        dv = [np.zeros_like(d) for _ in range(3)]
        for p, pu, pv in zip(points, du, dv):
            np.subtract(p[:, :, 2:], p[:, :, :-2], out=pu[:, :, 1:-1])
            np.subtract(p[:, 2:], p[:, :-2], out=pv[:, 1:-1])
        nx = du[1] * dv[2] - du[2] * dv[1]
        ny = du[2] * dv[0] - du[0] * dv[2]
        nz = du[0] * dv[1] - du[1] * dv[0]
        dot = nx * rx + ny * ry + nz
        norms = np.sqrt(nx * nx + ny * ny + nz * nz) * np.sqrt(rx * rx + ry * ry + np.float32(1.0))
        cos = np.abs(dot) / (norms + 1e-12)
        bad |= cos < min_cos  # also drops the image border, where no central difference exists
    return np.where(ok & ~bad, d, 0.0).astype(np.float32)


def camera_groups(num_cameras: int, num_gaussians: int, batch: int = 24) -> list[slice]:
    """The camera slices `render_depth` renders with one rasterizer call each.

    Batches of ``batch`` cameras, each cut as the PyTorch rasterizer cuts a call's cameras
    (groups of ``RasterConfig.batch_gaussians // N``). Keeping these groups keeps the bytes: the
    rasterizer's BLAS products round differently when the rows of several cameras come together
    differently, and the collision mesh depends on every bit of depth.
    """
    group = max(1, RasterConfig().batch_gaussians // max(num_gaussians, 1))
    return [
        slice(g0, min(g0 + group, c0 + batch, num_cameras))
        for c0 in range(0, num_cameras, batch)
        for g0 in range(c0, min(c0 + batch, num_cameras), group)
    ]


def render_depth(
    scene: GaussianScene,
    cameras: Cameras,
    batch: int = 24,
    progress: Callable[[int, int], None] | None = None,
    backend: str | None = None,
    reliable: Callable[[np.ndarray, np.ndarray, slice], np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Expected depth and alpha ``([C, H, W], [C, H, W])`` float32 from `lyra_sim.render.render`.

    Args:
        backend: "numba" or "torch"; None: `lyra_sim.render.fastest_backend` ("numba" when installed).
        reliable: ``f(depth [c, H, W], alpha [c, H, W], cameras: slice) → depth``, applied to each
            group of views on its worker thread (e.g. `valid_depth`, which treats every view on
            its own: the same bytes as on all views at once); the depth returned is then f's.

    The views are rendered side by side on ``torch.get_num_threads()`` threads, each drawing
    single-threaded: the compiled rasterizer ("numba", which releases the GIL) one camera per
    task; the PyTorch reference the camera groups of `camera_groups` (its ops on one group keep a
    second core barely busy, whereas two groups at once take about half the time). Same bytes
    for any number of threads.
    """
    scene = scene.to("cpu")
    backend = backend or fastest_backend("cpu")
    if backend == "numba":
        groups = [slice(c, c + 1) for c in range(len(cameras))]
    else:
        groups = camera_groups(len(cameras), len(scene), batch)
    workers = max(1, min(torch.get_num_threads(), len(groups)))

    def draw(group: slice) -> tuple[np.ndarray, np.ndarray]:
        with torch.no_grad():
            out = render(scene, cameras[group], mode="ED", backend=backend)
        depth, alpha = out.depth[..., 0].numpy(), out.alpha[..., 0].numpy()
        return (depth if reliable is None else reliable(depth, alpha, group)), alpha

    threads = torch.get_num_threads()
    if workers > 1:
        torch.set_num_threads(1)  # the workers are the parallelism; restored below
    try:
        parts = [draw(groups[0])]  # on this thread first: Numba loads (or compiles) its kernel once
        if progress is not None:
            progress(groups[0].stop, len(cameras))
        with ThreadPoolExecutor(workers) as pool:
            for group, part in zip(groups[1:], pool.map(draw, groups[1:])):
                parts.append(part)
                if progress is not None:
                    progress(group.stop, len(cameras))
    finally:
        torch.set_num_threads(threads)
    return np.concatenate([d for d, _ in parts]), np.concatenate([a for _, a in parts])


# ---------------------------------------------------------------- fusion
TSDF_BLOCKS = 4096
"""Initial capacity of the TSDF's block hash map (8³ voxels a block): a start, not a limit, since
Open3D's CPU hash map grows when full, and the mesh is the same bytes whatever the start (a test
holds this). A room touches a few thousand blocks (the kitchen 2,824); allocating for the worst case
up front (a block per 64 depth pixels, 52k for the kitchen: 212 MB) cost 0.1-0.7 s of page faults."""


def fuse_tsdf(
    depths: np.ndarray,
    cameras: Cameras,
    voxel_size: float,
    sdf_trunc_voxels: float = 2.0,
    min_weight: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """TSDF-fuse camera-z depth maps ``[C, H, W]`` (0 = no data) and extract a mesh.

    Returns:
        ``(vertices [V, 3] float64, faces [F, 3] int64)`` from marching cubes, in a canonical
        order (vertices sorted by coordinates, faces by their sorted corner indices).
    """
    import open3d as o3d
    import open3d.core as o3c

    device = o3c.Device("CPU:0")
    vbg = o3d.t.geometry.VoxelBlockGrid(
        attr_names=("tsdf", "weight"),
        attr_dtypes=(o3c.float32, o3c.float32),
        attr_channels=((1), (1)),
        voxel_size=float(voxel_size),
        block_resolution=8,
        block_count=TSDF_BLOCKS,
        device=device,
    )
    depth_max = float(depths.max()) + 1.0 if depths.size else 1.0
    viewmats = cameras.viewmats.double().numpy()
    ks = cameras.Ks.double().numpy()
    trunc = float(sdf_trunc_voxels)
    for i in range(len(depths)):
        if not (depths[i] > 0).any():
            continue
        depth = o3d.t.geometry.Image(o3c.Tensor(np.ascontiguousarray(depths[i])))
        intrinsic = o3c.Tensor(ks[i])
        extrinsic = o3c.Tensor(viewmats[i])
        try:
            blocks = vbg.compute_unique_block_coordinates(depth, intrinsic, extrinsic, 1.0, depth_max, trunc)
        except RuntimeError:  # Open3D samples pixels sparsely here: a view with a handful of valid pixels touches no block
            continue
        vbg.integrate(blocks, depth, intrinsic, extrinsic, 1.0, depth_max, trunc)
    try:
        mesh = vbg.extract_triangle_mesh(weight_threshold=float(min_weight))
    except RuntimeError:  # raised when no voxel holds a zero crossing
        return np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64)
    if "positions" not in mesh.vertex or "indices" not in mesh.triangle:
        return np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64)
    vertices = mesh.vertex.positions.numpy().astype(np.float64)
    faces = mesh.triangle.indices.numpy().astype(np.int64)
    return canonical_order(vertices, faces)



def _component_labels(faces: np.ndarray, num_vertices: int) -> np.ndarray:
    """Connected component id per face (faces sharing a vertex are connected)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    rows = np.repeat(np.arange(len(faces)), 3)
    graph = coo_matrix((np.ones(len(rows)), (rows, faces.ravel())), shape=(len(faces), num_vertices)).tocsr()
    _, vertex_labels = connected_components(graph.T @ graph, directed=False)
    return vertex_labels[faces[:, 0]]



def orient_like(vertices: np.ndarray, faces: np.ndarray, ref_vertices: np.ndarray, ref_faces: np.ndarray) -> np.ndarray:
    """Flip whole connected components of ``faces`` whose normals disagree with a reference mesh.

    Each face is compared with the reference face nearest to its centroid; a component is
    flipped when the area-weighted majority disagrees. Returns the new ``[F, 3]`` faces.
    """
    if len(faces) == 0:
        return faces
    normals = face_normals(vertices, faces)
    ref_normals = face_normals(ref_vertices, ref_faces)
    _, nearest = cKDTree(ref_vertices[ref_faces].mean(1)).query(vertices[faces].mean(1))
    agreement = np.einsum("ij,ij->i", normals, ref_normals[nearest] / (np.linalg.norm(ref_normals[nearest], axis=1, keepdims=True) + 1e-12))
    comp = _component_labels(faces, len(vertices))
    votes = np.bincount(comp, weights=agreement)
    flip = votes[comp] < 0
    out = faces.copy()
    out[flip] = out[flip][:, ::-1]
    return out


def clean_mesh(
    vertices: np.ndarray,
    faces: np.ndarray,
    *,
    merge_distance: float,
    min_component_size: float,
    face_budget: int,
    meanwhile: Callable[[], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """pymeshlab cleanup of a fused mesh; returns ``(vertices [V, 3] float64, faces [F, 3] int64)``.

    Args:
        merge_distance: vertices closer than this are merged, meters.
        min_component_size: connected components with a smaller bounding-box diagonal go.
        face_budget: quadric edge-collapse target face count (not exceeded); see
            `lyra_sim.exporters.decimation` (a large mesh goes in two halves, side by side on
            two cores when ``torch.get_num_threads() > 1``: same result on one).
        meanwhile: run while this thread would wait for the other core's half (`decimation.decimate`).
    """
    import pymeshlab

    # The child that decimates one half starts now: its start-up overlaps the repairs below.
    split = len(faces) >= SPLIT_MIN_FACES and len(faces) > face_budget and torch.get_num_threads() > 1
    with contextlib.closing(HalfWorker()) if split else contextlib.nullcontext() as worker:
        ms = pymeshlab.MeshSet()
        ms.add_mesh(pymeshlab.Mesh(vertex_matrix=vertices, face_matrix=faces.astype(np.int32)))
        ms.meshing_merge_close_vertices(threshold=pymeshlab.PureValue(merge_distance))
        ms.meshing_remove_duplicate_faces()
        ms.meshing_remove_null_faces()
        ms.meshing_remove_connected_component_by_diameter(mincomponentdiag=pymeshlab.PureValue(min_component_size))
        ms.meshing_repair_non_manifold_edges(method="Remove Faces")
        ms.meshing_repair_non_manifold_vertices()
        if ms.current_mesh().face_number() > face_budget:
            ms.meshing_remove_unreferenced_vertices()
            m = ms.current_mesh()
            v, f = decimate(m.vertex_matrix(), m.face_matrix(), face_budget, worker, meanwhile)
            ms = pymeshlab.MeshSet()
            ms.add_mesh(pymeshlab.Mesh(vertex_matrix=v, face_matrix=f.astype(np.int32)))
            # Edge collapses can pinch the surface: repair once more.
            ms.meshing_repair_non_manifold_edges(method="Remove Faces")
            ms.meshing_repair_non_manifold_vertices()
    ms.meshing_remove_unreferenced_vertices()
    ms.meshing_re_orient_faces_coherently()
    m = ms.current_mesh()
    return m.vertex_matrix().astype(np.float64), m.face_matrix().astype(np.int64)


def default_face_budget(vertices: np.ndarray, faces: np.ndarray, voxel_size: float) -> int:
    """Faces to keep: one per half (2.2 · voxel)² of fused surface, in [2 000, 150 000]."""
    area = 0.5 * float(np.linalg.norm(face_normals(vertices, faces), axis=1).sum())
    return int(np.clip(2 * area / (2.2 * voxel_size) ** 2, 2_000, 150_000))
