"""Object kinds that dynamic scenes animate (`lyra_sim.worlds.motion`): a person, a robot vacuum, a ball,
a standing fan, a turntable. In a static scene they stand still like any other object.

Builders follow `lyra_sim.worlds.objects` (local frame, front +y, parts inside the size box); the
movable parts of the fan and the turntable are joints (`Part.joint`) whose axes are given here.
"""

from __future__ import annotations

import math
from types import MappingProxyType
from typing import Mapping

import numpy as np

from lyra_sim.worlds import geometry as geo
from lyra_sim.worlds.parts import ACCENT, FIXED, Y_AXIS, ObjectKind, box, cylinder, ellipsoid, jointed

SKIN_TONES = ((0.87, 0.70, 0.58), (0.76, 0.57, 0.43), (0.55, 0.38, 0.26), (0.36, 0.24, 0.16), (0.93, 0.79, 0.69))


def build_person(s, rng):
    """A person-shaped figure facing +y: legs (accent: trousers), torso and arms (main: shirt), head."""
    w, d, h = s
    skin = SKIN_TONES[int(rng.integers(len(SKIN_TONES)))]
    leg_h, shoe = 0.47 * h, 0.05
    torso_w, torso_d = 0.64 * w, 0.7 * d
    arm_w = min(0.075, (w - torso_w) / 2 - 0.005)
    head = np.array([0.085, 0.1, 0.115]) * h / 1.75
    neck_h = 0.04 * h
    torso_top = h - 2 * head[2] - neck_h
    parts = []
    for sx in (-1, 1):
        x = sx * 0.16 * w
        parts.append(box((0.1, 0.16, shoe), (x, 0.02, shoe / 2), role=FIXED, material="rubber", color="black"))
        parts.append(box((0.11, 0.13, leg_h - shoe), (x, 0, shoe + (leg_h - shoe) / 2), role=ACCENT))
        parts.append(box((arm_w, 0.09, 0.36 * h), (sx * (torso_w / 2 + arm_w / 2 + 0.004), 0, torso_top - 0.18 * h)))
        parts.append(box((arm_w * 0.9, 0.08, 0.07), (sx * (torso_w / 2 + arm_w / 2 + 0.004), 0,
                                                      torso_top - 0.36 * h - 0.035), role=FIXED, material="plaster",
                         color=skin))
    parts.append(box((torso_w, torso_d, torso_top - leg_h), (0, 0, (leg_h + torso_top) / 2)))
    parts.append(cylinder(0.045, neck_h + 0.01, (0, 0, torso_top - 0.005), role=FIXED, material="plaster", color=skin))
    parts.append(ellipsoid(head, (0, 0, h - head[2]), role=FIXED, material="plaster", color=skin))
    return parts


def build_robot_vacuum(s, rng):
    """A round robot vacuum: body, a lighter top disk, a bumper at the front (+y), a sensor turret."""
    w, d, h = s
    r = min(w, d) / 2
    parts = [cylinder(r, 0.7 * h, (0, 0, 0.01))]
    parts.append(cylinder(0.92 * r, 0.2 * h, (0, 0, 0.71 * h), role=ACCENT))
    parts.append(box((1.2 * r, 0.02, 0.35 * h), (0, 0.92 * r - 0.01, 0.25 * h), role=FIXED, material="rubber",
                     color="dark gray"))
    parts.append(cylinder(0.2 * r, 0.09 * h, (0, 0.35 * r, 0.91 * h), role=FIXED, material="plastic", color="black"))
    parts += [cylinder(0.01, 0.01, (x, 0, 0), role=FIXED, material="rubber", color="black") for x in (-0.6 * r, 0.6 * r)]
    return parts


def build_ball(s, rng):
    """A ball resting on the floor, with a band so that its turning shows."""
    w, d, h = s
    r = min(w, d, h) / 2
    return [ellipsoid((0.998 * r,) * 3, (0, 0, r)),  # the band stands 0.2 % proud of the ball
            ellipsoid((0.35 * r, r, r), (0, 0, r), role=ACCENT)]


def fan_axle(s) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """The fan rotor's axle: front-to-back (+y) through the hub."""
    w, d, h = s
    return (0.0, 0.0, h - min(w, d) / 2), (0.0, 1.0, 0.0)


def build_fan(s, rng):
    """A standing fan facing +y: round base, pole, motor housing and a three-bladed rotor (the ``rotor`` joint)."""
    w, d, h = s
    r = min(w, d) / 2
    hub_z = fan_axle(s)[0][2]
    parts = [cylinder(0.95 * r, 0.03, (0, 0, 0), role=FIXED, material="metal", color="dark gray"),
             cylinder(0.02, hub_z - 0.03, (0, -0.25 * d, 0.03), role=FIXED, material="metal", color="silver"),
             cylinder(0.07, 0.16, (0, -d / 2 + 0.01, hub_z), rot=Y_AXIS)]
    rotor = [cylinder(0.045, 0.05, (0, -d / 2 + 0.17, hub_z), rot=Y_AXIS, role=ACCENT)]
    blade = np.array([0.75 * r, 0.012, 0.22 * r])
    for k in range(3):
        a = k * 2 * math.pi / 3
        rot = geo.rot_y(a)
        rotor.append(box(blade, rot @ np.array([0.5 * r, 0, 0]) + np.array([0, -d / 2 + 0.2, hub_z]), rot=rot,
                         role=ACCENT, tint=1.05))
    return parts + jointed(rotor, "rotor")


def _platter(w, d) -> tuple[float, float]:
    """Center x and radius of a turntable's platter."""
    r = min(0.42 * w, 0.45 * d)
    return -w / 2 + 0.03 + r, r


def platter_spindle(s) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """The platter's spindle: vertical through its center."""
    return (_platter(s[0], s[1])[0], 0.0, 0.0), (0.0, 0.0, 1.0)


def build_turntable(s, rng):
    """A record player: plinth, a platter with a black record (the ``platter`` joint), a tonearm."""
    w, d, h = s
    plinth = 0.6 * h
    cx, r = _platter(w, d)
    parts = [box((w, d, plinth), (0, 0, plinth / 2))]
    platter = [cylinder(r, 0.2 * h, (cx, 0, plinth), role=FIXED, material="metal", color="silver"),
               cylinder(0.96 * r, 0.05 * h, (cx, 0, plinth + 0.2 * h), role=FIXED, material="plastic", color="black"),
               cylinder(0.3 * r, 0.02 * h, (cx, 0, plinth + 0.25 * h), role=FIXED, material="canvas", color="red"),
               box((0.2 * r, 0.015, 0.02 * h), (cx + 0.6 * r, 0, plinth + 0.26 * h), role=FIXED, material="canvas",
                   color="white")]
    parts.append(cylinder(0.02, 0.35 * h, (w / 2 - 0.05, d / 2 - 0.06, plinth), role=FIXED, material="metal",
                          color="silver"))
    parts.append(box((0.01, 0.55 * d, 0.01), (w / 2 - 0.05, d / 2 - 0.06 - 0.275 * d, plinth + 0.33 * h), role=FIXED,
                     material="metal", color="silver"))
    return parts + jointed(platter, "platter")


MOVING_KINDS: Mapping[str, ObjectKind] = MappingProxyType({
    "person": ObjectKind(build_person, (0.5, 0.3, 1.75), "fabric", ("blue", "red", "white", "dark green", "gray",
                                                                    "yellow", "navy"), "free",
                         aliases=("human", "man", "woman", "pedestrian", "worker", "figure", "people"),
                         accent_material="fabric", accent_colors=("navy", "black", "dark gray", "tan", "blue"),
                         jitter=0.05),
    "robot_vacuum": ObjectKind(build_robot_vacuum, (0.34, 0.34, 0.09), "plastic", ("black", "white", "dark gray"),
                               "free", aliases=("robot vacuum", "robot vacuum cleaner", "vacuum robot", "roomba",
                                                "robotic vacuum"), accent_material="plastic",
                               accent_colors=("dark gray", "silver", "white"), jitter=0.0),
    "ball": ObjectKind(build_ball, (0.3, 0.3, 0.3), "rubber", ("red", "blue", "yellow", "green", "orange"), "free",
                       aliases=("beach ball", "soccer ball", "football", "basketball", "exercise ball"),
                       accent_material="rubber", accent_colors=("white", "black", "yellow"), jitter=0.1),
    "fan": ObjectKind(build_fan, (0.34, 0.3, 1.2), "plastic", ("white", "black", "gray"), "corner",
                      joints=(("rotor", fan_axle),),
                      aliases=("standing fan", "floor fan", "electric fan", "pedestal fan"),
                      accent_material="plastic", accent_colors=("white", "light gray", "light blue"), jitter=0.05),
    "turntable": ObjectKind(build_turntable, (0.45, 0.36, 0.13), "wood", ("oak", "walnut", "pine", "cherry", "black"), "on_top",
                            anchors=("cabinet", "tv_stand", "dresser", "table", "desk"), needs_support=True,
                            joints=(("platter", platter_spindle),),
                            aliases=("record player", "gramophone", "phonograph", "lazy susan"), jitter=0.0),
})
"""The kinds above, by canonical name (merged into `lyra_sim.worlds.objects.OBJECT_KINDS`)."""
