"""Drift of spheres dropped on free floor of bundles' ``scene.xml`` (MuJoCo) and ``scene.urdf`` (PyBullet).

Usage: ``python benchmarks/floor_drift.py BUNDLE [BUNDLE ...] [--spots 40] [--radius 0.05]``
or ``python benchmarks/floor_drift.py --generate DIR --rooms kitchen bedroom ...`` (procedural
bundles with the default export settings, written to ``DIR/<room>`` unless there already).

For every bundle two collider sets are compared on the same collision mesh and the same spots:
``before``, the static scene cut into convex pieces everywhere (the floor included, as bundles
were exported before the floor box: `static_colliders` with ``floor_z=None``), and ``after``, the
bundle's own files (one floor box at the nav floor height plus pieces of everything else).
Spots are random cells of ``nav.npz`` with clearance >= radius + 10 cm; each sphere lands for
0.3 s, then its horizontal drift over 2 s is measured. A sphere ending below the floor fell
through. Prints one markdown table row per bundle, simulator and collider set.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import numpy as np
import trimesh

from lyra_sim.exporters.meshes import write_mesh
from lyra_sim.exporters.mjcf import SceneGeometry, write_mjcf
from lyra_sim.exporters.nav_grid import read_nav
from lyra_sim.exporters.pieces import static_colliders
from lyra_sim.exporters.urdf import write_urdf

SETTLE, SECONDS = 0.3, 2.0


def spots(bundle: Path, count: int, radius: float, seed: int = 0) -> tuple[np.ndarray, float]:
    grid = read_nav(bundle / "nav.npz")
    cells = np.flatnonzero(grid.distance.ravel() >= radius + 0.1)
    rng = np.random.default_rng(seed)
    pick = rng.choice(cells, min(count, len(cells)), replace=False)
    xy = grid.cell_centers().reshape(-1, 2)[pick] + rng.uniform(-0.5, 0.5, (len(pick), 2)) * grid.resolution
    return xy, grid.floor_z


def before_files(bundle: Path, out: Path) -> tuple[Path, Path]:
    """``scene.xml`` / ``scene.urdf`` in ``out`` over pieces cut everywhere (no floor box)."""
    mesh = trimesh.load(bundle / "collision.obj", process=False)
    _, pieces = static_colliders(np.asarray(mesh.vertices), np.asarray(mesh.faces), None)
    (out / "pieces").mkdir(parents=True)
    files = []
    for i, p in enumerate(pieces):
        files.append(f"pieces/piece_{i:04d}.stl")
        write_mesh(out / files[-1], p.vertices, p.faces)
    geometry = SceneGeometry(files)
    return write_mjcf(out / "scene.xml", geometry), write_urdf(out / "scene.urdf", geometry)


def mujoco_run(xml: Path, xy: np.ndarray, floor_z: float, radius: float):
    import mujoco

    spec = mujoco.MjSpec.from_file(str(xml))
    for i, (x, y) in enumerate(xy):
        body = spec.worldbody.add_body(name=f"ball_{i}", pos=[x, y, floor_z + radius + 0.02])
        body.add_freejoint()
        body.add_geom(type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[radius, 0, 0], mass=0.3, contype=2, conaffinity=1)
    model = spec.compile()
    data = mujoco.MjData(model)
    mujoco.mj_step(model, data, nstep=int(SETTLE / model.opt.timestep))
    start = data.qpos.reshape(-1, 7)[:, :3].copy()
    mujoco.mj_step(model, data, nstep=int(SECONDS / model.opt.timestep))
    end = data.qpos.reshape(-1, 7)[:, :3]
    return start, end, np.linalg.norm(data.qvel.reshape(-1, 6)[:, :3], axis=1)


def pybullet_run(urdf: Path, xy: np.ndarray, floor_z: float, radius: float):
    import pybullet as pb

    cid = pb.connect(pb.DIRECT)
    try:
        pb.setGravity(0, 0, -9.81, physicsClientId=cid)
        pb.loadURDF(str(urdf), useFixedBase=True, physicsClientId=cid)
        shape = pb.createCollisionShape(pb.GEOM_SPHERE, radius=radius, physicsClientId=cid)
        balls = [pb.createMultiBody(0.3, shape, basePosition=[x, y, floor_z + radius + 0.02], physicsClientId=cid) for x, y in xy]
        for i, a in enumerate(balls):
            for b in balls[i + 1:]:
                pb.setCollisionFilterPair(a, b, -1, -1, 0, physicsClientId=cid)

        def positions():
            return np.array([pb.getBasePositionAndOrientation(b, physicsClientId=cid)[0] for b in balls])

        for _ in range(int(SETTLE * 240)):
            pb.stepSimulation(physicsClientId=cid)
        start = positions()
        for _ in range(int(SECONDS * 240)):
            pb.stepSimulation(physicsClientId=cid)
        speed = np.array([np.linalg.norm(pb.getBaseVelocity(b, physicsClientId=cid)[0]) for b in balls])
        return start, positions(), speed
    finally:
        pb.disconnect(cid)


def row(name: str, simulator: str, version: str, start, end, speed, floor_z: float, radius: float) -> str:
    fell = end[:, 2] < floor_z
    drift = np.linalg.norm((end - start)[:, :2], axis=1)[~fell] * 1000
    moving = speed[~fell] > 1e-3
    stats = (f"{drift.max():.2f} | {np.median(drift):.2f} | {(drift > 1).mean() * 100:.0f}% | "
             f"{speed[~fell].max():.3f} | {moving.sum()}" if len(drift) else "- | - | - | - | -")
    return f"| {name} | {simulator} | {version} | {len(end)} | {fell.sum()} | {stats} |"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("bundles", nargs="*", type=Path)
    p.add_argument("--generate", type=Path, help="directory of procedural bundles (made with default export settings)")
    p.add_argument("--rooms", nargs="*", default=["kitchen", "living_room", "bedroom", "office", "corridor", "warehouse"])
    p.add_argument("--spots", type=int, default=40)
    p.add_argument("--radius", type=float, default=0.05)
    args = p.parse_args(argv)
    bundles = list(args.bundles)
    if args.generate is not None:
        from lyra_sim.exporters.bundle import ExportConfig
        from lyra_sim.pipelines import ProceduralSource, generate_bundle

        for room in args.rooms:
            out = args.generate / room
            if not out.is_dir():
                generate_bundle(out, ProceduralSource(f"a {room.replace('_', ' ')}", 0), ("mjcf", "urdf"), ExportConfig())
            bundles.append(out)
    print("| bundle | simulator | colliders | spheres | fell through | max drift mm | median drift mm | drift > 1 mm "
          "| max speed m/s | still moving |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for bundle in bundles:
        xy, floor_z = spots(bundle, args.spots, args.radius)
        scratch = Path(tempfile.mkdtemp(prefix="floor-drift-"))
        try:
            old_xml, old_urdf = before_files(bundle, scratch)
            for version, xml, urdf in (("before", old_xml, old_urdf), ("after", bundle / "scene.xml", bundle / "scene.urdf")):
                print(row(bundle.name, "mujoco", version, *mujoco_run(xml, xy, floor_z, args.radius), floor_z, args.radius), flush=True)
                print(row(bundle.name, "pybullet", version, *pybullet_run(urdf, xy, floor_z, args.radius), floor_z, args.radius),
                      flush=True)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
