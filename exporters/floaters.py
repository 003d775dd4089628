"""Floaters: isolated, faint splats in free space, the usual artefact of real captures.

Optimizers leave low-opacity Gaussians hanging in the air where few views constrained them.
They barely show in renders, but their depth fuses into the collision mesh as phantom
obstacles. `find_floaters` marks them: a splat is a floater when it is faint
(opacity < ``max_opacity``) and far from every opaque splat (farther than ``radius`` times the
opaque splats' median spacing), i.e. it is not haze on a real surface. The exporters drop
them before collision extraction only; ``scene.ply`` keeps every splat.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from lyra_sim.scene import GaussianScene


@dataclass(frozen=True)
class FloaterConfig:
    """Settings of `find_floaters`.

    Attributes:
        max_opacity: only splats fainter than this can be floaters.
        min_opacity_surface: splats at least this opaque count as surfaces.
        radius: isolation distance, in median spacings of the surface splats.
    """

    max_opacity: float = 0.25
    min_opacity_surface: float = 0.5
    radius: float = 8.0

    def __post_init__(self) -> None:
        if not 0 < self.max_opacity <= self.min_opacity_surface <= 1 or not self.radius > 0:
            raise ValueError("FloaterConfig: need 0 < max_opacity <= min_opacity_surface <= 1 and radius > 0")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def find_floaters(scene: GaussianScene, config: FloaterConfig = FloaterConfig()) -> tuple[torch.Tensor, dict[str, Any]]:
    """Mark the floaters of ``scene``.

    Returns:
        ``(mask [N] bool, stats)``: True for a floater; stats give the count, the isolation
        distance used (scene units) and the settings.
    """
    from scipy.spatial import cKDTree

    s = scene.to("cpu")
    opacity = s.opacities.numpy()
    means = s.means.double().numpy()
    surface = means[opacity >= config.min_opacity_surface]
    faint = np.flatnonzero(opacity < config.max_opacity)
    mask = np.zeros(len(means), bool)
    distance = None
    if len(surface) >= 2 and len(faint):
        tree = cKDTree(surface)
        spacing = float(np.median(tree.query(surface, k=2)[0][:, 1]))
        distance = config.radius * spacing
        if distance > 0:
            nearest = tree.query(means[faint], k=1, distance_upper_bound=distance)[0]
            mask[faint[np.isinf(nearest)]] = True  # nothing opaque within the distance
    stats = {"count": int(mask.sum()), "of": len(means),
             "distance": None if distance is None else round(distance, 6), "config": config.as_dict()}
    return torch.from_numpy(mask).to(scene.device), stats
