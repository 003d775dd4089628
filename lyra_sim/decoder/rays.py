"""Camera rays and Plücker coordinates, batched over any leading dimensions.

Pixel ``(u, v)`` coordinates follow OpenCV and gsplat: the center of pixel ``(i, j)`` (row,
column) is at ``u = j + 0.5, v = i + 0.5``.
"""

from __future__ import annotations

import torch
from torch import Tensor


def sample_coords(cells: int, cell_px: int, samples: int, device: torch.device | str = "cpu") -> Tensor:
    """``[cells * samples]`` pixel coordinates: ``samples`` evenly spaced points per cell of ``cell_px`` pixels.

    With ``samples == cell_px`` these are the pixel centers ``0.5, 1.5, ...``.
    """
    return (torch.arange(cells * samples, device=device, dtype=torch.float32) + 0.5) * (cell_px / samples)


def camera_rays(viewmats: Tensor, Ks: Tensor, us: Tensor, vs: Tensor) -> tuple[Tensor, Tensor]:
    """World-space rays through the pixel grid ``vs x us`` of each camera.

    Args:
        viewmats: ``[..., 4, 4]`` world-to-camera (OpenCV).
        Ks: ``[..., 3, 3]`` pixel intrinsics.
        us: ``[W']`` pixel x coordinates; vs: ``[H']`` pixel y coordinates.

    Returns:
        ``(origins [..., H', W', 3], directions [..., H', W', 3])``; directions have unit length.
    """
    rot = viewmats[..., :3, :3]  # world -> camera
    trans = viewmats[..., :3, 3]
    centers = -(rot.transpose(-1, -2) @ trans[..., None])[..., 0]  # [..., 3]
    fx, fy = Ks[..., 0, 0, None, None], Ks[..., 1, 1, None, None]
    cx, cy = Ks[..., 0, 2, None, None], Ks[..., 1, 2, None, None]
    x = (us[None, :] - cx) / fx  # [..., 1, W'] broadcast against rows below
    y = (vs[:, None] - cy) / fy  # [..., H', 1]
    x, y = torch.broadcast_tensors(x, y)
    d_cam = torch.stack([x, y, torch.ones_like(x)], -1)  # [..., H', W', 3]
    d_world = torch.einsum("...ji,...hwj->...hwi", rot, d_cam)  # Rᵀ d
    d_world = torch.nn.functional.normalize(d_world, dim=-1)
    origins = centers[..., None, None, :].expand_as(d_world)
    return origins, d_world


def plucker(origins: Tensor, directions: Tensor) -> Tensor:
    """Plücker coordinates ``(o × d, d)`` ``[..., 6]`` of rays ``[..., 3]`` (unit ``d``)."""
    return torch.cat([torch.linalg.cross(origins, directions, dim=-1), directions], -1)
