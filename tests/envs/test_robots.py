"""Robot files (`lyra_sim.envs.robots`) and attaching them to scenes (`lyra_sim.envs.mujoco_world`):
the shipped base, a user's own MJCF and URDF, and the errors a wrong file gives."""

import numpy as np
import pytest

from _envs import write_arm
from _scenes import box_room_bundle

mujoco = pytest.importorskip("mujoco")

from lyra_sim.envs.mujoco_world import MuJoCoScene
from lyra_sim.envs.robots import ROBOTS, CameraMount, load_robot

URDF = """<robot name="urdf_base">
  <link name="base_link">
    <inertial><mass value="2"/><inertia ixx="0.02" iyy="0.02" izz="0.02" ixy="0" ixz="0" iyz="0"/></inertial>
    <collision><origin xyz="0 0 0.05"/><geometry><box size="0.3 0.2 0.1"/></geometry></collision>
  </link>
  <link name="pan">
    <inertial><mass value="0.2"/><inertia ixx="0.001" iyy="0.001" izz="0.001" ixy="0" ixz="0" iyz="0"/></inertial>
    <collision><origin xyz="0 0 0.02"/><geometry><cylinder radius="0.03" length="0.04"/></geometry></collision>
  </link>
  <joint name="pan" type="revolute"><parent link="base_link"/><child link="pan"/><origin xyz="0.1 0 0.1"/>
    <axis xyz="0 0 1"/><limit lower="-1.5" upper="1.5" effort="2" velocity="2"/></joint>
</robot>
"""


@pytest.fixture(scope="module")
def bundle():
    return box_room_bundle()


@pytest.fixture
def arm(tmp_path):
    return write_arm(tmp_path)


def test_the_shipped_base_has_realistic_wheels_casters_and_a_camera():
    robot = load_robot("diffdrive")
    assert robot.base == "free" and robot.cameras == ("rgb",) and robot.source == ROBOTS["diffdrive"]
    model = robot.spec.compile()
    assert sum(model.body_mass) == pytest.approx(3.41, abs=0.01)
    assert model.nu == 2
    np.testing.assert_allclose(model.actuator_ctrlrange, [[-20, 20], [-20, 20]])  # rad/s: 0.7 m/s at the rim
    np.testing.assert_allclose(model.actuator_forcerange, [[-0.6, 0.6], [-0.6, 0.6]])  # N m
    assert model.cam_fovy[0] == 60
    casters = [model.geom(n) for n in ("caster_front", "caster_back")]
    assert all(c.condim[0] == 1 and c.priority[0] == 1 for c in casters)  # frictionless against any floor


def test_a_users_arm_on_a_cart_attaches_and_stands_where_it_is_placed(bundle, arm):
    robot = load_robot(arm)
    assert robot.base == "fixed" and robot.cameras == ("wrist",) and robot.root == "cart"
    scene = MuJoCoScene(bundle, robot)
    m = scene.model
    assert m.nu == 2 and m.mesh("robot/gripper") is not None  # the mesh was found through the arm's meshdir
    fp = scene.footprint
    assert fp.bottom == pytest.approx(0.0, abs=1e-9)  # the cart stands on its box
    assert fp.radius == pytest.approx(np.hypot(0.33, 0.04), abs=1e-6)  # the gripper box at the end of the 0.3 m arm
    data = scene.new_data()
    scene.place(data, np.array([1.5, 1.9]), np.pi / 2, 0.0)
    data.ctrl[:] = [1.0, 0.5]
    mujoco.mj_step(m, data, nstep=500)
    xy, yaw, up = scene.pose(data)
    np.testing.assert_allclose(xy, [1.5, 1.9], atol=1e-9)  # a kinematic base: it does not move
    assert yaw == pytest.approx(np.pi / 2) and up == pytest.approx(1.0)
    shoulder = m.joint("robot/shoulder").qposadr[0]
    assert data.qpos[shoulder] == pytest.approx(1.0, abs=0.05)  # the position servo got there


def test_a_urdf_base_with_a_mounted_camera_becomes_free(bundle, tmp_path):
    path = tmp_path / "base.urdf"
    path.write_text(URDF)
    mount = {"name": "front", "body": "base_link", "pos": [0.15, 0.0, 0.12], "pitch_deg": 10}
    robot = load_robot(path, cameras=[mount], base="free")
    assert robot.base == "free" and robot.cameras == ("front",)
    scene = MuJoCoScene(bundle, robot)
    # URDF joints get torque motors over their effort limits
    np.testing.assert_allclose(scene.model.actuator_ctrlrange, [[-2, 2]])
    data = scene.new_data()
    scene.place(data, np.array([1.5, 1.9]), 0.0, 0.0)
    cam = scene.cameras[0]
    # looking along +x, tilted 10° down (a MuJoCo camera looks down its -z axis)
    forward = -data.cam_xmat[cam].reshape(3, 3)[:, 2]
    np.testing.assert_allclose(forward, [np.cos(np.radians(10)), 0, -np.sin(np.radians(10))], atol=1e-9)
    np.testing.assert_allclose(data.cam_xpos[cam], [1.65, 1.9, 0.121], atol=1e-6)


def test_camera_mount_orientation_matches_its_angles():
    quat = CameraMount("c", "b", yaw_deg=90).quat()
    mat = np.zeros(9)
    mujoco.mju_quat2Mat(mat, quat)
    np.testing.assert_allclose(-mat.reshape(3, 3)[:, 2], [0, 1, 0], atol=1e-12)  # looks along +y
    np.testing.assert_allclose(mat.reshape(3, 3)[:, 1], [0, 0, 1], atol=1e-12)  # image up is world up


@pytest.mark.parametrize("cameras, match", [
    (["nope"], r"camera 'nope' is not in robot .*diffdrive.xml; its cameras: rgb"),
    ([{"name": "x", "body": "chassis_link"}], r"has no body 'chassis_link'; its bodies: base, left_wheel, right_wheel"),
    ([{"name": "rgb", "body": "base"}], r"already has a camera of that name"),
    (["rgb", "rgb"], r"each camera once"),
    ([{"name": "x", "body": "base", "fov": 60}], r"unknown key 'fov'"),
])
def test_wrong_cameras_are_one_clear_error(cameras, match):
    with pytest.raises(ValueError, match=match):
        load_robot("diffdrive", cameras)


def test_files_mujoco_rejects_and_unusable_robots_are_clear_errors(tmp_path):
    bad = tmp_path / "bad.xml"
    bad.write_text("<mujoco><worldbody><body><geom type='blob'/></body></worldbody></mujoco>")
    with pytest.raises(ValueError, match=r"robot .*bad.xml: MuJoCo rejects it: XML Error: invalid keyword: 'blob'"):
        load_robot(bad)
    missing_mesh = tmp_path / "mesh.xml"
    missing_mesh.write_text("<mujoco><asset><mesh file='none.stl'/></asset><worldbody><body><geom type='mesh' mesh='none'/>"
                            "</body></worldbody></mujoco>")
    with pytest.raises(ValueError, match=r"MuJoCo rejects it"):
        load_robot(missing_mesh, cameras=[{"name": "c", "body": "world"}])
    two = tmp_path / "two.xml"
    two.write_text("<mujoco><worldbody><body name='a'><geom size='0.1'/></body><body name='b'><geom size='0.1'/></body>"
                   "</worldbody></mujoco>")
    with pytest.raises(ValueError, match=r"one root body under the worldbody, found 2 \(a, b\)"):
        load_robot(two)
    blind = tmp_path / "blind.xml"
    blind.write_text("<mujoco><worldbody><body name='a'><joint name='j'/><geom size='0.1'/></body></worldbody>"
                     "<actuator><motor joint='j' ctrlrange='-1 1'/></actuator></mujoco>")
    with pytest.raises(ValueError, match=r"has no camera: name one of its cameras or mount one"):
        load_robot(blind)
    free = blind.read_text().replace("<motor joint='j' ctrlrange='-1 1'/>", "<motor joint='j'/>")
    (tmp_path / "free.xml").write_text(free)
    with pytest.raises(ValueError, match=r"actuator\(s\) 0 have no ctrlrange"):
        load_robot(tmp_path / "free.xml", cameras=[{"name": "c", "body": "a"}])
    with pytest.raises(ValueError, match=r"neither a shipped robot \(diffdrive\) nor an existing file"):
        load_robot("turtlebot")
    (tmp_path / "robot.sdf").write_text("<sdf/>")
    with pytest.raises(ValueError, match=r"not an MJCF or URDF file"):
        load_robot(tmp_path / "robot.sdf")
    with pytest.raises(ValueError, match=r"base: expected one of auto, free, fixed"):
        load_robot("diffdrive", base="floating")
