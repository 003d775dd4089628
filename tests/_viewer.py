"""Shared by the viewer tests: ``lyra-sim view`` as a child process that Ctrl-C (SIGINT) reaches."""

from __future__ import annotations

import os
import signal
import subprocess
import sys


def start_view(*args: str) -> subprocess.Popen:
    """``python -m lyra_sim.cli view ARGS`` with pipes for stdout and stderr (text).

    SIGINT is set back to its default in the child: a test run started as a background job (``pytest &`` in a
    script) has SIGINT ignored, the child would inherit that, and Python then installs no KeyboardInterrupt.
    """
    return subprocess.Popen([sys.executable, "-m", "lyra_sim.cli", "view", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
