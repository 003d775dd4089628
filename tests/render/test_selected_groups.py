"""Rigid groups in `rasterize_selected`: rows stored in their own frames (moving parts) drawn under per-camera poses,
through the gathered reference and the Triton projection (interpreted on the CPU), against rows moved by hand."""

from __future__ import annotations

import math
import os

import pytest
import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")  # read when the kernel is decorated

from lyra_sim.cameras import look_at_cameras  # noqa: E402
from lyra_sim.render.rasterizer import EPS2D, rasterize, rasterize_selected  # noqa: E402
from lyra_sim.render.torch_impl import RasterConfig, project  # noqa: E402
from lyra_sim.scene import quat_multiply, quat_to_rotmat, rotmat_to_quat  # noqa: E402
from lyra_sim.sh import rotate_sh  # noqa: E402

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
W, H = 40, 32


def _tables(n: int, k: int = 1, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    means = torch.randn(n, 3, generator=g) * torch.tensor([1.0, 1.0, 0.6]) + torch.tensor([0.0, 0.0, 1.0])
    quats = torch.randn(n, 4, generator=g)
    scales = torch.exp(torch.randn(n, 3, generator=g) * 0.8 - 3.0)
    opac = 0.3 + 0.7 * torch.rand(n, generator=g)
    colors = torch.rand(n, 3, generator=g) if k == 1 else torch.randn(n, k, 3, generator=g) * 0.3
    return [means, quats, scales, opac, colors]


def _poses(b: int, g: int, seed: int = 2) -> torch.Tensor:
    """``[b, g, 4, 4]``: group 0 identity, the others a turn about z and a shift, different per camera."""
    gen = torch.Generator().manual_seed(seed)
    out = torch.eye(4).repeat(b, g, 1, 1)
    for i in range(b):
        for k in range(1, g):
            a = float(torch.rand(1, generator=gen)) * 2 * math.pi
            c, s = math.cos(a), math.sin(a)
            out[i, k, :3, :3] = torch.tensor([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
            out[i, k, :3, 3] = torch.rand(3, generator=gen) * 0.6 - 0.3
    return out


def _cameras(b: int):
    angles = torch.arange(b) * (2 * math.pi / b)
    eyes = torch.stack([3.5 * torch.cos(angles), 3.5 * torch.sin(angles), torch.full((b,), 1.2)], -1)
    return look_at_cameras(eyes, torch.tensor([[0.0, 0.0, 1.0]]).expand(b, 3), W, H, 70.0)


def _moved(tables, ids, groups, poses, b):
    """Camera ``b``'s rows moved by hand: ``[M, ...]`` each."""
    rows = [t[ids[b]] for t in tables]
    pose = poses[b, groups[ids[b]]]
    r = pose[:, :3, :3]
    means = (r @ rows[0][..., None])[..., 0] + pose[:, :3, 3]
    quats = quat_multiply(rotmat_to_quat(r), torch.nn.functional.normalize(rows[1], dim=-1))
    colors = rows[4] if rows[4].ndim == 2 else rotate_sh(rows[4], r)
    return [means, quats, rows[2], rows[3], colors]


@pytest.mark.parametrize("sh", [1, 4], ids=["colors", "sh-degree-1"])
def test_gathered_reference_draws_each_camera_with_its_own_group_poses(sh):
    tables = _tables(600, sh)
    groups = torch.randint(0, 3, (600,), generator=torch.Generator().manual_seed(1))
    cams = _cameras(3)
    ids = torch.randint(0, 600, (3, 300), generator=torch.Generator().manual_seed(4))
    poses = _poses(3, 3)
    degree = None if sh == 1 else 1
    out, alpha = rasterize_selected(*tables, ids, cams.viewmats, cams.Ks, W, H, sh_degree=degree, backend="torch",
                                    groups=groups, group_poses=poses)
    for b in range(3):
        ref, ref_alpha = rasterize(*_moved(tables, ids, groups, poses, b), cams.viewmats[b:b + 1], cams.Ks[b:b + 1], W, H,
                                   sh_degree=degree, backend="torch")
        torch.testing.assert_close(out[b], ref[0], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(alpha[b], ref_alpha[0], atol=1e-5, rtol=1e-5)
    assert float(alpha.mean()) > 0.05
    # identity poses change nothing
    plain, _ = rasterize_selected(*tables, ids, cams.viewmats, cams.Ks, W, H, sh_degree=degree, backend="torch")
    same, _ = rasterize_selected(*tables, ids, cams.viewmats, cams.Ks, W, H, sh_degree=degree, backend="torch",
                                 groups=groups, group_poses=torch.eye(4).repeat(3, 3, 1, 1))
    torch.testing.assert_close(same, plain, atol=1e-5, rtol=1e-5)


def test_triton_projection_with_groups_matches_the_twin_on_moved_rows():
    pytest.importorskip("triton")
    from lyra_sim.render.triton_projection import project_selected

    tables = _tables(1200)
    groups = torch.randint(0, 4, (1200,), generator=torch.Generator().manual_seed(1))
    cams = _cameras(3)
    ids = torch.randint(0, 1200, (3, 500), generator=torch.Generator().manual_seed(5))
    poses = _poses(3, 4)
    args = [t.to(DEVICE) for t in (*tables, ids, cams.viewmats, cams.Ks)]
    radii, means2d, depths, conics, colors, opac = (x.cpu() for x in project_selected(
        *args, W, H, EPS2D, 0.01, 100.0, groups.to(DEVICE), poses.to(DEVICE)))
    config = RasterConfig(eps2d=EPS2D, near_plane=0.01, far_plane=100.0)
    for b in range(3):
        moved = _moved(tables, ids, groups, poses, b)
        ref = project(*moved[:4], cams.viewmats[b:b + 1], cams.Ks[b:b + 1], W, H, config, precull=False)
        shown = torch.nonzero(radii[b, 0].ne(0).any(-1)).squeeze(1)
        assert torch.equal(shown, ref.gaussian_ids)
        torch.testing.assert_close(radii[b, 0, shown].long(), ref.radii, atol=0, rtol=0)
        torch.testing.assert_close(means2d[b, 0, shown], ref.means2d, atol=2e-4, rtol=1e-5)
        torch.testing.assert_close(depths[b, 0, shown], ref.depths, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(conics[b, 0, shown], ref.conics, atol=1e-4, rtol=5e-4)
        torch.testing.assert_close(colors[b, 0], tables[4][ids[b]], atol=0, rtol=0)
    assert 200 < len(shown)


def test_groups_need_their_poses():
    tables = _tables(20)
    cams = _cameras(2)
    ids = torch.zeros((2, 5), dtype=torch.long)
    with pytest.raises(ValueError, match="groups and group_poses go together"):
        rasterize_selected(*tables, ids, cams.viewmats, cams.Ks, W, H, groups=torch.zeros(20, dtype=torch.long))
    with pytest.raises(ValueError, match=r"groups \[R\] and group_poses \[B, G, 4, 4\] must fit"):
        rasterize_selected(*tables, ids, cams.viewmats, cams.Ks, W, H, groups=torch.zeros(19, dtype=torch.long),
                           group_poses=torch.eye(4).repeat(2, 1, 1, 1))
    assert quat_to_rotmat(torch.tensor([[1.0, 0, 0, 0]])).shape == (1, 3, 3)


@pytest.mark.gpu
def test_fused_path_with_groups_draws_what_gathered_moved_copies_draw_through_gsplat():
    pytest.importorskip("gsplat")
    tables = [t.cuda() for t in _tables(20_000)]
    groups = torch.randint(0, 5, (20_000,), generator=torch.Generator().manual_seed(1)).cuda()
    cams = _cameras(16).to("cuda")
    ids = torch.randint(0, 20_000, (16, 4000), generator=torch.Generator().manual_seed(5)).cuda()
    poses = _poses(16, 5).cuda()
    fused, fused_alpha = rasterize_selected(*tables, ids, cams.viewmats, cams.Ks, W, H, backend="fused", groups=groups,
                                            group_poses=poses)
    ref, ref_alpha = rasterize_selected(*tables, ids, cams.viewmats, cams.Ks, W, H, backend="gsplat", groups=groups,
                                        group_poses=poses)
    assert float(ref_alpha.mean()) > 0.3
    assert (fused - ref).abs().mean() < 1e-5 and (fused - ref).abs().max() < 2e-3
    assert (fused_alpha - ref_alpha).abs().max() < 2e-3
