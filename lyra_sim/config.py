"""Configuration dataclasses from plain dicts (JSON files, ``gym.make`` keyword dicts), strictly.

Every config in lyra-sim is a frozen dataclass that validates itself in ``__post_init__``;
`from_dict` is the one way a dict becomes one, so every unknown key fails the same way.
"""

from __future__ import annotations

import math
from dataclasses import fields, is_dataclass
from typing import Any, Iterable, Sequence, TypeVar

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


def build_entry(cls: type[T], data: dict[str, Any], where: str) -> T:
    """``cls(**data)`` with validation errors prefixed by where the entry sits (``objects[2].kind: ...``)."""
    try:
        return cls(**data)
    except ValueError as e:
        raise ValueError(f"{where}.{e}") from None


def accepted(values: Iterable[str]) -> str:
    """Accepted names for an error message: sorted, comma-separated."""
    return ", ".join(sorted(values))


def check_number(where: str, value: Any, lo: float | None = None, hi: float | None = None) -> float:
    """``value`` as a float if it is a finite number (not a bool) in ``[lo, hi]``; else a ValueError naming ``where``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{where}: expected a finite number, got {value!r}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ValueError(f"{where}: {value} is outside the accepted range [{lo}, {hi}]")
    return float(value)


def check_vector(where: str, value: Any, n: int, ranges: Sequence[tuple[float | None, float | None]]) -> tuple[float, ...] | None:
    """``value`` (None, or a list of ``n`` numbers, entry ``i`` in ``ranges[i]``) as a tuple of floats."""
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or len(value) != n:
        raise ValueError(f"{where}: expected a list of {n} numbers, got {value!r}")
    return tuple(check_number(f"{where}[{i}]", v, *ranges[i]) for i, v in enumerate(value))
