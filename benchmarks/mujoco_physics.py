"""Physics figures of the shipped differential-drive base in a bundle's ``scene.xml``.

Usage: ``python benchmarks/mujoco_physics.py BUNDLE [--robot diffdrive] [--spots 8]``

Prints three markdown tables:

- **rest**: the base spawned at free spots with zero wheel speed: drift of its root over 2 s;
- **wall**: the base driven at full speed toward the nearest obstacle cell for 4 s: closest contact
  distance of its shell to the scene in the last 1.5 s (negative = overlap; the shell's contact
  margin is 5 mm) and how far its root moved along the contact normal in the last second
  (sliding along a wall it meets at an angle is allowed; moving into it is not);
- **odometry**: wheel odometry (wheel angles integrated with the nominal radius and track) against
  the root's true displacement and heading change, for straight, curved and turning drives.
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from lyra_sim.envs.mujoco_world import MuJoCoScene
from lyra_sim.envs.robots import load_robot
from lyra_sim.exporters.nav_grid import read_nav

WHEEL_RADIUS, TRACK = 0.035, 0.23  # the shipped base's nominal geometry (envs/assets/diffdrive.xml)


def free_spots(grid, count: int, clearance: float, seed: int = 0) -> np.ndarray:
    cells = np.flatnonzero(grid.distance.ravel() >= clearance)
    pick = np.random.default_rng(seed).choice(cells, min(count, len(cells)), replace=False)
    return grid.cell_centers().reshape(-1, 2)[pick]


def robot_contacts(scene: MuJoCoScene, data) -> list[tuple[float, np.ndarray]]:
    """``(distance, unit normal)`` of every contact between the robot and the scene but the floor box."""
    out = []
    for c in data.contact[: data.ncon]:
        g1, g2 = c.geom
        if scene.robot_geom[g1] != scene.robot_geom[g2] and (scene.obstacle_geom[g1] or scene.obstacle_geom[g2]):
            out.append((float(c.dist), c.frame[:3].copy()))
    return out


def rest(scene: MuJoCoScene, data, spots: np.ndarray, floor_z: float) -> None:
    import mujoco

    print("| spot | drift over 2 s, mm | final speed, mm/s |\n| --- | ---: | ---: |")
    for x, y in spots:
        scene.place(data, np.array([x, y]), 0.0, floor_z)
        mujoco.mj_step(scene.model, data, nstep=int(0.3 / scene.model.opt.timestep))
        start = data.xpos[scene.root].copy()
        mujoco.mj_step(scene.model, data, nstep=int(2.0 / scene.model.opt.timestep))
        drift = np.linalg.norm((data.xpos[scene.root] - start)[:2]) * 1000
        speed = np.linalg.norm(data.qvel[scene.dof_root : scene.dof_root + 3]) * 1000
        print(f"| ({x:.2f}, {y:.2f}) | {drift:.4f} | {speed:.4f} |")


def wall(scene: MuJoCoScene, data, grid, spots: np.ndarray, floor_z: float) -> None:
    import mujoco

    blocked = np.argwhere(grid.occupancy.T == 1)  # (ix, iy)
    centers = grid.origin + (blocked + 0.5) * grid.resolution
    print("| start | heading | closest contact, mm | overlap, mm | moved into it in the last 1 s, mm |\n"
          "| --- | ---: | ---: | ---: | ---: |")
    dt = scene.model.opt.timestep
    for x, y in spots:
        nearest = centers[np.argmin(np.linalg.norm(centers - [x, y], axis=1))]
        yaw = math.atan2(nearest[1] - y, nearest[0] - x)
        scene.place(data, np.array([x, y]), yaw, floor_z)
        closest, normals, steps = np.inf, [], int(4.0 / dt)
        for k in range(steps):
            if k == steps - int(1.0 / dt):
                before = data.xpos[scene.root].copy()
            data.ctrl[:] = scene.model.actuator_ctrlrange[:, 1]
            mujoco.mj_step(scene.model, data)
            if k > steps - int(1.5 / dt):
                for dist, normal in robot_contacts(scene, data):
                    closest = min(closest, dist)
                    normals.append(normal[:2] * np.sign(normal[:2] @ (nearest - [x, y])))  # toward the obstacle
        if not normals:
            print(f"| ({x:.2f}, {y:.2f}) | {math.degrees(yaw):.0f}° | no contact | - | - |")
            continue
        normal = np.mean(normals, 0)
        normal /= np.linalg.norm(normal)
        into = float((data.xpos[scene.root] - before)[:2] @ normal)
        print(f"| ({x:.2f}, {y:.2f}) | {math.degrees(yaw):.0f}° | {closest * 1000:.2f} | {max(0.0, -closest) * 1000:.2f} | "
              f"{into * 1000:+.2f} |")


def odometry(scene: MuJoCoScene, data, spot: np.ndarray, floor_z: float) -> None:
    import mujoco

    m = scene.model
    left = m.jnt_qposadr[m.joint("robot/left_wheel").id]
    right = m.jnt_qposadr[m.joint("robot/right_wheel").id]
    drives = {"straight 0.35 m/s": (10, 10), "straight 0.7 m/s": (20, 20), "curve": (12, 6), "turn in place": (-6, 6)}
    print("| drive, 2 s | true distance, m | odometry distance, m | error | true turn, deg | odometry turn, deg | error |\n"
          "| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, ctrl in drives.items():
        scene.place(data, spot, 0.0, floor_z)
        mujoco.mj_step(m, data, nstep=int(0.2 / m.opt.timestep))
        start, (_, yaw0, _) = data.xpos[scene.root][:2].copy(), scene.pose(data)
        wheels0 = data.qpos[[left, right]].copy()
        path, yaw_true, prev, prev_yaw = 0.0, 0.0, start.copy(), yaw0
        odo_path, odo_yaw, wheels = 0.0, 0.0, wheels0.copy()
        for _ in range(int(2.0 / (10 * m.opt.timestep))):
            data.ctrl[:] = ctrl
            mujoco.mj_step(m, data, nstep=10)
            xy, yaw, _ = scene.pose(data)
            path += float(np.linalg.norm(xy - prev))
            yaw_true += math.remainder(yaw - prev_yaw, 2 * math.pi)
            prev, prev_yaw = xy.copy(), yaw
            dl, dr = (data.qpos[[left, right]] - wheels) * WHEEL_RADIUS
            wheels = data.qpos[[left, right]].copy()
            odo_path += abs(dl + dr) / 2
            odo_yaw += (dr - dl) / TRACK
        d_err = f"{(odo_path - path) / path * 100:+.1f}%" if path > 0.01 else "-"
        t_err = f"{(odo_yaw - yaw_true) / abs(yaw_true) * 100:+.1f}%" if abs(yaw_true) > math.radians(5) else "-"
        print(f"| {name} | {path:.4f} | {odo_path:.4f} | {d_err} | {math.degrees(yaw_true):.1f} | {math.degrees(odo_yaw):.1f} | {t_err} |")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("bundle")
    p.add_argument("--robot", default="diffdrive")
    p.add_argument("--spots", type=int, default=6)
    args = p.parse_args(argv)
    scene = MuJoCoScene(args.bundle, load_robot(args.robot))
    grid = read_nav(f"{args.bundle}/nav.npz")
    data = scene.new_data()
    spots = free_spots(grid, args.spots, scene.footprint.radius + 0.3)
    print(f"{args.bundle}: robot {args.robot}, footprint radius {scene.footprint.radius:.3f} m, timestep {scene.model.opt.timestep} s\n")
    rest(scene, data, spots, grid.floor_z)
    print()
    wall(scene, data, grid, spots, grid.floor_z)
    print()
    widest = grid.cell_centers().reshape(-1, 2)[int(np.argmax(grid.distance))]  # the most room to drive in
    odometry(scene, data, widest, grid.floor_z)


if __name__ == "__main__":
    main()
