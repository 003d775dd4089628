"""Inference path (`lyra_sim.decoder.inference`): condition → procedural world → codec latents → decoder → GaussianScene."""

from __future__ import annotations

import math

import pytest
import torch

from lyra_sim.decoder import (
    DEFAULT_CHECKPOINT,
    PRESETS,
    LyraDecoder,
    checkpoint_world,
    decode_world,
    resolve_checkpoint,
    save_decoder,
)
from lyra_sim.render import render
from lyra_sim.scene import GaussianScene
from lyra_sim.worlds.procedural_video import make_world

VIDEO = {"num_frames": 2, "width": 32, "height": 32, "fov_y_deg": 75.0, "travel": 0.3, "num_holdout": 0, "anchor": "corner"}
EXTRA = {"codec": {"name": "s2d", "spatial_compression": 8, "temporal_compression": 1}, "video": VIDEO,
         "world": {"name": "procedural", "spacing": 0.15}}


def generate_with_decoder(condition, seed, checkpoint, **kwargs):
    """The decoder over the world its checkpoint was trained on."""
    world = checkpoint_world(checkpoint)
    return decode_world(make_world(world.name, "cpu", spacing=world.spacing), condition, seed, checkpoint, **kwargs)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "tiny.safetensors"
    return save_decoder(path, LyraDecoder(PRESETS["tiny"], seed=0), EXTRA)


def test_prompt_to_gaussians(checkpoint):
    stages = []
    out = generate_with_decoder("an office with two desks", 5, checkpoint, stage=stages.append)
    assert isinstance(out.scene, GaussianScene)
    model = LyraDecoder(PRESETS["tiny"])
    total = 6 * model.gaussians_per_view(2, 4, 4)
    assert len(out.scene) == math.ceil(0.2 * total)  # Lyra's pruning: top 20 % by opacity
    assert out.video.frames.shape == (6, 2, 32, 32, 3)
    assert set(out.timings) == {"imagine", "encode", "decode"} and len(stages) == 4
    # The decoded Gaussians render from the anchor (the preview camera).
    anchor = out.video.cameras(0)[0]
    assert render(out.scene, anchor, "RGB").rgb.shape == (1, 32, 32, 3)
    # Same seed → same video and Gaussians; a larger keep ratio keeps a superset (top-k by opacity, in order).
    again = generate_with_decoder("an office with two desks", 5, checkpoint, keep_ratio=0.5)
    assert len(again.scene) == math.ceil(0.5 * total)
    assert torch.equal(again.video.frames, out.video.frames)
    assert torch.equal(again.scene.means[: len(out.scene)], out.scene.means)


def test_checkpoint_errors(checkpoint, tmp_path):
    if not DEFAULT_CHECKPOINT.is_file():
        with pytest.raises(FileNotFoundError, match="lyra-sim distill"):
            resolve_checkpoint("default")
    with pytest.raises(FileNotFoundError):
        generate_with_decoder("a bedroom", 0, tmp_path / "nope.safetensors")
    vae_ckpt = save_decoder(tmp_path / "vae.safetensors", LyraDecoder(PRESETS["tiny"], seed=0),
                            {**EXTRA, "codec": {"name": "cosmos"}})
    with pytest.raises(ValueError, match="codec_path"):
        generate_with_decoder("a bedroom", 0, vae_ckpt)
    bare = save_decoder(tmp_path / "bare.safetensors", LyraDecoder(PRESETS["tiny"], seed=0))
    with pytest.raises(ValueError, match="lacks 'codec'"):
        generate_with_decoder("a bedroom", 0, bare)
