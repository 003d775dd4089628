"""`lyra_sim.worlds.layout`: objects placed without overlaps, inside the room, with a connected free floor."""

import math

import numpy as np
import pytest
from scipy import ndimage

from lyra_sim.worlds.layout import DOOR_CLEARANCE, MARGIN, FreeSpace, Item, Placed, layout, rects_overlap

ROOM = (4.0, 3.5, 2.6)
DESK = (1.2, 0.6, 0.75)
ITEMS = [
    Item("door_0", "door", (0.9, 0.06, 2.05), "wall_mount"),
    Item("window_0", "window", (1.0, 0.06, 1.0), "wall_mount", mount_height=1.0),
    Item("rug_0", "rug", (1.6, 1.2, 0.01), "rug", walkable=True),
    Item("sofa_0", "sofa", (1.8, 0.85, 0.8), "wall"),
    Item("table_0", "table", (1.2, 0.8, 0.75), "center"),
    *[Item(f"chair_{i}", "chair", (0.45, 0.47, 0.9), "around", anchors=("table",)) for i in range(3)],
    Item("plant_0", "plant", (0.4, 0.4, 1.0), "corner"),
    Item("monitor_0", "monitor", (0.55, 0.2, 0.4), "on_top", anchors=("desk",), needs_support=True),
]
SEEDS = range(4)


def make_support(kind, name):
    return Item(name, kind, DESK, "wall")


def _layout(seed, items=ITEMS, room=ROOM, **kw):
    return layout(room, items, np.random.default_rng(seed), make_support, **kw)


@pytest.fixture(scope="module")
def results():
    return {seed: _layout(seed) for seed in SEEDS}


# ----------------------------------------------------------------------------- geometry helpers (independent of the module)

def _inside(p, poly, eps=0.0):
    cross = [np.cross(np.append(poly[(i + 1) % 4] - poly[i], 0), np.append(p - poly[i], 0))[2] for i in range(4)]
    return all(c >= -eps for c in cross) or all(c <= eps for c in cross)


def _point_segment(p, a, b):
    ab = b - a
    t = np.clip((p - a) @ ab / (ab @ ab), 0, 1)
    return float(np.linalg.norm(p - (a + t * ab)))


def _point_poly(p, poly):
    if _inside(p, poly):
        return 0.0
    return min(_point_segment(p, poly[i], poly[(i + 1) % 4]) for i in range(4))


def _points_poly(points, poly):
    """``[N]`` distances of ``points [N, 2]`` to the convex quad ``poly [4, 2]`` (0 inside)."""
    a, b = poly, np.roll(poly, -1, axis=0)
    ab = b - a  # [4, 2]
    ap = points[:, None, :] - a[None]  # [N, 4, 2]
    cross = ab[None, :, 0] * ap[..., 1] - ab[None, :, 1] * ap[..., 0]
    inside = (cross >= 0).all(1) | (cross <= 0).all(1)
    t = np.clip(np.einsum("nkc,kc->nk", ap, ab) / (ab * ab).sum(1), 0, 1)
    d = np.linalg.norm(ap - t[..., None] * ab[None], axis=-1).min(1)
    return np.where(inside, 0.0, d)


def _nearest_footprint(points, placed):
    return min(float(_points_poly(points, p.corners()).min()) for p in placed)


def _poly_distance(a, b):
    """Distance between two convex quads (0 when they touch or overlap)."""
    if any(_inside(p, b) for p in a) or any(_inside(p, a) for p in b):
        return 0.0
    return min(min(_point_poly(p, b) for p in a), min(_point_poly(p, a) for p in b))


def _heights_overlap(a: Placed, b: Placed) -> bool:
    return a.z < b.top - 1e-6 and b.z < a.top - 1e-6


# ----------------------------------------------------------------------------- invariants of a layout

def test_every_item_is_placed_once_and_a_support_was_added(results):
    for r in results.values():
        names = [p.name for p in r.placed]
        assert sorted(names) == sorted([it.name for it in ITEMS] + ["desk_0"])
        assert [it.name for it in r.added] == ["desk_0"] and r.added[0].size == DESK
        monitor = next(p for p in r.placed if p.name == "monitor_0")
        desk = next(p for p in r.placed if p.name == "desk_0")
        assert monitor.support == "desk_0" and monitor.z == desk.top
        c, s = math.cos(desk.yaw), math.sin(desk.yaw)
        local = (monitor.corners() - [desk.x, desk.y]) @ np.array([[c, -s], [s, c]])  # into the desk's frame
        assert (np.abs(local) <= np.array(DESK[:2]) / 2 + 1e-9).all()  # on the desk top, not hanging over


def test_everything_is_inside_the_room_and_under_the_ceiling(results):
    W, D, H = ROOM
    for r in results.values():
        for p in r.placed:
            c = p.corners()
            assert (np.abs(c[:, 0]) <= W / 2 + 1e-6).all() and (np.abs(c[:, 1]) <= D / 2 + 1e-6).all(), p.name
            assert 0 <= p.z and p.top <= H - 0.02, p.name


def test_no_two_objects_overlap(results):
    for r in results.values():
        for i, a in enumerate(r.placed):
            for b in r.placed[i + 1:]:
                if a.name == b.support or b.name == a.support or not _heights_overlap(a, b):
                    continue
                gap = _poly_distance(a.corners(), b.corners())
                assert gap >= MARGIN - 1e-9, f"{a.name} and {b.name} are {gap:.4f} m apart"


def test_furniture_stands_on_the_rug_it_overlaps(results):
    for r in results.values():
        rug = next(p for p in r.placed if p.name == "rug_0")
        for p in r.placed:
            if p.support is None and p.item.rule != "wall_mount" and p is not rug:
                on_rug = _poly_distance(p.corners(), rug.corners()) == 0.0
                assert p.z == (rug.top if on_rug else 0.0), p.name


def test_wall_mounted_items_hang_on_a_wall_facing_the_room(results):
    W, D, _ = ROOM
    for r in results.values():
        for p in r.placed:
            if p.item.rule != "wall_mount":
                continue
            assert p.z == p.item.mount_height
            facing = np.array([-math.sin(p.yaw), math.cos(p.yaw)])  # local +y, the front
            back = np.array([p.x, p.y]) - facing * p.item.size[1] / 2
            to_wall = min(W / 2 - abs(back[0]), D / 2 - abs(back[1]))
            assert to_wall < 0.02, p.name  # back on the wall
            assert facing @ -np.array([p.x, p.y]) > 0, p.name  # front toward the room's middle


def test_nothing_blocks_the_door(results):
    for r in results.values():
        door = next(p for p in r.placed if p.name == "door_0")
        n = np.array([-math.sin(door.yaw), math.cos(door.yaw)])
        center = np.array([door.x, door.y]) + n * (door.item.size[1] / 2 + DOOR_CLEARANCE / 2)
        keepout = Placed(Item("keepout", "keepout", (door.item.size[0], DOOR_CLEARANCE, door.top), "free"),
                         *center, 0.0, door.yaw).corners()
        for p in r.placed:
            if p is door or p.item.walkable or p.support is not None or p.z >= door.top:
                continue
            assert _poly_distance(p.corners(), keepout) > 0 or not _heights_overlap(p, door), p.name


def test_free_floor_is_one_connected_region(results):
    for r in results.values():
        free = r.free_space.free
        assert free.any()
        _, count = ndimage.label(free)  # 4-connected, as the layout checks it
        assert count == 1


def test_free_cells_are_clear_of_obstacles_and_walls_within_a_cell(results):
    """Free cell centers keep the agent radius from the walls exactly, from footprints up to one cell."""
    W, D, _ = ROOM
    for r in results.values():
        fs = r.free_space
        centers = fs.cell_centers()[fs.free]
        walls = np.minimum(W / 2 - np.abs(centers[:, 0]), D / 2 - np.abs(centers[:, 1]))
        assert walls.min() >= fs.agent_radius - 1e-9
        obstacles = [p for p in r.placed if not p.item.walkable and p.z < 1.5]
        assert _nearest_footprint(centers, obstacles) >= fs.agent_radius - fs.resolution


def test_occupied_cells_are_the_footprints_of_low_obstacles(results):
    for r in results.values():
        fs = r.free_space
        centers = fs.cell_centers()
        low = [p for p in r.placed if not p.item.walkable and p.z < 1.5]
        inside = np.zeros(fs.occupied.shape, bool)
        for p in low:
            c, s = math.cos(p.yaw), math.sin(p.yaw)
            rel = centers - [p.x, p.y]
            u, v = rel[..., 0] * c + rel[..., 1] * s, -rel[..., 0] * s + rel[..., 1] * c
            inside |= (np.abs(u) <= p.item.size[0] / 2) & (np.abs(v) <= p.item.size[1] / 2)
        np.testing.assert_array_equal(fs.occupied, inside)
        assert not (fs.free & fs.occupied).any()


def test_free_space_frame(results):
    fs = results[0].free_space
    W, D, _ = ROOM
    assert fs.origin == (-W / 2, -D / 2) and fs.resolution == 0.05 and fs.agent_radius == 0.25
    assert fs.free.shape == (math.ceil(D / 0.05), math.ceil(W / 0.05))
    centers = fs.cell_centers()
    np.testing.assert_allclose(centers[0, 0], [-W / 2 + 0.025, -D / 2 + 0.025])
    np.testing.assert_allclose(centers[0, 1] - centers[0, 0], [0.05, 0])  # x along columns
    summary = fs.to_dict()
    assert summary["shape"] == list(fs.free.shape)
    assert summary["free_area_m2"] == pytest.approx(fs.free.sum() * 0.0025)


def test_free_space_sample_is_seeded_and_on_free_cells(results):
    fs = results[0].free_space
    a = fs.sample(np.random.default_rng(5), 50)
    b = fs.sample(np.random.default_rng(5), 50)
    np.testing.assert_array_equal(a, b)
    ix = np.floor((a[:, 0] - fs.origin[0]) / fs.resolution).astype(int)
    iy = np.floor((a[:, 1] - fs.origin[1]) / fs.resolution).astype(int)
    assert fs.free[iy, ix].all()
    empty = FreeSpace((0.0, 0.0), 0.1, np.ones((2, 2), bool), np.zeros((2, 2), bool), 0.25)
    with pytest.raises(ValueError, match="no free cell"):
        empty.sample(np.random.default_rng(0), 1)


# ----------------------------------------------------------------------------- determinism

def test_same_seed_same_layout(results):
    again = _layout(0)
    assert [(p.name, p.x, p.y, p.z, p.yaw, p.support) for p in again.placed] == \
        [(p.name, p.x, p.y, p.z, p.yaw, p.support) for p in results[0].placed]
    np.testing.assert_array_equal(again.free_space.free, results[0].free_space.free)


def test_other_seeds_other_layouts(results):
    poses = {seed: tuple((round(p.x, 6), round(p.y, 6)) for p in r.placed) for seed, r in results.items()}
    assert len(set(poses.values())) == len(SEEDS)


# ----------------------------------------------------------------------------- fixed poses and errors

def test_fixed_poses_are_kept():
    items = [Item("table_0", "table", (1.2, 0.8, 0.75), "center", position=(0.5, -0.3), yaw=0.25),
             Item("chair_0", "chair", (0.45, 0.47, 0.9), "around", anchors=("table",))]
    r = _layout(0, items)
    table = next(p for p in r.placed if p.name == "table_0")
    assert (table.x, table.y, table.yaw, table.z) == (0.5, -0.3, 0.25, 0.0)
    assert r.placed[0] is table  # fixed poses go first


def test_a_fixed_door_snaps_onto_the_nearest_wall():
    r = _layout(0, [Item("door_0", "door", (0.9, 0.06, 2.05), "wall_mount", position=(0.4, -1.5))])
    door = r.placed[0]
    assert door.x == 0.4 and door.y == pytest.approx(-ROOM[1] / 2 + 0.03 + 1e-4) and door.yaw == 0.0


@pytest.mark.parametrize("items, match", [
    ([Item("table_0", "table", (1.2, 0.8, 0.75), "center", position=(1.9, 0.0))],
     r"table_0: the given position \(1.90, 0.00\) is invalid: outside the room"),
    ([Item("table_0", "table", (1.2, 0.8, 0.75), "center", position=(0.0, 0.0)),
      Item("sofa_0", "sofa", (1.8, 0.85, 0.8), "wall", position=(0.3, 0.2))],  # wall rules are placed first
     r"table_0: the given position \(0.00, 0.00\) is invalid: overlaps sofa_0"),
    ([Item("wardrobe_0", "wardrobe", (1.0, 0.6, 2.7), "wall", position=(0.0, 0.0))],
     r"invalid: taller than the room"),
    ([Item("monitor_0", "monitor", (0.5, 0.2, 0.4), "on_top", position=(0.0, 0.0), on="desk_9")],
     r"monitor_0: 'on' names 'desk_9', which is not a placed object instance"),
    ([Item("wall_a", "shelf", (0.2, 3.5, 1.0), "wall", position=(0.0, 0.0))],  # a wall across the room
     r"the given object positions leave the free floor disconnected \(or leave none\) for an agent of radius 0.25 m"),
])
def test_invalid_fixed_poses_fail_at_once_naming_the_object(items, match):
    calls = []

    def counting_support(kind, name):
        calls.append(name)
        return make_support(kind, name)

    with pytest.raises(ValueError, match=match) as err:
        layout(ROOM, items, np.random.default_rng(0), counting_support)
    assert "tried" not in str(err.value)  # no restarts for a pose the user gave
    assert calls == []


def test_a_fixed_object_must_lie_on_its_support():
    items = [Item("desk_0", "desk", DESK, "wall", position=(0.0, 0.0)),
             Item("monitor_0", "monitor", (0.5, 0.2, 0.4), "on_top", position=(1.0, 0.0), on="desk_0")]
    with pytest.raises(ValueError, match=r"monitor_0: its footprint at \(1.00, 0.00\) is not within desk_0's top"):
        _layout(0, items)


def test_too_much_furniture_names_the_object_and_the_attempts():
    sofas = [Item(f"sofa_{i}", "sofa", (1.8, 0.85, 0.8), "wall") for i in range(12)]
    with pytest.raises(ValueError, match=r"could not place sofa_\d+ \(sofa, 1.80 x 0.85 m\) in the 4.0 x 3.5 m room "
                                         r"without overlapping .* \(tried 3 seeded layouts; use fewer or smaller"):
        _layout(0, sofas, restarts=3, candidates=40)


def test_an_object_too_big_for_a_fresh_support_is_an_error_at_once():
    huge = Item("monitor_0", "monitor", (2.0, 1.0, 0.4), "on_top", anchors=("desk",), needs_support=True)
    with pytest.raises(ValueError, match=r"could not place monitor_0 \(monitor, 2.00 x 1.00 m\) on a desk "
                                         r"\(top 1.20 x 0.60 m\): it does not fit$"):
        _layout(0, [huge])


def test_an_empty_room_has_all_its_floor_free():
    r = _layout(0, [])
    fs = r.free_space
    W, D, _ = ROOM
    assert r.placed == [] and r.added == [] and not fs.occupied.any()
    centers = fs.cell_centers()
    walls = np.minimum(W / 2 - np.abs(centers[..., 0]), D / 2 - np.abs(centers[..., 1]))
    np.testing.assert_array_equal(fs.free, walls >= 0.25)


# ----------------------------------------------------------------------------- rects_overlap

def _square(cx, cy, half=0.5, yaw=0.0):
    return Placed(Item("s", "s", (2 * half, 2 * half, 1.0), "free"), cx, cy, 0.0, yaw).corners()


def test_rects_overlap_separating_axis_cases():
    a = _square(0, 0)
    assert rects_overlap(a, _square(0.9, 0.0))  # overlapping
    assert not rects_overlap(a, _square(1.1, 0.0))  # 0.1 apart
    assert rects_overlap(a, _square(1.1, 0.0), margin=0.2)  # closer than the margin
    assert not rects_overlap(a, _square(1.1, 0.0), margin=0.05)
    assert not rects_overlap(a, _square(1.0, 0.0))  # touching edges count as apart
    # a diamond whose bounding box overlaps the square's corner region, but not the square
    diamond = _square(1.2, 1.2, yaw=math.pi / 4)
    assert not rects_overlap(a, diamond)
    assert rects_overlap(a, _square(0.8, 0.8, yaw=math.pi / 4))
    assert rects_overlap(a, _square(0.0, 0.0, half=0.1))  # one inside the other
