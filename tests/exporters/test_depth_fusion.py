"""Depth views → mesh (`lyra_sim.exporters.depth_fusion`): which depth pixels are trusted."""

import numpy as np

from lyra_sim.exporters.depth_fusion import valid_depth


def test_valid_depth_drops_edges_grazing_and_transparent_pixels():
    d = np.full((1, 16, 16), 2.0, np.float32)
    d[0, :, 8:] = 4.0  # a depth discontinuity at column 8
    a = np.ones_like(d)
    a[0, 0:3, 0:3] = 0.1  # transparent corner
    k = np.array([[[16.0, 0, 8], [0, 16.0, 8], [0, 0, 1]]], np.float32)
    out = valid_depth(d, a, k, alpha_threshold=0.5, edge_threshold=0.04, min_cos=0.0)
    assert (out[0, 5:, 7:9] == 0).all()  # both sides of the jump
    assert (out[0, 0:3, 0:3] == 0).all()
    assert (out[0, 5:, 2:6] == 2.0).all()
    # a plane seen almost edge-on: depth grows fast along x
    slope = np.broadcast_to(1.0 + 0.5 * np.arange(16, dtype=np.float32), (1, 16, 16)).copy()
    assert (valid_depth(slope, np.ones_like(slope), k, 0.5, 10.0, min_cos=0.65)[0, 2:-2, 2:-2] == 0).all()


def test_camera_groups_cut_batches_as_the_rasterizer_does():
    from lyra_sim.exporters.depth_fusion import camera_groups

    # 231,366 Gaussians: 9 cameras per rasterizer group (2**21 // N), batches of 24.
    sizes = [g.stop - g.start for g in camera_groups(66, 231_366)]
    assert sizes == [9, 9, 6, 9, 9, 6, 9, 9]
    assert [g.stop - g.start for g in camera_groups(5, 10)] == [5]
    assert [g.stop - g.start for g in camera_groups(3, 3_000_000)] == [1, 1, 1]


def _depth_views():
    import torch

    from _scenes import box_room_scene
    from lyra_sim.cameras import look_at_cameras

    scene = box_room_scene(spacing=0.1)
    eyes = torch.tensor([[x, y, 1.2] for x in (0.3, 1.0, 1.7) for y in (0.4, 2.0)])
    return scene, look_at_cameras(eyes, torch.tensor([[1.0, 1.2, 0.6]]).expand(len(eyes), 3), width=24, height=24)


def _render_depth_on_two_threads(scene, cams, **kw):
    import torch

    from lyra_sim.exporters.depth_fusion import render_depth

    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        return render_depth(scene, cams, **kw)
    finally:
        torch.set_num_threads(threads)
        assert torch.get_num_threads() == threads


def test_render_depth_side_by_side_matches_one_call_per_batch():
    """The PyTorch reference's groups rendered on worker threads give the bytes of the plain loop over batches."""
    import torch

    from lyra_sim.render import render

    scene, cams = _depth_views()
    depth, alpha = _render_depth_on_two_threads(scene, cams, batch=4, backend="torch")
    with torch.no_grad():
        ref = [render(scene, cams[c0 : c0 + 4], mode="ED", backend="torch") for c0 in range(0, len(cams), 4)]
    assert np.array_equal(depth, np.concatenate([r.depth[..., 0].numpy() for r in ref]))
    assert np.array_equal(alpha, np.concatenate([r.alpha[..., 0].numpy() for r in ref]))
    assert (depth > 0).mean() > 0.5


def test_render_depth_with_the_compiled_rasterizer_matches_the_reference():
    """Numba's views, one camera per task on two threads: the bytes of one call per camera, and the
    reference's depth and alpha to float32 rounding, with the same pixels drawn."""
    import pytest

    from lyra_sim.render import numba_impl, render

    if not numba_impl.available():
        pytest.skip("numba is not installed")
    scene, cams = _depth_views()
    depth, alpha = _render_depth_on_two_threads(scene, cams, backend="numba")
    one = [render(scene, cams[c : c + 1], mode="ED", backend="numba") for c in range(len(cams))]
    assert np.array_equal(depth, np.concatenate([r.depth[..., 0].numpy() for r in one]))
    assert np.array_equal(alpha, np.concatenate([r.alpha[..., 0].numpy() for r in one]))
    ks = cams.Ks.numpy()
    reliable, same_alpha = _render_depth_on_two_threads(
        scene, cams, backend="numba", reliable=lambda d, a, group: valid_depth(d, a, ks[group], 0.5, 0.04, 0.65))
    assert np.array_equal(reliable, valid_depth(depth, alpha, ks, 0.5, 0.04, 0.65))  # view by view = all at once
    assert np.array_equal(same_alpha, alpha) and 0 < (reliable > 0).sum() < (depth > 0).sum()
    ref_depth, ref_alpha = _render_depth_on_two_threads(scene, cams, backend="torch")
    assert np.array_equal(alpha > 0, ref_alpha > 0)
    np.testing.assert_allclose(alpha, ref_alpha, rtol=0, atol=2e-5)
    np.testing.assert_allclose(depth, ref_depth, rtol=2e-5, atol=1e-6)
    assert (depth > 0).mean() > 0.5


def _grazing_mask_reference(d, Ks, min_cos):
    """The grazing test on [C, H, W, 3] vectors (np.cross, np.linalg.norm), as `valid_depth` once wrote it."""
    c, h, w = d.shape
    u = (np.arange(w, dtype=np.float32) + 0.5)[None, None, :]
    v = (np.arange(h, dtype=np.float32) + 0.5)[None, :, None]
    fx, fy = Ks[:, 0, 0, None, None], Ks[:, 1, 1, None, None]
    cx, cy = Ks[:, 0, 2, None, None], Ks[:, 1, 2, None, None]
    rays = np.stack(np.broadcast_arrays((u - cx) / fx, (v - cy) / fy, np.ones((c, h, w), np.float32)), -1)
    points = rays * d[..., None]
    du = np.zeros_like(points)
    dv = np.zeros_like(points)
    du[:, :, 1:-1] = points[:, :, 2:] - points[:, :, :-2]
    dv[:, 1:-1] = points[:, 2:] - points[:, :-2]
    normal = np.cross(du, dv)
    cos = np.abs((normal * rays).sum(-1)) / (np.linalg.norm(normal, axis=-1) * np.linalg.norm(rays, axis=-1) + 1e-12)
    return cos < min_cos


def test_valid_depth_grazing_test_keeps_the_bits_of_the_vector_formulation():
    rng = np.random.default_rng(0)
    d = (1.0 + rng.random((3, 20, 24)) * rng.random((3, 1, 24)) * 3).astype(np.float32)
    d[:, 5:9, 3:7] = 0.0
    k = np.array([[30.0, 0, 12.3], [0, 31.0, 9.7], [0, 0, 1]], np.float32)[None].repeat(3, 0)
    for min_cos in (0.2, 0.65, 0.9):
        out = valid_depth(d, np.ones_like(d), k, alpha_threshold=0.5, edge_threshold=10.0, min_cos=min_cos)
        ref_bad = _grazing_mask_reference(d, k, min_cos) | (d <= 0)
        assert ref_bad.any() and not ref_bad.all()
        # edge_threshold 10 drops only the neighbours of empty pixels; the rest is the grazing test
        edges = valid_depth(d, np.ones_like(d), k, alpha_threshold=0.5, edge_threshold=10.0, min_cos=0.0) == 0
        assert np.array_equal(out == 0, ref_bad | edges)


def test_fusion_mesh_does_not_depend_on_the_block_map_start(monkeypatch):
    """`TSDF_BLOCKS` is a start: a map far too small grows (Open3D's CPU hash map) to the same bytes."""
    from lyra_sim.exporters import depth_fusion

    scene, cams = _depth_views()
    depth, _ = depth_fusion.render_depth(scene, cams, backend="torch")
    voxel = 0.05
    meshes = []
    for blocks in (4, 100_000):
        monkeypatch.setattr(depth_fusion, "TSDF_BLOCKS", blocks)
        meshes.append(depth_fusion.fuse_tsdf(depth, cams, voxel))
    (v, f), (big_v, big_f) = meshes
    assert np.array_equal(v, big_v) and np.array_equal(f, big_f)
    # the surface spans far more than 4 blocks of 8 voxels, so the small map had to grow
    touched = np.unique(np.floor(v / (8 * voxel)).astype(int), axis=0)
    assert len(f) > 1000 and len(touched) > 4 * 4
