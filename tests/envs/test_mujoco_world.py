"""The MuJoCo bridge (`lyra_sim.envs.mujoco_world`): camera views equal LyraScene-v0's, stepping in threads,
contacts, and the shipped base's physics on an exported bundle's floor box and pieces."""

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

import lyra_sim  # noqa: F401  (registers the environments)
from _scenes import box_room_bundle_by_hand

mujoco = pytest.importorskip("mujoco")

from lyra_sim.envs.mujoco_world import MuJoCoScene, PhysicsConfig, Worlds, opencv_viewmats
from lyra_sim.envs.robots import load_robot
from lyra_sim.envs.spaces import observe
from lyra_sim.envs.views import agent_viewmats

TASK = {"min_geodesic": 0.5, "max_episode_steps": 40}


@pytest.fixture(scope="module")
def by_hand(tmp_path_factory):
    """The box room with its floor at z = 0 exactly and the ground-truth boxes as colliders."""
    return box_room_bundle_by_hand(tmp_path_factory.mktemp("mj") / "bundle", mjcf=True)


def _lyra_scene_twin(bundle, cam_z, depth):
    """LyraScene-v0 with the shipped base's camera: 64 x 64, 60° (square: hfov = MuJoCo's fovy), level, ``cam_z`` high."""
    env = gym.make("LyraScene-v0", scene=str(bundle), task=TASK, device="cpu",
                   camera={"width": 64, "height": 64, "hfov_deg": 60.0, "height_m": float(cam_z), "depth": depth})
    env.reset(seed=0)
    return env.unwrapped


@pytest.mark.parametrize("depth", [False, True])
def test_a_mujoco_camera_view_equals_the_lyra_scene_view_of_the_same_pose(by_hand, cache, depth):
    env = gym.make("LyraMuJoCo-v0", scene=str(by_hand), task=TASK, device="cpu", depth=depth)
    core = env.unwrapped.core
    scene, data = core.scenes[0], core.worlds.datas[0]
    scene.place(data, np.array([0.25, 0.25]), 0.0, 0.0)  # dyadic spots, heading +x: both poses are exact in float32
    cam_z = float(data.cam_xpos[scene.cameras[0], 2])
    twin = _lyra_scene_twin(by_hand, cam_z, depth)
    for root in ([0.25, 0.25], [1.5, 0.5], [1.25, 2.0], [0.375, 1.75]):
        scene.place(data, np.array(root), 0.0, 0.0)
        ours = core.observe()
        twin.task.state.xy = torch.tensor([data.cam_xpos[scene.cameras[0], :2]], dtype=torch.float32)
        twin.task.state.yaw = torch.zeros(1)
        theirs = observe(twin.task, twin.scenes.views)
        assert torch.equal(ours["rgb"], theirs["rgb"]), root
        if depth:
            assert torch.equal(ours["depth"], theirs["depth"]), root
        assert ours["rgb"].float().std() > 5  # a real view, not a blank frame


def test_camera_poses_follow_lyra_scenes_convention_at_any_heading(by_hand, cache):
    env = gym.make("LyraMuJoCo-v0", scene=str(by_hand), task=TASK, device="cpu")
    core = env.unwrapped.core
    scene, data = core.scenes[0], core.worlds.datas[0]
    rng = np.random.default_rng(0)
    for _ in range(6):
        root, yaw = rng.uniform([0.3, 0.3], [1.7, 2.1]), rng.uniform(-math.pi, math.pi)
        scene.place(data, root, yaw, 0.0)
        cam = scene.cameras[0]
        ours = opencv_viewmats(data.cam_xpos[cam][None], data.cam_xmat[cam].reshape(1, 3, 3))
        pos = torch.tensor(data.cam_xpos[cam], dtype=torch.float64)
        theirs = agent_viewmats(pos[None, :2], torch.tensor([yaw], dtype=torch.float64), pos[None, 2], 0.0)
        np.testing.assert_allclose(ours, theirs.numpy(), atol=1e-12)
        # the camera sits 13.2 cm ahead of the axle, 25 cm above the floor (+1 mm spawn lift)
        np.testing.assert_allclose(data.cam_xpos[cam], [*(root + 0.132 * np.array([np.cos(yaw), np.sin(yaw)])), 0.251], atol=1e-6)


def test_worlds_step_the_same_in_threads_and_alone(bundle):
    scene = MuJoCoScene(bundle, load_robot("diffdrive"))
    states = []
    for threads in (1, 2):
        worlds = Worlds([scene], np.zeros(4, int), threads=threads)
        for i, d in enumerate(worlds.datas):
            scene.place(d, np.array([1.4, 1.8]), i * 0.7, 0.0)
        ctrl = np.array([[10.0, 10.0], [-5, 5], [20, 8], [0, 0]])
        for _ in range(5):
            worlds.step(ctrl)
        states.append(np.stack([d.qpos.copy() for d in worlds.datas]))
        worlds.close()
    np.testing.assert_array_equal(states[0], states[1])
    assert not np.allclose(states[0][0], states[0][3])  # they moved


def test_touching_counts_the_scene_but_not_the_floor(bundle):
    scene = MuJoCoScene(bundle, load_robot("diffdrive"))
    worlds = Worlds([scene], np.zeros(2, int), threads=1)
    scene.place(worlds.datas[0], np.array([1.45, 1.9]), 0.0, 0.0)  # free floor
    scene.place(worlds.datas[1], np.array([1.7, 1.9]), 0.0, 0.0)  # 0.17 m chassis against the wall at x = 2
    touched = np.zeros(2, bool)
    for _ in range(10):  # one second: the second base drives into the wall, the first stays
        touched |= worlds.step(np.array([[0.0, 0.0], [20.0, 20.0]]))
    assert touched.tolist() == [False, True]


def _spot(scene, data, xy, yaw=0.0):
    scene.place(data, np.asarray(xy, float), yaw, 0.0)
    mujoco.mj_step(scene.model, data, nstep=100)  # settle on the wheels


def test_the_base_rests_still_drives_straight_and_its_odometry_holds(bundle):
    scene = MuJoCoScene(bundle, load_robot("diffdrive"))
    m, data = scene.model, scene.new_data()
    _spot(scene, data, [1.5, 1.9], 0.0)
    start = data.xpos[scene.root].copy()
    mujoco.mj_step(m, data, nstep=1000)  # 2 s with zero wheel speeds
    assert np.linalg.norm(data.xpos[scene.root] - start) < 1e-3

    _spot(scene, data, [1.45, 0.3], math.pi / 2)  # drive +y along the free strip beside the block
    wheels = [m.joint(f"robot/{side}_wheel").qposadr[0] for side in ("left", "right")]
    q0, xy0 = data.qpos[wheels].copy(), data.xpos[scene.root][:2].copy()
    data.ctrl[:] = [10.0, 10.0]  # 0.35 m/s
    mujoco.mj_step(m, data, nstep=2000)  # 4 s
    xy, yaw, up = scene.pose(data)
    travelled = np.linalg.norm(xy - xy0)
    odometry = float(np.mean(data.qpos[wheels] - q0)) * 0.035
    assert 1.2 < travelled < 1.4 and abs(odometry - travelled) < 0.03 * travelled
    assert abs(math.remainder(yaw - math.pi / 2, 2 * math.pi)) < math.radians(1) and up > 0.999


def test_the_base_driven_into_a_wall_stops_without_overlapping_it(bundle):
    scene = MuJoCoScene(bundle, load_robot("diffdrive"), PhysicsConfig())
    m, data = scene.model, scene.new_data()
    _spot(scene, data, [1.5, 1.9], 0.0)  # heading +x, toward the wall at x = 2
    closest, positions = np.inf, []
    for k in range(2000):  # 4 s at full speed
        data.ctrl[:] = [20.0, 20.0]
        mujoco.mj_step(m, data)
        for c in data.contact[: data.ncon]:
            if scene.robot_geom[c.geom[0]] != scene.robot_geom[c.geom[1]] and scene.obstacle_geom[c.geom].any():
                closest = min(closest, float(c.dist))
        if k >= 1750:
            positions.append(data.xpos[scene.root][0])
    margin = float(m.geom_margin[m.geom("robot/chassis").id])
    assert margin == 0.005
    assert 0 < closest <= margin  # the shell's contacts hold it off the wall: no overlap at all
    assert max(positions) - min(positions) < 0.005  # stopped
    assert 2.0 - 0.17 - 0.08 < max(positions) < 2.0 - 0.17  # against the wall (the fused wall stands a few cm in)
