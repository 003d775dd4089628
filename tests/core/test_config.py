"""`lyra_sim.config`: the one strict dict → config dataclass conversion."""

from dataclasses import dataclass, field

import pytest

from lyra_sim.config import check_keys, from_dict


@dataclass(frozen=True)
class Knobs:
    size: tuple[float, float] = (1.0, 2.0)
    name: str = "a"
    options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.name == "bad":
            raise ValueError("name: 'bad' is not allowed")


@dataclass(frozen=True)
class Size:
    size: tuple[float, float] = (1.0, 2.0)


def test_from_dict_builds_the_dataclass_with_defaults():
    assert from_dict(Knobs, {}, "knobs") == Knobs()
    assert from_dict(Knobs, {"name": "b"}, "knobs") == Knobs(name="b")


def test_lists_become_tuples_and_the_result_is_hashable():
    knobs = from_dict(Knobs, {"size": [3.0, 4.0], "name": "x"}, "knobs")
    assert knobs.size == (3.0, 4.0) and type(knobs.size) is tuple
    hash(from_dict(Size, {"size": [3.0, 4.0]}, "size"))  # a frozen config of tuples hashes (lists would not)
    # only top-level lists: dicts pass through as given (nested configs convert themselves)
    nested = from_dict(Knobs, {"options": {"k": [1, 2]}}, "knobs")
    assert nested.options == {"k": [1, 2]} and type(nested.options["k"]) is list


def test_unknown_key_names_it_the_place_and_the_accepted_keys():
    with pytest.raises(ValueError) as err:
        from_dict(Knobs, {"name": "b", "sise": [1, 2]}, "render.knobs")
    msg = str(err.value)
    assert msg == "render.knobs: unknown key 'sise'; accepted: size, name, options"


def test_several_unknown_keys_are_all_named_in_order():
    with pytest.raises(ValueError, match=r"^k: unknown keys 'b', 'a'; accepted: size, name, options$"):
        check_keys(Knobs, {"b": 1, "size": (1, 1), "a": 2}, "k")


def test_non_string_keys_show_their_type():
    with pytest.raises(ValueError, match=r"unknown key 1 \(int\); accepted"):
        from_dict(Knobs, {1: "x"}, "k")


@pytest.mark.parametrize("data, kind", [([("name", "b")], "list"), ("name=b", "str"), (None, "NoneType"), (3, "int")])
def test_non_dict_is_a_value_error_naming_its_type(data, kind):
    with pytest.raises(ValueError, match=rf"^knobs: expected an object \(dict\) of settings, got {kind}$"):
        from_dict(Knobs, data, "knobs")


def test_check_keys_returns_the_dict_itself():
    data = {"name": "b"}
    assert check_keys(Knobs, data, "k") is data


def test_not_a_dataclass_is_a_programming_error():
    with pytest.raises(TypeError, match="not a dataclass"):
        check_keys(dict, {}, "k")


def test_the_dataclass_still_validates_itself():
    with pytest.raises(ValueError, match="'bad' is not allowed"):
        from_dict(Knobs, {"name": "bad"}, "k")
