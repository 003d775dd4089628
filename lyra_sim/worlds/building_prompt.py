"""Building prompts → `SceneSpec` with a `BuildingSpec` (the grammar is in `lyra_sim.worlds.prompt`).

Same lexicon, modifiers and "on" stacking as a room prompt; what differs is what nouns do
(see `lyra_sim.worlds.prompt`'s module docstring, "Buildings").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from lyra_sim.worlds.building_spec import BuildingRoomSpec, BuildingSpec
from lyra_sim.worlds.objects import OBJECT_KINDS
from lyra_sim.worlds.prompt import (
    ON_WORDS,
    ParseResult,
    PendingEntry,
    match_entry,
    take_furnish,
    take_modifier,
    take_unmatched,
    tokenize,
)
from lyra_sim.worlds.rooms import BUILDING_KINDS, ROOM_KINDS
from lyra_sim.worlds.spec import ObjectSpec, SceneSpec, SurfaceSpec

SQ_FT = 0.09290304
"""m² per square foot."""
_UNITS = (  # token sequences after a number that make it a floor area, and the factor to m² (tokens are
    # NFKC-normalized, so "m²" and "m2" are both m 2)
    (("m", "^", "2"), 1.0), (("m", "2"), 1.0), (("sqm",), 1.0), (("sq", "m"), 1.0),
    (("square", "meters"), 1.0), (("square", "metres"), 1.0), (("square", "meter"), 1.0),
    (("square", "metre"), 1.0), (("square", "m"), 1.0), (("ft", "^", "2"), SQ_FT), (("ft", "2"), SQ_FT),
    (("sq", "ft"), SQ_FT), (("sqft",), SQ_FT), (("square", "feet"), SQ_FT), (("square", "foot"), SQ_FT),
    (("m",), 1.0),
)
FILL = {
    "house": ("living_room", "kitchen", "bathroom", "bedroom", "hallway", "bedroom", "dining_room", "bedroom",
              "bathroom", "office", "bedroom", "plain"),
    "apartment": ("living_room", "kitchen", "bathroom", "bedroom", "hallway", "bedroom", "dining_room", "bedroom",
                  "bathroom", "office", "bedroom", "plain"),
    "office": ("corridor", "office", "office", "meeting_room", "bathroom", "office", "office", "kitchen", "office",
               "office", "meeting_room", "office"),
}
"""Room types, in order, that ``N rooms`` takes from (named rooms first)."""


@dataclass
class _Room:
    type: str
    count: int | None
    at: int
    area: float | None = None
    furnish: bool | None = None
    surfaces: dict[str, SurfaceSpec] = field(default_factory=dict)
    objects: list[ObjectSpec] = field(default_factory=list)


def _area_at(tokens: list[str], i: int) -> tuple[float, int] | None:
    """``(m², tokens used)`` when a floor area ("80 m2", "900 sq ft") starts at ``tokens[i]``."""
    if not re.fullmatch(r"\d+(?:\.\d+)?", tokens[i]):
        return None
    for unit, factor in _UNITS:
        if tuple(tokens[i + 1:i + 1 + len(unit)]) == unit:
            return float(tokens[i]) * factor, 1 + len(unit)
    return None


def _room_type(entry_value: str, phrase: str) -> str:
    """Inside a building, "dining room" is a dining room and "hall(way)" a hallway."""
    first = phrase.split()[0]
    if entry_value == "kitchen" and first.startswith("dining"):
        return "dining_room"
    if entry_value == "corridor" and first.rstrip("s") in ("hallway", "hall"):
        return "hallway"
    return entry_value


def parse_building(prompt: str) -> ParseResult:
    """Parse a prompt that names a building (see `lyra_sim.worlds.prompt`)."""

    def fail(message: str):
        raise ValueError(f"prompt: {message} (in {prompt!r})")

    tokens = tokenize(prompt)  # the room grammar's tokens: words of any script, numbers, NFKC (m² is m 2)
    understood: list[tuple[int, str]] = []
    unknown: list[tuple[int, str]] = []
    building, building_at, scale, area, generic = None, None, 1.0, None, None
    rooms: list[_Room] = []
    loose: list[ObjectSpec] = []  # objects named before any room
    house_surfaces: dict[str, SurfaceSpec] = {}
    furnish: bool | None = None  # "an empty house": every room that says nothing else
    generic_furnish: bool | None = None  # the rooms that "N rooms" adds
    pending = PendingEntry()
    last_object: int | None = None
    stack_on: int | None = None
    i = 0
    while i < len(tokens):
        at = i
        found = _area_at(tokens, i)
        if found is not None:
            if area is not None:
                fail("gives two floor areas")
            area = round(found[0], 2)
            understood.append((at, " ".join(tokens[i:i + found[1]])))
            i += found[1]
            continue
        m = match_entry(tokens, i)
        if m is None:
            take_unmatched(tokens[i], at, pending, unknown, fail)
            i += 1
            continue
        n, phrase, entry, plural = m
        i += n
        target = rooms[-1].objects if rooms else loose
        if entry.kind == "stop":
            understood.append((at, phrase))
            if (phrase in ON_WORDS and last_object is not None and pending.empty()
                    and OBJECT_KINDS[target[last_object].kind].placement == "on_top"):
                stack_on = last_object
            continue
        if take_modifier(entry, at, phrase, pending, unknown):
            continue
        if entry.kind in ("motion", "part"):  # dynamic scenes are single rooms
            unknown.append((at, phrase))
            continue
        bound = take_furnish(pending)
        if bound is not None and entry.kind not in ("building", "room"):  # "an empty box"
            unknown.append(bound[1])
            bound = None
        if bound is not None:
            understood.append(bound[1])
        color, material, size = pending.get("color"), pending.get("material"), pending.get("scale")
        if entry.kind == "building":
            if bound is not None:
                furnish = bound[0]
            if building not in (None, entry.value):
                fail(f"names two buildings ({building} and {entry.value}); one building per scene")
            if (pending.get("count") or 1) > 1:
                fail("asks for several buildings; one building per scene")
            building, building_at = entry.value, building_at if building_at is not None else at
            scale = size or scale
            understood += [(at, phrase)] + [w for w in pending.words() if w[1] not in (color, material)]
            unknown += [w for w in pending.words() if w[1] in (color, material)]
        elif entry.kind == "room":
            room_type = _room_type(entry.value, phrase)
            count = pending.get("count", None if plural or pending.get("seeded") else 1)
            understood += [(at, phrase)] + pending.words()
            if room_type == "plain" and (building_at is None or (count or 1) > 1):
                generic = count  # "a 5-room house", "a house with 5 rooms": rooms in all
                generic_furnish = None if bound is None else bound[0]  # "5 empty rooms"
            else:
                kind = ROOM_KINDS[room_type]
                room = _Room(room_type, count, at, furnish=None if bound is None else bound[0])
                if size:
                    room.area = round(sum(kind.area) / 2 * size * size, 1)
                if material:
                    room.surfaces["floor"] = SurfaceSpec(material, color)
                elif color:
                    room.surfaces["walls"] = SurfaceSpec(None, color)
                rooms.append(room)
            last_object = stack_on = None
        elif entry.kind == "surface":
            understood += [(at, phrase)] + pending.words()
            (rooms[-1].surfaces if rooms else house_surfaces)[entry.value] = SurfaceSpec(material, color)
        else:
            understood += [(at, phrase)] + pending.words()
            count = pending.get("count", None if plural or pending.get("seeded") else 1)
            try:
                spec = ObjectSpec(entry.value, count, color, material, size or 1.0)
            except ValueError as e:
                fail(str(e))
            if stack_on is not None and OBJECT_KINDS[entry.value].support:
                target[stack_on] = replace(target[stack_on], on=entry.value)
                if pending.empty() and any(o.kind == entry.value for o in target):
                    pending, stack_on = PendingEntry(), None
                    continue
            target.append(spec)
            last_object = len(target) - 1
        pending, stack_on = PendingEntry(), None
    unknown += pending.words()
    try:
        spec = _building(building, building_at, scale, area, generic, rooms, loose, house_surfaces, furnish,
                         generic_furnish)
    except ValueError as e:
        fail(str(e))
    return ParseResult(spec, [w for _, w in sorted(understood)], [w for _, w in sorted(unknown)])


def _building(kind: str, at: int, scale: float, area, generic, rooms: list[_Room], loose, house_surfaces,
              furnish: bool | None = None, generic_furnish: bool | None = None) -> SceneSpec:
    before = [r for r in rooms if r.at < at]
    after = [r for r in rooms if r.at > at]
    if after and not before:
        program = after
    else:  # the default program, with the named rooms' counts
        program = [_Room(t, 1, -1) for t in BUILDING_KINDS[kind].program] if not (generic and not rooms) else []
        for r in before + after:
            same = [k for k, p in enumerate(program) if p.type == r.type]
            if same:
                program[same[0]] = r
                program = [p for k, p in enumerate(program) if k not in same[1:]]
            else:
                program.append(r)
        bedrooms = sum((p.count or 2) for p in program if p.type == "bedroom")
        if kind == "house" and bedrooms >= 3 and sum(p.type == "bathroom" for p in program) == 1 and not after:
            program.append(_Room("bathroom", 1, -1))  # a second bathroom for three bedrooms or more
    if generic:
        total = sum(p.count or 2 for p in program)
        for t in FILL[kind] * 3:
            if total >= generic:
                break
            program.append(_Room(t, 1, -1, furnish=generic_furnish))
            total += 1
        if total < generic:  # beyond the fill list: the cap check below says so
            program.append(_Room("plain", generic - total, -1, furnish=generic_furnish))
    for obj in loose:  # objects named before any room: to a room that typically has them
        home = next((p for p in program if obj.kind in ROOM_KINDS[p.type].typical), None)
        home = home or next((p for p in program if ROOM_KINDS[p.type].zone == "public"), program[0] if program else None)
        if home is None:
            raise ValueError(f"{obj.kind}: no room to put it in")
        home.objects.append(obj)
    entries = tuple(
        BuildingRoomSpec(p.type, p.count, area=p.area, objects=tuple(p.objects),
                         furnish=p.furnish if p.furnish is not None else furnish,
                         **{s: p.surfaces.get(s, house_surfaces.get(s, SurfaceSpec())) for s in ("floor", "walls", "ceiling")})
        for p in program
    )
    return SceneSpec(building=BuildingSpec(kind, entries, area=area, scale=scale))
