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


def test_a_depth_input_decoder_reads_the_worlds_depth(tmp_path):
    """The procedural world gives depth: with the gate open, every decoded Gaussian's ray point sits at the world's
    camera depth of its own pixel; a world without depth leaves the decoder on its latents alone."""
    from dataclasses import replace

    config = replace(PRESETS["tiny"], depth_input=True)
    model = LyraDecoder(config, seed=0)
    with torch.no_grad():
        model.depth_gate.bias.fill_(60.0)
    path = save_decoder(tmp_path / "depth.safetensors", model, EXTRA)
    out = generate_with_decoder("an office with two desks", 5, path, keep_ratio=1.0)
    assert out.depth_input and out.video.depth is not None
    v, t, h, w, _ = out.video.frames.shape
    frames, xs, ys = model.gaussian_pixels(t, h // 8, w // 8)
    means = out.scene.means.reshape(v, len(frames), len(ys), len(xs), 3).double()
    vm = out.video.viewmats[:, frames].double()  # [V, Tg, 4, 4]
    z = (means * vm[:, :, None, None, 2, :3]).sum(-1) + vm[:, :, None, None, 2, 3]
    given = out.video.depth[:, frames][:, :, ys.long()][:, :, :, xs.long(), 0].double()
    known = given > 0
    assert float(known.float().mean()) > 0.9
    torch.testing.assert_close(z[known], given[known], rtol=1e-4, atol=1e-4)

    class NoDepth:
        """The procedural world, its videos stripped of depth (as the diffusers worlds give them)."""

        def __init__(self, inner):
            self.inner, self.name = inner, inner.name

        def imagine(self, *args, **kwargs):
            return replace(self.inner.imagine(*args, **kwargs), depth=None)

    world = NoDepth(make_world("procedural", "cpu", spacing=0.15))
    plain = decode_world(world, "an office with two desks", 5, path, keep_ratio=1.0)
    assert not plain.depth_input
    # ... and then decodes exactly as the same decoder without the addition
    reference = LyraDecoder(PRESETS["tiny"], seed=0)
    reference.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("depth_")})
    ref_path = save_decoder(tmp_path / "plain.safetensors", reference, EXTRA)
    expected = decode_world(world, "an office with two desks", 5, ref_path, keep_ratio=1.0)
    assert torch.equal(plain.scene.means, expected.scene.means)
    assert not torch.allclose(plain.scene.means, out.scene.means)
