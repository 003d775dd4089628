"""lyra_sim.render.lod: moment-matched merging, one level per anchor, frustum culling, selection, quality."""

import math

import numpy as np
import pytest
import torch

from _scenes import box_room_scene
from lyra_sim.cameras import look_at_cameras
from lyra_sim.render import numba_lod, render
from lyra_sim.render.lod import MAX_OPACITY, LODConfig, build_lod
from lyra_sim.scene import GaussianScene, quat_to_rotmat

NEAR = 0.05  # the env camera's near plane; select and render must agree on it

# Cameras inside the 2.0 × 2.4 × 1.6 m box room: across the room, into corners, close to a
# wall, down at the floor; several see only part of the room, so some anchors are culled.
EYES = [[1.0, 1.8, 1.0], [0.3, 0.3, 1.2], [1.7, 2.1, 0.6], [1.5, 0.4, 1.4], [0.2, 2.2, 0.3], [1.0, 1.2, 1.5]]
TARGETS = [[1.0, 0.0, 0.5], [2.0, 2.4, 0.0], [0.0, 0.0, 1.6], [0.0, 1.5, 0.2], [2.0, 0.0, 1.0], [1.2, 1.0, 0.0]]


def cameras(eyes, targets):
    return look_at_cameras(torch.tensor(eyes), torch.tensor(targets), 64, 64, fov_y_deg=90)


@pytest.fixture(scope="module")
def room():
    return box_room_scene()


@pytest.fixture(scope="module")
def lod(room):
    return build_lod(room)


@pytest.fixture(scope="module")
def full_scene(lod):
    """Row 0 of the LOD: the input Gaussians, reordered by anchor."""
    return lod.scene.select(torch.arange(int(lod.offsets[0, -1])))


def covariances(quats, scales):
    """``[N, 3, 3]`` float64 numpy world covariances R S² Rᵀ."""
    r = quat_to_rotmat(quats).double().numpy()
    return np.einsum("nij,nj,nkj->nik", r, scales.double().numpy() ** 2, r)


def flat(scene):
    """``[N, D]``: every attribute of each Gaussian in one row."""
    return torch.cat([scene.means, scene.quats, scene.scales, scene.opacities[:, None], scene.sh.flatten(1)], 1)


def small_scene(means, scales, opacities, labels, seed=0):
    """Gaussians with random rotations and degree-1 SH at the given places."""
    g = torch.Generator().manual_seed(seed)
    n = len(means)
    return GaussianScene(
        means=torch.tensor(means), quats=torch.randn(n, 4, generator=g), scales=torch.tensor(scales),
        opacities=torch.tensor(opacities), sh=torch.randn(n, 4, 3, generator=g), labels=torch.tensor(labels),
        label_names=("a", "b"),
    )


def test_a_cell_with_one_gaussian_merges_into_that_gaussian():
    # Far apart: each Gaussian is alone in its anchor (0.32 m) and so in its cell at every level.
    scene = small_scene(
        means=[[0.1, 0.1, 0.1], [1.1, 0.5, 0.2], [2.05, -0.7, 0.9]],
        scales=[[0.01, 0.003, 0.02], [0.004, 0.004, 0.001], [0.02, 0.015, 0.005]],  # 2nd: a round disk (any in-plane rotation fits)
        opacities=[0.5, 0.995, 0.2],  # the second is above MAX_OPACITY
        labels=[0, 1, -1],
    )
    lod = build_lod(scene)
    assert lod.level_sizes() == [3, 3, 3, 3]
    s = lod.scene
    for a in range(lod.num_anchors):
        orig = int(lod.offsets[0, a])
        for r in range(1, 4):
            i = int(lod.offsets[r, a])
            assert int(lod.offsets[r, a + 1]) == i + 1
            torch.testing.assert_close(s.means[i], s.means[orig], rtol=0, atol=1e-7)
            # eigh sorts the merged scales ascending; the rotation is whatever reproduces the covariance.
            torch.testing.assert_close(s.scales[i], s.scales[orig].sort().values, rtol=1e-5, atol=0)
            cov, cov_orig = covariances(s.quats[[i, orig]], s.scales[[i, orig]])
            np.testing.assert_allclose(cov, cov_orig, rtol=0, atol=1e-5 * np.abs(cov_orig).max())
            torch.testing.assert_close(s.sh[i], s.sh[orig])
            assert float(s.opacities[i]) == pytest.approx(min(float(s.opacities[orig]), MAX_OPACITY), rel=1e-6)
            assert int(s.labels[i]) == int(s.labels[orig])
    assert torch.equal(torch.unique(flat(s.select(torch.arange(3))), dim=0), torch.unique(flat(scene), dim=0))  # row 0 = the input


def test_two_gaussians_in_a_cell_merge_by_weighted_moments():
    spread = 1.5  # not the default, so the test sees whether the setting is used
    # Both inside [0, 0.04)³: the same cell at every level.
    scene = small_scene(
        means=[[0.005, 0.012, 0.031], [0.033, 0.027, 0.008]],
        scales=[[0.006, 0.002, 0.009], [0.003, 0.012, 0.004]],
        opacities=[0.9, 0.4],
        labels=[0, 1],
    )
    lod = build_lod(scene, LODConfig(spread=spread))
    assert lod.level_sizes() == [2, 1, 1, 1]

    mu = scene.means.double().numpy()
    s = np.sort(scene.scales.double().numpy(), axis=1)
    o = scene.opacities.double().numpy()
    w = o * s[:, 1] * s[:, 2]  # opacity × the two largest scales
    mean = (w[:, None] * mu).sum(0) / w.sum()
    within = np.einsum("n,nij->ij", w, covariances(scene.quats, scene.scales)) / w.sum()
    d = mu - mean
    between = np.einsum("n,ni,nj->ij", w, d, d) / w.sum()
    cov = within + spread**2 * between
    big = np.sqrt(np.linalg.eigvalsh(cov)[1:])  # the merged Gaussian's two largest scales
    opacity = w.sum() / (big[0] * big[1])
    assert opacity < MAX_OPACITY  # about 0.2 here: the formula, not the cap, decides
    sh = np.einsum("n,nkc->kc", w, scene.sh.double().numpy()) / w.sum()

    m = lod.scene
    for r in range(1, 4):
        i = int(lod.offsets[r, 0])
        np.testing.assert_allclose(m.means[i].double().numpy(), mean, rtol=0, atol=1e-7)
        np.testing.assert_allclose(covariances(m.quats[i : i + 1], m.scales[i : i + 1])[0], cov, rtol=0, atol=1e-5 * np.abs(cov).max())
        assert float(m.opacities[i]) == pytest.approx(opacity, rel=1e-5)
        np.testing.assert_allclose(m.sh[i].double().numpy(), sh, rtol=1e-6, atol=1e-7)
        assert int(m.labels[i]) == int(np.argmax(w))  # the label carrying the larger weight


def test_pixel_ratio_zero_draws_original_gaussians_and_culling_changes_no_pixel(room, lod, full_scene):
    n0 = int(lod.offsets[0, -1])
    assert n0 == len(room)
    assert torch.equal(torch.unique(flat(full_scene), dim=0), torch.unique(flat(room), dim=0))  # row 0 = the input, reordered
    cams = cameras(EYES, TARGETS)
    ids, counts = lod.select(cams, pixel_ratio=0, near_plane=NEAR)
    assert bool((ids < n0).all())
    assert int(counts.min()) < n0  # some camera culled something, or this tests nothing
    full = render(full_scene, cams, "RGB+ED", near_plane=NEAR)
    starts = torch.cumsum(counts, 0) - counts
    for c in range(len(cams)):
        seen = render(full_scene.select(ids[starts[c] : starts[c] + counts[c]]), cams[c], "RGB+ED", near_plane=NEAR)
        # The same Gaussians in the same order reach every pixel: equal up to float summation
        # order (the rasterizer's tile size follows the drawn set). Against the input's own
        # order, depth ties may blend in another order: differences up to 1e-3 were measured.
        torch.testing.assert_close(seen.rgb, full.rgb[c : c + 1], atol=1e-5, rtol=0)
        torch.testing.assert_close(seen.depth, full.depth[c : c + 1], atol=1e-5, rtol=1e-6)


def level_and_anchor(lod, ids):
    """The level row and the anchor that each selected scene row belongs to."""
    rows = torch.searchsorted(lod.offsets[:, 0].contiguous(), ids, right=True) - 1
    anchors = torch.empty_like(ids)
    for r in range(lod.offsets.shape[0]):
        here = rows == r
        anchors[here] = torch.searchsorted(lod.offsets[r].contiguous(), ids[here], right=True) - 1
    return rows, anchors


@pytest.mark.parametrize("pixel_ratio", [1.0, 2.0, 4.0])
def test_each_anchor_is_drawn_at_exactly_one_level(lod, pixel_ratio):
    cams = cameras(EYES, TARGETS)
    chosen = lod.choose_levels(cams, pixel_ratio, near_plane=NEAR)  # [C, A]
    ids, counts = lod.select(cams, pixel_ratio, near_plane=NEAR)
    assert len(torch.unique(chosen[chosen >= 0])) >= 3  # the original and at least two merged levels in use
    starts = torch.cumsum(counts, 0) - counts
    for c in range(len(cams)):
        mine = ids[starts[c] : starts[c] + counts[c]]
        assert len(torch.unique(mine)) == len(mine)
        rows, anchors = level_and_anchor(lod, mine)
        drawn = torch.unique(anchors)
        # One level row per anchor: as many distinct (anchor, row) pairs as anchors.
        assert len(torch.unique(anchors * lod.offsets.shape[0] + rows)) == len(drawn)
        # ... the one choose_levels picked, for every anchor it did not cull, with all its Gaussians there.
        assert torch.equal(rows, chosen[c, anchors])
        assert torch.equal(drawn, torch.nonzero(chosen[c] >= 0)[:, 0])
        r = chosen[c, drawn]
        assert len(mine) == int((lod.offsets[r, drawn + 1] - lod.offsets[r, drawn]).sum())


def test_camera_outside_facing_away_selects_nothing_and_batches_split_by_counts(lod):
    outside_away = ([5.0, 1.2, 0.8], [9.0, 1.2, 0.8])
    outside_facing = ([5.0, 1.2, 0.8], [1.0, 1.2, 0.8])
    cams = cameras(EYES + [outside_away[0], outside_facing[0]], TARGETS + [outside_away[1], outside_facing[1]])
    ids, counts = lod.select(cams, 2.0, near_plane=NEAR)
    assert int(counts[-2]) == 0 and bool((lod.choose_levels(cams[-2], 2.0, NEAR) == -1).all())
    assert int(counts[-1]) > 0  # being outside is not the reason: the room ahead is drawn
    assert int(counts.sum()) == len(ids)
    starts = torch.cumsum(counts, 0) - counts
    for c in range(len(cams)):  # a batch is the cameras' selections one after another
        alone, _ = lod.select(cams[c], 2.0, near_plane=NEAR)
        assert torch.equal(ids[starts[c] : starts[c] + counts[c]], alone)


def test_lod_renders_stay_close_to_full_renders(lod, full_scene):
    cams = cameras(EYES, TARGETS)
    full = render(full_scene, cams, "RGB", near_plane=NEAR).rgb
    ids, counts = lod.select(cams, 2.0, near_plane=NEAR)
    starts = torch.cumsum(counts, 0) - counts
    lod_rgb = torch.cat([
        render(lod.scene.select(ids[starts[c] : starts[c] + counts[c]]), cams[c], "RGB", near_plane=NEAR).rgb
        for c in range(len(cams))
    ])
    # The LOD must actually save work (measured: 27% of the Gaussians), or the PSNR says nothing.
    assert int(counts.sum()) < 0.5 * len(cams) * len(full_scene)
    psnr = float(-10 * torch.log10(((lod_rgb - full) ** 2).mean()))
    assert psnr >= 29.0  # measured 32.2 dB over these 6 cameras (29.1 to 36.1 dB per camera)


def test_build_is_deterministic(room, lod):
    again = build_lod(room)
    for name in ("offsets", "anchor_lo", "anchor_hi", "anchor_center", "anchor_radius", "cell_sizes"):
        assert torch.equal(getattr(again, name), getattr(lod, name)), name
    assert torch.equal(flat(again.scene), flat(lod.scene)) and torch.equal(again.scene.labels, lod.scene.labels)


@pytest.mark.parametrize("bad", [
    {"base_cell": 0.0}, {"base_cell": -0.04}, {"base_cell": float("nan")},
    {"levels": 0}, {"levels": 11},
    {"spread": 0.5}, {"spread": float("nan")},
])
def test_lod_config_rejects_bad_values(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        LODConfig(**bad)


def test_build_rejects_an_empty_scene(room):
    with pytest.raises(ValueError, match="no Gaussians"):
        build_lod(room.select(torch.zeros(len(room), dtype=torch.bool)))


def test_culling_keeps_a_gaussian_whose_footprint_reaches_the_image():
    cam = cameras([[0.0, 0.0, 0.0]], [[3.0, 0.0, 0.0]])  # f = 32 px; image left edge at world y = 3 m · 32 / f
    y = 3.0 * (32 + 0.3) / 32  # a 1 mm Gaussian 3 m away, its center 0.3 px beyond the left edge
    scene = GaussianScene(
        torch.tensor([[3.0, y, 0.0]]), torch.tensor([[1.0, 0.0, 0.0, 0.0]]), torch.full((1, 3), 0.001),
        torch.tensor([0.97]), torch.ones(1, 1, 3),
    )
    if not float(render(scene, cam, "RGB", near_plane=NEAR).alpha.max()) > 0.2:  # measured 0.22
        pytest.fail("the full render no longer reaches the edge pixels: this case shows nothing")  # a failure, not the xfail
    _, counts = build_lod(scene).select(cam, 0.0, near_plane=NEAR)
    assert int(counts[0]) == 1


# ------------------------------------------------------------- padded (batched GPU) selection


def padded(lod, cams, ratio, budget, mask=None):
    return lod.select_padded(cams.viewmats, cams.Ks, cams.width, cams.height, ratio, budget, NEAR, mask)


def test_select_padded_equals_select_per_camera(lod):
    cams = cameras(EYES, TARGETS)
    ids, counts = lod.select(cams, 2.0, near_plane=NEAR)
    budget = int(counts.max()) + 7
    sel = padded(lod, cams, 2.0, budget)
    assert torch.equal(sel.counts, counts) and not sel.coarsened.any()
    assert torch.equal(lod.selection_counts(cams.viewmats, cams.Ks, 64, 64, 2.0, NEAR), counts)
    for c, chunk in enumerate(torch.split(ids, counts.tolist())):
        assert torch.equal(sel.ids[c, : counts[c]], chunk)
        assert (sel.ids[c, counts[c] :] == len(lod.scene)).all()  # padding: one past the last row


def test_select_padded_coarsens_cameras_over_budget_and_never_drops(lod):
    cams = cameras(EYES, TARGETS)
    fine = lod.select(cams, 1.0, near_plane=NEAR)[1]
    budget = int(fine.min())  # the camera with the smallest selection fits, most don't
    sel = padded(lod, cams, 1.0, budget)
    assert (sel.counts <= budget).all()
    assert torch.equal(sel.coarsened, fine > budget)
    for c in torch.nonzero(sel.coarsened)[:, 0].tolist():
        # The first coarser ratio that fits, with every visible anchor still drawn.
        for ratio in (2.0, 4.0, float("inf")):
            ids, counts = lod.select(cams[c : c + 1], ratio, near_plane=NEAR)
            if int(counts) <= budget:
                break
        assert torch.equal(sel.ids[c, : sel.counts[c]], ids)
    with pytest.raises(ValueError, match="budget"):
        padded(lod, cams, 1.0, 1)


def test_merged_lods_select_each_cameras_own_scene(room, lod):
    from lyra_sim.render.lod import merge_lods

    shifted = build_lod(room.transform(torch.eye(3), torch.tensor([10.0, 0.0, 0.0])))
    merged, anchor_scene = merge_lods([lod, shifted])
    assert merged.level_sizes() == [a + b for a, b in zip(lod.level_sizes(), shifted.level_sizes())]
    eyes, targets = torch.tensor(EYES), torch.tensor(TARGETS)
    scene = torch.arange(len(EYES)) % 2
    shift = torch.tensor([10.0, 0.0, 0.0]) * scene[:, None]
    cams = cameras((eyes + shift).tolist(), (targets + shift).tolist())
    sel = padded(merged, cams, 2.0, len(merged.scene), anchor_scene[None] == scene[:, None])
    for c in range(len(EYES)):
        own = (lod, shifted)[int(scene[c])]
        ids, counts = own.select(cams[c : c + 1], 2.0, near_plane=NEAR)
        assert int(sel.counts[c]) == int(counts)
        got = merged.scene.select(sel.ids[c, : sel.counts[c]])
        assert torch.equal(got.means, own.scene.means[ids]) and torch.equal(got.sh, own.scene.sh[ids])


@pytest.mark.gpu
def test_select_padded_on_cuda_matches_the_cpu(lod):
    cams = cameras(EYES, TARGETS)
    cpu = padded(lod, cams, 2.0, 4096)
    gpu = padded(lod.to("cuda"), cams.to("cuda"), 2.0, 4096)
    assert torch.equal(gpu.ids.cpu(), cpu.ids) and torch.equal(gpu.counts.cpu(), cpu.counts)


@pytest.mark.skipif(not numba_lod.available(), reason="numba is not installed")
@pytest.mark.parametrize("pixel_ratio", [0.0, 1.0, 2.0, 3.0, 8.0, math.inf])
def test_compiled_selection_equals_the_reference(lod, pixel_ratio):
    """`select` on the CPU (compiled) against `select_reference` (PyTorch): the same rows in the same order, for
    the fixed cameras, 40 at random places in the room looking anywhere, and two outside it (facing away, facing it)."""
    g = torch.Generator().manual_seed(3)
    eyes = torch.rand(40, 3, generator=g) * torch.tensor([2.0, 2.4, 1.6])
    targets = eyes + torch.randn(40, 3, generator=g)
    cams = look_at_cameras(torch.cat([torch.tensor(EYES + [[5.0, 1.2, 0.8], [5.0, 1.2, 0.8]]), eyes]),
                           torch.cat([torch.tensor(TARGETS + [[9.0, 1.2, 0.8], [1.0, 1.2, 0.8]]), targets]), 64, 48,
                           fov_y_deg=75)
    ids, counts = lod.select(cams, pixel_ratio, near_plane=NEAR)
    ref_ids, ref_counts = lod.select_reference(cams, pixel_ratio, near_plane=NEAR)
    assert ids.dtype == ref_ids.dtype == torch.int64
    assert torch.equal(counts, ref_counts) and torch.equal(ids, ref_ids)
    assert int(counts.min()) == 0 and int(counts.max()) > 0
