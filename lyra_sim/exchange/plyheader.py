"""The header of a PLY file, parsed without reading the body (for sniffing and bounds checks).

Only what the splat formats need: the encoding, each element's name, count and properties
(scalar properties; a ``list`` property is reported with type ``"list"``) and the header's
length in bytes. The header is read from at most `MAX_HEADER` bytes, so a file without
``end_header`` costs no more than that.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_HEADER = 1 << 16
"""Bytes searched for ``end_header``; real splat PLY headers are a few kilobytes."""

SCALAR_TYPES = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1",
    "short": "i2", "int16": "i2", "ushort": "u2", "uint16": "u2",
    "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}
"""PLY scalar type names → numpy type codes (without byte order)."""


@dataclass(frozen=True)
class PlyElement:
    name: str
    count: int
    properties: tuple[tuple[str, str], ...]  # (name, PLY type name or "list")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.properties)


@dataclass(frozen=True)
class PlyHeader:
    encoding: str  # "ascii", "binary_little_endian" or "binary_big_endian"
    elements: tuple[PlyElement, ...]
    comments: tuple[str, ...]
    length: int  # bytes up to and including the newline after end_header

    def element(self, name: str) -> PlyElement | None:
        return next((e for e in self.elements if e.name == name), None)


def is_ply(head: bytes) -> bool:
    """Whether ``head`` (the first bytes of a file) starts like a PLY file."""
    return head.startswith(b"ply\n") or head.startswith(b"ply\r\n")


def parse_ply_header(head: bytes) -> PlyHeader:
    """Parse the header at the start of ``head``.

    Raises:
        ValueError: not a PLY, no ``end_header`` within `MAX_HEADER` bytes, or a malformed line.
    """
    if not is_ply(head):
        raise ValueError("not a PLY file (it does not start with 'ply')")
    end = head.find(b"end_header", 0, MAX_HEADER)
    if end < 0:
        raise ValueError(f"no 'end_header' within the first {MAX_HEADER} bytes (truncated or not a PLY header)")
    newline = head.find(b"\n", end)
    if newline < 0:
        raise ValueError("truncated after 'end_header'")
    try:
        text = head[:end].decode("ascii")
    except UnicodeDecodeError as exc:
        raise ValueError(f"non-ASCII bytes in the PLY header ({exc})") from exc
    encoding = None
    elements: list[tuple[str, int, list[tuple[str, str]]]] = []
    comments: list[str] = []
    for number, raw in enumerate(text.splitlines()[1:], start=2):
        words = raw.split()
        if not words or words[0] == "obj_info":
            continue
        keyword = words[0]
        if keyword == "comment":
            comments.append(raw.strip()[len("comment"):].strip())
        elif keyword == "format" and len(words) == 3:
            encoding = words[1]
        elif keyword == "element" and len(words) == 3 and words[2].isdigit():
            elements.append((words[1], int(words[2]), []))
        elif keyword == "property" and elements and len(words) == 3 and words[1] in SCALAR_TYPES:
            elements[-1][2].append((words[2], words[1]))
        elif keyword == "property" and elements and len(words) == 5 and words[1] == "list":
            elements[-1][2].append((words[4], "list"))
        else:
            raise ValueError(f"PLY header line {number} is malformed: {raw.strip()[:80]!r}")
    if encoding not in ("ascii", "binary_little_endian", "binary_big_endian"):
        raise ValueError(f"PLY header has no valid 'format' line (got {encoding!r})")
    return PlyHeader(
        encoding=encoding,
        elements=tuple(PlyElement(name, count, tuple(props)) for name, count, props in elements),
        comments=tuple(comments),
        length=newline + 1,
    )
