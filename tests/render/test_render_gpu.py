"""The PyTorch rasterizer against gsplat's CUDA kernels (needs a GPU and gsplat 1.5.x).

Run with ``pytest -m gpu -s tests/test_render_gpu.py`` to see the figures. The first gsplat
call JIT-compiles its kernels (minutes) unless a prebuilt wheel is installed.
"""

import math
import sys

import pytest
import torch

from lyra_sim import render as render_module
from lyra_sim.cameras import look_at_cameras
from lyra_sim.render import rasterizer as rasterizer_module
from lyra_sim.render import render
from lyra_sim.scene import GaussianScene, rgb_to_sh

pytestmark = pytest.mark.gpu


def _random_scene(n: int, seed: int = 0) -> GaussianScene:
    """Degree-3 Gaussians in a 4 m box: mixed sizes, opacities and view-dependent colors (CPU)."""
    g = torch.Generator().manual_seed(seed)
    means = (torch.rand(n, 3, generator=g) - 0.5) * 4.0
    quats = torch.randn(n, 4, generator=g)
    scales = torch.exp(torch.empty(n, 3).uniform_(math.log(0.004), math.log(0.08), generator=g))
    opacities = torch.rand(n, generator=g) * 0.95 + 0.05
    sh = 0.2 * torch.randn(n, 16, 3, generator=g)
    sh[:, 0] = rgb_to_sh(torch.rand(n, 3, generator=g))
    return GaussianScene(means, quats, scales, opacities, sh)


def _cameras(count: int, width: int, height: int):
    angles = torch.arange(count) * (2 * math.pi / count)
    eyes = torch.stack([4.5 * torch.cos(angles), 4.5 * torch.sin(angles), 1.0 + 0.5 * torch.sin(2 * angles)], -1)
    return look_at_cameras(eyes, torch.zeros(count, 3), width, height, fov_y_deg=55.0)


def _compare(ours, theirs, label: str):
    """Print and return (mean |ΔRGB|, max |ΔRGB|, mean depth rel. err., fraction of pixels compared)."""
    rgb_diff = (ours.rgb - theirs.rgb).abs()
    hit = ((ours.alpha > 0.5) & (theirs.alpha > 0.5))[..., 0]
    rel = ((ours.depth - theirs.depth).abs() / theirs.depth.clamp_min(1e-6))[..., 0][hit]
    figures = (
        rgb_diff.mean().item(), rgb_diff.max().item(), rel.mean().item() if rel.numel() else float("nan"),
        hit.float().mean().item(),
    )
    print(
        f"\n[{label}] mean |dRGB| {figures[0]:.2e}  max |dRGB| {figures[1]:.2e}  "
        f"depth rel err mean {figures[2]:.2e} (p99 {rel.quantile(0.99).item() if rel.numel() else float('nan'):.2e})  "
        f"pixels compared {100 * figures[3]:.1f} %  mean |dalpha| {(ours.alpha - theirs.alpha).abs().mean().item():.2e}"
    )
    return figures, rel


def test_torch_backend_on_cpu_matches_gsplat():
    scene = _random_scene(30_000)
    cams = _cameras(4, 256, 256)
    bg = torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.2, 0.5, 0.8], [0.5, 0.5, 0.5]])
    theirs = render(scene.to("cuda"), cams.to("cuda"), "RGB+ED", backend="gsplat", background=bg.cuda())
    with torch.no_grad():
        ours = render(scene, cams, "RGB+ED", backend="torch", background=bg)
    theirs = render_module.RenderOutput(theirs.rgb.cpu(), theirs.depth.cpu(), theirs.alpha.cpu())
    (mean_rgb, _, depth_rel, compared), rel = _compare(ours, theirs, "torch (CPU) vs gsplat (CUDA), 30k SH3, 4 x 256^2")
    assert compared > 0.2  # the comparison covers a good part of the image
    assert mean_rgb < 1e-2
    assert depth_rel < 1e-3
    assert (rel > 1e-2).float().mean() < 1e-3  # only rare pixels may differ (alpha-threshold flips)


def test_torch_backend_runs_on_cuda_tensors():
    scene = _random_scene(5_000, seed=1)
    cams = _cameras(2, 128, 96)
    with torch.no_grad():
        on_gpu = render(scene.to("cuda"), cams.to("cuda"), backend="torch")
        on_cpu = render(scene, cams, backend="torch")
    torch.testing.assert_close(on_gpu.rgb.cpu(), on_cpu.rgb, atol=1e-4, rtol=0)
    torch.testing.assert_close(on_gpu.depth.cpu(), on_cpu.depth, atol=1e-3, rtol=1e-4)


def test_gsplat_packed_and_unpacked_agree(monkeypatch):
    scene = _random_scene(10_000, seed=2).to("cuda")
    cams = _cameras(3, 160, 120).to("cuda")
    unpacked = render(scene, cams, backend="gsplat")
    monkeypatch.setattr(rasterizer_module, "GSPLAT_PACKED_MIN_PAIRS", 0)
    packed = render(scene, cams, backend="gsplat")
    torch.testing.assert_close(packed.rgb, unpacked.rgb, atol=1e-4, rtol=0)


def test_gradients_agree_with_gsplat():
    """Same loss, both backends: gradients point the same way for every parameter."""
    base = _random_scene(2_000, seed=3)
    cams = _cameras(2, 96, 96)
    weights = torch.rand(2, 96, 96, 4, generator=torch.Generator().manual_seed(0))
    grads = {}
    for backend, device in (("torch", "cpu"), ("gsplat", "cuda")):
        params = [
            t.detach().to(device).requires_grad_()
            for t in (base.means, base.quats, base.scales, base.opacities, base.sh)
        ]
        out = render(GaussianScene(*params), cams.to(device), "RGB+ED", backend=backend)
        loss = (torch.cat([out.rgb, out.depth], -1) * weights.to(device)).sum()
        loss.backward()
        grads[backend] = [p.grad.cpu() for p in params]
    for name, ours, theirs in zip(("means", "quats", "scales", "opacities", "sh"), grads["torch"], grads["gsplat"]):
        cos = torch.nn.functional.cosine_similarity(ours.reshape(1, -1), theirs.reshape(1, -1)).item()
        print(f"\n[grad {name}] cosine {cos:.5f}  |torch| {ours.norm():.3e}  |gsplat| {theirs.norm():.3e}")
        assert cos > 0.99, name


def test_auto_picks_gsplat_for_cuda_scenes():
    scene = _random_scene(2_000, seed=4).to("cuda")
    cams = _cameras(1, 64, 64).to("cuda")
    auto = render(scene, cams)
    assert "gsplat" in sys.modules
    torch.testing.assert_close(auto.rgb, render(scene, cams, backend="gsplat").rgb)


def test_scene_and_cameras_on_different_devices_is_an_error():
    scene = _random_scene(100, seed=5).to("cuda")
    with pytest.raises(ValueError, match="cameras: on cpu, but the scene is on cuda"):
        render(scene, _cameras(1, 32, 32))
