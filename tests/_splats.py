"""Helpers of the splat-format tests: captures on disk, random scenes inside SPZ's ranges, rotation error, moved captures."""

from __future__ import annotations

import struct
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from lyra_sim.scene import GaussianScene, num_sh_bases

CAPTURES = Path(__file__).parent / "data" / "captures"
F_DC_STEP = 1 / (0.15 * 255)  # SPZ stores 0.5 + 0.15 f_dc in a byte


def random_scene(n: int = 400, degree: int = 3, seed: int = 0) -> GaussianScene:
    """Values inside SPZ's representable ranges (positions < 2048, log scales in [-10, 5.9], |SH| < 1)."""
    g = torch.Generator().manual_seed(seed)
    k = num_sh_bases(degree)
    sh = torch.rand(n, k, 3, generator=g) * 1.9 - 0.95
    sh[:, 0] = torch.rand(n, 3, generator=g) * 6 - 3
    return GaussianScene(
        means=torch.rand(n, 3, generator=g) * 20 - 10,
        quats=torch.randn(n, 4, generator=g),
        scales=torch.exp(torch.rand(n, 3, generator=g) * 9 - 8),
        opacities=torch.rand(n, generator=g),
        sh=sh,
    )


def rotation_error_deg(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    qa = torch.nn.functional.normalize(a.double(), dim=-1)
    qb = torch.nn.functional.normalize(b.double(), dim=-1)
    return torch.rad2deg(2 * torch.acos((qa * qb).sum(-1).abs().clamp(max=1)))


def moved(scene: GaussianScene, rotation: np.ndarray, scale: float, shift=(0.0, 0.0, 0.0)) -> GaussianScene:
    """``scene`` as a capture would have it: turned, rescaled and shifted."""
    out = scene.transform(torch.tensor(rotation, dtype=torch.float32), torch.tensor(shift, dtype=torch.float32))
    return replace(out, means=out.means * scale, scales=out.scales * scale)


def compressed_ply_file(path: Path, rows: list[tuple[int, int, int, int]], chunk: tuple[float, ...], sh: list[bytes] | None = None) -> None:
    """A SuperSplat compressed PLY at ``path``: one chunk's bounds, packed vertex rows, optional sh bytes."""
    props = ["min_x", "min_y", "min_z", "max_x", "max_y", "max_z", "min_scale_x", "min_scale_y", "min_scale_z",
             "max_scale_x", "max_scale_y", "max_scale_z", "min_r", "min_g", "min_b", "max_r", "max_g", "max_b"]
    header = ["ply", "format binary_little_endian 1.0", "element chunk 1"] + [f"property float {p}" for p in props]
    header += [f"element vertex {len(rows)}"] + [f"property uint packed_{p}" for p in ("position", "rotation", "scale", "color")]
    if sh is not None:
        header += [f"element sh {len(rows)}"] + [f"property uchar f_rest_{i}" for i in range(len(sh[0]))]
    body = struct.pack("<18f", *chunk) + b"".join(struct.pack("<4I", *r) for r in rows)
    body += b"".join(sh or [])
    path.write_bytes(("\n".join(header + ["end_header"]) + "\n").encode() + body)
