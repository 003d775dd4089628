"""Buildings in the scene spec: rooms with polygons, doorways, the entrance, windows.

`SceneSpec.building` holds a `BuildingSpec`. Generated plans (`lyra_sim.worlds.floorplan`)
come back in the resolved spec with every polygon, doorway and window filled in, so a user
can edit the floor plan and pass it back; `BuildingSpec` checks on construction what it can
without building anything: room count and area caps (`MAX_ROOMS`, `MAX_BUILDING_AREA`),
overlapping polygons, doorways that are not on the wall between their rooms, rooms that
closed doors cut off, windows and the entrance off the exterior walls.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lyra_sim.config import accepted, build_entry, check_keys, check_number, check_vector
from lyra_sim.worlds import plan_geometry as pg
from lyra_sim.worlds.rooms import BUILDING_KINDS, ROOM_KINDS, ROOM_TYPES
from lyra_sim.worlds.spec import SCALE_RANGE, ObjectSpec, SurfaceSpec, check_caps

MAX_ROOMS = 12
"""Most rooms in a building."""
MAX_BUILDING_AREA = 300.0
"""Largest building floor area (m², the sum of the room polygons)."""
MIN_DOORWAY = 0.8
"""Narrowest doorway (m): a wheelchair's, and a 0.25 m agent passes with room to spare."""
DOOR_STATES = ("none", "open", "closed")
SEEDED_ROOM_COUNT = (2, 3)
"""Rooms of an entry without a count ("bedrooms"): a seeded number in this range."""


def _check_point(where: str, value) -> tuple[float, float]:
    return check_vector(where, value, 2, [(None, None)] * 2)


def _name(where: str, name) -> str | None:
    if name is not None and (not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name)):
        raise ValueError(f"{where}: expected a name of lowercase letters, digits and _ (kitchen_0), got {name!r}")
    return name


@dataclass(frozen=True)
class BuildingRoomSpec:
    """One room (or ``count`` alike rooms) of a building.

    Attributes:
        type: one of `ROOM_TYPES`.
        count: rooms of this entry, 1..`MAX_ROOMS`; None = seeded (`SEEDED_ROOM_COUNT`).
        name: unique room name; None = ``<type>_<i>``, numbered per type in entry order.
        area: floor area target (m²) of the room's cell; None = seeded per type. Ignored
            when ``polygon`` is given.
        polygon: the room's cell, a counter-clockwise rectilinear polygon ``[[x, y], ...]``
            in meters (walls stand centered on its edges); None = laid out by the generator.
        floor, walls, ceiling: surface looks (None fields = seeded per type).
        furnish: add the type's default furniture; None = only when no objects are given.
        objects: the room's objects; positions are building coordinates, instance names are
            numbered per kind across the building in room order.
    """

    type: str = "plain"
    count: int | None = 1
    name: str | None = None
    area: float | None = None
    polygon: tuple[tuple[float, float], ...] | None = None
    floor: SurfaceSpec = field(default_factory=SurfaceSpec)
    walls: SurfaceSpec = field(default_factory=SurfaceSpec)
    ceiling: SurfaceSpec = field(default_factory=SurfaceSpec)
    furnish: bool | None = None
    objects: tuple[ObjectSpec, ...] = ()

    def __post_init__(self) -> None:
        if self.type not in ROOM_TYPES:
            raise ValueError(f"type: unknown room type {self.type!r}; accepted: {accepted(ROOM_TYPES)}")
        if self.count is not None and (isinstance(self.count, bool) or not isinstance(self.count, int)
                                       or not 1 <= self.count <= MAX_ROOMS):
            raise ValueError(f"count: expected 1..{MAX_ROOMS} rooms or null, got {self.count!r}")
        _name("name", self.name)
        if self.area is not None:
            object.__setattr__(self, "area", check_number("area", self.area, 1.0, MAX_BUILDING_AREA))
        if self.polygon is not None:
            object.__setattr__(self, "polygon", pg.check_polygon("polygon", self.polygon))
        if (self.name is not None or self.polygon is not None) and self.count != 1:
            raise ValueError(" a named room or one with a polygon needs count = 1 (one entry per room)")
        for name in ("floor", "walls", "ceiling"):
            if not isinstance(getattr(self, name), SurfaceSpec):
                raise ValueError(f"{name}: expected a SurfaceSpec")
        if self.furnish is not None and not isinstance(self.furnish, bool):
            raise ValueError(f"furnish: expected true, false or null, got {self.furnish!r}")
        object.__setattr__(self, "objects", tuple(self.objects))
        if not all(isinstance(o, ObjectSpec) for o in self.objects):
            raise ValueError("objects: expected a list of ObjectSpec")
        check_caps([(o.kind, o.count or 1) for o in self.objects], "objects")

    def to_dict(self) -> dict:
        return {
            "type": self.type, "count": self.count, "name": self.name, "area": self.area,
            "polygon": None if self.polygon is None else [list(p) for p in self.polygon],
            "floor": self.floor.to_dict(), "walls": self.walls.to_dict(), "ceiling": self.ceiling.to_dict(),
            "furnish": self.furnish, "objects": [o.to_dict() for o in self.objects],
        }

    @classmethod
    def from_dict(cls, data, where: str = "room") -> "BuildingRoomSpec":
        data = dict(check_keys(cls, data, where))
        for name in ("floor", "walls", "ceiling"):
            data[name] = SurfaceSpec.from_dict(data.get(name) or {}, where=f"{where}.{name}")
        objects = data.get("objects", [])
        if not isinstance(objects, list):
            raise ValueError(f"{where}.objects: expected a list, got {type(objects).__name__}")
        data["objects"] = tuple(ObjectSpec.from_dict(o, where=f"{where}.objects[{i}]") for i, o in enumerate(objects))
        return build_entry(cls, data, where)


@dataclass(frozen=True)
class DoorwaySpec:
    """An opening in the wall between two rooms.

    Attributes:
        rooms: the two room names.
        center: ``(x, y)`` on the wall's center line (the rooms' shared edge), meters.
        width: clear width, >= `MIN_DOORWAY` m.
        door: ``none`` (an open doorway), ``open`` (a door leaf swung open into the first
            room) or ``closed`` (a leaf filling the opening; the other doorways must still
            connect every room).
    """

    rooms: tuple[str, str]
    center: tuple[float, float]
    width: float = 0.9
    door: str = "none"

    def __post_init__(self) -> None:
        if (not isinstance(self.rooms, (list, tuple)) or len(self.rooms) != 2
                or not all(isinstance(r, str) for r in self.rooms) or self.rooms[0] == self.rooms[1]):
            raise ValueError(f"rooms: expected two different room names, got {self.rooms!r}")
        object.__setattr__(self, "rooms", tuple(self.rooms))
        object.__setattr__(self, "center", _check_point("center", self.center))
        object.__setattr__(self, "width", check_number("width", self.width, MIN_DOORWAY, 3.0))
        if self.door not in DOOR_STATES:
            raise ValueError(f"door: unknown door state {self.door!r}; accepted: {', '.join(DOOR_STATES)}")

    def to_dict(self) -> dict:
        return {"rooms": list(self.rooms), "center": list(self.center), "width": self.width, "door": self.door}


@dataclass(frozen=True)
class EntranceSpec:
    """The front door: a closed door on an exterior wall of ``room``, centered at ``center``."""

    room: str
    center: tuple[float, float]
    width: float = 0.9

    def __post_init__(self) -> None:
        if not isinstance(self.room, str):
            raise ValueError(f"room: expected a room name, got {self.room!r}")
        object.__setattr__(self, "center", _check_point("center", self.center))
        object.__setattr__(self, "width", check_number("width", self.width, MIN_DOORWAY, 2.0))

    def to_dict(self) -> dict:
        return {"room": self.room, "center": list(self.center), "width": self.width}


@dataclass(frozen=True)
class WindowSpec:
    """A window on an exterior wall of ``room``: ``width`` × ``height`` m, bottom at ``sill`` m."""

    room: str
    center: tuple[float, float]
    width: float = 1.2
    height: float = 1.2
    sill: float = 0.9

    def __post_init__(self) -> None:
        if not isinstance(self.room, str):
            raise ValueError(f"room: expected a room name, got {self.room!r}")
        object.__setattr__(self, "center", _check_point("center", self.center))
        object.__setattr__(self, "width", check_number("width", self.width, 0.3, 4.0))
        object.__setattr__(self, "height", check_number("height", self.height, 0.3, 2.5))
        object.__setattr__(self, "sill", check_number("sill", self.sill, 0.0, 2.2))

    def to_dict(self) -> dict:
        return {"room": self.room, "center": list(self.center), "width": self.width, "height": self.height,
                "sill": self.sill}


_PLAN_PARTS = {"doorways": DoorwaySpec, "windows": WindowSpec}


@dataclass(frozen=True)
class BuildingSpec:
    """A building: its rooms and floor plan (see `lyra_sim.worlds.floorplan`).

    Attributes:
        type: one of `BUILDING_KINDS` (house, apartment, office).
        rooms: room entries; empty = the type's default program.
        area: total floor area target (m², at most `MAX_BUILDING_AREA`); None = the sum of
            the rooms' seeded areas. Must be None when the rooms have polygons.
        scale: multiplies the seeded room areas ("a large house").
        height: interior height (m); None = seeded per type.
        door_height: doorway height (m); None = 2.1. At least 0.3 m below ``height``.
        wall_thickness: wall thickness (m); None = the generator's.
        doorways, entrance, windows: the floor plan's openings; None = generated. They need
            room polygons.
    """

    type: str = "house"
    rooms: tuple[BuildingRoomSpec, ...] = ()
    area: float | None = None
    scale: float = 1.0
    height: float | None = None
    door_height: float | None = None
    wall_thickness: float | None = None
    doorways: tuple[DoorwaySpec, ...] | None = None
    entrance: EntranceSpec | None = None
    windows: tuple[WindowSpec, ...] | None = None

    def __post_init__(self) -> None:
        if self.type not in BUILDING_KINDS:
            raise ValueError(f"type: unknown building type {self.type!r}; accepted: {accepted(BUILDING_KINDS)}")
        object.__setattr__(self, "rooms", tuple(self.rooms))
        if not all(isinstance(r, BuildingRoomSpec) for r in self.rooms):
            raise ValueError("rooms: expected a list of BuildingRoomSpec")
        object.__setattr__(self, "scale", check_number("scale", self.scale, *SCALE_RANGE))
        for key, lo, hi in (("height", 2.2, 6.0), ("door_height", 1.9, 2.6), ("wall_thickness", 0.05, 0.4)):
            if getattr(self, key) is not None:
                object.__setattr__(self, key, check_number(key, getattr(self, key), lo, hi))
        lowest = self.height if self.height is not None else BUILDING_KINDS[self.type].height[0]
        if self.door_height is not None and self.door_height > lowest - 0.3 + 1e-9:
            raise ValueError(f"door_height: {self.door_height} m leaves less than 0.3 m of wall above the doorways "
                             f"under a {lowest} m ceiling; accepted: up to {lowest - 0.3:.2f} m")
        self._check_program()
        for key, cls in _PLAN_PARTS.items():
            if getattr(self, key) is not None:
                object.__setattr__(self, key, tuple(getattr(self, key)))
                if not all(isinstance(x, cls) for x in getattr(self, key)):
                    raise ValueError(f"{key}: expected a list of {cls.__name__}")
        if self.entrance is not None and not isinstance(self.entrance, EntranceSpec):
            raise ValueError("entrance: expected an EntranceSpec")
        self._check_plan()

    def program(self) -> list[tuple[str, BuildingRoomSpec]]:
        """``(type, entry)`` per room entry; the type's default program when ``rooms`` is empty."""
        if self.rooms:
            return [(r.type, r) for r in self.rooms]
        return [(t, BuildingRoomSpec(t)) for t in BUILDING_KINDS[self.type].program]

    def _check_program(self) -> None:
        program = self.program()
        most = sum(r.count if r.count is not None else SEEDED_ROOM_COUNT[1] for _, r in program)
        if most > MAX_ROOMS:
            raise ValueError(f"rooms: {most} rooms requested; at most {MAX_ROOMS} rooms per building")
        if self.area is not None and self.area > MAX_BUILDING_AREA:
            raise ValueError(f"area: {self.area:g} m² requested; at most {MAX_BUILDING_AREA:g} m² per building")
        need: dict[str, float] = {}
        for t, r in program:
            need[t] = need.get(t, 0.0) + ROOM_KINDS[t].min_area * (r.count or SEEDED_ROOM_COUNT[0])
        total = sum(need.values())
        listed = ", ".join(f"{t.replace('_', ' ')} {a:g} m²" for t, a in need.items())
        if total > MAX_BUILDING_AREA:
            raise ValueError(f"rooms: they need at least {total:g} m² ({listed}); at most {MAX_BUILDING_AREA:g} m² "
                             "per building")
        if self.area is not None and self.area < total:
            raise ValueError(f"area: {self.area:g} m² is too small for these rooms: they need at least {total:g} m² "
                             f"({listed})")
        with_polygon = [r.polygon is not None for _, r in program]
        if any(with_polygon) and not all(with_polygon):
            raise ValueError(f"rooms[{with_polygon.index(False)}].polygon: give every room a polygon, or none")
        if all(with_polygon) and self.rooms and self.area is not None:
            raise ValueError("area: the room polygons fix the area; leave area out (null)")

    def room_names(self) -> list[str]:
        """The name of every room, entries expanded (None counts as its seeded minimum), in order."""
        taken = {r.name for _, r in self.program() if r.name is not None}
        counters: dict[str, int] = {}
        names = []
        for t, r in self.program():
            for _ in range(r.count or SEEDED_ROOM_COUNT[0]):
                if r.name is not None:
                    names.append(r.name)
                    continue
                i = counters.get(t, 0)
                while f"{t}_{i}" in taken:
                    i += 1
                counters[t] = i + 1
                names.append(f"{t}_{i}")
        return names

    def _check_plan(self) -> None:
        names = self.room_names()
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"rooms: duplicate room name {dup[0]!r}")
        polys = [r.polygon for _, r in self.program()] if self.rooms else []
        if not polys or polys[0] is None:
            for key in ("doorways", "entrance", "windows"):
                if getattr(self, key) is not None:
                    raise ValueError(f"{key}: needs room polygons (give every room a polygon, or leave {key} out)")
            return
        rects = [pg.rects(p) for p in polys]
        for i in range(len(polys)):
            for j in range(i + 1, len(polys)):
                if pg.overlap_area(rects[i], rects[j]) > 1e-6:
                    raise ValueError(f"rooms: the polygons of {names[i]} and {names[j]} overlap")
        area = sum(pg.area(p) for p in polys)
        if area > MAX_BUILDING_AREA + 1e-6:
            raise ValueError(f"rooms: the polygons cover {area:.1f} m²; at most {MAX_BUILDING_AREA:g} m² per building")
        index = {n: i for i, n in enumerate(names)}
        half_t = (self.wall_thickness or 0.1) / 2

        def room(where, name):
            if name not in index:
                raise ValueError(f"{where}: unknown room {name!r}; rooms: {', '.join(names)}")
            return index[name]

        spans: list[tuple[pg.Segment, float, float, str]] = []  # openings per wall line, for overlaps

        def claim(where, seg, center, width):
            t = seg.along(center)
            for other, lo, hi, what in spans:
                if other.axis == seg.axis and abs(other.c - seg.c) < 1e-4 and t - width / 2 < hi and lo < t + width / 2:
                    raise ValueError(f"{where}: overlaps {what} on the same wall")
            spans.append((seg, t - width / 2, t + width / 2, where))

        links = []
        for k, d in enumerate(self.doorways or ()):
            where = f"doorways[{k}]"
            i, j = room(f"{where}.rooms", d.rooms[0]), room(f"{where}.rooms", d.rooms[1])
            segs = [s for s in pg.shared_segments(polys[i], polys[j]) if s.holds(d.center, d.width / 2 + half_t)]
            if not segs:
                raise ValueError(f"{where}: {list(d.center)} is not on the wall between {d.rooms[0]} and {d.rooms[1]} "
                                 f"with {d.width / 2 + half_t:.2f} m of wall on both sides of its center")
            claim(where, segs[0], d.center, d.width)
            if d.door != "closed":
                links.append((i, j))
        if self.doorways is not None:
            cut_off = pg.connected(len(polys), links)
            if cut_off:
                raise ValueError(f"doorways: {', '.join(names[k] for k in cut_off)} cannot be reached from {names[0]} "
                                 "through doorways without closed doors")
        openings = [("entrance", self.entrance)] if self.entrance is not None else []
        openings += [(f"windows[{k}]", w) for k, w in enumerate(self.windows or ())]
        for where, o in openings:
            i = room(f"{where}.room", o.room)
            segs = [s for s, _ in pg.exterior_segments(polys, i) if s.holds(o.center, o.width / 2 + half_t)]
            if not segs:
                raise ValueError(f"{where}: {list(o.center)} is not on an exterior wall of {o.room} with "
                                 f"{o.width / 2 + half_t:.2f} m of wall on both sides of its center")
            claim(where, segs[0], o.center, o.width)
            if isinstance(o, WindowSpec) and self.height is not None and o.sill + o.height > self.height - 0.1:
                raise ValueError(f"{where}: its top at {o.sill + o.height:g} m is within 0.1 m of the "
                                 f"{self.height:g} m ceiling")

    def to_dict(self) -> dict:
        return {
            "type": self.type, "rooms": [r.to_dict() for r in self.rooms], "area": self.area, "scale": self.scale,
            "height": self.height, "door_height": self.door_height, "wall_thickness": self.wall_thickness,
            "doorways": None if self.doorways is None else [d.to_dict() for d in self.doorways],
            "entrance": None if self.entrance is None else self.entrance.to_dict(),
            "windows": None if self.windows is None else [w.to_dict() for w in self.windows],
        }

    @classmethod
    def from_dict(cls, data, where: str = "building") -> "BuildingSpec":
        data = dict(check_keys(cls, data, where))
        rooms = data.get("rooms", [])
        if not isinstance(rooms, list):
            raise ValueError(f"{where}.rooms: expected a list, got {type(rooms).__name__}")
        data["rooms"] = tuple(BuildingRoomSpec.from_dict(r, f"{where}.rooms[{i}]") for i, r in enumerate(rooms))
        for key, part in (("doorways", DoorwaySpec), ("windows", WindowSpec)):
            if data.get(key) is not None:
                if not isinstance(data[key], list):
                    raise ValueError(f"{where}.{key}: expected a list or null, got {type(data[key]).__name__}")
                data[key] = tuple(build_entry(part, check_keys(part, x, f"{where}.{key}[{i}]"), f"{where}.{key}[{i}]")
                                  for i, x in enumerate(data[key]))
        if data.get("entrance") is not None:
            data["entrance"] = build_entry(EntranceSpec, check_keys(EntranceSpec, data["entrance"], f"{where}.entrance"),
                                      f"{where}.entrance")
        return build_entry(cls, data, where)

