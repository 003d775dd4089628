"""The kit objects are built from: `Part` (one closed primitive with its look and role), the primitive
helpers (`box`, `frustum`, `cylinder`, `ellipsoid`), and `ObjectKind`, the registry entry of a kind.

A builder turns a size ``(w, d, h)`` and a seeded generator into `Part`s, in the object's local
frame: origin at the center of the footprint on the floor, x across the width, y along the depth
with the *front* facing +y, z up (see `lyra_sim.worlds.objects`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from lyra_sim.worlds import geometry as geo
from lyra_sim.worlds.materials import color_rgb

MAIN, ACCENT, FIXED = "main", "accent", "fixed"


@dataclass(frozen=True)
class Part:
    """One closed primitive of an object, in the object's local frame.

    Attributes:
        mesh: the primitive.
        role: `MAIN`, `ACCENT` or `FIXED`.
        material: material name for fixed parts (None for main/accent: the object's).
        color: ``[3]`` rgb for fixed parts.
        tint: multiplies the role's color (cushions a shade lighter than the frame).
        tex_frame: ``[3, 3]`` rows = texture axes (grain first) in local coordinates.
        tex_origin: ``[3]`` texture origin in local coordinates.
        joint: the movable part of the object this primitive belongs to (a door's ``leaf``, a
            drawer, a fan's ``rotor``, a turntable's ``platter``), or None (the object's body).
            Only dynamic scenes use it (`lyra_sim.worlds.motion`); it changes nothing else.
    """

    mesh: geo.QuadMesh
    role: str
    material: str | None
    color: np.ndarray | None
    tint: float
    tex_frame: np.ndarray
    tex_origin: np.ndarray
    joint: str | None = None


def _look(role, material, color):
    if role == FIXED and (material is None or color is None):
        raise ValueError("a fixed part needs its own material and color")
    return None if color is None else color_rgb(color)


def box(size, center, role=MAIN, material=None, color=None, tint=1.0, rot=None) -> Part:
    """A box part of ``size`` centered at ``center`` (rotated by ``rot [3, 3]`` if given)."""
    size = np.asarray(size, dtype=np.float64)
    r = np.eye(3) if rot is None else np.asarray(rot)
    center = np.asarray(center, dtype=np.float64)
    order = np.argsort(-size, kind="stable")  # grain along the longest side
    return Part(
        geo.box(size).transformed(r, center),
        role,
        material,
        _look(role, material, color),
        tint,
        r[:, order].T,
        center - r @ (size / 2),
    )


def frustum(r0, r1, height, base, role=MAIN, material=None, color=None, tint=1.0, rot=None) -> Part:
    """A frustum/cylinder/cone part standing on ``base`` along the local axis ``rot @ z``."""
    r = np.eye(3) if rot is None else np.asarray(rot)
    base = np.asarray(base, dtype=np.float64)
    return Part(
        geo.frustum(r0, r1, height).transformed(r, base),
        role,
        material,
        _look(role, material, color),
        tint,
        r[:, [2, 0, 1]].T,
        base,
    )


def cylinder(radius, height, base, **kw) -> Part:
    return frustum(radius, radius, height, base, **kw)


def ellipsoid(radii, center, role=MAIN, material=None, color=None, tint=1.0) -> Part:
    radii = np.asarray(radii, dtype=np.float64)
    center = np.asarray(center, dtype=np.float64)
    order = np.argsort(-radii, kind="stable")
    return Part(geo.ellipsoid(radii).transformed(np.eye(3), center), role, material, _look(role, material, color),
                tint, np.eye(3)[order], center)


def jointed(parts: list[Part], joint: str) -> list[Part]:
    """``parts`` as the movable part ``joint`` of their object."""
    return [replace(p, joint=joint) for p in parts]


Y_AXIS = geo.rot_x(-math.pi / 2)  # maps local +z to +y: cylinders lying front-to-back
X_AXIS = geo.rot_y(math.pi / 2)  # maps local +z to +x


@dataclass(frozen=True)
class ObjectKind:
    """How one kind of object looks, is sized, named and placed.

    Attributes:
        build: ``(size [3], rng) -> list[Part]`` in the local frame (front = +y).
        size: default ``(w, d, h)`` in meters.
        material, colors: default main material and the palette its color is drawn from.
        placement: layout rule name (see `lyra_sim.worlds.layout.RULES`).
        aliases: prompt words/phrases (singular; plurals are derived), besides the name.
        anchors: kinds it is placed relative to: beside/around/in front of them, or on them
            for ``on_top`` kinds.
        needs_support: an ``on_top`` kind that cannot stand on the floor; when no anchor has
            room, the first anchor kind is added to the scene.
        support: its top can carry ``on_top`` objects.
        mount_height: bottom height above the floor for wall-mounted kinds.
        accent_material, accent_colors: look of the kind's ``accent`` parts.
        jitter: relative random size variation (± fraction per axis).
        walkable: a floor covering that agents walk over (rugs).
        room_sizes: ``(room_type, size)`` overrides of the default size (warehouse racks).
        joints: ``(name, axis)`` of its movable parts (`Part.joint`): ``axis(size) -> (origin, direction)``
            in the local frame, the line a part turns about or slides along.
    """

    build: Callable[[np.ndarray, np.random.Generator], list[Part]]
    size: tuple[float, float, float]
    material: str
    colors: tuple[str, ...]
    placement: str
    aliases: tuple[str, ...] = ()
    anchors: tuple[str, ...] = ()
    needs_support: bool = False
    support: bool = False
    mount_height: float = 0.0
    accent_material: str = "wood"
    accent_colors: tuple[str, ...] = ("white",)
    jitter: float = 0.08
    walkable: bool = False
    room_sizes: tuple[tuple[str, tuple[float, float, float]], ...] = ()
    joints: tuple[tuple[str, Callable], ...] = ()

    def joint_axis(self, joint: str, size) -> tuple[np.ndarray, np.ndarray]:
        """``(origin [3], unit direction [3])`` of ``joint`` for an object of ``size``, local frame."""
        origin, direction = dict(self.joints)[joint](size)
        return np.asarray(origin, dtype=np.float64), np.asarray(direction, dtype=np.float64)
