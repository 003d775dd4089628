"""Room types: a registry table of name → `RoomKind` (size ranges, surfaces, default furniture).

A single room is a closed box: its interior spans ``x ∈ [-w/2, w/2]``, ``y ∈ [-d/2, d/2]``,
``z ∈ [0, h]`` (floor at z = 0, centered at the origin), with ``w >= d`` so the long axis is x.
In a building (`lyra_sim.worlds.floorplan`) a room is a cell of the floor plan; ``zone``,
``area``, ``min_area``, ``min_width`` and ``windows`` size and place it there.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping


@dataclass(frozen=True)
class RoomKind:
    """One room type.

    Attributes:
        width, depth, height: ``(min, max)`` ranges in meters; a seed picks within them.
        floor, walls, ceiling: ``(material, (color, ...))``: default material and color palette.
        defaults: ``(kind, min_count, max_count)`` furniture added when a prompt names only the room.
        aliases: prompt words/phrases for the room type.
        typical: kinds that suggest this room type when a prompt names objects but no room.
        rules: layout rule overrides by kind (warehouse shelves stand in aisles, not on walls).
        alternatives: groups of kinds of which default furnishing adds one, drawn per group
            (a bathroom gets a bathtub or a shower).
        zone: where a building puts the room: ``public`` (living spaces), ``private``
            (bedrooms, bathrooms, offices) or ``circulation`` (hallways and corridors, which
            the other rooms open onto).
        area: ``(min, max)`` floor area in m² a building draws the room's cell from.
        min_area: the smallest cell (m²) a building accepts for the type.
        min_width: the narrowest cell side (m) a building accepts for the type.
        windows: ``(min, max)`` windows on the room's exterior walls in a building.
    """

    width: tuple[float, float]
    depth: tuple[float, float]
    height: tuple[float, float]
    floor: tuple[str, tuple[str, ...]]
    walls: tuple[str, tuple[str, ...]]
    ceiling: tuple[str, tuple[str, ...]]
    defaults: tuple[tuple[str, int, int], ...]
    aliases: tuple[str, ...] = ()
    typical: tuple[str, ...] = ()
    rules: tuple[tuple[str, str], ...] = ()
    alternatives: tuple[tuple[str, ...], ...] = ()
    zone: str = "public"
    area: tuple[float, float] = (10.0, 14.0)
    min_area: float = 6.0
    min_width: float = 2.2
    windows: tuple[int, int] = (1, 1)


PAINT = ("white", "cream", "beige", "light gray", "light blue")

ROOM_KINDS: Mapping[str, RoomKind] = MappingProxyType({
    "plain": RoomKind(
        (4.0, 5.0), (3.5, 4.5), (2.6, 2.8),
        floor=("wood", ("oak", "pine", "walnut")), walls=("plaster", PAINT), ceiling=("plaster", ("white",)),
        defaults=(("table", 1, 1), ("chair", 2, 3), ("door", 1, 1), ("window", 1, 1), ("plant", 0, 1)),
        aliases=("room", "space", "interior", "chamber"),
        area=(10.0, 14.0), min_area=6.0, min_width=2.4,
    ),
    "kitchen": RoomKind(
        (3.8, 5.0), (3.2, 4.5), (2.5, 2.8),
        floor=("tile", ("white", "light gray", "beige", "cream")), walls=("plaster", PAINT),
        ceiling=("plaster", ("white",)),
        defaults=(("counter", 1, 2), ("fridge", 1, 1), ("stove", 1, 1), ("table", 1, 1), ("chair", 2, 4),
                  ("trash_can", 1, 1), ("window", 1, 1), ("door", 1, 1)),
        aliases=("kitchen", "kitchenette", "dining room"),
        typical=("counter", "fridge", "stove", "stool"),
        area=(9.0, 13.0), min_area=5.0, min_width=2.4,
    ),
    "living_room": RoomKind(
        (5.0, 6.5), (4.0, 5.2), (2.6, 3.0),
        floor=("wood", ("oak", "walnut", "pine", "cherry")), walls=("plaster", PAINT), ceiling=("plaster", ("white",)),
        defaults=(("sofa", 1, 1), ("rug", 1, 1), ("coffee_table", 1, 1), ("tv_stand", 1, 1), ("tv", 1, 1),
                  ("armchair", 0, 1), ("plant", 1, 2), ("floor_lamp", 0, 1), ("bookcase", 0, 1), ("painting", 0, 1),
                  ("window", 1, 2), ("door", 1, 1)),
        aliases=("living room", "lounge", "sitting room", "family room", "livingroom"),
        typical=("sofa", "armchair", "coffee_table", "tv", "tv_stand", "floor_lamp"),
        area=(18.0, 26.0), min_area=10.0, min_width=3.0, windows=(1, 2),
    ),
    "bedroom": RoomKind(
        (3.6, 4.6), (3.4, 4.2), (2.5, 2.8),
        floor=("carpet", ("beige", "gray", "light gray", "cream")), walls=("plaster", PAINT + ("pink",)),
        ceiling=("plaster", ("white",)),
        defaults=(("bed", 1, 1), ("nightstand", 1, 2), ("lamp", 1, 1), ("wardrobe", 1, 1), ("rug", 0, 1),
                  ("dresser", 0, 1), ("window", 1, 1), ("door", 1, 1), ("painting", 0, 1)),
        aliases=("bedroom", "bed room", "guest room", "dormitory"),
        typical=("bed", "nightstand", "wardrobe", "dresser"),
        zone="private", area=(10.0, 14.0), min_area=7.0, min_width=2.8,
    ),
    "office": RoomKind(
        (4.0, 6.0), (3.5, 5.0), (2.7, 3.0),
        floor=("carpet", ("gray", "dark gray", "navy", "light gray")), walls=("plaster", ("white", "light gray", "cream")),
        ceiling=("plaster", ("white",)),
        defaults=(("desk", 1, 2), ("office_chair", 1, 2), ("monitor", 1, 2), ("bookcase", 0, 1), ("cabinet", 1, 1),
                  ("plant", 1, 1), ("trash_can", 1, 1), ("whiteboard", 0, 1), ("window", 1, 2), ("door", 1, 1)),
        aliases=("office", "study", "workspace", "home office", "office room"),
        typical=("desk", "office_chair", "monitor", "whiteboard"),
        zone="private", area=(10.0, 14.0), min_area=6.0, min_width=2.4, windows=(1, 2),
    ),
    "warehouse": RoomKind(
        (12.0, 16.0), (9.0, 12.0), (5.0, 6.5),
        floor=("concrete", ("gray", "light gray")), walls=("metal", ("light gray", "silver", "light blue")),
        ceiling=("metal", ("gray", "silver")),
        defaults=(("shelf", 4, 8), ("pallet", 2, 4), ("box", 3, 6), ("crate", 3, 6), ("barrel", 2, 4),
                  ("cart", 0, 1), ("forklift", 0, 1), ("door", 1, 2)),
        aliases=("warehouse", "storage", "storehouse", "depot", "storeroom", "stockroom", "factory"),
        typical=("pallet", "crate", "barrel", "forklift", "cart"),
        rules=(("shelf", "aisle"),),
        area=(110.0, 170.0), min_area=60.0, min_width=7.0, windows=(0, 0),
    ),
    "corridor": RoomKind(
        (8.0, 12.0), (1.8, 2.4), (2.5, 2.8),
        floor=("tile", ("light gray", "beige", "white")), walls=("plaster", PAINT), ceiling=("plaster", ("white",)),
        defaults=(("door", 2, 4), ("bench", 0, 1), ("plant", 1, 2), ("trash_can", 0, 1), ("painting", 1, 2)),
        aliases=("corridor", "hallway", "hall", "passage", "passageway", "hall way"),
        zone="circulation", area=(8.0, 14.0), min_area=4.0, min_width=1.5, windows=(0, 0),
    ),
    # Types added for buildings, after the single-room ones: the prompt lexicon keeps the
    # older types' words (a single "dining room" prompt still means a kitchen, as it always
    # did; inside a building it means this dining room, see `lyra_sim.worlds.prompt`).
    "bathroom": RoomKind(
        (2.2, 3.0), (1.8, 2.5), (2.4, 2.7),
        floor=("tile", ("white", "light gray", "beige", "light blue")), walls=("tile", ("white", "cream", "light blue")),
        ceiling=("plaster", ("white",)),
        defaults=(("toilet", 1, 1), ("sink", 1, 1), ("mirror", 0, 1), ("trash_can", 0, 1), ("door", 1, 1),
                  ("window", 0, 1)),
        alternatives=(("bathtub", "shower"),),
        aliases=("bathroom", "bath room", "washroom", "restroom", "lavatory", "wc", "toilet room", "shower room",
                 "ensuite"),
        typical=("toilet", "sink", "bathtub", "shower", "mirror"),
        zone="private", area=(5.0, 7.0), min_area=3.0, min_width=1.7, windows=(0, 1),
    ),
    "dining_room": RoomKind(
        (3.6, 4.6), (3.2, 4.0), (2.5, 2.8),
        floor=("wood", ("oak", "walnut", "cherry")), walls=("plaster", PAINT), ceiling=("plaster", ("white",)),
        defaults=(("table", 1, 1), ("chair", 4, 6), ("cabinet", 0, 1), ("plant", 0, 1), ("painting", 0, 1),
                  ("window", 1, 1), ("door", 1, 1)),
        aliases=("dining area", "dinette", "breakfast room"),
        area=(10.0, 14.0), min_area=6.0, min_width=2.8,
    ),
    "hallway": RoomKind(
        (3.0, 5.0), (1.3, 1.6), (2.5, 2.8),
        floor=("wood", ("oak", "pine", "walnut")), walls=("plaster", PAINT), ceiling=("plaster", ("white",)),
        defaults=(("coat_rack", 0, 1), ("bench", 0, 1), ("plant", 0, 1), ("painting", 0, 2), ("door", 1, 2)),
        aliases=("foyer", "entryway", "entrance hall", "entry hall"),
        zone="circulation", area=(5.0, 9.0), min_area=3.0, min_width=1.1, windows=(0, 0),
    ),
    "meeting_room": RoomKind(
        (4.5, 6.0), (3.6, 4.6), (2.7, 3.0),
        floor=("carpet", ("gray", "dark gray", "navy")), walls=("plaster", ("white", "light gray", "cream")),
        ceiling=("plaster", ("white",)),
        defaults=(("table", 1, 1), ("office_chair", 6, 8), ("whiteboard", 1, 1), ("plant", 1, 2),
                  ("cabinet", 0, 1), ("window", 1, 2), ("door", 1, 1)),
        aliases=("meeting room", "conference room", "boardroom", "board room"),
        area=(16.0, 22.0), min_area=10.0, min_width=3.2, windows=(1, 2),
    ),
})
"""Every room type; ``plain`` is the fallback for unknown or unnamed rooms."""

ROOM_TYPES: tuple[str, ...] = tuple(ROOM_KINDS)


@dataclass(frozen=True)
class BuildingKind:
    """One building type.

    Attributes:
        program: the rooms a prompt that names none gets, in order (``hallway`` first: the
            rooms open onto it).
        height: ``(min, max)`` interior height in meters.
        aliases: prompt words/phrases for the building type.
    """

    program: tuple[str, ...]
    height: tuple[float, float]
    aliases: tuple[str, ...] = ()


BUILDING_KINDS: Mapping[str, BuildingKind] = MappingProxyType({
    "house": BuildingKind(
        ("hallway", "living_room", "kitchen", "dining_room", "bathroom", "bedroom", "bedroom"), (2.6, 2.8),
        aliases=("house", "home", "cottage", "bungalow", "villa", "townhouse", "family home"),
    ),
    "apartment": BuildingKind(
        ("hallway", "living_room", "kitchen", "bathroom", "bedroom"), (2.5, 2.7),
        aliases=("apartment", "flat", "condo", "condominium"),
    ),
    "office": BuildingKind(
        ("corridor", "office", "office", "office", "office", "meeting_room", "bathroom"), (2.7, 3.0),
        aliases=("office floor", "office suite", "office building"),
    ),
})
"""Every building type (`lyra_sim.worlds.floorplan` lays their rooms out)."""

