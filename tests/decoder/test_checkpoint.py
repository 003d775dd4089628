"""`lyra_sim.decoder.checkpoint`: the safetensors checkpoint file and its contract (codec, video, world)."""

import json
from dataclasses import asdict, replace
from pathlib import Path

import pytest
import torch
from _training import tiny_config
from safetensors import safe_open
from safetensors.torch import save_file

from lyra_sim.decoder import PRESETS, LyraDecoder, WorldSettings, checkpoint_world
from lyra_sim.decoder import checkpoint as ckpt
from lyra_sim.decoder.checkpoint import (
    DEFAULT_CHECKPOINT,
    check_compatible,
    read_decoder_metadata,
    resolve_checkpoint,
    save_decoder,
)
from lyra_sim.training.resume import checkpoint_extra
from lyra_sim.video import VideoSpec

TINY = PRESETS["tiny"]  # 192 latent channels = 3 x 8 x 8 x 1: space-to-depth 8, temporal 1; patch 2
S2D = {"name": "s2d", "spatial_compression": 8, "temporal_compression": 1}
VIDEO = VideoSpec(num_frames=2, width=32, height=32)


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    return save_decoder(tmp_path_factory.mktemp("ckpt") / "tiny.safetensors", LyraDecoder(TINY, seed=0),
                        {"codec": S2D, "video": asdict(VIDEO), "world": {"name": "procedural", "spacing": 0.15}})


# ----------------------------------------------------------------------------- check_compatible

def test_a_fitting_decoder_codec_and_video_pass():
    check_compatible(TINY, S2D, VIDEO)
    check_compatible(PRESETS["small"], {"name": "s2d", "spatial_compression": 8, "temporal_compression": 4},
                     VideoSpec(num_frames=9, width=256, height=192))


def test_codec_mismatches_name_every_field():
    with pytest.raises(ValueError) as err:
        check_compatible(TINY, {"name": "s2d", "spatial_compression": 4, "temporal_compression": 1}, VIDEO)
    assert str(err.value) == ("decoder and codec disagree: decoder.latent_channels=192 but the codec gives 48, "
                              "decoder.spatial_compression=8 but the codec gives 4")
    with pytest.raises(ValueError, match=r"^decoder and codec disagree: decoder.latent_channels=192 but the codec gives "
                                         r"768, decoder.temporal_compression=1 but the codec gives 4$"):
        check_compatible(TINY, {"name": "s2d", "spatial_compression": 8, "temporal_compression": 4}, VIDEO)


def test_s2d_defaults_are_spatial_8_temporal_1():
    check_compatible(TINY, {"name": "s2d"}, VIDEO)
    with pytest.raises(ValueError, match="decoder.temporal_compression=4 but the codec gives 1"):
        check_compatible(PRESETS["small"], {"name": "s2d"}, VideoSpec(num_frames=9, width=256, height=192))


def test_vae_codecs_are_not_checked_against_channels():
    check_compatible(TINY, {"name": "wan", "path": "/nowhere"}, VIDEO)  # their channels come from the VAE itself


def test_frames_must_fit_the_temporal_compression():
    small = PRESETS["small"]
    codec = {"name": "s2d", "spatial_compression": 8, "temporal_compression": 4}
    with pytest.raises(ValueError, match=r"frames: 8 frames do not fit causal temporal compression 4 \(expected 1 \+ 4·k"):
        check_compatible(small, codec, VideoSpec(num_frames=8, width=256, height=192))


@pytest.mark.parametrize("width, height", [(40, 32), (32, 24), (8, 8)])
def test_image_size_must_be_a_multiple_of_the_decoder_cell(width, height):
    with pytest.raises(ValueError, match=r"^video: width and height must be multiples of 16 \(spatial compression x "
                                         r"patch size\)$"):
        check_compatible(TINY, S2D, VideoSpec(num_frames=2, width=width, height=height))


# ----------------------------------------------------------------------------- resolve_checkpoint

def test_default_resolves_to_the_shipped_file_inside_the_package():
    assert DEFAULT_CHECKPOINT == Path(ckpt.__file__).parent / "weights" / "lyra_small.safetensors"
    if not DEFAULT_CHECKPOINT.is_file():
        pytest.skip("the default checkpoint is not installed")
    assert resolve_checkpoint("default") == DEFAULT_CHECKPOINT


def test_a_missing_default_says_how_to_make_one(monkeypatch, tmp_path):
    missing = tmp_path / "weights" / "lyra_small.safetensors"
    monkeypatch.setattr(ckpt, "DEFAULT_CHECKPOINT", missing)
    with pytest.raises(FileNotFoundError, match=r"the default decoder checkpoint is not installed. Train one with "
                                                r"scripts/distill_h100.sh \(lyra-sim distill"):
        resolve_checkpoint("default")


def test_a_path_resolves_to_itself_or_fails(tiny_checkpoint, tmp_path):
    assert resolve_checkpoint(tiny_checkpoint) == tiny_checkpoint
    assert resolve_checkpoint(str(tiny_checkpoint)) == tiny_checkpoint
    with pytest.raises(FileNotFoundError, match=r"nope.safetensors: no such decoder checkpoint$"):
        resolve_checkpoint(tmp_path / "nope.safetensors")
    with pytest.raises(FileNotFoundError, match="no such decoder checkpoint"):
        resolve_checkpoint(tmp_path)  # a directory is not a checkpoint


# ----------------------------------------------------------------------------- metadata and the world record

def test_save_decoder_writes_the_contract_into_the_metadata(tiny_checkpoint):
    with safe_open(str(tiny_checkpoint), framework="pt") as f:
        meta = f.metadata()
        assert {k: f.get_tensor(k).dtype for k in f.keys()} == {k: torch.float32 for k in f.keys()}
    assert meta["format"] == "lyra-sim-decoder" and meta["format_version"] == "1"
    assert json.loads(meta["config"]) == TINY.to_dict()
    assert meta["extra"] == json.dumps(json.loads(meta["extra"]), sort_keys=True)  # sorted: same bytes
    config, extra = read_decoder_metadata(tiny_checkpoint)
    assert config == TINY and extra["codec"] == S2D and extra["video"] == asdict(VIDEO)
    assert [p.name for p in tiny_checkpoint.parent.iterdir()] == ["tiny.safetensors"]  # no temp file left


def test_world_settings_round_trip_through_a_training_checkpoint(tmp_path):
    for world in (WorldSettings(), WorldSettings(spacing=0.15)):
        config = replace(tiny_config(tmp_path / "run", tmp_path / "cache"), world=world)
        path = save_decoder(tmp_path / f"w{world.spacing}.safetensors", LyraDecoder(TINY, seed=0),
                            checkpoint_extra(config, 3))
        assert checkpoint_world(path) == world
        _, extra = read_decoder_metadata(path)
        assert extra["world"] == asdict(world) and extra["step"] == 3
        assert extra["video"]["num_holdout"] == 0 and extra["video"]["anchor"] == "corner"  # inference's video


def test_a_checkpoint_without_a_world_record_was_trained_on_the_procedural_default(tmp_path):
    path = save_decoder(tmp_path / "old.safetensors", LyraDecoder(TINY, seed=0), {"codec": S2D})
    assert checkpoint_world(path) == WorldSettings(name="procedural", spacing=None)


def test_an_unknown_world_key_is_named(tmp_path):
    path = save_decoder(tmp_path / "odd.safetensors", LyraDecoder(TINY, seed=0),
                        {"world": {"name": "procedural", "density": 3}})
    with pytest.raises(ValueError, match=r"odd.safetensors: metadata world: unknown key 'density'; accepted: name, "
                                         r"spacing"):
        checkpoint_world(path)


def test_the_shipped_checkpoint_records_its_contract():
    if not DEFAULT_CHECKPOINT.is_file():
        pytest.skip("the default checkpoint is not installed")
    config, extra = read_decoder_metadata(DEFAULT_CHECKPOINT)
    check_compatible(config, extra["codec"], VideoSpec(**extra["video"]))
    assert checkpoint_world("default").name == "procedural"


# ----------------------------------------------------------------------------- refusals

@pytest.mark.parametrize("content", [b"\x00\x01 this is not a safetensors file" * 10, b"", b"{}"])
def test_read_decoder_metadata_refuses_a_non_safetensors_file(tmp_path, content):
    path = tmp_path / "junk.safetensors"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"junk.safetensors: not a readable safetensors file \(.*\); decoder "
                                         r"checkpoints are safetensors files written by lyra_sim.decoder.save_decoder "
                                         r"\(pickled .pt/.ckpt files are not accepted\)"):
        read_decoder_metadata(path)


def test_read_decoder_metadata_refuses_a_pickle(tmp_path):
    path = tmp_path / "model.pt"
    torch.save(LyraDecoder(TINY, seed=0).state_dict(), path)
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        read_decoder_metadata(path)


def test_read_decoder_metadata_refuses_other_safetensors(tmp_path):
    path = tmp_path / "weights.safetensors"
    save_file({"w": torch.zeros(2)}, str(path), metadata={"format": "lyra-sim-teacher"})
    with pytest.raises(ValueError, match=r"a safetensors file, but not a lyra-sim decoder checkpoint \(metadata "
                                         r"'format' is 'lyra-sim-teacher', expected 'lyra-sim-decoder'\)"):
        read_decoder_metadata(path)


def test_read_decoder_metadata_refuses_another_format_version(tmp_path):
    path = tmp_path / "v2.safetensors"
    save_file({"w": torch.zeros(2)}, str(path), metadata={"format": "lyra-sim-decoder", "format_version": "2",
                                                          "config": TINY.to_json()})
    with pytest.raises(ValueError, match=r"checkpoint format version '2'; this lyra-sim reads '1'"):
        read_decoder_metadata(path)


@pytest.mark.parametrize("meta", [{}, {"config": "{not json"}, {"config": TINY.to_json(), "extra": "[1,"}])
def test_read_decoder_metadata_refuses_corrupt_config(tmp_path, meta):
    path = tmp_path / "bad.safetensors"
    save_file({"w": torch.zeros(2)}, str(path), metadata={"format": "lyra-sim-decoder", "format_version": "1", **meta})
    with pytest.raises(ValueError, match=r"bad.safetensors: the checkpoint's config metadata is missing or corrupt"):
        read_decoder_metadata(path)


def test_read_decoder_metadata_of_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"gone.safetensors: no such decoder checkpoint"):
        read_decoder_metadata(tmp_path / "gone.safetensors")
