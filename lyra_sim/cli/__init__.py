"""The ``lyra-sim`` command line: one module per subcommand (``add_parser(sub)`` + ``run(args)``).

Every failure a user can cause (bad prompt, bad file, existing output) exits non-zero with
one line on stderr and no traceback; nothing half-written is left behind.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import signal
import sys
import threading
from typing import Callable, Iterator, NoReturn, Sequence

from lyra_sim import __version__

from . import batch, distill, episodes, eval_mesh, export, generate, render, startup, verify, view

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


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C's KeyboardInterrupt, so that every ``with`` and
    ``finally`` unwinds (scratch directories removed, nothing half-written) instead of the process
    vanishing with its scratch. A KeyboardInterrupt, not an Exception: ``except Exception`` blocks
    (a batch isolating failed prompts) must not swallow it."""


def _raise_terminated(signum, frame) -> None:
    raise Terminated()


@contextlib.contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """While the command runs, SIGTERM raises `Terminated` (the previous handler is restored after).
    Only the main thread can install handlers; elsewhere (``main`` called from a thread) SIGTERM
    keeps its default."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


SIGNED_VALUES = {"--up": frozenset(c for c in export.UP_CHOICES if c.startswith("-"))}
"""Option values that start with a minus: argparse would take ``--up -y`` for two options."""


def join_signed_values(argv: Sequence[str]) -> list[str]:
    """``[..., "--up", "-y", ...]`` → ``[..., "--up=-y", ...]`` for the values of `SIGNED_VALUES`."""
    out: list[str] = []
    for arg in argv:
        if out and arg in SIGNED_VALUES.get(out[-1], ()):
            out[-1] = f"{out[-1]}={arg}"
        else:
            out.append(arg)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(join_signed_values(sys.argv[1:] if argv is None else argv))
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        with _sigterm_unwinds():
            return func(args)
    except USER_ERRORS as exc:
        print(f"lyra-sim: error: {exc}", file=sys.stderr)
        return 2
    except Terminated:
        print("lyra-sim: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("lyra-sim: interrupted", file=sys.stderr)
        return 130


def entry() -> NoReturn:
    """The ``lyra-sim`` program (``[project.scripts]``, ``python -m lyra_sim.cli``): `main`, then exit
    without Python's interpreter teardown.

    Tearing down torch, Open3D, USD and Numba after the command takes most of a second and changes
    nothing: every file is written, closed and renamed into place before `main` returns. Exit
    handlers still run and the standard streams are flushed first; with other threads still alive
    the exit is the ordinary one. Python callers (tests, scripts) call `main`, which returns the
    status instead. Before the command, freed memory is kept for reuse
    (`startup.keep_freed_memory`) and Open3D's Plotly viewer is deferred
    (`startup.defer_open3d_plotly`).
    """
    startup.keep_freed_memory()
    startup.defer_open3d_plotly()
    code = main()
    if threading.active_count() > 1:
        sys.exit(code)
    atexit._run_exitfuncs()  # what the ordinary exit would run (weakref finalizers, tempfile cleanups)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a reader that went away, or a closed stream
            stream.flush()
    os._exit(code)
