"""Renderer: `lyra_sim.render` and the PyTorch rasterizer (gsplat 1.5.3 math) on the CPU."""

import math
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch

from lyra_sim.cameras import Cameras, look_at, look_at_cameras
from lyra_sim.render import BACKENDS, MODES, RenderOutput, render
from lyra_sim.render.torch_impl import RasterConfig, rasterization
from lyra_sim.scene import GaussianScene
from lyra_sim.sh import sh_to_color

# --------------------------------------------------------------------------- helpers


def _pinhole(width: int, height: int, f: float, viewmats: torch.Tensor | None = None) -> Cameras:
    """Cameras with focal ``f`` px and the principal point at the image center; default at the origin looking +z."""
    viewmats = torch.eye(4)[None] if viewmats is None else viewmats
    k = torch.tensor([[f, 0.0, width / 2], [0.0, f, height / 2], [0.0, 0.0, 1.0]])
    return Cameras(viewmats, k.expand(len(viewmats), 3, 3).clone(), width, height)


def _scene(means, scales, opacities, rgb, quats=None) -> GaussianScene:
    means = torch.as_tensor(means, dtype=torch.float32).reshape(-1, 3)
    n = len(means)
    scales = torch.as_tensor(scales, dtype=torch.float32).expand(n, 3).clone()
    opacities = torch.as_tensor(opacities, dtype=torch.float32).expand(n).clone()
    rgb = torch.as_tensor(rgb, dtype=torch.float32).expand(n, 3).clone()
    quats = torch.tensor([1.0, 0.0, 0.0, 0.0]).expand(n, 4).clone() if quats is None else quats
    return GaussianScene.from_rgb(means, quats, scales, opacities, rgb)


def _reference(means, quats, scales, opacities, sh, viewmats, Ks, width, height, sh_degree,
               backgrounds=None, near=0.01, far=1e10, eps2d=0.3):
    """Naive dense renderer: every Gaussian against every pixel, one Gaussian at a time.

    Written straight from gsplat 1.5.3's projection and rasterization kernels, without tiles,
    chunks or the expanded quadratic form. Returns (rgb, expected depth, alpha, pixels stopped early).
    """
    dt = means.dtype
    py, px = torch.meshgrid(torch.arange(height, dtype=dt) + 0.5, torch.arange(width, dtype=dt) + 0.5, indexing="ij")
    q = torch.nn.functional.normalize(quats, dim=-1)
    rgbs, depths, alphas, stopped = [], [], [], 0
    for cam in range(len(viewmats)):
        w2c_r, w2c_t = viewmats[cam, :3, :3], viewmats[cam, :3, 3]
        fx, fy, cx, cy = Ks[cam, 0, 0], Ks[cam, 1, 1], Ks[cam, 0, 2], Ks[cam, 1, 2]
        campos = torch.linalg.inv(viewmats[cam])[:3, 3]
        splats = []
        for n in range(len(means)):
            mc = w2c_r @ means[n] + w2c_t
            if mc[2] < near or mc[2] > far or opacities[n] < 1 / 255:
                continue
            w, x, y, z = q[n]
            rot = torch.stack([
                torch.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)]),
                torch.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)]),
                torch.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]),
            ])
            cov = rot @ torch.diag(scales[n] ** 2) @ rot.T
            lim_x = (cx / fx + 0.3 * 0.5 * width / fx, (width - cx) / fx + 0.3 * 0.5 * width / fx)
            lim_y = (cy / fy + 0.3 * 0.5 * height / fy, (height - cy) / fy + 0.3 * 0.5 * height / fy)
            tx = mc[2] * torch.clamp(mc[0] / mc[2], -lim_x[0], lim_x[1])
            ty = mc[2] * torch.clamp(mc[1] / mc[2], -lim_y[0], lim_y[1])
            zero = torch.zeros((), dtype=dt)
            jac = torch.stack([
                torch.stack([fx / mc[2], zero, -fx * tx / mc[2] ** 2]),
                torch.stack([zero, fy / mc[2], -fy * ty / mc[2] ** 2]),
            ])
            cov2d = jac @ w2c_r @ cov @ w2c_r.T @ jac.T + eps2d * torch.eye(2, dtype=dt)
            if torch.det(cov2d) <= 0:
                continue
            extend = min(3.33, math.sqrt(2 * math.log(float(opacities[n]) * 255)))
            rx, ry = math.ceil(extend * math.sqrt(cov2d[0, 0])), math.ceil(extend * math.sqrt(cov2d[1, 1]))
            mx, my = fx * mc[0] / mc[2] + cx, fy * mc[1] / mc[2] + cy
            if mx + rx <= 0 or mx - rx >= width or my + ry <= 0 or my - ry >= height:
                continue
            color = sh_to_color(sh_degree, sh[n], means[n] - campos)
            splats.append((float(mc[2]), n, mx, my, torch.linalg.inv(cov2d), color, mc[2]))
        splats.sort(key=lambda s: (s[0], s[1]))  # depth, ties by index
        rgb = torch.zeros(height, width, 3, dtype=dt)
        depth = torch.zeros(height, width, dtype=dt)
        trans = torch.ones(height, width, dtype=dt)
        done = torch.zeros(height, width, dtype=torch.bool)
        for _, n, mx, my, conic, color, z in splats:
            dx, dy = mx - px, my - py
            sigma = 0.5 * (conic[0, 0] * dx * dx + conic[1, 1] * dy * dy) + conic[0, 1] * dx * dy
            alpha = torch.clamp_max(opacities[n] * torch.exp(-sigma), 0.999)
            use = (sigma >= 0) & (alpha >= 1 / 255) & ~done
            next_t = trans * (1 - alpha)
            stop = use & (next_t <= 1e-4)
            done |= stop
            use &= ~stop
            weight = torch.where(use, alpha * trans, 0.0)
            rgb = rgb + weight[..., None] * color
            depth = depth + weight * z
            trans = torch.where(use, next_t, trans)
        stopped += int(done.sum())
        if backgrounds is not None:
            rgb = rgb + trans[..., None] * backgrounds[cam]
        rgbs.append(rgb)
        depths.append(depth / (1 - trans).clamp_min(1e-10))
        alphas.append(1 - trans)
    return torch.stack(rgbs), torch.stack(depths)[..., None], torch.stack(alphas)[..., None], stopped


def _random_scene(n: int, dtype: torch.dtype, seed: int = 0, sh_degree: int = 3):
    """Gaussians in a 1.4 m box, half of them fully opaque, plus two big ones off-screen."""
    g = torch.Generator().manual_seed(seed)
    means = (torch.rand(n, 3, generator=g) - 0.5) * 1.4
    quats = torch.randn(n, 4, generator=g)
    scales = torch.rand(n, 3, generator=g) * 0.2 + 0.05
    opacities = torch.where(torch.rand(n, generator=g) < 0.5, torch.ones(n), torch.rand(n, generator=g))
    sh = torch.randn(n, (sh_degree + 1) ** 2, 3, generator=g) * 0.4
    # Far outside the field of view but wide enough to reach into it: exercises the
    # Jacobian's field-of-view clamp.
    means[:2] = torch.tensor([[0.0, 3.5, 0.3], [0.2, -0.3, 3.0]])
    scales[:2] = 1.2
    return [t.to(dtype) for t in (means, quats, scales, opacities, sh)]


def _two_cameras(width: int, height: int) -> Cameras:
    eyes = torch.tensor([[2.5, 0.3, 0.8], [0.2, -2.2, 1.5]])
    return look_at_cameras(eyes, torch.zeros(2, 3), width, height, fov_y_deg=50.0)


# --------------------------------------------------------------------------- single Gaussians


def test_single_gaussian_peak_alpha_color_and_depth():
    d, s, f, opacity = 2.0, 0.02, 100.0, 0.8
    color = torch.tensor([0.9, 0.4, 0.1])
    out = render(_scene([[0.0, 0.0, d]], s, opacity, color), _pinhole(33, 33, f), backend="torch")
    alpha = out.alpha[0, ..., 0]
    peak = divmod(int(alpha.argmax()), 33)
    assert peak == (16, 16)  # pixel centers are at +0.5: pixel 16 sits on cx = 16.5
    assert alpha[16, 16].item() == pytest.approx(opacity, abs=1e-6)
    torch.testing.assert_close(out.rgb[0, 16, 16], opacity * color, atol=1e-6, rtol=0)
    assert out.depth[0, 16, 16, 0].item() == pytest.approx(d, abs=1e-5)
    # One pixel over: the projected variance is (f s / d)^2 plus the 0.3 px^2 low-pass.
    var2d = (f * s / d) ** 2 + 0.3
    expected = opacity * math.exp(-0.5 / var2d)
    for y, x in ((16, 17), (16, 15), (15, 16), (17, 16)):
        assert alpha[y, x].item() == pytest.approx(expected, abs=1e-6)
    assert alpha[16, 18].item() == pytest.approx(opacity * math.exp(-0.5 * 4 / var2d), abs=1e-6)
    # the image is otherwise empty: background black, depth 0 where nothing was hit
    assert alpha[0, 0] == 0 and out.depth[0, 0, 0, 0] == 0


def test_off_center_gaussian_lands_on_its_projected_pixel():
    # x / z = 0.1 projects f * 0.1 = 10 px right of the principal point: pixel 26 (center 26.5).
    out = render(_scene([[0.2, -0.06, 2.0]], 0.02, 0.6, [1.0, 1.0, 1.0]), _pinhole(33, 33, 100.0), backend="torch")
    alpha = out.alpha[0, ..., 0]
    assert divmod(int(alpha.argmax()), 33) == (16 - 3, 26)
    assert alpha.max().item() == pytest.approx(0.6, abs=1e-6)


def test_front_gaussian_wins_regardless_of_input_order():
    red, blue = [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]
    means = [[0.0, 0.0, 2.0], [0.0, 0.0, 4.0]]
    cams = _pinhole(21, 21, 50.0)
    front_first = render(_scene(means, 0.1, 0.9, torch.tensor([red, blue])), cams, backend="torch")
    back_first = render(_scene(means[::-1], 0.1, 0.9, torch.tensor([blue, red])), cams, backend="torch")
    for out in (front_first, back_first):
        torch.testing.assert_close(out.rgb[0, 10, 10], torch.tensor([0.9, 0.0, 0.1 * 0.9]), atol=1e-6, rtol=0)
        assert out.alpha[0, 10, 10, 0].item() == pytest.approx(0.99, abs=1e-6)
        assert out.depth[0, 10, 10, 0].item() == pytest.approx((0.9 * 2 + 0.09 * 4) / 0.99, abs=1e-5)
    torch.testing.assert_close(front_first.rgb, back_first.rgb, atol=1e-6, rtol=0)


def test_opaque_gaussians_clamp_alpha_and_stop_the_pixel():
    """Alpha is clamped to 0.999; a pixel stops *before* the Gaussian that would take T to <= 1e-4."""
    single = render(_scene([[0.0, 0.0, 2.0]], 0.2, 1.0, [1.0, 1.0, 1.0]), _pinhole(9, 9, 20.0), backend="torch")
    assert single.alpha[0, 4, 4, 0].item() == pytest.approx(0.999, abs=1e-7)
    means = [[0.0, 0.0, 2.0], [0.0, 0.0, 3.0], [0.0, 0.0, 4.0]]
    rgb = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    out = render(_scene(means, 0.2, 0.98, rgb), _pinhole(9, 9, 20.0), backend="torch")
    # T: 1 -> 0.02 -> 0.0004 (> 1e-4, counted) -> 8e-6 (<= 1e-4): the blue one is never added.
    torch.testing.assert_close(out.rgb[0, 4, 4], torch.tensor([0.98, 0.02 * 0.98, 0.0]), atol=1e-6, rtol=0)
    assert out.alpha[0, 4, 4, 0].item() == pytest.approx(1 - 0.02 * 0.02, abs=1e-6)


@pytest.mark.parametrize(
    "z, near, far",
    [(0.005, 0.01, 1e10), (-1.0, 0.01, 1e10), (2.0, 2.5, 1e10), (2.0, 0.01, 1.5)],
)
def test_gaussians_outside_the_depth_range_do_not_render(z, near, far):
    scene = _scene([[0.0, 0.0, z]], 0.5, 0.9, [1.0, 1.0, 1.0])
    out = render(scene, _pinhole(16, 16, 20.0), backend="torch", near_plane=near, far_plane=far)
    assert out.alpha.abs().max() == 0 and out.rgb.abs().max() == 0


# --------------------------------------------------------------------------- scenes


def _wall(x: float, spacing: float = 0.05) -> GaussianScene:
    """Flat Gaussians on the plane ``X = x`` (world, Z up), facing the origin."""
    ys = torch.arange(-3.0, 3.0, spacing)
    zs = torch.arange(-1.5, 3.5, spacing)
    yy, zz = torch.meshgrid(ys, zs, indexing="ij")
    means = torch.stack([torch.full_like(yy, x), yy, zz], -1).reshape(-1, 3)
    # half a right angle about y turns the splat's thin local z axis onto world x
    quat = torch.tensor([math.cos(math.pi / 4), 0.0, math.sin(math.pi / 4), 0.0])
    scales = torch.tensor([spacing * 0.8, spacing * 0.8, 1e-3])
    return _scene(means, scales, 0.9, [0.5, 0.6, 0.7], quats=quat.expand(len(means), 4).clone())


def test_expected_depth_of_a_wall_is_its_distance():
    cams = look_at_cameras(torch.tensor([[0.0, 0.0, 1.0]]), torch.tensor([[1.0, 0.0, 1.0]]), 48, 32, 60.0)
    out = render(_wall(3.0), cams, backend="torch")
    assert out.alpha.min() > 0.999  # fully covered
    torch.testing.assert_close(out.depth, torch.full_like(out.depth, 3.0), atol=1e-4, rtol=0)
    torch.testing.assert_close(out.rgb, torch.tensor([0.5, 0.6, 0.7]).expand_as(out.rgb), atol=1e-3, rtol=0)


@pytest.mark.parametrize(
    "point, pixel",
    [
        ((3.0, 0.0, 0.0), (24.5 + 40 / 3, 32.5)),  # on the floor ahead: below the image center
        ((3.0, 1.0, 1.0), (24.5, 32.5 - 40 / 3)),  # world +y is to the left when looking along +x
        ((3.0, 0.0, 2.0), (24.5 - 40 / 3, 32.5)),  # world +z is up in the image
    ],
)
def test_world_axes_land_where_expected(point, pixel):
    """Z-up world, OpenCV camera (y down): a camera at 1 m height looking along +x, f = 40 px."""
    viewmats = look_at(torch.tensor([[0.0, 0.0, 1.0]]), torch.tensor([[1.0, 0.0, 1.0]]))
    out = render(_scene([point], 0.01, 0.5, [1.0, 1.0, 1.0]), _pinhole(65, 49, 40.0, viewmats), backend="torch")
    row, col = divmod(int(out.alpha[0, ..., 0].argmax()), 65)
    assert (row, col) == (math.floor(pixel[0]), math.floor(pixel[1]))  # pixel i spans [i, i + 1)
    assert out.depth[0, row, col, 0].item() == pytest.approx(3.0, abs=1e-5)  # camera z = distance along +x


def test_background_blends_with_one_minus_alpha_and_not_into_depth():
    scene = _scene([[0.0, 0.0, 2.0]], 0.05, 0.7, [0.2, 0.9, 0.4])
    cams = _pinhole(24, 20, 60.0, torch.eye(4).expand(2, 4, 4).clone())
    bg = torch.tensor([[0.1, 0.2, 0.3], [1.0, 0.5, 0.0]])
    plain = render(scene, cams, backend="torch")
    blended = render(scene, cams, backend="torch", background=bg)
    torch.testing.assert_close(blended.rgb - plain.rgb, (1 - plain.alpha) * bg[:, None, None, :], atol=1e-6, rtol=0)
    torch.testing.assert_close(blended.depth, plain.depth)
    torch.testing.assert_close(blended.alpha, plain.alpha)
    shared = render(scene, cams, backend="torch", background=bg[1])
    torch.testing.assert_close(shared.rgb[1], blended.rgb[1])


def test_invisible_scene_renders_the_background():
    """Opacities below 1/255 are culled (gsplat); nothing in front of the camera draws nothing."""
    faint = _scene([[0.0, 0.0, 2.0], [0.1, 0.0, 3.0]], 0.5, 0.003, [1.0, 1.0, 1.0])
    behind = _scene([[0.0, 0.0, -2.0]], 0.5, 0.9, [1.0, 1.0, 1.0])
    for scene in (faint, behind):
        out = render(scene, _pinhole(8, 6, 10.0), background=torch.tensor([0.3, 0.6, 0.9]))
        torch.testing.assert_close(out.rgb, torch.tensor([0.3, 0.6, 0.9]).expand(1, 6, 8, 3))
        assert out.alpha.abs().max() == 0 and out.depth.abs().max() == 0


def test_empty_scene_renders_the_background():
    empty = _scene(torch.zeros(0, 3), 0.1, 0.5, [0.0, 0.0, 0.0])
    cams = _pinhole(8, 6, 10.0)
    out = render(empty, cams, background=torch.tensor([0.3, 0.6, 0.9]))
    assert out.rgb.shape == (1, 6, 8, 3) and out.depth.shape == (1, 6, 8, 1) and out.alpha.shape == (1, 6, 8, 1)
    torch.testing.assert_close(out.rgb, torch.tensor([0.3, 0.6, 0.9]).expand(1, 6, 8, 3))
    assert out.alpha.abs().max() == 0 and out.depth.abs().max() == 0
    assert render(empty, cams, "ED").rgb is None


# --------------------------------------------------------------------------- against the dense reference


@pytest.mark.parametrize(
    "config",
    [
        RasterConfig(),
        RasterConfig(tile_size=4),
        RasterConfig(tile_size=16),
        # small budgets: one camera per group, several tile groups per round, short chunks,
        # small blocks of Gaussians and pairs, odd tile size
        RasterConfig(
            tile_size=5, chunk_elements=2000, block_elements=64, batch_gaussians=1, min_chunk=4, max_chunk=32
        ),
    ],
    ids=["default", "tile4", "tile16", "small-chunks"],
)
def test_tiled_rasterizer_matches_dense_reference_float64(config):
    means, quats, scales, opacities, sh = _random_scene(150, torch.float64)
    cams = _two_cameras(37, 29)
    viewmats, ks = cams.viewmats.double(), cams.Ks.double()
    bg = torch.tensor([[0.1, 0.2, 0.3], [0.5, 0.5, 0.0]], dtype=torch.float64)
    ref_rgb, ref_depth, ref_alpha, stopped = _reference(
        means, quats, scales, opacities, sh, viewmats, ks, 37, 29, 3, bg
    )
    assert stopped > 200  # early termination is exercised (~17 % of the pixels)
    for grad in (False, True):  # in-place inference path and the autograd path
        params = [t.clone().requires_grad_(grad) for t in (means, quats, scales, opacities, sh)]
        out, alpha = rasterization(
            *params, viewmats, ks, 37, 29, sh_degree=3, backgrounds=bg, render_mode="RGB+ED", config=config
        )
        assert out.requires_grad == grad
        torch.testing.assert_close(out[..., :3], ref_rgb, atol=1e-10, rtol=0)
        torch.testing.assert_close(out[..., 3:], ref_depth, atol=1e-9, rtol=0)
        torch.testing.assert_close(alpha, ref_alpha, atol=1e-10, rtol=0)


def test_render_matches_dense_reference_float32():
    means, quats, scales, opacities, sh = _random_scene(150, torch.float32, seed=1, sh_degree=2)
    scene = GaussianScene(means, quats, scales, opacities, sh)
    cams = _two_cameras(40, 30)
    with torch.no_grad():
        out = render(scene, cams, backend="torch")
    d = torch.float64
    ref_rgb, ref_depth, ref_alpha, _ = _reference(
        means.to(d), quats.to(d), scales.to(d), opacities.to(d), sh.to(d), cams.viewmats.to(d), cams.Ks.to(d), 40, 30, 2
    )
    for got, ref in ((out.rgb, ref_rgb), (out.alpha, ref_alpha)):
        err = (got.double() - ref).abs()
        assert err.max() < 1e-4 and err.mean() < 1e-6
    hit = ref_alpha > 0.5
    assert ((out.depth.double() - ref_depth).abs()[hit] / ref_depth[hit]).max() < 1e-5


def test_cameras_batch_equals_one_at_a_time():
    means, quats, scales, opacities, sh = _random_scene(80, torch.float32, seed=2)
    scene = GaussianScene(means, quats, scales, opacities, sh)
    cams = _two_cameras(30, 20)
    both = render(scene, cams, backend="torch")
    for i in range(2):
        one = render(scene, cams[i], backend="torch")
        torch.testing.assert_close(both.rgb[i : i + 1], one.rgb)
        torch.testing.assert_close(both.depth[i : i + 1], one.depth)


def test_quaternion_norm_does_not_matter():
    means, quats, scales, opacities, sh = _random_scene(60, torch.float32, seed=3)
    cams = _two_cameras(24, 24)
    a = render(GaussianScene(means, quats, scales, opacities, sh), cams, backend="torch")
    b = render(GaussianScene(means, 3.7 * quats, scales, opacities, sh), cams, backend="torch")
    torch.testing.assert_close(a.rgb, b.rgb, atol=1e-5, rtol=0)


def test_modes_split_the_same_render():
    means, quats, scales, opacities, sh = _random_scene(60, torch.float32, seed=4)
    scene = GaussianScene(means, quats, scales, opacities, sh)
    cams = _two_cameras(24, 16)
    both = render(scene, cams, "RGB+ED")
    rgb_only = render(scene, cams, "RGB")
    depth_only = render(scene, cams, "ED")
    assert isinstance(both, RenderOutput) and set(MODES) == {"RGB", "ED", "RGB+ED"}
    assert rgb_only.depth is None and depth_only.rgb is None
    torch.testing.assert_close(rgb_only.rgb, both.rgb)
    torch.testing.assert_close(depth_only.depth, both.depth)
    torch.testing.assert_close(depth_only.alpha, both.alpha)


# --------------------------------------------------------------------------- gradients


def test_gradcheck_float64_tiny_scene():
    """Finite differences vs autograd through projection, SH (degree 1) and compositing.

    Wide, semi-transparent Gaussians keep every pixel away from the non-smooth points
    (alpha threshold, 0.999 clamp, early stop), where finite differences are meaningless.
    """
    g = torch.Generator().manual_seed(0)
    d = torch.float64
    means = (torch.tensor([[0.0, 0.0, 3.0], [0.3, -0.2, 3.5], [-0.4, 0.1, 4.0]], dtype=d)).requires_grad_()
    quats = torch.randn(3, 4, generator=g, dtype=d).requires_grad_()
    scales = torch.tensor([[0.8, 1.0, 1.2], [1.1, 0.7, 0.9], [1.0, 1.3, 0.8]], dtype=d).requires_grad_()
    opacities = torch.tensor([0.5, 0.4, 0.6], dtype=d).requires_grad_()
    sh = (0.5 * torch.randn(3, 4, 3, generator=g, dtype=d)).requires_grad_()
    cams = _pinhole(10, 8, 20.0)
    viewmats, ks = cams.viewmats.double(), cams.Ks.double()

    def fn(m, q, s, o, c):
        out, alpha = rasterization(m, q, s, o, c, viewmats, ks, 10, 8, sh_degree=1, render_mode="RGB+ED")
        return torch.cat([out.reshape(-1), alpha.reshape(-1)])

    assert fn(means, quats, scales, opacities, sh)[-80:].min() > 0.1  # every pixel covered
    # fast mode checks random projections u^T J v: one backward instead of one per output.
    inputs = (means, quats, scales, opacities, sh)
    assert torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, fast_mode=True)


def test_gradients_flow_through_render():
    means, quats, scales, opacities, sh = _random_scene(100, torch.float32, seed=5)
    params = [t.clone().requires_grad_() for t in (means, quats, scales, opacities, sh)]
    scene = GaussianScene(*params)
    out = render(scene, _two_cameras(32, 24), backend="torch")
    target = torch.rand(out.rgb.shape, generator=torch.Generator().manual_seed(0))
    loss = ((out.rgb - target) ** 2).mean() + 0.1 * out.depth.mean() + out.alpha.mean()
    loss.backward()
    for name, p in zip(("means", "quats", "scales", "opacities", "sh"), params):
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


# --------------------------------------------------------------------------- API and backends


def test_import_and_cpu_render_do_not_import_gsplat():
    code = (
        "import sys, torch\n"
        "import lyra_sim.render as r\n"
        "from lyra_sim.cameras import look_at_cameras\n"
        "from lyra_sim.scene import GaussianScene\n"
        "s = GaussianScene.from_rgb(torch.zeros(1, 3), torch.tensor([[1., 0, 0, 0]]), torch.full((1, 3), .1),"
        " torch.ones(1), torch.ones(1, 3))\n"
        "c = look_at_cameras(torch.tensor([[2., 0, 0]]), torch.zeros(1, 3), 16, 16)\n"
        "assert r.render(s, c).alpha.max() > 0\n"
        "assert 'gsplat' not in sys.modules, 'gsplat was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_backend_registry_and_errors():
    assert set(BACKENDS) == {"torch", "numba", "gsplat"}
    scene = _scene([[0.0, 0.0, 2.0]], 0.1, 0.5, [1.0, 1.0, 1.0])
    cams = _pinhole(8, 8, 10.0)
    with pytest.raises(ValueError, match=r"mode: .*accepted: RGB, ED, RGB\+ED"):
        render(scene, cams, "D")
    with pytest.raises(ValueError, match="backend: .*accepted: auto, torch, numba, gsplat"):
        render(scene, cams, backend="cuda")
    with pytest.raises(ValueError, match="gsplat' needs CUDA tensors"):
        render(scene, cams, backend="gsplat")
    with pytest.raises(ValueError, match="near_plane"):
        render(scene, cams, near_plane=0.0)
    with pytest.raises(ValueError, match="background: expected shape"):
        render(scene, cams, background=torch.ones(2, 3))


def test_gsplat_backend_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "gsplat", None)  # makes `import gsplat` fail
    means = SimpleNamespace(device=torch.device("cuda"))  # only its device is read before the import
    with pytest.raises(ImportError, match=r'pip install "lyra-sim\[gpu\]"'):
        BACKENDS["gsplat"](means, *([None] * 13))


def test_raster_config_validation():
    with pytest.raises(ValueError, match="tile_size"):
        RasterConfig(tile_size=0)
    with pytest.raises(ValueError, match="near_plane"):
        RasterConfig(near_plane=1.0, far_plane=0.5)
    with pytest.raises(ValueError, match="render_mode"):
        rasterization(*(torch.zeros(0, k) for k in (3, 4, 3)), torch.zeros(0), torch.zeros(0, 3),
                      torch.eye(4)[None], torch.eye(3)[None], 4, 4, render_mode="RGB+D")
