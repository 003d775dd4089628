"""The format registry (`lyra_sim.exchange`): detection, INRIA PLY through lyra_sim.ply, unknown and unsupported files named."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import torch

from _splats import CAPTURES, random_scene
from lyra_sim.exchange import FORMATS, detect_format, read_splats, write_splats
from lyra_sim.scene import SH_C0, GaussianScene


def test_the_train_capture_reads_as_an_inria_ply():
    scene = read_splats(CAPTURES / "train-1000.ply")
    assert detect_format(CAPTURES / "train-1000.ply") == "ply" and len(scene) == 1000 and scene.sh_degree == 3

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
