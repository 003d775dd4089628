"""antimatter15 .splat (`lyra_sim.exchange.splat`): the published layout, round trips."""

from __future__ import annotations

import struct

import torch

from _splats import random_scene, rotation_error_deg
from lyra_sim.exchange import detect_format, read_splats, write_splats


def test_splat_reader_follows_the_published_layout(tmp_path):
    rows = [((1.0, -2.0, 3.5), (0.1, 0.2, 0.3), (255, 0, 128, 51), (255, 128, 128, 128)),
            ((0.0, 0.5, -1.0), (1.0, 1.0, 2.0), (10, 20, 30, 255), (128, 0, 128, 128))]
    data = b"".join(struct.pack("<3f3f4B4B", *p, *s, *c, *r) for p, s, c, r in rows)
    (tmp_path / "two.splat").write_bytes(data)
    scene = read_splats(tmp_path / "two.splat")
    assert detect_format(tmp_path / "two.splat") == "splat"
    assert torch.allclose(scene.means, torch.tensor([r[0] for r in rows]))
    assert torch.allclose(scene.scales, torch.tensor([r[1] for r in rows]))
    assert torch.allclose(scene.opacities, torch.tensor([51 / 255, 1.0]))
    assert torch.allclose(scene.rgb, torch.tensor([[1.0, 0.0, 128 / 255], [10 / 255, 20 / 255, 30 / 255]]), atol=1e-6)
    assert torch.allclose(scene.quats, torch.tensor([[127 / 128, 0, 0, 0], [0, -1, 0, 0]]))

def test_splat_round_trip(tmp_path):
    scene = random_scene(200, degree=0)
    back = read_splats(write_splats(tmp_path / "r.splat", scene))
    assert torch.equal(back.means, scene.means) and torch.equal(back.scales, scene.scales)
    assert (back.opacities - scene.opacities).abs().max() <= 0.5 / 255 + 1e-6
    assert (back.rgb - scene.rgb).abs().max() <= 0.5 / 255 + 1e-6
    assert rotation_error_deg(back.quats, scene.quats).max() < 1.0  # 8 bits per component
