"""Prompts under bad input (issue 17, section 3): numbers that are no counts are errors, words in any script
are reported whole, and the room type of a prompt without a known one is what the README says."""

import re
from pathlib import Path

import pytest

from lyra_sim.worlds.prompt import parse_prompt

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


@pytest.mark.parametrize("prompt, number", [
    ("a room with -3 chairs", "-3"), ("a room with 1.5 chairs", "1.5"), ("a kitchen with 1,000 stools", "1,000"),
    ("-2 tables", "-2"),
])
def test_a_number_that_is_no_count_is_an_error(prompt, number):
    with pytest.raises(ValueError, match=f"prompt: '{re.escape(number)}' is not a count; counts are whole numbers"):
        parse_prompt(prompt)


def test_a_hyphen_inside_a_word_is_no_minus_sign():
    assert [(o.kind, o.count) for o in parse_prompt("a room-2 with 3 chairs").spec.objects] == [("chair", 3)]


@pytest.mark.parametrize("prompt, unknown", [
    ("a café with a table", ["café"]),
    ("a kitchen with a Stühl and a table", ["stühl"]),
    ("a bedroom with a 床", ["床"]),
    ("an office with a desk 🪑", ["🪑"]),
    ("a ｋｉｔｃｈｅｎ with a ﬁsh tank", ["fish", "tank"]),  # NFKC: full-width letters and ligatures are their ASCII selves
])
def test_words_in_any_script_are_reported_whole(prompt, unknown):
    result = parse_prompt(prompt)
    assert result.unknown == unknown


def test_a_prompt_of_only_foreign_words_names_them():
    with pytest.raises(ValueError, match="unknown words: café, crème"):
        parse_prompt("café crème")


# What the README promises about room types (tests/test_readme.py keeps its commands in step).
@pytest.mark.parametrize("prompt, room", [
    ("a garage with shelves and crates", "warehouse"),
    ("a garage with a bed", "bedroom"),
    ("a garage with a lamp", "plain"),
])
def test_without_a_known_room_type_the_objects_choose_it_as_the_readme_says(prompt, room):
    result = parse_prompt(prompt)
    assert result.spec.room.type == room and result.unknown == ["garage"]
    assert f'"{prompt}"' in README or "a bed would make a bedroom" in README


def test_the_readme_no_longer_promises_a_plain_room_for_anything_else():
    text = " ".join(README.split())
    assert "anything else gives a plain room" not in text
    assert 'reports "garage" as not understood and becomes a warehouse' in text


@pytest.mark.parametrize("prompt", ["a house with -3 bedrooms", "a house with 1.5 bedrooms", "an apartment with a kitchen and -2 chairs"])
def test_building_prompts_refuse_numbers_that_are_no_counts(prompt):
    with pytest.raises(ValueError, match="is not a count"):
        parse_prompt(prompt)


def test_building_prompts_keep_words_of_any_script_whole():
    result = parse_prompt("a café house with a kitchen and 80 m² of floor")
    assert result.unknown == ["café"] and result.spec.building.area == 80.0
