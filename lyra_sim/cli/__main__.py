"""``python -m lyra_sim.cli``: the same as the ``lyra-sim`` command."""

import sys

from . import main

sys.exit(main())
