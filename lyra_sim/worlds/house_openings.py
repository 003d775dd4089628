"""The floor plan's own objects in a building: the front door, door leaves and windows.

They are instances like furniture (kinds ``door`` and ``window``, numbered after the rooms'
furniture), placed from the resolved plan rather than by the layout rules: the front door and
windows on the inner face of their exterior wall, a door leaf standing open (perpendicular to
its wall, hinged at the jamb nearer a corner) or closed (filling its doorway).
"""

from __future__ import annotations

import math

import numpy as np

from lyra_sim.worlds import floorplan as fp
from lyra_sim.worlds import plan_geometry as pg
from lyra_sim.worlds.building_spec import BuildingSpec
from lyra_sim.worlds.house_shell import RoomShape
from lyra_sim.worlds.layout import Placed
from lyra_sim.worlds.materials import color_rgb
from lyra_sim.worlds.objects import FIXED, MAIN, box
from lyra_sim.worlds.procedural import Instance, layout_item, resolve_object, stream
from lyra_sim.worlds.sampling import SurfacePrimitive
from lyra_sim.worlds.spec import ObjectSpec

_PLAN_OBJECTS = 8  # this module's seed stream (procedural's are 0..6, the plan's 7)
WINDOW_DEPTH = 0.06


def _on_wall(seg: pg.Segment, center, into: int, t: float, depth: float, z: float, item) -> Placed:
    """A wall-mounted pose: back on the wall face, front into the room."""
    off = t / 2 + depth / 2 + 1e-4
    x, y = (center[0], seg.c + into * off) if seg.axis == 0 else (seg.c + into * off, center[1])
    n = (0.0, float(into)) if seg.axis == 0 else (float(into), 0.0)
    return Placed(item, float(x), float(y), float(z), math.atan2(-n[0], n[1]))


def _leaf_parts(size) -> list:
    w, d, h = size
    parts = [box((w, d, h), (0, 0, h / 2), role=MAIN)]
    for sy in (-1, 1):
        parts.append(box((0.12, 0.025, 0.02), (w / 2 - 0.1, sy * (d / 2 + 0.0125), 1.0), role=FIXED,
                         material="metal", color="silver"))
    return parts


def plan_objects(b: BuildingSpec, rooms: list[RoomShape], doorways: list[tuple[int, int, pg.Segment, int]],
                 seed: int, counters: dict[str, int]):
    """The entrance door, door leaves and windows of a resolved building ``b``.

    Args:
        rooms: the rooms' shapes, in ``b.rooms`` order.
        doorways: per ``b.doorways`` entry, ``(room i, room j, wall segment, sign toward room i)``.
        counters: kind → next instance number (continued from the rooms' furniture).

    Returns:
        ``[(instance, placement, room name, parts)]``; ``parts`` are a door leaf's (hand-built,
        see `part_primitives`), None for kinds built by their builder.
    """
    t = b.wall_thickness
    rng = stream(seed, _PLAN_OBJECTS)
    cells = [x.cell for x in rooms]
    names = [x.name for x in rooms]
    out = []

    def new(kind: str, room_type: str, size) -> Instance:
        n = counters.get(kind, 0)
        counters[kind] = n + 1
        spec = resolve_object(ObjectSpec(kind, size=tuple(float(round(s, 4)) for s in size)), room_type, rng)
        return Instance(f"{kind}_{n}", spec)

    r = names.index(b.entrance.room)
    seg, into = fp.exterior_side(cells, r, b.entrance.center, b.entrance.width)
    inst = new("door", rooms[r].type, (b.entrance.width, 0.05, b.door_height))
    out.append((inst, _on_wall(seg, b.entrance.center, into, t, 0.05, 0.0, layout_item(inst, rooms[r].type)),
                names[r], None))
    for (i, j, seg, into), d in zip(doorways, b.doorways):
        if d.door == "none":
            continue
        size = (d.width - 0.02, fp.LEAF_THICKNESS, b.door_height - 0.01)
        inst = new("door", rooms[i].type, size)
        item = layout_item(inst, rooms[i].type)
        if d.door == "closed":
            p = seg.point(seg.along(d.center))
            yaw = 0.0 if seg.axis == 0 else math.pi / 2
        else:  # standing in the leaf rectangle, perpendicular to the wall
            leaf = fp.opening_geometry(seg, d.center, d.width, into, t)[1]
            p = ((leaf[0] + leaf[2]) / 2, (leaf[1] + leaf[3]) / 2)
            yaw = math.pi / 2 if seg.axis == 0 else 0.0
        out.append((inst, Placed(item, float(p[0]), float(p[1]), 0.005, yaw), names[i], _leaf_parts(size)))
    for w in b.windows:
        r = names.index(w.room)
        seg, into = fp.exterior_side(cells, r, w.center, w.width)
        inst = new("window", rooms[r].type, (w.width, WINDOW_DEPTH, w.height))
        out.append((inst, _on_wall(seg, w.center, into, t, WINDOW_DEPTH, w.sill, layout_item(inst, rooms[r].type)),
                    names[r], None))
    return out


def part_primitives(parts, inst: Instance, placed: Placed, label: int, keys) -> list[SurfacePrimitive]:
    """Primitives of hand-built parts (door leaves), as `object_primitives` makes them for kinds."""
    r, tr = placed.transform()
    main = color_rgb(inst.spec.color)
    out = []
    for part in parts:
        material, color = (inst.spec.material, main) if part.role == MAIN else (part.material, part.color)
        out.append(SurfacePrimitive(part.mesh.transformed(r, tr), material, np.clip(color * part.tint, 0, 1), label,
                                    part.tex_frame @ r.T, r @ part.tex_origin + tr, float(keys.random()),
                                    base_z=placed.z))
    return out
