"""Mesh files: OBJ / STL / GLB writers and vertex colors taken from the Gaussians.

All writers are atomic (temporary file beside the target, then rename) and deterministic
(trimesh with ``process=False``: vertices and faces are written exactly as given).

glTF is +Y up, so a GLB keeps the vertices in our Z-up meters and puts the mesh under a root
node whose matrix is `GLTF_FROM_WORLD` (``(x, y, z) -> (x, z, -y)``): glTF importers (Blender,
three.js, Omniverse) show the scene standing, and the accessors still hold our coordinates.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from lyra_sim.atomic import atomic_path
from lyra_sim.scene import GaussianScene

GLTF_FROM_WORLD = np.array([[1.0, 0, 0, 0], [0, 0, 1, 0], [0, -1, 0, 0], [0, 0, 0, 1]])
"""Root-node matrix of written GLBs: Z-up world → glTF's Y-up (a -90° turn about x)."""


def _trimesh(vertices: np.ndarray, faces: np.ndarray, colors: np.ndarray | None = None):
    import trimesh

    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    if vertices.ndim != 2 or vertices.shape[1] != 3 or faces.ndim != 2 or faces.shape[1] != 3:
        raise ValueError(f"mesh: expected vertices [V, 3] and faces [F, 3], got {list(vertices.shape)}, {list(faces.shape)}")
    if len(faces) == 0:
        raise ValueError("mesh: no faces to write")
    return trimesh.Trimesh(vertices, faces, vertex_colors=colors, process=False)


def write_mesh(path: str | os.PathLike, vertices: np.ndarray, faces: np.ndarray, colors: np.ndarray | None = None,
               *, sweep: bool = True) -> Path:
    """Write a triangle mesh; the format follows the suffix (``.obj``, ``.stl``, ``.glb``, ``.ply``).

    Args:
        vertices: ``[V, 3]`` meters.
        faces: ``[F, 3]`` vertex indices, counter-clockwise seen from outside.
        colors: optional ``[V, 4]`` uint8 RGBA per vertex (GLB and PLY keep them; OBJ and STL
            have no standard vertex colors).
        sweep: see `lyra_sim.atomic.atomic_path` (False for many files into a directory just made).
    """
    path = Path(path)
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in ("obj", "stl", "glb", "ply"):
        raise ValueError(f"{path}: unknown mesh format {suffix!r}; accepted: obj, stl, glb, ply")
    mesh = _trimesh(vertices, faces, colors)
    kwargs = {"include_normals": False, "include_color": colors is not None, "include_texture": False} if suffix == "obj" else {}
    if suffix == "glb":
        import trimesh

        scene = trimesh.Scene()
        scene.add_geometry(mesh, node_name="mesh", geom_name="mesh", transform=GLTF_FROM_WORLD)
        data = scene.export(file_type="glb")
    else:
        data = mesh.export(file_type=suffix, **kwargs)
    with atomic_path(path, sweep=sweep) as tmp:
        tmp.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def vertex_colors(scene: GaussianScene, vertices: np.ndarray, k: int = 8) -> np.ndarray:
    """Per-vertex RGBA ``[V, 4]`` uint8 from the ``k`` Gaussians nearest each vertex.

    Colors are the Gaussians' view-independent base colors (SH DC term), averaged with weights
    ``opacity / (distance + 1 cm)``: near, opaque Gaussians dominate, far ones fade out.
    """
    if len(scene) == 0:
        raise ValueError("vertex_colors: the scene has no Gaussians")
    s = scene.to("cpu")
    means = s.means.double().numpy()
    rgb = s.rgb.double().numpy()
    opacity = s.opacities.double().numpy()
    k = min(k, len(means))
    dist, idx = cKDTree(means).query(np.asarray(vertices, dtype=np.float64), k=k)
    dist, idx = dist.reshape(len(vertices), k), idx.reshape(len(vertices), k)
    w = opacity[idx] / (dist + 0.01)
    color = (w[..., None] * rgb[idx]).sum(1) / np.maximum(w.sum(1, keepdims=True), 1e-12)
    rgba = np.concatenate([color, np.ones((len(color), 1))], axis=1)
    return np.clip(np.round(rgba * 255), 0, 255).astype(np.uint8)


def face_labels(scene: GaussianScene, vertices: np.ndarray, faces: np.ndarray) -> np.ndarray | None:
    """Semantic label per face ``[F]`` (index into ``scene.label_names``, -1 for none), or None.

    A face takes the label of the Gaussian nearest to its centroid.
    """
    if scene.labels is None or len(scene) == 0:
        return None
    s = scene.to("cpu")
    centroids = np.asarray(vertices, dtype=np.float64)[np.asarray(faces)].mean(1)
    _, nearest = cKDTree(s.means.double().numpy()).query(centroids)
    return s.labels.numpy()[nearest].astype(np.int64)
