"""The procedural generator end to end: geometry, layout, Gaussians, labels, determinism, errors."""

import json
import math

import numpy as np
import pytest
import torch
from scipy import ndimage

from lyra_sim.scene import quat_to_rotmat
from lyra_sim.worlds.objects import OBJECT_KINDS
from lyra_sim.worlds.procedural import ProceduralConfig, generate

ROOM_PROMPTS = ["kitchen", "living room", "bedroom", "office", "warehouse", "corridor", "a garage room"]
FAST = ProceduralConfig(spacing=0.04)  # same geometry and layout, a quarter of the Gaussians


@pytest.fixture(scope="module")
def scenes():
    return {p: generate(p, 0) for p in ROOM_PROMPTS}


BATHROOM_KINDS = ("toilet", "sink", "bathtub", "shower", "mirror", "coat_rack")
"""Kinds added with buildings: a second room holds them (one room takes at most MAX_OBJECTS)."""


MOVING_KINDS = ("person", "robot_vacuum", "ball", "fan", "turntable")
"""Kinds added with dynamic scenes: a third room holds them (with a cabinet for the turntable)."""


@pytest.fixture(scope="module")
def every_kind():
    """One of every object kind in three rooms (supports for the stacked ones are in the lists)."""
    first = [k for k in OBJECT_KINDS if k not in BATHROOM_KINDS + MOVING_KINDS]
    spec = {"room": {"type": "warehouse", "size": [16.0, 12.0, 4.0]}, "objects": [{"kind": k} for k in first]}
    bath = {"room": {"type": "bathroom", "size": [4.0, 3.0, 2.6]}, "objects": [{"kind": k} for k in BATHROOM_KINDS]}
    moving = {"room": {"type": "plain", "size": [5.0, 4.0, 2.6]},
              "objects": [{"kind": k} for k in MOVING_KINDS + ("cabinet",)]}
    return [generate(spec, 1, FAST), generate(bath, 1, FAST), generate(moving, 1, FAST)]


def all_scenes(scenes, every_kind):
    return list(scenes.values()) + list(every_kind)


# ----------------------------------------------------------------------------- helpers

def _yaw_frame_box(obj, vertices):
    """Footprint (center xy, half extents, yaw) and z range of a mesh in its object's yaw frame."""
    yaw = math.radians(obj["yaw_deg"])
    c, s = math.cos(yaw), math.sin(yaw)
    local = vertices[:, :2] @ np.array([[c, -s], [s, c]])  # world xy → yaw frame
    lo, hi = local.min(0), local.max(0)
    center = np.array([[c, -s], [s, c]]) @ ((lo + hi) / 2)
    return center, (hi - lo) / 2, yaw, vertices[:, 2].min(), vertices[:, 2].max()


def _corners(center, half, yaw):
    c, s = math.cos(yaw), math.sin(yaw)
    local = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * half
    return local @ np.array([[c, s], [-s, c]]) + center


def _separated(a, b, tol=1e-6):
    for poly in (a, b):
        for e in np.roll(poly, -1, 0) - poly:
            axis = np.array([-e[1], e[0]]) / np.hypot(*e)
            pa, pb = a @ axis, b @ axis
            if pa.max() <= pb.min() + tol or pb.max() <= pa.min() + tol:
                return True
    return False


def _distance_to_mesh(points, vertices, faces, eps=1e-6):
    """Distance from each point to the nearest triangle it projects into (inf if none): points on faces → ~0."""
    tri = vertices[faces]
    a, e1, e2 = tri[:, 0], tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    n = np.cross(e1, e2)
    area2 = np.linalg.norm(n, axis=1)
    ok = area2 > 1e-12
    a, e1, e2, n = a[ok], e1[ok], e2[ok], n[ok] / area2[ok, None]
    d11, d12, d22 = (e1 * e1).sum(1), (e1 * e2).sum(1), (e2 * e2).sum(1)
    den = d11 * d22 - d12 * d12
    best = np.full(len(points), np.inf)
    for start in range(0, len(points), 256):
        p = points[start:start + 256, None, :] - a[None]
        dist = np.abs((p * n[None]).sum(-1))
        p1, p2 = (p * e1[None]).sum(-1), (p * e2[None]).sum(-1)
        u = (d22 * p1 - d12 * p2) / den
        v = (d11 * p2 - d12 * p1) / den
        inside = (u >= -eps) & (v >= -eps) & (u + v <= 1 + eps)
        best[start:start + 256] = np.where(inside, dist, np.inf).min(1)
    return best


# ----------------------------------------------------------------------------- tests

def test_room_types_generate_with_sensible_sizes(scenes):
    size = {p: scenes[p].spec.room.size for p in ROOM_PROMPTS}
    assert scenes["a garage room"].spec.room.type == "plain" and scenes["a garage room"].unknown == ["garage"]
    wh = size["warehouse"]
    assert wh[0] * wh[1] > 3 * max(s[0] * s[1] for p, s in size.items() if p != "warehouse")
    corridor = size["corridor"]
    assert corridor[0] / corridor[1] > 3 and corridor[1] < 2.6
    for p, s in size.items():
        assert 2.4 <= s[2] <= 7, p
    for scene in scenes.values():
        assert scene.objects, "a room-only prompt gets default furniture"
    assert generate("kitchen", 5).spec.room.size != size["kitchen"]  # varied by seed


def test_gaussian_counts(scenes):  # generation speed: benchmarks/cpu_speed.py (the bundle row)
    for p in ("kitchen", "living room", "bedroom", "office", "corridor", "a garage room"):
        assert 150_000 <= len(scenes[p].gaussians) <= 600_000, (p, len(scenes[p].gaussians))
    assert len(scenes["warehouse"].gaussians) <= ProceduralConfig().max_gaussians


def test_meshes_are_watertight_and_labeled(scenes, every_kind):
    for scene in all_scenes(scenes, every_kind):
        names = list(scene.gaussians.label_names)
        assert names[:3] == ["floor", "wall", "ceiling"]
        assert names[3:] == [o["name"] for o in scene.objects]
        assert [m.label for m in scene.meshes] == names
        for o in scene.objects:
            assert names[o["label"]] == o["name"] and scene.meshes[o["label"]].kind == o["kind"]
        for m in scene.meshes:
            tm = m.to_trimesh()
            assert tm.is_watertight and tm.is_winding_consistent, m.label
        present = torch.unique(scene.gaussians.labels).tolist()
        assert present == list(range(len(names))), "every label has Gaussians, and only known labels"


def test_all_kinds_placed(every_kind):
    kinds = {o["kind"] for scene in every_kind for o in scene.objects}
    assert kinds == set(OBJECT_KINDS)


def test_objects_inside_room_and_not_intersecting(scenes, every_kind):
    for scene in all_scenes(scenes, every_kind):
        lo, hi = np.array(scene.room_bounds[0]), np.array(scene.room_bounds[1])
        boxes = {}
        for o in scene.objects:
            v = scene.meshes[o["label"]].vertices
            assert (v >= lo - 1e-6).all() and (v <= hi + 1e-6).all(), o["name"]
            boxes[o["name"]] = _yaw_frame_box(o, v)
        names = list(boxes)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                ca, ha, ya, za0, za1 = boxes[a]
                cb, hb, yb, zb0, zb1 = boxes[b]
                if za0 >= zb1 - 1e-6 or zb0 >= za1 - 1e-6:
                    continue  # stacked or at different heights
                assert _separated(_corners(ca, ha, ya), _corners(cb, hb, yb)), f"{a} intersects {b}"


def test_stacked_objects_rest_on_their_support(scenes, every_kind):
    stacked = 0
    for scene in all_scenes(scenes, every_kind):
        by_name = {o["name"]: o for o in scene.objects}
        for o in scene.objects:
            kind = OBJECT_KINDS[o["kind"]]
            if kind.needs_support:
                assert o["on"] is not None, o["name"]
            if o["on"] is None:
                continue
            stacked += 1
            s = by_name[o["on"]]
            assert OBJECT_KINDS[s["kind"]].support
            assert o["bbox"][0][2] == pytest.approx(s["bbox"][1][2], abs=1e-6)
            assert all(s["bbox"][0][i] - 1e-6 <= o["bbox"][0][i] and o["bbox"][1][i] <= s["bbox"][1][i] + 1e-6
                       for i in (0, 1)) or abs(s["yaw_deg"] % 90) > 1e-6
    assert stacked >= 3


def test_wall_mounted_objects_sit_on_walls(scenes):
    for scene in scenes.values():
        lo, hi = np.array(scene.room_bounds[0]), np.array(scene.room_bounds[1])
        for o in scene.objects:
            if OBJECT_KINDS[o["kind"]].placement != "wall_mount":
                continue
            blo, bhi = np.array(o["bbox"][0]), np.array(o["bbox"][1])
            gap = min(blo[0] - lo[0], hi[0] - bhi[0], blo[1] - lo[1], hi[1] - bhi[1])
            assert 0 <= gap < 1e-3, o["name"]


def test_free_floor_connected_and_clear(scenes, every_kind):
    for scene in all_scenes(scenes, every_kind):
        fs = scene.free_space
        _, n = ndimage.label(fs.free)
        assert n == 1, "free floor must be one connected region"
        centers = fs.cell_centers()[fs.free]
        lo, hi = np.array(scene.room_bounds[0]), np.array(scene.room_bounds[1])
        wall = np.minimum(centers - lo[:2], hi[:2] - centers).min(1)
        assert (wall >= fs.agent_radius - 1e-9).all()
        for o in scene.objects:
            if OBJECT_KINDS[o["kind"]].walkable or o["bbox"][0][2] > 1.5:
                continue
            c, h, yaw, _, _ = _yaw_frame_box(o, scene.meshes[o["label"]].vertices)
            cs, sn = math.cos(yaw), math.sin(yaw)
            local = np.abs((centers - c) @ np.array([[cs, -sn], [sn, cs]]))
            outside = np.maximum(local - h, 0)
            dist = np.hypot(*outside.T)
            assert (dist >= fs.agent_radius - fs.resolution).all(), o["name"]


def test_gaussians_lie_on_their_meshes(scenes, every_kind):
    rng = np.random.default_rng(0)
    for scene in (scenes["living room"], *every_kind):
        g = scene.gaussians
        labels = g.labels.numpy()
        means = g.means.numpy().astype(np.float64)
        for idx, mesh in enumerate(scene.meshes):
            sel = np.nonzero(labels == idx)[0]
            sel = rng.choice(sel, size=min(200, len(sel)), replace=False)
            d = _distance_to_mesh(means[sel], mesh.vertices, mesh.faces)
            assert d.max() < 1e-4, f"{mesh.label}: Gaussian {d.max():.4f} m off its mesh"


def test_gaussians_are_thin_surface_aligned_and_opaque(scenes):
    g = scenes["bedroom"].gaussians
    assert (g.opacities >= 0.95).all()
    assert (g.scales[:, 2] <= 0.2501 * g.scales[:, :2].min(1).values).all()
    spacing = scenes["bedroom"].spacing
    assert g.scales[:, :2].max() <= 0.75 * spacing + 1e-6
    normal = quat_to_rotmat(g.quats)[:, :, 2]  # local z in world
    floor = g.labels == 0
    assert torch.allclose(normal[floor], torch.tensor([0.0, 0.0, 1.0]), atol=1e-5)
    ceiling = g.labels == 2
    assert torch.allclose(normal[ceiling], torch.tensor([0.0, 0.0, -1.0]), atol=1e-5)
    wall = g.labels == 1
    assert normal[wall][:, 2].abs().max() < 1e-5


def test_appearance_is_textured_and_lit(scenes):
    g = scenes["living room"].gaussians
    rgb = g.rgb
    floor = rgb[g.labels == 0]
    assert floor.std(0).mean() > 0.03, "floor planks are not a flat color"
    wall = rgb[g.labels == 1]
    assert 0.002 < wall.std(0).mean(), "walls carry paint texture and light"


def test_no_holes_at_half_a_meter(scenes):
    render = pytest.importorskip("lyra_sim.render")
    from lyra_sim.cameras import look_at_cameras

    scene = scenes["bedroom"]
    lo, hi = scene.room_bounds
    # stand 0.5 m from every wall, looking at it
    eyes, targets = [], []
    for axis, sign in ((0, 1), (0, -1), (1, 1), (1, -1)):
        eye = [0.0, 0.0, 1.3]
        eye[axis] = sign * (hi[axis] - 0.5)
        tgt = list(eye)
        tgt[axis] = sign * hi[axis]
        eyes.append(eye)
        targets.append(tgt)
    cams = look_at_cameras(torch.tensor(eyes), torch.tensor(targets), 64, 48, fov_y_deg=70)
    out = render.render(scene.gaussians, cams, mode="RGB")
    assert out.alpha.min() > 0.98


def test_deterministic():
    a, b = generate("an office with two red office chairs", 3, FAST), generate(
        "an office with two red office chairs", 3, FAST)
    for field in ("means", "quats", "scales", "opacities", "sh", "labels"):
        assert torch.equal(getattr(a.gaussians, field), getattr(b.gaussians, field)), field
    assert a.spec.to_json() == b.spec.to_json() and a.objects == b.objects
    assert all(np.array_equal(m.vertices, n.vertices) and np.array_equal(m.faces, n.faces)
               for m, n in zip(a.meshes, b.meshes))
    assert np.array_equal(a.free_space.free, b.free_space.free)
    c = generate("an office with two red office chairs", 4, FAST)
    assert c.spec.to_json() != a.spec.to_json()


def test_resolved_spec_regenerates_the_scene():
    a = generate("a bedroom with a tv and a plant", 11, FAST)
    assert all(o.position is not None and o.size is not None and o.count == 1 for o in a.spec.objects)
    b = generate(a.spec.to_dict(), 11, FAST)
    assert torch.equal(a.gaussians.means, b.gaussians.means) and torch.equal(a.gaussians.sh, b.gaussians.sh)
    assert b.spec.to_json() == a.spec.to_json()


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("prompt", ROOM_PROMPTS)
def test_resolved_spec_from_json_regenerates_every_room_type(prompt, seed):
    # The manifest stores the resolved spec as JSON; `--spec` feeds it back. Seed 0's bedroom
    # has a rug under its bed (fixed poses were placed in spec order, the bed before the rug:
    # "rug_0 overlaps bed_0"); seed 1's warehouse has pallets whose yaw did not survive
    # radians(degrees(yaw)) bit for bit.
    a = generate(prompt, seed, FAST)
    b = generate(json.loads(a.spec.to_json()), seed, FAST)
    for field in ("means", "quats", "scales", "opacities", "sh", "labels"):
        assert torch.equal(getattr(a.gaussians, field), getattr(b.gaussians, field)), field
    assert b.spec.to_json() == a.spec.to_json() and b.objects == a.objects


def test_fixed_furniture_stands_on_a_fixed_rug_listed_after_it():
    spec = {"room": {"type": "plain", "size": [5.0, 4.0, 2.6]},
            "objects": [{"kind": "bed", "size": [1.6, 2.0, 0.9], "position": [0.0, 0.0], "yaw_deg": 0.0},
                        {"kind": "rug", "size": [2.4, 1.6, 0.013], "position": [0.0, 0.0], "yaw_deg": 90.0}]}
    s = generate(spec, 0, FAST)
    bed, rug = (next(o for o in s.objects if o["kind"] == k) for k in ("bed", "rug"))
    assert rug["position"][2] == 0.0 and bed["position"][2] == pytest.approx(0.013)


def test_prompt_modifiers_reach_the_objects():
    s = generate("a living room with a red sofa and two wooden chairs", 0, FAST)
    by_kind = {}
    for o in s.objects:
        by_kind.setdefault(o["kind"], []).append(o)
    assert len(by_kind["sofa"]) == 1 and by_kind["sofa"][0]["color_name"] == "red"
    assert len(by_kind["chair"]) == 2 and {o["material"] for o in by_kind["chair"]} == {"wood"}
    assert set(by_kind) == {"sofa", "chair"}  # named objects replace the room's defaults


def test_supports_are_added_for_stacked_objects():
    s = generate("an office with three monitors", 2, FAST)
    monitors = [o for o in s.objects if o["kind"] == "monitor"]
    assert len(monitors) == 3 and all(o["on"] and o["on"].startswith("desk_") for o in monitors)


def test_a_small_room_furnished_by_default_gets_lesser_furniture():
    """Half of "a small bathroom"s (bathtub 1.7 m, room 2.4 x 1.6 m) and a third of "a small meeting room"s (eight
    office chairs) once failed: a room furnished by default now falls back to less of its default furniture
    (`procedural.furnishing_options`), and what it got is in its resolved spec, which rebuilds it. Explicitly
    requested objects are never dropped, and a room whose first layout works is unchanged."""
    s = generate("a small bathroom", 0, FAST)
    kinds = sorted(o["kind"] for o in s.objects)
    assert kinds == ["door", "shower", "sink", "toilet"]  # no bathtub: a shower fits
    again = generate(s.spec.to_dict(), 0, FAST)
    assert torch.equal(again.gaussians.means, s.gaussians.means) and again.spec.to_json() == s.spec.to_json()
    chairs = [o for o in generate("a small meeting room", 5, FAST).objects if o["kind"] == "office_chair"]
    assert len(chairs) == 6  # the 6-8 drawn did not fit: the least count
    roomy = generate("a bathroom", 0, FAST)  # its first layout works: the bathtub or shower and the rest
    assert {"toilet", "sink"} <= {o["kind"] for o in roomy.objects}
    with pytest.raises(ValueError, match=r"could not place sofa_0"):  # asked for: not dropped
        generate("a tiny bathroom with a bathtub and two sofas", 0, FAST)


def test_unplaceable_objects_raise_naming_them():
    spec = {"room": {"type": "plain", "size": [3.0, 3.0, 2.6]}, "objects": [{"kind": "wardrobe", "count": 12}]}
    with pytest.raises(ValueError, match=r"could not place wardrobe_\d+"):
        generate(spec, 0, FAST)


def test_invalid_fixed_positions_raise():
    spec = {"room": {"type": "plain", "size": [5.0, 4.0, 2.6]},
            "objects": [{"kind": "table", "position": [0, 0]}, {"kind": "table", "position": [0.2, 0]}]}
    with pytest.raises(ValueError, match="table_1: the given position .* overlaps table_0"):
        generate(spec, 0, FAST)
    spec = {"room": {"type": "plain", "size": [5.0, 4.0, 2.6]}, "objects": [{"kind": "table", "position": [9, 0]}]}
    with pytest.raises(ValueError, match="outside the room"):
        generate(spec, 0, FAST)


def test_bad_conditions_raise():
    with pytest.raises(ValueError, match="prompt"):
        generate("", 0)
    with pytest.raises(ValueError, match="seed"):
        generate("kitchen", -1)
    with pytest.raises(ValueError, match="not something to rest on"):
        generate({"objects": [{"kind": "lamp", "on": "chair"}]}, 0)


def test_stacked_object_too_big_for_its_support_raises():
    spec = {"room": {"type": "office"}, "objects": [{"kind": "tv", "size": [1.5, 0.2, 0.8], "on": "nightstand"}]}
    with pytest.raises(ValueError, match=r"could not place tv_0 .* on a nightstand .* does not fit"):
        generate(spec, 0, FAST)


def _forward(o):
    yaw = math.radians(o["yaw_deg"])
    return np.array([-math.sin(yaw), math.cos(yaw)])


def test_chairs_face_their_table_and_wall_furniture_backs_onto_walls(scenes):
    kitchen = scenes["kitchen"]
    tables = [o for o in kitchen.objects if o["kind"] == "table"]
    chairs = [o for o in kitchen.objects if o["kind"] == "chair"]
    assert tables and len(chairs) >= 2
    for c in chairs:
        t = min(tables, key=lambda t: np.hypot(*(np.array(t["position"][:2]) - c["position"][:2])))
        to_table = np.array(t["position"][:2]) - c["position"][:2]
        assert np.linalg.norm(to_table) < 1.2, f"{c['name']} is not at the table"
        assert _forward(c) @ to_table / np.linalg.norm(to_table) > 0.5, f"{c['name']} does not face the table"
    for scene in scenes.values():
        lo, hi = np.array(scene.room_bounds[0]), np.array(scene.room_bounds[1])
        for o in scene.objects:
            if o["kind"] not in ("bed", "bookcase", "fridge", "counter", "tv_stand", "wardrobe"):
                continue
            back = np.array(o["position"][:2]) - _forward(o) * o["size"][1] / 2
            gap = min(back[0] - lo[0], hi[0] - back[0], back[1] - lo[1], hi[1] - back[1])
            assert gap < 0.03, f"{o['name']} does not stand against a wall"
