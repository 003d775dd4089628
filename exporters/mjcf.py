"""MuJoCo MJCF export: the scene's static collision geometry as convex mesh geoms.

MuJoCo collides mesh geoms through their convex hulls, so the static scene is given as one
floor box (``floor``: its top is the floor height exactly, so things at rest on free floor stay
put) and many thin convex pieces of everything else (`lyra_sim.exporters.pieces`), one mesh
asset each, all in the worldbody (static). Objects decomposed by CoACD (`lyra_sim.exporters.convex`) come as static bodies
named after their label, one geom per convex part, so a user can give one a ``freejoint``
and make it dynamic. The full collision mesh is included as a visual-only geom (no contacts)
so the scene looks like itself in MuJoCo's viewer; collision geoms sit in group 3, which the
viewer hides by default.

The moving parts of a dynamic bundle are **mocap bodies** (``mocap="true"``: kinematic, moved
by the user, pushing what they meet), one per part, with the part's convex pieces as geoms in
the part's own frame and its pose at the first time; `lyra_sim.exporters.motion_track.set_mocap`
poses them at any time from ``motion.npz``.

Mesh files are referenced relative to the XML file (``compiler meshdir="."``), so the bundle
directory can be moved as a whole.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from lyra_sim.atomic import atomic_path

from .mesh_tools import safe_name, safe_names
from .pieces import FloorBox

COLLISION_GROUP = 3
VISUAL_GROUP = 1


@dataclass(frozen=True)
class MocapBody:
    """A moving part as a mocap body: its convex pieces' mesh files (part frame) and its first pose."""

    pieces: Sequence[str]
    position: tuple[float, float, float]
    orientation: tuple[float, float, float, float]  # wxyz


@dataclass(frozen=True)
class SceneGeometry:
    """What the MJCF and URDF writers reference (paths relative to the bundle root).

    Attributes:
        static_pieces: mesh files of the static scene's convex pieces.
        bodies: label → mesh files of that object's convex parts.
        visual: the full collision mesh file, shown but not collided; None for none.
        floor: the floor collider (`lyra_sim.exporters.pieces.static_colliders`); None for none.
        mocap: moving part name → its `MocapBody` (MJCF only; URDF stays static).
    """

    static_pieces: Sequence[str]
    bodies: dict[str, Sequence[str]] = field(default_factory=dict)
    visual: str | None = None
    floor: FloorBox | None = None
    mocap: dict[str, MocapBody] = field(default_factory=dict)


def format_numbers(values) -> str:
    """Numbers as an XML attribute value (space separated, 9 significant digits)."""
    return " ".join(f"{v:.9g}" for v in values)


def mjcf_tree(geometry: SceneGeometry, model: str = "lyra_sim_scene", friction: float = 0.8) -> ET.ElementTree:
    """The MJCF document for ``geometry`` (see the module docstring)."""
    if not geometry.static_pieces and not geometry.bodies and geometry.floor is None:
        raise ValueError("mjcf: no collision geometry to write")
    root = ET.Element("mujoco", model=safe_name(model))
    ET.SubElement(root, "compiler", angle="radian", meshdir=".", autolimits="true")
    ET.SubElement(root, "option", timestep="0.002", gravity="0 0 -9.81")
    default = ET.SubElement(root, "default")
    ET.SubElement(
        ET.SubElement(default, "default", {"class": "collision"}),
        "geom",
        type="mesh",
        group=str(COLLISION_GROUP),
        friction=f"{friction} 0.005 0.0001",
        rgba="0.5 0.6 0.7 1",
    )
    ET.SubElement(
        ET.SubElement(default, "default", {"class": "visual"}),
        "geom",
        type="mesh",
        group=str(VISUAL_GROUP),
        contype="0",
        conaffinity="0",
        rgba="0.8 0.8 0.8 1",
    )
    asset = ET.SubElement(root, "asset")
    world = ET.SubElement(root, "worldbody")
    ET.SubElement(world, "light", name="sun", directional="true", pos="0 0 10", dir="0 0 -1")
    if geometry.visual is not None:
        ET.SubElement(asset, "mesh", name="scene_visual", file=geometry.visual)
        ET.SubElement(world, "geom", {"name": "scene_visual", "class": "visual", "mesh": "scene_visual"})
    if geometry.floor is not None:
        box = geometry.floor
        ET.SubElement(world, "geom", {"name": "floor", "class": "collision", "type": "box",
                                      "pos": format_numbers(box.center), "size": format_numbers(s / 2 for s in box.size)})
    for i, file in enumerate(geometry.static_pieces):
        name = f"static_{i:04d}"
        # Static geoms carry no mass, but MuJoCo computes every mesh's inertia and rejects a
        # slab thinner than its volume tolerance; a shell's inertia (from the area) always exists.
        ET.SubElement(asset, "mesh", name=name, file=file, inertia="shell")
        ET.SubElement(world, "geom", {"name": name, "class": "collision", "mesh": name})
    names = safe_names(sorted(geometry.bodies))
    for label, files in sorted(geometry.bodies.items()):
        body = ET.SubElement(world, "body", name=names[label])
        for j, file in enumerate(files):
            name = f"{names[label]}_part_{j:03d}"
            ET.SubElement(asset, "mesh", name=name, file=file)
            ET.SubElement(body, "geom", {"name": name, "class": "collision", "mesh": name})
    for label, part in sorted(geometry.mocap.items()):
        body = ET.SubElement(world, "body", name=safe_name(label), mocap="true",
                             pos=format_numbers(part.position), quat=format_numbers(part.orientation))
        for j, file in enumerate(part.pieces):
            name = f"{safe_name(label)}_piece_{j:04d}"
            ET.SubElement(asset, "mesh", name=name, file=file)
            ET.SubElement(body, "geom", {"name": name, "class": "collision", "mesh": name})
    tree = ET.ElementTree(root)
    ET.indent(tree, space="  ")
    return tree


def write_mjcf(path: str | os.PathLike, geometry: SceneGeometry, model: str = "lyra_sim_scene") -> Path:
    """Write ``scene.xml`` (atomically); mesh paths in ``geometry`` are relative to its directory."""
    path = Path(path)
    missing = [f for f in [*geometry.static_pieces, *(f for fs in geometry.bodies.values() for f in fs),
                           *(f for m in geometry.mocap.values() for f in m.pieces)]
               if not (path.parent / f).is_file()]
    if geometry.visual is not None and not (path.parent / geometry.visual).is_file():
        missing.append(geometry.visual)
    if missing:
        raise FileNotFoundError(f"mjcf: mesh files missing beside {path.name}: {missing[:3]}")
    tree = mjcf_tree(geometry, model)
    with atomic_path(path) as tmp:
        tree.write(tmp, encoding="utf-8", xml_declaration=True)
    return path
