"""A small dynamic scene for the tests of moving parts: the box room (`_scenes`) with a cart that drives
back and forth along the far wall and a door leaf that swings on its hinge, over a few times.

`box_room_dynamic` returns the `DynamicScene` (labelled, the same Gaussians at every time) and the
ground truth the tests compare with (never given to the code under test): each mover's world motion
from the first time ``[T, 4, 4]`` and its rest box.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

from _scenes import ROOM, _quad_samples, box_room_scene
from lyra_sim.dynamic import DynamicScene, rigid_transform
from lyra_sim.scene import GaussianScene, merge, rotmat_to_quat

CART = ((0.35, 1.85, 0.0), (0.65, 2.15, 0.4))  # lo, hi at rest: in the far aisle, clear of the block
CART_TRAVEL = 1.0  # meters along +x and back
HINGE = (1.9, 0.1)  # the door leaf's vertical axis (x, y)
LEAF = ((1.3, 0.08, 0.0), (1.9, 0.12, 1.2))  # lo, hi at rest: along the near wall, hinge at its +x end
SWING_DEG = 70.0


@dataclass(frozen=True)
class GroundTruth:
    """Per mover: world motion from the first time ``[T, 4, 4]`` and rest box ``(lo, hi)``."""

    motions: dict[str, np.ndarray]
    boxes: dict[str, tuple[np.ndarray, np.ndarray]]


def _box_gaussians(lo, hi, label: str, spacing: float, rng, color) -> GaussianScene:
    """Flat Gaussians on the six faces of a box (bottom included: a part seen from anywhere)."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    d = hi - lo
    faces = [(lo, (d[0], 0, 0), (0, d[1], 0), (0, 0, -1)), (lo + (0, 0, d[2]), (d[0], 0, 0), (0, d[1], 0), (0, 0, 1)),
             (lo, (d[0], 0, 0), (0, 0, d[2]), (0, -1, 0)), (lo + (0, d[1], 0), (d[0], 0, 0), (0, 0, d[2]), (0, 1, 0)),
             (lo, (0, d[1], 0), (0, 0, d[2]), (-1, 0, 0)), (lo + (d[0], 0, 0), (0, d[1], 0), (0, 0, d[2]), (1, 0, 0))]
    means, normals = [], []
    for origin, u, v, n in faces:
        p, nn = _quad_samples(origin, u, v, n, spacing, rng)
        means.append(p), normals.append(nn)
    means, normals = np.concatenate(means), np.concatenate(normals)
    helper = np.where(np.abs(normals[:, :1]) < 0.9, [[1.0, 0, 0]], [[0.0, 1, 0]])
    xa = np.cross(helper, normals)
    xa /= np.linalg.norm(xa, axis=1, keepdims=True)
    rot = torch.tensor(np.stack([xa, np.cross(normals, xa), normals], -1), dtype=torch.float32)
    n = len(means)
    scales = torch.tensor([[0.7 * spacing, 0.7 * spacing, 0.05 * spacing]]).expand(n, 3).contiguous()
    rgb = torch.tensor(np.broadcast_to(color, (n, 3)) * rng.uniform(0.85, 1.0, (n, 1)), dtype=torch.float32)
    return GaussianScene.from_rgb(torch.tensor(means, dtype=torch.float32), rotmat_to_quat(rot), scales,
                                  torch.full((n,), 0.97), rgb, torch.zeros(n, dtype=torch.int64), (label,))


def cart_motion(t: float, period: float) -> np.ndarray:
    m = np.eye(4)
    m[0, 3] = CART_TRAVEL * 0.5 * (1 - math.cos(2 * math.pi * t / period))
    return m


def leaf_motion(t: float, period: float) -> np.ndarray:
    a = -math.radians(SWING_DEG) * 0.5 * (1 - math.cos(2 * math.pi * t / period))  # clockwise: into the room
    c, s = math.cos(a), math.sin(a)
    r = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    m = np.eye(4)
    hinge = np.array([HINGE[0], HINGE[1], 0.0])
    m[:3, :3], m[:3, 3] = r, hinge - r @ hinge
    return m


@functools.lru_cache(maxsize=None)
def box_room_dynamic(frames: int = 8, fps: float = 4.0, spacing: float = 0.04, period: float = 2.0
                     ) -> tuple[DynamicScene, GroundTruth]:
    """The box room with a moving cart and a swinging door leaf, ``frames`` times ``k / fps`` (one
    ``period`` of both motions at the defaults: their loops wrap)."""
    rng = np.random.default_rng(3)
    room = box_room_scene(spacing=spacing)
    scene = merge([room, _box_gaussians(*CART, "cart_0", spacing, rng, (0.1, 0.3, 0.8)),
                   _box_gaussians(*LEAF, "door_0.leaf", spacing, rng, (0.55, 0.35, 0.2))])
    times = tuple(k / fps for k in range(frames))
    movers = {"cart_0": lambda t: cart_motion(t, period), "door_0.leaf": lambda t: leaf_motion(t, period)}
    motions = {name: np.stack([f(t) for t in times]) for name, f in movers.items()}
    scenes = []
    for k in range(frames):
        s = scene
        for name, m in motions.items():
            mask = scene.labels == scene.label_names.index(name)
            s = rigid_transform(s, torch.tensor(m[k, :3, :3], dtype=torch.float32),
                                torch.tensor(m[k, :3, 3], dtype=torch.float32), mask)
        scenes.append(s)
    boxes = {"cart_0": tuple(map(np.asarray, CART)), "door_0.leaf": tuple(map(np.asarray, LEAF))}
    return DynamicScene(times, tuple(scenes), fps), GroundTruth(motions, boxes)


assert CART[1][1] < ROOM[1] and LEAF[0][0] > 0


@functools.lru_cache(maxsize=None)
def box_room_dynamic_bundle():
    """The dynamic box room exported as a dynamic bundle (fast settings), once per test session (deleted at exit)."""
    import atexit
    import shutil
    import tempfile
    from pathlib import Path

    from _scenes import fast_export_config
    from lyra_sim.dynamic import write_scene4d
    from lyra_sim.exporters.dynamic_bundle import export_dynamic_bundle

    root = Path(tempfile.mkdtemp(prefix="lyra-test-dynamic-"))
    atexit.register(shutil.rmtree, root, True)
    write_scene4d(root / "scene" / "scene4d", box_room_dynamic()[0])
    export_dynamic_bundle(root / "scene", root / "bundle", ("usd", "usdz", "mjcf", "urdf", "glb"), fast_export_config())
    return root / "bundle"


class ExactClearance:
    """Exact clearance of an agent's body from a bundle's moving parts, posed at a time (the env is not asked):
    the collision meshes of ``motion.json`` under its tracks (`lyra_sim.exporters.body_clearance`)."""

    def __init__(self, bundle, z0: float, z1: float):
        import trimesh
        from scipy.spatial import ConvexHull

        from lyra_sim.exporters.motion_track import read_motion

        motion = read_motion(bundle)
        self.tracks = motion.tracks
        self.meshes = [trimesh.load(bundle / p["files"]["collision"], process=False) for p in motion.parts]
        self.z0, self.z1 = z0, z1
        # Inside = inside one of the part's convex pieces (the watertight solids MJCF collides with): the fused
        # collision mesh is not watertight, so ray parity through it can call a point outside it inside.
        self.pieces = [[ConvexHull(np.asarray(trimesh.load(bundle / f, process=False).vertices)).equations
                        for f in p["files"]["pieces"]] for p in motion.parts]

    def __call__(self, xy, t: float) -> tuple[float, bool]:
        """``(least horizontal distance from the body's axis to any part, whether the axis is inside one of its
        convex pieces)``."""
        from lyra_sim.exporters.body_clearance import horizontal_distance

        best, inside = math.inf, False
        for track, mesh, pieces in zip(self.tracks, self.meshes, self.pieces):
            pose = track.pose_at(t)
            v = mesh.vertices @ pose[:3, :3].T + pose[:3, 3]
            best = min(best, horizontal_distance(v, mesh.faces, xy, self.z0, self.z1))
            # the axis inside the solid: one point of it, into the part's frame
            p = np.linalg.solve(pose, [xy[0], xy[1], (self.z0 + self.z1) / 2, 1.0])[:3]
            inside |= any(bool((eq[:, :3] @ p + eq[:, 3] <= 0).all()) for eq in pieces)
        return best, inside


def box_room_dynamic_bundle_by_hand(out, spacing: float = 0.04):
    """The dynamic box room (`box_room_dynamic`, Gaussians ``spacing`` apart) as a dynamic bundle built by hand, fast
    and without open3d (the GPU machine has none):
    the static box room of `_scenes.box_room_bundle_by_hand` (``scene.ply``: the static part), ``scene4d/``, and
    the cart and door leaf with their true boxes as collision meshes and pieces and their true motions as tracks
    (part frame: the rest box's center). It verifies as `lyra_sim.exporters.dynamic_bundle` bundles do."""
    import json
    from dataclasses import replace

    import trimesh

    from _scenes import box_room_bundle_by_hand
    from lyra_sim.dynamic import write_scene4d
    from lyra_sim.exporters.mesh_tools import safe_name
    from lyra_sim.exporters.meshes import write_mesh
    from lyra_sim.exporters.motion_track import MOTION_FORMAT, MOTION_VERSION, MotionTrack, motion_arrays, poses_to_tracks
    from lyra_sim.exporters.nav_grid import save_npz
    from lyra_sim.manifest import read_manifest, write_manifest
    from lyra_sim.ply import write_ply

    dynamic, truth = box_room_dynamic(spacing=spacing)
    box_room_bundle_by_hand(out, spacing=spacing)
    write_scene4d(out / "scene4d", dynamic)
    times = list(dynamic.times)
    entries, tracks = [], []
    for name, (lo, hi) in truth.boxes.items():
        center = (lo + hi) / 2
        folder = f"parts/{safe_name(name)}"
        (out / folder / "pieces").mkdir(parents=True)
        part = dynamic[0].select(torch.nonzero(dynamic[0].labels == dynamic.label_names.index(name)).flatten())
        write_ply(out / folder / "splats.ply", replace(part, means=part.means - torch.tensor(center, dtype=torch.float32)))
        box = trimesh.creation.box(extents=hi - lo)
        write_mesh(out / folder / "collision.obj", box.vertices, box.faces)
        write_mesh(out / folder / "pieces/piece_0000.stl", box.vertices, box.faces)
        to_part = np.eye(4)
        to_part[:3, 3] = center
        track = MotionTrack(name, np.array(times), *poses_to_tracks(truth.motions[name] @ to_part), "wrap")
        tracks.append(track)
        entries.append({"name": name, "label": name, "times": times, "position": track.positions.tolist(),
                        "orientation": track.orientations.tolist(), "loop": track.loop, "period": track.period,
                        "files": {"splats": f"{folder}/splats.ply", "collision": f"{folder}/collision.obj",
                                  "pieces": [f"{folder}/pieces/piece_0000.stl"]}})
    (out / "motion.json").write_text(json.dumps({"format": MOTION_FORMAT, "version": MOTION_VERSION, "times": times,
                                                 "fps": dynamic.fps, "parts": entries}))
    save_npz(out / "motion.npz", motion_arrays(tracks))
    manifest = {k: v for k, v in read_manifest(out).items() if k not in ("format", "format_version", "files")}
    write_manifest(out, {**manifest, "dynamic": {"times": times, "parts": list(truth.boxes)}})
    return out
