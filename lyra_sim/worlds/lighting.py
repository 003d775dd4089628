"""Cheap baked lighting, so renders of view-independent Gaussians read as a lit room.

Brightness = (ambient + a directional top light + light bounced up from the floor)
× ambient occlusion, where occlusion darkens room corners and edges, the lower parts of
objects, and the floor under and around furniture (a blurred footprint map: contact
shadows that make objects sit on the floor).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage


@dataclass(frozen=True)
class Lighting:
    """Lighting parameters (unitless factors on albedo)."""

    ambient: float = 0.55
    direct: float = 0.42
    bounce: float = 0.18
    light_dir: tuple[float, float, float] = (0.3, -0.45, 1.0)
    corner_darkening: float = 0.35
    corner_falloff: float = 0.3
    contact_shadow: float = 0.45
    contact_blur: float = 0.12


def bake(
    points: np.ndarray,
    normals: np.ndarray,
    shell: np.ndarray,
    room_lo: np.ndarray,
    room_hi: np.ndarray,
    occupied: np.ndarray,
    grid_origin: tuple[float, float],
    grid_res: float,
    params: Lighting = Lighting(),
) -> np.ndarray:
    """Brightness factor ``[N]`` for samples ``points/normals [N, 3]``.

    Args:
        shell: ``[N]`` bool, sample lies on the room's floor/walls/ceiling.
        room_lo, room_hi: ``[3]`` interior box.
        occupied: ``[ny, nx]`` footprint raster of floor-standing objects (contact shadows).
        grid_origin, grid_res: placement of that raster (lower-left corner, cell size).
    """
    L = np.asarray(params.light_dir, dtype=np.float64)
    L = L / np.linalg.norm(L)
    light = (
        params.ambient
        + params.direct * np.clip(normals @ L, 0, None)
        + params.bounce * np.clip(-normals[:, 2], 0, None)
    )
    # Room corners and edges: distance to the nearest room plane other than the sample's own.
    d = np.concatenate([points - room_lo, room_hi - points], axis=1)
    second = np.partition(np.abs(d), 1, axis=1)[:, 1]
    ao = np.where(shell, 1 - params.corner_darkening * np.exp(-second / params.corner_falloff), 1.0)
    # Objects: lower parts receive less light.
    ao = ao * np.where(shell, 1.0, 0.8 + 0.2 * np.clip(points[:, 2] / 1.2, 0, 1))
    # Floor (and rug tops): contact shadows from footprints.
    sigma = params.contact_blur / grid_res
    shadow = ndimage.gaussian_filter(occupied.astype(np.float64), sigma, mode="constant")
    ix = np.clip(((points[:, 0] - grid_origin[0]) / grid_res).astype(np.int64), 0, occupied.shape[1] - 1)
    iy = np.clip(((points[:, 1] - grid_origin[1]) / grid_res).astype(np.int64), 0, occupied.shape[0] - 1)
    on_floor = (normals[:, 2] > 0.9) & (points[:, 2] < 0.03)
    ao = ao * np.where(on_floor, 1 - params.contact_shadow * shadow[iy, ix], 1.0)
    return light * ao
