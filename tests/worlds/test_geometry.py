"""`lyra_sim.worlds.geometry`: closed primitives of planar quads, outward winding, exact extents."""

import math
from collections import Counter

import numpy as np
import pytest
import trimesh

from lyra_sim.worlds import geometry as geo


def _prism_area(r, n):
    """Area of the regular n-gon inscribed in a circle of radius r."""
    return 0.5 * n * r * r * math.sin(2 * math.pi / n)


# (name, mesh, an interior point, exact volume or None)
PRIMITIVES = [
    ("box", geo.box((0.4, 1.0, 2.5)), (0, 0, 0), 0.4 * 1.0 * 2.5),
    ("cube", geo.box((1, 1, 1)), (0, 0, 0), 1.0),
    ("cylinder", geo.cylinder(0.3, 1.2), (0, 0, 0.6), _prism_area(0.3, geo.sections_for(0.3)) * 1.2),
    ("thin cylinder", geo.cylinder(0.01, 0.05, sections=12), (0, 0, 0.02), _prism_area(0.01, 12) * 0.05),
    ("cone", geo.frustum(0.25, 0.0, 0.8), (0, 0, 0.2), _prism_area(0.25, geo.sections_for(0.25)) * 0.8 / 3),
    ("frustum", geo.frustum(0.3, 0.1, 0.5, sections=20), (0, 0, 0.25),
     0.5 / 3 * (_prism_area(0.3, 20) + _prism_area(0.1, 20) + math.sqrt(_prism_area(0.3, 20) * _prism_area(0.1, 20)))),
    ("inverted frustum", geo.frustum(0.1, 0.4, 0.3, sections=16), (0, 0, 0.15),
     0.3 / 3 * (_prism_area(0.1, 16) + _prism_area(0.4, 16) + math.sqrt(_prism_area(0.1, 16) * _prism_area(0.4, 16)))),
    ("ellipsoid", geo.ellipsoid((0.5, 0.3, 0.2)), (0, 0, 0), None),
    ("sphere", geo.ellipsoid((0.1, 0.1, 0.1)), (0, 0, 0), None),
]
IDS = [p[0] for p in PRIMITIVES]


@pytest.mark.parametrize("name, mesh, inside, volume", PRIMITIVES, ids=IDS)
def test_every_edge_is_shared_by_two_faces_in_opposite_directions(name, mesh, inside, volume):
    tris = mesh.triangles()
    directed = Counter((int(a), int(b)) for t in tris for a, b in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0])))
    assert all(n == 1 for n in directed.values()), "an edge is used twice in the same direction"
    assert all((b, a) in directed for a, b in directed), "an edge has one face only (a hole)"
    t = trimesh.Trimesh(mesh.vertices, tris, process=False)
    assert t.is_watertight and t.is_winding_consistent
    assert len(np.unique(tris)) == len(mesh.vertices)  # no stray vertex


@pytest.mark.parametrize("name, mesh, inside, volume", PRIMITIVES, ids=IDS)
def test_normals_point_outward_and_volume(name, mesh, inside, volume):
    v, tris = mesh.vertices, mesh.triangles()
    a, b, c = v[tris[:, 0]], v[tris[:, 1]], v[tris[:, 2]]
    normals = np.cross(b - a, c - a)
    assert (np.linalg.norm(normals, axis=1) > 1e-12).all()  # degenerate halves were dropped
    centroids = (a + b + c) / 3
    assert (np.einsum("fc,fc->f", normals, centroids - np.asarray(inside, float)) > 0).all()  # convex: all outward
    signed = np.einsum("fc,fc->f", a, np.cross(b, c)).sum() / 6
    if volume is not None:
        assert signed == pytest.approx(volume, rel=1e-9)
    else:
        assert signed > 0


@pytest.mark.parametrize("name, mesh, inside, volume", PRIMITIVES, ids=IDS)
def test_quads_are_planar_and_counter_clockwise_from_outside(name, mesh, inside, volume):
    corners = mesh.vertices[mesh.quads]  # [Q, 4, 3]: p00, p10, p11, p01
    p00, p10, p11, p01 = (corners[:, i] for i in range(4))
    normal = np.cross(p11 - p00, p01 - p10)
    scale = np.linalg.norm(normal, axis=1)
    assert (scale > 1e-12).all()
    # the fourth corner lies in the plane of the other three (bilinear samples stay on the mesh)
    off_plane = np.abs(np.einsum("qc,qc->q", normal / scale[:, None], p01 - p00))
    assert off_plane.max() < 1e-12
    assert (np.einsum("qc,qc->q", normal, corners.mean(1) - np.asarray(inside, float)) > 0).all()


def test_box_extents_and_faces():
    m = geo.box((0.4, 1.0, 2.5))
    assert m.vertices.min(0).tolist() == [-0.2, -0.5, -1.25] and m.vertices.max(0).tolist() == [0.2, 0.5, 1.25]
    assert m.vertices.dtype == np.float64 and m.quads.dtype == np.int64
    assert m.quads.shape == (6, 4) and m.triangles().shape == (12, 3)


@pytest.mark.parametrize("r_bottom, r_top, height", [(0.3, 0.3, 1.2), (0.25, 0.0, 0.8), (0.1, 0.4, 0.3)])
def test_solids_of_revolution_extents(r_bottom, r_top, height):
    m = geo.frustum(r_bottom, r_top, height, sections=24)
    z = m.vertices[:, 2]
    radius = np.hypot(m.vertices[:, 0], m.vertices[:, 1])
    assert z.min() == 0.0 and z.max() == pytest.approx(height, abs=1e-15)
    np.testing.assert_allclose(radius[np.isclose(z, 0) & (radius > 0)], r_bottom, rtol=1e-12)
    if r_top > 0:
        np.testing.assert_allclose(radius[np.isclose(z, height) & (radius > 0)], r_top, rtol=1e-12)
        assert len(m.vertices) == 2 * 24 + 2 and len(m.triangles()) == 4 * 24  # sides 2 per section, caps 1 each
    else:  # a cone: one apex vertex, no top cap
        assert np.isclose(z, height).sum() == 1 and len(m.triangles()) == 2 * 24


def test_ellipsoid_vertices_lie_on_the_ellipsoid_and_reach_its_axes():
    radii = np.array([0.5, 0.3, 0.2])
    m = geo.ellipsoid(radii)
    np.testing.assert_allclose(((m.vertices / radii) ** 2).sum(1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(m.vertices.max(0), radii, rtol=1e-12)
    np.testing.assert_allclose(m.vertices.min(0), -radii, rtol=1e-12)


def test_ellipsoid_volume_approaches_the_true_one():
    radii = (0.5, 0.3, 0.2)
    m = geo.ellipsoid(radii)
    t = trimesh.Trimesh(m.vertices, m.triangles(), process=False)
    true = 4 / 3 * math.pi * math.prod(radii)
    assert 0.98 * true < t.volume < true  # inscribed: slightly smaller


@pytest.mark.parametrize("args", [(0.0, 0.1, 1.0), (-0.1, 0.1, 1.0), (0.1, 0.1, 0.0), (0.1, -0.01, 1.0)])
def test_frustum_rejects_bad_dimensions(args):
    with pytest.raises(ValueError, match=r"frustum: need r_bottom > 0, height > 0, r_top >= 0"):
        geo.frustum(*args)


def test_sections_for_targets_the_facet_length_within_limits():
    assert geo.sections_for(0.001) == 12 and geo.sections_for(10.0) == 64
    r = 0.2
    n = geo.sections_for(r)
    assert 12 < n < 64 and n == math.ceil(2 * math.pi * r / geo.FACET_LENGTH)
    assert 2 * math.pi * r / n <= geo.FACET_LENGTH


@pytest.mark.parametrize("rot, axis, image", [
    (geo.rot_z, (1, 0, 0), (0, 1, 0)), (geo.rot_x, (0, 1, 0), (0, 0, 1)), (geo.rot_y, (0, 0, 1), (1, 0, 0)),
])
def test_rotations_are_right_handed(rot, axis, image):
    r = rot(math.pi / 2)
    np.testing.assert_allclose(r @ np.array(axis, float), image, atol=1e-15)
    for angle in (0.3, -2.0, 5.0):
        r = rot(angle)
        np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-15)
        assert np.linalg.det(r) == pytest.approx(1.0)
    np.testing.assert_allclose(rot(0.4) @ rot(0.5), rot(0.9), atol=1e-15)


def test_transformed_moves_vertices_and_keeps_the_mesh_closed():
    m = geo.cylinder(0.2, 0.5, sections=16)
    r, t = geo.rot_x(0.7) @ geo.rot_z(1.1), np.array([1.0, -2.0, 0.3])
    moved = m.transformed(r, t)
    np.testing.assert_allclose(moved.vertices, m.vertices @ r.T + t, atol=1e-15)
    assert moved.quads is m.quads
    mesh = trimesh.Trimesh(moved.vertices, moved.triangles(), process=False)
    assert mesh.is_watertight and mesh.volume == pytest.approx(_prism_area(0.2, 16) * 0.5, rel=1e-9)
