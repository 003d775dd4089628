"""Buildings in the procedural world model: a `BuildingSpec` → a labeled Gaussian house.

`lyra_sim.worlds.procedural.generate` hands a spec with a ``building`` here. Steps:

1. **Plan** (`_resolve_plan`): rooms expanded from their entries, seeded areas (fitted to the
   building's area when given), polygons, doorways, entrance and windows from
   `lyra_sim.worlds.floorplan`, unless the spec gives them.
2. **Rooms** (`_furnish`): each room is laid out by the single-room rules
   (`lyra_sim.worlds.layout`) in its interior's bounding box, with the floor in front of every
   doorway and the entrance kept clear, the wall under windows kept for low furniture, and
   an L-shaped room's notch and open door leaves off limits. A room furnished by default
   that cannot hold all its default furniture drops the optional pieces; one whose
   explicitly requested objects do not fit is an error naming the room.
3. **Shell and Gaussians**: walls, floors and ceilings (`lyra_sim.worlds.house_shell`), the
   entrance door, windows and door leaves (`lyra_sim.worlds.house_openings`), sampled into
   surface Gaussians as single rooms
   are (only surfaces that face the rooms), lit per room, under a budget of
   `ProceduralConfig.building_max_gaussians`.

Instance names (labels) are numbered per kind across the building in room order, then the
entrance door, door leaves and windows. Object positions in the resolved spec are building
coordinates; the scene is built from exactly those numbers, so the resolved spec regenerates
it bit for bit. Streams: the plan draws from its own seeded stream, each room from its own
per-purpose streams, so editing one room's objects leaves the others as they were.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage

from lyra_sim.worlds import floorplan as fp
from lyra_sim.worlds import plan_geometry as pg
from lyra_sim.worlds.building_spec import (
    MAX_BUILDING_AREA,
    SEEDED_ROOM_COUNT,
    BuildingRoomSpec,
    BuildingSpec,
    DoorwaySpec,
    EntranceSpec,
    WindowSpec,
)
from lyra_sim.worlds.house_openings import WINDOW_DEPTH, part_primitives, plan_objects
from lyra_sim.worlds.house_shell import (
    SHELL_LABELS,
    Passage,
    RoomShape,
    bake,
    free_mask,
    passage,
    room_index,
    shell_boxes,
    shell_primitives,
)
from lyra_sim.worlds.layout import FreeSpace, layout
from lyra_sim.worlds.materials import color_rgb
from lyra_sim.worlds.procedural import (
    KEYS_STREAM,
    LAYOUT_STREAM,
    OBJECTS_STREAM,
    ROOM_STREAM,
    SUPPORTS_STREAM,
    Instance,
    ProceduralConfig,
    ProceduralScene,
    expand_objects,
    furnishing_options,
    labeled_meshes,
    layout_item,
    material_albedo,
    object_primitives,
    resolve_object,
    stream,
    surface_gaussians,
    yaw_degrees,
)
from lyra_sim.worlds.rooms import BUILDING_KINDS, ROOM_KINDS
from lyra_sim.worlds.sampling import Samples, SurfacePrimitive, sample_surfaces
from lyra_sim.worlds.spec import ObjectSpec, RoomSpec, SceneSpec, SurfaceSpec, check_caps

_PLAN = 7  # the plan's seed stream (procedural's are 0..6, house_openings' 8)
PLAN_KINDS = ("door", "window")
"""Kinds the floor plan places (a room's default furniture leaves them out)."""
DOOR_HEIGHT = 2.1


@dataclass(frozen=True)
class _Plan:
    spec: BuildingSpec  # resolved, but for the rooms' objects
    rooms: list[RoomShape]
    passages: list[Passage]
    doorways: list[tuple[int, int, pg.Segment, int]]  # rooms i, j, wall segment, sign toward room i


def _fit_areas(areas: list[float], types: list[str], total: float) -> list[float]:
    """``areas`` scaled to sum to ``total``, none below its type's min area."""
    mins = [ROOM_KINDS[t].min_area for t in types]
    out = list(areas)
    for _ in range(len(out) + 1):
        fixed = [k for k in range(len(out)) if out[k] <= mins[k] + 1e-9]
        rest = [k for k in range(len(out)) if k not in fixed]
        room = total - sum(mins[k] for k in fixed)
        scale = room / sum(out[k] for k in rest) if rest else 1.0
        out = [mins[k] if k in fixed else max(out[k] * scale, mins[k]) for k in range(len(out))]
        if abs(sum(out) - total) < 1e-6:
            break
    return out


def _resolve_plan(b: BuildingSpec, seed: int, cfg: ProceduralConfig) -> _Plan:
    """Every room, polygon and opening of ``b``: the spec's where given, else drawn (see the module docstring)."""
    rng = stream(seed, _PLAN)
    entries: list[BuildingRoomSpec] = []
    for _, r in b.program():
        n = r.count if r.count is not None else int(rng.integers(SEEDED_ROOM_COUNT[0], SEEDED_ROOM_COUNT[1] + 1))
        entries += [replace(r, count=1)] * n
    names = BuildingSpec(b.type, tuple(entries)).room_names()  # checks the room cap again, with the drawn counts
    types = [e.type for e in entries]
    height = b.height if b.height is not None else round(float(rng.uniform(*BUILDING_KINDS[b.type].height)), 2)
    door_h = b.door_height if b.door_height is not None else min(DOOR_HEIGHT, round(height - 0.3, 2))
    t = b.wall_thickness if b.wall_thickness is not None else cfg.wall_thickness
    if entries[0].polygon is None:
        drawn = [e.area if e.area is not None else float(rng.uniform(*ROOM_KINDS[x].area)) for e, x in zip(entries, types)]
        # A size word that shrinks the building ("a tiny apartment") may leave no plan that keeps every room its
        # type's min width: then the rooms' drawn areas shrink less, up to not at all, before that is an error.
        scales = [b.scale] if b.scale >= 1 or b.area is not None else [b.scale, math.sqrt(b.scale), 1.0]
        first: ValueError | None = None
        for scale in scales:
            areas = [a if e.area is not None else a * scale for a, e in zip(drawn, entries)]
            if b.area is not None or sum(areas) > MAX_BUILDING_AREA:
                areas = _fit_areas(areas, types, b.area if b.area is not None else MAX_BUILDING_AREA)
            try:
                polys = fp.partition(types, areas, rng)
                break
            except ValueError as exc:
                first = first or exc
        else:
            raise first
    else:
        polys = [e.polygon for e in entries]
    index = {n: i for i, n in enumerate(names)}
    if b.doorways is None:
        doorways = fp.connect(polys, types, rng, t)
    else:
        doorways = [fp.Doorway(index[d.rooms[0]], index[d.rooms[1]], d.center, d.width, d.door) for d in b.doorways]
    if b.entrance is None:
        front = fp.entrance(polys, types, rng, t)
    else:
        front = fp.Opening(index[b.entrance.room], b.entrance.center, b.entrance.width)
    if b.windows is None:
        windows = fp.windows(polys, types, front, rng, t, min(door_h, height - 0.3))
    else:
        windows = [fp.Opening(index[w.room], w.center, w.width, w.height, w.sill) for w in b.windows]
    if b.doorways is None:
        doorways = fp.settle_leaves(polys, doorways, front, t)
    rooms, resolved = [], []
    for r, (entry, name, poly) in enumerate(zip(entries, names, polys)):
        surfaces = _resolve_surfaces(entry, stream(seed, ROOM_STREAM, 1 + r))
        rooms.append(RoomShape.make(name, entry.type, poly, t, *surfaces))
        resolved.append(replace(entry, name=name, area=None, polygon=poly, floor=surfaces[0], walls=surfaces[1],
                                ceiling=surfaces[2]))
    sides, passages = [], []
    for d in doorways:
        seg, into = fp.doorway_side(polys, d.i, d.j, d.center, d.width)
        sides.append((d.i, d.j, seg, into))
        passages.append(passage(seg, d.center, d.width, t, door_h, d.door == "closed"))
    spec = BuildingSpec(
        b.type, tuple(resolved), None, 1.0, height, door_h, t,
        tuple(DoorwaySpec((names[d.i], names[d.j]), d.center, d.width, d.door) for d in doorways),
        EntranceSpec(names[front.i], front.center, front.width),
        tuple(WindowSpec(names[w.i], w.center, w.width, w.height, w.sill) for w in windows),
    )
    return _Plan(spec, rooms, passages, sides)


def _resolve_surfaces(entry: BuildingRoomSpec, rng: np.random.Generator) -> tuple[SurfaceSpec, ...]:
    kind = ROOM_KINDS[entry.type]
    out = []
    for name in ("floor", "walls", "ceiling"):
        given: SurfaceSpec = getattr(entry, name)
        material, palette = getattr(kind, name)
        color = given.color if given.color is not None else palette[int(rng.integers(len(palette)))]
        out.append(SurfaceSpec(given.material or material, color))
    return tuple(out)


# ---------------------------------------------------------------- rooms
def _corners(rect: pg.Rect, offset: np.ndarray) -> np.ndarray:
    x0, y0, x1, y1 = rect
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]) - offset


def _room_constraints(plan: _Plan, r: int):
    """``(keepouts, blocked)`` of room ``r`` in its layout frame (see `lyra_sim.worlds.layout.layout`)."""
    room, b = plan.rooms[r], plan.spec
    lo, hi = room.interior_box()
    c = (lo + hi) / 2
    t, H = b.wall_thickness, b.height
    keep, blocked = [], []
    for (i, j, seg, into), d in zip(plan.doorways, b.doorways):
        for k, side in ((i, into), (j, -into)):
            if k == r:
                zone, leaf = fp.opening_geometry(seg, d.center, d.width, side, t)
                keep.append((_corners(zone, c), 0.0, H))
                if d.door == "open" and k == i:
                    blocked.append(_corners(leaf, c))
    names = [x.name for x in plan.rooms]
    front = b.entrance
    if names.index(front.room) == r:
        seg, into = fp.exterior_side([x.cell for x in plan.rooms], r, front.center, front.width)
        keep.append((_corners(fp.opening_geometry(seg, front.center, front.width, into, t)[0], c), 0.0, H))
    for w in b.windows:
        if names.index(w.room) == r:
            seg, into = fp.exterior_side([x.cell for x in plan.rooms], r, w.center, w.width)
            zone = fp.opening_geometry(seg, w.center, w.width, into, t, depth=WINDOW_DEPTH + 0.02)[0]
            keep.append((_corners(zone, c), w.sill, w.sill + w.height))
    box_rect = (lo[0], lo[1], hi[0], hi[1])
    for rect in pg.difference_rects([box_rect], room.interior_rects):
        blocked.append(_corners(rect, c))
    return tuple(keep), tuple(blocked)


def _furnish(plan: _Plan, r: int, seed: int, cfg: ProceduralConfig, counters: dict[str, int]):
    """Lay out room ``r``: ``(instances, world placements by name, resolved object specs)``."""
    room, entry = plan.rooms[r], plan.spec.rooms[r]
    furnish = entry.furnish if entry.furnish is not None else not entry.objects
    options = [list(entry.objects)]
    if furnish:
        defaults = furnishing_options(room.type, stream(seed, OBJECTS_STREAM, 1 + r), PLAN_KINDS)
        options = [list(entry.objects) + d for d in defaults]
    lo, hi = room.interior_box()
    c = (lo + hi) / 2
    keepouts, blocked = _room_constraints(plan, r)
    error = None
    for attempt, objects in enumerate(options):
        base = dict(counters)
        try:
            spec = SceneSpec(room=RoomSpec(room.type, furnish=False), objects=tuple(objects))
            instances = expand_objects(spec, room.type, stream(seed, OBJECTS_STREAM, 1 + r, 1 + attempt), base)
            added: dict[str, Instance] = {}
            support_rng = stream(seed, SUPPORTS_STREAM, 1 + r)

            def make_support(kind: str, local: str):
                name = f"{kind}_{counters.get(kind, 0) + int(local.rsplit('_', 1)[1])}"
                inst = Instance(name, resolve_object(ObjectSpec(kind), room.type, support_rng))
                added[name] = inst
                return layout_item(inst, room.type)

            items = [layout_item(Instance(i.name, _local(i.spec, c)), room.type) for i in instances]
            result = layout(
                (hi[0] - lo[0], hi[1] - lo[1], plan.spec.height), items, stream(seed, LAYOUT_STREAM, 1 + r, attempt),
                make_support, agent_radius=cfg.agent_radius, resolution=cfg.grid_resolution,
                candidates=cfg.layout_candidates, restarts=cfg.layout_restarts, keepouts=keepouts, blocked=blocked,
            )
        except ValueError as e:
            error = e
            continue
        instances += [added[item.name] for item in result.added]
        check_caps([(i.spec.kind, 1) for i in instances], f"{room.name}: objects (with added supports)")
        for inst in instances:
            kind, number = inst.name.rsplit("_", 1)
            base[kind] = max(base.get(kind, 0), int(number) + 1)
        counters.clear()
        counters.update(base)
        specs = {i.name: i.spec for i in instances}
        placed, resolved = {}, []
        for p in result.placed:
            spec = specs[p.name]
            yaw = yaw_degrees(p, spec)
            x, y = p.x + c[0], p.y + c[1]
            if spec.position is not None and math.hypot(p.x - (spec.position[0] - c[0]), p.y - (spec.position[1] - c[1])) < 1e-6:
                x, y = spec.position  # build from the given numbers exactly
            placed[p.name] = replace(p, x=float(x), y=float(y), yaw=math.radians(yaw))
            resolved.append((p.name, replace(spec, position=(float(x), float(y)), yaw_deg=yaw, on=p.support)))
        order = {i.name: k for k, i in enumerate(instances)}
        resolved = [s for _, s in sorted(resolved, key=lambda x: order[x[0]])]
        return instances, placed, resolved, result.free_space
    raise ValueError(f"building: {room.name} ({room.type.replace('_', ' ')}, "
                     f"{pg.area(room.interior):.1f} m² inside): {error}")


def _local(spec: ObjectSpec, c: np.ndarray) -> ObjectSpec:
    if spec.position is None:
        return spec
    return replace(spec, position=(spec.position[0] - c[0], spec.position[1] - c[1]))


# ---------------------------------------------------------------- the building
def _free_space(plan: _Plan, grids: list[FreeSpace], res: float, radius: float) -> tuple[FreeSpace, np.ndarray]:
    """The building's free floor (room grids pasted onto one lattice-aligned grid) and its object footprints."""
    lo = np.min([r.interior_box()[0] for r in plan.rooms], axis=0)
    hi = np.max([r.interior_box()[1] for r in plan.rooms], axis=0)
    origin = np.floor(lo / res) * res - 2 * res
    nx, ny = (np.ceil((hi - origin) / res).astype(int) + 2).tolist()
    xs = origin[0] + (np.arange(nx) + 0.5) * res
    ys = origin[1] + (np.arange(ny) + 0.5) * res
    centers = np.stack(np.meshgrid(xs, ys, indexing="xy"), -1).reshape(-1, 2)
    standable = np.zeros(len(centers), dtype=bool)
    for room in plan.rooms:
        standable |= pg.contains(room.interior_rects, centers)
    for p in plan.passages:
        if not p.closed:
            standable |= pg.contains([p.rect], centers)
    standable = standable.reshape(ny, nx)
    objects = np.zeros((ny, nx), dtype=bool)
    for room, grid in zip(plan.rooms, grids):
        g_lo = room.interior_box()[0]
        ox, oy = (int(round(v)) for v in (g_lo - origin) / res)
        gy, gx = grid.occupied.shape
        sub = (slice(oy, oy + gy), slice(ox, ox + gx))
        inside = pg.contains(room.interior_rects, centers.reshape(ny, nx, 2)[sub].reshape(-1, 2))
        shape = objects[sub].shape
        objects[sub] |= grid.occupied[: shape[0], : shape[1]] & inside.reshape(shape)
    occupied = ~standable | objects
    dist = ndimage.distance_transform_edt(np.pad(~occupied, 1, constant_values=False))[1:-1, 1:-1] * res - res / 2
    return FreeSpace((float(origin[0]), float(origin[1])), res, occupied, dist >= radius, radius), objects


def generate_building(spec: SceneSpec, understood: list[str], unknown: list[str], seed: int,
                      cfg: ProceduralConfig) -> ProceduralScene:
    """A building from a spec with ``building`` (see the module docstring); returns what
    `lyra_sim.worlds.procedural.generate` returns, with ``plan`` set.

    Raises:
        ValueError: an impossible plan or a room whose requested objects do not fit (names it).
    """
    plan = _resolve_plan(spec.building, seed, cfg)
    b = plan.spec
    counters: dict[str, int] = {}
    furnished, grids, room_objects, yaw_deg = [], [], [], {}
    for r in range(len(plan.rooms)):
        instances, placed, resolved, grid = _furnish(plan, r, seed, cfg, counters)
        furnished += [(inst, placed[inst.name], plan.rooms[r].name, None) for inst in instances]
        grids.append(grid)
        room_objects.append(resolved)
        yaw_deg.update({inst.name: spec.yaw_deg for inst, spec in zip(instances, resolved)})
    everything = furnished + plan_objects(b, plan.rooms, plan.doorways, seed, counters)
    b = replace(b, rooms=tuple(replace(e, objects=tuple(objs)) for e, objs in zip(b.rooms, room_objects)))
    free, objects_occ = _free_space(plan, grids, cfg.grid_resolution, cfg.agent_radius)
    _, parts = ndimage.label(free.free)
    if parts != 1:
        raise ValueError(f"building: the free floor falls into {parts} parts for an agent of radius "
                         f"{cfg.agent_radius} m (a doorway is blocked); try another seed")

    keys = stream(seed, KEYS_STREAM)
    H = b.height
    labeled, sampled, shell = [], [], []
    for label, gt, prim in shell_primitives(shell_boxes(plan.rooms, plan.passages, b.wall_thickness, H), H, keys):
        labeled.append((label, label, gt))
        sampled.append(prim)
        shell.append(True)
    names = list(SHELL_LABELS) + [inst.name for inst, _, _, _ in everything]
    for index, (inst, placed, _, parts) in enumerate(everything):
        label = len(SHELL_LABELS) + index
        prims = (object_primitives(inst, placed, label, seed, index, keys) if parts is None
                 else part_primitives(parts, inst, placed, label, keys))
        for prim in prims:
            labeled.append((inst.name, inst.spec.kind, prim))
            sampled.append(prim)
            shell.append(False)
    shell = np.array(shell)
    samples = _sample(sampled, shell, plan, cfg)
    gaussians = _gaussians(samples, sampled, shell, names, plan, seed, cfg, free, objects_occ)
    meshes = labeled_meshes(labeled, names)
    objects = []
    for index, (inst, p, room, _) in enumerate(everything):
        v = meshes[len(SHELL_LABELS) + index].vertices
        objects.append({
            "name": inst.name, "kind": inst.spec.kind, "label": len(SHELL_LABELS) + index,
            "bbox": [v.min(0).tolist(), v.max(0).tolist()], "position": [p.x, p.y, p.z],
            "yaw_deg": yaw_deg.get(inst.name, math.degrees(p.yaw)), "size": list(inst.spec.size),
            "color": color_rgb(inst.spec.color).tolist(),
            "color_name": inst.spec.color if isinstance(inst.spec.color, str) else None,
            "material": inst.spec.material, "on": p.support, "room": room,
        })
    lo = np.min([r.interior_box()[0] for r in plan.rooms], axis=0)
    hi = np.max([r.interior_box()[1] for r in plan.rooms], axis=0)
    return ProceduralScene(
        gaussians=gaussians, meshes=meshes, spec=SceneSpec(building=b), understood=list(understood),
        unknown=list(unknown), room_bounds=([float(lo[0]), float(lo[1]), 0.0], [float(hi[0]), float(hi[1]), H]),
        objects=objects, free_space=free, spacing=samples.spacing, plan=plan_summary(plan, b),
    )


def plan_summary(plan: _Plan, b: BuildingSpec) -> dict:
    """The floor plan as plain JSON-able data (for previews, manifests, environments)."""
    rooms = []
    for room in plan.rooms:
        lo, hi = room.interior_box()
        rooms.append({
            "name": room.name, "type": room.type, "polygon": [list(p) for p in room.cell],
            "interior": [list(p) for p in room.interior], "area_m2": round(pg.area(room.cell), 4),
            "floor_area_m2": round(pg.area(room.interior), 4),
            "bounds": [[float(lo[0]), float(lo[1]), 0.0], [float(hi[0]), float(hi[1]), b.height]],
        })
    return {
        "type": b.type, "height": b.height, "door_height": b.door_height, "wall_thickness": b.wall_thickness,
        "area_m2": round(sum(r["area_m2"] for r in rooms), 4), "rooms": rooms,
        "doorways": [d.to_dict() for d in b.doorways], "entrance": b.entrance.to_dict(),
        "windows": [w.to_dict() for w in b.windows],
    }


def _sample(prims: list[SurfacePrimitive], shell: np.ndarray, plan: _Plan, cfg: ProceduralConfig) -> Samples:
    """Surface samples of everything that faces the rooms, within the building's Gaussian budget."""
    H = plan.spec.height
    lo, hi = np.full(3, -1e9), np.full(3, 1e9)  # no prim has the shell flag: visibility is `free_mask`'s

    def draw(spacing: float) -> Samples:
        s = sample_surfaces(prims, spacing, 1 << 62, lo, hi, cfg.tangent_scale)
        keep = ~shell[s.primitive] | free_mask(s.points, s.normals, plan.rooms, plan.passages, H)
        return Samples(s.points[keep], s.normals[keep], s.tangents[keep], s.sigmas[keep], s.primitive[keep], spacing)

    budget = cfg.building_max_gaussians
    coarse = max(cfg.spacing, 0.06)
    probe = draw(coarse)
    spacing = max(cfg.spacing, coarse * math.sqrt(len(probe.points) / budget) * 1.01)
    samples = probe if spacing == coarse else draw(spacing)
    while len(samples.points) > budget:
        spacing *= math.sqrt(len(samples.points) / budget) * 1.01
        samples = draw(spacing)
    return samples


def _gaussians(samples: Samples, prims, shell, names, plan: _Plan, seed: int, cfg: ProceduralConfig,
               free: FreeSpace, objects_occ: np.ndarray):
    """Shaded, lit Gaussians as `lyra_sim.worlds.procedural` makes them, lit per room (`house_shell.bake`)."""
    albedo = material_albedo(samples, prims, seed)
    on_shell = shell[samples.primitive]
    pushed = samples.points[:, :2] + 1e-3 * samples.normals[:, :2]
    rooms = room_index(pushed, plan.rooms)
    light = bake(samples.points, samples.normals, on_shell, rooms, plan.rooms, plan.spec.height, objects_occ,
                 free.origin, free.resolution, cfg.lighting)
    rgb = np.clip(albedo * light[:, None], 0, 1)
    return surface_gaussians(samples, prims, rgb, names, cfg)


def preview_room(plan: dict) -> dict:
    """The room a building's preview looks into: the living room, else the largest room (floor area)
    that is not a hallway or corridor."""
    rooms = plan["rooms"]
    return max(rooms, key=lambda r: (r["type"] == "living_room", ROOM_KINDS[r["type"]].zone != "circulation",
                                     r["floor_area_m2"], -rooms.index(r)))


def off_room_boxes(room: dict) -> list[tuple[list[float], list[float]]]:
    """``(lo [3], hi [3])`` boxes of the parts of a room's bounding box outside it (an L's notch)."""
    lo, hi = room["bounds"]
    interior = tuple(map(tuple, room["interior"]))
    return [([x0, y0, lo[2]], [x1, y1, hi[2]])
            for x0, y0, x1, y1 in pg.difference_rects([(lo[0], lo[1], hi[0], hi[1])], pg.rects(interior))]
