"""The ``lyra-sim`` command line: one module per subcommand (``add_parser(sub)`` + ``run(args)``).

Every failure a user can cause (bad prompt, bad file, existing output) exits non-zero with
one line on stderr and no traceback; nothing half-written is left behind.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

from lyra_sim import __version__

from . import batch, distill, episodes, eval_mesh, export, generate, render, verify, view

SUBCOMMANDS = (generate, export, verify, eval_mesh, batch, distill, render, view, episodes)
"""Subcommand modules, in ``--help`` order."""

USER_ERRORS = (
    ValueError, FileNotFoundError, FileExistsError, NotADirectoryError, PermissionError, IsADirectoryError,
    ImportError,  # an optional extra is missing; the message names the pip install
)
"""Errors that are the user's to fix: printed as one line. Anything else is a bug and keeps its traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lyra-sim", description=__doc__.splitlines()[0].split(":")[0])
    parser.add_argument("--version", action="version", version=f"lyra-sim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in SUBCOMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except USER_ERRORS as exc:
        print(f"lyra-sim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lyra-sim: interrupted", file=sys.stderr)
        return 130
