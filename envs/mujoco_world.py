"""The MuJoCo bridge: a bundle's ``scene.xml`` with a robot attached, stepped in many worlds, seen through its cameras.

`MuJoCoScene` compiles one bundle's MJCF (`lyra_sim.exporters.mjcf`: floor box + convex pieces,
collision geometry extracted from the Gaussians) with a robot (`envs.robots`) attached by
``mujoco.MjSpec.attach`` under the prefix ``robot/``. The compiled model is shared by every world
of that scene; a world is one ``MjData``. `Worlds` steps many of them on a thread pool (MuJoCo
releases the GIL while it steps) and reads what the environments need:

- **poses**: the robot root's floor position and heading;
- **cameras**: ``data.cam_xpos`` / ``cam_xmat`` and ``model.cam_fovy`` as OpenCV world-to-camera
  ``viewmats`` and pixel intrinsics ``Ks`` (MuJoCo cameras look down their -z axis with +y up;
  OpenCV looks down +z with +y down: the y and z axes flip), for `envs.views.SceneViews`, which
  renders all cameras of all worlds in one call. Only the scene's Gaussians are drawn: the robot
  is not a splat, so it does not appear in its own images;
- **contacts**: whether the robot touches the static scene anywhere but the floor box.

**Spawning.** The robot's footprint is measured on the compiled model (its collision geoms at
the root's rest pose): ``radius``, the largest horizontal reach from the root's origin (per geom
the smaller of its bounding sphere and its bounding box), ``height`` its top and ``bottom`` its
lowest point. Spawn poses come from the nav grid (`envs.nav_fields`) for a body that
``radius`` wide and ``height`` tall; the root is placed ``bottom`` above the floor (+1 mm).
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np

from .robots import RobotModel

PREFIX = "robot/"
"""Names of the attached robot's elements (bodies, cameras, actuators ...) start with this."""

SPAWN_LIFT = 0.001
"""The robot is spawned this far (meters) above the floor, so it starts without penetration."""

INTEGRATORS = MappingProxyType({"euler": 0, "rk4": 1, "implicit": 2, "implicitfast": 3})
"""MuJoCo's integrators by name (``mjtIntegrator`` values)."""


@dataclass(frozen=True)
class PhysicsConfig:
    """How the worlds are stepped.

    Attributes:
        control_dt: seconds of simulated time per environment step (a whole number of timesteps).
        timestep: MuJoCo's timestep, seconds; None keeps the scene's (2 ms).
        integrator: a name of `INTEGRATORS`; ``implicitfast`` (MuJoCo's recommendation) keeps stiff
            velocity servos such as the shipped base's wheels stable at 2 ms.
        threads: worker threads stepping the worlds; None: one per CPU core.
    """

    control_dt: float = 0.1
    timestep: float | None = None
    integrator: str = "implicitfast"
    threads: int | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.control_dt, (int, float)) and math.isfinite(self.control_dt) and self.control_dt > 0):
            raise ValueError(f"physics control_dt: expected a positive number of seconds, got {self.control_dt!r}")
        if self.timestep is not None and not (isinstance(self.timestep, (int, float)) and 0 < self.timestep <= self.control_dt):
            raise ValueError(f"physics timestep: expected 0 < timestep <= control_dt, got {self.timestep!r}")
        if self.integrator not in INTEGRATORS:
            raise ValueError(f"physics integrator: expected one of {', '.join(INTEGRATORS)}, got {self.integrator!r}")
        if self.threads is not None and not (isinstance(self.threads, int) and self.threads >= 1):
            raise ValueError(f"physics threads: expected a positive integer or None, got {self.threads!r}")


def _absolute_asset_paths(spec, directory: Path) -> None:
    """Make the robot's mesh / texture / height-field paths absolute (as its compiler would resolve
    them: ``strippath``, then ``meshdir`` / ``texturedir``): once attached, relative paths would
    resolve against the scene's directory."""
    for kind, attr in (("meshes", "meshdir"), ("textures", "texturedir"), ("hfields", "meshdir")):
        base = directory / (getattr(spec, attr) or "")
        for asset in getattr(spec, kind):
            if asset.file:
                file = Path(asset.file).name if spec.strippath else asset.file
                asset.file = str((base / file).resolve())
    spec.strippath = False


@dataclass(frozen=True)
class Footprint:
    """The robot's extent at rest, root frame, meters (see the module docstring)."""

    radius: float
    height: float
    bottom: float


class MuJoCoScene:
    """One bundle's ``scene.xml`` with ``robot`` attached, compiled once (see the module docstring).

    Attributes:
        model: the compiled ``mujoco.MjModel`` (shared by every world of this scene).
        robot: the `RobotModel` attached.
        footprint: the robot's `Footprint`.
        cameras: ``[C]`` camera ids of ``robot.cameras``.
        frame_skip: MuJoCo steps per environment step.
    """

    def __init__(self, bundle: str | os.PathLike, robot: RobotModel, physics: PhysicsConfig = PhysicsConfig()) -> None:
        import mujoco

        bundle = Path(bundle)
        xml = bundle / "scene.xml"
        if not xml.is_file():
            raise ValueError(f"{bundle}: no scene.xml (export the bundle with the mjcf format: lyra-sim export --formats mjcf,...)")
        try:
            spec = mujoco.MjSpec.from_file(str(xml))
        except ValueError as exc:
            raise ValueError(f"{xml}: MuJoCo rejects it: {' '.join(str(exc).splitlines()[:2])}") from exc
        visual = spec.geom("scene_visual")
        if visual is not None:  # drawn from the splats instead; a visual-only mesh only costs memory
            spec.delete(visual)
        spec.option.integrator = INTEGRATORS[physics.integrator]
        if physics.timestep is not None:
            spec.option.timestep = physics.timestep
        child = robot.spec.copy()
        _absolute_asset_paths(child, robot.source.parent)
        if robot.base == "free":
            frame = spec.worldbody.add_frame()
        else:  # a kinematic frame each world places (data.mocap_pos / mocap_quat)
            frame = spec.worldbody.add_body(name="lyra_spawn", mocap=True).add_frame()
        spec.attach(child, prefix=PREFIX, frame=frame)
        try:
            self.model = spec.compile()
        except ValueError as exc:
            raise ValueError(f"robot {robot.source} in {xml}: MuJoCo rejects the combination: {' '.join(str(exc).splitlines()[:2])}") from exc
        m = self.model
        self.robot, self.bundle = robot, bundle
        steps = physics.control_dt / m.opt.timestep
        if abs(steps - round(steps)) > 1e-6 or round(steps) < 1:
            raise ValueError(f"physics control_dt {physics.control_dt} s is not a whole number of timesteps ({m.opt.timestep} s)")
        self.frame_skip = round(steps)
        self.root = m.body(PREFIX + robot.root).id
        self.cameras = np.array([m.camera(PREFIX + name).id for name in robot.cameras])
        bad = [robot.cameras[i] for i, c in enumerate(self.cameras) if m.cam_sensorsize[c].any()]
        if bad:
            raise ValueError(f"robot {robot.source}: camera(s) {', '.join(bad)} set sensorsize / focal; give them fovy instead")
        # The robot's bodies: the root's subtree.
        self.robot_bodies = np.flatnonzero(self._subtree(self.root))
        self.robot_geom = np.isin(m.geom_bodyid, self.robot_bodies)
        # Geoms whose contact with the robot counts as touching the scene: all static ones but the floor box.
        self.obstacle_geom = ~self.robot_geom
        try:
            self.obstacle_geom[m.geom("floor").id] = False
        except KeyError:  # a bundle exported before the floor box
            pass
        if robot.base == "free":
            joint = next(j for j in range(m.njnt) if m.jnt_bodyid[j] == self.root and m.jnt_type[j] == mujoco.mjtJoint.mjJNT_FREE)
            self.qpos_root, self.dof_root = int(m.jnt_qposadr[joint]), int(m.jnt_dofadr[joint])
            self.mocap = -1
        else:
            self.qpos_root = self.dof_root = -1
            self.mocap = int(m.body_mocapid[m.body("lyra_spawn").id])
        self.footprint = self._measure()
        self._rest = mujoco.MjData(m)  # qpos0 etc. copied into each new world

    def _subtree(self, body: int) -> np.ndarray:
        inside = np.zeros(self.model.nbody, bool)
        inside[body] = True
        for b in range(body + 1, self.model.nbody):  # parents come before their children
            inside[b] = inside[self.model.body_parentid[b]]
        return inside

    def _measure(self) -> Footprint:
        import mujoco

        m = self.model
        d = mujoco.MjData(m)
        mujoco.mj_forward(m, d)
        # Root frame at rest: the spawn frame (free: the root at the origin; fixed: the mocap frame at the origin).
        geoms = np.flatnonzero(self.robot_geom & ((m.geom_contype != 0) | (m.geom_conaffinity != 0)))
        if not len(geoms):
            geoms = np.flatnonzero(self.robot_geom)
        if not len(geoms):
            raise ValueError(f"robot {self.robot.source} has no geoms: it cannot touch the floor")
        signs = np.array(np.meshgrid([-1, 1], [-1, 1], [-1, 1])).reshape(3, -1).T  # [8, 3]
        reach, top, bottom = 0.0, -np.inf, np.inf
        for g in geoms:
            center, half = m.geom_aabb[g, :3], m.geom_aabb[g, 3:]
            rot = d.geom_xmat[g].reshape(3, 3)
            corners = d.geom_xpos[g] + (center + signs * half) @ rot.T  # [8, 3] in the world = root frame
            sphere = np.hypot(*d.geom_xpos[g][:2]) + m.geom_rbound[g]
            reach = max(reach, min(float(np.hypot(corners[:, 0], corners[:, 1]).max()), float(sphere)))
            top, bottom = max(top, float(corners[:, 2].max())), min(bottom, float(corners[:, 2].min()))
        return Footprint(radius=reach, height=top - bottom, bottom=bottom)

    # ------------------------------------------------------------------ worlds
    def new_data(self):
        """A world of this scene at the rest pose."""
        import mujoco

        d = mujoco.MjData(self.model)
        mujoco.mj_copyData(d, self.model, self._rest)
        return d

    def place(self, data, xy: np.ndarray, yaw: float, floor_z: float) -> None:
        """Reset ``data`` to the rest state with the robot at floor position ``xy [2]``, heading ``yaw`` (radians)."""
        import mujoco

        mujoco.mj_resetData(self.model, data)
        z = floor_z - self.footprint.bottom + SPAWN_LIFT
        quat = [math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)]
        if self.robot.base == "free":
            data.qpos[self.qpos_root : self.qpos_root + 3] = [xy[0], xy[1], z]
            data.qpos[self.qpos_root + 3 : self.qpos_root + 7] = quat
        else:
            data.mocap_pos[self.mocap] = [xy[0], xy[1], z]
            data.mocap_quat[self.mocap] = quat
        mujoco.mj_forward(self.model, data)

    def pose(self, data) -> tuple[np.ndarray, float, float]:
        """The root's ``xy [2]``, heading (radians, counterclockwise from +x) and up-axis z component."""
        rot = data.xmat[self.root].reshape(3, 3)
        return data.xpos[self.root][:2].copy(), math.atan2(rot[1, 0], rot[0, 0]), float(rot[2, 2])

    def touching(self, data) -> bool:
        """Whether the robot touches the static scene anywhere but the floor box (contacts of the last step)."""
        if data.ncon == 0:
            return False
        g = data.contact.geom[: data.ncon]
        robot = self.robot_geom[g]
        return bool(((robot[:, 0] & self.obstacle_geom[g[:, 1]]) | (robot[:, 1] & self.obstacle_geom[g[:, 0]])).any())

    def camera_rest_poses(self) -> tuple[np.ndarray, np.ndarray]:
        """Camera positions ``[C, 3]`` and MuJoCo rotations ``[C, 3, 3]`` in the spawn frame at rest."""
        import mujoco

        d = self.new_data()
        self.place(d, np.zeros(2), 0.0, 0.0)
        mujoco.mj_forward(self.model, d)
        return d.cam_xpos[self.cameras].copy(), d.cam_xmat[self.cameras].reshape(-1, 3, 3).copy()


def opencv_viewmats(positions: np.ndarray, rotations: np.ndarray) -> np.ndarray:
    """World-to-camera ``[N, 4, 4]`` (OpenCV axes) of MuJoCo cameras at ``positions [N, 3]`` with
    camera-to-world ``rotations [N, 3, 3]`` (MuJoCo camera axes: x right, y up, looking down -z)."""
    rot = rotations * np.array([1.0, -1.0, -1.0])  # columns: OpenCV x, y (down), z (forward) in the world
    view = np.zeros((len(positions), 4, 4))
    view[:, :3, :3] = rot.transpose(0, 2, 1)
    view[:, :3, 3] = -np.einsum("nij,nj->ni", view[:, :3, :3], positions)
    view[:, 3, 3] = 1
    return view


def fovy_intrinsics(fovy_deg: np.ndarray, width: int, height: int) -> np.ndarray:
    """Pixel intrinsics ``[N, 3, 3]`` of cameras with vertical fields of view ``fovy_deg [N]`` (MuJoCo's
    convention: square pixels, principal point at the image center)."""
    f = 0.5 * height / np.tan(np.radians(np.asarray(fovy_deg, np.float64)) / 2)
    ks = np.zeros((len(f), 3, 3))
    ks[:, 0, 0] = ks[:, 1, 1] = f
    ks[:, 0, 2], ks[:, 1, 2], ks[:, 2, 2] = width / 2, height / 2, 1
    return ks


class Worlds:
    """``N`` worlds (``MjData``) over the scenes ``scenes``, world ``i`` in scene ``scene_of[i]``, stepped
    together on a thread pool.

    ``step`` sets every world's controls, advances each by its scene's ``frame_skip`` timesteps
    and brings positions, cameras and contacts up to date (``mj_fwdPosition``).
    """

    def __init__(self, scenes: list[MuJoCoScene], scene_of: np.ndarray, threads: int | None = None) -> None:
        self.scenes = scenes
        self.scene_of = np.asarray(scene_of, np.int64)
        self.datas = [scenes[s].new_data() for s in self.scene_of]
        workers = min(len(self.datas), threads or os.cpu_count() or 1)
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="lyra-mujoco") if workers > 1 else None
        self._chunks = np.array_split(np.arange(len(self.datas)), workers)

    def _run(self, rows: np.ndarray, ctrl: np.ndarray, touched: np.ndarray) -> None:
        import mujoco

        for i in rows:
            scene, data = self.scenes[self.scene_of[i]], self.datas[i]
            data.ctrl[:] = ctrl[i]
            mujoco.mj_step(scene.model, data, nstep=scene.frame_skip)
            mujoco.mj_fwdPosition(scene.model, data)
            touched[i] = scene.touching(data)

    def step(self, ctrl: np.ndarray) -> np.ndarray:
        """Advance every world with controls ``ctrl [N, nu]``; returns ``touched [N]`` (robot touching the scene)."""
        touched = np.zeros(len(self.datas), bool)
        if self._pool is None:
            self._run(np.arange(len(self.datas)), ctrl, touched)
        else:
            for future in [self._pool.submit(self._run, rows, ctrl, touched) for rows in self._chunks if len(rows)]:
                future.result()
        return touched

    def poses(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every robot's ``xy [N, 2]``, ``yaw [N]`` and up-axis z ``[N]``."""
        out = [self.scenes[s].pose(d) for s, d in zip(self.scene_of, self.datas)]
        return np.array([o[0] for o in out]), np.array([o[1] for o in out]), np.array([o[2] for o in out])

    def cameras(self, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
        """``viewmats [N * C, 4, 4]`` and ``Ks [N * C, 3, 3]`` of every world's cameras, world-major."""
        pos, rot, fovy = [], [], []
        for s, d in zip(self.scene_of, self.datas):
            scene = self.scenes[s]
            pos.append(d.cam_xpos[scene.cameras])
            rot.append(d.cam_xmat[scene.cameras])
            fovy.append(scene.model.cam_fovy[scene.cameras])
        rot = np.concatenate(rot).reshape(-1, 3, 3)
        return opencv_viewmats(np.concatenate(pos), rot), fovy_intrinsics(np.concatenate(fovy), width, height)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
