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
MUJOCO_ENV_ID = "LyraMuJoCo-v0"

_ENVS = {
    ENV_ID: ("lyra_sim.envs.single_env:LyraSceneEnv", "lyra_sim.envs.vector_env:LyraSceneVectorEnv"),
    MUJOCO_ENV_ID: ("lyra_sim.envs.mujoco_env:LyraMuJoCoEnv", "lyra_sim.envs.mujoco_vector:LyraMuJoCoVectorEnv"),
}
"""Environment id → (single env, vector env) entry points."""


def _register_envs() -> None:
    """Register ``LyraScene-v0`` and ``LyraMuJoCo-v0`` with Gymnasium by import path only: nothing is
    loaded or built until ``gym.make`` (Gymnasium 1.x has no plugin entry points;
    ``"lyra_sim:LyraScene-v0"`` imports this package, which registers it)."""
    import gymnasium

    for env_id, (entry_point, vector_entry_point) in _ENVS.items():
        if env_id not in gymnasium.registry:
            gymnasium.register(
                id=env_id,
                entry_point=entry_point,
                vector_entry_point=vector_entry_point,
                disable_env_checker=True,  # check_env passes without a warning (tests/envs); no checker wrapper per make
            )


_register_envs()

__all__ = ["Cameras", "ENV_ID", "MUJOCO_ENV_ID", "GaussianScene", "__version__"]
