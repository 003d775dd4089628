"""URDF export for PyBullet (and other URDF consumers): one static link per body.

The static scene is one massless link (``mass 0``: PyBullet keeps it fixed) whose collision
elements are the floor box (top at the floor height exactly) and the convex pieces of
`lyra_sim.exporters.pieces` (PyBullet, like MuJoCo, collides
a URDF mesh through its convex hull, so a concave room mesh cannot be used as it is). Objects
decomposed by CoACD become their own links, joined to the scene by fixed joints; change a
joint to ``floating`` (or load the parts separately) to make an object dynamic. The full
collision mesh is the scene link's visual.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

from lyra_sim.atomic import atomic_path

from .mesh_tools import safe_name, safe_names
from .mjcf import SceneGeometry, format_numbers


def _static_link(robot: ET.Element, name: str) -> ET.Element:
    link = ET.SubElement(robot, "link", name=name)
    inertial = ET.SubElement(link, "inertial")
    ET.SubElement(inertial, "origin", xyz="0 0 0", rpy="0 0 0")
    ET.SubElement(inertial, "mass", value="0")
    ET.SubElement(inertial, "inertia", ixx="0", ixy="0", ixz="0", iyy="0", iyz="0", izz="0")
    return link


def _mesh_element(parent: ET.Element, tag: str, file: str, name: str | None = None) -> None:
    element = ET.SubElement(parent, tag, **({"name": name} if name else {}))
    ET.SubElement(element, "origin", xyz="0 0 0", rpy="0 0 0")
    ET.SubElement(ET.SubElement(element, "geometry"), "mesh", filename=file, scale="1 1 1")


def urdf_tree(geometry: SceneGeometry, robot: str = "lyra_sim_scene") -> ET.ElementTree:
    """The URDF document for ``geometry`` (mesh paths relative to the URDF file)."""
    if not geometry.static_pieces and not geometry.bodies and geometry.floor is None:
        raise ValueError("urdf: no collision geometry to write")
    root = ET.Element("robot", name=safe_name(robot))
    scene = _static_link(root, "scene")
    if geometry.visual is not None:
        _mesh_element(scene, "visual", geometry.visual)
    if geometry.floor is not None:
        floor = ET.SubElement(scene, "collision", name="floor")
        ET.SubElement(floor, "origin", xyz=format_numbers(geometry.floor.center), rpy="0 0 0")
        ET.SubElement(ET.SubElement(floor, "geometry"), "box", size=format_numbers(geometry.floor.size))
    for i, file in enumerate(geometry.static_pieces):
        _mesh_element(scene, "collision", file, f"static_{i:04d}")
    names = safe_names(sorted(geometry.bodies), reserved=("scene",))  # "scene": the static link
    for label, files in sorted(geometry.bodies.items()):
        link = _static_link(root, names[label])
        for j, file in enumerate(files):
            _mesh_element(link, "collision", file, f"{names[label]}_part_{j:03d}")
        joint = ET.SubElement(root, "joint", name=f"{names[label]}_fixed", type="fixed")
        ET.SubElement(joint, "parent", link="scene")
        ET.SubElement(joint, "child", link=names[label])
        ET.SubElement(joint, "origin", xyz="0 0 0", rpy="0 0 0")
    tree = ET.ElementTree(root)
    ET.indent(tree, space="  ")
    return tree


def write_urdf(path: str | os.PathLike, geometry: SceneGeometry, robot: str = "lyra_sim_scene") -> Path:
    """Write ``scene.urdf`` (atomically); mesh paths in ``geometry`` are relative to its directory."""
    path = Path(path)
    files = [*geometry.static_pieces, *(f for fs in geometry.bodies.values() for f in fs)]
    if geometry.visual is not None:
        files.append(geometry.visual)
    missing = [f for f in files if not (path.parent / f).is_file()]
    if missing:
        raise FileNotFoundError(f"urdf: mesh files missing beside {path.name}: {missing[:3]}")
    tree = urdf_tree(geometry, robot)
    with atomic_path(path) as tmp:
        tree.write(tmp, encoding="utf-8", xml_declaration=True)
    return path
