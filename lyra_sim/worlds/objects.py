"""Object kinds: a registry table of name → `ObjectKind` (default size, look, placement, builder).

A builder turns a size ``(w, d, h)`` and a seeded generator into `Part`s made of closed
primitives, in the object's local frame: origin at the center of the footprint on the
floor, x across the width, y along the depth with the *front* facing +y (the side you
use: a chair's seat edge, a screen, a drawer front), z up. Every part stays inside the box
``[-w/2, w/2] × [-d/2, d/2] × [0, h]``, so that box is the object's footprint for layout.

Parts play a role: ``main`` parts take the object's color and material (what "a red sofa"
or "wooden chairs" changes), ``accent`` parts the kind's second look (a bed's blanket, a
counter's cupboards), ``fixed`` parts their own (a screen is always a screen).

The primitives and the registry entry type live in `lyra_sim.worlds.parts`; the kinds that dynamic
scenes animate (person, robot vacuum, ball, fan, turntable) in `lyra_sim.worlds.moving_objects`.

Longer than most modules (~700 lines) for a reason: it is one registry table of dozens of short
builders, each readable on its own; a file per kind would scatter the shared primitives.
"""

from __future__ import annotations

import math
from types import MappingProxyType
from typing import Mapping

import numpy as np

from lyra_sim.worlds import geometry as geo
from lyra_sim.worlds.moving_objects import MOVING_KINDS
from lyra_sim.worlds.parts import (
    ACCENT,
    FIXED,
    MAIN,
    X_AXIS,
    Y_AXIS,
    ObjectKind,
    Part,
    box,
    cylinder,
    ellipsoid,
    frustum,
    jointed,
)

__all__ = ["ACCENT", "FIXED", "MAIN", "OBJECT_KINDS", "ObjectKind", "Part", "box", "kind_size"]


# ----------------------------------------------------------------------------- builders
# Each: (size [3] = w, d, h; rng) -> list[Part]; all parts inside the size box.

def _legs(w, d, leg_h, thick, inset, **kw) -> list[Part]:
    xs, ys = w / 2 - inset - thick / 2, d / 2 - inset - thick / 2
    return [box((thick, thick, leg_h), (sx * xs, sy * ys, leg_h / 2), **kw) for sx in (-1, 1) for sy in (-1, 1)]


def build_table(s, rng):
    w, d, h = s
    t = 0.04
    return [box((w, d, t), (0, 0, h - t / 2))] + _legs(w, d, h - t, 0.06, 0.05, tint=0.85)


def build_coffee_table(s, rng):
    w, d, h = s
    t = 0.04
    shelf = box((w - 0.12, d - 0.12, 0.02), (0, 0, 0.13), tint=0.9)
    return [box((w, d, t), (0, 0, h - t / 2)), shelf] + _legs(w, d, h - t, 0.05, 0.03, tint=0.8)


def build_chair(s, rng):
    w, d, h = s
    seat_h = min(0.47, 0.52 * h)
    leg = 0.035
    parts = [box((w, d, 0.04), (0, 0, seat_h - 0.02))]
    parts += _legs(w, d, seat_h - 0.04, leg, 0.02, tint=0.85)
    post_h = h - seat_h
    yb = -d / 2 + 0.02 + leg / 2
    for sx in (-1, 1):
        parts.append(box((leg, leg, post_h), (sx * (w / 2 - 0.02 - leg / 2), yb, seat_h + post_h / 2), tint=0.85))
    parts.append(box((w - 0.04, 0.025, min(0.22, post_h * 0.5)), (0, yb, h - min(0.22, post_h * 0.5) / 2 - 0.02)))
    parts.append(box((w - 0.1, 0.02, 0.04), (0, yb, seat_h + post_h * 0.35)))
    return parts


def build_stool(s, rng):
    w, d, h = s
    r = min(w, d) / 2
    parts = [cylinder(r, 0.04, (0, 0, h - 0.04))]
    leg_r = 0.015
    ring = r * 0.62
    for k in range(4):
        a = math.pi / 4 + k * math.pi / 2
        parts.append(cylinder(leg_r, h - 0.04, (ring * math.cos(a), ring * math.sin(a), 0), role=FIXED,
                              material="metal", color="steel"))
    bar = 2 * ring * math.sin(math.pi / 4)  # footrest rungs between neighboring legs
    for k in range(4):
        rot = geo.rot_z(k * math.pi / 2)
        pos = rot @ np.array([ring * math.cos(math.pi / 4), 0.0, 0.25 * h])
        parts.append(box((0.015, bar, 0.015), pos, rot=rot, role=FIXED, material="metal", color="steel"))
    return parts


def build_bench(s, rng):
    w, d, h = s
    t = 0.05
    parts = [box((w, d, t), (0, 0, h - t / 2))]
    for sx in (-1, 1):
        parts.append(box((0.05, d - 0.04, h - t), (sx * (w / 2 - 0.12), 0, (h - t) / 2), tint=0.8))
    parts.append(box((w - 0.3, 0.04, 0.05), (0, 0, 0.12), tint=0.8))
    return parts


def _sofa(s, rng, cushions):
    w, d, h = s
    arm, foot = min(0.18, w * 0.18), 0.08
    base_top = 0.33
    feet = [cylinder(0.025, foot, (sx * (w / 2 - 0.06), sy * (d / 2 - 0.06), 0), role=FIXED, material="wood",
                     color="walnut") for sx in (-1, 1) for sy in (-1, 1)]
    parts = feet + [box((w, d, base_top - foot), (0, 0, (foot + base_top) / 2), tint=0.9)]
    arm_h = min(0.62, h - 0.1)
    for sx in (-1, 1):
        parts.append(box((arm, d, arm_h - base_top), (sx * (w / 2 - arm / 2), 0, (base_top + arm_h) / 2)))
    back_d = 0.22
    parts.append(box((w - 2 * arm, back_d, h - base_top), (0, -d / 2 + back_d / 2, (base_top + h) / 2)))
    inner = w - 2 * arm
    cw = inner / cushions
    cd = d - back_d - 0.02
    for k in range(cushions):
        x = -inner / 2 + cw * (k + 0.5)
        parts.append(box((cw - 0.015, cd, 0.13), (x, d / 2 - cd / 2 - 0.01, base_top + 0.065), tint=1.1))
    return parts


def build_sofa(s, rng):
    return _sofa(s, rng, 3 if s[0] > 1.9 else 2)


def build_armchair(s, rng):
    return _sofa(s, rng, 1)


def build_bed(s, rng):
    w, d, h = s
    head_t = 0.06
    frame_top = 0.32
    parts = [box((w, head_t, h), (0, -d / 2 + head_t / 2, h / 2))]
    length = d - head_t
    yc = -d / 2 + head_t + length / 2
    parts.append(box((w, length, frame_top - 0.1), (0, yc, (0.1 + frame_top) / 2)))
    parts += [box((0.06, 0.06, 0.1), (sx * (w / 2 - 0.03), yc + sy * (length / 2 - 0.03), 0.05), tint=0.8)
              for sx in (-1, 1) for sy in (-1, 1)]
    mat_top = frame_top + 0.2
    parts.append(box((w - 0.06, length - 0.04, 0.2), (0, yc, frame_top + 0.1), role=FIXED, material="fabric",
                     color="white"))
    blanket_l = 0.62 * length
    parts.append(box((w - 0.02, blanket_l, 0.23), (0, d / 2 - blanket_l / 2 - 0.005, frame_top - 0.005 + 0.115),
                     role=ACCENT))
    n_pillows = 2 if w > 1.2 else 1
    pw = (w - 0.2) / n_pillows
    for k in range(n_pillows):
        x = -w / 2 + 0.1 + pw * (k + 0.5)
        parts.append(ellipsoid((pw / 2 - 0.03, 0.16, 0.06), (x, -d / 2 + head_t + 0.22, mat_top + 0.055),
                               role=FIXED, material="fabric", color="cream"))
    return parts


def _drawer_fronts(w, d, h, z0, rows, cols, knob=True):
    """Drawer/door panels on the front face (y = d/2) of a cabinet body, with knobs."""
    parts = []
    gap = 0.012
    pw, ph = (w - gap * (cols + 1)) / cols, (h - z0 - gap * (rows + 1)) / rows
    for r in range(rows):
        for c in range(cols):
            x = -w / 2 + gap + pw / 2 + c * (pw + gap)
            z = z0 + gap + ph / 2 + r * (ph + gap)
            front = [box((pw, 0.018, ph), (x, d / 2 - 0.03 - 0.009, z), tint=1.06)]
            if knob:
                front.append(cylinder(0.012, 0.03, (x, d / 2 - 0.03, z + (ph * 0.3 if rows == 1 else 0)), rot=Y_AXIS,
                                      role=FIXED, material="metal", color="silver"))
            parts += jointed(front, "drawer") if (r, c) == (rows - 1, 0) else front  # the top-left one slides
    return parts


def _cabinet_body(w, d, h, z0=0.0, **kw):
    return box((w, d - 0.048, h - z0), (0, -0.024, (h + z0) / 2), **kw)


def build_nightstand(s, rng):
    w, d, h = s
    return [_cabinet_body(w, d, h)] + _drawer_fronts(w, d, h, 0.04, 2, 1)


def build_cabinet(s, rng):
    w, d, h = s
    return [_cabinet_body(w, d, h)] + _drawer_fronts(w, d, h, 0.06, 1, 2)


def build_dresser(s, rng):
    w, d, h = s
    return [_cabinet_body(w, d, h)] + _drawer_fronts(w, d, h, 0.06, 3, 2)


def build_wardrobe(s, rng):
    w, d, h = s
    parts = [_cabinet_body(w, d, h - 0.05), box((w, d - 0.048, 0.05), (0, -0.024, h - 0.025), tint=0.85)]
    return parts + _drawer_fronts(w, d, h - 0.05, 0.05, 1, 2)


def build_tv_stand(s, rng):
    w, d, h = s
    legs = _legs(w, d - 0.048, 0.08, 0.04, 0.04, tint=0.7)
    legs = [box_shift(p, (0, -0.024, 0)) for p in legs]
    return legs + [_cabinet_body(w, d, h, z0=0.08)] + _drawer_fronts(w, d, h, 0.08, 1, max(2, round(w / 0.55)))


def box_shift(part: Part, offset) -> Part:
    """The part moved by ``offset [3]``."""
    off = np.asarray(offset, dtype=np.float64)
    return Part(part.mesh.transformed(np.eye(3), off), part.role, part.material, part.color, part.tint,
                part.tex_frame, part.tex_origin + off)


def build_counter(s, rng):
    w, d, h = s
    top = 0.04
    parts = [box((w, d, top), (0, 0, h - top / 2))]
    body_h = h - top
    parts.append(box((w - 0.02, d - 0.08, body_h - 0.1), (0, -0.04, (body_h + 0.1) / 2), role=ACCENT))
    parts.append(box((w - 0.06, d - 0.14, 0.1), (0, -0.07, 0.05), role=FIXED, material="plastic", color="black"))
    doors = max(1, round(w / 0.6))
    dw = (w - 0.02) / doors
    for k in range(doors):
        x = -w / 2 + 0.01 + dw * (k + 0.5)
        parts.append(box((dw - 0.012, 0.02, body_h - 0.14), (x, d / 2 - 0.05, (body_h + 0.1) / 2), role=ACCENT,
                         tint=1.05))
        parts.append(box((0.12, 0.02, 0.015), (x, d / 2 - 0.03, body_h - 0.08), role=FIXED, material="metal",
                         color="silver"))
    if rng.random() < 0.6 and w >= 1.0:  # a sink and faucet on some counters
        x = (rng.random() - 0.5) * (w - 0.7)
        parts.append(box((0.5, 0.38, 0.006), (x, 0.02, h + 0.003 - 0.006), role=FIXED, material="metal",
                         color="silver"))
        parts.append(cylinder(0.015, 0.22, (x, -d / 2 + 0.06, h), role=FIXED, material="metal", color="silver"))
        parts.append(box((0.03, 0.16, 0.03), (x, -d / 2 + 0.06 + 0.08, h + 0.2), role=FIXED, material="metal",
                         color="silver"))
    return parts


def build_fridge(s, rng):
    w, d, h = s
    body_d = d - 0.06
    parts = [box((w, body_d, h), (0, -d / 2 + body_d / 2, h / 2))]
    split = 0.68 * h
    for z0, z1 in ((0.02, split - 0.01), (split + 0.01, h - 0.02)):
        parts.append(box((w - 0.01, 0.03, z1 - z0), (0, -d / 2 + body_d + 0.015, (z0 + z1) / 2), tint=1.04))
    hx = w / 2 - 0.08
    parts.append(box((0.025, 0.03, 0.35), (hx, d / 2 - 0.015, split - 0.25), role=FIXED, material="metal",
                     color="silver"))
    parts.append(box((0.025, 0.03, 0.2), (hx, d / 2 - 0.015, split + 0.15), role=FIXED, material="metal",
                     color="silver"))
    return parts


def build_stove(s, rng):
    w, d, h = s
    top, burner = 0.012, 0.006
    hob = h - burner
    parts = [box((w, d - 0.02, hob - top), (0, -0.01, (hob - top) / 2))]
    parts.append(box((w - 0.02, d - 0.04, top), (0, -0.01, hob - top / 2), role=FIXED, material="ceramic",
                     color="black"))
    for sx in (-1, 1):
        for sy in (-1, 1):
            r = 0.085 if sx * sy > 0 else 0.065
            parts.append(cylinder(r, burner, (sx * w / 4, sy * (d - 0.04) / 4 - 0.01, hob), role=FIXED,
                                  material="metal", color="dark gray"))
    parts.append(box((w - 0.12, 0.02, 0.3), (0, d / 2 - 0.01, 0.42), role=FIXED, material="glass", color="black"))
    parts.append(box((w - 0.16, 0.02, 0.025), (0, d / 2 - 0.01, 0.64), role=FIXED, material="metal",
                     color="silver"))
    for k in range(4):
        x = -w / 2 + w * (k + 1) / 5
        parts.append(cylinder(0.018, 0.02, (x, d / 2 - 0.02, h - 0.08), rot=Y_AXIS, role=FIXED, material="plastic",
                              color="black"))
    return parts


def build_desk(s, rng):
    w, d, h = s
    t = 0.03
    parts = [box((w, d, t), (0, 0, h - t / 2))]
    leg_h = h - t
    for sx in (-1, 1):
        parts.append(box((0.03, d - 0.04, leg_h), (sx * (w / 2 - 0.015), 0, leg_h / 2), tint=0.85))
    parts.append(box((w - 0.06, 0.02, 0.35), (0, -d / 2 + 0.04, leg_h - 0.175), tint=0.85))
    block_w = min(0.4, w * 0.35)
    bx = w / 2 - 0.03 - block_w / 2
    parts.append(box((block_w, d - 0.1, leg_h * 0.6), (bx, -0.03, leg_h * 0.7), tint=0.9))
    for k in range(2):
        z = leg_h * 0.4 + leg_h * 0.15 * (k + 0.5) * 2
        front = [box((block_w - 0.03, 0.02, leg_h * 0.26), (bx, d / 2 - 0.06, z), tint=1.05),
                 box((0.1, 0.02, 0.015), (bx, d / 2 - 0.04, z + leg_h * 0.06), role=FIXED, material="metal",
                     color="silver")]
        parts += jointed(front, "drawer") if k == 1 else front
    return parts


def build_office_chair(s, rng):
    w, d, h = s
    reach = min(w, d) / 2 - 0.03
    parts = []
    for k in range(5):
        rot = geo.rot_z(k * 2 * math.pi / 5)
        parts.append(box((0.04, reach, 0.03), rot @ np.array([0, reach / 2, 0.065]), rot=rot, role=FIXED,
                         material="plastic", color="black"))
        parts.append(ellipsoid((0.025, 0.025, 0.025), rot @ np.array([0, reach, 0.025]), role=FIXED,
                               material="rubber", color="black"))
    seat_z = 0.46
    parts.append(cylinder(0.025, seat_z - 0.08, (0, 0, 0.08), role=FIXED, material="metal", color="steel"))
    parts.append(box((w * 0.85, d * 0.8, 0.07), (0, 0.02, seat_z + 0.035)))
    back_h = h - seat_z - 0.15
    parts.append(box((w * 0.78, 0.06, back_h), (0, -d / 2 + 0.05, h - back_h / 2)))
    parts.append(box((0.05, 0.03, 0.2), (0, -d / 2 + 0.05, seat_z + 0.1), role=FIXED, material="plastic",
                     color="black"))
    return parts


def build_lamp(s, rng):
    w, d, h = s
    r = min(w, d) / 2
    shade_h = 0.38 * h
    parts = [cylinder(0.55 * r, 0.025, (0, 0, 0), role=FIXED, material="metal", color="gold")]
    parts.append(cylinder(0.012, h - shade_h * 0.6, (0, 0, 0.025), role=FIXED, material="metal", color="gold"))
    parts.append(frustum(r, 0.65 * r, shade_h, (0, 0, h - shade_h)))
    return parts


def build_floor_lamp(s, rng):
    w, d, h = s
    r = min(w, d) / 2
    shade_h = 0.2 * h
    parts = [cylinder(0.7 * r, 0.03, (0, 0, 0), role=FIXED, material="metal", color="black")]
    parts.append(cylinder(0.015, h - shade_h * 0.5, (0, 0, 0.03), role=FIXED, material="metal", color="black"))
    parts.append(frustum(r, 0.65 * r, shade_h, (0, 0, h - shade_h)))
    return parts


def build_plant(s, rng):
    w, d, h = s
    r = min(w, d) / 2
    pot_h = min(0.35, 0.3 * h)
    parts = [frustum(0.7 * r * 0.85, 0.7 * r, pot_h, (0, 0, 0))]
    parts.append(cylinder(0.66 * r, 0.01, (0, 0, pot_h - 0.03), role=FIXED, material="soil", color="brown"))
    stem_top = pot_h + 0.45 * (h - pot_h)
    parts.append(cylinder(0.015, stem_top - pot_h + 0.02, (0, 0, pot_h - 0.02), role=FIXED, material="wood",
                          color="brown"))
    crown = h - stem_top + 0.1 * h  # leaves from a little below the stem top up to h
    leaves = int(rng.integers(4, 8))
    phase = rng.uniform(0, 2 * math.pi)
    for k in range(leaves):  # a ring of leaf clusters reaching the footprint's edge, seeded sizes
        rad = np.array([rng.uniform(0.35, 0.5) * r, rng.uniform(0.35, 0.5) * r, rng.uniform(0.25, 0.4) * crown])
        a = phase + k * 2 * math.pi / leaves
        reach = r - rad[:2].max()
        cz = rng.uniform(h - crown + rad[2], h - rad[2])
        parts.append(ellipsoid(rad, (reach * math.cos(a), reach * math.sin(a), cz), role=FIXED, material="foliage",
                               color="green"))
    top = np.array([0.45 * r, 0.45 * r, 0.3 * crown])
    parts.append(ellipsoid(top, (0, 0, h - top[2]), role=FIXED, material="foliage", color="green"))
    return parts


def build_crate(s, rng):
    w, d, h = s
    t = 0.02
    parts = [box((w - 2 * t, d - 2 * t, h - t), (0, 0, (h - t) / 2), tint=0.6)]
    slats = 3
    sh = (h - t) / slats - 0.025
    for k in range(slats):
        z = (k + 0.5) * (h - t) / slats
        parts.append(box((w, t, sh), (0, d / 2 - t / 2, z)))
        parts.append(box((w, t, sh), (0, -d / 2 + t / 2, z)))
        parts.append(box((t, d - 2 * t, sh), (w / 2 - t / 2, 0, z)))
        parts.append(box((t, d - 2 * t, sh), (-w / 2 + t / 2, 0, z)))
    top = 4
    tw = d / top - 0.02
    for k in range(top):
        parts.append(box((w, tw, t), (0, -d / 2 + (k + 0.5) * d / top, h - t / 2)))
    return parts


def build_pallet(s, rng):
    w, d, h = s
    t = 0.022
    block = h - 2 * t
    parts = []
    for y in np.linspace(-d / 2 + 0.05, d / 2 - 0.05, 3):
        parts.append(box((w, 0.1, t), (0, y, t / 2), tint=0.9))
        for x in (-w / 2 + 0.05, 0.0, w / 2 - 0.05):
            parts.append(box((0.1, 0.1, block), (x, y, t + block / 2), tint=0.8))
    for y in np.linspace(-d / 2 + 0.05, d / 2 - 0.05, 7):
        parts.append(box((w, 0.1, t), (0, y, h - t / 2)))
    return parts


def build_barrel(s, rng):
    w, d, h = s
    r = min(w, d) / 2
    bung = 0.012
    parts = [cylinder(r - 0.012, h - bung, (0, 0, 0))]
    for z in (0.12 * h, 0.5 * h - 0.015, 0.88 * h - 0.03):
        parts.append(cylinder(r, 0.03, (0, 0, z), tint=0.8))
    parts.append(cylinder(0.03, bung, (0.5 * r, 0, h - bung), role=FIXED, material="metal", color="dark gray"))
    return parts


DOOR_FRAME = 0.07
"""Width (m) of a door's frame posts and lintel."""


def door_hinge(s) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """The door leaf's hinge: its -x edge on the leaf's front face, vertical (it opens into the room, +y)."""
    w, d, h = s
    return (-w / 2 + DOOR_FRAME, d / 2 - 0.035, 0.0), (0.0, 0.0, 1.0)


def build_door(s, rng):
    w, d, h = s
    frame = DOOR_FRAME
    parts = [box((frame, d, h), (sx * (w / 2 - frame / 2), 0, h / 2), role=FIXED, material="plaster",
                 color="white") for sx in (-1, 1)]
    parts.append(box((w - 2 * frame, d, frame), (0, 0, h - frame / 2), role=FIXED, material="plaster",
                     color="white"))
    panel_d = d - 0.035
    leaf = [box((w - 2 * frame, panel_d, h - frame), (0, -d / 2 + panel_d / 2, (h - frame) / 2))]
    hx = w / 2 - frame - 0.08
    leaf.append(cylinder(0.03, 0.01, (hx, -d / 2 + panel_d, 1.0), rot=Y_AXIS, role=FIXED, material="metal",
                         color="silver"))
    leaf.append(box((0.13, 0.02, 0.02), (hx - 0.05, d / 2 - 0.012, 1.0), role=FIXED, material="metal",
                    color="silver"))
    leaf.append(cylinder(0.01, 0.015, (hx, -d / 2 + panel_d + 0.01, 1.0), rot=Y_AXIS, role=FIXED,
                         material="metal", color="silver"))
    return parts + jointed(leaf, "leaf")  # hinged on its -x edge


def build_window(s, rng):
    w, d, h = s
    f = 0.06
    parts = [box((w - 0.02, 0.01, h - 0.02), (0, -d / 2 + 0.005, h / 2), role=FIXED, material="sky",
                 color="white")]
    parts += [box((w, d, f), (0, 0, z)) for z in (f / 2, h - f / 2)]
    parts += [box((f, d, h - 2 * f), (sx * (w / 2 - f / 2), 0, h / 2)) for sx in (-1, 1)]
    parts.append(box((0.035, d * 0.6, h - 2 * f), (0, -d / 2 + d * 0.3, h / 2)))
    parts.append(box((w - 2 * f, d * 0.6, 0.035), (0, -d / 2 + d * 0.3, h * 0.55)))
    return parts


def build_rug(s, rng):
    w, d, h = s
    border = min(0.1, 0.1 * min(w, d))
    return [box((w, d, h * 0.5), (0, 0, h * 0.25), tint=0.6),
            box((w - 2 * border, d - 2 * border, h), (0, 0, h / 2))]


def _screen(w, h_panel, z0, y_front, depth) -> list[Part]:
    """A display panel (main-colored bezel) with a dark screen on its front face."""
    return [box((w, depth, h_panel), (0, y_front - depth / 2 - 0.004, z0 + h_panel / 2)),
            box((w - 0.03, 0.004, h_panel - 0.03), (0, y_front - 0.002, z0 + h_panel / 2), role=FIXED,
                material="screen", color="dark gray")]


def build_tv(s, rng):
    w, d, h = s
    foot_h, neck_h = 0.015, 0.06
    parts = [box((min(0.4 * w, 0.5), d, foot_h), (0, 0, foot_h / 2)),
             box((0.08, 0.04, neck_h + 0.02), (0, 0, foot_h + neck_h / 2))]
    return parts + _screen(w, h - foot_h - neck_h, foot_h + neck_h, 0.03, 0.05)


def build_monitor(s, rng):
    w, d, h = s
    parts = [box((min(0.25, w * 0.45), d, 0.012), (0, 0, 0.006)),
             box((0.04, 0.03, 0.16), (0, -d / 2 + 0.04, 0.08))]
    return parts + _screen(w, h - 0.1, 0.1, -d / 2 + 0.03 + 0.03, 0.025)


def build_bookcase(s, rng):
    w, d, h = s
    t = 0.02
    parts = [box((t, d, h), (sx * (w / 2 - t / 2), 0, h / 2)) for sx in (-1, 1)]
    parts.append(box((w - 2 * t, 0.01, h), (0, -d / 2 + 0.005, h / 2), tint=0.8))
    shelves = max(3, round(h / 0.36))
    gap = (h - t) / shelves
    for k in range(shelves + 1):
        parts.append(box((w - 2 * t, d - 0.01, t), (0, 0.005, k * gap + t / 2)))
    book_colors = ("red", "navy", "dark green", "cream", "brown", "teal", "dark red", "gray", "orange", "black")
    inner = w - 2 * t
    for k in range(1, shelves):
        x = -inner / 2 + 0.01
        z0 = k * gap + t
        while True:
            bw = rng.uniform(0.02, 0.05)
            if x + bw > inner / 2 - 0.01 or (x > 0 and rng.random() < 0.04):
                break
            bh = rng.uniform(0.55, 0.85) * (gap - t)
            bd = rng.uniform(0.6, 0.8) * (d - 0.01)
            color = book_colors[int(rng.integers(len(book_colors)))]
            parts.append(box((bw - 0.002, bd, bh), (x + bw / 2, d / 2 - bd / 2 - 0.02, z0 + bh / 2), role=FIXED,
                             material="cardboard", color=color))
            x += bw
    return parts


def build_shelf(s, rng):
    """A metal shelving unit: four uprights, boards, and some boxes stored on the boards."""
    w, d, h = s
    u = 0.04
    parts = [box((u, u, h), (sx * (w / 2 - u / 2), sy * (d / 2 - u / 2), h / 2), tint=0.8)
             for sx in (-1, 1) for sy in (-1, 1)]
    levels = max(3, round(h / 0.5))
    t = 0.025
    zs = np.linspace(0.1, h - t, levels)
    for z in zs:
        parts.append(box((w - 2 * u, d, t), (0, 0, z + t / 2)))
    clear = zs[1] - zs[0] - t
    for z in zs[:-1]:
        x = -w / 2 + u + 0.02
        while True:
            bw = rng.uniform(0.25, 0.5) * min(1.0, d / 0.6)
            if x + bw > w / 2 - u - 0.02:
                break
            if rng.random() < 0.7:
                bh = rng.uniform(0.45, 0.85) * clear
                bd = rng.uniform(0.6, 0.9) * d
                parts.append(box((bw - 0.02, bd, bh), (x + bw / 2, 0, z + t + bh / 2), role=FIXED,
                                 material="cardboard", color="tan"))
            x += bw
    return parts


def build_box(s, rng):
    w, d, h = s
    tape = 0.002
    return [box((w, d, h - tape), (0, 0, (h - tape) / 2)),
            box((w, 0.05, tape), (0, 0, h - tape / 2), role=FIXED, material="plastic", color="beige")]


def build_trash_can(s, rng):
    w, d, h = s
    r = min(w, d) / 2
    rim, hole = 0.025, 0.003  # the opening is a dark disk just above the rim
    return [frustum(0.82 * r, 0.95 * r, h - rim - hole, (0, 0, 0)),
            cylinder(r, rim, (0, 0, h - rim - hole), tint=0.8),
            cylinder(0.85 * r, hole, (0, 0, h - hole), role=FIXED, material="plastic", color="black")]


def _wheels(positions, radius, width, **look) -> list[Part]:
    return [cylinder(radius, width, (x - width / 2, y, z), rot=X_AXIS, **look) for x, y, z in positions]


def build_cart(s, rng):
    """A platform cart: deck on four wheels, push handle at the back."""
    w, d, h = s
    wr, ww = 0.07, 0.04
    deck_z0 = 2 * wr + 0.01
    parts = [box((w, d, 0.05), (0, 0, deck_z0 + 0.025))]
    parts += _wheels([(sx * (w / 2 - 0.08), sy * (d / 2 - 0.1), wr) for sx in (-1, 1) for sy in (-1, 1)], wr, ww,
                     role=FIXED, material="rubber", color="black")
    parts += [box((0.05, 0.05, 0.01), (sx * (w / 2 - 0.08), sy * (d / 2 - 0.1), deck_z0 - 0.005), role=FIXED,
                  material="metal", color="steel") for sx in (-1, 1) for sy in (-1, 1)]
    top = deck_z0 + 0.05
    for sx in (-1, 1):
        parts.append(box((0.03, 0.03, h - top - 0.03), (sx * (w / 2 - 0.05), -d / 2 + 0.015, (h + top - 0.03) / 2),
                         role=FIXED, material="metal", color="steel"))
    parts.append(cylinder(0.018, w - 0.06, (-(w - 0.06) / 2, -d / 2 + 0.018, h - 0.018), rot=X_AXIS, role=FIXED,
                          material="metal", color="steel"))
    return parts


def build_forklift(s, rng):
    """A forklift: body and counterweight at the back, mast and forks at the front (+y), overhead guard."""
    w, d, h = s
    wr = 0.22
    forks_l = 0.35 * d
    body_l = d - forks_l - 0.1
    y_body = -d / 2 + body_l / 2
    parts = [box((w - 0.1, body_l, 0.75), (0, y_body, wr + 0.35))]
    parts.append(box((w - 0.1, 0.3, 0.45), (0, -d / 2 + 0.15, wr + 0.95), tint=0.7))
    wheel_y = (-d / 2 + 0.35, -d / 2 + body_l - 0.25)
    parts += _wheels([(sx * (w / 2 - 0.1), y, wr) for sx in (-1, 1) for y in wheel_y], wr, 0.18, role=FIXED,
                     material="rubber", color="black")
    mast_y = -d / 2 + body_l + 0.05
    for sx in (-1, 1):
        parts.append(box((0.08, 0.1, h - 0.05), (sx * 0.3, mast_y, (h - 0.05) / 2 + 0.05), role=FIXED,
                         material="metal", color="dark gray"))
    parts.append(box((0.7, 0.05, 0.5), (0, mast_y + 0.075, 0.35), role=FIXED, material="metal", color="dark gray"))
    for sx in (-1, 1):
        parts.append(box((0.1, forks_l + 0.05, 0.04), (sx * 0.22, d / 2 - (forks_l + 0.05) / 2, 0.12), role=FIXED,
                         material="metal", color="dark gray"))
    guard_z = h - 0.05
    seat_y = y_body + 0.1
    for sx in (-1, 1):
        for y in (seat_y - 0.45, seat_y + 0.45):
            parts.append(box((0.05, 0.05, guard_z - (wr + 0.725)), (sx * (w / 2 - 0.1), y, (guard_z + wr + 0.725) / 2),
                             role=FIXED, material="metal", color="black"))
    parts.append(box((w - 0.1, 1.0, 0.05), (0, seat_y, guard_z + 0.025), role=FIXED, material="metal",
                     color="black"))
    parts.append(box((0.45, 0.4, 0.12), (0, seat_y - 0.1, wr + 0.785), role=FIXED, material="leather",
                     color="black"))
    parts.append(box((0.45, 0.1, 0.45), (0, seat_y - 0.32, wr + 1.07), role=FIXED, material="leather",
                     color="black"))
    parts.append(cylinder(0.17, 0.03, (0, seat_y + 0.3, wr + 1.0), rot=geo.rot_x(-0.5), role=FIXED,
                          material="plastic", color="black"))
    return parts


def build_whiteboard(s, rng):
    w, d, h = s
    f = 0.025
    parts = [box((w - 2 * f, 0.015, h - 2 * f), (0, -d / 2 + 0.0075, h / 2), role=FIXED, material="plastic",
                 color="white")]
    parts += [box((w, 0.025, f), (0, -d / 2 + 0.0125, z)) for z in (f / 2, h - f / 2)]
    parts += [box((f, 0.025, h - 2 * f), (sx * (w / 2 - f / 2), -d / 2 + 0.0125, h / 2)) for sx in (-1, 1)]
    parts.append(box((0.4 * w, d - 0.025, 0.02), (0, 0.0125, 0.03)))
    return parts


def build_painting(s, rng):
    w, d, h = s
    f = 0.04
    parts = [box((w - 2 * f, 0.015, h - 2 * f), (0, -d / 2 + 0.0075, h / 2), role=FIXED, material="canvas",
                 color="white")]
    parts += [box((w, d, f), (0, 0, z)) for z in (f / 2, h - f / 2)]
    parts += [box((f, d, h - 2 * f), (sx * (w / 2 - f / 2), 0, h / 2)) for sx in (-1, 1)]
    return parts


# Bathroom fixtures and a few more kinds for buildings.

def build_toilet(s, rng):
    w, d, h = s
    tank_d = 0.18
    return [
        frustum(0.14, 0.11, 0.3, (0, 0.05, 0)),
        ellipsoid((w / 2 - 0.01, 0.24, 0.09), (0, 0.08, 0.36)),
        box((w - 0.04, 0.42, 0.025), (0, 0.1, 0.4625), role=FIXED, material="plastic", color="white"),
        box((w, tank_d, h - 0.39), (0, -d / 2 + tank_d / 2, 0.39 + (h - 0.39) / 2 - 0.005)),
        cylinder(0.02, 0.005, (0, -d / 2 + tank_d / 2, h - 0.005), role=FIXED, material="metal", color="silver"),
    ]


def build_sink(s, rng):
    """A vanity: a cabinet (the kind's color) under a ceramic top with a basin and a faucet."""
    w, d, h = s
    top_z = h - 0.15
    body_h = top_z - 0.04
    parts = [_cabinet_body(w, d, body_h)] + _drawer_fronts(w, d, body_h, 0.06, 1, 2)
    parts.append(box((w, d, 0.04), (0, 0, top_z - 0.02), role=FIXED, material="ceramic", color="white"))
    parts.append(box((w - 0.2, d - 0.18, 0.006), (0, 0.03, top_z + 0.003), role=FIXED, material="ceramic",
                     color="light gray"))
    parts.append(cylinder(0.015, 0.11, (0, -d / 2 + 0.06, top_z), role=FIXED, material="metal", color="silver"))
    parts.append(box((0.025, 0.12, 0.025), (0, -d / 2 + 0.12, top_z + 0.1225), role=FIXED, material="metal",
                     color="silver"))
    return parts


def build_bathtub(s, rng):
    """An open tub: a base and four rim walls; the faucet sits on the inside of one end."""
    w, d, h = s
    t, base = 0.07, 0.14
    wall_h = h - base
    parts = [box((w, d, base), (0, 0, base / 2))]
    parts += [box((w, t, wall_h), (0, sy * (d / 2 - t / 2), base + wall_h / 2)) for sy in (-1, 1)]
    parts += [box((t, d - 2 * t, wall_h), (sx * (w / 2 - t / 2), 0, base + wall_h / 2)) for sx in (-1, 1)]
    parts.append(box((0.05, 0.05, 0.05), (-w / 2 + t + 0.025, 0, h - 0.1), role=FIXED, material="metal",
                     color="silver"))
    return parts


def build_shower(s, rng):
    """A shower tray with glass on both sides and half the front (the other half is the way in)."""
    w, d, h = s
    tray, g = 0.06, 0.01
    panel_h = h - tray - 0.05
    parts = [box((w, d, tray), (0, 0, tray / 2), role=FIXED, material="ceramic", color="white")]
    parts += [box((g, d, panel_h), (sx * (w / 2 - g / 2), 0, tray + panel_h / 2)) for sx in (-1, 1)]
    parts.append(box((w / 2 - g, g, panel_h), (-w / 4 + g / 2, d / 2 - g / 2, tray + panel_h / 2)))
    parts.append(cylinder(0.012, 0.85, (0, -d / 2 + 0.03, 1.1), role=FIXED, material="metal", color="silver"))
    parts.append(box((0.02, 0.1, 0.02), (0, -d / 2 + 0.08, h - 0.06), role=FIXED, material="metal", color="silver"))
    parts.append(box((0.16, 0.16, 0.02), (0, -d / 2 + 0.2, h - 0.08), role=FIXED, material="metal", color="silver"))
    return parts


def build_mirror(s, rng):
    w, d, h = s
    f = 0.03
    parts = [box((w - 2 * f, 0.01, h - 2 * f), (0, -d / 2 + 0.005, h / 2), role=FIXED, material="glass",
                 color="white")]
    parts += [box((w, d, f), (0, 0, z)) for z in (f / 2, h - f / 2)]
    parts += [box((f, d, h - 2 * f), (sx * (w / 2 - f / 2), 0, h / 2)) for sx in (-1, 1)]
    return parts


def build_coat_rack(s, rng):
    w, d, h = s
    r = min(w, d) / 2
    parts = [cylinder(0.85 * r, 0.03, (0, 0, 0)), cylinder(0.02, h - 0.05, (0, 0, 0.03))]
    parts.append(ellipsoid((0.035, 0.035, 0.025), (0, 0, h - 0.025), tint=0.8))
    for k in range(4):  # hooks
        rot = geo.rot_z(k * math.pi / 2)
        parts.append(box((0.02, 0.16, 0.02), rot @ np.array([0, 0.09, h - 0.2]), rot=rot, role=FIXED,
                         material="metal", color="gold"))
    return parts


def drawer_runner(s) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """A drawer slides straight out of the front (+y)."""
    return (0.0, 0.0, 0.0), (0.0, 1.0, 0.0)


# ----------------------------------------------------------------------------- the registry

DRAWER = (("drawer", drawer_runner),)
"""The joint of kinds whose top-left drawer front slides (`_drawer_fronts`)."""

WOODS = ("oak", "walnut", "pine", "cherry")
FABRICS = ("gray", "navy", "beige", "dark green", "brown", "light gray", "teal", "dark red")

OBJECT_KINDS: Mapping[str, ObjectKind] = MappingProxyType({
    "table": ObjectKind(build_table, (1.4, 0.8, 0.75), "wood", WOODS, "center", support=True,
                        aliases=("dining table", "kitchen table"),
                        room_sizes=(("dining_room", (1.8, 0.95, 0.75)), ("meeting_room", (2.6, 1.15, 0.75)))),
    "coffee_table": ObjectKind(build_coffee_table, (1.0, 0.55, 0.42), "wood", WOODS, "front", support=True,
                               anchors=("sofa",), aliases=("coffee table", "low table")),
    "chair": ObjectKind(build_chair, (0.45, 0.47, 0.9), "wood", WOODS, "around", anchors=("table", "desk"),
                        aliases=("dining chair",), jitter=0.04),
    "stool": ObjectKind(build_stool, (0.38, 0.38, 0.66), "wood", WOODS, "around", anchors=("counter", "table"),
                        aliases=("bar stool",)),
    "bench": ObjectKind(build_bench, (1.4, 0.4, 0.45), "wood", WOODS, "wall"),
    "sofa": ObjectKind(build_sofa, (2.0, 0.9, 0.85), "fabric", FABRICS, "wall_center",
                       aliases=("couch", "settee", "loveseat"), jitter=0.06),
    "armchair": ObjectKind(build_armchair, (0.85, 0.85, 0.85), "fabric", FABRICS, "front",
                           anchors=("coffee_table",), aliases=("arm chair", "recliner", "lounge chair")),
    "bed": ObjectKind(build_bed, (1.6, 2.1, 1.0), "wood", WOODS, "wall_center", accent_material="fabric",
                      accent_colors=FABRICS + ("white",), aliases=("double bed", "single bed"), jitter=0.05),
    "nightstand": ObjectKind(build_nightstand, (0.45, 0.4, 0.55), "wood", WOODS, "beside", anchors=("bed",), joints=DRAWER,
                             support=True, aliases=("night stand", "bedside table", "side table", "end table")),
    "wardrobe": ObjectKind(build_wardrobe, (1.2, 0.6, 2.0), "wood", WOODS + ("white",), "wall",
                           aliases=("closet", "armoire")),
    "dresser": ObjectKind(build_dresser, (1.3, 0.5, 0.85), "wood", WOODS + ("white",), "wall", support=True, joints=DRAWER,
                          aliases=("chest of drawers",)),
    "cabinet": ObjectKind(build_cabinet, (0.8, 0.45, 0.9), "wood", WOODS + ("white", "gray"), "wall", support=True,
                          joints=DRAWER,
                          aliases=("cupboard", "filing cabinet", "sideboard")),
    "bookcase": ObjectKind(build_bookcase, (0.9, 0.35, 1.9), "wood", WOODS + ("white",), "wall",
                           aliases=("bookshelf", "book shelf", "bookshelves")),
    "shelf": ObjectKind(build_shelf, (1.2, 0.45, 1.9), "metal", ("steel", "gray", "blue", "dark gray"), "wall",
                        aliases=("shelves", "shelving", "shelving unit", "rack", "storage rack", "pallet rack"),
                        room_sizes=(("warehouse", (2.4, 0.8, 2.6)),)),
    "counter": ObjectKind(build_counter, (1.8, 0.62, 0.9), "marble", ("white", "light gray", "beige", "black"),
                          "wall", support=True, accent_colors=("white", "oak", "light gray", "navy"),
                          aliases=("countertop", "kitchen counter", "worktop", "kitchen island"), jitter=0.05),
    "fridge": ObjectKind(build_fridge, (0.7, 0.7, 1.8), "metal", ("white", "silver", "steel", "black"), "wall",
                         aliases=("refrigerator", "freezer"), jitter=0.04),
    "stove": ObjectKind(build_stove, (0.6, 0.6, 0.9), "metal", ("white", "silver", "steel"), "wall",
                        aliases=("oven", "cooker", "range"), jitter=0.0),
    "desk": ObjectKind(build_desk, (1.2, 0.6, 0.75), "wood", WOODS + ("white",), "wall", support=True, joints=DRAWER,
                       aliases=("writing desk", "computer desk", "work desk")),
    "office_chair": ObjectKind(build_office_chair, (0.6, 0.6, 1.0), "fabric", ("black", "gray", "navy", "dark red"),
                               "around", anchors=("desk", "table"), aliases=("office chair", "desk chair",
                                                                             "swivel chair"), jitter=0.03),
    "lamp": ObjectKind(build_lamp, (0.3, 0.3, 0.5), "fabric", ("cream", "white", "beige"), "on_top",
                       anchors=("nightstand", "desk", "dresser", "table", "cabinet", "coffee_table"),
                       needs_support=True, aliases=("table lamp", "desk lamp", "bedside lamp")),
    "floor_lamp": ObjectKind(build_floor_lamp, (0.4, 0.4, 1.6), "fabric", ("cream", "white", "beige"), "corner",
                             aliases=("floor lamp", "standing lamp", "standard lamp")),
    "plant": ObjectKind(build_plant, (0.5, 0.5, 1.0), "ceramic", ("terracotta", "white", "gray", "black"), "corner",
                        aliases=("potted plant", "houseplant", "house plant", "ficus"), jitter=0.15),
    "crate": ObjectKind(build_crate, (0.6, 0.6, 0.6), "wood", ("pine", "oak"), "free"),
    "pallet": ObjectKind(build_pallet, (1.2, 1.0, 0.144), "wood", ("pine",), "free", support=True, jitter=0.0),
    "barrel": ObjectKind(build_barrel, (0.6, 0.6, 0.9), "metal", ("blue", "red", "dark green", "yellow", "steel"),
                         "free", aliases=("drum", "oil drum"), jitter=0.03),
    "box": ObjectKind(build_box, (0.5, 0.4, 0.35), "cardboard", ("tan",), "on_top", anchors=("pallet",),
                      aliases=("cardboard box", "carton", "package", "parcel"), jitter=0.2),
    "door": ObjectKind(build_door, (0.9, 0.05, 2.1), "wood", WOODS + ("white",), "wall_mount", jitter=0.0,
                       joints=(("leaf", door_hinge),),
                       aliases=("doorway",)),
    "window": ObjectKind(build_window, (1.2, 0.06, 1.2), "plastic", ("white",), "wall_mount", mount_height=0.9,
                         jitter=0.1),
    "painting": ObjectKind(build_painting, (0.8, 0.03, 0.6), "wood", ("black", "gold", "walnut", "white"),
                           "wall_mount", mount_height=1.3, aliases=("picture", "poster", "artwork"), jitter=0.2),
    "whiteboard": ObjectKind(build_whiteboard, (1.6, 0.06, 1.0), "metal", ("silver",), "wall_mount",
                             mount_height=0.9, aliases=("white board",), jitter=0.1),
    "rug": ObjectKind(build_rug, (2.0, 1.4, 0.012), "carpet", ("dark red", "navy", "beige", "gray", "teal", "olive"),
                      "rug", aliases=("carpet", "mat"), walkable=True, jitter=0.15),
    "tv": ObjectKind(build_tv, (1.0, 0.22, 0.65), "plastic", ("black",), "on_top", anchors=("tv_stand", "dresser",
                                                                                             "cabinet"),
                     needs_support=True, aliases=("television", "tv set", "telly", "flat screen"), jitter=0.1),
    "tv_stand": ObjectKind(build_tv_stand, (1.6, 0.45, 0.5), "wood", WOODS + ("black", "white"), "wall", joints=DRAWER,
                           support=True, aliases=("tv stand", "television stand", "tv cabinet", "media console")),
    "monitor": ObjectKind(build_monitor, (0.6, 0.2, 0.45), "plastic", ("black", "dark gray"), "on_top",
                          anchors=("desk", "table"), needs_support=True,
                          aliases=("computer monitor", "computer", "screen", "display"), jitter=0.05),
    "trash_can": ObjectKind(build_trash_can, (0.36, 0.36, 0.6), "metal", ("steel", "black", "gray", "green"),
                            "corner", aliases=("trash can", "trash bin", "bin", "garbage can", "waste bin",
                                               "wastebasket", "dustbin", "trashcan"), jitter=0.1),
    "cart": ObjectKind(build_cart, (1.0, 0.6, 1.0), "metal", ("blue", "gray", "yellow", "red"), "free",
                       aliases=("trolley", "hand cart", "platform cart", "pushcart")),
    "forklift": ObjectKind(build_forklift, (1.1, 2.6, 2.1), "metal", ("yellow", "orange", "red"), "free",
                           aliases=("fork lift", "lift truck"), jitter=0.0),
    "toilet": ObjectKind(build_toilet, (0.4, 0.68, 0.78), "ceramic", ("white",), "wall",
                         aliases=("toilet bowl", "loo"), jitter=0.03),
    "sink": ObjectKind(build_sink, (0.7, 0.48, 1.0), "wood", WOODS + ("white", "gray"), "wall",
                       aliases=("washbasin", "wash basin", "basin", "vanity", "bathroom sink"), jitter=0.05),
    "bathtub": ObjectKind(build_bathtub, (1.7, 0.75, 0.58), "ceramic", ("white",), "wall",
                          aliases=("bath tub", "tub", "bath"), jitter=0.03),
    "shower": ObjectKind(build_shower, (0.9, 0.9, 2.0), "glass", ("light blue", "white"), "wall",
                         aliases=("shower stall", "shower cabin", "shower cubicle"), jitter=0.0),
    "mirror": ObjectKind(build_mirror, (0.6, 0.03, 0.8), "metal", ("silver", "gold", "black"), "wall_mount",
                         mount_height=1.2, aliases=("wall mirror",), jitter=0.1),
    "coat_rack": ObjectKind(build_coat_rack, (0.45, 0.45, 1.75), "wood", WOODS + ("black",), "corner",
                            aliases=("coat rack", "coat stand", "hat stand"), jitter=0.05),
    **MOVING_KINDS,
})
"""Every object kind, by canonical name."""


def kind_size(kind: str, room_type: str) -> tuple[float, float, float]:
    """Default size of ``kind`` in a room of ``room_type`` (warehouse shelves are pallet racks)."""
    k = OBJECT_KINDS[kind]
    return dict(k.room_sizes).get(room_type, k.size)
