"""Helpers of the environment tests: `LyraScene-v0` on a bundle with a short task; a user's robot file."""

import gymnasium as gym

import lyra_sim  # noqa: F401  (registers LyraScene-v0)

TASK = {"min_geodesic": 0.5, "max_episode_steps": 40}


def make(bundle, **kw):
    kw.setdefault("task", TASK)
    return gym.make("LyraScene-v0", scene=str(bundle), **kw)


ARM = """<mujoco model="user_arm">
  <compiler angle="degree" meshdir="meshes"/>
  <asset><mesh name="gripper" file="gripper.stl"/></asset>
  <worldbody>
    <body name="cart">
      <geom name="cart" type="box" size="0.2 0.15 0.1" pos="0 0 0.1" mass="8"/>
      <body name="shoulder" pos="0 0 0.2">
        <joint name="shoulder" type="hinge" axis="0 0 1" range="-170 170" damping="5"/>
        <geom type="cylinder" size="0.04 0.05" pos="0 0 0.05" mass="1"/>
        <body name="upper" pos="0 0 0.1">
          <joint name="elbow" type="hinge" axis="0 1 0" range="-90 90" damping="5"/>
          <geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.03" mass="0.8"/>
          <body name="hand" pos="0.3 0 0">
            <geom type="mesh" mesh="gripper" mass="0.2"/>
            <camera name="wrist" pos="0.05 0 0" xyaxes="0 -1 0 0 0 1" fovy="70"/>
          </body>
        </body>
      </body>
    </body>
  </worldbody>
  <actuator>
    <position name="shoulder" joint="shoulder" kp="50" ctrlrange="-2.9 2.9"/>
    <position name="elbow" joint="elbow" kp="50" ctrlrange="-1.5 1.5"/>
  </actuator>
</mujoco>
"""
"""A user's own robot: a two-joint arm with a wrist camera on a box cart, its gripper a mesh file in ``meshes/``."""


def write_arm(directory):
    """Write `ARM` and its mesh into ``directory``; returns the MJCF path."""
    import trimesh

    (directory / "meshes").mkdir()
    trimesh.creation.box(extents=(0.06, 0.08, 0.04)).export(directory / "meshes" / "gripper.stl")
    (directory / "arm.xml").write_text(ARM)
    return directory / "arm.xml"
