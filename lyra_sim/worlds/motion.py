"""Motions of dynamic scenes: what moves, how, and where it is at any time.

A scene spec's ``motions`` (`MotionSpec`, JSON like every spec entry) names an object (an instance
``cart_0`` or a kind ``cart``: each of its instances) and a motion kind (`MOTION_KINDS`, a registry):

| kind | style | moves | default |
| --- | --- | --- | --- |
| ``walk`` | a closed route across the floor | a person | 0.8 m/s |
| ``drive`` | a closed route (a ball also rolls) | a cart, a robot vacuum, a ball, a forklift | 0.5 m/s |
| ``swing`` | about the hinge, open and shut | a door's leaf | 80°, every 4 s |
| ``slide`` | out of the front and back | a drawer of a dresser, cabinet, nightstand, TV stand or desk | 0.3 m, every 3 s |
| ``spin`` | about the axle, one turn per period | a fan's rotor, a turntable's platter | 2 s per turn |
| ``bounce`` | up and down (a parabola) | a ball | 0.6 m, every 1.2 s |

Poses are rigid transforms of the moving Gaussians relative to the scene as built (the *rest*
geometry: doors shut, drawers in, path movers at their route's start): `local_pose` gives those of
joints and bounces in the object's frame, `lyra_sim.worlds.routes` those of route followers.
Motions loop: every one is periodic in time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

from lyra_sim.config import accepted, build_entry, check_keys, check_number
from lyra_sim.worlds.routes import Route

MAX_MOTIONS = 8
"""Most moving things in one scene (after a kind target expands to its instances)."""
MAX_PATH_POINTS = 1024
"""Most waypoints of a route."""


@dataclass(frozen=True)
class MotionKind:
    """One kind of motion.

    Attributes:
        name: registry key.
        style: ``path`` (a closed route on the floor), ``swing`` (turn about a joint and back),
            ``slide`` (along a joint and back), ``spin`` (about a joint, one way), ``bounce``
            (straight up and down).
        words: prompt words that ask for it (``walking``, ``rolls``...).
        targets: object kind → the joint that moves (None: the whole object).
        speed: meters per second (``path``); period: seconds per cycle (the others).
        amplitude: degrees (``swing``), meters (``slide``, ``bounce``); None for ``path``/``spin``.
        amplitude_range: accepted amplitudes.
    """

    name: str
    style: str
    words: tuple[str, ...]
    targets: Mapping[str, str | None]
    speed: float | None = None
    period: float | None = None
    amplitude: float | None = None
    amplitude_range: tuple[float, float] | None = None


DRAWER_HOSTS = ("dresser", "cabinet", "nightstand", "tv_stand", "desk")
"""Kinds whose top drawer can slide (their ``drawer`` joint)."""

MOTION_KINDS: Mapping[str, MotionKind] = MappingProxyType({
    "walk": MotionKind("walk", "path", ("walking", "walks", "walk", "strolling", "pacing", "wandering", "wanders",
                                        "moving", "moves"),
                       MappingProxyType({"person": None}), speed=0.8),
    "drive": MotionKind("drive", "path", ("rolling", "rolls", "driving", "drives", "moving", "moves", "roaming",
                                          "roams", "cruising", "cleaning", "vacuuming", "pushed"),
                        MappingProxyType({"cart": None, "robot_vacuum": None, "ball": None, "forklift": None}),
                        speed=0.5),
    "swing": MotionKind("swing", "swing", ("swinging", "swings", "opening", "opens", "closing", "closes", "flapping"),
                        MappingProxyType({"door": "leaf"}), period=4.0, amplitude=80.0, amplitude_range=(5.0, 110.0)),
    "slide": MotionKind("slide", "slide", ("sliding", "slides", "opening", "opens", "closing", "closes", "pulled"),
                        MappingProxyType({k: "drawer" for k in DRAWER_HOSTS}), period=3.0, amplitude=0.3,
                        amplitude_range=(0.03, 1.0)),
    "spin": MotionKind("spin", "spin", ("spinning", "spins", "rotating", "rotates", "turning", "turns", "whirring",
                                        "playing"),
                       MappingProxyType({"fan": "rotor", "turntable": "platter"}), period=2.0),
    "bounce": MotionKind("bounce", "bounce", ("bouncing", "bounces", "bouncy", "hopping", "jumping"),
                         MappingProxyType({"ball": None}), period=1.2, amplitude=0.6, amplitude_range=(0.02, 3.0)),
})
"""Every motion kind, by name."""

MOTION_WORDS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    w: tuple(k for k, m in MOTION_KINDS.items() if w in m.words)
    for w in sorted({w for m in MOTION_KINDS.values() for w in m.words})
})
"""Prompt word → the motion kinds it may mean ("opening": a door swings, a drawer slides)."""

JOINT_NOUNS: Mapping[str, str] = MappingProxyType({"drawer": "dresser"})
"""Prompt nouns for a movable part → the kind that brings one when none is named ("a drawer sliding")."""


def motion_for(word: str, object_kind: str) -> str | None:
    """The motion kind ``word`` means for an ``object_kind`` (None: none of its kinds moves that object)."""
    return next((k for k in MOTION_WORDS.get(word, ()) if object_kind in MOTION_KINDS[k].targets), None)


def movable_by(motion: str) -> str:
    """What a motion kind can move, in words (for error messages)."""
    return accepted(MOTION_KINDS[motion].targets)


@dataclass(frozen=True)
class MotionSpec:
    """A motion in a scene spec (JSON keys = the field names).

    Attributes:
        kind: a `MOTION_KINDS` name.
        object: an object instance (``cart_0``) or a kind (``cart``: every instance of it).
        speed: m/s along the route (``walk``, ``drive``); None = the kind's default.
        period: seconds per cycle (``swing``, ``slide``, ``bounce``; ``spin``: per turn); None = default.
        amplitude: degrees (``swing``) or meters (``slide``, ``bounce``); None = default.
        path: ``walk``/``drive``: the closed route, ``[[x, y], ...]`` meters (2..1024 points; two:
            back and forth); None = planned (seeded) through the free floor.
        phase: seconds into the cycle at time 0.
    """

    kind: str
    object: str
    speed: float | None = None
    period: float | None = None
    amplitude: float | None = None
    path: tuple[tuple[float, float], ...] | None = None
    phase: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.kind, str) or self.kind not in MOTION_KINDS:
            raise ValueError(f"kind: unknown motion {self.kind!r}; accepted: {accepted(MOTION_KINDS)}")
        if not isinstance(self.object, str) or not self.object:
            raise ValueError(f"object: expected an object instance (cart_0) or kind (cart), got {self.object!r}")
        m = MOTION_KINDS[self.kind]
        if self.speed is not None:
            if m.style != "path":
                raise ValueError(f"speed: a {self.kind} motion has a period, not a speed")
            object.__setattr__(self, "speed", check_number("speed", self.speed, 0.05, 3.0))
        if self.period is not None:
            if m.style == "path":
                raise ValueError(f"period: a {self.kind} motion follows a route at a speed (m/s), not a period")
            object.__setattr__(self, "period", check_number("period", self.period, 0.2, 120.0))
        if self.amplitude is not None:
            if m.amplitude_range is None:
                raise ValueError(f"amplitude: a {self.kind} motion has none (accepted for: swing, slide, bounce)")
            object.__setattr__(self, "amplitude", check_number("amplitude", self.amplitude, *m.amplitude_range))
        object.__setattr__(self, "phase", check_number("phase", self.phase, 0.0, 3600.0))
        if self.path is not None:
            if m.style != "path":
                raise ValueError(f"path: only walk and drive motions follow a route, not {self.kind}")
            if not isinstance(self.path, (list, tuple)) or not 2 <= len(self.path) <= MAX_PATH_POINTS:
                raise ValueError(f"path: expected 2..{MAX_PATH_POINTS} points [x, y] (a closed route), got {self.path!r}")
            pts = []
            for i, p in enumerate(self.path):
                if not isinstance(p, (list, tuple)) or len(p) != 2:
                    raise ValueError(f"path[{i}]: expected [x, y] meters, got {p!r}")
                pts.append((check_number(f"path[{i}][0]", p[0]), check_number(f"path[{i}][1]", p[1])))
            object.__setattr__(self, "path", tuple(pts))

    @property
    def style(self) -> str:
        return MOTION_KINDS[self.kind].style

    def resolved(self, **values: Any) -> "MotionSpec":
        """A copy with every default filled in (and ``values`` set)."""
        m = MOTION_KINDS[self.kind]
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d.update(speed=self.speed if self.speed is not None or m.style != "path" else m.speed,
                 period=self.period if self.period is not None or m.style == "path" else m.period,
                 amplitude=self.amplitude if self.amplitude is not None or m.amplitude is None else m.amplitude)
        d.update(values)
        return MotionSpec(**d)

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["path"] = None if self.path is None else [list(p) for p in self.path]
        return d

    @classmethod
    def from_dict(cls, data, where: str = "motion") -> "MotionSpec":
        data = dict(check_keys(cls, data, where))
        for key in ("kind", "object"):
            if key not in data:
                raise ValueError(f"{where}: missing key {key!r} (a motion names its kind and its object)")
        if isinstance(data.get("path"), list):
            data["path"] = tuple(tuple(p) if isinstance(p, list) else p for p in data["path"])
        return build_entry(cls, data, where)


@dataclass(frozen=True)
class Binding:
    """A motion bound to one object instance (what `bind` returns)."""

    index: int
    motion: MotionSpec
    instance: str
    object_kind: str
    joint: str | None

    @property
    def label(self) -> str:
        """The label of the moving Gaussians: the instance, or ``instance.joint``."""
        return self.instance if self.joint is None else f"{self.instance}.{self.joint}"


def bind(motions: tuple[MotionSpec, ...], instances: list[tuple[str, str]]) -> list[Binding]:
    """Bind motions to instances ``[(name, kind), ...]``; a kind target binds each of its instances.

    Raises:
        ValueError: an unknown object, a kind with no instance, a motion that cannot move that
            object, two motions on one object, or more than `MAX_MOTIONS` moving things.
    """
    kinds = {name: kind for name, kind in instances}
    out: list[Binding] = []
    for i, m in enumerate(motions):
        where = f"motions[{i}]"
        if m.object in kinds:
            names = [m.object]
        else:
            names = [n for n, k in instances if k == m.object]
            if not names:
                raise ValueError(f"{where}.object: {m.object!r} is not an object of this scene "
                                 f"(objects: {accepted(kinds) or 'none'})")
        for name in names:
            kind = kinds[name]
            targets = MOTION_KINDS[m.kind].targets
            if kind not in targets:
                raise ValueError(f"{where}: a {kind.replace('_', ' ')} cannot {m.kind}; {m.kind} moves: "
                                 f"{movable_by(m.kind)}")
            out.append(Binding(i, m, name, kind, targets[kind]))
    seen: dict[str, int] = {}
    for b in out:
        if b.instance in seen:
            raise ValueError(f"motions[{b.index}]: {b.instance} already moves (motions[{seen[b.instance]}]); "
                             "one motion per object")
        seen[b.instance] = b.index
    if len(out) > MAX_MOTIONS:
        raise ValueError(f"motions: {len(out)} moving objects; at most {MAX_MOTIONS} per scene")
    return out


# ---------------------------------------------------------------------- poses
def rotation_about(axis: np.ndarray, angle: float) -> np.ndarray:
    """``[3, 3]`` rotation by ``angle`` radians about the unit ``axis`` (Rodrigues)."""
    x, y, z = axis / np.linalg.norm(axis)
    k = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
    return np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * (k @ k)


def _affine(rotation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    m = np.eye(4)
    m[:3, :3], m[:3, 3] = rotation, translation
    return m


def cycle(motion: MotionSpec, t: float) -> float:
    """Where in its cycle ``motion`` is at time ``t`` (seconds), in [0, 1)."""
    return ((t + motion.phase) / motion.period) % 1.0


def local_pose(motion: MotionSpec, origin: np.ndarray, axis: np.ndarray, t: float) -> np.ndarray:
    """``[4, 4]`` rest → time-``t`` transform of a joint or bounce in the object's frame (resolved motion).

    ``swing`` and ``slide`` ease out and back (``(1 - cos) / 2``), ``spin`` turns at a constant
    rate, ``bounce`` follows a parabola that touches the rest height once per period.
    """
    phi = cycle(motion, t)
    style = motion.style
    if style == "swing":
        r = rotation_about(axis, math.radians(motion.amplitude) * 0.5 * (1 - math.cos(2 * math.pi * phi)))
        return _affine(r, origin - r @ origin)
    if style == "slide":
        return _affine(np.eye(3), axis * motion.amplitude * 0.5 * (1 - math.cos(2 * math.pi * phi)))
    if style == "spin":
        r = rotation_about(axis, 2 * math.pi * phi)
        return _affine(r, origin - r @ origin)
    if style == "bounce":
        return _affine(np.eye(3), np.array([0.0, 0.0, motion.amplitude * 4 * phi * (1 - phi)]))
    raise ValueError(f"local_pose: {motion.kind} follows a route (lyra_sim.worlds.routes)")




# ---------------------------------------------------------------------- movers of a generated scene
def rest_matrix(x: float, y: float, z: float, yaw: float) -> np.ndarray:
    """``[4, 4]`` object local → world for a footprint center ``(x, y)`` at height ``z`` turned by ``yaw``."""
    m = np.eye(4)
    m[:3, :3] = rotation_about(np.array([0.0, 0.0, 1.0]), yaw)
    m[:3, 3] = (x, y, z)
    return m


@dataclass(frozen=True)
class Mover:
    """One moving thing of a generated dynamic scene (`lyra_sim.worlds.procedural.ProceduralScene.movers`).

    Attributes:
        label: the label of its Gaussians (``cart_0``, ``door_0.leaf``); label_index: its index.
        instance, object_kind, joint: what moves (joint None: the whole object).
        motion: the resolved `MotionSpec` (every default filled in; routes planned).
        rest: ``[4, 4]`` object local → world as built; size: the object's ``(w, d, h)``.
        origin, axis: the joint's line in the local frame (None for route and bounce motions).
    """

    label: str
    label_index: int
    instance: str
    object_kind: str
    joint: str | None
    motion: MotionSpec
    rest: np.ndarray
    size: tuple[float, float, float]
    origin: np.ndarray | None = None
    axis: np.ndarray | None = None

    def pose(self, t: float) -> np.ndarray:
        """``[4, 4]`` world transform taking the Gaussians (and meshes) as built to where they are at ``t``."""
        if self.motion.style != "path":
            origin = np.zeros(3) if self.origin is None else self.origin
            axis = np.array([0.0, 0.0, 1.0]) if self.axis is None else self.axis
            return self.rest @ local_pose(self.motion, origin, axis, t) @ np.linalg.inv(self.rest)
        route = Route(np.asarray(self.motion.path), reverse=self.motion.kind == "drive")
        s0, d = self.motion.speed * self.motion.phase, self.motion.speed * t
        x, y = route.at(s0 + d)
        at = rest_matrix(float(x), float(y), float(self.rest[2, 3]), route.heading(s0 + d))
        if self.object_kind == "ball":  # rolls without slipping: about its local -x, through its center
            r = min(self.size) / 2
            roll = _affine(rotation_about(np.array([-1.0, 0.0, 0.0]), d / r), np.zeros(3))
            lift = _affine(np.eye(3), np.array([0.0, 0.0, r]))
            at = at @ lift @ roll @ np.linalg.inv(lift)
        return at @ np.linalg.inv(self.rest)

    def poses(self, times) -> np.ndarray:
        """``[T, 4, 4]`` `pose` at each of ``times``."""
        return np.stack([self.pose(float(t)) for t in times])

    def record(self) -> dict:
        """JSON-able description (manifests)."""
        return {"label": self.label, "object": self.instance, "kind": self.object_kind, "joint": self.joint,
                "motion": self.motion.to_dict()}


__all__ = ["DRAWER_HOSTS", "JOINT_NOUNS", "MAX_MOTIONS", "MOTION_KINDS", "MOTION_WORDS", "Binding", "MotionKind",
           "MotionSpec", "Mover", "bind", "cycle", "local_pose", "motion_for", "rest_matrix", "rotation_about"]
