"""What the ``lyra-sim`` program does before a command so that it runs faster.

**Freed memory is kept.** glibc's malloc hands big blocks (above a threshold that starts at
128 kB) straight to ``mmap`` and gives them back on ``free``, and trims the heap's free top: every
large array numpy, torch, Open3D or pymeshlab allocates is then fresh pages from the kernel, one
page fault per 4 kB. A kitchen bundle took 237k faults, 2.2-2.7 s of system time. `keep_freed_memory`
raises the mmap threshold to glibc's maximum (32 MiB) and the trim threshold to 1 GiB, so freed
blocks are reused: 171k faults, 1.8-2.0 s of system time; the peak resident size stays where it
was (1.0 GB). Only on glibc; elsewhere nothing changes.

**Open3D's Plotly viewer is deferred.** Open3D's ``open3d.visualization`` imports its Plotly
viewer (``draw_plotly``) at import time, and with it Plotly and Dash (Dash brings pydantic,
IPython, Flask, requests): 0.3 s of a 0.6 s ``import open3d``, for a viewer no command uses.
`defer_open3d_plotly` puts a stand-in for that one module in ``sys.modules``: its three functions
import the real module on their first call and hand over, so
``open3d.visualization.draw_plotly(...)`` still works, later. Only the program does this
(`lyra_sim.cli.entry`); importing ``lyra_sim`` leaves other programs' imports alone.
"""

from __future__ import annotations

import ctypes
import importlib
import platform
import sys
import types
from typing import Any, Callable

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
"""``mallopt`` parameters (glibc's ``malloc.h``)."""
MMAP_THRESHOLD = 32 << 20
"""Blocks at least this big still come from ``mmap``: glibc's largest allowed threshold on 64 bits."""
TRIM_THRESHOLD = 1 << 30
"""Free memory at the heap's top beyond this goes back to the kernel."""


def keep_freed_memory() -> bool:
    """Make glibc's malloc reuse freed memory instead of returning it (see the module docstring).

    Returns:
        Whether both settings took (False off glibc).
    """
    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) & bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))


PLOTLY_MODULE = "open3d.visualization.draw_plotly"
PLOTLY_FUNCTIONS = ("get_plotly_fig", "draw_plotly", "draw_plotly_server")
"""What ``open3d/visualization/__init__.py`` imports from the module (Open3D 0.18-0.19)."""


def _real_plotly_module() -> types.ModuleType:
    """The real module, imported on first use (the stand-in leaves ``sys.modules`` first)."""
    module = sys.modules.get(PLOTLY_MODULE)
    if module is None or getattr(module, "_lyra_sim_deferred", False):
        sys.modules.pop(PLOTLY_MODULE, None)
        module = importlib.import_module(PLOTLY_MODULE)
        # Importing a submodule binds it on its package, over ``open3d.visualization.draw_plotly``
        # the function; put Open3D's functions where its ``from .draw_plotly import ...`` put them.
        package = sys.modules.get(PLOTLY_MODULE.rpartition(".")[0])
        for name in PLOTLY_FUNCTIONS:
            current = getattr(package, name, None)
            if current is module or getattr(current, "_lyra_sim_forward", False):
                setattr(package, name, getattr(module, name))
    return module


def _forward(name: str) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(_real_plotly_module(), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call._lyra_sim_forward = True
    call.__doc__ = f"Open3D's ``{name}``, imported on this first call (see `lyra_sim.cli.startup`)."
    return call


def _deferred_plotly_module() -> types.ModuleType:
    stand_in = types.ModuleType(PLOTLY_MODULE, "Stand-in for Open3D's Plotly viewer until it is used.")
    stand_in._lyra_sim_deferred = True
    for name in PLOTLY_FUNCTIONS:
        setattr(stand_in, name, _forward(name))
    stand_in.__getattr__ = _other_name
    return stand_in


def _other_name(name: str) -> Any:
    """A public name a later Open3D imports from the module that the three do not cover: the real one.
    Dunder names stay missing: the import system probes them (``__path__``) and must not load it."""
    if name.startswith("__"):
        raise AttributeError(f"module {PLOTLY_MODULE!r} has no attribute {name!r}")
    return getattr(_real_plotly_module(), name)


def defer_open3d_plotly() -> bool:
    """Make ``import open3d`` skip Plotly and Dash until Open3D's Plotly viewer is called.

    Returns:
        Whether the stand-in went in: not when Open3D is already imported (too late) or when
        something else already holds the module's name.
    """
    if "open3d" in sys.modules or PLOTLY_MODULE in sys.modules:
        return False
    sys.modules[PLOTLY_MODULE] = _deferred_plotly_module()
    return True
