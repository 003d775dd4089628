"""The procedural world over time: motions from prompts and specs, poses, no intersections, a connected floor,
rigid per-time Gaussians, determinism, and one clear error for bad motions."""

import math

import numpy as np
import pytest
import torch

from lyra_sim.scene import quat_to_rotmat
from lyra_sim.worlds import procedural
from lyra_sim.worlds.dynamic_world import (
    LAYOUTS,
    NoRoomToMove,
    check_motion,
    frame_times,
    generate_dynamic,
    layout_seed,
    mover_boxes,
)
from lyra_sim.worlds.motion import MOTION_KINDS, MotionSpec
from lyra_sim.worlds.procedural import ProceduralConfig
from lyra_sim.worlds.prompt import parse_prompt

CFG = ProceduralConfig(spacing=0.06)

PROMPTS = {  # one per motion kind, each with its mover
    "walk": ("a kitchen with a person walking", "person_0"),
    "drive": ("a corridor with a rolling cart", "cart_0"),
    "swing": ("a bedroom with a door swinging", "door_0.leaf"),
    "slide": ("a bedroom with a drawer sliding", "dresser_0.drawer"),
    "spin": ("a living room with a spinning fan", "fan_0.rotor"),
    "bounce": ("a bouncing ball", "ball_0"),
}


def test_prompts_name_six_motion_kinds_and_report_unknown_verbs():
    assert len(MOTION_KINDS) >= 6
    for kind, (prompt, _) in PROMPTS.items():
        parsed = parse_prompt(prompt)
        assert [m.kind for m in parsed.spec.motions] == [kind], prompt
        assert parsed.unknown == [], prompt
    assert [(m.kind, m.object) for m in parse_prompt("a robot vacuum").spec.motions] == [("drive", "robot_vacuum_0")]
    assert [(m.kind, m.object) for m in parse_prompt("a turntable spinning on a cabinet").spec.motions] == [
        ("spin", "turntable_0")]
    assert [(m.kind, m.object) for m in parse_prompt("two rolling carts and a ball bouncing").spec.motions] == [
        ("drive", "cart_0"), ("drive", "cart_1"), ("bounce", "ball_0")]
    flying = parse_prompt("a kitchen with a person flying")
    assert flying.unknown == ["flying"] and flying.spec.motions == ()
    with pytest.raises(ValueError, match=r"'spinning' cannot apply to a table \(it moves: fan, turntable\)"):
        parse_prompt("a kitchen with a spinning table")
    # after its noun a motion word is that noun's: the error names the table, not the person after "and"
    with pytest.raises(ValueError, match=r"'spinning' cannot apply to a table \(it moves: fan, turntable\)"):
        parse_prompt("a kitchen with a table spinning and a person walking")
    assert [(m.kind, m.object) for m in parse_prompt("a kitchen with a table and spinning fan").spec.motions] == [
        ("spin", "fan_0")]  # before its noun, it waits for it
    assert [(m.kind, m.object) for m in parse_prompt("a warehouse with a forklift driving").spec.motions] == [
        ("drive", "forklift_0")]
    # a prompt about motion keeps the room's furniture; static prompts are unchanged
    assert parse_prompt("a kitchen with a person walking").spec.room.furnish is True
    assert parse_prompt("a kitchen with a person").spec.room.furnish is None


@pytest.mark.parametrize("kind", sorted(PROMPTS))
def test_each_motion_kind_moves_only_its_mover_rigidly(kind):
    prompt, label = PROMPTS[kind]
    times = frame_times(5, 4.0)
    d = generate_dynamic(prompt, 0, times, config=CFG)
    assert [m.label for m in d.movers] == [label]
    mover = d.movers[0]
    rest = d.world.gaussians
    moving = rest.labels == mover.label_index
    assert int(moving.sum()) > 50 and mover.label in rest.label_names
    assert np.allclose(d.poses[0, 0], np.eye(4), atol=1e-9)  # t = 0: as built
    moved_any = False
    for i, t in enumerate(times):
        g = d.gaussians_at(i)
        assert torch.equal(g.means[~moving], rest.means[~moving]) and torch.equal(g.sh, rest.sh)
        pose = torch.tensor(d.poses[i, 0], dtype=torch.float32)
        torch.testing.assert_close(g.means[moving], rest.means[moving] @ pose[:3, :3].T + pose[:3, 3])
        torch.testing.assert_close(quat_to_rotmat(g.quats[moving]), pose[:3, :3] @ quat_to_rotmat(rest.quats[moving]),
                                   atol=1e-5, rtol=0)
        # the ground-truth mesh moves the same way
        mesh = d.meshes_at(i)[mover.label_index]
        np.testing.assert_allclose(mesh.vertices, d.world.meshes[mover.label_index].vertices @ d.poses[i, 0, :3, :3].T
                                   + d.poses[i, 0, :3, 3])
        moved_any |= float((g.means[moving] - rest.means[moving]).norm(dim=-1).max()) > 0.02
    assert moved_any, f"{kind}: the mover did not move"
    spec = d.world.spec.motions[0]
    assert spec.object == mover.instance and (spec.path is not None) == (MOTION_KINDS[kind].style == "path")


@pytest.mark.parametrize("prompt", ["a kitchen with a person walking", "an office with a person walking and a robot vacuum",
                                    "a bedroom with a door swinging and a drawer sliding",
                                    "a living room with a spinning fan, a bouncing ball and a rolling ball",
                                    "a warehouse with a forklift driving and a person walking"])
def test_no_intersections_and_a_connected_floor_at_every_time(prompt):
    times = frame_times(9, 8.0)
    d = generate_dynamic(prompt, 1, times, config=CFG)
    poses_at = lambda ts: np.stack([np.stack([m.pose(t) for m in d.movers]) for t in ts])  # noqa: E731
    check_motion(d.world, times, poses_at(times))  # all movers together, at the scene's times
    # densely over several cycles; two route followers' positions recur only at the scene's times, so
    # then each is checked densely with the joints but without the other route followers
    dense = np.linspace(0.0, 12.0, 121)
    routes = [k for k, m in enumerate(d.movers) if m.motion.style == "path"]
    joints = [k for k in range(len(d.movers)) if k not in routes]
    for alone in ([[k] + joints for k in routes] if len(routes) > 1 else [None]):
        check_motion(d.world, dense, poses_at(dense), only=alone)
    lo, hi = (np.array(b) for b in d.world.room_bounds)
    for p in poses_at(dense[::20]):
        for box in mover_boxes(d.world, p):  # inside the walls, independently of check_motion's own test
            assert (box.corners >= lo[:2] - 1e-3).all() and (box.corners <= hi[:2] + 1e-3).all()
            assert lo[2] - 1e-3 <= box.z0 and box.z1 <= hi[2] + 1e-3


def test_check_motion_catches_an_intersection_and_a_cut_floor():
    d = generate_dynamic("a corridor with a rolling cart", 0, (0.0,), config=CFG)
    cart = d.movers[0]
    lo, hi = d.world.room_bounds
    # carry the cart into the wall
    into_wall = np.eye(4)
    into_wall[1, 3] = hi[1] - cart.rest[1, 3]
    with pytest.raises(ValueError, match=r"cart_0 \(drive\) at t = 0.000 s would leave the room"):
        check_motion(d.world, (0.0,), into_wall[None, None])
    # turn it across the corridor (2 m wide) and stretch it to 1.9 m: nothing gets past
    d2 = generate_dynamic({"room": {"type": "corridor", "size": [6.0, 2.0, 2.5]}, "objects": [{"kind": "cart"}],
                           "motions": [{"kind": "drive", "object": "cart"}]}, 0, (0.0,), config=CFG)
    across = np.eye(4)
    across[:3, :3] = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]) @ np.diag([1.9, 1.0, 1.0])
    pose = across @ np.linalg.inv(d2.movers[0].rest)
    with pytest.raises(ValueError, match=r"at t = 0.000 s the movers would cut the free floor in two"):
        check_motion(d2.world, (0.0,), pose[None, None])
    # a corridor too narrow for a cart to pass anyone: refused when planned, in every layout tried
    with pytest.raises(NoRoomToMove, match=r"cart_0: no route to drive on that keeps the free floor connected .*"
                                           rf"\(and in {LAYOUTS - 1} other layouts drawn from seed 0\)"):
        generate_dynamic({"room": {"type": "corridor", "size": [6.0, 1.6, 2.5]}, "objects": [{"kind": "cart"}],
                          "motions": [{"kind": "drive", "object": "cart"}]}, 0, (0.0,), config=CFG)


def test_motions_without_room_in_the_seeds_layout_get_another_layout():
    """Seed 5's kitchen has no route for a walker that leaves a way around it: the room is laid out again from a
    derived seed (the same one every time), and the scene says which. Seed 60's only routes are loops in a small
    free region, which smoothing once shrank to a point (a crash): now it is planned in its own layout."""
    prompt, times = "a kitchen with a person walking", frame_times(3, 8.0)
    with pytest.raises(NoRoomToMove, match="person_0: no route to walk on"):
        procedural.generate(prompt, seed=5, config=CFG, motion=True, times=times)
    a = generate_dynamic(prompt, 5, times, config=CFG)
    assert a.layout_seed in [layout_seed(5, k) for k in range(1, LAYOUTS)]
    assert layout_seed(5, 0) == 5 and len({layout_seed(5, k) for k in range(LAYOUTS)}) == LAYOUTS
    b = generate_dynamic(prompt, 5, times, config=CFG)
    assert b.layout_seed == a.layout_seed and torch.equal(a.gaussians_at(2).means, b.gaussians_at(2).means)
    check_motion(a.world, times, a.poses)  # what generate_dynamic promises, checked again
    assert [m.label for m in a.movers] == ["person_0"]
    assert generate_dynamic(prompt, 60, times, config=CFG).layout_seed == 60


def test_motions_without_room_in_any_layout_get_less_of_the_rooms_furniture():
    """A tiny office's cart (seed 4) finds no route in any of the `LAYOUTS` layouts with the office's usual desks
    and chairs: the seed's own layout is then built with less of them (`procedural.furnishing_levels`)."""
    prompt, times = "a tiny office with a rolling cart", frame_times(3, 8.0)
    with pytest.raises(NoRoomToMove, match="cart_0: no route to drive on"):
        procedural.generate(prompt, seed=4, config=CFG, motion=True, times=times)
    d = generate_dynamic(prompt, 4, times, config=CFG)
    # furnishing > 0 only once every layout with the full furniture failed
    assert d.layout_seed == 4 and 1 <= d.furnishing < procedural.furnishing_levels(prompt)
    full = procedural.generate(prompt, seed=4, config=CFG)  # at rest, with all of its usual furniture
    assert len(d.world.objects) < len(full.objects) and [m.label for m in d.movers] == ["cart_0"]
    check_motion(d.world, times, d.poses)
    with pytest.raises(ValueError, match=r"furnishing: expected 0\.\.0 for this scene, got 1"):
        procedural.generate("an office with a desk", seed=0, config=CFG, furnishing=1)  # named objects only


def test_same_prompt_and_seed_same_bytes_and_the_resolved_spec_rebuilds_it():
    times = frame_times(4, 8.0)
    a = generate_dynamic("a living room with a person walking and a door swinging", 3, times, config=CFG)
    b = generate_dynamic("a living room with a person walking and a door swinging", 3, times, config=CFG)
    for i in range(len(times)):
        ga, gb = a.gaussians_at(i), b.gaussians_at(i)
        assert torch.equal(ga.means, gb.means) and torch.equal(ga.quats, gb.quats) and torch.equal(ga.sh, gb.sh)
    np.testing.assert_array_equal(a.poses, b.poses)
    again = generate_dynamic(a.world.spec.to_dict(), 3, times, config=CFG)
    np.testing.assert_allclose(again.poses, a.poses, atol=1e-9)
    assert torch.equal(again.gaussians_at(2).means, a.gaussians_at(2).means)


def test_bad_motions_are_one_clear_error():
    room = {"type": "plain", "size": [4.0, 4.0, 2.6]}
    cart = [{"kind": "cart"}]
    cases = [
        ({"room": room, "objects": cart, "motions": [{"kind": "drive", "object": "cart_3"}]},
         r"motions\[0\]\.object: 'cart_3' is not an object of this scene \(objects: cart_0"),
        ({"room": room, "objects": cart, "motions": [{"kind": "drive", "object": "person"}]},
         r"'person' is not an object of this scene"),
        ({"room": room, "objects": cart, "motions": [{"kind": "spin", "object": "cart_0"}]},
         r"a cart cannot spin; spin moves: fan, turntable"),
        ({"room": room, "objects": cart, "motions": [{"kind": "drive", "object": "cart_0",
                                                      "path": [[0, 0], [9, 0], [9, 1]]}]},
         r"motions\[0\]\.path: at \(.*\) cart_0 would leave the room"),
        ({"room": room, "objects": [{"kind": "ball"}], "motions": [{"kind": "bounce", "object": "ball_0",
                                                                    "amplitude": 2.9}]},
         r"ball_0: bouncing 2.90 m high it would leave the room through the 2.60 m ceiling"),
        ({"room": room, "objects": cart, "motions": [{"kind": "drive", "object": "cart_0"},
                                                     {"kind": "drive", "object": "cart"}]},
         r"cart_0 already moves \(motions\[0\]\); one motion per object"),
        ({"room": room, "objects": cart, "motions": [{"kind": "teleport", "object": "cart_0"}]},
         r"motions\[0\]\.kind: unknown motion 'teleport'; accepted: bounce, drive, slide, spin, swing, walk"),
        ({"room": room, "objects": cart}, r"the scene has nothing that moves"),
    ]
    for spec, message in cases:
        with pytest.raises(ValueError, match=message):
            generate_dynamic(spec, 0, frame_times(3, 8.0), config=CFG)
    with pytest.raises(ValueError, match=r"frames: expected 1\.\.1024 times, got 0"):
        frame_times(0, 8.0)
    with pytest.raises(ValueError, match="dynamic scenes are single rooms"):
        generate_dynamic("a house with a kitchen and a person walking", 0, (0.0,), config=CFG)


def test_motion_spec_validation_and_round_trip():
    m = MotionSpec("swing", "door_0", period=3.0, amplitude=60)
    assert MotionSpec.from_dict(m.to_dict()) == m
    assert m.resolved().amplitude == 60.0 and MotionSpec("swing", "door").resolved().amplitude == 80.0
    with pytest.raises(ValueError, match=r"speed: a swing motion has a period, not a speed"):
        MotionSpec("swing", "door", speed=1.0)
    with pytest.raises(ValueError, match=r"amplitude: expected a number in \[5, 110\], got 200"):
        MotionSpec("swing", "door", amplitude=200)
    with pytest.raises(ValueError, match=r"path: only walk and drive motions follow a route"):
        MotionSpec("bounce", "ball", path=((0, 0), (1, 0)))
    with pytest.raises(ValueError, match=r"unknown key 'sped'"):
        MotionSpec.from_dict({"kind": "drive", "object": "cart", "sped": 1})


def test_rolling_ball_turns_as_it_goes():
    d = generate_dynamic("a rolling ball", 0, frame_times(3, 4.0), config=CFG)
    ball = d.movers[0]
    r = min(ball.size) / 2
    pose = d.poses[2, 0]
    travelled = ball.motion.speed * 0.5
    # its center moved by the distance rolled (on a straight stretch) and it turned by distance / radius
    angle = math.acos(np.clip((np.trace(pose[:3, :3]) - 1) / 2, -1, 1))
    assert angle == pytest.approx(travelled / r, rel=0.35)
