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

__all__ = ["Cameras", "GaussianScene", "__version__"]
