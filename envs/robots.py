"""Robot files for the MuJoCo environments: the shipped robots, users' MJCF / URDF files, their cameras.

A robot is one MuJoCo model file with one root body under its worldbody. How it stands in a
scene depends on its root (`RobotModel.base`):

- ``"free"``: the root has a free joint (a mobile base); spawning sets that joint's pose.
- ``"fixed"``: any other root (no joint, or its own slide / hinge joints): it is attached
  under a kinematic (mocap) frame that spawning places, so it stands where it is put.

``base="free"`` gives a jointless root a free joint (URDF bases have none), ``base="fixed"``
removes a root's free joint.

Cameras are named ones of the file, or `CameraMount`\\ s added to a body (URDF has no cameras).
Every actuator needs a control range: the environments' action spaces are built from them.
URDF has no actuators either: a URDF robot's hinge and slide joints each get a torque motor
whose control range is the joint's ``<limit effort>`` (a joint without one is an error).
Whatever MuJoCo rejects is a ValueError naming the file and MuJoCo's reason.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping, Sequence

import numpy as np

from lyra_sim.config import from_dict

ASSETS = Path(__file__).resolve().parent / "assets"

ROBOTS: Mapping[str, Path] = MappingProxyType({"diffdrive": ASSETS / "diffdrive.xml"})
"""Shipped robots: name → MJCF file (package data)."""

BASES = ("auto", "free", "fixed")
SUFFIXES = (".xml", ".mjcf", ".urdf")


@dataclass(frozen=True)
class CameraMount:
    """A camera added to a robot body (for files without one, e.g. URDF).

    Attributes:
        name: the camera's name (must not be taken in the file).
        body: the body it is fixed to.
        pos: position in the body frame, meters.
        yaw_deg: heading relative to the body's +x axis (counterclockwise about +z), degrees.
        pitch_deg: downward tilt, degrees (0 looks level).
        fovy: vertical field of view, degrees.
    """

    name: str
    body: str
    pos: tuple[float, float, float] = (0.0, 0.0, 0.0)
    yaw_deg: float = 0.0
    pitch_deg: float = 0.0
    fovy: float = 60.0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or not isinstance(self.body, str) or not self.body:
            raise ValueError(f"camera mount: name and body must be non-empty strings, got {self.name!r}, {self.body!r}")
        if len(self.pos) != 3 or not all(math.isfinite(float(v)) for v in self.pos):
            raise ValueError(f"camera mount {self.name!r}: pos must be 3 finite numbers, got {self.pos!r}")
        if not -89 <= self.pitch_deg <= 89:
            raise ValueError(f"camera mount {self.name!r}: pitch_deg must be in -89..89, got {self.pitch_deg}")
        if not 1 <= self.fovy <= 170:
            raise ValueError(f"camera mount {self.name!r}: fovy must be in 1..170 degrees, got {self.fovy}")

    def quat(self) -> np.ndarray:
        """wxyz orientation of the MuJoCo camera frame (x right, y up, looking down -z) in the body frame."""
        import mujoco

        yaw, pitch = math.radians(self.yaw_deg), math.radians(self.pitch_deg)
        forward = np.array([math.cos(pitch) * math.cos(yaw), math.cos(pitch) * math.sin(yaw), -math.sin(pitch)])
        right = np.array([math.sin(yaw), -math.cos(yaw), 0.0])
        up = np.cross(right, forward)
        quat = np.zeros(4)
        mujoco.mju_mat2Quat(quat, np.stack([right, up, -forward], 1).ravel())
        return quat


@dataclass
class RobotModel:
    """A robot ready to be attached to a scene (see the module docstring).

    Attributes:
        spec: its ``mujoco.MjSpec`` (camera mounts added, root joint as ``base`` says).
        source: the file it came from.
        root: the root body's name.
        base: ``"free"`` or ``"fixed"``.
        cameras: the cameras to render, by their names in ``spec``.
    """

    spec: Any
    source: Path
    root: str
    base: str
    cameras: tuple[str, ...]


def robot_path(robot: str | os.PathLike) -> Path:
    """The file of a shipped robot's name or of a user's path (ValueError naming the accepted ones)."""
    if isinstance(robot, str) and robot in ROBOTS:
        return ROBOTS[robot]
    if not isinstance(robot, (str, os.PathLike)):
        raise ValueError(f"robot: expected a name ({', '.join(ROBOTS)}) or an MJCF / URDF path, got {type(robot).__name__}")
    path = Path(robot)
    if not path.is_file():
        raise ValueError(f"robot: {robot!r} is neither a shipped robot ({', '.join(ROBOTS)}) nor an existing file")
    if path.suffix.lower() not in SUFFIXES:
        raise ValueError(f"robot: {path} is not an MJCF or URDF file (expected {', '.join(SUFFIXES)})")
    return path


def _mount(value: str | CameraMount | dict) -> str | CameraMount:
    if isinstance(value, (str, CameraMount)):
        return value
    if isinstance(value, dict):
        return from_dict(CameraMount, value, "camera mount")
    raise ValueError(f"cameras: expected camera names or camera mounts (dicts of CameraMount fields), got {type(value).__name__}")


def _first_line(exc: Exception) -> str:
    return " ".join(str(exc).strip().splitlines()[:2])


def _add_urdf_motors(spec, path: Path) -> None:
    """One torque motor per hinge / slide joint, its control range the joint's effort limit."""
    import mujoco

    moving = [j for j in spec.joints if j.type in (mujoco.mjtJoint.mjJNT_HINGE, mujoco.mjtJoint.mjJNT_SLIDE)]
    no_effort = [j.name for j in moving if not j.actfrcrange[0] < j.actfrcrange[1]]
    if no_effort:
        raise ValueError(f"robot {path}: joint(s) {', '.join(no_effort)} have no <limit effort>: URDF joints get torque motors "
                         "whose range is their effort limit")
    for j in moving:
        spec.add_actuator(name=j.name, target=j.name, trntype=mujoco.mjtTrn.mjTRN_JOINT, ctrlrange=list(j.actfrcrange))


def load_robot(robot: str | os.PathLike, cameras: Sequence[str | CameraMount | dict] | None = None, base: str = "auto") -> RobotModel:
    """Read and check a robot file (see the module docstring).

    Args:
        robot: a name of `ROBOTS` or a path to an MJCF (``.xml``) or URDF (``.urdf``) file.
        cameras: camera names of the file and/or `CameraMount`\\ s (or their dicts); None: every
            camera of the file, which must have one.
        base: ``"auto"``, ``"free"`` or ``"fixed"`` (see the module docstring).
    """
    import mujoco

    if base not in BASES:
        raise ValueError(f"base: expected one of {', '.join(BASES)}, got {base!r}")
    path = robot_path(robot)
    try:
        spec = mujoco.MjSpec.from_file(str(path))
    except ValueError as exc:
        raise ValueError(f"robot {path}: MuJoCo rejects it: {_first_line(exc)}") from exc
    roots = [b for b in spec.worldbody.bodies]
    if len(roots) != 1:
        raise ValueError(f"robot {path}: expected one root body under the worldbody, found {len(roots)}"
                         + (f" ({', '.join(b.name or '<unnamed>' for b in roots)})" if roots else ""))
    root = roots[0]
    if not root.name:
        root.name = "base"
    free = [j for j in root.joints if j.type == mujoco.mjtJoint.mjJNT_FREE]
    if base == "free" and not free:
        if root.joints:
            raise ValueError(f"robot {path}: base='free' needs a root body without joints; {root.name!r} has "
                             f"{', '.join(j.name or '<unnamed>' for j in root.joints)}")
        root.add_freejoint()
    elif base == "fixed" and free:
        spec.delete(free[0])
    is_free = any(j.type == mujoco.mjtJoint.mjJNT_FREE for j in root.joints)
    if path.suffix.lower() == ".urdf" and not spec.actuators:
        _add_urdf_motors(spec, path)

    names = [c.name for c in spec.cameras]
    wanted = []
    for item in (names if cameras is None else [_mount(c) for c in cameras]):
        if isinstance(item, CameraMount):
            body = spec.body(item.body)
            if body is None:
                raise ValueError(f"camera mount {item.name!r}: robot {path} has no body {item.body!r}; "
                                 f"its bodies: {', '.join(b.name for b in spec.bodies if b.name != 'world')}")
            if item.name in names:
                raise ValueError(f"camera mount {item.name!r}: robot {path} already has a camera of that name")
            body.add_camera(name=item.name, pos=list(map(float, item.pos)), quat=item.quat().tolist(), fovy=float(item.fovy))
            names.append(item.name)
            wanted.append(item.name)
        elif item not in names:
            raise ValueError(f"camera {item!r} is not in robot {path}; its cameras: {', '.join(n or '<unnamed>' for n in names) or 'none'}"
                             " (or mount one: cameras=[{'name': ..., 'body': ..., 'pos': [x, y, z]}])")
        else:
            wanted.append(item)
    if not wanted:
        raise ValueError(f"robot {path} has no camera: name one of its cameras or mount one "
                         "(cameras=[{'name': 'front', 'body': <body>, 'pos': [x, y, z]}])")
    if len(set(wanted)) != len(wanted):
        raise ValueError(f"cameras: each camera once, got {wanted}")
    try:
        model = spec.copy().compile()
    except ValueError as exc:
        raise ValueError(f"robot {path}: MuJoCo rejects it: {_first_line(exc)}") from exc
    if model.nu == 0:
        raise ValueError(f"robot {path} has no actuators: the environment's actions drive a robot's actuators")
    unlimited = [model.actuator(i).name or str(i) for i in range(model.nu)
                 if not model.actuator_ctrllimited[i] or not model.actuator_ctrlrange[i, 0] < model.actuator_ctrlrange[i, 1]]
    if unlimited:
        raise ValueError(f"robot {path}: actuator(s) {', '.join(unlimited)} have no ctrlrange "
                         "(the action space is built from the actuators' control ranges)")
    return RobotModel(spec=spec, source=path, root=root.name, base="free" if is_free else "fixed", cameras=tuple(wanted))
