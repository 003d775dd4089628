"""Rooms on the nav grid (envs/rooms.py): the plan's polygons rasterized onto cells, downhill paths that
are shortest paths, and rooms counted along the path (not by adjacency), against a brute-force walk."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lyra_sim.envs.nav_fields import UNREACHABLE, safety_margin, scene_grid
from lyra_sim.envs.rooms import geodesic_parents, plan_rooms, room_ids, rooms_crossed, scene_rooms
from lyra_sim.exporters.nav_grid import NavGrid

RES = 0.1
# Three rooms on a 6 x 4 m floor: A bottom-left, C top-left (a wall between them with no door),
# B the right half; doorways A-B and C-B. A path from A to C must go through B.
PLAN = {"rooms": [
    {"name": "A", "polygon": [[0, 0], [3, 0], [3, 2], [0, 2]]},
    {"name": "B", "polygon": [[3, 0], [6, 0], [6, 4], [3, 4]]},
    {"name": "C", "polygon": [[0, 2], [3, 2], [3, 4], [0, 4]]},
]}


def _grid() -> NavGrid:
    """Walls 0.2 m thick on the room edges (plus the outer wall), 1 m doorways at A-B and C-B."""
    nx, ny = 62, 42
    origin = np.array([-0.1, -0.1])
    xs = origin[0] + (np.arange(nx) + 0.5) * RES
    ys = origin[1] + (np.arange(ny) + 0.5) * RES
    x, y = np.meshgrid(xs, ys)
    wall = (x < 0.1) | (x > 5.9) | (y < 0.1) | (y > 3.9)
    wall |= (np.abs(x - 3) < 0.1) & ~((np.abs(y - 1) < 0.5) | (np.abs(y - 3) < 0.5))
    wall |= (np.abs(y - 2) < 0.1) & (x < 3)
    height = np.where(wall, 0.0, np.inf).astype(np.float32)
    return NavGrid(np.zeros((ny, nx), np.uint8), np.zeros((ny, nx), np.float32), origin, RES, 0.0,
                   np.array([0.05, 1.2]), np.ones((ny, nx), np.uint8), height).for_agent(1.2)


@pytest.fixture(scope="module")
def setup():
    nav = _grid()
    grid = scene_grid(nav, 0.05, 1.2, 6)
    fits = grid.clearance >= 0.05 + safety_margin(RES)
    return grid, fits, scene_rooms(PLAN, None, grid.geodesic, fits, grid.origin, grid.resolution)


def _cell(grid, x, y) -> tuple[int, int]:
    ix, iy = np.floor((np.array([x, y]) - grid.origin) / grid.resolution).astype(int)
    return iy, ix


def test_room_ids_follow_the_plan_polygons(setup):
    grid, _, rooms = setup
    assert rooms.names == ("A", "B", "C")
    for (x, y), expected in {(1, 1): 0, (4.5, 3.5): 1, (1, 3): 2, (-0.05, 1): -1}.items():
        assert rooms.ids[_cell(grid, x, y)] == expected


def test_downhill_steps_are_a_shortest_path(setup):
    grid, fits, _ = setup
    parents = geodesic_parents(grid.geodesic, fits, grid.resolution)
    nx = fits.shape[1]
    for k in range(len(grid.goals)):
        g = grid.geodesic[k].reshape(-1)
        for c in np.flatnonzero((g < UNREACHABLE) & fits.reshape(-1))[::37]:
            length, cell = 0.0, c
            while parents[k, cell] != cell:
                nxt = parents[k, cell]
                dy, dx = nxt // nx - cell // nx, nxt % nx - cell % nx
                assert max(abs(dx), abs(dy)) == 1 and fits.reshape(-1)[nxt]
                length += RES * math.hypot(dx, dy)
                cell = nxt
            assert g[cell] == 0  # ends at the goal
            assert length == pytest.approx(g[c], abs=1e-4)


def test_rooms_are_counted_along_the_path_not_by_adjacency(setup):
    grid, fits, _ = setup
    # A goal in C: from A the path goes A -> B -> C (the A-C wall has no door).
    goal_c = scene_grid(_grid(), 0.05, 1.2, 1, goal_xy=np.array([[1.05, 3.05]]))
    r = scene_rooms(PLAN, None, goal_c.geodesic, fits, goal_c.origin, goal_c.resolution)
    assert r.crossed[(0, *_cell(grid, 1, 1))] == 2  # A
    assert r.crossed[(0, *_cell(grid, 4.5, 0.5))] == 1  # B
    assert r.crossed[(0, *_cell(grid, 0.5, 3.5))] == 0  # C


def test_pointer_jumping_matches_a_walk_along_every_path(setup):
    grid, fits, rooms = setup
    parents = geodesic_parents(grid.geodesic, fits, grid.resolution)
    ids = rooms.ids.reshape(-1)
    for k in range(len(grid.goals)):
        g = grid.geodesic[k].reshape(-1)
        expected = np.zeros(len(g), np.uint8)
        for c in np.flatnonzero(g < UNREACHABLE):
            seen, cell = {int(ids[c])}, c
            while parents[k, cell] != cell:
                cell = parents[k, cell]
                seen.add(int(ids[cell]))
            expected[c] = max(len(seen - {-1}) - 1, 0)
        np.testing.assert_array_equal(rooms.crossed[k].reshape(-1), expected)
    assert rooms.crossed.max() == 2


def test_a_chunked_pass_gives_the_same_counts(setup):
    grid, fits, rooms = setup
    np.testing.assert_array_equal(rooms_crossed(grid.geodesic, fits, rooms.ids, RES, chunk=1), rooms.crossed)


def test_an_aligned_bundle_moves_its_plan_with_the_matrix():
    shift = np.eye(4)
    shift[:3, 3] = [10.0, -2.0, 0.0]
    rooms = plan_rooms(PLAN, {"matrix": shift.tolist()})
    ids = room_ids(rooms, np.array([10.0, -2.0]), 0.5, (8, 12))  # the moved floor, 0.5 m cells
    assert ids[1, 1] == 0 and ids[1, 10] == 1 and ids[6, 1] == 2


def test_one_room_or_no_plan_is_no_rooms():
    grid = scene_grid(_grid(), 0.05, 1.2, 2)
    fits = grid.clearance >= 0.05 + safety_margin(RES)
    assert scene_rooms(None, None, grid.geodesic, fits, grid.origin, RES) is None
    assert scene_rooms({"rooms": PLAN["rooms"][:1]}, None, grid.geodesic, fits, grid.origin, RES) is None


@pytest.mark.parametrize("plan, message", [
    ({}, "expected a 'rooms' list"),
    ({"rooms": [{"polygon": [[0, 0], [1, 0], [1, 1], [0, 1]]}]}, r"rooms\[0\]: expected a dict with a 'name'"),
    ({"rooms": [{"name": "A", "polygon": [[0, 0], [1, 1], [0, 1]]}]}, r"rooms\[0\].polygon"),
])
def test_a_bad_floor_plan_is_one_clear_error(plan, message):
    with pytest.raises(ValueError, match=message):
        plan_rooms(plan)
