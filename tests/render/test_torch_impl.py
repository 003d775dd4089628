"""The rasterizer's small-frame path (`RasterConfig.small_frame_pixels`) against its general path.

Both must give the same images and gradients: they differ only in how the work is cut
(pre-cull, tile size, compositing rounds), never in the math.
"""

import math

import pytest
import torch

from lyra_sim.render.torch_impl import RasterConfig, rasterization

SMALL = RasterConfig(near_plane=0.05, far_plane=100.0)
# The general path, with small chunks and blocks so that it runs several rounds and blocks.
GENERAL = RasterConfig(
    near_plane=0.05, far_plane=100.0, small_frame_pixels=0, small_frame_gaussians=0,
    block_elements=256, min_chunk=4, max_chunk=32,
)


def _random_scene(n: int, seed: int, sh_degree: int = 1):
    """Gaussians in front of the origin camera, a mix of small/large and faint/opaque ones."""
    g = torch.Generator().manual_seed(seed)
    means = torch.rand(n, 3, generator=g) * torch.tensor([4.0, 4.0, 4.0]) + torch.tensor([-2.0, -2.0, 0.5])
    quats = torch.randn(n, 4, generator=g)
    scales = torch.exp(torch.randn(n, 3, generator=g) * 0.7 - 3.0)
    opacities = torch.rand(n, generator=g)
    sh = torch.randn(n, (sh_degree + 1) ** 2, 3, generator=g) * 0.3
    return means, quats, scales, opacities, sh


def _cameras(count: int, width: int, height: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    viewmats = torch.eye(4).repeat(count, 1, 1)
    viewmats[:, :3, 3] = torch.randn(count, 3, generator=g) * 0.2
    f = 0.5 * width / math.tan(math.radians(45))
    k = torch.tensor([[f, 0.0, width / 2], [0.0, f, height / 2], [0.0, 0.0, 1.0]])
    return viewmats, k.expand(count, 3, 3).clone()


def _render(params, viewmats, ks, width, height, config, mode="RGB+ED", backgrounds=None):
    means, quats, scales, opacities, sh = params
    return rasterization(
        means, quats, scales, opacities, sh, viewmats, ks, width, height,
        sh_degree=1, backgrounds=backgrounds, render_mode=mode, config=config,
    )


@pytest.mark.parametrize(
    "n, cams, width, height, seed",
    [(300, 1, 64, 64, 0), (2000, 1, 64, 48, 1), (800, 2, 40, 33, 2), (5, 1, 17, 9, 3), (1500, 1, 96, 96, 4)],
)
@pytest.mark.parametrize("mode", ["RGB", "ED", "RGB+ED"])
def test_small_path_matches_general_path(n, cams, width, height, seed, mode):
    params = _random_scene(n, seed)
    viewmats, ks = _cameras(cams, width, height, seed)
    bg = torch.rand(cams, 3) if mode != "ED" else None
    with torch.no_grad():
        small = _render(params, viewmats, ks, width, height, SMALL, mode, bg)
        general = _render(params, viewmats, ks, width, height, GENERAL, mode, bg)
    assert float(small[1].amax()) > 0.1  # something was drawn
    for a, b in zip(small, general):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_small_path_with_an_explicit_tile_size_matches():
    params = _random_scene(1000, 5)
    viewmats, ks = _cameras(1, 64, 64, 5)
    with torch.no_grad():
        ref = _render(params, viewmats, ks, 64, 64, GENERAL)
        for ts in (3, 8, 16):
            out = _render(params, viewmats, ks, 64, 64, RasterConfig(near_plane=0.05, far_plane=100.0, tile_size=ts))
            for a, b in zip(out, ref):
                torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_small_path_gradients_match_general_path():
    base = _random_scene(400, 6)
    viewmats, ks = _cameras(1, 48, 48, 6)
    weights = torch.rand(1, 48, 48, 5, generator=torch.Generator().manual_seed(7))
    grads = []
    for config in (SMALL, GENERAL):
        params = [x.clone().requires_grad_(True) for x in base]
        colors, alphas = _render(params, viewmats, ks, 48, 48, config)
        ((torch.cat([colors, alphas], -1) * weights).sum()).backward()
        grads.append([p.grad for p in params])
    for g_small, g_general in zip(*grads):
        assert g_small is not None and bool(g_small.abs().sum() > 0)
        torch.testing.assert_close(g_small, g_general, atol=1e-4, rtol=1e-4)


def test_small_frame_settings_are_validated():
    with pytest.raises(ValueError, match="small_frame_pixels"):
        RasterConfig(small_frame_pixels=-1)
    with pytest.raises(ValueError, match="small_frame_gaussians"):
        RasterConfig(small_frame_gaussians=1.5)


def test_coordinate_major_rotations_match_quat_to_rotmat():
    from lyra_sim.render.torch_impl import _rotmats_coordinate_major
    from lyra_sim.scene import quat_to_rotmat

    quats = torch.randn(500, 4, generator=torch.Generator().manual_seed(8)) * 3  # any non-zero norm
    ref = quat_to_rotmat(quats)
    torch.testing.assert_close(_rotmats_coordinate_major(quats.T.contiguous()).permute(2, 0, 1), ref)


def test_min_sigma_over_box_matches_dense_sampling():
    """The pair cull's box minimum: never above the sampled minimum, and close to it."""
    from lyra_sim.render.torch_impl import _min_sigma_over_box

    g = torch.Generator().manual_seed(9)
    n = 500
    dx0, dy0 = torch.randn(n, generator=g) * 6, torch.randn(n, generator=g) * 6
    dx1, dy1 = dx0 + torch.rand(n, generator=g) * 4, dy0 + torch.rand(n, generator=g) * 4
    # Conics of random SPD matrices, some strongly anisotropic.
    l1, l2 = torch.exp(torch.randn(n, generator=g) * 1.5), torch.exp(torch.randn(n, generator=g) * 1.5)
    th = torch.rand(n, generator=g) * math.pi
    co, si = torch.cos(th), torch.sin(th)
    a, b, c = l1 * co**2 + l2 * si**2, (l1 - l2) * co * si, l1 * si**2 + l2 * co**2
    got = _min_sigma_over_box(dx0, dx1, dy0, dy1, a, b, c)
    s = torch.linspace(0, 1, 101)
    px = (dx0[:, None] + (dx1 - dx0)[:, None] * s)[:, :, None]  # [n, 101, 1]
    py = (dy0[:, None] + (dy1 - dy0)[:, None] * s)[:, None, :]  # [n, 1, 101]
    dense = (0.5 * a[:, None, None] * px**2 + b[:, None, None] * px * py + 0.5 * c[:, None, None] * py**2)
    dense = dense.flatten(1).amin(1)
    assert bool((got <= dense * (1 + 1e-5) + 1e-5).all())
    torch.testing.assert_close(got, dense, rtol=2e-2, atol=2e-2)
