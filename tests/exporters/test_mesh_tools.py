"""Shared triangle-mesh helpers (`lyra_sim.exporters.mesh_tools`)."""

import re

import numpy as np
import pytest
import trimesh

from _scenes import ROOM
from lyra_sim.exporters.mesh_tools import (
    MAX_NAME,
    canonical_order,
    face_normals,
    raycasting_scene,
    safe_name,
    safe_names,
    sample_surface,
)


def _inner_room(shift=(0.0, 0.0, 0.0)):
    """The room's inner surface as one inward-facing box (what a perfect fusion would give)."""
    box = trimesh.creation.box(extents=ROOM)
    box.apply_translation(np.asarray(ROOM) / 2 + np.asarray(shift))
    box.invert()
    return np.asarray(box.vertices), np.asarray(box.faces)



def test_sampling_is_seeded_and_on_the_surface():
    v, f = _inner_room()
    a = sample_surface(v, f, 1000, np.random.default_rng(3))[0]
    b = sample_surface(v, f, 1000, np.random.default_rng(3))[0]
    assert np.array_equal(a, b)
    on_face = np.isclose(a, 0).any(1) | np.isclose(a, ROOM).any(1)
    assert on_face.all()


def test_canonical_order_is_order_independent():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(20, 3))
    f = rng.integers(0, 20, (30, 3))
    f = f[(f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])]
    perm = rng.permutation(20)
    inv = np.argsort(perm)
    v2, f2 = v[perm], inv[f][rng.permutation(len(f))]
    a, b = canonical_order(v, f), canonical_order(v2, np.roll(f2, 1, axis=1))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_canonical_order_merges_coincident_vertices_as_np_unique_does():
    """The lexsort dedupe against the np.unique(axis=0) formulation it replaced, on rows with repeats,
    shared coordinates and signed zeros."""
    rng = np.random.default_rng(1)
    v = np.round(rng.normal(size=(300, 3)), 1)  # many rows share a coordinate; some repeat whole
    v[:20] = v[20:40]
    v[40:45] = 0.0
    v[45:50] = -0.0
    f = rng.integers(0, len(v), (500, 3))
    unique, inverse = np.unique(v, axis=0, return_inverse=True)
    ref = inverse.reshape(-1)[f]
    ref = ref[(ref[:, 0] != ref[:, 1]) & (ref[:, 1] != ref[:, 2]) & (ref[:, 0] != ref[:, 2])]
    ref = ref[np.arange(len(ref))[:, None], (np.argmin(ref, axis=1)[:, None] + np.arange(3)) % 3]
    ref = ref[np.lexsort(ref.T[::-1])]
    used = np.zeros(len(unique), bool)
    used[ref.ravel()] = True
    got_v, got_f = canonical_order(v, f)
    assert np.array_equal(got_v, unique[used]) and np.array_equal(got_f, (np.cumsum(used) - 1)[ref])


def test_face_normals_follow_the_right_hand_rule_with_twice_the_area():
    v = np.array([[0.0, 0, 0], [2, 0, 0], [0, 3, 0], [0, 0, 1]])
    n = face_normals(v, np.array([[0, 1, 2], [0, 2, 1], [0, 1, 3]]))
    assert np.allclose(n, [[0, 0, 6], [0, 0, -6], [0, -2, 0]])


def test_sample_surface_refuses_a_zero_area_mesh():
    v = np.array([[0.0, 0, 0], [1, 0, 0], [2, 0, 0]])
    with pytest.raises(ValueError, match="zero area"):
        sample_surface(v, np.array([[0, 1, 2]]), 10, np.random.default_rng(0))


def test_raycasting_scene_hits_the_box_at_its_distance():
    import open3d.core as o3c

    box = trimesh.creation.box(extents=(2.0, 2.0, 2.0))
    scene = raycasting_scene(np.asarray(box.vertices), np.asarray(box.faces))
    rays = o3c.Tensor(np.array([[0, 0, 5, 0, 0, -1], [5, 0, 0, -1, 0, 0], [5, 5, 5, 1, 0, 0]], np.float32))
    t = scene.cast_rays(rays)["t_hit"].numpy()
    assert np.allclose(t[:2], 4.0) and np.isinf(t[2])


@pytest.mark.parametrize(("text", "name"), [("chair_2", "chair_2"), ("a b/c.d", "a_b_c_d"), ("x-y", "x_y"), ("café", "caf_"),
                                            ("2nd", "_2nd"), ("", "_")])
def test_safe_name_is_an_ascii_identifier(text, name):
    assert safe_name(text) == name  # valid as a USD prim, MJCF / URDF name and file name alike


def test_long_and_colliding_labels_get_distinct_short_names():
    long = "chair " * 50  # 300 characters: its part file name was too long for the filesystem
    names = safe_names([long, long + "x", "chair 1", "chair_1", "scene", "chair_1_" + "0" * 8], reserved=("scene",))
    values = list(names.values())
    assert len(set(values)) == len(values) and all(len(v) <= MAX_NAME for v in values)
    assert all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", v) for v in values)
    assert names["chair 1"] == "chair_1" and names["chair_1"].startswith("chair_1_") and names["scene"] != "scene"
    assert names[long].startswith("chair_chair_") and names[long] != names[long + "x"]
    assert safe_names([long, "chair 1", "chair_1"]) == {k: names[k] for k in (long, "chair 1", "chair_1")}  # stable
    with pytest.raises(ValueError, match="'chair' appears twice"):
        safe_names(["chair", "table", "chair"])
