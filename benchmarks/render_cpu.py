"""CPU timings of the PyTorch rasterizer (``lyra_sim.render``, backend "torch").

Usage: ``python benchmarks/render_cpu.py [--repeats 3] [--threads N] [--bundle runs/kitchen]``

The scene is random but shaped like what ``lyra-sim generate`` produces: flat Gaussians
scattered over the floor, walls and ceiling of a 6 x 5 x 3 m room plus a few boxes, seen
from inside the room. Prints one table row per case: Gaussians, resolution, cameras,
seconds per call (best of ``--repeats``), frames per second.

With ``--bundle``, also the Gymnasium env's observation: 64x64, 90° hfov cameras at 1 m
height on free nav cells with random yaw, each drawing its level-of-detail selection
(``pixel_ratio`` 3 and 2: about 5k and 9k Gaussians), RGB, one camera per call. Each row
reports the mean Gaussian count, the pixel ratio and CPU time (``time.process_time``, best
of ``--repeats`` per view, summed) per frame: the machine may be shared.
"""

from __future__ import annotations

import argparse
import math
import time

import torch

from lyra_sim.cameras import look_at_cameras
from lyra_sim.render import render
from lyra_sim.scene import GaussianScene, rgb_to_sh

ROOM = (6.0, 5.0, 3.0)


def random_room(num_gaussians: int, seed: int = 0, sh_degree: int = 3) -> GaussianScene:
    """Surface Gaussians on a box room and four boxes inside it (Z up, meters)."""
    g = torch.Generator().manual_seed(seed)
    sx, sy, sz = ROOM
    # (origin, edge u, edge v, outward normal) of each rectangle; boxes as their visible faces.
    rects = [
        ((0, 0, 0), (sx, 0, 0), (0, sy, 0)),  # floor
        ((0, 0, sz), (sx, 0, 0), (0, sy, 0)),  # ceiling
        ((0, 0, 0), (sx, 0, 0), (0, 0, sz)),
        ((0, sy, 0), (sx, 0, 0), (0, 0, sz)),
        ((0, 0, 0), (0, sy, 0), (0, 0, sz)),
        ((sx, 0, 0), (0, sy, 0), (0, 0, sz)),
    ]
    for bx, by, bs in ((1.5, 1.2, 0.8), (4.2, 1.0, 0.6), (4.5, 3.8, 1.0), (1.2, 3.5, 0.7)):
        for du, dv, o in (((bs, 0, 0), (0, bs, 0), (bx, by, bs)), ((bs, 0, 0), (0, 0, bs), (bx, by, 0)),
                          ((0, bs, 0), (0, 0, bs), (bx, by, 0)), ((bs, 0, 0), (0, 0, bs), (bx, by + bs, 0)),
                          ((0, bs, 0), (0, 0, bs), (bx + bs, by, 0))):
            rects.append((o, du, dv))
    origin, eu, ev = (torch.tensor([r[i] for r in rects], dtype=torch.float32) for i in range(3))
    area = torch.linalg.cross(eu, ev).norm(dim=-1)
    which = torch.multinomial(area, num_gaussians, replacement=True, generator=g)
    uv = torch.rand(num_gaussians, 2, generator=g)
    means = origin[which] + uv[:, :1] * eu[which] + uv[:, 1:] * ev[which]
    normal = torch.nn.functional.normalize(torch.linalg.cross(eu[which], ev[which]), dim=-1)
    # Flat splats: rotate local z onto the surface normal (shortest arc), random roll.
    z = torch.tensor([0.0, 0.0, 1.0]).expand_as(normal)
    axis = torch.linalg.cross(z, normal)
    quats = torch.cat([1 + (z * normal).sum(-1, keepdim=True), axis], -1)
    flip = quats.norm(dim=-1) < 1e-6  # normal == -z: rotate half a turn about x
    quats[flip] = torch.tensor([0.0, 1.0, 0.0, 0.0])
    spacing = math.sqrt(float(area.sum()) / num_gaussians)
    scales = spacing * (0.6 + 0.8 * torch.rand(num_gaussians, 3, generator=g))
    scales[:, 2] = spacing * 0.05
    rgb = 0.2 + 0.6 * torch.rand(len(rects), 3, generator=g)[which] + 0.1 * torch.rand(num_gaussians, 3, generator=g)
    sh = torch.zeros(num_gaussians, (sh_degree + 1) ** 2, 3)
    sh[:, 0] = rgb_to_sh(rgb.clamp(0, 1))
    sh[:, 1:] = 0.05 * torch.randn(num_gaussians, sh.shape[1] - 1, 3, generator=g)
    opacities = 0.5 + 0.5 * torch.rand(num_gaussians, generator=g)
    return GaussianScene(means, quats, scales, opacities, sh)


def room_cameras(count: int, width: int, height: int):
    """Cameras near the walls, each looking across the room (they see most of it)."""
    angles = torch.arange(count) * (2 * math.pi / count) + 0.3
    center = torch.tensor(ROOM) / 2
    offset = torch.stack([2.5 * torch.cos(angles), 2.0 * torch.sin(angles), torch.full_like(angles, 0.3)], -1)
    return look_at_cameras(center + offset, center - 0.3 * offset, width, height, fov_y_deg=70.0)


def time_render(scene: GaussianScene, cameras, repeats: int) -> float:
    best = math.inf
    with torch.no_grad():
        for _ in range(repeats):
            t0 = time.perf_counter()
            render(scene, cameras, mode="RGB+ED", backend="torch")
            best = min(best, time.perf_counter() - t0)
    return best


def lod_views(bundle: str, count: int, size: int = 64, pixel_ratio: float = 3.0, seed: int = 0):
    """``count`` (Gaussian fields, Cameras) pairs: the env's level-of-detail views of ``bundle``."""
    import numpy as np

    from lyra_sim.cameras import Cameras
    from lyra_sim.envs.views import agent_viewmats
    from lyra_sim.exporters.nav_grid import read_nav
    from lyra_sim.render.lod import build_lod
    from lyra_sim.ply import read_ply

    lod = build_lod(read_ply(f"{bundle}/scene.ply"))
    nav = read_nav(f"{bundle}/nav.npz")
    rng = np.random.default_rng(seed)
    nx = nav.distance.shape[1]
    cells = rng.choice(np.nonzero(nav.distance.reshape(-1) >= 0.3)[0], count, replace=False)
    xy = torch.tensor(nav.origin + (np.stack([cells % nx, cells // nx], 1) + 0.5) * nav.resolution, dtype=torch.float32)
    yaw = torch.tensor(rng.uniform(0, 2 * math.pi, count), dtype=torch.float32)
    viewmats = agent_viewmats(xy, yaw, torch.full((count,), nav.floor_z + 1.0), 0.0)
    k = torch.tensor([[size / 2, 0, size / 2], [0, size / 2, size / 2], [0, 0, 1]], dtype=torch.float32)
    views = []
    for i in range(count):
        cam = Cameras(viewmats[i : i + 1], k[None], size, size)
        ids, _ = lod.select(cam, pixel_ratio, near_plane=0.05)
        s = lod.scene
        views.append(([x.index_select(0, ids) for x in (s.means, s.quats, s.scales, s.opacities, s.sh)], s.sh_degree, cam))
    return views


def time_lod_views(views, repeats: int) -> float:
    """CPU seconds per frame of `rasterize` (PyTorch backend) on `lod_views` (env settings: near 0.05, far 100)."""
    from lyra_sim.render import rasterize

    total = 0.0
    with torch.no_grad():
        for fields, sh_degree, cam in views:
            best = math.inf
            for _ in range(repeats):
                t0 = time.process_time()
                rasterize(*fields, cam.viewmats, cam.Ks, cam.width, cam.height, sh_degree=sh_degree, near_plane=0.05,
                          far_plane=100.0, backend="torch")
                best = min(best, time.process_time() - t0)
            total += best
    return total / len(views)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--bundle", default=None, help="bundle directory (scene.ply, nav.npz) for the env's LOD views")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cases = [(300_000, 512, 384, 1), (500_000, 512, 384, 1), (300_000, 64, 64, 1), (300_000, 64, 64, 16),
             (50_000, 64, 64, 1)]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, mode RGB+ED, SH degree 3")
    print(f"{'gaussians':>10} {'resolution':>10} {'cameras':>8} {'seconds':>9} {'frames/s':>9}")
    scenes: dict[int, GaussianScene] = {}
    for n, w, h, c in cases:
        scene = scenes.setdefault(n, random_room(n))
        seconds = time_render(scene, room_cameras(c, w, h), args.repeats)
        print(f"{n:>10} {f'{w}x{h}':>10} {c:>8} {seconds:>9.3f} {c / seconds:>9.1f}")
    if args.bundle:
        for pixel_ratio in (3.0, 2.0):
            views = lod_views(args.bundle, count=20, pixel_ratio=pixel_ratio)
            n = round(sum(len(v[0][0]) for v in views) / len(views))
            seconds = time_lod_views(views, args.repeats)
            label = f"~{n} LOD{pixel_ratio:g}"
            print(f"{label:>10} {'64x64':>10} {1:>8} {seconds:>9.4f} {1 / seconds:>9.1f}")


if __name__ == "__main__":
    main()
