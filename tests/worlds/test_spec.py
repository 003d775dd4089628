"""Scene spec: JSON round trip and strict validation with clear errors."""

import json

import pytest

from lyra_sim.worlds.prompt import parse_prompt
from lyra_sim.worlds.spec import ObjectSpec, RoomSpec, SceneSpec, SurfaceSpec


def full_spec() -> SceneSpec:
    return SceneSpec(
        room=RoomSpec("kitchen", (4.0, 3.5, 2.6), 1.0, SurfaceSpec("tile", "white"), SurfaceSpec(None, (0.9, 0.8, 0.7)),
                      SurfaceSpec(), furnish=False),
        objects=(
            ObjectSpec("table", 1, "oak", "wood", 1.0, (1.2, 0.8, 0.75), (0.0, 0.0), 90.0),
            ObjectSpec("chair", None, "red"),
            ObjectSpec("monitor", on="table"),
        ),
    )


def test_json_round_trip():
    spec = full_spec()
    text = spec.to_json()
    assert SceneSpec.from_json(text) == spec
    assert SceneSpec.from_dict(json.loads(text)).to_json() == text


def test_parsed_prompt_round_trips():
    spec = parse_prompt("a large office with two red office chairs, a monitor on a desk and blue walls").spec
    assert SceneSpec.from_json(spec.to_json()) == spec


def test_defaults_from_minimal_dict():
    spec = SceneSpec.from_dict({"room": {"type": "bedroom"}, "objects": [{"kind": "bed"}]})
    assert spec.room.type == "bedroom" and spec.objects[0].count == 1


@pytest.mark.parametrize(
    "data, match",
    [
        ({"room": {"type": "garage"}}, r"room\.type: unknown room type 'garage'; accepted: .*kitchen"),
        ({"room": {"colour": "red"}}, r"room: unknown key 'colour'; accepted: type, size"),
        ({"rooms": {}}, r"spec: unknown key 'rooms'"),
        ({"objects": [{"kind": "sofaa"}]}, r"objects\[0\]\.kind: unknown object kind 'sofaa'; accepted: .*sofa"),
        ({"objects": [{"count": 2}]}, r"objects\[0\]: missing key 'kind'"),
        ({"objects": [{"kind": "chair", "count": 13}]}, r"objects\[0\]\.count: 13 chair\(s\) requested; accepted: 1\.\.12"),
        ({"objects": [{"kind": "chair", "color": "reddish"}]}, r"objects\[0\]\.color: unknown color 'reddish'"),
        ({"objects": [{"kind": "chair", "color": [1, 0]}]}, r"objects\[0\]\.color: expected a color name"),
        ({"objects": [{"kind": "chair", "material": "gold"}]}, r"objects\[0\]\.material: unknown material 'gold'"),
        ({"objects": [{"kind": "chair", "size": [1, -1, 1]}]}, r"objects\[0\]\.size\[1\]: expected a number in \[0.005, 6\], got -1"),
        ({"objects": [{"kind": "chair", "count": 2, "position": [0, 0]}]}, r"position/yaw_deg need count = 1"),
        ({"objects": [{"kind": "chair", "on": "table"}]}, r"objects\[0\]\.on: a chair stands on the floor"),
        ({"objects": [{"kind": "chair", "count": 12}, {"kind": "chair", "count": 1}]}, r"13 chair\(s\) requested"),
        ({"objects": [{"kind": k, "count": 12} for k in ("chair", "crate", "box", "barrel")]}, r"at most 40 objects"),
        ({"room": {"floor": {"material": "cheese"}}}, r"room\.floor\.material: unknown material 'cheese'"),
        ({"room": {"size": [3, 3]}}, r"room\.size: expected a list of 3 numbers"),
        ({"version": 2}, r"version: unsupported spec version 2"),
        ({"objects": {"kind": "chair"}}, r"objects: expected a list"),
    ],
)
def test_validation_errors_name_the_key_and_accepted_values(data, match):
    with pytest.raises(ValueError, match=match):
        SceneSpec.from_dict(data)


def test_bad_json_is_a_value_error():
    with pytest.raises(ValueError, match="not valid JSON"):
        SceneSpec.from_json("{room: ")
