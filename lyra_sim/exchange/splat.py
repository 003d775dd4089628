"""antimatter15/splat ``.splat`` files (read and write).

No header: 32 bytes per splat, little-endian, as the web viewer's ``processPlyBuffer`` writes
them: position ``3 × float32``, scale ``3 × float32`` (linear, not log), color ``4 × uint8``
(r g b of the DC color and the activated opacity, each ``· 255``), rotation ``4 × uint8``
(``w x y z`` of the normalized quaternion, ``q · 128 + 128``). SH degree 0 only: a written
scene keeps its DC color and loses the higher-order terms. The frame is the PLY's it was
made from (right-down-forward).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from lyra_sim.atomic import atomic_path
from lyra_sim.scene import GaussianScene, sh_to_rgb

ROW = np.dtype([("position", "<f4", 3), ("scale", "<f4", 3), ("rgba", "u1", 4), ("rot", "u1", 4)])


def sniff(head: bytes, suffix: str) -> bool:
    """By suffix only: the format has no magic."""
    return suffix == ".splat"


def read(path: str | os.PathLike) -> GaussianScene:
    """Read a ``.splat`` file into activated values (SH degree 0).

    Raises:
        ValueError: a size that is no multiple of 32 bytes, or values `GaussianScene` refuses
            (non-finite positions, non-positive scales, an all-128 rotation).
    """
    path = Path(path)
    size = path.stat().st_size
    if size % ROW.itemsize:
        raise ValueError(f"{path}: a .splat file holds 32-byte splats; {size} bytes is not a multiple of 32 (truncated?)")
    rows = np.fromfile(path, ROW)
    rgba = rows["rgba"].astype(np.float32) / 255.0
    quats = (rows["rot"].astype(np.float32) - 128.0) / 128.0
    try:
        return GaussianScene.from_rgb(
            means=torch.from_numpy(rows["position"].astype(np.float32)),
            quats=torch.from_numpy(quats),
            scales=torch.from_numpy(rows["scale"].astype(np.float32)),
            opacities=torch.from_numpy(np.ascontiguousarray(rgba[:, 3])),
            rgb=torch.from_numpy(np.ascontiguousarray(rgba[:, :3])),
        )
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc


def write(path: str | os.PathLike, scene: GaussianScene) -> None:
    """Write ``scene`` as ``.splat`` (atomically; splats in scene order, DC color only)."""
    s = scene.to("cpu")
    rows = np.zeros(len(s), ROW)
    rows["position"] = s.means.numpy()
    rows["scale"] = s.scales.numpy()
    rgb = sh_to_rgb(s.sh[:, 0].double()).numpy()
    rgba = np.concatenate([rgb, s.opacities.double().numpy()[:, None]], -1)
    rows["rgba"] = np.clip(np.round(rgba * 255.0), 0, 255).astype(np.uint8)
    q = torch.nn.functional.normalize(s.quats.double(), dim=-1).numpy()
    rows["rot"] = np.clip(np.round(q * 128.0 + 128.0), 0, 255).astype(np.uint8)
    with atomic_path(path) as tmp:
        rows.tofile(tmp)
