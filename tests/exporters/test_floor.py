"""The physics floor of exported bundles: one level box at the nav grid's floor height, in MuJoCo and PyBullet.

Spheres dropped at random free-floor spots (cells of ``nav.npz`` with room around them) must
stay where they land: a tilted or stepped floor makes them roll (the defect this guards
against: 5-28 cm in 2 s on the fused floor's convex pieces).
"""

import numpy as np
import pytest

from _scenes import box_room_bundle, procedural_bundle
from lyra_sim.exporters.nav_grid import read_nav

mujoco = pytest.importorskip("mujoco")
pybullet = pytest.importorskip("pybullet")

RADIUS = 0.05
SPOTS = 24
SECONDS = 2.0
ROOMS = {
    "box room": lambda: box_room_bundle(),
    "kitchen": lambda: procedural_bundle(),
}


def free_spots(bundle, count=SPOTS, seed=0):
    """``count`` random points of free floor (clearance >= radius + 10 cm) and the floor height."""
    grid = read_nav(bundle / "nav.npz")
    cells = np.flatnonzero(grid.distance.ravel() >= RADIUS + 0.1)
    rng = np.random.default_rng(seed)
    pick = rng.choice(cells, count, replace=False)
    xy = grid.cell_centers().reshape(-1, 2)[pick] + rng.uniform(-0.5, 0.5, (count, 2)) * grid.resolution
    return xy, grid.floor_z


def mujoco_drift(bundle, xy, floor_z):
    """Horizontal drift [n] (m) over `SECONDS` after landing, final speeds [n], resting heights [n] above the floor."""
    spec = mujoco.MjSpec.from_file(str(bundle / "scene.xml"))
    for i, (x, y) in enumerate(xy):
        body = spec.worldbody.add_body(name=f"ball_{i}", pos=[x, y, floor_z + RADIUS + 0.02])
        body.add_freejoint()
        # contype 2 / conaffinity 1: balls touch the scene (contype 1), never each other
        body.add_geom(type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[RADIUS, 0, 0], mass=0.3, contype=2, conaffinity=1)
    model = spec.compile()
    data = mujoco.MjData(model)
    mujoco.mj_step(model, data, nstep=int(0.3 / model.opt.timestep))  # land
    start = data.qpos.reshape(-1, 7)[:, :3].copy()
    mujoco.mj_step(model, data, nstep=int(SECONDS / model.opt.timestep))
    end = data.qpos.reshape(-1, 7)[:, :3]
    speed = np.linalg.norm(data.qvel.reshape(-1, 6)[:, :3], axis=1)
    return np.linalg.norm((end - start)[:, :2], axis=1), speed, end[:, 2] - floor_z - RADIUS


def pybullet_drift(bundle, xy, floor_z):
    """As `mujoco_drift`, in PyBullet (240 Hz) on ``scene.urdf``."""
    cid = pybullet.connect(pybullet.DIRECT)
    try:
        pybullet.setGravity(0, 0, -9.81, physicsClientId=cid)
        pybullet.loadURDF(str(bundle / "scene.urdf"), useFixedBase=True, physicsClientId=cid)
        shape = pybullet.createCollisionShape(pybullet.GEOM_SPHERE, radius=RADIUS, physicsClientId=cid)
        balls = [pybullet.createMultiBody(0.3, shape, basePosition=[x, y, floor_z + RADIUS + 0.02], physicsClientId=cid)
                 for x, y in xy]
        for i, a in enumerate(balls):
            for b in balls[i + 1:]:
                pybullet.setCollisionFilterPair(a, b, -1, -1, 0, physicsClientId=cid)

        def positions():
            return np.array([pybullet.getBasePositionAndOrientation(b, physicsClientId=cid)[0] for b in balls])

        for _ in range(int(0.3 * 240)):
            pybullet.stepSimulation(physicsClientId=cid)
        start = positions()
        for _ in range(int(SECONDS * 240)):
            pybullet.stepSimulation(physicsClientId=cid)
        end = positions()
        speed = np.array([np.linalg.norm(pybullet.getBaseVelocity(b, physicsClientId=cid)[0]) for b in balls])
    finally:
        pybullet.disconnect(cid)
    return np.linalg.norm((end - start)[:, :2], axis=1), speed, end[:, 2] - floor_z - RADIUS


@pytest.mark.parametrize("room", sorted(ROOMS))
@pytest.mark.parametrize("simulator", [mujoco_drift, pybullet_drift], ids=["mujoco", "pybullet"])
def test_spheres_dropped_on_free_floor_stay_put(room, simulator):
    bundle = ROOMS[room]()
    xy, floor_z = free_spots(bundle)
    drift, speed, height = simulator(bundle, xy, floor_z)
    assert drift.max() < 1e-3, f"worst drift {drift.max() * 1000:.1f} mm at {xy[int(drift.argmax())]}"
    assert speed.max() < 1e-3
    # resting on the floor's top (within the simulators' contact softness), not sunk or lifted
    assert np.abs(height).max() < 2e-3


@pytest.mark.parametrize("room", sorted(ROOMS))
def test_the_floor_is_one_box_at_the_nav_floor_height(room):
    bundle = ROOMS[room]()
    floor_z = read_nav(bundle / "nav.npz").floor_z
    model = mujoco.MjModel.from_xml_path(str(bundle / "scene.xml"))
    floor = model.geom("floor")
    assert floor.type[0] == mujoco.mjtGeom.mjGEOM_BOX
    assert floor.pos[2] + floor.size[2] == pytest.approx(floor_z, abs=1e-6)
    # it spans the free floor: every free cell lies over it
    grid = read_nav(bundle / "nav.npz")
    free = grid.cell_centers()[grid.occupancy == 0]
    assert (np.abs(free - floor.pos[:2]) <= floor.size[:2]).all()
    urdf = (bundle / "scene.urdf").read_text()
    assert '<collision name="floor">' in urdf


def test_a_ball_rolled_across_the_room_stays_inside_and_on_the_floor():
    """Watertight: fast balls rolled at the walls bounce back; none falls through a seam between
    the floor box and the pieces. (The box room: every wall is observed, so its collision mesh
    is closed; fused rooms can have holes where no view saw a surface, behind a counter's toe kick.)"""
    bundle = box_room_bundle()
    grid = read_nav(bundle / "nav.npz")
    xy, floor_z = free_spots(bundle, count=8, seed=1)
    spec = mujoco.MjSpec.from_file(str(bundle / "scene.xml"))
    angles = np.linspace(0, 2 * np.pi, len(xy), endpoint=False)
    for i, (x, y) in enumerate(xy):
        body = spec.worldbody.add_body(name=f"ball_{i}", pos=[x, y, floor_z + RADIUS + 0.001])
        body.add_freejoint()
        body.add_geom(type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[RADIUS, 0, 0], mass=0.3, contype=2, conaffinity=1)
    model = spec.compile()
    data = mujoco.MjData(model)
    qvel = data.qvel.reshape(-1, 6)
    qvel[:, 0], qvel[:, 1] = 2.0 * np.cos(angles), 2.0 * np.sin(angles)
    lo = grid.origin
    hi = grid.origin + np.array(grid.occupancy.shape[::-1]) * grid.resolution
    for _ in range(4):
        mujoco.mj_step(model, data, nstep=500)
        pos = data.qpos.reshape(-1, 7)[:, :3]
        assert (pos[:, 2] > floor_z + RADIUS - 0.01).all()
        assert ((pos[:, :2] > lo) & (pos[:, :2] < hi)).all()
