"""`lyra_sim.worlds.lighting.bake`: ambient + direct + bounce light times occlusion, factor by factor."""

import math

import numpy as np
import pytest

from lyra_sim.worlds.lighting import Lighting, bake

LO, HI = np.array([-2.0, -1.5, 0.0]), np.array([2.0, 1.5, 2.5])
RES = 0.05
GRID_ORIGIN = (-2.0, -1.5)
EMPTY = np.zeros((60, 80), bool)
FLAT = Lighting(ambient=0.5, direct=0.0, bounce=0.0, corner_darkening=0.0, contact_shadow=0.0)


def _bake(points, normals, shell, params, occupied=EMPTY):
    return bake(np.asarray(points, float), np.asarray(normals, float), np.asarray(shell, bool), LO, HI, occupied,
                GRID_ORIGIN, RES, params)


def test_ambient_only_is_flat_on_the_room_shell():
    pts = [[0, 0, 0], [2, 0, 1], [0, 0, 2.5], [1.9, 1.4, 0.0]]
    nrm = [[0, 0, 1], [-1, 0, 0], [0, 0, -1], [0, 0, 1]]
    np.testing.assert_allclose(_bake(pts, nrm, [True] * 4, FLAT), 0.5)


def test_direct_light_follows_the_cosine_to_the_light_and_never_goes_negative():
    params = Lighting(ambient=0.5, direct=0.4, bounce=0.0, light_dir=(0.0, 0.0, 2.0), corner_darkening=0.0,
                      contact_shadow=0.0)
    c = math.cos(math.radians(60))
    normals = [[0, 0, 1], [math.sin(math.radians(60)), 0, c], [1, 0, 0], [0, 0, -1]]
    out = _bake([[0, 0, 1.2]] * 4, normals, [True] * 4, params)
    np.testing.assert_allclose(out, [0.9, 0.5 + 0.4 * c, 0.5, 0.5], atol=1e-12)


def test_bounce_lights_downward_faces():
    params = Lighting(ambient=0.5, direct=0.0, bounce=0.2, corner_darkening=0.0, contact_shadow=0.0)
    out = _bake([[0, 0, 1.2]] * 3, [[0, 0, -1], [0, 0, 1], [0, math.sqrt(0.5), -math.sqrt(0.5)]], [True] * 3, params)
    np.testing.assert_allclose(out, [0.7, 0.5, 0.5 + 0.2 * math.sqrt(0.5)], atol=1e-12)


def test_corners_and_edges_of_the_room_are_darker():
    params = Lighting(ambient=1.0, direct=0.0, bounce=0.0, corner_darkening=0.4, corner_falloff=0.3, contact_shadow=0.0)
    # on the +x wall: the second-nearest room plane is 0.2 m (edge with the floor) or 1.5 m (wall middle)
    pts = [[2.0, 0.0, 0.2], [2.0, 0.0, 1.25], [2.0, 1.4, 1.25]]
    out = _bake(pts, [[-1, 0, 0]] * 3, [True] * 3, params)
    second = np.array([0.2, 1.25, 0.1])
    np.testing.assert_allclose(out, 1 - 0.4 * np.exp(-second / 0.3), atol=1e-12)
    assert out[2] < out[0] < out[1]


def test_objects_get_no_corner_darkening_but_darker_low_parts():
    params = Lighting(ambient=1.0, direct=0.0, bounce=0.0, corner_darkening=0.4, contact_shadow=0.0)
    zs = [0.0, 0.3, 0.6, 1.2, 2.0]
    out = _bake([[1.95, 1.45, z] for z in zs], [[1, 0, 0]] * 5, [False] * 5, params)
    np.testing.assert_allclose(out, 0.8 + 0.2 * np.clip(np.array(zs) / 1.2, 0, 1), atol=1e-12)


def test_contact_shadows_darken_the_floor_under_and_around_footprints_only():
    occupied = EMPTY.copy()
    occupied[25:35, 35:45] = True  # a 0.5 m square footprint around the room center
    params = Lighting(ambient=1.0, direct=0.0, bounce=0.0, corner_darkening=0.0, contact_shadow=0.5, contact_blur=0.1)
    pts = [[0.0, 0.0, 0.0], [0.4, 0.0, 0.0], [1.5, 0.0, 0.0], [0.0, 0.0, 0.5], [0.0, 0.0, 0.0]]
    nrm = [[0, 0, 1], [0, 0, 1], [0, 0, 1], [0, 0, 1], [1, 0, 0]]
    out = _bake(pts, nrm, [True] * 5, params, occupied)
    assert out[0] < out[1] < out[2] == 1.0  # under, beside, far away
    assert 1 - 0.5 < out[0] < 1 - 0.5 * 0.5  # blurred: the middle of a 0.5 m footprint is mostly shadowed
    assert out[3] == 1.0 and out[4] == 1.0  # a table top, a vertical face at floor level: no contact shadow
    np.testing.assert_array_equal(_bake(pts, nrm, [True] * 5, params), np.ones(5))  # nothing on the floor


def test_points_outside_the_grid_use_its_edge_cells():
    occupied = EMPTY.copy()
    occupied[:, 0] = True
    params = Lighting(ambient=1.0, direct=0.0, bounce=0.0, corner_darkening=0.0, contact_shadow=0.5)
    out = _bake([[-2.5, 0.0, 0.0], [-1.999, 0.0, 0.0]], [[0, 0, 1]] * 2, [True] * 2, params, occupied)
    assert out[0] == out[1] < 1.0


def test_default_lighting_is_a_positive_deterministic_factor():
    rng = np.random.default_rng(0)
    pts = rng.uniform(LO, HI, (500, 3))
    nrm = rng.normal(size=(500, 3))
    nrm /= np.linalg.norm(nrm, axis=1, keepdims=True)
    shell = rng.random(500) < 0.5
    a = _bake(pts, nrm, shell, Lighting())
    assert a.shape == (500,) and (a > 0).all() and (a < 1.5).all()
    np.testing.assert_array_equal(a, _bake(pts, nrm, shell, Lighting()))


def test_light_direction_need_not_be_normalized():
    base = dict(ambient=0.5, direct=0.4, bounce=0.0, corner_darkening=0.0, contact_shadow=0.0)
    a = _bake([[0, 0, 1.2]], [[0.6, 0, 0.8]], [True], Lighting(light_dir=(3.0, 0.0, 4.0), **base))
    b = _bake([[0, 0, 1.2]], [[0.6, 0, 0.8]], [True], Lighting(light_dir=(0.6, 0.0, 0.8), **base))
    assert a[0] == pytest.approx(0.9) and a[0] == pytest.approx(b[0], abs=1e-15)
