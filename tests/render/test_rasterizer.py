"""`lyra_sim.render.rasterizer`: the one entry to the rasterizers, on raw tensors with batch dimensions."""

import math
import sys
from types import SimpleNamespace

import pytest
import torch

from lyra_sim.cameras import look_at_cameras
from lyra_sim.render import rasterizer as rasterizer_module
from lyra_sim.render.rasterizer import BACKENDS, MODES, rasterize
from lyra_sim.scene import rgb_to_sh

W, H = 12, 10


def _gaussians(n, seed, batch=(), sh_degree=None):
    """Random Gaussians around the origin, ``[*batch, n, ·]``; SH colors of ``sh_degree`` or plain RGB."""
    g = torch.Generator().manual_seed(seed)
    means = (torch.rand(*batch, n, 3, generator=g) - 0.5) * 1.5
    quats = torch.randn(*batch, n, 4, generator=g)
    scales = torch.exp(torch.empty(*batch, n, 3).uniform_(math.log(0.05), math.log(0.3), generator=g))
    opacities = torch.rand(*batch, n, generator=g) * 0.9 + 0.05
    if sh_degree is None:
        colors = torch.rand(*batch, n, 3, generator=g)
    else:
        colors = 0.2 * torch.randn(*batch, n, (sh_degree + 1) ** 2, 3, generator=g)
        colors[..., 0, :] = rgb_to_sh(torch.rand(*batch, n, 3, generator=g))
    return means, quats, scales, opacities, colors


def _cameras(c, phase=0.0):
    angles = phase + torch.arange(c) * (2 * math.pi / c)
    eyes = torch.stack([3 * torch.cos(angles), 3 * torch.sin(angles), 0.5 + 0.2 * torch.sin(2 * angles)], -1)
    cams = look_at_cameras(eyes, torch.zeros(c, 3), W, H, fov_y_deg=50.0)
    return cams.viewmats, cams.Ks


def _batched(batch, n=16, c=2, sh_degree=None):
    gauss = _gaussians(n, 0, batch, sh_degree)
    views = [_cameras(c, 0.3 * i) for i in range(math.prod(batch))]
    viewmats = torch.stack([v for v, _ in views]).reshape(*batch, c, 4, 4)
    ks = torch.stack([k for _, k in views]).reshape(*batch, c, 3, 3)
    return gauss, viewmats, ks


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("sh_degree", [None, 1])
def test_batch_dims_equal_per_entry_calls_exactly(mode, sh_degree):
    (means, quats, scales, opac, colors), viewmats, ks = _batched((3,), sh_degree=sh_degree)
    bg = torch.rand(3, 2, 3) if mode != "ED" else None  # colors behind; depth is never blended
    out, alphas = rasterize(means, quats, scales, opac, colors, viewmats, ks, W, H, sh_degree=sh_degree, mode=mode,
                            backgrounds=bg, backend="torch")
    width = {"RGB": 3, "ED": 1, "RGB+ED": 4}[mode]
    assert out.shape == (3, 2, H, W, width) and alphas.shape == (3, 2, H, W, 1)
    assert alphas.max() > 0.1  # something is drawn, so equality is not trivially 0 == 0
    for b in range(3):
        one, one_alpha = rasterize(means[b], quats[b], scales[b], opac[b], colors[b], viewmats[b], ks[b], W, H,
                                   sh_degree=sh_degree, mode=mode,
                                   backgrounds=None if bg is None else bg[b],
                                   backend="torch")
        assert torch.equal(out[b], one) and torch.equal(alphas[b], one_alpha)


def test_two_batch_dims_equal_per_entry_calls_exactly():
    (means, quats, scales, opac, colors), viewmats, ks = _batched((2, 2), n=10, c=1)
    out, alphas = rasterize(means, quats, scales, opac, colors, viewmats, ks, W, H, mode="RGB+ED", backend="torch")
    assert out.shape == (2, 2, 1, H, W, 4)
    for i in range(2):
        for j in range(2):
            one, one_alpha = rasterize(means[i, j], quats[i, j], scales[i, j], opac[i, j], colors[i, j],
                                       viewmats[i, j], ks[i, j], W, H, mode="RGB+ED", backend="torch")
            assert torch.equal(out[i, j], one) and torch.equal(alphas[i, j], one_alpha)


def test_batch_entries_are_independent():
    """Each entry sees only its own Gaussians: changing entry 1 leaves entry 0's images alone."""
    (means, quats, scales, opac, colors), viewmats, ks = _batched((2,))
    before, _ = rasterize(means, quats, scales, opac, colors, viewmats, ks, W, H, backend="torch")
    opac2 = opac.clone()
    opac2[1] = 0.9
    after, _ = rasterize(means, quats, scales, opac2, colors, viewmats, ks, W, H, backend="torch")
    assert torch.equal(before[0], after[0]) and not torch.equal(before[1], after[1])


def test_auto_on_cpu_is_the_torch_backend():
    (means, quats, scales, opac, colors), viewmats, ks = _batched((2,))
    auto = rasterize(means, quats, scales, opac, colors, viewmats, ks, W, H, mode="RGB+ED")
    torch_ = rasterize(means, quats, scales, opac, colors, viewmats, ks, W, H, mode="RGB+ED", backend="torch")
    assert torch.equal(auto[0], torch_[0]) and torch.equal(auto[1], torch_[1])


def test_near_and_far_plane_reach_the_backend():
    means, quats, scales, opac, colors = _gaussians(16, 1)
    viewmats, ks = _cameras(1)
    _, drawn = rasterize(means, quats, scales, opac, colors, viewmats, ks, W, H, backend="torch")
    _, none = rasterize(means, quats, scales, opac, colors, viewmats, ks, W, H, far_plane=0.5, backend="torch")
    assert drawn.max() > 0.1 and none.max() == 0


def _args():
    means, quats, scales, opac, colors = _gaussians(4, 2)
    viewmats, ks = _cameras(1)
    return means, quats, scales, opac, colors, viewmats, ks, W, H


def test_unknown_mode_names_the_accepted_ones():
    with pytest.raises(ValueError, match=r"^mode: unknown render mode 'D'; accepted: RGB, ED, RGB\+ED$"):
        rasterize(*_args(), mode="D")


@pytest.mark.parametrize("backend", ["cuda", "Torch", ""])
def test_unknown_backend_names_the_accepted_ones(backend):
    with pytest.raises(ValueError, match=rf"^backend: unknown backend '{backend}'; accepted: auto, torch, numba, gsplat$"):
        rasterize(*_args(), backend=backend)


def test_fastest_backend_is_the_compiled_one_on_the_cpu_when_installed(monkeypatch):
    from lyra_sim.render import fastest_backend, numba_impl

    monkeypatch.setattr(numba_impl, "available", lambda: True)
    assert fastest_backend("cpu") == fastest_backend(torch.device("cpu")) == "numba"
    monkeypatch.setattr(numba_impl, "available", lambda: False)
    assert fastest_backend("cpu") == "torch"
    assert fastest_backend("cuda") == fastest_backend(torch.device("cuda", 0)) == "auto"


def test_gsplat_refuses_cpu_tensors_with_the_way_out():
    assert set(BACKENDS) == {"torch", "numba", "gsplat"}
    with pytest.raises(ValueError) as err:
        rasterize(*_args(), backend="gsplat")
    assert str(err.value) == (
        "backend: 'gsplat' needs CUDA tensors, but the Gaussians are on cpu; use backend='torch' (or 'auto'), "
        "or move scene and cameras with .to('cuda')"
    )


def test_gsplat_backend_without_gsplat_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "gsplat", None)  # makes `import gsplat` fail
    cuda_like = SimpleNamespace(device=torch.device("cuda"), ndim=2)  # past the device check, no GPU needed
    with pytest.raises(ImportError, match=r'pip install "lyra-sim\[gpu\]"'):
        BACKENDS["gsplat"](cuda_like, *[None] * 13)


@pytest.mark.parametrize("means_shape, viewmats_shape", [
    ((2, 4, 3), (1, 4, 4)),  # batched Gaussians, unbatched cameras
    ((4, 3), (2, 1, 4, 4)),  # unbatched Gaussians, batched cameras
    ((3,), (4, 4)),  # no Gaussian dimension
])
def test_mismatched_batch_dims_are_one_clear_error(means_shape, viewmats_shape):
    means = torch.zeros(means_shape)
    with pytest.raises(ValueError) as err:
        rasterize(means, None, None, None, None, torch.zeros(viewmats_shape), None, W, H, backend="torch")
    assert str(err.value) == (
        f"means [B..., N, 3] and viewmats [B..., C, 4, 4] need the same batch dimensions, "
        f"got {list(means_shape)} and {list(viewmats_shape)}"
    )


def test_rasterize_is_the_only_backend_caller_of_render():
    """`render(scene, cameras)` goes through `rasterize`: its backend registry is the one it validates against."""
    from lyra_sim import render as render_package

    assert render_package.BACKENDS is rasterizer_module.BACKENDS and render_package.rasterize is rasterize


@pytest.mark.gpu
def test_gsplat_batch_dims_match_per_entry_calls():
    """On CUDA: gsplat's batched (unpacked) call matches its per-entry calls and the torch twin."""
    pytest.importorskip("gsplat")
    (means, quats, scales, opac, colors), viewmats, ks = _batched((3,), sh_degree=1)
    cuda = [t.cuda() for t in (means, quats, scales, opac, colors, viewmats, ks)]
    out, alphas = rasterize(*cuda, W, H, sh_degree=1, mode="RGB+ED", backend="gsplat")
    ref, ref_alphas = rasterize(*cuda, W, H, sh_degree=1, mode="RGB+ED", backend="torch")
    for b in range(3):
        one, one_alpha = rasterize(*(t[b] for t in cuda), W, H, sh_degree=1, mode="RGB+ED", backend="gsplat")
        torch.testing.assert_close(out[b], one, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(alphas[b], one_alpha, atol=1e-4, rtol=0)
    assert (out[..., :3] - ref[..., :3]).abs().mean() < 1e-2
    assert (alphas - ref_alphas).abs().mean() < 1e-2


@pytest.mark.gpu
def test_gsplat_packed_mode_matches_unpacked(monkeypatch):
    """Packed mode (big unbatched calls) draws what unpacked draws; the threshold lives in this module."""
    pytest.importorskip("gsplat")
    cuda = [t.cuda() for t in (*_gaussians(2000, 3, sh_degree=1), *_cameras(3))]
    unpacked = rasterize(*cuda, W, H, sh_degree=1, backend="gsplat")
    monkeypatch.setattr(rasterizer_module, "GSPLAT_PACKED_MIN_PAIRS", 0)
    packed = rasterize(*cuda, W, H, sh_degree=1, backend="gsplat")
    torch.testing.assert_close(packed[0], unpacked[0], atol=1e-4, rtol=0)
    torch.testing.assert_close(packed[1], unpacked[1], atol=1e-4, rtol=0)
