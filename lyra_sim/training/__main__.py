"""``python -m lyra_sim.training`` (and ``torchrun -m lyra_sim.training``): see `lyra_sim.training.command`."""

import sys

from .command import main

sys.exit(main())
