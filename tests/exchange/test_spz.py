"""Niantic SPZ (`lyra_sim.exchange.spz`): round trips per version, containers, the RUB frame, bad files."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from _splats import CAPTURES, F_DC_STEP, random_scene, rotation_error_deg
from lyra_sim.exchange import detect_format, read_splats, write_splats
from lyra_sim.exchange import spz as spz_format
from lyra_sim.scene import GaussianScene, num_sh_bases, quat_to_rotmat
from lyra_sim.sh import eval_sh


def _exact_sh(n: int, g: torch.Generator) -> torch.Tensor:
    """Degree-3 SH that SPZ stores without loss, with either sign: multiples of 8/128 (degree 1)
    and 16/128 (degrees 2-3) inside (-1, 1)."""
    sh = torch.rand(n, 16, 3, generator=g) * 2 - 1
    sh[:, 1:4] = torch.randint(-15, 16, (n, 3, 3), generator=g) * 8 / 128
    sh[:, 4:] = torch.randint(-7, 8, (n, 12, 3), generator=g) * 16 / 128
    return sh

def _raw_rub(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions, quaternions (x y z w) and SH rest ``[N, K-1, 3]`` as stored (v3 file, RUB)."""
    data = gzip.decompress(path.read_bytes())
    n, degree = struct.unpack_from("<I", data, 8)[0], data[12]
    body = data[16:]
    b = np.frombuffer(body[: 9 * n], np.uint8).reshape(n, 3, 3).astype(np.int32)
    fixed = b[..., 0] | (b[..., 1] << 8) | (b[..., 2] << 16)
    positions = ((fixed ^ 0x800000) - 0x800000) / 4096.0
    offset = 9 * n + n + 3 * n + 3 * n
    quats = spz_format._unpack_smallest_three(np.frombuffer(body[offset : offset + 4 * n], "<u4").astype(np.uint32))
    k = num_sh_bases(degree)
    rest = (np.frombuffer(body[offset + 4 * n :], np.uint8).reshape(n, k - 1, 3) - 128.0) / 128.0
    return positions, quats, rest

def _spz_header(version: int, n: int = 1, degree: int = 0, flags: int = 0) -> bytes:
    return struct.pack("<IIIBBBB", 0x5053474E, version, n, degree, 12, flags, 0)


@pytest.mark.parametrize("version", [2, 3, 4])
def test_spz_round_trip_stays_within_the_quantization(tmp_path, version):
    scene = random_scene()
    path = write_splats(tmp_path / "s.spz", scene, version=version)
    assert detect_format(path) == "spz"
    back = read_splats(path)
    assert len(back) == len(scene) and back.sh_degree == 3
    # positions: 12 fractional bits -> half a step of 1/4096 (plus float32 rounding at |x| <= 10)
    assert (back.means - scene.means).abs().max() <= 2**-13 + 1e-6
    assert (back.opacities - scene.opacities).abs().max() <= 0.5 / 255 + 1e-6
    assert (back.scales.log() - scene.scales.log()).abs().max() <= 1 / 32 + 1e-5
    assert (back.sh[:, 0] - scene.sh[:, 0]).abs().max() <= 0.5 * F_DC_STEP + 1e-5
    # SH: 1/128 steps rounded to buckets of 8 (degree 1, 5 bits) and 16 (degrees 2-3, 4 bits)
    assert (back.sh[:, 1:4] - scene.sh[:, 1:4]).abs().max() <= 4.5 / 128 + 1e-6
    assert (back.sh[:, 4:] - scene.sh[:, 4:]).abs().max() <= 8.5 / 128 + 1e-6
    angle = rotation_error_deg(back.quats, scene.quats)
    if version == 2:  # x y z bytes, w rebuilt: accurate while w is not small
        w = torch.nn.functional.normalize(scene.quats, dim=-1)[:, 0].abs()
        assert angle[w > 0.5].max() < 1.5
    else:  # smallest three: 9-bit magnitudes -> <= 0.36 degrees (worst case of the error bound)
        assert angle.max() < 0.36
    assert path.read_bytes() == write_splats(tmp_path / "again.spz", scene, version=version).read_bytes()

def test_spz_versions_use_their_own_containers(tmp_path):
    scene = random_scene(50, degree=1)
    for version in (2, 3):
        data = gzip.decompress(write_splats(tmp_path / f"v{version}.spz", scene, version=version).read_bytes())
        magic, stored, n, degree, bits, flags, reserved = struct.unpack_from("<IIIBBBB", data)
        assert (magic, stored, n, degree, bits, flags, reserved) == (0x5053474E, version, 50, 1, 12, 0, 0)
        assert len(data) == 16 + 50 * (9 + 1 + 3 + 3 + (3 if version == 2 else 4) + 9)
    raw = write_splats(tmp_path / "v4.spz", scene, version=4).read_bytes()
    assert raw[:4] == b"NGSP" and struct.unpack_from("<IIBBBBI", raw, 4) == (4, 50, 1, 12, 0, 6, 32)

def test_spz_stores_right_up_back_as_the_reference_does(tmp_path):
    """Our frame is the PLY's (right-down-forward); SPZ stores right-up-back: y and z flip."""
    g = torch.Generator().manual_seed(3)
    scene = GaussianScene(
        means=torch.tensor([[1.0, 2.0, 3.0], [-0.5, 0.25, -4.0]]),
        quats=torch.nn.functional.normalize(torch.tensor([[0.9, 0.3, -0.2, 0.1], [0.2, -0.5, 0.7, 0.4]]), dim=-1),
        scales=torch.full((2, 3), 0.1),
        opacities=torch.tensor([0.5, 0.9]),
        sh=_exact_sh(2, g),
    )
    path = write_splats(tmp_path / "frame.spz", scene, version=3)
    positions, xyzw, rest = _raw_rub(path)
    flip = np.diag([1.0, -1.0, -1.0])
    assert np.allclose(positions, scene.means.numpy() @ flip, atol=2**-13)
    # the rotation seen in RUB is F R F
    stored = quat_to_rotmat(torch.from_numpy(xyzw[:, [3, 0, 1, 2]]).float()).double().numpy()
    expected = flip @ quat_to_rotmat(scene.quats).double().numpy() @ flip
    assert np.abs(stored - expected).max() < 0.01
    # SH: the color seen along d in our frame is the color the file shows along F d
    dirs = torch.nn.functional.normalize(torch.randn(64, 3, generator=g), dim=-1)
    ours = eval_sh(3, scene.sh[:, None].expand(2, 64, 16, 3), dirs.expand(2, 64, 3)).numpy()
    stored_sh = torch.cat([scene.sh[:, :1], torch.from_numpy(rest).float()], 1)
    theirs = eval_sh(3, stored_sh[:, None].expand(2, 64, 16, 3), (dirs @ torch.from_numpy(flip).float()).expand(2, 64, 3)).numpy()
    assert np.abs(ours - theirs).max() < 1e-5
    back = read_splats(path)  # ... and reading converts back
    assert (back.means - scene.means).abs().max() <= 2**-13 + 1e-6
    assert rotation_error_deg(back.quats, scene.quats).max() < 0.36

def test_the_biker_spz_agrees_with_its_compressed_ply():
    ply = read_splats(CAPTURES / "biker.compressed.ply")
    spz = read_splats(CAPTURES / "biker.spz")
    assert detect_format(CAPTURES / "biker.spz") == "spz" and detect_format(CAPTURES / "biker.compressed.ply") == "compressed_ply"
    assert len(ply) == len(spz) == 152_746 and ply.sh_degree == spz.sh_degree == 0
    # same splats in the same order: the SPZ's 12-bit fixed point is the only position error
    assert (ply.means - spz.means).abs().max() <= 2**-13 + 1e-6
    assert torch.equal(ply.opacities, spz.opacities)  # both a byte of a / 255
    assert (ply.sh[:, 0] - spz.sh[:, 0]).abs().max() <= 0.5 * F_DC_STEP + 1e-6
    log_ply, log_spz = ply.scales.double().log(), spz.scales.double().log()
    inside = log_ply >= -10  # SPZ's log-scale byte starts at -10: smaller scales clip there
    assert (log_ply - log_spz)[inside].abs().max() <= 1 / 32 + 1e-6
    assert torch.allclose(log_spz[~inside], torch.tensor(-10.0, dtype=torch.float64)) and int((~inside).sum()) == 101
    assert rotation_error_deg(ply.quats, spz.quats).max() < 0.36
    # the capture stands along -y (PLY frame: y down), about 3.2 units tall
    lo, hi = spz.bounds()
    assert 3.1 < float(hi[1] - lo[1]) < 3.3 and float(hi[1]) <= 1e-3

@pytest.mark.parametrize("version, message", [(1, "SPZ version 1 .half-float"), (5, "SPZ version 5 is not supported")])
def test_unsupported_spz_versions_are_named(tmp_path, version, message):
    (tmp_path / "v.spz").write_bytes(gzip.compress(_spz_header(version) + bytes(64), mtime=0))
    with pytest.raises(ValueError, match=message):
        read_splats(tmp_path / "v.spz")
    (tmp_path / "raw.spz").write_bytes(struct.pack("<IIIBBBBI12x", 0x5053474E, version, 1, 0, 12, 0, 5, 32))
    with pytest.raises(ValueError, match=message):
        read_splats(tmp_path / "raw.spz")

def test_corrupt_spz_files_are_clear_errors(tmp_path):
    good = write_splats(tmp_path / "g.spz", random_scene(100, degree=1), version=4).read_bytes()
    cases = {
        "cut.spz": (good[:-10], "streams take"),
        "header.spz": (good[:20], "no complete version 4 header"),
        "zstd.spz": (good[:200] + bytes(len(good) - 200), "not valid ZSTD"),
        "huge.spz": (gzip.compress(_spz_header(3, n=4_000_000_000), mtime=0), "claims 4,000,000,000 splats"),
        "short.spz": (gzip.compress(_spz_header(3, n=1000) + bytes(100), mtime=0), "truncated"),
        "gzcut.spz": (write_splats(tmp_path / "g3.spz", random_scene(100), version=3).read_bytes()[:-50], "truncated|corrupt"),
        "ext.spz": (gzip.compress(_spz_header(3, flags=2) + bytes(64), mtime=0), "extensions"),
        "deg4.spz": (gzip.compress(_spz_header(3, degree=4) + bytes(64), mtime=0), "SH degree 4"),
    }
    for name, (data, message) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ValueError, match=message):
            read_splats(tmp_path / name)
