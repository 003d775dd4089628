"""Prompt parsing: counts, modifiers binding, synonyms, room types, unknown words, errors."""

import pytest

from lyra_sim.worlds.prompt import parse_prompt
from lyra_sim.worlds.rooms import ROOM_TYPES
from lyra_sim.worlds.spec import MAX_OBJECTS, MAX_PER_KIND


def objs(prompt):
    return [(o.kind, o.count, o.color, o.material) for o in parse_prompt(prompt).spec.objects]


def test_counts_in_words_and_digits():
    assert objs("two chairs and 3 crates") == [("chair", 2, None, None), ("crate", 3, None, None)]
    assert objs("a dozen boxes") == [("box", 12, None, None)]
    assert objs("a couple of stools") == [("stool", 2, None, None)]
    assert objs("a table") == [("table", 1, None, None)]


def test_plural_without_count_is_seeded_later():
    assert objs("chairs and several barrels") == [("chair", None, None, None), ("barrel", None, None, None)]


def test_colors_and_materials_bind_to_the_next_object():
    assert objs("a red sofa and two wooden chairs") == [("sofa", 1, "red", None), ("chair", 2, None, "wood")]
    assert objs("a metal table with a blue marble counter") == [
        ("table", 1, None, "metal"),
        ("counter", 1, "blue", "marble"),
    ]
    assert objs("a light blue armchair") == [("armchair", 1, "light blue", None)]
    # a wood tone sets both the color and the material
    assert objs("an oak desk") == [("desk", 1, "oak", "wood")]


@pytest.mark.parametrize(
    "phrase, kind",
    [("couch", "sofa"), ("shelves", "shelf"), ("plants", "plant"), ("boxes", "box"), ("trash can", "trash_can"),
     ("bin", "trash_can"), ("tv", "tv"), ("television", "tv"), ("bookshelves", "bookcase"), ("refrigerator", "fridge"),
     ("coffee tables", "coffee_table"), ("benches", "bench"), ("forklift", "forklift"), ("office chairs", "office_chair")],
)
def test_synonyms_and_plurals(phrase, kind):
    assert [o.kind for o in parse_prompt(phrase).spec.objects] == [kind]


@pytest.mark.parametrize(
    "prompt, room",
    [("a kitchen", "kitchen"), ("a cozy living room", "living_room"), ("bedroom", "bedroom"), ("an office", "office"),
     ("a big warehouse", "warehouse"), ("a long hallway", "corridor"), ("a corridor", "corridor"), ("a room", "plain")],
)
def test_room_types(prompt, room):
    assert parse_prompt(prompt).spec.room.type == room


def test_room_inferred_from_objects():
    assert parse_prompt("a bed and a nightstand").spec.room.type == "bedroom"
    assert parse_prompt("two chairs").spec.room.type == "plain"


def test_every_room_type_is_reachable_from_a_prompt():
    from lyra_sim.worlds.rooms import ROOM_KINDS

    for name, kind in ROOM_KINDS.items():
        word = (kind.aliases or (name,))[0]
        assert parse_prompt(word).spec.room.type == name
    assert set(ROOM_TYPES) >= {"kitchen", "living_room", "bedroom", "office", "warehouse", "corridor", "plain"}


def test_surfaces_and_room_scale():
    spec = parse_prompt("a large bedroom with blue walls and a wooden floor").spec
    assert spec.room.walls.color == "blue"
    assert spec.room.floor.material == "wood"
    assert spec.room.scale == 1.25


def test_stacking_with_on():
    spec = parse_prompt("a monitor on a desk").spec
    assert [(o.kind, o.on) for o in spec.objects] == [("monitor", "desk"), ("desk", None)]
    spec = parse_prompt("a desk and a lamp on the desk").spec
    assert [(o.kind, o.on) for o in spec.objects] == [("desk", None), ("lamp", "desk")]


def test_unknown_words_are_listed_not_dropped():
    r = parse_prompt("a shiny flux capacitor in the kitchen")
    assert r.unknown == ["shiny", "flux", "capacitor"]
    assert "kitchen" in r.understood and "a" in r.understood and "the" in r.understood
    # a modifier with no noun after it is not understood either
    assert parse_prompt("a sofa, red").unknown == ["red"]


def test_stop_words_are_grammar():
    r = parse_prompt("a kitchen with some chairs and the table in it")
    assert r.unknown == []


@pytest.mark.parametrize("prompt", ["", "   ", "flux capacitor", "the and with"])
def test_nothing_recognizable_raises(prompt):
    with pytest.raises(ValueError, match="prompt"):
        parse_prompt(prompt)


def test_over_caps_raise():
    with pytest.raises(ValueError, match=f"1..{MAX_PER_KIND}"):
        parse_prompt("thirteen chairs")
    with pytest.raises(ValueError, match=str(MAX_OBJECTS)):
        parse_prompt("12 chairs, 12 crates, 12 boxes and 12 barrels")
    with pytest.raises(ValueError, match="at most 12"):
        parse_prompt("8 chairs and 8 chairs")


def test_two_room_types_raise():
    with pytest.raises(ValueError, match="two room types"):
        parse_prompt("a kitchen and a bedroom")


def test_replaced_modifiers_are_reported_in_prompt_order():
    r = parse_prompt("a red and a blue sofa, green")
    assert [(o.kind, o.color) for o in r.spec.objects] == [("sofa", "blue")]
    assert r.unknown == ["red", "green"]
    assert r.understood == ["a", "and", "a", "blue", "sofa"]


@pytest.mark.parametrize("prompt, room, furnish, kinds, unknown", [
    ("an empty room", "plain", False, [], []),
    ("a bare kitchen with a table", "kitchen", False, ["table"], []),
    ("an unfurnished office with a person walking", "office", False, ["person"], []),
    ("a furnished bedroom with a desk", "bedroom", True, ["desk"], []),
    ("a kitchen with a person walking", "kitchen", True, ["person"], []),  # motion prompts keep the furniture
    ("a bedroom with a desk", "bedroom", None, ["desk"], []),
    ("an empty box", "plain", None, ["box"], ["empty"]),  # furnishing words bind to rooms only
    ("a sofa in a room, empty", "plain", None, ["sofa"], ["empty"]),
])
def test_furnishing_words(prompt, room, furnish, kinds, unknown):
    r = parse_prompt(prompt)
    assert (r.spec.room.type, r.spec.room.furnish, [o.kind for o in r.spec.objects], r.unknown) == (room, furnish, kinds, unknown)


def test_an_empty_room_has_no_default_furniture():
    import numpy as np

    from lyra_sim.worlds.procedural import expand_objects

    def kinds(prompt):
        spec = parse_prompt(prompt).spec
        return sorted(i.spec.kind for i in expand_objects(spec, spec.room.type, np.random.default_rng(0)))

    assert kinds("an empty kitchen") == []
    assert kinds("an empty kitchen with two chairs") == ["chair", "chair"]
    assert len(kinds("a kitchen")) > 0
    furnished = kinds("a furnished kitchen with two chairs")
    assert furnished.count("chair") >= 2 and len(furnished) > 2


def test_furnishing_words_in_buildings():
    def rooms(prompt):
        return [(r.type, r.furnish) for r in parse_prompt(prompt).spec.building.rooms]

    assert {f for _, f in rooms("an empty house")} == {False}
    assert rooms("a house with an empty kitchen and a bedroom") == [("kitchen", False), ("bedroom", None)]
    assert {f for _, f in rooms("a house with 5 empty rooms")} == {False} and len(rooms("a house with 5 empty rooms")) == 5
    r = parse_prompt("a house with an empty sofa")
    assert r.unknown == ["empty"]
