"""lyra-sim: simulation-ready 3D Gaussian scenes from prompts.

Importing the package is cheap: it loads no models, builds no kernels and touches no GPU.
"""

from importlib.metadata import PackageNotFoundError, version

from .cameras import Cameras
from .scene import GaussianScene

try:
    __version__ = version("lyra-sim")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+unknown"

ENV_ID = "LyraScene-v0"


def _register_envs() -> None:
    """Register ``LyraScene-v0`` with Gymnasium by import path only: nothing is loaded or built
    until ``gym.make`` (Gymnasium 1.x has no plugin entry points; ``"lyra_sim:LyraScene-v0"``
    imports this package, which registers it)."""
    import gymnasium

    if ENV_ID not in gymnasium.registry:
        gymnasium.register(
            id=ENV_ID,
            entry_point="lyra_sim.envs.single_env:LyraSceneEnv",
            vector_entry_point="lyra_sim.envs.vector_env:LyraSceneVectorEnv",
            disable_env_checker=True,  # check_env passes without a warning (tests/envs); no checker wrapper per make
        )


_register_envs()

__all__ = ["Cameras", "ENV_ID", "GaussianScene", "__version__"]
