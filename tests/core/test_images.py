"""`lyra_sim.images.to_uint8`: float images in [0, 1] → uint8, clamped, round half up."""

import pytest
import torch

from lyra_sim.images import to_uint8

LEVELS = torch.arange(256, dtype=torch.float64)


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64])
def test_exact_levels_map_to_themselves(dtype):
    out = to_uint8((LEVELS / 255).to(dtype))
    assert out.dtype == torch.uint8
    assert torch.equal(out, LEVELS.to(torch.uint8))


def test_endpoints():
    assert to_uint8(torch.tensor([0.0, 1.0])).tolist() == [0, 255]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_half_steps_round_up_and_just_below_rounds_down(dtype):
    k = LEVELS[:255]
    assert torch.equal(to_uint8(((k + 0.5) / 255).to(dtype)), (k + 1).to(torch.uint8))
    assert torch.equal(to_uint8(((k + 0.49) / 255).to(dtype)), k.to(torch.uint8))
    assert torch.equal(to_uint8(((k + 0.51) / 255).to(dtype)), (k + 1).to(torch.uint8))
    assert to_uint8(torch.tensor([0.5 / 255], dtype=dtype)).item() == 1
    assert to_uint8(torch.tensor([0.49 / 255], dtype=dtype)).item() == 0


def test_out_of_range_values_are_clamped():
    x = torch.tensor([-1e9, -0.2, -0.0, 1.0001, 7.0, float("inf"), float("-inf")])
    assert to_uint8(x).tolist() == [0, 0, 0, 255, 255, 255, 0]


def test_shape_and_device_are_kept():
    rgb = torch.rand(2, 5, 7, 3)
    out = to_uint8(rgb)
    assert out.shape == rgb.shape and out.device == rgb.device
    meta = to_uint8(torch.zeros(4, 3, device="meta"))  # any device: the conversion never moves data
    assert meta.device.type == "meta" and meta.dtype == torch.uint8 and meta.shape == (4, 3)


def test_input_is_not_modified():
    rgb = torch.tensor([[-0.5, 0.25, 1.5]])
    before = rgb.clone()
    to_uint8(rgb)
    assert torch.equal(rgb, before)


@pytest.mark.gpu
def test_stays_on_cuda():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    out = to_uint8(torch.tensor([0.0, 0.5 / 255, 1.0], device="cuda"))
    assert out.device.type == "cuda" and out.cpu().tolist() == [0, 1, 255]
