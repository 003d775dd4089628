"""Size words and ``room.scale`` against the accepted room sizes (`lyra_sim.worlds.procedural.generate`).

A room's seeded size is its kind's range times the scale ("a small corridor": 0.8); the result
must still be a room `RoomSpec` accepts (sides of at least 1.5 m), or the condition must be
refused naming the scale, not an internal ``size[1]`` the user never gave.
"""

import pytest

from lyra_sim.worlds.procedural import generate


@pytest.mark.parametrize("condition, seed", [
    ("a tiny corridor", 0),
    ("a small corridor", 7),
    ({"room": {"type": "corridor", "scale": 0.5}}, 0),
])
def test_an_accepted_room_scale_gives_a_valid_room(condition, seed):
    world = generate(condition, seed)
    assert min(world.spec.room.size[:2]) >= 1.5
