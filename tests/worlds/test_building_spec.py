"""Building specs and prompts: programs, caps checked before any work, plan validation, JSON round trips."""

import json

import pytest

from lyra_sim.worlds.building_spec import (
    MAX_BUILDING_AREA,
    MAX_ROOMS,
    BuildingRoomSpec,
    BuildingSpec,
    DoorwaySpec,
    EntranceSpec,
    WindowSpec,
)
from lyra_sim.worlds.prompt import parse_prompt
from lyra_sim.worlds.spec import SceneSpec

TWO_ROOMS = (
    BuildingRoomSpec("kitchen", name="k", polygon=((0, 0), (4, 0), (4, 3), (0, 3))),
    BuildingRoomSpec("bedroom", name="b", polygon=((4, 0), (8, 0), (8, 3), (4, 3))),
)
DOOR = DoorwaySpec(("k", "b"), (4.0, 1.5), 0.9)


def _program(prompt):
    b = parse_prompt(prompt).spec.building
    return [(r.type, r.count) for r in b.rooms], b


@pytest.mark.parametrize("prompt, program", [
    ("a house with a kitchen, a living room, a bathroom and two bedrooms",
     [("kitchen", 1), ("living_room", 1), ("bathroom", 1), ("bedroom", 2)]),
    ("an office floor with four offices, a meeting room and a corridor",
     [("office", 4), ("meeting_room", 1), ("corridor", 1)]),
    ("an office floor with 4 offices, a meeting room and a corridor",
     [("office", 4), ("meeting_room", 1), ("corridor", 1)]),
    ("a two-bedroom apartment", [("hallway", 1), ("living_room", 1), ("kitchen", 1), ("bathroom", 1), ("bedroom", 2)]),
    ("a 2 bedroom flat", [("hallway", 1), ("living_room", 1), ("kitchen", 1), ("bathroom", 1), ("bedroom", 2)]),
    ("a house with a dining room and a hallway", [("dining_room", 1), ("hallway", 1)]),
    ("a 5-room house", [("living_room", 1), ("kitchen", 1), ("bathroom", 1), ("bedroom", 1), ("hallway", 1)]),
])
def test_programs_from_prompts(prompt, program):
    assert _program(prompt)[0] == program


def test_a_house_without_room_names_gets_the_default_program():
    program, b = _program("a house")
    assert program == [(t, 1) for t in ("hallway", "living_room", "kitchen", "dining_room", "bathroom", "bedroom",
                                        "bedroom")]
    assert _program("a three-bedroom house")[0][-2:] == [("bedroom", 3), ("bathroom", 1)]  # a second bathroom


def test_objects_surfaces_and_areas_go_where_the_prompt_puts_them():
    r = parse_prompt("a 120 m2 house with a kitchen with a red fridge, a blue bedroom with two beds and wooden floors")
    kitchen, bedroom = r.spec.building.rooms
    assert [(o.kind, o.count, o.color) for o in kitchen.objects] == [("fridge", 1, "red")]
    assert [(o.kind, o.count) for o in bedroom.objects] == [("bed", 2)]
    assert bedroom.walls.color == "blue" and bedroom.floor.material == "wood"
    assert r.spec.building.area == 120 and r.unknown == []
    assert parse_prompt("a 900 sq ft flat").spec.building.area == pytest.approx(900 * 0.09290304, abs=0.01)
    sofa = parse_prompt("an apartment with a sofa").spec.building
    assert [o.kind for o in sofa.rooms[1].objects] == ["sofa"] and sofa.rooms[1].type == "living_room"


def test_single_room_words_keep_their_meaning():
    assert parse_prompt("a dining room").spec.room.type == "kitchen"
    assert parse_prompt("a hallway").spec.room.type == "corridor"
    assert parse_prompt("a house plant and a home office").spec.building is None
    assert parse_prompt("a bathroom with a toilet").spec.room.type == "bathroom"


@pytest.mark.parametrize("prompt, message", [
    ("a house with 30 rooms", f"30 rooms requested; at most {MAX_ROOMS} rooms per building"),
    ("a 30-room house", f"at most {MAX_ROOMS} rooms"),
    ("a house with twelve bedrooms and a kitchen", "13 rooms requested"),
    ("a 2 m^2 house with a bathroom and a kitchen", "2 m² is too small for these rooms: they need at least 8 m²"),
    ("a 2 m2 house with a bathroom and a kitchen", "bathroom 3 m², kitchen 5 m²"),
    ("a 400 m2 house", f"at most {MAX_BUILDING_AREA:g} m² per building"),
    ("two houses", "one building per scene"),
    ("a house and an apartment", "names two buildings"),
])
def test_impossible_buildings_are_one_clear_error(prompt, message):
    with pytest.raises(ValueError, match=message):
        parse_prompt(prompt)


def test_spec_round_trips_through_json():
    spec = SceneSpec(building=BuildingSpec("house", TWO_ROOMS, height=2.6, doorways=(DOOR,),
                                           entrance=EntranceSpec("k", (0.0, 1.5)),
                                           windows=(WindowSpec("b", (6.0, 3.0)),)))
    again = SceneSpec.from_json(json.dumps(spec.to_dict()))
    assert again == spec and again.to_dict() == spec.to_dict()
    assert SceneSpec().to_dict().keys() == {"version", "room", "objects"}  # single rooms: as before


@pytest.mark.parametrize("change, message", [
    (dict(rooms=(TWO_ROOMS[0], BuildingRoomSpec("bedroom"))), "give every room a polygon, or none"),
    (dict(rooms=(TWO_ROOMS[0], BuildingRoomSpec("bedroom", name="b", polygon=((3, 0), (8, 0), (8, 3), (3, 3))))),
     "overlap"),
    (dict(doorways=(DoorwaySpec(("k", "b"), (3.0, 1.5)),)), "not on the wall between k and b"),
    (dict(doorways=(DoorwaySpec(("k", "b"), (4.0, 0.3)),)), "of wall on both sides"),
    (dict(doorways=(DoorwaySpec(("k", "x"), (4.0, 1.5)),)), "unknown room 'x'"),
    (dict(doorways=(DoorwaySpec(("k", "b"), (4.0, 1.5), door="closed"),)), "b cannot be reached from k"),
    (dict(doorways=(DOOR, DoorwaySpec(("k", "b"), (4.0, 2.0)))), "overlaps doorways"),
    (dict(windows=(WindowSpec("k", (4.0, 1.5)),)), "not on an exterior wall of k"),
    (dict(windows=(WindowSpec("k", (2.0, 3.0), sill=1.2, height=1.5),)), "within 0.1 m of the"),
    (dict(entrance=EntranceSpec("b", (8.0, 1.5)), windows=(WindowSpec("b", (8.0, 1.8)),)), "overlaps entrance"),
    (dict(area=50.0), "the room polygons fix the area"),
    (dict(door_height=2.5), "less than 0.3 m of wall above"),
])
def test_plan_edits_that_break_the_plan_are_errors(change, message):
    base = dict(type="house", rooms=TWO_ROOMS, height=2.6, doorways=(DOOR,))
    with pytest.raises(ValueError, match=message):
        BuildingSpec(**{**base, **change})


def test_dict_errors_name_the_key():
    with pytest.raises(ValueError, match=r"building.rooms\[0\]: unknown key 'colour'"):
        SceneSpec.from_dict({"building": {"rooms": [{"type": "kitchen", "colour": "red"}]}})
    with pytest.raises(ValueError, match=r"building.doorways\[0\].door: unknown door state 'ajar'"):
        SceneSpec.from_dict({"building": {**SceneSpec(building=BuildingSpec("house", TWO_ROOMS)).to_dict()["building"],
                                          "doorways": [{"rooms": ["k", "b"], "center": [4, 1.5], "door": "ajar"}]}})
    with pytest.raises(ValueError, match="leave room and objects out"):
        SceneSpec.from_dict({"room": {"type": "kitchen"}, "building": {}})
