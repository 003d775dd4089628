"""`lyra-sim distill` then `lyra-sim generate --decoder`: a checkpoint trained by the command is
the one the generate command decodes with, end to end, at a tiny resolution."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lyra_sim.cli import main
from lyra_sim.decoder import PRESETS, LyraDecoder, read_decoder_metadata, save_decoder
from lyra_sim.manifest import read_manifest, sha256_file, verify
from lyra_sim.ply import read_ply

CONFIG = str(Path(__file__).resolve().parents[2] / "configs" / "distill_tiny_cpu.json")
PROMPT = "an office with two desks and a blorp"
SMALL = ["--width", "64", "--height", "48", "-q"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    root = tmp_path_factory.mktemp("distill")
    cache = ["--config", CONFIG, "--cache-dir", str(root / "cache")]
    assert main(["distill", *cache, "--build-cache", "train"]) == 0
    assert main(["distill", *cache, "--build-cache", "eval"]) == 0
    assert main(["distill", *cache, "--steps", "2", "--out-dir", str(root / "run")]) == 0
    return root / "run" / "decoder.safetensors"


@pytest.fixture(scope="module")
def decoded(checkpoint, tmp_path_factory):
    out = tmp_path_factory.mktemp("gen") / "office"
    assert main(["generate", PROMPT, "--seed", "3", "--decoder", str(checkpoint), "--out", str(out), *SMALL]) == 0
    return out


def test_distill_command_trains_the_configured_decoder(checkpoint):
    config, extra = read_decoder_metadata(checkpoint)
    assert config == PRESETS["tiny"] and extra["step"] == 2  # --steps overrides the config's 20
    assert json.loads((checkpoint.parent / "config.json").read_text())["train"]["steps"] == 2


def test_generate_with_the_distilled_decoder(checkpoint, decoded):
    assert sorted(p.name for p in decoded.iterdir()) == ["manifest.json", "preview.png", "scene.ply"]
    assert verify(decoded) == []
    manifest = read_manifest(decoded)
    config, extra = read_decoder_metadata(checkpoint)
    assert manifest["decoder"]["sha256"] == sha256_file(checkpoint)
    assert manifest["decoder"]["config"] == config.to_dict() and manifest["decoder"]["metadata"] == extra
    assert manifest["world_model"]["name"] == "procedural" and manifest["seed"] == 3
    assert manifest["scene_spec"]["room"]["type"] == "office" and "blorp" in manifest["unknown"]
    scene = read_ply(decoded / "scene.ply")
    # tiny decoder on 6 trajectories x 2 frames of 32x32: 6*2*(4*4 latents x 2² upsample) Gaussians, top 20% kept
    assert manifest["num_gaussians"] == len(scene) == 154
    assert np.allclose(manifest["bounds"]["gaussians"], [t.tolist() for t in scene.bounds()])
    preview = np.asarray(Image.open(decoded / "preview.png"))
    assert preview.shape == (48, 64, 3) and preview.std() > 1  # the decoded Gaussians are in view


def test_generate_with_decoder_is_byte_identical_and_exports(checkpoint, decoded, tmp_path):
    again = tmp_path / "again"
    assert main(["generate", PROMPT, "--seed", "3", "--decoder", str(checkpoint), "--out", str(again), *SMALL]) == 0
    for name in ("scene.ply", "preview.png", "manifest.json"):
        assert (again / name).read_bytes() == (decoded / name).read_bytes(), name
    bundle = tmp_path / "bundle"
    args = ["--export", "obj", "--resolution", "32", "--viewpoints", "2"]
    assert main(["generate", PROMPT, "--seed", "3", "--decoder", str(checkpoint), "--out", str(bundle), *SMALL, *args]) == 0
    assert verify(bundle) == [] and "collision.obj" in read_manifest(bundle)["files"]
    assert read_manifest(bundle)["decoder"] == read_manifest(decoded)["decoder"]  # the bundle says what made it
    assert (bundle / "scene.ply").read_bytes() == (decoded / "scene.ply").read_bytes()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no scratch left behind


@pytest.fixture
def bad_files(tmp_path):
    """A text file, tiny weights under a header claiming the small config, and a tiny decoder
    whose recorded codec is not the one it reads."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    (tmp_path / "notes.safetensors").write_text("not weights")
    tiny = save_decoder(tmp_path / "tiny.safetensors", LyraDecoder(PRESETS["tiny"], seed=0))
    with safe_open(str(tiny), framework="pt") as f:
        meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    video = {"num_frames": 5, "width": 32, "height": 32}
    s2d4 = {"name": "s2d", "spatial_compression": 8, "temporal_compression": 4}
    save_file(tensors, str(tmp_path / "weights.safetensors"),
              metadata={**meta, "config": PRESETS["small"].to_json(), "extra": json.dumps({"codec": s2d4, "video": video})})
    save_decoder(tmp_path / "codec.safetensors", LyraDecoder(PRESETS["tiny"], seed=0), {"codec": s2d4, "video": video})
    return tmp_path


@pytest.mark.parametrize(
    "name,message",
    [
        ("nope.safetensors", "no such decoder checkpoint"),
        ("notes.safetensors", "not a readable safetensors file"),
        ("weights.safetensors", "weights do not fit the decoder config"),
        ("codec.safetensors", "decoder and codec disagree"),
    ],
)
def test_bad_checkpoints_are_one_line_and_write_nothing(bad_files, capsys, name, message):
    out = bad_files / "out"
    assert main(["generate", "a bedroom", "--decoder", str(bad_files / name), "--out", str(out), *SMALL]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("lyra-sim: error: ")
    assert not out.exists() and not [p for p in bad_files.iterdir() if p.name.startswith(".")]


def test_device_needs_the_decoder(tmp_path, capsys):
    assert main(["generate", "a bedroom", "--device", "cpu", "--out", str(tmp_path / "out"), *SMALL]) == 2
    assert "--device applies to --decoder" in capsys.readouterr().err and not (tmp_path / "out").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message of a machine without CUDA")
def test_cuda_without_a_gpu_is_one_line(checkpoint, tmp_path, capsys):
    args = ["generate", "a bedroom", "--decoder", str(checkpoint), "--device", "cuda", "--out", str(tmp_path / "out"), *SMALL]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "no CUDA GPU" in err and err.count("\n") == 1 and not (tmp_path / "out").exists()
