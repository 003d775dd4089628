"""SuperSplat compressed PLY (`lyra_sim.exchange.compressed_ply`): decoding as PlayCanvas does, corrupt files."""

from __future__ import annotations

import math

import numpy as np
import pytest

from _splats import compressed_ply_file
from lyra_sim.exchange import detect_format, read_splats


def test_compressed_ply_decodes_as_playcanvas_does(tmp_path):
    chunk = (0, 0, 0, 2, 4, 8, -2, -2, -2, 0, 0, 0, 0, 0, 0, 0.5, 1.0, 1.0)
    position = (2047 << 21) | (0 << 11) | 1023  # x = max, y = min, z = 1023/2047 of the way
    half = 512  # unorm 512/1023 -> (512/1023 - 0.5) * sqrt(2)
    rotation = (0 << 30) | (half << 20) | (half << 10) | half  # w largest
    rotation_y = (2 << 30) | (873 << 20) | (150 << 10) | 873  # rot_2 (y) largest; w, x, z stored
    scale = (1023 << 21) | (1023 << 11) | 0  # ~middle, max, min of [-2, 0]
    color = (255 << 24) | (0 << 16) | (255 << 8) | 128
    sh = [bytes([0, 255, 128] * 3), bytes([128] * 9)]
    compressed_ply_file(tmp_path / "c.ply", [(position, rotation, scale, color), (0, rotation_y, 0, 255)], chunk, sh)
    assert detect_format(tmp_path / "c.ply") == "compressed_ply"
    s = read_splats(tmp_path / "c.ply")
    assert len(s) == 2 and s.sh_degree == 1
    assert np.allclose(s.means[0].numpy(), [2.0, 0.0, 8 * 1023 / 2047], atol=1e-6)
    a = (half / 1023 - 0.5) * math.sqrt(2)
    assert np.allclose(s.quats[0].numpy(), [math.sqrt(1 - 3 * a * a), a, a, a], atol=1e-6)
    big, small = (873 / 1023 - 0.5) * math.sqrt(2), (150 / 1023 - 0.5) * math.sqrt(2)
    y = math.sqrt(1 - 2 * big**2 - small**2)
    assert np.allclose(s.quats[1].numpy(), [big, small, y, big], atol=1e-6)  # w x y z
    assert np.allclose(s.scales[0].log().numpy(), [-2 + 2 * 1023 / 2047, 0.0, -2.0], atol=1e-5)
    assert np.allclose(s.rgb[0].numpy(), [0.5, 0.0, 1.0], atol=1e-6) and abs(float(s.opacities[0]) - 128 / 255) < 1e-7
    assert float(s.opacities[1]) == 1.0
    # sh bytes 0 / 255 / other -> -4 / 4 / (v + 0.5) / 256 * 8 - 4, channel-major f_rest
    assert np.allclose(s.sh[0, 1:, 0].numpy(), [-4.0, 4.0, (128.5 / 256 - 0.5) * 8], atol=1e-6)

def test_corrupt_compressed_plys_are_refused(tmp_path):
    chunk = (0.0,) * 18
    compressed_ply_file(tmp_path / "ok.ply", [(0, 0, 0, 0)], chunk)
    data = (tmp_path / "ok.ply").read_bytes()
    (tmp_path / "short.ply").write_bytes(data[:-3])
    with pytest.raises(ValueError, match="truncated"):
        read_splats(tmp_path / "short.ply")
    (tmp_path / "long.ply").write_bytes(data + b"\0" * 16)
    with pytest.raises(ValueError, match="16 bytes after the last element"):
        read_splats(tmp_path / "long.ply")
    compressed_ply_file(tmp_path / "many.ply", [(0, 0, 0, 0)] * 300, chunk)  # 300 splats need 2 chunks
    with pytest.raises(ValueError, match="1 chunks for 300 splats"):
        read_splats(tmp_path / "many.ply")
