"""INRIA 3DGS PLY: the sniffer of the exchange registry; reading and writing are `lyra_sim.ply`'s."""

from __future__ import annotations

from lyra_sim.ply import read_ply, write_ply

from .compressed_ply import is_compressed_header
from .plyheader import is_ply, parse_ply_header

read = read_ply
write = write_ply


def sniff(head: bytes, suffix: str) -> bool:
    """Any PLY that is not SuperSplat's compressed layout (`read_ply` says what is missing)."""
    if not is_ply(head):
        return False
    try:
        return not is_compressed_header(parse_ply_header(head))
    except ValueError:
        return True  # a broken header: read_ply names the problem
