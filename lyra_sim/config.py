"""Configuration dataclasses from plain dicts (JSON files, ``gym.make`` keyword dicts), strictly.

Every config in lyra-sim is a frozen dataclass that validates itself in ``__post_init__``;
`from_dict` is the one way a dict becomes one, so every unknown key fails the same way.
`parse_json` / `read_json` / `read_text` are the one way text a user hands in (a spec, a
manifest, a PLY comment, a prompts file) is read: a ValueError naming the file for bytes that
are not UTF-8, for bad JSON, and for JSON nested deeper than `MAX_JSON_DEPTH`.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import fields, is_dataclass
from pathlib import Path
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


def check_number(where: str, value: Any, lo: float | None = None, hi: float | None = None, *, lo_open: bool = False,
                 integer: bool = False) -> float:
    """``value`` if it is a finite real number (never a bool; an ``int`` when ``integer``) in ``[lo, hi]``
    (``(lo, hi]`` when ``lo_open``; None: unbounded), as a float (an int when ``integer``). Otherwise a
    ValueError naming ``where``, the accepted interval and the value: the one range check of every
    config's ``__post_init__`` and of scene specs."""
    kinds = (int,) if integer else (int, float)
    ok = isinstance(value, kinds) and not isinstance(value, bool) and math.isfinite(value)
    if not (ok and (lo is None or (value > lo if lo_open else value >= lo)) and (hi is None or value <= hi)):
        low = "-inf" if lo is None else f"{lo:g}"
        high = "inf" if hi is None else f"{hi:g}"
        interval = f"{'(' if lo_open or lo is None else '['}{low}, {high}{')' if hi is None else ']'}"
        raise ValueError(f"{where}: expected {'an integer' if integer else 'a number'} in {interval}, got {value!r}")
    return int(value) if integer else float(value)


def check_vector(where: str, value: Any, n: int, ranges: Sequence[tuple[float | None, float | None]]) -> tuple[float, ...] | None:
    """``value`` (None, or a list of ``n`` numbers, entry ``i`` in ``ranges[i]``) as a tuple of floats."""
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or len(value) != n:
        raise ValueError(f"{where}: expected a list of {n} numbers, got {value!r}")
    return tuple(check_number(f"{where}[{i}]", v, *ranges[i]) for i, v in enumerate(value))


MAX_JSON_DEPTH = 64
"""Nesting of JSON arrays / objects accepted (scene specs and manifests need fewer than 8). Deeper
documents are refused before any work: Python's parser and every recursive consumer (json.dumps,
dataclass conversion) raise RecursionError on a few thousand levels."""


def _depth_ok(data: Any) -> bool:
    stack = [(data, 1)]
    while stack:  # iterative: no recursion on the untrusted document
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                return False
            stack.extend((v, depth + 1) for v in (value.values() if isinstance(value, dict) else value))
    return True


def decode_text(data: bytes, where: str) -> str:
    """``data`` as UTF-8 text (a leading BOM dropped); ValueError naming ``where`` otherwise."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{where}: not UTF-8 text (byte {exc.start} is {data[exc.start:exc.start + 1]!r})") from None


def parse_json(text: str | bytes, where: str) -> Any:
    """Parse a JSON document a user handed in.

    Raises:
        ValueError: naming ``where``: not UTF-8 (for bytes), not JSON, or nested deeper than
            `MAX_JSON_DEPTH`.
    """
    if isinstance(text, bytes):
        text = decode_text(text, where)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}: not valid JSON ({exc})") from None
    except RecursionError:
        data = None
    else:
        if _depth_ok(data):
            return data
    raise ValueError(f"{where}: JSON nested deeper than {MAX_JSON_DEPTH} levels")


def read_text(path: str | os.PathLike) -> str:
    """The UTF-8 text of the file ``path``; FileNotFoundError or ValueError naming it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    return decode_text(path.read_bytes(), str(path))


def read_json(path: str | os.PathLike) -> Any:
    """`parse_json` of the file ``path`` (errors name it)."""
    return parse_json(read_text(path), str(path))
