"""Spherical harmonics: the 3DGS / gsplat basis, constants and signs."""

import math

import numpy as np
import pytest
import torch

from lyra_sim.scene import SH_C0, sh_to_rgb
from lyra_sim.sh import eval_sh, sh_basis, sh_to_color


def _inria_basis(dirs: torch.Tensor) -> torch.Tensor:
    """Degree-3 basis written the way INRIA's ``sh_utils.eval_sh`` writes it (polynomial form)."""
    c1 = 0.4886025119029199
    c2 = [1.0925484305920792, -1.0925484305920792, 0.31539156525252005, -1.0925484305920792, 0.5462742152960396]
    c3 = [-0.5900435899266435, 2.890611442640554, -0.4570457994644658, 0.3731763325901154,
          -0.4570457994644658, 1.445305721320277, -0.5900435899266435]
    x, y, z = (dirs / dirs.norm(dim=-1, keepdim=True)).unbind(-1)
    xx, yy, zz = x * x, y * y, z * z
    return torch.stack([
        torch.full_like(x, SH_C0),
        -c1 * y, c1 * z, -c1 * x,
        c2[0] * x * y, c2[1] * y * z, c2[2] * (2 * zz - xx - yy), c2[3] * x * z, c2[4] * (xx - yy),
        c3[0] * y * (3 * xx - yy), c3[1] * x * y * z, c3[2] * y * (4 * zz - xx - yy),
        c3[3] * z * (2 * zz - 3 * xx - 3 * yy), c3[4] * x * (4 * zz - xx - yy), c3[5] * z * (xx - yy),
        c3[6] * x * (xx - 3 * yy),
    ], -1)


def test_basis_matches_inria_polynomials():
    dirs = torch.randn(500, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    expected = _inria_basis(dirs)
    for degree in range(4):
        k = (degree + 1) ** 2
        torch.testing.assert_close(sh_basis(degree, dirs), expected[:, :k], rtol=0, atol=1e-12)


def test_basis_is_orthonormal_on_the_sphere():
    # Gauss-Legendre in cos(theta) x uniform phi integrates these degree <= 6 products exactly.
    nodes, weights = np.polynomial.legendre.leggauss(8)
    phi = np.arange(16) * 2 * np.pi / 16
    ct, ph = np.meshgrid(nodes, phi, indexing="ij")
    st = np.sqrt(1 - ct**2)
    dirs = torch.from_numpy(np.stack([st * np.cos(ph), st * np.sin(ph), ct], -1).reshape(-1, 3))
    w = torch.from_numpy((weights[:, None] * np.full_like(ph, 2 * np.pi / 16)).reshape(-1))
    basis = sh_basis(3, dirs)  # [M, 16]
    gram = basis.T @ (basis * w[:, None])
    torch.testing.assert_close(gram, torch.eye(16, dtype=torch.float64), rtol=0, atol=1e-9)


def test_eval_sh_degree_zero_is_the_dc_color():
    sh = torch.randn(10, 16, 3)
    dirs = torch.randn(10, 3)
    torch.testing.assert_close(eval_sh(0, sh, dirs) + 0.5, sh_to_rgb(sh[:, 0]))


def test_eval_sh_uses_only_the_requested_bands():
    sh = torch.randn(7, 16, 3, dtype=torch.float64)
    dirs = torch.randn(7, 3, dtype=torch.float64)
    truncated = sh.clone()
    truncated[:, 4:] = 0
    torch.testing.assert_close(eval_sh(1, sh, dirs), eval_sh(3, truncated, dirs))
    expected = (_inria_basis(dirs)[:, :4, None] * sh[:, :4]).sum(1)
    torch.testing.assert_close(eval_sh(1, sh, dirs), expected)


def test_direction_length_does_not_matter_and_broadcasts():
    sh = torch.randn(4, 9, 3, dtype=torch.float64)
    dirs = torch.randn(4, 3, dtype=torch.float64)
    torch.testing.assert_close(eval_sh(2, sh, dirs), eval_sh(2, sh, 7.5 * dirs))
    # one direction for a batch of coefficient sets
    one = eval_sh(2, sh, dirs[:1].expand(4, 3))
    torch.testing.assert_close(eval_sh(2, sh, dirs[:1]), one)


def test_view_dependence_sign_convention():
    """Coefficient 1 multiplies -C1·y: a positive value brightens views looking along -y."""
    sh = torch.zeros(1, 4, 3)
    sh[0, 1] = 1.0
    along_minus_y = eval_sh(1, sh, torch.tensor([[0.0, -1.0, 0.0]]))
    along_plus_y = eval_sh(1, sh, torch.tensor([[0.0, 1.0, 0.0]]))
    assert torch.allclose(along_minus_y, torch.full((1, 3), 0.4886025), atol=1e-6)
    assert torch.allclose(along_plus_y, -along_minus_y)


def test_sh_to_color_clamps_only_below_zero():
    sh = torch.zeros(3, 1, 3)
    sh[0, 0] = -10.0  # far below black
    sh[1, 0] = 10.0  # far above white: kept, as gsplat does
    colors = sh_to_color(0, sh, torch.randn(3, 3))
    assert torch.all(colors[0] == 0)
    assert torch.allclose(colors[1], torch.full((3,), 0.5 + 10 * SH_C0))
    assert torch.allclose(colors[2], torch.full((3,), 0.5))


def test_gradients_flow_to_coefficients_and_directions():
    sh = torch.randn(5, 16, 3, dtype=torch.float64, requires_grad=True)
    dirs = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda s, d: eval_sh(3, s, d), (sh, dirs))


@pytest.mark.parametrize("degree", [-1, 4])
def test_bad_degree_is_rejected(degree):
    with pytest.raises(ValueError, match="degree"):
        eval_sh(degree, torch.zeros(1, 16, 3), torch.ones(1, 3))


def test_too_few_coefficients_is_rejected():
    with pytest.raises(ValueError, match="sh: expected shape"):
        eval_sh(3, torch.zeros(2, 9, 3), torch.ones(2, 3))
    with pytest.raises(ValueError, match="dirs"):
        sh_basis(1, torch.ones(2, 4))


def test_constants_are_the_normalized_real_harmonics():
    # Y_1^0 = sqrt(3 / 4 pi) z and Y_2^0 = sqrt(5 / 16 pi) (3 z^2 - 1) at the pole.
    pole = torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.float64)
    basis = sh_basis(3, pole)[0]
    assert math.isclose(float(basis[2]), math.sqrt(3 / (4 * math.pi)), rel_tol=1e-12)
    assert math.isclose(float(basis[6]), 2 * math.sqrt(5 / (16 * math.pi)), rel_tol=1e-12)
    assert math.isclose(float(basis[12]), 2 * math.sqrt(7 / (16 * math.pi)), rel_tol=1e-12)
