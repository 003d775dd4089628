"""CoACD convex decomposition (`lyra_sim.exporters.convex`)."""

import numpy as np
import pytest
import trimesh

from lyra_sim.exporters.convex import ConvexConfig, decompose, decompose_objects, faces_outward, limit_vertices
from lyra_sim.exporters.pieces import convex_hull

coacd = pytest.importorskip("coacd")

FAST = ConvexConfig(threshold=0.1, max_parts=8, resolution=500, preprocess_resolution=20, mcts_iterations=30)


def _l_shape():
    """An L-shaped prism (0.2 m thick): concave, so CoACD needs at least two parts."""
    outline = np.array([[0, 0], [0.6, 0], [0.6, 0.2], [0.2, 0.2], [0.2, 0.6], [0, 0.6]], dtype=float)
    n = len(outline)
    vertices = np.concatenate([np.c_[outline, np.zeros(n)], np.c_[outline, np.full(n, 0.2)]])
    cap = np.array([[0, 1, 2], [0, 2, 3], [0, 3, 4], [0, 4, 5]])  # fan from the corner at the origin
    faces = [cap[:, ::-1], cap + n]  # bottom faces down, top faces up
    for i in range(n):
        j = (i + 1) % n
        faces.append(np.array([[i, j, j + n], [i, j + n, i + n]]))
    return vertices, np.concatenate(faces)


def test_concave_object_splits_into_small_hulls():
    v, f = _l_shape()
    parts = decompose(v, f, FAST)
    assert len(parts) >= 2
    assert all(len(p.vertices) <= 64 for p in parts)
    union = np.concatenate([p.vertices for p in parts])
    assert np.allclose(union.min(0), v.min(0), atol=0.02) and np.allclose(union.max(0), v.max(0), atol=0.02)
    # the notch of the L (around x = y = 0.45) stays empty
    notch = np.array([0.45, 0.45, 0.1])
    for p in parts:
        assert not (p.vertices.min(0) < notch).all() or not (p.vertices.max(0) > notch).all()


def test_same_seed_same_parts():
    v, f = _l_shape()
    a, b = decompose(v, f, FAST), decompose(v, f, FAST)
    assert len(a) == len(b)
    assert all(np.array_equal(x.vertices, y.vertices) and np.array_equal(x.faces, y.faces) for x, y in zip(a, b))


def test_vertex_limit_is_enforced():
    sphere = trimesh.creation.icosphere(subdivisions=3)
    hull = convex_hull(np.asarray(sphere.vertices))
    assert len(hull.vertices) > 64
    limited = limit_vertices(hull, 64)
    assert len(limited.vertices) <= 64
    assert np.linalg.norm(limited.vertices, axis=1).min() > 0.99  # still points of the sphere


def test_only_outward_segments_are_decomposed():
    room = trimesh.creation.box(extents=(3, 3, 2))
    room.invert()  # seen from inside: normals point into the room
    v, f = _l_shape()
    assert faces_outward(v, f)
    assert not faces_outward(np.asarray(room.vertices), np.asarray(room.faces))
    vertices = np.concatenate([np.asarray(room.vertices), v])
    faces = np.concatenate([np.asarray(room.faces), f + len(room.vertices)])
    labels = np.concatenate([np.zeros(len(room.faces), int), np.ones(len(f), int)])
    parts = decompose_objects(vertices, faces, labels, ("wall", "chair_0"), FAST)
    assert list(parts) == ["chair_0"]
