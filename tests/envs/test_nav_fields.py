"""`lyra_sim.envs.nav_fields`: clearance and geodesic fields of nav grids, and their batched lookups."""

import heapq
import math

import numpy as np
import pytest
import torch

from lyra_sim.envs import numba_grid
from lyra_sim.envs.nav_fields import UNREACHABLE, NavFields, SceneGrid, _geodesic, safety_margin, scene_grid
from lyra_sim.exporters.nav_grid import NavGrid

RES = 0.125  # exact in binary: cell centers and their lookups carry no rounding
SQ2 = math.sqrt(2)


def _nav(floor, obstacle_height=None, origin=(0.0, 0.0), res=RES):
    """A hand-made nav grid: ``floor`` [ny, nx] (1 = floor), obstacles as heights above it (inf: none)."""
    floor = np.asarray(floor, np.uint8)
    heights = np.full(floor.shape, np.inf, np.float32) if obstacle_height is None else np.asarray(obstacle_height,
                                                                                                   np.float32)
    blocked = (floor == 0) | (heights < 1.8)
    return NavGrid(blocked.astype(np.uint8), np.zeros(floor.shape, np.float32), np.asarray(origin, float), res, 0.0,
                   np.array([0.05, 1.8]), floor, heights)


def _brute_clearance(blocked, res):
    """Meters from every cell center to the nearest blocked cell center, by looking at all of them."""
    ys, xs = np.nonzero(blocked)
    gy, gx = np.mgrid[: blocked.shape[0], : blocked.shape[1]]
    d = np.hypot(gy[..., None] - ys, gx[..., None] - xs).min(-1)
    return d * res


def _dijkstra(free, res, source):
    """Plain 8-connected Dijkstra over free cells; a diagonal step needs both side cells free."""
    ny, nx = free.shape
    dist = np.full(free.shape, np.inf)
    dist[source] = 0.0
    heap = [(0.0, source)]
    while heap:
        d, (y, x) = heapq.heappop(heap)
        if d > dist[y, x]:
            continue
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                ty, tx = y + dy, x + dx
                if (dy, dx) == (0, 0) or not (0 <= ty < ny and 0 <= tx < nx) or not free[ty, tx]:
                    continue
                if dy and dx and not (free[y + dy, x] and free[y, x + dx]):
                    continue
                nd = d + res * math.hypot(dy, dx)
                if nd < dist[ty, tx]:
                    dist[ty, tx] = nd
                    heapq.heappush(heap, (nd, (ty, tx)))
    return np.where(np.isfinite(dist), dist, UNREACHABLE)


def _room(ny=12, nx=16, wall_rows=range(8), wall_col=8):
    """A floor with a border of no-floor cells and a 0.5 m high wall across part of it."""
    floor = np.zeros((ny, nx), np.uint8)
    floor[1:-1, 1:-1] = 1
    heights = np.full((ny, nx), np.inf, np.float32)
    heights[list(wall_rows), wall_col] = 0.5
    return _nav(floor, heights)


# ----------------------------------------------------------------------------- clearance

def test_safety_margin_is_a_cell_diagonal():
    assert safety_margin(0.05) == math.sqrt(2) * 0.05 and safety_margin(1.0) == SQ2


def test_clearance_is_the_exact_distance_to_the_nearest_blocked_cell():
    nav = _room()
    grid = scene_grid(nav, radius=0.05, height=1.0, goals=4)
    blocked = (nav.floor == 0) | (nav.obstacle_height < 1.0)
    np.testing.assert_allclose(grid.clearance, _brute_clearance(blocked, RES), atol=1e-6)
    assert grid.clearance.dtype == np.float32 and (grid.clearance[blocked] == 0).all()
    assert grid.clearance[8, 10] == pytest.approx(math.hypot(1, 2) * RES)  # nearest: the wall's end (7, 8)


def test_a_short_agent_passes_over_what_blocks_a_tall_one():
    nav = _room()
    tall = scene_grid(nav, radius=0.05, height=1.0, goals=1)
    short = scene_grid(nav, radius=0.05, height=0.4, goals=1)  # under the 0.5 m obstacle
    assert tall.clearance[3, 8] == 0 and short.clearance[3, 8] > 0
    np.testing.assert_allclose(short.clearance, _brute_clearance(nav.floor == 0, RES), atol=1e-6)


# ----------------------------------------------------------------------------- geodesic

def test_geodesic_around_a_wall_is_the_known_shortest_path():
    free = np.ones((5, 7), bool)
    free[0:4, 3] = False  # a wall in column 3, open in row 4
    dist = _geodesic(free, RES, np.array([0]))[0]  # from cell (0, 0)
    # (0,0) -> (4,2): 2 diagonal + 2 straight; the gap (4,3) only from the side (no corner cutting);
    # (4,4) -> (0,6): 2 diagonal + 2 straight
    assert dist[0, 6] == pytest.approx((4 * SQ2 + 6) * RES, abs=1e-12)
    assert dist[4, 3] == pytest.approx((2 * SQ2 + 3) * RES, abs=1e-12)
    assert dist[0, 2] == pytest.approx(2 * RES, abs=1e-12)
    assert dist[3, 3] == UNREACHABLE and dist[0, 0] == 0.0  # a wall cell; the source


def test_geodesic_matches_dijkstra_by_hand_for_every_source():
    rng = np.random.default_rng(3)
    free = rng.random((9, 11)) > 0.3
    sources = np.flatnonzero(free)[:: 7]
    fields = _geodesic(free, 0.05, sources)
    assert fields.shape == (len(sources), 9, 11)
    for field, s in zip(fields, sources):
        np.testing.assert_allclose(field, _dijkstra(free, 0.05, (s // 11, s % 11)), rtol=1e-12)


def test_unreachable_cells_and_no_corner_cutting():
    free = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]], bool)  # isolated cells touching only at corners
    dist = _geodesic(free, RES, np.array([4]))[0]  # from the middle
    assert dist[1, 1] == 0 and (dist[free & (np.arange(9).reshape(3, 3) != 4)] == UNREACHABLE).all()
    pocket = np.ones((4, 4), bool)
    pocket[:, 2] = False
    dist = _geodesic(pocket, RES, np.array([0]))[0]
    assert (dist[:, 3] == UNREACHABLE).all() and (dist[:, :2] < UNREACHABLE).all()


def test_scene_grid_goals_lie_on_the_largest_region_and_their_fields_are_geodesics():
    nav = _room(wall_rows=range(12))  # a full wall: two regions, the right one smaller
    grid = scene_grid(nav, radius=0.05, height=1.0, goals=6)
    fits = grid.clearance >= 0.05 + safety_margin(RES)
    assert grid.goals.shape == (6, 2) and grid.geodesic.shape == (6, 12, 16)
    cells = np.floor((grid.goals - grid.origin) / RES).astype(int)
    assert fits[cells[:, 1], cells[:, 0]].all()
    assert (cells[:, 0] < 8).all()  # the left region (columns 1..7) is the larger one
    for field, (ix, iy) in zip(grid.geodesic, cells):
        assert field[iy, ix] == 0
        np.testing.assert_allclose(field, _dijkstra(fits, RES, (iy, ix)).astype(np.float32), rtol=1e-6)
        assert (field[:, 9:] == UNREACHABLE).all()  # the other side of the wall
    again = scene_grid(nav, radius=0.05, height=1.0, goals=6)
    np.testing.assert_array_equal(again.goals, grid.goals)  # the pool is part of the scene: fixed


def test_scene_grid_errors():
    nav = _room()
    with pytest.raises(ValueError, match=r"no walkable floor fits an agent of radius 2.0 m and height 1.0 m "
                                         r"\(largest clearance 0.\d\d m\)"):
        scene_grid(nav, radius=2.0, height=1.0, goals=1)
    with pytest.raises(ValueError, match=r"the largest walkable region has \d+ cells; need 100000"):
        scene_grid(nav, radius=0.05, height=1.0, goals=1, min_region_cells=100_000)


# ----------------------------------------------------------------------------- NavFields lookups

@pytest.fixture(scope="module")
def fields():
    a = scene_grid(_room(), radius=0.05, height=1.0, goals=3)
    b = scene_grid(_nav(np.pad(np.ones((6, 6), np.uint8), 1), origin=(5.0, -1.0)), radius=0.05, height=1.0, goals=3)
    return NavFields([a, b]), (a, b)


def test_fields_are_stacked_and_padded_as_blocked(fields):
    nf, (_, b) = fields
    assert nf.shape == (12, 16) and nf.clearance.shape == (2, 12, 16) and nf.geodesic.shape == (2, 3, 12, 16)
    assert torch.equal(nf.clearance[1, :8, :8], torch.from_numpy(b.clearance))
    assert (nf.clearance[1, 8:] == 0).all() and (nf.clearance[1, :, 8:] == 0).all()
    assert (nf.geodesic[1, :, 8:] == UNREACHABLE).all()
    torch.testing.assert_close(nf.margin, torch.full((2,), safety_margin(RES)))
    assert nf.origin.tolist() == [[0.0, 0.0], [5.0, -1.0]]


def test_clearance_at_cell_centers_and_between_them(fields):
    nf, (a, b) = fields
    iy, ix = np.mgrid[1:11, 1:15]
    xy = torch.tensor(np.stack([(ix.ravel() + 0.5) * RES, (iy.ravel() + 0.5) * RES], 1), dtype=torch.float32)
    scene = torch.zeros(len(xy), dtype=torch.long)
    torch.testing.assert_close(nf.clearance_at(scene, xy), torch.from_numpy(a.clearance[iy.ravel(), ix.ravel()]),
                               atol=1e-6, rtol=0)
    # halfway between two centers: their mean; a quarter of the way in both: bilinear weights
    c = a.clearance
    mid = nf.clearance_at(torch.tensor([0]), torch.tensor([[6.0 * RES, 3.5 * RES]]))
    assert mid.item() == pytest.approx((c[3, 5] + c[3, 6]) / 2, abs=1e-6)
    q = nf.clearance_at(torch.tensor([0]), torch.tensor([[5.75 * RES, 3.75 * RES]]))
    expected = 0.75 * 0.75 * c[3, 5] + 0.25 * 0.75 * c[3, 6] + 0.75 * 0.25 * c[4, 5] + 0.25 * 0.25 * c[4, 6]
    assert q.item() == pytest.approx(expected, abs=1e-6)
    # the second scene is looked up in its own frame
    inside_b = nf.clearance_at(torch.tensor([1]), torch.tensor([[5.0 + 3.5 * RES, -1.0 + 3.5 * RES]]))
    assert inside_b.item() == pytest.approx(b.clearance[3, 3], abs=1e-6)
    far = nf.clearance_at(torch.tensor([0, 1]), torch.tensor([[-3.0, 0.5], [5.5, 20.0]]))
    assert far.tolist() == [0.0, 0.0]  # outside the grid: blocked


def test_clearance_gradient_is_the_bilinear_slope(fields):
    nf, _ = fields
    xy = torch.tensor([[5.6 * RES, 3.4 * RES], [8.2 * RES, 7.1 * RES]])
    scene = torch.zeros(2, dtype=torch.long)
    value, grad = nf.clearance_at(scene, xy, gradient=True)
    torch.testing.assert_close(value, nf.clearance_at(scene, xy))
    h = 1e-3
    for axis in range(2):
        step = torch.zeros(2)
        step[axis] = h
        fd = (nf.clearance_at(scene, xy + step) - nf.clearance_at(scene, xy - step)) / (2 * h)
        torch.testing.assert_close(grad[:, axis], fd, atol=2e-3, rtol=0)


def _reachable_centers(grid, goal):
    iy, ix = np.nonzero(grid.geodesic[goal] < UNREACHABLE)
    return iy, ix, torch.tensor(np.stack([(ix + 0.5) * RES, (iy + 0.5) * RES], 1), dtype=torch.float32)


def test_geodesic_at_goals_and_cell_centers(fields):
    nf, (a, _) = fields
    d = nf.geodesic_at(torch.zeros(3, dtype=torch.long), torch.arange(3), nf.goals[0])
    torch.testing.assert_close(d, torch.zeros(3), atol=1e-6, rtol=0)
    fits = a.clearance >= 0.05 + safety_margin(RES)
    for goal in range(3):
        iy, ix, xy = _reachable_centers(a, goal)
        got = nf.geodesic_at(torch.zeros(len(xy), dtype=torch.long), torch.full((len(xy),), goal), xy).numpy()
        assert (got <= a.geodesic[goal][iy, ix] + 1e-6).all()  # never more than the cell's own path
        # where the 2 x 2 block of centers around the point all fit, the grid allows every step between
        # them, so the lookup at a center is that cell's geodesic
        block = fits[iy, ix] & fits[iy + 1, ix] & fits[iy, ix + 1] & fits[iy + 1, ix + 1]
        np.testing.assert_allclose(got[block], a.geodesic[goal][iy, ix][block], atol=1e-5)
    # off-center: the best of the 4 surrounding centers plus the straight distance to it
    p = (5.6 * RES, 3.3 * RES)
    got = nf.geodesic_at(torch.tensor([0]), torch.tensor([1]), torch.tensor([p])).item()
    cands = [a.geodesic[1][j, i] + math.hypot(p[0] - (i + 0.5) * RES, p[1] - (j + 0.5) * RES)
             for j in (2, 3) for i in (5, 6)]  # centers at rows 2.5, 3.5 and columns 5.5, 6.5
    assert got == pytest.approx(min(cands), abs=1e-5)


def test_geodesic_at_cell_centers_is_within_the_documented_bound_of_the_grid_geodesic(fields):
    """At most the cell's own geodesic; below it only next to blocked cells, by at most (2 - √2) · resolution."""
    nf, (a, _) = fields
    shortfalls = []
    for goal in range(3):
        iy, ix, xy = _reachable_centers(a, goal)
        got = nf.geodesic_at(torch.zeros(len(xy), dtype=torch.long), torch.full((len(xy),), goal), xy).numpy()
        want = a.geodesic[goal][iy, ix]
        assert (got <= want + 1e-5).all()
        assert (got >= want - (2 - math.sqrt(2)) * RES - 1e-5).all()
        shortfalls.append(want - got)
    assert max(float(s.max()) for s in shortfalls) > 0.1 * RES  # the corner case exists in this grid


def test_cell_centers_of_flat_indices(fields):
    nf, _ = fields
    np.testing.assert_allclose(nf.cell_centers(1, np.array([0, 17])),
                               [[5.0 + 0.5 * RES, -1.0 + 0.5 * RES], [5.0 + 1.5 * RES, -1.0 + 1.5 * RES]], atol=1e-6)


@pytest.mark.skipif(not numba_grid.available(), reason="needs numba (the cpu extra)")
def test_numba_grid_is_the_reference_bit_for_bit():
    """The CPU's compiled look-up (`envs.numba_grid`) against `clearance_reference`, on and off two grids of random
    values (other origins, resolutions and sizes), at cell centers, edges and random points: values and gradients
    exactly equal."""
    rng = np.random.default_rng(0)

    def grid(shape, origin, res):
        return SceneGrid(rng.uniform(0, 1, shape).astype(np.float32), np.zeros((1, *shape), np.float32), np.zeros((1, 2)),
                         np.array(origin), res, 0.0)

    nf = NavFields([grid((12, 16), (0.0, 0.0), 0.05), grid((9, 7), (0.3, -0.7), 0.07)])
    centers = (np.mgrid[-2:18, -2:14].reshape(2, -1).T + 0.5) * 0.05
    xy = np.concatenate([rng.uniform(-0.3, 1.0, (4000, 2)), centers, centers - 0.025]).astype(np.float32)
    scene = torch.as_tensor(rng.integers(0, 2, len(xy)))
    xy = torch.from_numpy(xy)
    for gradient in (False, True):
        got = numba_grid.grid_clearance(scene, xy, nf.clearance, nf.origin, nf.resolution, gradient)
        ref = nf.clearance_reference(scene, xy, gradient)
        ref = ref if gradient else (ref, None)
        assert torch.equal(got[0], ref[0])
        assert (got[1] is None) == (not gradient) and (not gradient or torch.equal(got[1], ref[1]))
    assert (ref[0] > 0).sum() > 1000 and (ref[0] == 0).sum() > 1000  # on the grids and off them (blocked)
    assert torch.equal(nf.clearance_at(scene, xy), ref[0])  # the CPU path uses it
