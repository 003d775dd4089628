"""Collision mesh extraction (`lyra_sim.exporters.collision`) on small synthetic scenes."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from _scenes import BLOCK, ROOM, box_room_ground_truth, box_room_scene
from lyra_sim.exporters.collision import (
    CollisionConfig,
    extract_collision_mesh,
)
from lyra_sim.exporters.mesh_metrics import EvalConfig, evaluate_mesh
from lyra_sim.exporters.mesh_tools import face_normals
from lyra_sim.scene import GaussianScene

FAST = CollisionConfig(resolution=64, voxel_size=0.03)


@pytest.fixture(scope="module")
def room():
    return box_room_scene()


@pytest.fixture(scope="module")
def room_mesh(room):
    return extract_collision_mesh(room, FAST)


def test_room_is_fused_from_inside_and_matches_ground_truth(room_mesh):
    assert room_mesh.interior
    lo, hi = np.zeros(3), np.asarray(ROOM)
    # every viewpoint is inside the room, clear of the block
    assert ((room_mesh.viewpoints > lo) & (room_mesh.viewpoints < hi)).all()
    (blo, bhi) = (np.asarray(b) for b in BLOCK)
    assert not ((room_mesh.viewpoints > blo) & (room_mesh.viewpoints < bhi)).all(1).any()
    result = evaluate_mesh(room_mesh.vertices, room_mesh.faces, box_room_ground_truth(), (lo, hi), EvalConfig(num_points=30_000))
    assert result.fscore[0.05] >= 0.9, result
    assert result.chamfer < 0.02
    # the mesh stays within the room (no geometry fused outside the walls)
    assert (room_mesh.vertices.min(0) > lo - 0.05).all() and (room_mesh.vertices.max(0) < hi + 0.05).all()


def test_normals_point_into_the_free_space(room_mesh):
    v, f = room_mesh.vertices, room_mesh.faces
    n = face_normals(v, f)
    n /= np.linalg.norm(n, axis=1, keepdims=True) + 1e-12
    c = v[f].mean(1)
    floor = (c[:, 2] < 0.02) & ~((c[:, :2] > np.asarray(BLOCK[0])[:2]) & (c[:, :2] < np.asarray(BLOCK[1])[:2])).all(1)
    ceiling = c[:, 2] > ROOM[2] - 0.02
    assert floor.sum() > 10 and ceiling.sum() > 10
    assert (n[floor, 2] > 0.5).mean() > 0.95
    assert (n[ceiling, 2] < -0.5).mean() > 0.95


def test_same_scene_same_mesh(room, room_mesh):
    again = extract_collision_mesh(room, FAST)
    assert np.array_equal(again.vertices, room_mesh.vertices)
    assert np.array_equal(again.faces, room_mesh.faces)


def test_face_budget_is_respected(room):
    mesh = extract_collision_mesh(room, replace(FAST, face_budget=3000))
    assert len(mesh.faces) <= 3000
    assert mesh.stats["face_budget"] == 3000


def test_object_scene_mesh_bounds(block_only):
    mesh = extract_collision_mesh(block_only, FAST)
    assert not mesh.interior
    lo, hi = mesh.vertices.min(0), mesh.vertices.max(0)
    assert np.allclose(lo[:2], [1.2, 1.2], atol=0.05) and np.allclose(hi, [1.8, 1.8, 0.6], atol=0.05)


def _empty_like(scene: GaussianScene, n: int) -> GaussianScene:
    return scene.select(torch.arange(n))


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda s: _empty_like(s, 0), "no Gaussians"),
        (lambda s: replace(s, opacities=torch.full_like(s.opacities, 0.001)), "transparent"),
        (lambda s: s.select(torch.arange(0, len(s), 997)), "no depth|no surface|no free space"),
    ],
)
def test_bad_scenes_raise_one_clear_error(room, make, message):
    with pytest.raises(ValueError, match=message):
        extract_collision_mesh(make(room), FAST)


def test_config_is_validated():
    with pytest.raises(ValueError, match="resolution"):
        CollisionConfig(resolution=4)
    with pytest.raises(ValueError, match="voxel_size"):
        CollisionConfig(voxel_size=-1.0)
    with pytest.raises(ValueError, match="outside_views"):
        CollisionConfig(outside_views="sometimes")
