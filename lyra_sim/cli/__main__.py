"""``python -m lyra_sim.cli``: the same as the ``lyra-sim`` command."""

from . import entry

entry()
