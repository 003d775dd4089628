"""Real spherical harmonics (degrees 0..3) for view-dependent Gaussian colors.

The basis, its constants and its signs are those of INRIA 3DGS and gsplat (Sloan,
"Efficient Spherical Harmonic Evaluation", JCGT 2013), so SH coefficients read from a 3DGS
PLY give the same colors here as in gsplat. Directions are normalized internally, so
``dirs`` may be any non-zero vectors (gsplat passes ``means - camera_center``).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .scene import MAX_SH_DEGREE, SH_C0, num_sh_bases

# Band constants of the real SH basis in Sloan's factored form (as in gsplat's kernels).
_C1 = 0.4886025119029199
_C2_XY = 0.5462742152960395  # times 2xy and x^2 - y^2
_C2_Z = 1.0925484305920792  # times z·x and z·y (negated)
_C2_ZZ = 0.9461746957575601  # (3z^2 - 1) band: 0.946 z^2 - 0.315
_C2_ZZ0 = 0.3153915652525201
_C3_XY = 0.5900435899266435  # times the cubic x/y harmonics (negated)
_C3_Z = 1.445305721320277
_C3_ZZ = 2.285228997322329
_C3_ZZ0 = 0.4570457994644658
_C3_Z3 = 1.865881662950577
_C3_Z1 = 1.119528997770346


def sh_basis(degree: int, dirs: Tensor) -> Tensor:
    """The real SH basis up to ``degree`` at the directions ``dirs: [..., 3]``.

    Returns:
        ``[..., (degree + 1)**2]`` basis values, ordered as in 3DGS PLY files.
    """
    if not 0 <= degree <= MAX_SH_DEGREE:
        raise ValueError(f"degree: expected an integer in 0..{MAX_SH_DEGREE}, got {degree!r}")
    if dirs.shape[-1:] != (3,):
        raise ValueError(f"dirs: expected shape [..., 3], got {list(dirs.shape)}")
    bases = [torch.full_like(dirs[..., 0], SH_C0)]
    if degree >= 1:
        x, y, z = torch.nn.functional.normalize(dirs, dim=-1).unbind(-1)
        bases += [-_C1 * y, _C1 * z, -_C1 * x]
    if degree >= 2:
        z2 = z * z
        c1 = x * x - y * y  # cos(2φ) sin²θ
        s1 = 2 * x * y  # sin(2φ) sin²θ
        bases += [_C2_XY * s1, -_C2_Z * z * y, _C2_ZZ * z2 - _C2_ZZ0, -_C2_Z * z * x, _C2_XY * c1]
    if degree >= 3:
        c2 = x * c1 - y * s1  # cos(3φ) sin³θ
        s2 = x * s1 + y * c1  # sin(3φ) sin³θ
        t0 = -_C3_ZZ * z2 + _C3_ZZ0
        t1 = _C3_Z * z
        bases += [
            -_C3_XY * s2,
            t1 * s1,
            t0 * y,
            z * (_C3_Z3 * z2 - _C3_Z1),
            t0 * x,
            t1 * c1,
            -_C3_XY * c2,
        ]
    return torch.stack(bases, dim=-1)


def eval_sh(degree: int, sh: Tensor, dirs: Tensor) -> Tensor:
    """Evaluate SH coefficients along directions (gsplat's ``spherical_harmonics``).

    Args:
        degree: SH degree to use, 0..3. Only the first ``(degree + 1)**2`` coefficients
            are read, so a degree-3 scene can be evaluated at a lower degree.
        sh: ``[..., K, 3]`` coefficients with ``K >= (degree + 1)**2``.
        dirs: ``[..., 3]`` viewing directions (from the camera to the Gaussian), any non-zero
            length; broadcast against ``sh``'s leading dimensions.

    Returns:
        ``[..., 3]`` raw SH values; colors are ``sh_to_color`` of these.
    """
    k = num_sh_bases(degree) if 0 <= degree <= MAX_SH_DEGREE else None
    if k is None:
        raise ValueError(f"degree: expected an integer in 0..{MAX_SH_DEGREE}, got {degree!r}")
    if sh.ndim < 2 or sh.shape[-1] != 3 or sh.shape[-2] < k:
        raise ValueError(f"sh: expected shape [..., K, 3] with K >= {k} for degree {degree}, got {list(sh.shape)}")
    basis = sh_basis(degree, dirs)  # [..., k]
    return (basis[..., None, :] @ sh[..., :k, :])[..., 0, :]


def sh_to_color(degree: int, sh: Tensor, dirs: Tensor) -> Tensor:
    """RGB ``[..., 3]`` seen along ``dirs``: ``max(eval_sh + 0.5, 0)``, exactly as gsplat.

    Only negative values are clamped (not values above 1), matching gsplat's
    ``clamp_min(colors + 0.5, 0.0)`` so both backends composite the same colors.
    """
    return torch.clamp_min(eval_sh(degree, sh, dirs) + 0.5, 0.0)


def _fibonacci_directions(count: int) -> Tensor:
    """``[count, 3]`` unit vectors spread evenly over the sphere (float64, deterministic)."""
    i = torch.arange(count, dtype=torch.float64) + 0.5
    z = 1 - 2 * i / count
    r = torch.sqrt(1 - z * z)
    phi = i * (math.pi * (3 - math.sqrt(5)))
    return torch.stack([r * torch.cos(phi), r * torch.sin(phi), z], -1)


def rotate_sh(sh: Tensor, rotation: Tensor) -> Tensor:
    """SH coefficients of colors that turn with a rotation: ``f'(d) = f(Rᵀ d)`` for every direction ``d``.

    Args:
        sh: ``[N, K, 3]`` coefficients (K = 1, 4, 9 or 16).
        rotation: ``[3, 3]`` or ``[N, 3, 3]`` proper rotations (world from local).

    Returns:
        ``[N, K, 3]``; band 0 (the base color) is unchanged, each band l > 0 is mixed by its
        ``(2l + 1) x (2l + 1)`` rotation matrix, found exactly by least squares on fixed
        directions (a band's span is closed under rotation, so the fit has no residual).
    """
    if sh.ndim != 3 or sh.shape[-1] != 3:
        raise ValueError(f"sh: expected shape [N, K, 3], got {list(sh.shape)}")
    k = sh.shape[1]
    degree = math.isqrt(k) - 1
    if (degree + 1) ** 2 != k or degree > MAX_SH_DEGREE:
        raise ValueError(f"sh: {k} coefficients per channel is not (degree+1)^2 for a degree in 0..{MAX_SH_DEGREE}")
    if degree == 0:
        return sh
    r = rotation.to(torch.float64)
    if r.shape == (3, 3):
        r = r[None]
    if r.ndim != 3 or r.shape[1:] != (3, 3) or r.shape[0] not in (1, sh.shape[0]):
        raise ValueError(f"rotation: expected [3, 3] or [{sh.shape[0]}, 3, 3], got {list(rotation.shape)}")
    dirs = _fibonacci_directions(32).to(sh.device)
    basis = sh_basis(degree, dirs)  # [P, K]
    turned = sh_basis(degree, torch.einsum("nji,pj->npi", r, dirs))  # Y(Rᵀ d): [n, P, K]
    out = sh.clone()
    for band in range(1, degree + 1):
        cols = slice(band * band, (band + 1) ** 2)
        mix = torch.linalg.pinv(basis[:, cols]) @ turned[:, :, cols]  # [n, 2l+1, 2l+1]: c' = M c
        out[:, cols] = (mix @ sh[:, cols].to(torch.float64)).to(sh.dtype)
    return out
