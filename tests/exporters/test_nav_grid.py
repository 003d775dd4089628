"""Walkable-floor grid (`lyra_sim.exporters.nav_grid`)."""

import numpy as np
import pytest
import trimesh

from _scenes import BLOCK, ROOM
from lyra_sim.exporters.nav_grid import NavConfig, floor_height, nav_grid, read_nav, write_nav


def _room_mesh(floor_z: float = 0.0):
    room = trimesh.creation.box(extents=ROOM)
    room.apply_translation(np.asarray(ROOM) / 2 + [0, 0, floor_z])
    room.invert()
    lo, hi = (np.asarray(b, float) for b in BLOCK)
    block = trimesh.creation.box(extents=hi - lo)
    block.apply_translation((lo + hi) / 2 + [0, 0, floor_z])
    leg = trimesh.creation.box(extents=(0.03, 0.03, 0.7))  # a thin chair leg
    leg.apply_translation((1.6, 0.5, 0.35 + floor_z))
    mesh = trimesh.util.concatenate([room, block, leg])
    return np.asarray(mesh.vertices), np.asarray(mesh.faces)


@pytest.fixture(scope="module")
def grid():
    # The test room is 1.6 m high: a taller agent would hit the ceiling everywhere.
    return nav_grid(*_room_mesh(floor_z=0.3), NavConfig(agent_height=1.2))


def test_a_low_ceiling_blocks_a_tall_agent():
    assert nav_grid(*_room_mesh(), NavConfig(agent_height=1.8)).occupancy.all()


def _cell(grid, x, y):
    i, j = np.floor((np.array([x, y]) - grid.origin) / grid.resolution).astype(int)
    return j, i


def test_floor_height_is_found(grid):
    assert grid.floor_z == pytest.approx(0.3, abs=1e-6)
    assert floor_height(*_room_mesh(floor_z=-1.0)) == pytest.approx(-1.0, abs=1e-6)


def test_free_floor_blocked_obstacles_and_outside(grid):
    assert grid.occupancy[_cell(grid, 1.5, 2.0)] == 0  # open floor
    assert grid.occupancy[_cell(grid, 0.8, 1.0)] == 1  # under the block
    assert grid.occupancy[_cell(grid, 1.6, 0.5)] == 1  # the thin leg is caught
    assert grid.occupancy[_cell(grid, -0.03, 1.0)] == 1  # beyond the wall: no floor
    free_area = (grid.occupancy == 0).sum() * grid.resolution**2
    # The floor minus the block, less up to one cell along every wall and block edge.
    r = grid.resolution
    upper = ROOM[0] * ROOM[1] - 0.6 * 0.8
    lower = (ROOM[0] - 2 * r) * (ROOM[1] - 2 * r) - (0.6 + 2 * r) * (0.8 + 2 * r) - r * r
    assert lower - 1e-9 <= free_area <= upper


def test_distance_is_clearance_in_meters(grid):
    d = grid.distance[_cell(grid, 1.0, 2.0)]
    # nearest obstacle: the wall at y = 2.4 (0.4 m) or the block top edge y = 1.4 (0.6 m)
    assert d == pytest.approx(0.4, abs=0.06)
    assert (grid.distance[grid.occupancy == 1] == 0).all()
    spawn = grid.summary(radius=0.25)["spawn_region"]
    assert spawn["cells"] > 0
    lo, hi = np.asarray(spawn["bounds"])
    assert (lo >= [0.25 - 0.05, 0.25 - 0.05]).all() and (hi <= [ROOM[0] - 0.2, ROOM[1] - 0.2]).all()


def test_file_round_trip_is_byte_stable(tmp_path, grid):
    a = write_nav(tmp_path / "a.npz", grid).read_bytes()
    b = write_nav(tmp_path / "b.npz", grid).read_bytes()
    assert a == b
    back = read_nav(tmp_path / "a.npz")
    assert np.array_equal(back.occupancy, grid.occupancy) and np.array_equal(back.distance, grid.distance)
    assert back.resolution == grid.resolution and back.floor_z == grid.floor_z
    assert np.array_equal(back.origin, grid.origin)


def test_config_is_validated():
    with pytest.raises(ValueError, match="resolution"):
        NavConfig(resolution=0)
    with pytest.raises(ValueError, match="step_height"):
        NavConfig(step_height=2.0, agent_height=1.0)


def test_for_agent_matches_a_grid_built_for_that_height(grid):
    # The block is 0.5 m high (BLOCK), the ceiling 1.6 m: a 0.4 m agent passes nothing new,
    # but the grid derived for it must equal the one computed directly from the mesh.
    for height in (0.4, 1.0, 1.5):
        direct = nav_grid(*_room_mesh(floor_z=0.3), NavConfig(agent_height=height))
        derived = grid.for_agent(height)
        assert np.array_equal(derived.occupancy, direct.occupancy)
        assert np.array_equal(derived.distance, direct.distance)
    with pytest.raises(ValueError, match="step height"):
        grid.for_agent(0.01)


def test_a_short_agent_drives_under_a_table_top():
    v, f = _room_mesh()
    top = trimesh.creation.box(extents=(0.6, 0.6, 0.05))  # a legless table top, 0.70-0.75 m up
    top.apply_translation((1.5, 2.0, 0.725))
    mesh = trimesh.util.concatenate([trimesh.Trimesh(v, f), top])
    grid = nav_grid(np.asarray(mesh.vertices), np.asarray(mesh.faces), NavConfig(agent_height=1.2))
    cell = _cell(grid, 1.5, 2.0)
    assert grid.obstacle_height[cell] == pytest.approx(0.70, abs=0.01)
    assert grid.occupancy[cell] == 1
    assert grid.for_agent(0.6).occupancy[cell] == 0
    assert grid.for_agent(0.8).occupancy[cell] == 1


def test_read_rejects_a_file_that_is_not_a_nav_grid(tmp_path):
    np.savez(tmp_path / "x.npz", occupancy=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="missing distance"):
        read_nav(tmp_path / "x.npz")
