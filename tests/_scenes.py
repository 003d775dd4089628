"""Small synthetic scenes for the exporter tests: a box room with a table-like block.

Gaussians are flat disks sampled on the room's inner surfaces and the block's outer ones
(what a camera inside could see), with labels; the ground truth is closed meshes with outward
winding (the room as six slabs around the interior, the block as a box).
"""

from __future__ import annotations

import atexit
import functools
import math
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
import trimesh

from lyra_sim.scene import GaussianScene, rotmat_to_quat

ROOM = (2.0, 2.4, 1.6)  # interior x, y, z in meters; floor at z = 0, corner at the origin
BLOCK = ((0.5, 0.6, 0.0), (1.1, 1.4, 0.5))  # lo, hi of the block standing on the floor
COLORS = {"floor": (0.6, 0.45, 0.3), "wall": (0.9, 0.9, 0.85), "ceiling": (1.0, 1.0, 1.0), "table_0": (0.8, 0.1, 0.1)}


def _quad_samples(origin, u, v, normal, spacing, rng):
    """Jittered grid samples on the parallelogram origin + s u + t v (s, t in [0, 1])."""
    u, v = np.asarray(u, float), np.asarray(v, float)
    nu = max(1, math.ceil(np.linalg.norm(u) / spacing))
    nv = max(1, math.ceil(np.linalg.norm(v) / spacing))
    s, t = np.meshgrid((np.arange(nu) + 0.5) / nu, (np.arange(nv) + 0.5) / nv, indexing="ij")
    s = (s.ravel() + rng.uniform(-0.3, 0.3, s.size) / nu).clip(0, 1)
    t = (t.ravel() + rng.uniform(-0.3, 0.3, t.size) / nv).clip(0, 1)
    points = np.asarray(origin, float) + s[:, None] * u + t[:, None] * v
    return points, np.broadcast_to(np.asarray(normal, float), points.shape)


def _surfaces(room=ROOM, block=BLOCK):
    """(label, origin, u, v, normal pointing into the free space) of every visible surface."""
    x, y, z = room
    (bx0, by0, bz0), (bx1, by1, bz1) = block
    out = [
        ("floor", (0, 0, 0), (x, 0, 0), (0, y, 0), (0, 0, 1)),
        ("ceiling", (0, 0, z), (x, 0, 0), (0, y, 0), (0, 0, -1)),
        ("wall", (0, 0, 0), (x, 0, 0), (0, 0, z), (0, 1, 0)),
        ("wall", (0, y, 0), (x, 0, 0), (0, 0, z), (0, -1, 0)),
        ("wall", (0, 0, 0), (0, y, 0), (0, 0, z), (1, 0, 0)),
        ("wall", (x, 0, 0), (0, y, 0), (0, 0, z), (-1, 0, 0)),
    ]
    if block is not None:
        dx, dy, dz = bx1 - bx0, by1 - by0, bz1 - bz0
        out += [
            ("table_0", (bx0, by0, bz1), (dx, 0, 0), (0, dy, 0), (0, 0, 1)),
            ("table_0", (bx0, by0, bz0), (dx, 0, 0), (0, 0, dz), (0, -1, 0)),
            ("table_0", (bx0, by1, bz0), (dx, 0, 0), (0, 0, dz), (0, 1, 0)),
            ("table_0", (bx0, by0, bz0), (0, dy, 0), (0, 0, dz), (-1, 0, 0)),
            ("table_0", (bx1, by0, bz0), (0, dy, 0), (0, 0, dz), (1, 0, 0)),
        ]
    return out


def box_room_scene(spacing: float = 0.025, seed: int = 0, room=ROOM, block=BLOCK, sh_degree: int = 0) -> GaussianScene:
    """Labeled Gaussians on the room's inner surfaces and the block (about 30k at 2.5 cm)."""
    rng = np.random.default_rng(seed)
    names = ["floor", "wall", "ceiling"] + (["table_0"] if block is not None else [])
    means, normals, labels, colors = [], [], [], []
    for label, origin, u, v, normal in _surfaces(room, block):
        p, n = _quad_samples(origin, u, v, normal, spacing, rng)
        means.append(p)
        normals.append(n)
        labels.append(np.full(len(p), names.index(label)))
        colors.append(np.broadcast_to(COLORS[label], p.shape) * rng.uniform(0.9, 1.0, (len(p), 1)))
    means = np.concatenate(means)
    normals = np.concatenate(normals)
    n = len(means)
    # Rotation whose z axis is the normal: a flat disk lying in the surface.
    helper = np.where(np.abs(normals[:, :1]) < 0.9, [[1.0, 0, 0]], [[0.0, 1, 0]])
    xa = np.cross(helper, normals)
    xa /= np.linalg.norm(xa, axis=1, keepdims=True)
    ya = np.cross(normals, xa)
    rot = torch.tensor(np.stack([xa, ya, normals], -1), dtype=torch.float32)
    quats = rotmat_to_quat(rot)
    scales = torch.tensor([[0.7 * spacing, 0.7 * spacing, 0.05 * spacing]], dtype=torch.float32).expand(n, 3).contiguous()
    rgb = torch.tensor(np.concatenate(colors), dtype=torch.float32)
    scene = GaussianScene.from_rgb(
        torch.tensor(means, dtype=torch.float32), quats, scales, torch.full((n,), 0.97), rgb,
        labels=torch.tensor(np.concatenate(labels), dtype=torch.int64), label_names=names,
    )
    if sh_degree:
        k = (sh_degree + 1) ** 2
        rest = torch.tensor(rng.normal(0, 0.05, (n, k - 1, 3)), dtype=torch.float32)
        scene = GaussianScene(scene.means, scene.quats, scene.scales, scene.opacities,
                              torch.cat([scene.sh, rest], 1), scene.labels, scene.label_names)
    return scene


def box_room_ground_truth(room=ROOM, block=BLOCK, wall: float = 0.1) -> list[tuple[np.ndarray, np.ndarray]]:
    """Closed ground-truth meshes: six wall slabs around the interior, and the block."""
    x, y, z = room
    w = wall
    slabs = [
        ((-w, -w, -w), (x + w, y + w, 0)),
        ((-w, -w, z), (x + w, y + w, z + w)),
        ((-w, -w, 0), (x + w, 0, z)),
        ((-w, y, 0), (x + w, y + w, z)),
        ((-w, 0, 0), (0, y, z)),
        ((x, 0, 0), (x + w, y, z)),
    ]
    if block is not None:
        slabs.append(block)
    meshes = []
    for lo, hi in slabs:
        lo, hi = np.asarray(lo, float), np.asarray(hi, float)
        box = trimesh.creation.box(extents=hi - lo)
        box.apply_translation((lo + hi) / 2)
        meshes.append((np.asarray(box.vertices), np.asarray(box.faces)))
    return meshes


def fast_export_config():
    """Coarse, quick export settings for tests (3 cm voxels, 64 px views; a 1.2 m agent fits the 1.6 m room)."""
    from lyra_sim.exporters.bundle import ExportConfig
    from lyra_sim.exporters.collision import CollisionConfig
    from lyra_sim.exporters.nav_grid import NavConfig

    return ExportConfig(collision=CollisionConfig(resolution=64, voxel_size=0.03), nav=NavConfig(agent_height=1.2))


@functools.lru_cache(maxsize=None)
def box_room_bundle(formats: tuple[str, ...] = ("usd", "usdz", "mjcf", "urdf", "glb", "obj")):
    """A bundle exported from the box room's PLY, built once per test session (deleted at exit)."""
    from lyra_sim.exporters.bundle import export_bundle
    from lyra_sim.ply import write_ply

    root = Path(tempfile.mkdtemp(prefix="lyra-test-bundle-"))
    atexit.register(shutil.rmtree, root, True)
    write_ply(root / "room.ply", box_room_scene())
    export_bundle(root / "room.ply", root / "bundle", formats, fast_export_config())
    return root / "bundle"


def box_room_bundle_by_hand(out: Path, shift: float = 0.0, mjcf: bool = False, spacing: float = 0.025) -> Path:
    """The box room (moved ``shift`` meters along x, Gaussians ``spacing`` apart) as a bundle built by hand, fast and without
    open3d (the GPU machine has none): its Gaussians, the ground-truth boxes as the collision
    mesh and a nav grid rasterized from them; with ``mjcf``, a ``scene.xml`` whose floor box is
    the floor slab (top at z = 0 exactly) and whose pieces are the other boxes."""
    from lyra_sim.exporters.meshes import write_mesh
    from lyra_sim.exporters.nav_grid import NavGrid, write_nav
    from lyra_sim.manifest import write_manifest
    from lyra_sim.ply import write_ply

    out.mkdir()
    move = torch.tensor([shift, 0.0, 0.0])
    write_ply(out / "scene.ply", box_room_scene(spacing=spacing).transform(torch.eye(3), move))
    meshes = box_room_ground_truth()
    vertices = np.concatenate([v for v, _ in meshes]) + move.numpy()
    offsets = np.cumsum([0] + [len(v) for v, _ in meshes[:-1]])
    write_mesh(out / "collision.obj", vertices, np.concatenate([f + o for (_, f), o in zip(meshes, offsets)]))
    if mjcf:
        from lyra_sim.exporters.mjcf import SceneGeometry, write_mjcf
        from lyra_sim.exporters.pieces import FloorBox

        (out / "collision_static").mkdir()
        files = []
        for i, (v, f) in enumerate(meshes[1:]):  # meshes[0] is the floor slab
            files.append(f"collision_static/piece_{i:04d}.stl")
            write_mesh(out / files[-1], v + move.numpy(), f)
        lo, hi = meshes[0][0].min(0) + move.numpy(), meshes[0][0].max(0) + move.numpy()
        write_mjcf(out / "scene.xml", SceneGeometry(files, floor=FloorBox(tuple(lo), tuple(hi))))
    res, origin = 0.05, np.array([-0.2 + shift, -0.2])
    ny, nx = int((ROOM[1] + 0.4) / res), int((ROOM[0] + 0.4) / res)
    cx = origin[0] + (np.arange(nx) + 0.5) * res
    cy = origin[1] + (np.arange(ny) + 0.5) * res
    x, y = np.meshgrid(cx, cy)
    x = x - shift
    floor = (x > 0) & (x < ROOM[0]) & (y > 0) & (y < ROOM[1])
    (bx0, by0, _), (bx1, by1, bz1) = BLOCK
    on_block = (x > bx0 - res) & (x < bx1 + res) & (y > by0 - res) & (y < by1 + res)
    height = np.where(on_block, 0.06, ROOM[2]).astype(np.float32)  # block sides start at the floor
    grid = NavGrid(np.zeros((ny, nx), np.uint8), np.zeros((ny, nx), np.float32), origin, res, 0.0,
                   np.array([0.05, 1.2]), floor.astype(np.uint8), height).for_agent(1.2)
    write_nav(out / "nav.npz", grid)
    write_manifest(out, {"kind": "bundle", "source": "test"})
    return out


SMALL_KITCHEN = {"room": {"type": "kitchen", "size": [3.0, 2.6, 2.2]}, "objects": [{"kind": "table"}, {"kind": "chair"}]}
"""A small procedural room with furniture, for tests that need a fused (not synthetic) floor."""


@functools.lru_cache(maxsize=None)
def procedural_bundle(spec_json: str = "", seed: int = 3, formats: tuple[str, ...] = ("mjcf", "urdf")):
    """A bundle of the procedural world (``spec_json``: a scene spec as JSON, default `SMALL_KITCHEN`)
    with coarse export settings (5 cm voxels, 64 px views), built once per test session."""
    import json

    from lyra_sim.cameras import ViewConfig
    from lyra_sim.exporters.bundle import ExportConfig
    from lyra_sim.exporters.collision import CollisionConfig
    from lyra_sim.pipelines import ProceduralSource, generate_bundle

    spec = json.loads(spec_json) if spec_json else SMALL_KITCHEN
    root = Path(tempfile.mkdtemp(prefix="lyra-test-procedural-"))
    atexit.register(shutil.rmtree, root, True)
    config = ExportConfig(collision=CollisionConfig(resolution=64, voxel_size=0.05, num_viewpoints=6))
    generate_bundle(root / "bundle", ProceduralSource(spec, seed), formats, config, view=ViewConfig(width=32, height=24))
    return root / "bundle"


THREE_ROOMS = {"building": {"type": "house", "rooms": [
    {"type": "kitchen", "polygon": [[0, 0], [3, 0], [3, 2.5], [0, 2.5]], "furnish": False},
    {"type": "living_room", "polygon": [[3, 0], [6, 0], [6, 2.5], [3, 2.5]], "furnish": False},
    {"type": "bedroom", "polygon": [[6, 0], [9, 0], [9, 2.5], [6, 2.5]], "furnish": False},
]}}
"""An unfurnished house of three rooms in a row: kitchen | living room | bedroom, doorways between neighbours."""


@functools.lru_cache(maxsize=None)
def house_bundle(spec_json: str | None = None, spacing: float = 0.06):
    """A house (``THREE_ROOMS`` unless ``spec_json`` gives another building spec) as a bundle built
    fast, without the TSDF: the procedural world's Gaussians at a coarse ``spacing``, its ground-truth
    meshes as the collision mesh, their nav grid (5 cm), and the manifest's ``floor_plan``, as
    ``generate --export`` writes it. Built once per test session (deleted at exit)."""
    import json

    from lyra_sim.exporters.meshes import write_mesh
    from lyra_sim.exporters.nav_grid import NavConfig, nav_grid, write_nav
    from lyra_sim.manifest import write_manifest
    from lyra_sim.ply import write_ply
    from lyra_sim.worlds.procedural import ProceduralConfig, generate

    spec = json.loads(spec_json) if spec_json else THREE_ROOMS
    world = generate(spec, 0, ProceduralConfig(spacing=spacing))
    root = Path(tempfile.mkdtemp(prefix="lyra-test-house-"))
    atexit.register(shutil.rmtree, root, True)
    out = root / "house"
    out.mkdir()
    write_ply(out / "scene.ply", world.gaussians)
    offsets = np.cumsum([0] + [len(m.vertices) for m in world.meshes[:-1]])
    vertices = np.concatenate([m.vertices for m in world.meshes])
    faces = np.concatenate([m.faces + o for m, o in zip(world.meshes, offsets)])
    write_mesh(out / "collision.obj", vertices, faces)
    grid = nav_grid(vertices, faces, NavConfig(resolution=0.05, agent_height=1.2))
    write_nav(out / "nav.npz", grid)
    write_manifest(out, {"kind": "bundle", "source": "test", "floor_plan": world.plan, "nav": grid.summary()})
    return out
