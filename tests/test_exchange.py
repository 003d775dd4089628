"""Splat file formats (`lyra_sim.exchange`): round trips, SPZ's frame, real captures, bad files."""

from __future__ import annotations

import gzip
import math
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from lyra_sim.exchange import FORMATS, detect_format, read_splats, write_splats
from lyra_sim.exchange import spz as spz_format
from lyra_sim.scene import SH_C0, GaussianScene, num_sh_bases, quat_to_rotmat
from lyra_sim.sh import eval_sh

CAPTURES = Path(__file__).parent / "data" / "captures"
F_DC_STEP = 1 / (0.15 * 255)  # SPZ stores 0.5 + 0.15 f_dc in a byte


def random_scene(n: int = 400, degree: int = 3, seed: int = 0) -> GaussianScene:
    """Values inside SPZ's representable ranges (positions < 2048, log scales in [-10, 5.9], |SH| < 1)."""
    g = torch.Generator().manual_seed(seed)
    k = num_sh_bases(degree)
    sh = torch.rand(n, k, 3, generator=g) * 1.9 - 0.95
    sh[:, 0] = torch.rand(n, 3, generator=g) * 6 - 3
    return GaussianScene(
        means=torch.rand(n, 3, generator=g) * 20 - 10,
        quats=torch.randn(n, 4, generator=g),
        scales=torch.exp(torch.rand(n, 3, generator=g) * 9 - 8),
        opacities=torch.rand(n, generator=g),
        sh=sh,
    )


def rotation_error_deg(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    qa = torch.nn.functional.normalize(a.double(), dim=-1)
    qb = torch.nn.functional.normalize(b.double(), dim=-1)
    return torch.rad2deg(2 * torch.acos((qa * qb).sum(-1).abs().clamp(max=1)))


# ---------------------------------------------------------------- SPZ
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


def _exact_sh(n: int, g: torch.Generator) -> torch.Tensor:
    """Degree-3 SH that SPZ stores without loss, with either sign: multiples of 8/128 (degree 1)
    and 16/128 (degrees 2-3) inside (-1, 1)."""
    sh = torch.rand(n, 16, 3, generator=g) * 2 - 1
    sh[:, 1:4] = torch.randint(-15, 16, (n, 3, 3), generator=g) * 8 / 128
    sh[:, 4:] = torch.randint(-7, 8, (n, 12, 3), generator=g) * 16 / 128
    return sh


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


def test_the_train_capture_reads_as_an_inria_ply():
    scene = read_splats(CAPTURES / "train-1000.ply")
    assert detect_format(CAPTURES / "train-1000.ply") == "ply" and len(scene) == 1000 and scene.sh_degree == 3


# ---------------------------------------------------------------- .splat
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


# ---------------------------------------------------------------- compressed PLY
def _compressed_ply(path: Path, rows: list[tuple[int, int, int, int]], chunk: tuple[float, ...], sh: list[bytes] | None = None) -> None:
    props = ["min_x", "min_y", "min_z", "max_x", "max_y", "max_z", "min_scale_x", "min_scale_y", "min_scale_z",
             "max_scale_x", "max_scale_y", "max_scale_z", "min_r", "min_g", "min_b", "max_r", "max_g", "max_b"]
    header = ["ply", "format binary_little_endian 1.0", "element chunk 1"] + [f"property float {p}" for p in props]
    header += [f"element vertex {len(rows)}"] + [f"property uint packed_{p}" for p in ("position", "rotation", "scale", "color")]
    if sh is not None:
        header += [f"element sh {len(rows)}"] + [f"property uchar f_rest_{i}" for i in range(len(sh[0]))]
    body = struct.pack("<18f", *chunk) + b"".join(struct.pack("<4I", *r) for r in rows)
    body += b"".join(sh or [])
    path.write_bytes(("\n".join(header + ["end_header"]) + "\n").encode() + body)


def test_compressed_ply_decodes_as_playcanvas_does(tmp_path):
    chunk = (0, 0, 0, 2, 4, 8, -2, -2, -2, 0, 0, 0, 0, 0, 0, 0.5, 1.0, 1.0)
    position = (2047 << 21) | (0 << 11) | 1023  # x = max, y = min, z = 1023/2047 of the way
    half = 512  # unorm 512/1023 -> (512/1023 - 0.5) * sqrt(2)
    rotation = (0 << 30) | (half << 20) | (half << 10) | half  # w largest
    rotation_y = (2 << 30) | (873 << 20) | (150 << 10) | 873  # rot_2 (y) largest; w, x, z stored
    scale = (1023 << 21) | (1023 << 11) | 0  # ~middle, max, min of [-2, 0]
    color = (255 << 24) | (0 << 16) | (255 << 8) | 128
    sh = [bytes([0, 255, 128] * 3), bytes([128] * 9)]
    _compressed_ply(tmp_path / "c.ply", [(position, rotation, scale, color), (0, rotation_y, 0, 255)], chunk, sh)
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
    _compressed_ply(tmp_path / "ok.ply", [(0, 0, 0, 0)], chunk)
    data = (tmp_path / "ok.ply").read_bytes()
    (tmp_path / "short.ply").write_bytes(data[:-3])
    with pytest.raises(ValueError, match="truncated"):
        read_splats(tmp_path / "short.ply")
    (tmp_path / "long.ply").write_bytes(data + b"\0" * 16)
    with pytest.raises(ValueError, match="16 bytes after the last element"):
        read_splats(tmp_path / "long.ply")
    _compressed_ply(tmp_path / "many.ply", [(0, 0, 0, 0)] * 300, chunk)  # 300 splats need 2 chunks
    with pytest.raises(ValueError, match="1 chunks for 300 splats"):
        read_splats(tmp_path / "many.ply")


# ---------------------------------------------------------------- bad input
def _spz_header(version: int, n: int = 1, degree: int = 0, flags: int = 0) -> bytes:
    return struct.pack("<IIIBBBB", 0x5053474E, version, n, degree, 12, flags, 0)


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


def test_unknown_and_unsupported_files_are_named(tmp_path):
    (tmp_path / "scene.ksplat").write_bytes(bytes(4096))
    with pytest.raises(ValueError, match="GaussianSplats3D .ksplat file, which lyra-sim cannot read"):
        read_splats(tmp_path / "scene.ksplat")
    (tmp_path / "noise.bin").write_bytes(np.random.default_rng(0).bytes(1000))
    with pytest.raises(ValueError, match="not a splat file lyra-sim recognizes; accepted: .*Niantic SPZ"):
        read_splats(tmp_path / "noise.bin")
    (tmp_path / "odd.splat").write_bytes(bytes(33))
    with pytest.raises(ValueError, match="not a multiple of 32"):
        read_splats(tmp_path / "odd.splat")
    (tmp_path / "zero.splat").write_bytes(struct.pack("<3f3f4B4B", 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 128, 128, 128, 128))
    with pytest.raises(ValueError, match="zero norm"):
        read_splats(tmp_path / "zero.splat")
    with pytest.raises(FileNotFoundError):
        read_splats(tmp_path / "missing.spz")
    with pytest.raises(ValueError, match="not a file"):
        read_splats(tmp_path)


def test_writing_refuses_what_it_cannot_write(tmp_path):
    scene = random_scene(5, degree=0)
    with pytest.raises(ValueError, match="no splat format writes the suffix '.glb'"):
        write_splats(tmp_path / "x.glb", scene)
    with pytest.raises(ValueError, match="'compressed_ply' cannot be written"):
        write_splats(tmp_path / "x.ply", scene, format="compressed_ply")
    far = GaussianScene.from_rgb(torch.tensor([[3000.0, 0, 0]]), torch.tensor([[1.0, 0, 0, 0]]), torch.ones(1, 3),
                                 torch.ones(1), torch.ones(1, 3))
    with pytest.raises(ValueError, match="within ±2048 units"):
        write_splats(tmp_path / "far.spz", far)
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_ply_is_written_through_lyra_sim_ply(tmp_path):
    scene = random_scene(30, degree=2)
    back = read_splats(write_splats(tmp_path / "s.ply", scene))
    assert torch.equal(back.means, scene.means) and torch.equal(back.sh, scene.sh)
    assert set(FORMATS) >= {"ply", "compressed_ply", "spz", "splat", "ksplat", "sog"}
    assert SH_C0 > 0
