"""Configuration dataclasses from plain dicts (JSON files, ``gym.make`` keyword dicts), strictly.

Every config in lyra-sim is a frozen dataclass that validates itself in ``__post_init__``;
`from_dict` is the one way a dict becomes one, so every unknown key fails the same way.
"""

from __future__ import annotations

import math
from dataclasses import fields, is_dataclass
from typing import Any, TypeVar

T = TypeVar("T")


def check_keys(cls: type, data: Any, where: str) -> dict[str, Any]:
    """Return ``data`` if it is a dict whose keys are all fields of dataclass ``cls``.

    Raises:
        ValueError: ``data`` is not a dict, or has a key ``cls`` lacks; the message names
            ``where``, the unknown key(s) and the accepted ones.
    """
    if not is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected an object (dict) of settings, got {type(data).__name__}")
    names = [f.name for f in fields(cls)]
    unknown = [k for k in data if k not in names]
    if unknown:
        keys = ", ".join(repr(k) if isinstance(k, str) else f"{k!r} ({type(k).__name__})" for k in unknown)
        raise ValueError(f"{where}: unknown key{'s' * (len(unknown) > 1)} {keys}; accepted: {', '.join(names)}")
    return data


def from_dict(cls: type[T], data: Any, where: str) -> T:
    """``cls(**data)`` after `check_keys`; JSON lists become tuples (configs are frozen and hashable)."""
    data = check_keys(cls, data, where)
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def check_number(where: str, value: Any, lo: float, hi: float, *, lo_open: bool = False, integer: bool = False) -> None:
    """Raise ValueError unless ``value`` is a finite real number (never a bool; an ``int`` when
    ``integer``) in ``[lo, hi]``, or ``(lo, hi]`` when ``lo_open``; the message names ``where``,
    the accepted interval and the value. The one range check of every config's ``__post_init__``."""
    kinds = (int,) if integer else (int, float)
    ok = isinstance(value, kinds) and not isinstance(value, bool) and math.isfinite(value)
    if not (ok and (value > lo if lo_open else value >= lo) and value <= hi):
        interval = f"{'(' if lo_open else '['}{lo:g}, {hi:g}]"
        raise ValueError(f"{where}: expected {'an integer' if integer else 'a number'} in {interval}, got {value!r}")
