"""Floor plans: partitions of the footprint, doorways that connect every room, openings on the right walls."""

import numpy as np
import pytest

from lyra_sim.worlds import floorplan as fp
from lyra_sim.worlds import plan_geometry as pg
from lyra_sim.worlds.building_spec import BuildingRoomSpec, BuildingSpec, DoorwaySpec, EntranceSpec, WindowSpec
from lyra_sim.worlds.rooms import BUILDING_KINDS, ROOM_KINDS

PROGRAMS = [list(k.program) for k in BUILDING_KINDS.values()] + [
    ["kitchen", "living_room", "bathroom", "bedroom", "bedroom"],
    ["living_room", "bedroom"],
    ["kitchen"],
    ["hallway", "bedroom", "bedroom", "bedroom", "bathroom", "bathroom", "living_room", "kitchen", "dining_room",
     "office", "office", "plain"],
]
T = 0.1


def _plan(types, seed):
    rng = np.random.default_rng(seed)
    areas = [rng.uniform(*ROOM_KINDS[t].area) for t in types]
    polys = fp.partition(types, areas, rng)
    doorways = fp.connect(polys, types, rng, T)
    front = fp.entrance(polys, types, rng, T)
    windows = fp.windows(polys, types, front, rng, T, 2.1)
    return polys, fp.settle_leaves(polys, doorways, front, T), front, windows


@pytest.fixture(scope="module")
def plans():
    return [(types, *_plan(types, seed)) for types in PROGRAMS for seed in range(12)]


def test_rooms_partition_a_rectangular_footprint(plans):
    for types, polys, *_ in plans:
        assert all(p == pg.check_polygon("p", p) for p in polys)  # rectilinear, canonical, counter-clockwise
        assert all(len(p) in (4, 6) for p in polys)  # rectangles and L-shapes
        x0, y0, x1, y1 = zip(*(pg.bounds(p) for p in polys))
        footprint = (max(x1) - min(x0)) * (max(y1) - min(y0))
        assert sum(pg.area(p) for p in polys) == pytest.approx(footprint, abs=1e-6)
        rects = [pg.rects(p) for p in polys]
        assert all(pg.overlap_area(rects[i], rects[j]) < 1e-9 for i in range(len(polys)) for j in range(i))
        assert all(abs(v * 20 - round(v * 20)) < 1e-6 for p in polys for xy in p for v in xy)  # 5 cm grid
        for t, p in zip(types, polys):
            lo_x, lo_y, hi_x, hi_y = pg.bounds(p)
            assert min(hi_x - lo_x, hi_y - lo_y) >= ROOM_KINDS[t].min_width - 1e-6


def test_some_rooms_are_l_shaped(plans):
    assert sum(len(p) == 6 for _, polys, *_ in plans for p in polys) >= 5


def test_doorways_connect_every_room_on_shared_walls(plans):
    for types, polys, doorways, front, windows in plans:
        assert not pg.connected(len(polys), [(d.i, d.j) for d in doorways if d.door != "closed"])
        for d in doorways:
            assert d.width >= 0.8 - 1e-9
            margin = d.width / 2 + fp.JAMB + T / 2
            assert any(s.holds(d.center, margin) for s in pg.shared_segments(polys[d.i], polys[d.j]))


def test_private_rooms_are_not_reached_only_through_bedrooms(plans):
    """With a hallway, every room opens onto it; bedrooms never lead to other bedrooms."""
    for types, polys, doorways, *_ in plans:
        if "hallway" in types or "corridor" in types:
            spine = next(i for i, t in enumerate(types) if t in ("hallway", "corridor"))
            onto = {d.i for d in doorways if d.j == spine} | {d.j for d in doorways if d.i == spine}
            assert onto == set(range(len(types))) - {spine}
        assert not any(types[d.i] == types[d.j] == "bedroom" for d in doorways)


def test_entrance_and_windows_lie_on_exterior_walls_apart(plans):
    for types, polys, doorways, front, windows in plans:
        for o in [front] + windows:
            assert any(s.holds(o.center, o.width / 2 + T / 2) for s, _ in pg.exterior_segments(polys, o.i))
        assert all(w.sill + w.height <= 2.1 + 1e-9 for w in windows)
        assert not any(w.i == i and types[i] in ("hallway", "corridor") for w in windows for i in range(len(types)))


def test_the_generated_plan_is_a_valid_building_spec(plans):
    for types, polys, doorways, front, windows in plans[::7]:
        names = [f"r{k}" for k in range(len(types))]
        BuildingSpec(
            "house", tuple(BuildingRoomSpec(t, name=n, polygon=p) for t, n, p in zip(types, names, polys)),
            height=2.6, doorways=tuple(DoorwaySpec((names[d.i], names[d.j]), d.center, d.width, d.door) for d in doorways),
            entrance=EntranceSpec(names[front.i], front.center, front.width),
            windows=tuple(WindowSpec(names[w.i], w.center, w.width, w.height, w.sill) for w in windows),
        )


def test_open_leaves_stand_clear_of_other_openings(plans):
    for types, polys, doorways, front, _ in plans:
        zones = []
        for d in doorways:
            seg, into = fp.doorway_side(polys, d.i, d.j, d.center, d.width)
            zones += [(d, fp.opening_geometry(seg, d.center, d.width, s, T)[0]) for s in (1, -1)]
        for d in doorways:
            if d.door == "open":
                seg, into = fp.doorway_side(polys, d.i, d.j, d.center, d.width)
                leaf = fp.opening_geometry(seg, d.center, d.width, into, T)[1]
                assert pg.contains(pg.rects(polys[d.i]), np.array([[(leaf[0] + leaf[2]) / 2, (leaf[1] + leaf[3]) / 2]]))[0]
                assert all(pg.overlap_area([z], [leaf]) == 0 for other, z in zones if other is not d)


def test_same_seed_same_plan():
    assert _plan(PROGRAMS[0], 3) == _plan(PROGRAMS[0], 3)
    assert _plan(PROGRAMS[0], 3)[0] != _plan(PROGRAMS[0], 4)[0]


def test_rooms_of_very_different_sizes_still_get_usable_cells():
    """A warehouse beside two bathrooms: the bands trade area so every room keeps its min width and proportions."""
    types = ["warehouse", "bathroom", "bathroom"]
    polys = fp.partition(types, [150.0, 5.0, 5.0], np.random.default_rng(0))
    for t, p in zip(types, polys):
        x0, y0, x1, y1 = pg.bounds(p)
        assert min(x1 - x0, y1 - y0) >= ROOM_KINDS[t].min_width
        assert max(x1 - x0, y1 - y0) / min(x1 - x0, y1 - y0) <= fp.MAX_ASPECT + 1e-6


def test_geometry_helpers():
    ell = pg.union_polygon([(0, 0, 6, 1.5), (0, 1.5, 4, 3)])
    assert ell == ((0, 0), (6, 0), (6, 1.5), (4, 1.5), (4, 3), (0, 3))
    assert pg.area(pg.inset(ell, 0.05)) == pytest.approx(15 - 0.89)
    band = pg.difference_rects(pg.rects(ell), pg.rects(pg.inset(ell, 0.05)))
    assert sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in band) == pytest.approx(0.89)
    other = ((4, 1.5), (6, 1.5), (6, 3), (4, 3))
    shared = pg.shared_segments(ell, other)
    assert [(s.axis, s.c, s.a, s.b) for s in shared] == [(0, 1.5, 4, 6), (1, 4, 1.5, 3)]  # longest first
    assert sum(s.length for s, _ in pg.exterior_segments([ell, other], 0)) == pytest.approx(6 + 1.5 + 4 + 3 - 0)
    with pytest.raises(ValueError, match="not parallel"):
        pg.check_polygon("p", [[0, 0], [1, 1], [0, 2]] + [[-1, 1]])
    with pytest.raises(ValueError, match="crosses"):
        pg.check_polygon("p", [[0, 0], [2, 0], [2, 2], [1, 2], [1, -1], [0, -1]])
