"""The procedural world model: condition (prompt | spec) → a labeled Gaussian room.

The offline default generator of lyra-sim (no weights, CPU only):
prompt → `SceneSpec` → seeded choices (room size, colors, counts) → layout → closed
primitives → ground-truth meshes + surface Gaussians with procedural textures and baked
light.

Determinism: every random choice comes from ``numpy.random.Generator`` streams derived
from ``seed`` and a fixed stream id (and, per object, its index), so the same condition
and seed give byte-identical outputs, and regenerating from the returned *resolved* spec
with the same seed gives the same scene again.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, replace
from typing import Iterator

import numpy as np
import torch

from lyra_sim.scene import GaussianScene
from lyra_sim.worlds import geometry as geo
from lyra_sim.worlds.dynamic_layout import drawer_clearance, drawer_tray, make_mover, plan_motions
from lyra_sim.worlds.layout import FreeSpace, Item, Placed, layout
from lyra_sim.worlds.lighting import Lighting, bake
from lyra_sim.worlds.materials import MATERIALS, Noise, TextureInput, color_rgb, floor_texture, shade_materials
from lyra_sim.worlds.motion import Binding, Mover, bind
from lyra_sim.worlds.objects import ACCENT, MAIN, OBJECT_KINDS, kind_size
from lyra_sim.worlds.prompt import parse_prompt
from lyra_sim.worlds.rooms import ROOM_KINDS
from lyra_sim.worlds.sampling import Samples, SurfacePrimitive, frame_quats, sample_surfaces
from lyra_sim.worlds.spec import ROOM_SIZE_RANGE, ObjectSpec, RoomSpec, SceneSpec, SurfaceSpec, check_caps

GENERATOR_VERSION = "2"
"""Bumped whenever the same condition + seed would give a different scene."""

SHELL_LABELS = ("floor", "wall", "ceiling")

# Seed stream ids: one independent generator per purpose, so adding a draw to one purpose
# never shifts the others.
ROOM_STREAM, OBJECTS_STREAM, LAYOUT_STREAM, NOISE_STREAM, BUILD_STREAM, KEYS_STREAM, SUPPORTS_STREAM, ROUTES_STREAM = range(8)


def stream(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


@dataclass(frozen=True)
class ProceduralConfig:
    """Settings of the procedural generator.

    Attributes:
        spacing: target surface sample spacing (m); one Gaussian per sample.
        max_gaussians: budget; big rooms (warehouses) get a coarser spacing to stay within it.
        building_max_gaussians: the budget of a whole building (`lyra_sim.worlds.house`).
        tangent_scale: tangential σ / local sample spacing.
        normal_scale: σ along the normal / spacing (thin, surface-aligned Gaussians).
        opacity: opacity of every Gaussian.
        wall_thickness: thickness (m) of the floor, wall and ceiling slabs (meshes).
        agent_radius: radius (m) of the disk agent that must reach all free floor.
        grid_resolution: cell (m) of the free-floor grid.
        layout_candidates: poses tried per object and layout attempt.
        layout_restarts: layout attempts before giving up.
        lighting: baked lighting parameters.
        device: torch device of the returned Gaussians.
    """

    spacing: float = 0.02
    max_gaussians: int = 600_000
    building_max_gaussians: int = 1_500_000
    tangent_scale: float = 0.7
    normal_scale: float = 0.08
    opacity: float = 0.97
    wall_thickness: float = 0.1
    agent_radius: float = 0.25
    grid_resolution: float = 0.05
    layout_candidates: int = 160
    layout_restarts: int = 6
    lighting: Lighting = field(default_factory=Lighting)
    device: str = "cpu"

    def __post_init__(self) -> None:
        if not 0.003 <= self.spacing <= 0.5:
            raise ValueError(f"spacing: expected 0.003..0.5 m, got {self.spacing}")
        if self.max_gaussians < 1000 or self.building_max_gaussians < 1000:
            raise ValueError(f"max_gaussians, building_max_gaussians: expected >= 1000, got {self.max_gaussians}, "
                             f"{self.building_max_gaussians}")
        if not 0 < self.opacity <= 1:
            raise ValueError(f"opacity: expected a value in (0, 1], got {self.opacity}")


@dataclass(frozen=True)
class LabeledMesh:
    """Ground-truth triangle mesh of one labeled thing (world frame).

    One closed mesh per primitive, concatenated: every edge is shared by exactly two faces.
    Build a trimesh with ``process=False`` (`to_trimesh`): merging coincident vertices of
    touching primitives would join their edges.

    Attributes:
        vertices: ``[V, 3]`` float64.
        faces: ``[F, 3]`` int64, outward winding.
        label: instance name (``chair_0``, ``floor``).
        kind: object kind, or ``floor``/``wall``/``ceiling``.
    """

    vertices: np.ndarray
    faces: np.ndarray
    label: str
    kind: str

    def to_trimesh(self):
        import trimesh

        return trimesh.Trimesh(self.vertices, self.faces, process=False)


@dataclass(frozen=True)
class ProceduralScene:
    """What `generate` returns.

    Attributes:
        gaussians: the labeled scene; ``labels`` index ``label_names`` = floor, wall,
            ceiling, then object instances.
        meshes: ground-truth meshes, one per label, same order as ``label_names``.
        spec: the resolved spec (every seeded choice filled in; regenerates this scene).
        understood, unknown: prompt words (empty for a spec condition).
        room_bounds: interior box ``(lo [3], hi [3])``.
        objects: per instance (JSON-able): name, kind, label (index), bbox ``[lo, hi]`` (world
            AABB of its mesh), position (x, y, z of the footprint center), yaw_deg, size,
            color (rgb), color_name, material, on (support name or None).
        free_space: the free-floor grid (agent spawn region).
        spacing: sample spacing actually used (m).
        plan: for a building, its floor plan (JSON-able: rooms with polygons, interiors and
            areas, doorways, entrance, windows; see `lyra_sim.worlds.house`); None for one room.
        movers: what moves (``generate(..., motion=True)``): one `lyra_sim.worlds.motion.Mover` per
            moving thing, its Gaussians labelled ``mover.label`` (a moving joint gets a label of
            its own, ``door_0.leaf``, after the objects'); empty for a static scene.
    """

    gaussians: GaussianScene
    meshes: list[LabeledMesh]
    spec: SceneSpec
    understood: list[str]
    unknown: list[str]
    room_bounds: tuple[list[float], list[float]]
    objects: list[dict]
    free_space: FreeSpace
    spacing: float
    plan: dict | None = None
    movers: tuple[Mover, ...] = ()


@dataclass(frozen=True)
class Instance:
    """One resolved object: its name and a spec entry with every choice filled (count 1)."""

    name: str
    spec: ObjectSpec


def _as_spec(condition) -> tuple[SceneSpec, list[str], list[str]]:
    if isinstance(condition, str):
        parsed = parse_prompt(condition)
        return parsed.spec, parsed.understood, parsed.unknown
    if isinstance(condition, SceneSpec):
        return condition, [], []
    if isinstance(condition, dict):
        return SceneSpec.from_dict(condition), [], []
    raise ValueError(f"condition: expected a prompt (str), a SceneSpec or a spec dict, got {type(condition).__name__}")


def _resolve_room(room: RoomSpec, rng: np.random.Generator) -> RoomSpec:
    kind = ROOM_KINDS[room.type]
    if room.size is None:
        # A size word scales the kind's seeded range; the result stays a size RoomSpec accepts.
        size = tuple(round(min(max(rng.uniform(*r) * room.scale, lo), hi), 2)
                     for r, (lo, hi) in zip((kind.width, kind.depth), ROOM_SIZE_RANGE))
        size += (round(rng.uniform(*kind.height), 2),)
    else:
        size = room.size
    surfaces = {}
    for name in ("floor", "walls", "ceiling"):
        given: SurfaceSpec = getattr(room, name)
        material, palette = getattr(kind, name)
        color = given.color if given.color is not None else palette[int(rng.integers(len(palette)))]
        surfaces[name] = SurfaceSpec(given.material or material, color)
    return RoomSpec(room.type, size, 1.0, furnish=False, **surfaces)


def resolve_object(spec: ObjectSpec, room_type: str, rng: np.random.Generator) -> ObjectSpec:
    kind = OBJECT_KINDS[spec.kind]
    if spec.size is None:
        base = np.array(kind_size(spec.kind, room_type)) * spec.scale
        size = tuple(float(round(s, 3)) for s in base * (1 + kind.jitter * rng.uniform(-1, 1, 3)))
    else:
        size = spec.size
    color = spec.color if spec.color is not None else kind.colors[int(rng.integers(len(kind.colors)))]
    return replace(spec, count=1, color=color, material=spec.material or kind.material, scale=1.0, size=size)


def expand_objects(spec: SceneSpec, room_type: str, rng: np.random.Generator,
            counters: dict[str, int] | None = None) -> list[Instance]:
    """One resolved instance per object; the instances of one entry share its color ("two red chairs").

    ``counters`` (kind → next instance number) continues a numbering across calls (a building's rooms).
    """
    groups = [(o, o.count if o.count is not None else int(rng.integers(2, 5))) for o in spec.objects]
    if _furnished_by_default(spec):
        groups += [(ObjectSpec(kind), int(rng.integers(lo, hi + 1))) for kind, lo, hi in
                   ROOM_KINDS[room_type].defaults]
        groups += [(ObjectSpec(group[int(rng.integers(len(group)))]), 1) for group in
                   ROOM_KINDS[room_type].alternatives]
    check_caps([(o.kind, n) for o, n in groups], "objects")
    entries: list[ObjectSpec] = []
    for o, n in groups:
        kind = OBJECT_KINDS[o.kind]
        # a named material brings its own colors (a marble table is not oak-colored)
        palette = MATERIALS[o.material].colors if o.material not in (None, kind.material) else kind.colors
        color = o.color if o.color is not None else palette[int(rng.integers(len(palette)))]
        entries += [replace(o, count=1, color=color)] * n
    counters = {} if counters is None else counters
    out = []
    for e in entries:
        i = counters.get(e.kind, 0)
        counters[e.kind] = i + 1
        out.append(Instance(f"{e.kind}_{i}", resolve_object(e, room_type, rng)))
    _check_supports(out)
    return out


def furnishing_options(room_type: str, rng: np.random.Generator, leave_out: tuple[str, ...] = ()) -> list[list[ObjectSpec]]:
    """A room type's default furniture (without the kinds ``leave_out``), then fallbacks with less of it: the
    minimum counts, then without the alternatives (a bathroom too small for a bathtub or a shower keeps its
    toilet and sink), then fewer and fewer of the required pieces, down to none."""
    kind = ROOM_KINDS[room_type]
    full, least = [], []
    for k, lo, hi in kind.defaults:
        n = int(rng.integers(lo, hi + 1))
        if k not in leave_out and n:
            full.append(ObjectSpec(k, n))
            if lo:
                least.append(ObjectSpec(k, lo))
    picks = [ObjectSpec(group[int(rng.integers(len(group)))]) for group in kind.alternatives]
    return [full + picks, least + picks] + [least[:k] for k in range(len(least), -1, -1)]


def _furnished_by_default(spec: SceneSpec) -> bool:
    return spec.room.furnish if spec.room.furnish is not None else not spec.objects


def furnishing_levels(condition: str | SceneSpec | dict) -> int:
    """How many furnishings of a single room `generate` can build (its ``furnishing`` argument): 1, the scene as
    asked for, plus, for a room furnished by default, its lesser furnishings (`furnishing_options`)."""
    spec = _as_spec(condition)[0]
    if spec.building is not None or not _furnished_by_default(spec):
        return 1
    return len(furnishing_options(spec.room.type, np.random.default_rng(0)))  # the ladder's length is the type's


def _furnishings(spec: SceneSpec, room_type: str, seed: int) -> Iterator[tuple[list[Instance], np.random.Generator]]:
    """``(instances, layout stream)`` to try in turn for a single room: the scene as asked for, then, for a room
    furnished by default ("a small bathroom"), lesser furnishings (`furnishing_options` after the first) beside
    the objects asked for, so that a small room of any type gets a layout. Only drawn when needed: a room whose
    first layout works is the same bytes as before fallbacks existed."""
    yield expand_objects(spec, room_type, stream(seed, OBJECTS_STREAM)), stream(seed, LAYOUT_STREAM)
    if not _furnished_by_default(spec):
        return
    options = furnishing_options(room_type, stream(seed, OBJECTS_STREAM, 1))[1:]
    for k, furniture in enumerate(options, 1):
        lesser = replace(spec, room=replace(spec.room, furnish=False), objects=tuple(spec.objects) + tuple(furniture))
        yield expand_objects(lesser, room_type, stream(seed, OBJECTS_STREAM, 1, k)), stream(seed, LAYOUT_STREAM, 1, k)


def _check_supports(instances: list[Instance]) -> None:
    names = {inst.name: inst.spec.kind for inst in instances}
    supports = sorted(k for k, v in OBJECT_KINDS.items() if v.support)
    for inst in instances:
        on = inst.spec.on
        if on is None:
            continue
        kind = names.get(on, on)
        if kind not in OBJECT_KINDS or not OBJECT_KINDS[kind].support:
            raise ValueError(
                f"{inst.name}.on: {on!r} is not something to rest on; accepted: an instance name of, or one of "
                f"the kinds {', '.join(supports)}"
            )


def layout_item(inst: Instance, room_type: str) -> Item:
    s = inst.spec
    kind = OBJECT_KINDS[s.kind]
    rule = dict(ROOM_KINDS[room_type].rules).get(s.kind, kind.placement)
    return Item(
        name=inst.name,
        kind=s.kind,
        size=tuple(s.size),
        rule=rule,
        anchors=kind.anchors,
        position=s.position,
        yaw=None if s.yaw_deg is None else math.radians(s.yaw_deg),
        on=s.on,
        mount_height=kind.mount_height,
        walkable=kind.walkable,
        needs_support=kind.needs_support,
    )


def _shell(size, t: float, room: RoomSpec, keys: np.random.Generator) -> list[tuple[str, SurfacePrimitive]]:
    """Floor, wall and ceiling slabs around the interior ``[-W/2, W/2] × [-D/2, D/2] × [0, H]``."""
    W, D, H = size
    slabs = [
        ("floor", (W + 2 * t, D + 2 * t, t), (0, 0, -t / 2), room.floor, floor_texture(room.floor.material)),
        ("ceiling", (W + 2 * t, D + 2 * t, t), (0, 0, H + t / 2), room.ceiling, room.ceiling.material),
    ]
    for sy in (-1, 1):
        slabs.append(("wall", (W + 2 * t, t, H), (0, sy * (D + t) / 2, H / 2), room.walls, room.walls.material))
    for sx in (-1, 1):
        slabs.append(("wall", (t, D, H), (sx * (W + t) / 2, 0, H / 2), room.walls, room.walls.material))
    out = []
    for label, dims, center, surface, texture in slabs:
        dims = np.array(dims)
        order = np.argsort(-dims, kind="stable")
        out.append((label, SurfacePrimitive(
            geo.box(dims).transformed(np.eye(3), np.array(center)),
            texture,
            color_rgb(surface.color),
            SHELL_LABELS.index(label),
            np.eye(3)[order],
            np.array(center) - dims / 2,
            float(keys.random()),
            shell=True,
        )))
    return out


def object_primitives(inst: Instance, placed: Placed, label: int, seed: int, index: int,
                      keys: np.random.Generator, joint: str | None = None, joint_label: int = -1,
                      tray: float = 0.0) -> list[SurfacePrimitive]:
    """The primitives of one object in the world; those of ``joint`` get ``joint_label``.

    ``tray`` > 0 gives the joint (a drawer) a box that deep behind its front, hidden inside the
    furniture until the drawer slides out.
    """
    kind = OBJECT_KINDS[inst.spec.kind]
    rng = stream(seed, BUILD_STREAM, index)
    accent = color_rgb(kind.accent_colors[int(rng.integers(len(kind.accent_colors)))])
    main = color_rgb(inst.spec.color)
    r, t = placed.transform()
    parts = kind.build(np.array(inst.spec.size), rng)
    if joint is not None and tray > 0:
        parts.append(drawer_tray(parts, joint, tray))
    prims = []
    for part in parts:
        if part.role == MAIN:
            material, color = inst.spec.material, main
        elif part.role == ACCENT:
            material, color = kind.accent_material, accent
        else:
            material, color = part.material, part.color
        prims.append(SurfacePrimitive(
            part.mesh.transformed(r, t),
            material,
            np.clip(color * part.tint, 0, 1),
            joint_label if joint is not None and part.joint == joint else label,
            part.tex_frame @ r.T,
            r @ part.tex_origin + t,
            float(keys.random()),
            base_z=placed.z,
        ))
    return prims


def labeled_meshes(labeled: list[tuple[str, str, SurfacePrimitive]], names: list[str]) -> list[LabeledMesh]:
    grouped: dict[str, tuple[str, list]] = {n: ("", []) for n in names}
    for name, kind, prim in labeled:
        grouped[name] = (kind, grouped[name][1] + [prim.mesh])
    out = []
    for name in names:
        kind, meshes = grouped[name]
        offsets = np.cumsum([0] + [len(m.vertices) for m in meshes])
        vertices = np.concatenate([m.vertices for m in meshes])
        faces = np.concatenate([m.triangles() + o for m, o in zip(meshes, offsets)])
        out.append(LabeledMesh(vertices, faces.astype(np.int64), name, kind))
    return out


def yaw_degrees(p: Placed, spec: ObjectSpec) -> float:
    """The yaw of ``p`` in degrees, as the resolved spec records it: the given one when kept.

    The scene is then built from ``radians`` of this value, not from ``p.yaw``: the two can
    differ in the last bit, and a resolved spec must rebuild the same bytes.
    """
    if spec.yaw_deg is not None and math.radians(spec.yaw_deg) == p.yaw:
        return spec.yaw_deg
    return math.degrees(p.yaw)


def generate(condition: str | SceneSpec | dict, seed: int, config: ProceduralConfig | None = None, *,
             motion: bool = False, times: tuple[float, ...] = (), furnishing: int = 0) -> ProceduralScene:
    """Generate a room (or a building, `lyra_sim.worlds.house`) from a prompt, a `SceneSpec`, or a spec dict.

    Args:
        condition: text prompt (see `lyra_sim.worlds.prompt`) or a scene spec.
        seed: non-negative integer; same condition + seed → byte-identical outputs.
        config: generator settings (`ProceduralConfig()` by default).
        motion: build the scene for its motions (`lyra_sim.worlds.dynamic_world`): route
            followers placed on routes, moving joints labelled apart, drawers given room to
            slide; the spec's motions come back resolved. False: the scene at rest, motions ignored
            (kept in the spec as given).
        times: with ``motion``, the times (s) at which the movers together must leave the free floor
            connected (`lyra_sim.worlds.dynamic_layout.plan_motions`).
        furnishing: the furnishing of a single room to start from (of `furnishing_levels`): 0, the scene as asked
            for; k >= 1, its k-th lesser furnishing. A furnishing whose objects cannot all be placed moves on to
            the next one by itself; `lyra_sim.worlds.dynamic_world.generate_dynamic` also steps through them
            when the motions find no room.

    Raises:
        ValueError: bad prompt/spec (names the problem), counts over the caps, objects that
            cannot all be placed (names which), or (``motion``) a motion that names no object
            of the scene, cannot move it, or finds no room to move.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")
    seed = int(seed)
    cfg = config or ProceduralConfig()
    spec, understood, unknown = _as_spec(condition)
    if spec.building is not None:
        if motion:
            raise ValueError("motions: dynamic scenes are single rooms; a building cannot move (yet)")
        from lyra_sim.worlds.house import generate_building  # builds on this module's helpers

        return generate_building(spec, understood, unknown, seed, cfg)

    levels = furnishing_levels(spec)
    if isinstance(furnishing, bool) or not isinstance(furnishing, int) or not 0 <= furnishing < levels:
        raise ValueError(f"furnishing: expected 0..{levels - 1} for this scene, got {furnishing!r}")
    room = _resolve_room(spec.room, stream(seed, ROOM_STREAM))
    error: ValueError | None = None
    for instances, layout_rng in itertools.islice(_furnishings(spec, room.type, seed), furnishing, None):
        try:
            bindings = bind(spec.motions, [(i.name, i.spec.kind) for i in instances]) if motion else []
        except ValueError as exc:
            if furnishing == 0 and error is None:  # the scene as asked for: a bad motion
                raise
            error = error or exc
            continue  # a lesser furnishing without the object a motion moves
        on_route = {b.instance for b in bindings if b.motion.style == "path"}
        clearance = {b.instance: drawer_clearance(b) for b in bindings if b.motion.style == "slide"}
        support_rng = stream(seed, SUPPORTS_STREAM)
        added: dict[str, Instance] = {}

        def make_support(kind: str, name: str) -> Item:
            inst = Instance(name, resolve_object(ObjectSpec(kind), room.type, support_rng))
            added[name] = inst
            return layout_item(inst, room.type)

        try:
            result = layout(
                room.size,
                [replace(layout_item(i, room.type), clearance=clearance.get(i.name, 0.0)) for i in instances
                 if i.name not in on_route],
                layout_rng,
                make_support,
                agent_radius=cfg.agent_radius,
                resolution=cfg.grid_resolution,
                candidates=cfg.layout_candidates,
                restarts=cfg.layout_restarts,
            )
            break
        except ValueError as exc:
            error = error or exc
    else:
        raise error
    instances += [added[item.name] for item in result.added]
    check_caps([(i.spec.kind, 1) for i in instances], "objects (with the supports added for stacked objects)")
    specs = {i.name: i.spec for i in instances}
    yaw_deg = {p.name: yaw_degrees(p, specs[p.name]) for p in result.placed}
    placed = {p.name: replace(p, yaw=math.radians(yaw_deg[p.name])) for p in result.placed}
    resolved: list = []
    if bindings:
        index_of = {i.name: k for k, i in enumerate(instances)}

        def joint_axes(b: Binding):
            kind = OBJECT_KINDS[b.object_kind]
            size = specs[b.instance].size
            parts = kind.build(np.array(size), stream(seed, BUILD_STREAM, index_of[b.instance]))
            return (*kind.joint_axis(b.joint, size), parts)

        starts = {n: specs[n].position for n in on_route if specs[n].position is not None}
        plans, rests = plan_motions(bindings, {i.name: i.spec.size for i in instances}, result, room.size,
                                    stream(seed, ROUTES_STREAM), joint_axes, starts, times)
        resolved = [plans[k] for k in range(len(bindings))]
        for k, (x, y, yaw) in rests.items():
            name = bindings[k].instance
            yaw_deg[name] = math.degrees(yaw)
            placed[name] = Placed(layout_item(instances[index_of[name]], room.type), x, y, 0.0, math.radians(yaw_deg[name]))

    keys = stream(seed, KEYS_STREAM)
    joints = {b.instance: b for b in bindings if b.joint is not None}
    joint_labels = {b.instance: len(SHELL_LABELS) + len(instances) + k for k, b in enumerate(joints.values())}
    names = list(SHELL_LABELS) + [i.name for i in instances] + [b.label for b in joints.values()]
    labeled = [(label, label, prim) for label, prim in _shell(room.size, cfg.wall_thickness, room, keys)]
    for index, inst in enumerate(instances):
        label = len(SHELL_LABELS) + index
        b = joints.get(inst.name)
        tray = resolved[bindings.index(b)].amplitude if b is not None and b.motion.style == "slide" else 0.0
        for prim in object_primitives(inst, placed[inst.name], label, seed, index, keys,
                                      joint=None if b is None else b.joint, joint_label=joint_labels.get(inst.name, -1),
                                      tray=tray):
            labeled.append((names[prim.label], inst.spec.kind, prim))
    prims = [p for _, _, p in labeled]

    W, D, H = room.size
    lo, hi = np.array([-W / 2, -D / 2, 0.0]), np.array([W / 2, D / 2, H])
    samples = sample_surfaces(prims, cfg.spacing, cfg.max_gaussians, lo, hi, cfg.tangent_scale)
    gaussians = _gaussians(samples, prims, names, seed, cfg, lo, hi, result.free_space)

    meshes = labeled_meshes(labeled, names)
    final_objects = []
    objects = []
    for index, inst in enumerate(instances):
        p = placed[inst.name]
        final_objects.append(replace(inst.spec, position=(p.x, p.y), yaw_deg=yaw_deg[inst.name], on=p.support))
        v = meshes[len(SHELL_LABELS) + index].vertices
        if inst.name in joints:  # the object as built: its moving part in place
            v = np.concatenate([v, meshes[joint_labels[inst.name]].vertices])
        objects.append({
            "name": inst.name,
            "kind": inst.spec.kind,
            "label": len(SHELL_LABELS) + index,
            "bbox": [v.min(0).tolist(), v.max(0).tolist()],
            "position": [p.x, p.y, p.z],
            "yaw_deg": yaw_deg[inst.name],
            "size": list(inst.spec.size),
            "color": color_rgb(inst.spec.color).tolist(),
            "color_name": inst.spec.color if isinstance(inst.spec.color, str) else None,
            "material": inst.spec.material,
            "on": p.support,
        })
    movers = [make_mover(b, resolved[k], placed[b.instance], specs[b.instance].size, names.index(b.label))
              for k, b in enumerate(bindings)]
    return ProceduralScene(
        gaussians=gaussians,
        meshes=meshes,
        spec=SceneSpec(room=room, objects=tuple(final_objects), motions=tuple(resolved) if motion else spec.motions),
        understood=list(understood),
        unknown=list(unknown),
        room_bounds=(lo.tolist(), hi.tolist()),
        objects=objects,
        free_space=result.free_space,
        spacing=samples.spacing,
        movers=tuple(movers),
    )


def material_albedo(samples: Samples, prims: list[SurfacePrimitive], seed: int) -> np.ndarray:
    """``[S, 3]`` material colors of surface samples (textures in each primitive's frame, seeded noise)."""
    owner = samples.primitive
    textures = sorted({p.texture for p in prims})
    tex_index = np.array([textures.index(p.texture) for p in prims])[owner]
    frames = np.stack([p.tex_frame for p in prims])[owner]
    origins = np.stack([p.tex_origin for p in prims])[owner]
    q = np.einsum("nij,nj->ni", frames, samples.points - origins)
    base = np.stack([p.color for p in prims])[owner]
    key = np.array([p.key for p in prims])[owner]
    return shade_materials(
        textures, tex_index, TextureInput(q, samples.points, samples.normals, base, key, Noise(stream(seed, NOISE_STREAM)))
    )


def surface_gaussians(samples: Samples, prims: list[SurfacePrimitive], rgb: np.ndarray, names: tuple[str, ...],
                      cfg: ProceduralConfig) -> GaussianScene:
    """One thin, surface-aligned Gaussian per sample, colored ``rgb: [S, 3]`` and labeled by its primitive."""
    n, t = samples.normals, samples.tangents
    quats = torch.from_numpy(frame_quats(t, n).astype(np.float32))  # local z → surface normal
    # thin along the normal, also on narrow strips (a 3 mm plate's rim) whose cells are thin
    normal_sigma = np.minimum(cfg.normal_scale * samples.spacing, 0.25 * samples.sigmas.min(1))
    scales = np.concatenate([samples.sigmas, normal_sigma[:, None]], 1)
    labels = np.array([p.label for p in prims])[samples.primitive]
    dev = cfg.device
    return GaussianScene.from_rgb(
        means=torch.from_numpy(samples.points.astype(np.float32)).to(dev),
        quats=quats.to(dev),
        scales=torch.from_numpy(scales.astype(np.float32)).to(dev),
        opacities=torch.full((len(n),), cfg.opacity, dtype=torch.float32, device=dev),
        rgb=torch.from_numpy(rgb.astype(np.float32)).to(dev),
        labels=torch.from_numpy(labels.astype(np.int64)).to(dev),
        label_names=names,
    )


def _gaussians(samples, prims, names, seed, cfg: ProceduralConfig, lo, hi, free: FreeSpace) -> GaussianScene:
    albedo = material_albedo(samples, prims, seed)
    shell = np.array([p.shell for p in prims])[samples.primitive]
    light = bake(samples.points, samples.normals, shell, lo, hi, free.occupied, free.origin, free.resolution,
                 cfg.lighting)
    rgb = np.clip(albedo * light[:, None], 0, 1)
    return surface_gaussians(samples, prims, rgb, names, cfg)


__all__ = ["GENERATOR_VERSION", "LabeledMesh", "ProceduralConfig", "ProceduralScene", "generate"]
