"""Buildings end to end: one connected free floor through the doorways, furniture off the doorways,
Gaussians only where the rooms see them, bit-for-bit regeneration from the resolved spec."""

import math

import numpy as np
import pytest
import torch
from scipy import ndimage

from lyra_sim.exporters.mesh_metrics import point_to_mesh_distance
from lyra_sim.worlds import floorplan as fp
from lyra_sim.worlds import plan_geometry as pg
from lyra_sim.worlds.procedural import ProceduralConfig, generate
from lyra_sim.worlds.spec import SceneSpec

FAST = ProceduralConfig(spacing=0.05, building_max_gaussians=400_000)
PROMPT = "a house with a kitchen, a bathroom and a bedroom"


@pytest.fixture(scope="module")
def house():
    return generate(PROMPT, 0, FAST)


def _zones(world):
    plan = world.plan
    cells = [tuple(map(tuple, r["polygon"])) for r in plan["rooms"]]
    names = [r["name"] for r in plan["rooms"]]
    out = []
    for d in plan["doorways"]:
        i, j = names.index(d["rooms"][0]), names.index(d["rooms"][1])
        seg, into = fp.doorway_side(cells, i, j, tuple(d["center"]), d["width"])
        out += [fp.opening_geometry(seg, tuple(d["center"]), d["width"], s, plan["wall_thickness"])[0] for s in (1, -1)]
    return out


def _footprint(o):
    w, d = o["size"][0], o["size"][1]
    c, s = math.cos(math.radians(o["yaw_deg"])), math.sin(math.radians(o["yaw_deg"]))
    local = np.array([[-w / 2, -d / 2], [w / 2, -d / 2], [w / 2, d / 2], [-w / 2, d / 2]])
    return local @ np.array([[c, s], [-s, c]]) + np.array(o["position"][:2])


def test_plan_and_program(house):
    plan = house.plan
    assert [r["type"] for r in plan["rooms"]] == ["kitchen", "bathroom", "bedroom"]
    assert plan["area_m2"] == pytest.approx(sum(pg.area(tuple(map(tuple, r["polygon"]))) for r in plan["rooms"]))
    assert len(plan["doorways"]) >= 2 and all(d["width"] >= 0.8 for d in plan["doorways"])
    kinds = {o["room"]: set() for o in house.objects}
    for o in house.objects:
        kinds[o["room"]].add(o["kind"])
    assert {"toilet", "sink"} <= kinds["bathroom_0"] and "bed" in kinds["bedroom_0"]
    assert sum(o["kind"] == "window" for o in house.objects) == len(plan["windows"]) >= 1
    names = list(house.gaussians.label_names)
    assert len(set(names)) == len(names) and names[:3] == ["floor", "wall", "ceiling"]


def test_free_floor_is_one_region_reaching_every_room(house):
    free = house.free_space
    _, parts = ndimage.label(free.free)
    assert parts == 1
    centers = free.cell_centers()[free.free]
    for room in house.plan["rooms"]:
        inside = pg.contains(pg.rects(tuple(map(tuple, room["interior"]))), centers)
        assert inside.sum() * free.resolution**2 > 1.0, room["name"]


def test_furniture_keeps_doorways_clear_and_stays_in_its_room(house):
    zones = _zones(house)
    rooms = {r["name"]: [(x0 - 1e-6, y0 - 1e-6, x1 + 1e-6, y1 + 1e-6) for x0, y0, x1, y1 in
                         pg.rects(tuple(map(tuple, r["interior"])))] for r in house.plan["rooms"]}
    for o in house.objects:
        if o["kind"] in ("door", "window") or o["kind"] == "rug" or o["on"]:
            continue
        corners = _footprint(o)
        assert pg.contains(rooms[o["room"]], corners, strict=False).all(), o["name"]
        lo, hi = corners.min(0), corners.max(0)
        for z in zones:
            assert lo[0] >= z[2] - 1e-6 or hi[0] <= z[0] + 1e-6 or lo[1] >= z[3] - 1e-6 or hi[1] <= z[1] + 1e-6, o["name"]


def test_gaussians_only_inside_the_building_and_on_its_meshes(house):
    g = house.gaussians
    means = g.means.numpy().astype(np.float64)
    lo, hi = np.array(house.room_bounds[0]), np.array(house.room_bounds[1])
    assert (means >= lo - 1e-4).all() and (means <= hi + 1e-4).all()  # nothing on the outer faces of walls
    labels = g.labels.numpy()
    rng = np.random.default_rng(0)
    for k in (0, 1, 2, int(labels.max())):
        pick = rng.choice(np.nonzero(labels == k)[0], 300)
        m = house.meshes[k]
        assert point_to_mesh_distance(means[pick], m.vertices, m.faces).max() < 1e-4


def test_same_seed_same_bytes_and_the_resolved_spec_regenerates_it(house):
    again = generate(PROMPT, 0, FAST)
    assert torch.equal(again.gaussians.means, house.gaussians.means)
    from_spec = generate(SceneSpec.from_json(house.spec.to_json()), 0, FAST)
    for key in ("means", "quats", "scales", "opacities", "sh", "labels"):
        assert torch.equal(getattr(from_spec.gaussians, key), getattr(house.gaussians, key)), key
    assert from_spec.spec == house.spec and from_spec.objects == house.objects
    assert not torch.equal(generate(PROMPT, 1, FAST).gaussians.means[:1000], house.gaussians.means[:1000])


def test_an_edited_plan_is_built_as_edited(house):
    """Close nothing, open a door leaf on every doorway: the leaves stand, the floor stays connected."""
    data = house.spec.to_dict()
    for d in data["building"]["doorways"]:
        d["door"] = "open"
    edited = generate(data, 0, FAST)
    leaves = [o for o in edited.objects if o["kind"] == "door" and o["size"][1] < 0.045]
    assert len(leaves) == len(data["building"]["doorways"])
    _, parts = ndimage.label(edited.free_space.free)
    assert parts == 1


def test_requested_objects_that_do_not_fit_name_the_room():
    with pytest.raises(ValueError, match="bathroom_0"):
        generate("a house with a bathroom with twelve wardrobes", 0, FAST)


def test_a_tiny_apartment_keeps_its_rooms_and_grows_until_they_fit():
    """Seed 0's "tiny apartment" (areas x 0.7) left no plan with every room its type's min width (the kitchen
    came out 2.1 m narrow), which was an error for 5 of 15 seeds: the drawn areas now shrink less, up to not at
    all. The program stays, and the resolved spec (polygons) rebuilds the building bit for bit."""
    cheap = ProceduralConfig(spacing=0.12)
    world = generate("a tiny apartment", 0, cheap)
    assert [r["type"] for r in world.plan["rooms"]] == ["hallway", "living_room", "kitchen", "bathroom", "bedroom"]
    again = generate(world.spec.to_dict(), 0, cheap)
    assert torch.equal(again.gaussians.means, world.gaussians.means) and again.spec.to_json() == world.spec.to_json()
