"""The compiled CPU rasterizer (`lyra_sim.render.numba_impl`) against the PyTorch reference.

Same math, evaluated differently (direct conic vs. expanded polynomial and BLAS products): the
images agree to float32 rounding, and agree exactly on which pixels are drawn at all.
"""

import math

import pytest
import torch

from lyra_sim.render import numba_impl, rasterize
from lyra_sim.render.torch_impl import RasterConfig, rasterization

pytestmark = pytest.mark.skipif(not numba_impl.available(), reason="numba is not installed")

CONFIG = RasterConfig(near_plane=0.05, far_plane=100.0)


def _random_scene(n: int, seed: int, sh_degree: int):
    """Gaussians around and in front of the cameras: small and large, faint and opaque, some behind."""
    g = torch.Generator().manual_seed(seed)
    means = torch.rand(n, 3, generator=g) * torch.tensor([5.0, 5.0, 6.0]) + torch.tensor([-2.5, -2.5, -1.0])
    quats = torch.randn(n, 4, generator=g)
    scales = torch.exp(torch.randn(n, 3, generator=g) * 0.8 - 3.0)
    opacities = torch.rand(n, generator=g)
    opacities[::7] = 0.999  # opaque ones: pixels saturate and stop early
    sh = torch.randn(n, (sh_degree + 1) ** 2, 3, generator=g) * 0.4
    return means, quats, scales, opacities, sh


def _cameras(count: int, width: int, height: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    viewmats = torch.eye(4).repeat(count, 1, 1)
    viewmats[:, :3, 3] = torch.randn(count, 3, generator=g) * 0.3
    f = 0.5 * width / math.tan(math.radians(45))
    k = torch.tensor([[f, 0.0, width / 2 + 0.3], [0.0, f * 1.1, height / 2 - 0.2], [0.0, 0.0, 1.0]])
    return viewmats, k.expand(count, 3, 3).clone()


@pytest.mark.parametrize(
    "n, cams, width, height, seed, sh_degree",
    [(3000, 1, 64, 64, 0, 0), (2000, 2, 48, 40, 1, 1), (800, 1, 128, 96, 2, 3), (5, 1, 17, 9, 3, 0)],
)
@pytest.mark.parametrize("mode", ["RGB", "ED", "RGB+ED"])
def test_matches_the_pytorch_reference(n, cams, width, height, seed, sh_degree, mode):
    means, quats, scales, opacities, sh = _random_scene(n, seed, sh_degree)
    viewmats, ks = _cameras(cams, width, height, seed)
    bg = torch.rand(cams, 3) if mode != "ED" else None
    args = (means, quats, scales, opacities, sh, viewmats, ks, width, height)
    kw = {"sh_degree": sh_degree, "backgrounds": bg, "render_mode": mode, "config": CONFIG}
    with torch.no_grad():
        ref, ref_alpha = rasterization(*args, **kw)
    fast, fast_alpha = numba_impl.rasterization(*args, **kw)
    assert fast.shape == ref.shape and fast_alpha.shape == ref_alpha.shape
    assert n < 100 or float(ref_alpha.max()) > 0.9  # something opaque is drawn
    assert torch.equal(fast_alpha > 0, ref_alpha > 0)  # the same pixels touched
    torch.testing.assert_close(fast_alpha, ref_alpha, rtol=0, atol=2e-5)
    if mode != "RGB":  # expected depth: relative to the depth itself
        torch.testing.assert_close(fast[..., -1], ref[..., -1], rtol=2e-5, atol=1e-6)
    if mode != "ED":
        torch.testing.assert_close(fast[..., :3], ref[..., :3], rtol=0, atol=2e-5)


def test_gaussians_just_off_the_image_still_reach_in():
    """Centers a few pixels outside every edge, seen by a rotated camera: the pre-cull keeps every
    Gaussian whose footprint reaches the image (same pixels touched as the reference, same values)."""
    g = torch.Generator().manual_seed(11)
    n = 4000
    # Centers on the plane z = 2 in front of the camera, spread to about 1.3 times the field of view.
    xy = (torch.rand(n, 2, generator=g) - 0.5) * 2.6 * torch.tensor([2.0, 1.6])
    means = torch.cat([xy, torch.full((n, 1), 2.0)], 1)
    quats = torch.randn(n, 4, generator=g)
    scales = torch.exp(torch.randn(n, 3, generator=g) * 1.2 - 3.0)
    opacities = torch.rand(n, generator=g) * 0.9 + 0.1
    sh = torch.randn(n, 1, 3, generator=g) * 0.4
    angle = 0.3
    viewmat = torch.eye(4)
    viewmat[:3, :3] = torch.tensor([[math.cos(angle), -math.sin(angle), 0.0], [math.sin(angle), math.cos(angle), 0.0],
                                    [0.0, 0.0, 1.0]])
    k = torch.tensor([[40.0, 0.0, 32.0], [0.0, 40.0, 24.0], [0.0, 0.0, 1.0]])
    args = (means, quats, scales, opacities, sh, viewmat[None], k[None], 64, 48)
    kw = {"sh_degree": 0, "render_mode": "RGB+ED", "config": CONFIG}
    with torch.no_grad():
        ref, ref_alpha = rasterization(*args, **kw)
    fast, fast_alpha = numba_impl.rasterization(*args, **kw)
    assert torch.equal(fast_alpha > 0, ref_alpha > 0)
    torch.testing.assert_close(fast_alpha, ref_alpha, rtol=0, atol=2e-5)
    torch.testing.assert_close(fast[..., :3], ref[..., :3], rtol=0, atol=2e-5)


def test_plain_colors_and_the_rasterize_entry():
    means, quats, scales, opacities, _ = _random_scene(1000, 5, 0)
    colors = torch.rand(len(means), 3)
    viewmats, ks = _cameras(1, 32, 32, 5)
    ref, ref_alpha = rasterize(means, quats, scales, opacities, colors, viewmats, ks, 32, 32, mode="RGB", backend="torch")
    fast, fast_alpha = rasterize(means, quats, scales, opacities, colors, viewmats, ks, 32, 32, mode="RGB", backend="numba")
    torch.testing.assert_close(fast, ref, rtol=0, atol=2e-5)
    torch.testing.assert_close(fast_alpha, ref_alpha, rtol=0, atol=2e-5)
    # batch dimensions, as the reference takes them
    both, _ = rasterize(means[None].expand(2, -1, -1), quats[None].expand(2, -1, -1), scales[None].expand(2, -1, -1),
                        opacities[None].expand(2, -1), colors[None].expand(2, -1, -1), viewmats[None].expand(2, -1, -1, -1),
                        ks[None].expand(2, -1, -1, -1), 32, 32, mode="RGB", backend="numba")
    assert torch.equal(both[0], fast) and torch.equal(both[1], fast)


def test_nothing_visible_gives_empty_images():
    means, quats, scales, opacities, sh = _random_scene(50, 6, 0)
    viewmats, ks = _cameras(1, 16, 16, 6)
    out, alpha = numba_impl.rasterization(means + torch.tensor([0.0, 0.0, -50.0]), quats, scales, opacities, sh, viewmats,
                                          ks, 16, 16, sh_degree=0, render_mode="RGB+ED", config=CONFIG)
    assert out.shape == (1, 16, 16, 4) and not out.any() and not alpha.any()


def test_preload_compiles_what_the_frames_use():
    """The background load calls the kernel with the argument types every frame passes: one
    compiled signature, before and after drawing."""
    thread = numba_impl.preload()
    assert thread is numba_impl.preload()  # once per process
    thread.join()
    kernels = numba_impl._kernels()
    assert [len(k.signatures) for k in kernels] == [1, 1]
    means, quats, scales, opacities, sh = _random_scene(200, 8, 1)
    viewmats, ks = _cameras(2, 16, 16, 8)
    for mode, degree in (("RGB", 0), ("RGB+ED", 1), ("ED", None)):
        numba_impl.rasterization(means, quats, scales, opacities, sh if degree is not None else sh[:, 0], viewmats, ks,
                                 16, 16, sh_degree=degree, render_mode=mode, config=CONFIG)
    assert [len(k.signatures) for k in kernels] == [1, 1]


def test_rejects_what_it_cannot_draw():
    means, quats, scales, opacities, sh = _random_scene(10, 7, 0)
    viewmats, ks = _cameras(1, 16, 16, 7)
    with pytest.raises(ValueError, match="render_mode"):
        numba_impl.rasterization(means, quats, scales, opacities, sh, viewmats, ks, 16, 16, render_mode="D")
    if torch.cuda.is_available():
        with pytest.raises(ValueError, match="CPU"):
            rasterize(means.cuda(), quats.cuda(), scales.cuda(), opacities.cuda(), sh.cuda(), viewmats.cuda(), ks.cuda(),
                      16, 16, sh_degree=0, backend="numba")


@pytest.mark.parametrize("threads", [2, 3, 7, 48, 100])
def test_rows_composited_on_several_threads_give_the_one_thread_image_bit_for_bit(threads):
    """Interleaved rows composited on other threads: every pixel sees the same Gaussians in the same order."""
    from concurrent.futures import ThreadPoolExecutor

    means, quats, scales, opacities, sh = _random_scene(3000, 9, 0)
    viewmats, ks = _cameras(1, 64, 48, 9)
    args = (means, quats, scales, opacities, sh[:, 0], viewmats[0], ks[0], 64, 48)
    kw = {"sh0": True, "depth": True, "near_plane": 0.05, "far_plane": 100.0}
    one, one_alpha = numba_impl.draw(*args, **kw)
    assert float(one_alpha.max()) > 0.9 and float((one_alpha > 0).float().mean()) > 0.5  # a busy frame
    with ThreadPoolExecutor(3) as pool:
        out, alpha = numba_impl.draw(*args, **kw, pool=pool, threads=threads)
    assert torch.equal(out, one) and torch.equal(alpha, one_alpha)


def test_rows_drawn_in_place_equal_the_gathered_rows():
    """``rows``: a selection read in place gives the image of the gathered copies, bit for bit (ties in depth
    keep the selection's order in both)."""
    means, quats, scales, opacities, sh = _random_scene(2000, 10, 0)
    means[5::9] = means[4::9]  # equal depths: the order among ties must follow the rows given
    viewmats, ks = _cameras(1, 32, 32, 10)
    rows = torch.randperm(2000, generator=torch.Generator().manual_seed(0))[:1200]
    kw = {"sh_degree": 0, "render_mode": "RGB+ED", "config": CONFIG}
    gathered = numba_impl.rasterization(*(x[rows] for x in (means, quats, scales, opacities, sh)), viewmats, ks, 32, 32, **kw)
    in_place = numba_impl.rasterization(means, quats, scales, opacities, sh, viewmats, ks, 32, 32, rows=rows, **kw)
    assert float(gathered[1].max()) > 0.5
    assert torch.equal(in_place[0], gathered[0]) and torch.equal(in_place[1], gathered[1])
    # View-dependent colors (degree 1) are evaluated for the selected rows: the same as gathering first.
    means, quats, scales, opacities, sh = _random_scene(500, 11, 1)
    kw["sh_degree"] = 1
    gathered = numba_impl.rasterization(*(x[rows[:300] % 500] for x in (means, quats, scales, opacities, sh)), viewmats, ks,
                                        32, 32, **kw)
    in_place = numba_impl.rasterization(means, quats, scales, opacities, sh, viewmats, ks, 32, 32, rows=rows[:300] % 500, **kw)
    assert torch.equal(in_place[0], gathered[0])
    with pytest.raises(IndexError, match="rows"):
        numba_impl.rasterization(means, quats, scales, opacities, sh, viewmats, ks, 32, 32, rows=torch.tensor([0, 500]),
                                 sh_degree=0, config=CONFIG)
