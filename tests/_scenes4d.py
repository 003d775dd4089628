"""Small dynamic scenes for the viewer tests: the box room (`_scenes`) with its table sliding along x."""

from __future__ import annotations

from pathlib import Path

import torch

from _scenes import BLOCK, box_room_scene
from lyra_sim.dynamic import DynamicScene, rigid_transform, write_scene4d
from lyra_sim.manifest import write_manifest
from lyra_sim.ply import write_ply

SHIFTS = (0.0, 0.25, 0.5)  # the table's x offset at each time, meters (the room is 2 m long in x)
FPS = 4.0


def sliding_table(spacing: float = 0.1, shifts=SHIFTS, fps: float = FPS) -> DynamicScene:
    """The box room at ``len(shifts)`` times ``k / fps``; only the table's Gaussians move."""
    rest = box_room_scene(spacing=spacing)
    table = rest.labels == rest.label_names.index("table_0")
    scenes = tuple(rigid_transform(rest, torch.eye(3), torch.tensor([dx, 0.0, 0.0]), mask=table) for dx in shifts)
    return DynamicScene(tuple(k / fps for k in range(len(shifts))), scenes, fps)


def table_record(shifts=SHIFTS) -> tuple[dict, dict]:
    """The manifest's ``objects`` entry of the table and its ``motions`` record (rest box, pose per time)."""
    poses = [[[1.0, 0.0, 0.0, dx], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]] for dx in shifts]
    obj = {"name": "table_0", "kind": "table", "label": 3, "bbox": [list(BLOCK[0]), list(BLOCK[1])]}
    return obj, {"label": "table_0", "object": "table_0", "kind": "table", "joint": None, "poses": poses}


def write_dynamic_directory(out: Path, scene: DynamicScene, extra: dict | None = None) -> Path:
    """A dynamic scene directory as ``generate --dynamic`` lays it out: scene.ply (first time), scene4d/, manifest."""
    out.mkdir(parents=True, exist_ok=True)
    write_ply(out / "scene.ply", scene.scenes[0])
    write_scene4d(out / "scene4d", scene)
    obj, motion = table_record()
    write_manifest(out, {"kind": "scene directory", "objects": [obj], "motions": [motion],
                         "dynamic": {"times": list(scene.times), "fps": scene.fps}, **(extra or {})})
    return out
