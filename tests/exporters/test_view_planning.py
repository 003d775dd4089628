"""Depth-view planning of collision-mesh extraction (`lyra_sim.exporters.view_planning`)."""

import numpy as np

from lyra_sim.exporters.collision import CollisionConfig
from lyra_sim.exporters.view_planning import _coverage_views, _occupancy_raycaster, _surface_targets, cube_viewmats, plan_views

FAST = CollisionConfig(resolution=64, voxel_size=0.03)


def test_object_scene_is_seen_from_around(block_only):
    plan = plan_views(block_only, FAST)
    assert not plan.interior
    centers = plan.cameras.centers.numpy()
    outside = ~((centers > [1.2, 1.2, 0.0]) & (centers < [1.8, 1.8, 0.6])).all(1)
    assert outside.all() and len(centers) >= FAST.orbit_views


def test_coverage_views_reach_around_a_corner():
    # An L-shaped room of 1 m cells: arm A along x (y in 1..2), arm B along y (x in 7..8).
    # A view at A's far end cannot see B's far end and vice versa, so two faces must be one
    # at each end, each looking down its own arm (the most wall within reach).
    occupied = np.ones((10, 12, 5), dtype=bool)
    occupied[1:9, 1:3, 1:4] = False
    occupied[7:9, 1:11, 1:4] = False
    room = ~occupied
    room[0], room[-1], room[:, 0], room[:, -1], room[:, :, 0], room[:, :, -1] = (False,) * 6
    targets, normals = _surface_targets(occupied, room, np.zeros(3), 1.0)
    raycaster = _occupancy_raycaster(occupied, np.zeros(3), 1.0)
    a_end, b_end = np.array([1.5, 2.0, 2.5]), np.array([8.0, 10.5, 2.5])
    candidates = np.stack([a_end, b_end])
    positions, faces = _coverage_views(candidates, targets, normals, raycaster, 1.0, 3.0, 0.3, 2)
    assert sorted(map(tuple, positions)) == sorted(map(tuple, candidates))
    by_position = {tuple(p): f for p, f in zip(positions, faces)}
    assert by_position[tuple(a_end)] == 0 and by_position[tuple(b_end)] == 3  # +x and -y
    # every (candidate, face) at most once, and no view that adds nothing
    positions, faces = _coverage_views(candidates, targets, normals, raycaster, 1.0, 3.0, 0.3, 100)
    assert len(set(zip(map(tuple, positions), faces))) == len(faces) <= 12


def test_cube_maps_cover_all_directions():
    vm = cube_viewmats(np.zeros((1, 3)))
    forward = vm[:, 2, :3].numpy()  # third row: camera z axis in world coordinates
    assert np.allclose(sorted(map(tuple, forward)), sorted(map(tuple, np.concatenate([np.eye(3), -np.eye(3)]))))
    rot = vm[:, :3, :3].numpy()
    assert np.allclose(rot @ rot.transpose(0, 2, 1), np.eye(3), atol=1e-6)
    assert np.allclose(np.linalg.det(rot), 1)
