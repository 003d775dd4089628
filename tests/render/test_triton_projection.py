"""The Triton projection of selected rows (`lyra_sim.render.triton_projection`) against the PyTorch twin.

On a machine without CUDA the kernel runs in Triton's interpreter (``TRITON_INTERPRET=1``, set
before the kernel is defined); on CUDA it runs compiled, and the whole fused path
(`rasterize_selected(backend="fused")`) is compared with gathered copies through gsplat.
"""

from __future__ import annotations

import math
import os

import pytest
import torch

pytest.importorskip("triton")
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")  # read when the kernel is decorated

from lyra_sim.cameras import look_at_cameras  # noqa: E402
from lyra_sim.render.rasterizer import EPS2D, rasterize_selected  # noqa: E402
from lyra_sim.render.torch_impl import RasterConfig, project  # noqa: E402
from lyra_sim.render.triton_projection import project_selected  # noqa: E402

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
W, H = 40, 32


def _tables(n: int, seed: int = 0):
    """Gaussians in front of the cameras, some tiny, some huge, some faint; a last, invisible padding row."""
    g = torch.Generator().manual_seed(seed)
    means = torch.randn(n, 3, generator=g) * torch.tensor([2.0, 2.0, 1.0]) + torch.tensor([0.0, 0.0, 1.0])
    quats = torch.randn(n, 4, generator=g)
    scales = torch.exp(torch.randn(n, 3, generator=g) * 1.2 - 3.0)
    opac = torch.rand(n, generator=g)
    opac[: n // 10] = 0.002  # below 1/255: culled
    colors = torch.rand(n, 3, generator=g)
    pad = (torch.full((1, 3), 1e6), torch.tensor([[1.0, 0, 0, 0]]), torch.full((1, 3), 1e-3), torch.zeros(1), torch.zeros(1, 3))
    return [torch.cat([t, p]).contiguous() for t, p in zip((means, quats, scales, opac, colors), pad)]


def _cameras(b: int):
    angles = torch.arange(b) * (2 * math.pi / b)
    eyes = torch.stack([3.5 * torch.cos(angles), 3.5 * torch.sin(angles), torch.full((b,), 1.2)], -1)
    return look_at_cameras(eyes, torch.tensor([[0.0, 0.0, 1.0]]).expand(b, 3), W, H, 70.0)


def _ids(rows: int, b: int, m: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, rows - 1, (b, m), generator=g)
    ids[:, -5:] = rows - 1  # padding slots
    return ids


def test_projection_matches_the_pytorch_twin_slot_for_slot():
    tables = _tables(3000)
    cams = _cameras(4)
    ids = _ids(len(tables[0]), 4, 700)
    args = [t.to(DEVICE) for t in (*tables, ids, cams.viewmats, cams.Ks)]
    radii, means2d, depths, conics, colors, opac = (x.cpu() for x in project_selected(*args, W, H, EPS2D, 0.01, 100.0))
    config = RasterConfig(eps2d=EPS2D, near_plane=0.01, far_plane=100.0)
    visible = 0
    for b in range(4):
        rows = [t.index_select(0, ids[b]) for t in tables[:4]]
        ref = project(*rows, cams.viewmats[b : b + 1], cams.Ks[b : b + 1], W, H, config, precull=False)
        shown = torch.nonzero(radii[b, 0].ne(0).any(-1)).squeeze(1)
        assert torch.equal(shown, ref.gaussian_ids)  # the same slots survive every cull
        visible += len(shown)
        torch.testing.assert_close(radii[b, 0, shown].long(), ref.radii, atol=0, rtol=0)
        torch.testing.assert_close(means2d[b, 0, shown], ref.means2d, atol=1e-4, rtol=1e-5)
        torch.testing.assert_close(depths[b, 0, shown], ref.depths, atol=1e-5, rtol=1e-6)
        torch.testing.assert_close(conics[b, 0, shown], ref.conics, atol=1e-5, rtol=2e-4)
        torch.testing.assert_close(colors[b, 0], tables[4][ids[b]], atol=0, rtol=0)
        torch.testing.assert_close(opac[b, 0], tables[3][ids[b]], atol=0, rtol=0)
    assert 200 < visible < 4 * 700 - 4 * 5  # cull and keep both happen


def test_padding_and_empty_selections():
    tables = _tables(100)
    cams = _cameras(2)
    ids = torch.full((2, 8), len(tables[0]) - 1)
    radii, *_ = project_selected(*[t.to(DEVICE) for t in (*tables, ids, cams.viewmats, cams.Ks)], W, H, EPS2D, 0.01, 100.0)
    assert radii.shape == (2, 1, 8, 2) and int(radii.abs().sum()) == 0
    empty = project_selected(*[t.to(DEVICE) for t in (*tables, ids[:, :0], cams.viewmats, cams.Ks)], W, H, EPS2D, 0.01, 100.0)
    assert [tuple(x.shape) for x in empty] == [(2, 1, 0, 2), (2, 1, 0, 2), (2, 1, 0), (2, 1, 0, 3), (2, 1, 0, 3), (2, 1, 0)]


def test_fused_refuses_sh_and_unknown_backends():
    tables = _tables(50)
    cams = _cameras(1)
    ids = _ids(len(tables[0]), 1, 10)
    with pytest.raises(ValueError, match="plain colors"):
        rasterize_selected(*tables, ids, cams.viewmats, cams.Ks, W, H, sh_degree=0, backend="fused")
    with pytest.raises(ValueError, match="accepted: auto, fused, torch, numba, gsplat"):
        rasterize_selected(*tables, ids, cams.viewmats, cams.Ks, W, H, backend="magic")


@pytest.mark.gpu
@pytest.mark.parametrize("mode", ["RGB", "RGB+ED"])
def test_fused_path_draws_what_gathered_copies_draw_through_gsplat(mode):
    pytest.importorskip("gsplat")
    tables = [t.cuda() for t in _tables(20_000)]
    cams = _cameras(16).to("cuda")
    ids = _ids(len(tables[0]), 16, 4000).cuda()
    fused, fused_alpha = rasterize_selected(*tables, ids, cams.viewmats, cams.Ks, W, H, mode=mode, backend="fused")
    ref, ref_alpha = rasterize_selected(*tables, ids, cams.viewmats, cams.Ks, W, H, mode=mode, backend="gsplat")
    assert fused.shape == ref.shape == (16, H, W, 3 if mode == "RGB" else 4)
    assert float(ref_alpha.mean()) > 0.3  # the views are not empty
    assert (fused - ref).abs().mean() < 1e-5 and (fused - ref).abs().max() < 2e-3
    assert (fused_alpha - ref_alpha).abs().max() < 2e-3
