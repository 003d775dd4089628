"""Room types: a registry table of name → `RoomKind` (size ranges, surfaces, default furniture).

A room is a closed box: its interior spans ``x ∈ [-w/2, w/2]``, ``y ∈ [-d/2, d/2]``,
``z ∈ [0, h]`` (floor at z = 0, centered at the origin), with ``w >= d`` so the long axis is x.
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


PAINT = ("white", "cream", "beige", "light gray", "light blue")

ROOM_KINDS: Mapping[str, RoomKind] = MappingProxyType({
    "plain": RoomKind(
        (4.0, 5.0), (3.5, 4.5), (2.6, 2.8),
        floor=("wood", ("oak", "pine", "walnut")), walls=("plaster", PAINT), ceiling=("plaster", ("white",)),
        defaults=(("table", 1, 1), ("chair", 2, 3), ("door", 1, 1), ("window", 1, 1), ("plant", 0, 1)),
        aliases=("room", "space", "interior", "chamber"),
    ),
    "kitchen": RoomKind(
        (3.8, 5.0), (3.2, 4.5), (2.5, 2.8),
        floor=("tile", ("white", "light gray", "beige", "cream")), walls=("plaster", PAINT),
        ceiling=("plaster", ("white",)),
        defaults=(("counter", 1, 2), ("fridge", 1, 1), ("stove", 1, 1), ("table", 1, 1), ("chair", 2, 4),
                  ("trash_can", 1, 1), ("window", 1, 1), ("door", 1, 1)),
        aliases=("kitchen", "kitchenette", "dining room"),
        typical=("counter", "fridge", "stove", "stool"),
    ),
    "living_room": RoomKind(
        (5.0, 6.5), (4.0, 5.2), (2.6, 3.0),
        floor=("wood", ("oak", "walnut", "pine", "cherry")), walls=("plaster", PAINT), ceiling=("plaster", ("white",)),
        defaults=(("sofa", 1, 1), ("rug", 1, 1), ("coffee_table", 1, 1), ("tv_stand", 1, 1), ("tv", 1, 1),
                  ("armchair", 0, 1), ("plant", 1, 2), ("floor_lamp", 0, 1), ("bookcase", 0, 1), ("painting", 0, 1),
                  ("window", 1, 2), ("door", 1, 1)),
        aliases=("living room", "lounge", "sitting room", "family room", "livingroom"),
        typical=("sofa", "armchair", "coffee_table", "tv", "tv_stand", "floor_lamp"),
    ),
    "bedroom": RoomKind(
        (3.6, 4.6), (3.4, 4.2), (2.5, 2.8),
        floor=("carpet", ("beige", "gray", "light gray", "cream")), walls=("plaster", PAINT + ("pink",)),
        ceiling=("plaster", ("white",)),
        defaults=(("bed", 1, 1), ("nightstand", 1, 2), ("lamp", 1, 1), ("wardrobe", 1, 1), ("rug", 0, 1),
                  ("dresser", 0, 1), ("window", 1, 1), ("door", 1, 1), ("painting", 0, 1)),
        aliases=("bedroom", "bed room", "guest room", "dormitory"),
        typical=("bed", "nightstand", "wardrobe", "dresser"),
    ),
    "office": RoomKind(
        (4.0, 6.0), (3.5, 5.0), (2.7, 3.0),
        floor=("carpet", ("gray", "dark gray", "navy", "light gray")), walls=("plaster", ("white", "light gray", "cream")),
        ceiling=("plaster", ("white",)),
        defaults=(("desk", 1, 2), ("office_chair", 1, 2), ("monitor", 1, 2), ("bookcase", 0, 1), ("cabinet", 1, 1),
                  ("plant", 1, 1), ("trash_can", 1, 1), ("whiteboard", 0, 1), ("window", 1, 2), ("door", 1, 1)),
        aliases=("office", "study", "workspace", "home office", "office room"),
        typical=("desk", "office_chair", "monitor", "whiteboard"),
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
    ),
    "corridor": RoomKind(
        (8.0, 12.0), (1.8, 2.4), (2.5, 2.8),
        floor=("tile", ("light gray", "beige", "white")), walls=("plaster", PAINT), ceiling=("plaster", ("white",)),
        defaults=(("door", 2, 4), ("bench", 0, 1), ("plant", 1, 2), ("trash_can", 0, 1), ("painting", 1, 2)),
        aliases=("corridor", "hallway", "hall", "passage", "passageway", "hall way"),
    ),
})
"""Every room type; ``plain`` is the fallback for unknown or unnamed rooms."""

ROOM_TYPES: tuple[str, ...] = tuple(ROOM_KINDS)
