"""`lyra_sim.worlds.sampling`: grid samples on the primitives' quads, their spacing and counts, frames."""

import math

import numpy as np
import pytest
import torch

from lyra_sim.scene import quat_to_rotmat
from lyra_sim.worlds import geometry as geo
from lyra_sim.worlds.sampling import SurfacePrimitive, frame_quats, sample_surfaces

ROOM_LO, ROOM_HI = np.array([-2.0, -2.0, 0.0]), np.array([2.0, 2.0, 2.5])
SIZE = np.array([0.4, 0.3, 0.2])


def _prim(mesh, label=0, base_z=-math.inf, shell=False):
    return SurfacePrimitive(mesh, "plain", np.ones(3), label, np.eye(3), np.zeros(3), 0.5, base_z=base_z, shell=shell)


def _box(center=(0.0, 0.0, 0.5), size=SIZE, **kw):
    return _prim(geo.box(size).transformed(np.eye(3), np.asarray(center)), **kw)


def _sample(prims, spacing=0.05, max_samples=1_000_000, **kw):
    return sample_surfaces(prims, spacing, max_samples, ROOM_LO, ROOM_HI, **kw)


def test_box_counts_are_the_cell_grid_of_each_face():
    s = _sample([_box()], spacing=0.05)
    nx, ny, nz = 8, 6, 4  # ceil(0.4 / 0.05), ceil(0.3 / 0.05), ceil(0.2 / 0.05)
    assert len(s.points) == 2 * (nx * ny + nx * nz + ny * nz) == 208
    assert s.spacing == 0.05
    for arr, width in ((s.points, 3), (s.normals, 3), (s.tangents, 3), (s.sigmas, 2)):
        assert arr.shape == (208, width)
    assert s.primitive.shape == (208,) and (s.primitive == 0).all()


def test_box_samples_lie_on_their_faces_with_outward_unit_normals():
    center = np.array([0.3, -0.2, 0.5])
    s = _sample([_box(center)], spacing=0.04)
    rel = (s.points - center) / (SIZE / 2)  # in [-1, 1]^3, one coordinate at +-1
    assert np.abs(rel).max() <= 1 + 1e-12
    face_axis = np.abs(rel).argmax(1)
    on_face = np.abs(rel)[np.arange(len(rel)), face_axis]
    np.testing.assert_allclose(on_face, 1.0, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(s.normals, axis=1), 1.0, atol=1e-12)
    expected = np.zeros_like(s.normals)
    expected[np.arange(len(rel)), face_axis] = np.sign(rel[np.arange(len(rel)), face_axis])
    np.testing.assert_allclose(s.normals, expected, atol=1e-12)
    # the sample is strictly inside its face (cell centers never touch an edge)
    others = np.abs(rel).copy()
    others[np.arange(len(rel)), face_axis] = 0
    assert others.max() < 1 - 1e-6


def test_tangents_are_unit_and_orthogonal_to_the_normals():
    s = _sample([_box(), _prim(geo.cylinder(0.2, 0.4).transformed(geo.rot_z(0.3), np.array([1.0, 1.0, 0.0])), 1),
                 _prim(geo.ellipsoid((0.3, 0.2, 0.1)).transformed(np.eye(3), np.array([-1.0, 0.5, 1.0])), 2)])
    np.testing.assert_allclose(np.linalg.norm(s.tangents, axis=1), 1.0, atol=1e-12)
    assert np.abs(np.einsum("nc,nc->n", s.tangents, s.normals)).max() < 1e-12


def test_neighbors_are_within_the_spacing_and_sigmas_follow_the_cells():
    spacing = 0.035
    s = _sample([_box()], spacing=spacing, tangent_scale=0.7)
    top = s.normals[:, 2] > 0.99
    pts = s.points[top][:, :2]
    # regular grid on the top face: cells of 0.4/12 x 0.3/9 (both <= spacing)
    xs, ys = np.unique(pts[:, 0].round(12)), np.unique(pts[:, 1].round(12))
    assert len(xs) == math.ceil(0.4 / spacing) and len(ys) == math.ceil(0.3 / spacing)
    np.testing.assert_allclose(np.diff(xs), 0.4 / len(xs), atol=1e-12)
    np.testing.assert_allclose(np.diff(ys), 0.3 / len(ys), atol=1e-12)
    assert np.diff(xs).max() <= spacing and np.diff(ys).max() <= spacing
    cell = np.array([0.4 / len(xs), 0.3 / len(ys)])
    sig = np.sort(s.sigmas[top], axis=1)  # the tangent may run along either face axis
    np.testing.assert_allclose(sig, np.broadcast_to(np.sort(cell) * 0.7, sig.shape), rtol=1e-12)


def test_curved_samples_sit_on_the_facets():
    r, h, n = 0.25, 0.6, 16
    s = _sample([_prim(geo.cylinder(r, h, sections=n))], spacing=0.03)
    side = np.abs(s.normals[:, 2]) < 1e-9
    radial = np.hypot(s.points[side, 0], s.points[side, 1])
    # between the facet's middle (inscribed radius) and its edges (the circle)
    assert radial.min() >= r * math.cos(math.pi / n) - 1e-12 and radial.max() <= r + 1e-12
    caps = ~side
    np.testing.assert_allclose(np.abs(s.points[caps, 2] - h / 2), h / 2, atol=1e-12)
    assert (np.hypot(s.points[caps, 0], s.points[caps, 1]) <= r + 1e-12).all()
    # outward: normal points away from the axis on the sides, up/down on the caps
    assert (np.einsum("nc,nc->n", s.normals[side, :2], s.points[side, :2]) > 0).all()
    np.testing.assert_array_equal(np.sign(s.normals[caps, 2]), np.sign(s.points[caps, 2] - h / 2))


def test_bottoms_resting_on_something_get_no_samples():
    resting = _box(center=(0, 0, SIZE[2] / 2), base_z=0.0)  # stands on the floor
    floating = _box(center=(0, 0, SIZE[2] / 2))
    s_rest, s_float = _sample([resting]), _sample([floating])
    assert len(s_float.points) - len(s_rest.points) == 8 * 6  # exactly the bottom face's cells
    assert (s_rest.normals[:, 2] > -0.99).all()
    assert (s_float.normals[:, 2] < -0.99).sum() == 48


def test_room_slabs_get_samples_only_on_their_inner_face():
    t = 0.1
    floor = _prim(geo.box((4 + 2 * t, 4 + 2 * t, t)).transformed(np.eye(3), np.array([0, 0, -t / 2])), shell=True)
    wall = _prim(geo.box((t, 4.0, 2.5)).transformed(np.eye(3), np.array([2 + t / 2, 0, 1.25])), label=1, shell=True)
    s = _sample([floor, wall], spacing=0.2)
    f, w = s.primitive == 0, s.primitive == 1
    np.testing.assert_allclose(s.normals[f], np.broadcast_to([0, 0, 1.0], s.normals[f].shape))
    np.testing.assert_allclose(s.points[f, 2], 0.0, atol=1e-12)
    np.testing.assert_allclose(s.normals[w], np.broadcast_to([-1.0, 0, 0], s.normals[w].shape))
    np.testing.assert_allclose(s.points[w, 0], 2.0, atol=1e-12)
    assert f.sum() == math.ceil(4.2 / 0.2) ** 2 and w.sum() == math.ceil(4 / 0.2) * math.ceil(2.5 / 0.2)


def test_primitive_index_says_which_primitive_a_sample_lies_on():
    a, b = _box((-1, 0, 0.5)), _box((1, 0, 0.5), label=7)
    s = _sample([a, b])
    assert set(np.unique(s.primitive)) == {0, 1}
    assert (s.points[s.primitive == 0, 0] < 0).all() and (s.points[s.primitive == 1, 0] > 0).all()
    assert (s.primitive == 0).sum() == (s.primitive == 1).sum() == 208


def test_the_budget_coarsens_the_spacing():
    free = _sample([_box()], spacing=0.01)
    capped = _sample([_box()], spacing=0.01, max_samples=500)
    assert len(free.points) > 500 >= len(capped.points)
    assert capped.spacing > 0.01 and free.spacing == 0.01
    assert len(capped.points) > 250  # coarsened just enough, not to a handful
    # the capped samples are the grid of the raised spacing
    again = _sample([_box()], spacing=capped.spacing)
    np.testing.assert_array_equal(again.points, capped.points)


def test_sampling_is_deterministic():
    prims = [_box(), _prim(geo.ellipsoid((0.3, 0.2, 0.1)), 1)]
    a, b = _sample(prims), _sample(prims)
    for field in ("points", "normals", "tangents", "sigmas", "primitive"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


# ----------------------------------------------------------------------------- frame_quats

def _random_frames(n, seed=0):
    rng = np.random.default_rng(seed)
    normal = rng.normal(size=(n, 3))
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    t = rng.normal(size=(n, 3))
    t -= np.einsum("nc,nc->n", t, normal)[:, None] * normal
    t /= np.linalg.norm(t, axis=1, keepdims=True)
    return t, normal


def _axis_frames():
    """Every axis-aligned frame: the 180-degree and w = 0 cases of Shepperd's method."""
    axes = np.concatenate([np.eye(3), -np.eye(3)])
    pairs = [(t, n) for t in axes for n in axes if abs(t @ n) < 0.5]
    return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])


@pytest.mark.parametrize("frames", [_random_frames(500), _axis_frames()], ids=["random", "axis-aligned"])
def test_frame_quats_are_unit_with_nonnegative_w_and_map_z_to_the_normal(frames):
    t, n = frames
    q = frame_quats(t, n)
    assert q.shape == (len(t), 4)
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-12)
    assert (q[:, 0] >= 0).all()
    rot = quat_to_rotmat(torch.from_numpy(q)).numpy()
    np.testing.assert_allclose(rot[:, :, 0], t, atol=1e-9)  # local x -> tangent
    np.testing.assert_allclose(rot[:, :, 1], np.cross(n, t), atol=1e-9)
    np.testing.assert_allclose(rot[:, :, 2], n, atol=1e-9)  # local z -> normal (thin axis)
    np.testing.assert_allclose(np.linalg.det(rot), 1.0, atol=1e-9)


def test_frame_quats_of_the_identity_frame():
    q = frame_quats(np.array([[1.0, 0, 0]]), np.array([[0, 0, 1.0]]))
    np.testing.assert_allclose(q, [[1.0, 0, 0, 0]], atol=1e-15)


def test_frame_quats_of_sampled_surfaces():
    s = _sample([_box(), _prim(geo.cylinder(0.2, 0.4), 1)])
    rot = quat_to_rotmat(torch.from_numpy(frame_quats(s.tangents, s.normals))).numpy()
    np.testing.assert_allclose(rot[:, :, 2], s.normals, atol=1e-9)
