"""Size words and ``room.scale`` against the accepted room sizes (`lyra_sim.worlds.procedural.generate`).

A room's seeded size is its kind's range times the scale ("a small corridor": 0.8); the result
must still be a room `RoomSpec` accepts (sides of at least 1.5 m), or the condition must be
refused naming the scale, not an internal ``size[1]`` the user never gave.
"""

import pytest

from lyra_sim.worlds.procedural import generate


@pytest.mark.xfail(strict=True, raises=ValueError, reason=(
    "procedural._resolve_room multiplies the seeded size by room.scale and builds a RoomSpec without "
    "clamping: a corridor (1.8-2.4 m wide) at scale 0.8 or 0.7 comes out under RoomSpec's 1.5 m minimum, "
    "so accepted prompts fail for some seeds ('a tiny corridor': 122 of 200 seeds, 'a small corridor': 26 of "
    "200; spec scale 0.5: always) with 'size[1]: 1.34 is outside the accepted range [1.5, 40.0]'"))
@pytest.mark.parametrize("condition, seed", [
    ("a tiny corridor", 0),
    ("a small corridor", 7),
    ({"room": {"type": "corridor", "scale": 0.5}}, 0),
])
def test_an_accepted_room_scale_gives_a_valid_room(condition, seed):
    world = generate(condition, seed)
    assert min(world.spec.room.size[:2]) >= 1.5
