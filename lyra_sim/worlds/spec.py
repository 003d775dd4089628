"""The structured scene spec: what the procedural world model builds, exactly.

A prompt parses to a `SceneSpec`; a JSON spec gives the same control directly. Generation
fills in every seeded choice (room size, colors, counts, positions) and returns the
*resolved* spec, which the manifest records; generating from it with the same seed gives
the same scene.

Every dataclass validates on construction and raises ``ValueError`` naming the bad key
and the accepted values. Dictionaries/JSON use the field names as keys; unknown keys are
errors (a typo must not be silently ignored).

Object instances are named ``<kind>_<i>``, numbered per kind in spec order (``chair_0``,
``chair_1``); ``on`` refers to such a name or to a kind.

A spec describes either one room (``room`` and ``objects``) or a whole building
(``building``: a `BuildingSpec` with its rooms, each with its own objects, and the floor plan:
room polygons, doorways, the entrance and windows; see `lyra_sim.worlds.building_spec`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any

from lyra_sim.config import accepted, build_entry, check_keys, check_number, check_vector, parse_json
from lyra_sim.worlds.materials import COLORS, PUBLIC_MATERIALS
from lyra_sim.worlds.motion import MAX_MOTIONS, MotionSpec
from lyra_sim.worlds.objects import OBJECT_KINDS
from lyra_sim.worlds.rooms import ROOM_TYPES

SPEC_VERSION = 1
MAX_PER_KIND = 12
"""Most instances of one kind in a scene."""
MAX_OBJECTS = 40
"""Most objects in a scene, defaults and added supports included."""
SCALE_RANGE = (0.5, 2.0)
ROOM_SIZE_RANGE = ((1.5, 40.0), (1.5, 40.0), (2.0, 12.0))
OBJECT_SIZE_RANGE = (0.005, 6.0)


def _check_color(where: str, color) -> Any:
    if color is None:
        return None
    if isinstance(color, str):
        if color not in COLORS:
            raise ValueError(f"{where}: unknown color {color!r}; accepted: {accepted(COLORS)} or [r, g, b] in [0, 1]")
        return color
    if isinstance(color, (list, tuple)) and len(color) == 3 and all(
        isinstance(c, (int, float)) and not isinstance(c, bool) and 0 <= c <= 1 for c in color
    ):
        return tuple(float(c) for c in color)
    raise ValueError(f"{where}: expected a color name ({accepted(COLORS)}) or [r, g, b] in [0, 1], got {color!r}")


def _check_material(where: str, material) -> str | None:
    if material is not None and material not in PUBLIC_MATERIALS:
        raise ValueError(f"{where}: unknown material {material!r}; accepted: {accepted(PUBLIC_MATERIALS)}")
    return material


@dataclass(frozen=True)
class SurfaceSpec:
    """Look of a room surface (floor, walls or ceiling); None = the room type's seeded default."""

    material: str | None = None
    color: str | tuple[float, float, float] | None = None

    def __post_init__(self) -> None:
        _check_material("material", self.material)
        object.__setattr__(self, "color", _check_color("color", self.color))

    def to_dict(self) -> dict:
        return {"material": self.material, "color": list(self.color) if isinstance(self.color, tuple) else self.color}

    @classmethod
    def from_dict(cls, data, where: str = "surface") -> "SurfaceSpec":
        return build_entry(cls, check_keys(cls, data, where), where)


@dataclass(frozen=True)
class RoomSpec:
    """The room.

    Attributes:
        type: one of `ROOM_TYPES` (``plain`` for anything else).
        size: ``(width_x, depth_y, height_z)`` meters of the interior; None = seeded per type.
        scale: multiplies the seeded size ("a large kitchen"); ignored when ``size`` is given.
        floor, walls, ceiling: surface looks.
        furnish: add the type's default furniture; None = only when no objects are given.
    """

    type: str = "plain"
    size: tuple[float, float, float] | None = None
    scale: float = 1.0
    floor: SurfaceSpec = field(default_factory=SurfaceSpec)
    walls: SurfaceSpec = field(default_factory=SurfaceSpec)
    ceiling: SurfaceSpec = field(default_factory=SurfaceSpec)
    furnish: bool | None = None

    def __post_init__(self) -> None:
        if self.type not in ROOM_TYPES:
            raise ValueError(f"type: unknown room type {self.type!r}; accepted: {accepted(ROOM_TYPES)}")
        object.__setattr__(self, "size", check_vector("size", self.size, 3, ROOM_SIZE_RANGE))
        object.__setattr__(self, "scale", check_number("scale", self.scale, *SCALE_RANGE))
        for name in ("floor", "walls", "ceiling"):
            if not isinstance(getattr(self, name), SurfaceSpec):
                raise ValueError(f"{name}: expected a SurfaceSpec")
        if self.furnish is not None and not isinstance(self.furnish, bool):
            raise ValueError(f"furnish: expected true, false or null, got {self.furnish!r}")

    def to_dict(self) -> dict:
        return {
            "type": self.type,
            "size": None if self.size is None else list(self.size),
            "scale": self.scale,
            "floor": self.floor.to_dict(),
            "walls": self.walls.to_dict(),
            "ceiling": self.ceiling.to_dict(),
            "furnish": self.furnish,
        }

    @classmethod
    def from_dict(cls, data, where: str = "room") -> "RoomSpec":
        data = dict(check_keys(cls, data, where))
        for name in ("floor", "walls", "ceiling"):
            data[name] = SurfaceSpec.from_dict(data.get(name) or {}, where=f"{where}.{name}")
        return build_entry(cls, data, where)


@dataclass(frozen=True)
class ObjectSpec:
    """One or more objects of a kind.

    Attributes:
        kind: one of `OBJECT_KINDS`.
        count: 1..`MAX_PER_KIND`; None = a seeded small number (2..4), as for "chairs".
        color: a `COLORS` name or ``(r, g, b)``; None = seeded from the kind's palette.
        material: a public material name; None = the kind's default.
        scale: multiplies the seeded size ("a large table").
        size: exact ``(w, d, h)`` meters; overrides the seeded size and ``scale``.
        position: exact floor (or support) position ``(x, y)`` of the footprint center, meters;
            wall-mounted kinds (door, window, painting, whiteboard) are moved onto the nearest wall.
        yaw_deg: rotation about +z, degrees (0 = front faces +y).
        on: instance name (``desk_0``) or kind (``desk``) to rest on; for ``on_top`` kinds.
    """

    kind: str
    count: int | None = 1
    color: str | tuple[float, float, float] | None = None
    material: str | None = None
    scale: float = 1.0
    size: tuple[float, float, float] | None = None
    position: tuple[float, float] | None = None
    yaw_deg: float | None = None
    on: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.kind, str) or self.kind not in OBJECT_KINDS:
            raise ValueError(f"kind: unknown object kind {self.kind!r}; accepted: {accepted(OBJECT_KINDS)}")
        if self.count is not None:
            if isinstance(self.count, bool) or not isinstance(self.count, int):
                raise ValueError(f"count: expected an integer or null, got {self.count!r}")
            if not 1 <= self.count <= MAX_PER_KIND:
                raise ValueError(
                    f"count: {self.count} {self.kind}(s) requested; accepted: 1..{MAX_PER_KIND} per kind"
                )
        object.__setattr__(self, "color", _check_color("color", self.color))
        _check_material("material", self.material)
        object.__setattr__(self, "scale", check_number("scale", self.scale, *SCALE_RANGE))
        object.__setattr__(self, "size", check_vector("size", self.size, 3, [OBJECT_SIZE_RANGE] * 3))
        object.__setattr__(self, "position", check_vector("position", self.position, 2, [(None, None)] * 2))
        if self.yaw_deg is not None:
            object.__setattr__(self, "yaw_deg", check_number("yaw_deg", self.yaw_deg))
        if (self.position is not None or self.yaw_deg is not None) and self.count != 1:
            raise ValueError(" position/yaw_deg need count = 1 (one spec entry per placed object)")
        if self.on is not None:
            if not isinstance(self.on, str):
                raise ValueError(f"on: expected an instance name or kind, got {self.on!r}")
            if OBJECT_KINDS[self.kind].placement != "on_top":
                on_top = accepted(k for k, v in OBJECT_KINDS.items() if v.placement == "on_top")
                raise ValueError(f"on: a {self.kind} stands on the floor; only these kinds rest on others: {on_top}")

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        for key in ("color", "size", "position"):
            if isinstance(d[key], tuple):
                d[key] = list(d[key])
        return d

    @classmethod
    def from_dict(cls, data, where: str = "object") -> "ObjectSpec":
        data = check_keys(cls, data, where)
        if "kind" not in data:
            raise ValueError(f"{where}: missing key 'kind'; accepted kinds: {accepted(OBJECT_KINDS)}")
        return build_entry(cls, data, where)


@dataclass(frozen=True)
class SceneSpec:
    """A room and its objects, or a building.

    Attributes:
        room: the room.
        objects: object entries, in order (instance names follow it).
        version: spec format version (`SPEC_VERSION`).
        building: a whole building (`lyra_sim.worlds.building_spec.BuildingSpec`) instead
            of one room; ``room`` and ``objects`` then stay at their defaults (each building
            room holds its own).
        motions: what moves in a dynamic scene (`lyra_sim.worlds.motion.MotionSpec`); a static
            scene is built at rest and ignores them. One room only (no buildings).
    """

    room: RoomSpec = field(default_factory=RoomSpec)
    objects: tuple[ObjectSpec, ...] = ()
    version: int = SPEC_VERSION
    building: Any = None
    motions: tuple[MotionSpec, ...] = ()

    def __post_init__(self) -> None:
        if self.version != SPEC_VERSION:
            raise ValueError(f"version: unsupported spec version {self.version!r}; accepted: {SPEC_VERSION}")
        if not isinstance(self.room, RoomSpec):
            raise ValueError("room: expected a RoomSpec")
        object.__setattr__(self, "objects", tuple(self.objects))
        if not all(isinstance(o, ObjectSpec) for o in self.objects):
            raise ValueError("objects: expected a list of ObjectSpec")
        check_caps([(o.kind, o.count or 1) for o in self.objects], "objects")
        object.__setattr__(self, "motions", tuple(self.motions))
        if not all(isinstance(m, MotionSpec) for m in self.motions):
            raise ValueError("motions: expected a list of MotionSpec")
        if len(self.motions) > MAX_MOTIONS:
            raise ValueError(f"motions: {len(self.motions)} given; at most {MAX_MOTIONS} per scene")
        if self.motions and self.building is not None:
            raise ValueError("motions: dynamic scenes are single rooms; a building cannot have motions")
        if self.building is not None:
            if not isinstance(self.building, _building_spec.BuildingSpec):
                raise ValueError("building: expected a BuildingSpec")
            if self.room != RoomSpec() or self.objects:
                raise ValueError("building: a building holds its rooms and their objects in building.rooms; "
                                 "leave room and objects out")

    def to_dict(self) -> dict:
        if self.building is not None:
            return {"version": self.version, "building": self.building.to_dict()}
        out = {"version": self.version, "room": self.room.to_dict(), "objects": [o.to_dict() for o in self.objects]}
        if self.motions:  # static specs keep their layout (and their manifests their bytes)
            out["motions"] = [m.to_dict() for m in self.motions]
        return out

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data) -> "SceneSpec":
        data = check_keys(cls, data, "spec")
        objects = data.get("objects", [])
        if not isinstance(objects, list):
            raise ValueError(f"objects: expected a list, got {type(objects).__name__}")
        building = data.get("building")
        motions = data.get("motions", [])
        if not isinstance(motions, list):
            raise ValueError(f"motions: expected a list, got {type(motions).__name__}")
        return cls(
            room=RoomSpec.from_dict(data.get("room", {})),
            objects=tuple(ObjectSpec.from_dict(o, where=f"objects[{i}]") for i, o in enumerate(objects)),
            version=data.get("version", SPEC_VERSION),
            building=None if building is None else _building_spec.BuildingSpec.from_dict(building),
            motions=tuple(MotionSpec.from_dict(m, where=f"motions[{i}]") for i, m in enumerate(motions)),
        )

    @classmethod
    def from_json(cls, text: str) -> "SceneSpec":
        return cls.from_dict(parse_json(text, "spec"))


def check_caps(counts: list[tuple[str, int]], where: str) -> None:
    """Raise when ``(kind, count)`` pairs exceed `MAX_PER_KIND` for a kind or `MAX_OBJECTS` in all."""
    per_kind: dict[str, int] = {}
    for kind, n in counts:
        per_kind[kind] = per_kind.get(kind, 0) + n
    for kind, n in per_kind.items():
        if n > MAX_PER_KIND:
            raise ValueError(f"{where}: {n} {kind}(s) requested; at most {MAX_PER_KIND} of one kind per scene")
    total = sum(per_kind.values())
    if total > MAX_OBJECTS:
        raise ValueError(f"{where}: {total} objects requested; at most {MAX_OBJECTS} objects per scene")


# Buildings build on the classes above; imported last so either module can be imported first.
from lyra_sim.worlds import building_spec as _building_spec  # noqa: E402
