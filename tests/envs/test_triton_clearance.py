"""The Triton kernel of the moving parts' clearance (`envs.triton_clearance`) against its PyTorch reference.

Bit for bit: the kernel does the reference's float32 operations in its order, without fused
multiply-adds. Without CUDA the kernel runs in Triton's interpreter (``TRITON_INTERPRET=1``, set
before the kernel is defined); the gpu test compares the compiled kernel with the reference on CUDA.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

pytest.importorskip("triton")
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")  # read when the kernel is decorated

from _dynamic import box_room_dynamic_bundle_by_hand  # noqa: E402
from lyra_sim.envs.moving_parts import FOOTPRINT_PAD, MovingParts, read_parts  # noqa: E402
from lyra_sim.envs.nav_fields import NavFields, scene_grid  # noqa: E402
from lyra_sim.envs.triton_clearance import BLOCK, grid_clearance, part_clearance  # noqa: E402
from lyra_sim.exporters.nav_grid import NavGrid  # noqa: E402


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    bundle = box_room_dynamic_bundle_by_hand(tmp_path_factory.mktemp("dyn") / "b")
    # Scene 0 has the cart and the door leaf, scene 1 none: its slots read -1.
    return MovingParts([read_parts(bundle), []], [(0.05, 1.2), (0.05, 1.2)], radius=0.2)


def _queries(parts: MovingParts, n: int, seed: int, device: str):
    rng = np.random.default_rng(seed)
    scene = torch.as_tensor(rng.integers(0, 2, n), device=device)
    t = torch.as_tensor(rng.uniform(-1.0, 9.0, n), dtype=torch.float32, device=device)
    # Around the room (4 x 3 m box at the origin) and well past the footprints' padded fields.
    xy = torch.as_tensor(rng.uniform([-3.5, -3.0], [3.5, 3.0], (n, 2)), dtype=torch.float32, device=device)
    p = parts.to(device)
    return p, p.frames(scene, t), xy


def _kernel(p: MovingParts, frames, xy):
    return part_clearance(*frames, xy, p.fields, p.origin, p.required, p.inv_resolution, FOOTPRINT_PAD)


def test_kernel_is_the_reference_bit_for_bit(parts):
    n = 3 * BLOCK + 17  # several programs and a partial last one
    p, frames, xy = _queries(parts, n, 0, "cpu")
    margin, grad = _kernel(p, frames, xy)
    ref_margin, ref_grad = p.clearance_reference(frames, xy)
    assert torch.equal(margin, ref_margin) and torch.equal(grad, ref_grad)
    # The queries reach every case: inside a footprint, near one, past every field, and scenes without parts.
    assert (ref_margin < 0).any() and ((ref_margin > 0) & (ref_margin < 0.3)).any()
    assert (ref_margin == FOOTPRINT_PAD).sum() >= n // 3


def test_kernel_on_no_agents_and_one_slot(parts):
    p, frames, xy = _queries(parts, 5, 1, "cpu")
    empty = tuple(f[:0] for f in frames)
    margin, grad = _kernel(p, empty, xy[:0])
    assert margin.shape == (0,) and grad.shape == (0, 2)
    one = tuple(f[:, :1] for f in frames)  # K = 1: only the first part slot
    assert all(torch.equal(a, b) for a, b in zip(_kernel(p, one, xy), p.clearance_reference(one, xy)))


@pytest.mark.gpu
def test_compiled_kernel_is_the_reference_on_cuda(parts):
    p, frames, xy = _queries(parts, 100_000, 2, "cuda")
    margin, grad = p.clearance(frames, xy)  # dispatches to the kernel on CUDA
    ref_margin, ref_grad = p.clearance_reference(frames, xy)
    assert torch.equal(margin, ref_margin) and torch.equal(grad, ref_grad)


@pytest.fixture(scope="module")
def grids():
    """Two rooms of 2.5 cm cells (not exact in binary, so the division's rounding shows) at odd origins."""
    out = []
    for seed, (ny, nx), origin in ((0, (40, 56), (0.0137, -0.713)), (1, (33, 30), (-2.31, 1.05))):
        rng = np.random.default_rng(seed)
        floor = np.zeros((ny, nx), np.uint8)
        floor[2:-2, 2:-2] = 1
        heights = np.where(rng.random((ny, nx)) < 0.004, 0.5, np.inf).astype(np.float32)
        blocked = ((floor == 0) | (heights < 1.8)).astype(np.uint8)
        nav = NavGrid(blocked, np.zeros((ny, nx), np.float32), np.asarray(origin), 0.025, 0.0, np.array([0.05, 1.8]),
                      floor, heights)
        out.append(scene_grid(nav, radius=0.05, height=1.0, goals=2))
    return out


@pytest.fixture(scope="module")
def nav_fields(grids):
    return NavFields(grids)


def _grid_queries(fields, n: int, seed: int):
    rng = np.random.default_rng(seed)
    scene = torch.as_tensor(rng.integers(0, fields.clearance.shape[0], n))
    h, w = fields.shape
    extent = torch.tensor([w, h]) * fields.resolution[scene, None]
    # Over the grids and up to a fifth of them past every edge (the fill reads 0 there).
    xy = fields.origin[scene] + extent * torch.as_tensor(rng.uniform(-0.2, 1.2, (n, 2)), dtype=torch.float32)
    return scene, xy


def test_grid_kernel_is_the_reference_bit_for_bit(nav_fields):
    scene, xy = _grid_queries(nav_fields, 2 * BLOCK + 5, 4)
    value, grad = grid_clearance(scene, xy, nav_fields.clearance, nav_fields.origin, nav_fields.resolution, True)
    ref_value, ref_grad = nav_fields.clearance_reference(scene, xy, gradient=True)
    assert torch.equal(value, ref_value) and torch.equal(grad, ref_grad)
    assert (ref_value == 0).any() and (ref_value > 0.2).any()  # off the grids and deep in free space
    plain, none = grid_clearance(scene, xy, nav_fields.clearance, nav_fields.origin, nav_fields.resolution, False)
    assert none is None and torch.equal(plain, ref_value)


@pytest.mark.gpu
def test_compiled_grid_kernel_is_the_reference_on_cuda(grids, nav_fields):
    fields = NavFields(grids, device="cuda")
    scene, xy = _grid_queries(nav_fields, 100_000, 5)
    scene, xy = scene.cuda(), xy.cuda()
    value, grad = fields.clearance_at(scene, xy, gradient=True)  # dispatches to the kernel on CUDA
    ref_value, ref_grad = fields.clearance_reference(scene, xy, gradient=True)
    assert torch.equal(value, ref_value) and torch.equal(grad, ref_grad)
