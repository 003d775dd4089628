"""Latent codecs: lossless space-to-depth, and diffusers Cosmos / Wan VAEs on tiny random configs."""

from __future__ import annotations

import pytest
import torch

from lyra_sim.cameras import look_at_cameras
from lyra_sim.decoder import DecoderConfig, LyraDecoder
from lyra_sim.decoder.codecs import (
    COSMOS_REPO,
    WAN_REPO,
    DiffusersVAECodec,
    LatentCodec,
    SpaceToDepthCodec,
    latent_frame_groups,
    make_codec,
    num_latent_frames,
)

diffusers = pytest.importorskip("diffusers")


def test_latent_frame_groups_are_causal():
    assert latent_frame_groups(3, 4).tolist() == [[0, 0, 0, 0], [1, 2, 3, 4], [5, 6, 7, 8]]
    assert latent_frame_groups(2, 1).tolist() == [[0], [1]]
    assert num_latent_frames(17, 8) == 3 and num_latent_frames(1, 8) == 1
    with pytest.raises(ValueError, match="1 \\+ 8·k"):
        num_latent_frames(16, 8)


@pytest.mark.parametrize("temporal", [1, 4])
def test_space_to_depth_is_lossless(temporal):
    codec = SpaceToDepthCodec(8, temporal)
    assert isinstance(codec, LatentCodec)
    frames = torch.rand(2, 1 + 2 * temporal, 16, 24, 3, generator=torch.Generator().manual_seed(0))
    latents = codec.encode(frames)
    assert latents.shape == (2, 3 * 64 * temporal, 3, 2, 3)
    assert float(latents.min()) >= -1 and float(latents.max()) <= 1
    torch.testing.assert_close(codec.decode(latents), frames, atol=1e-6, rtol=0)
    # Latent pixel (row 1, col 2) of latent frame 2 holds exactly the 8x8 blocks of that frame group.
    held = ((latents[0, :, 2, 1, 2] + 1) / 2).reshape(temporal, 8, 8, 3)
    expected = frames[0, latent_frame_groups(3, temporal)[2]][:, 8:16, 16:24]
    torch.testing.assert_close(held, expected, atol=1e-6, rtol=0)


def test_space_to_depth_rejects_bad_shapes():
    codec = SpaceToDepthCodec(8, 4)
    with pytest.raises(ValueError, match="multiples of the spatial compression"):
        codec.encode(torch.rand(1, 5, 12, 16, 3))
    with pytest.raises(ValueError, match="causal temporal compression 4"):
        codec.encode(torch.rand(1, 4, 16, 16, 3))
    with pytest.raises(ValueError, match="latents: expected"):
        codec.decode(torch.rand(1, 10, 2, 2, 2))


def _tiny_cosmos():
    from diffusers import AutoencoderKLCosmos

    torch.manual_seed(0)  # diffusers' own tests build tiny random models the same way
    return AutoencoderKLCosmos(
        latent_channels=4, encoder_block_out_channels=(8, 8, 8, 8), decode_block_out_channels=(8, 8, 8, 8),
        attention_resolutions=(8,), resolution=64, num_layers=2, patch_size=4, patch_type="haar",
        spatial_compression_ratio=4, temporal_compression_ratio=4, latents_mean=None, latents_std=None,
    )


def _tiny_wan():
    from diffusers import AutoencoderKLWan

    torch.manual_seed(0)
    return AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                            temperal_downsample=[False, True, True])


def _decode_with_lyra(codec, latents, frames_per_view, size):
    """The decoder consumes the codec's latents: 2 views of one sample."""
    c, tl, h, w = latents.shape[1:]
    cfg = DecoderConfig(latent_channels=c, spatial_compression=codec.spatial_compression,
                        temporal_compression=codec.temporal_compression, width=32, num_blocks=2, attention_blocks=(1,),
                        num_heads=2, ssm_state=8, ssm_head_dim=16, plucker_samples=1, gaussian_upsample=1,
                        patch_size=2 if h % 2 == 0 else 1)
    eyes = torch.randn(2 * frames_per_view, 3)
    cams = look_at_cameras(eyes, eyes + torch.tensor([1.0, 0.0, 0.0]), size, size)
    model = LyraDecoder(cfg, seed=0)
    out = model(latents.reshape(1, 2, c, tl, h, w), cams.viewmats.reshape(1, 2, -1, 4, 4), cams.Ks.reshape(1, 2, -1, 3, 3))
    assert out.num_gaussians == 2 * model.gaussians_per_view(tl, h, w)
    assert bool(torch.isfinite(out.means).all())


@pytest.mark.parametrize("kind", ["cosmos", "wan"])
def test_diffusers_vae_end_to_end(kind, tmp_path):
    vae = _tiny_cosmos() if kind == "cosmos" else _tiny_wan()
    vae.save_pretrained(tmp_path / "vae")
    codec = DiffusersVAECodec.from_pretrained(tmp_path, kind, subfolder="vae")
    assert isinstance(codec, LatentCodec)
    s, t = codec.spatial_compression, codec.temporal_compression
    assert (s, t) == ((4, 4) if kind == "cosmos" else (8, 4))
    frames = torch.rand(2, 1 + 2 * t, 32, 32, 3, generator=torch.Generator().manual_seed(1))
    latents = codec.encode(frames)
    assert latents.shape == (2, codec.latent_channels, 3, 32 // s, 32 // s)
    recon = codec.decode(latents)
    assert recon.shape == frames.shape and float(recon.min()) >= 0 and float(recon.max()) <= 1
    # Same weights, same input → same latents (the posterior's mode, no sampling).
    torch.testing.assert_close(codec.encode(frames), latents)
    _decode_with_lyra(codec, latents, 1 + 2 * t, 32)
    assert make_codec({"name": kind, "path": str(tmp_path), "subfolder": "vae"}).describe() == codec.describe()


def test_wan_latents_are_normalized_and_restored():
    codec = DiffusersVAECodec(_tiny_wan(), "wan")
    frames = torch.rand(1, 5, 16, 16, 3, generator=torch.Generator().manual_seed(2))
    raw = codec.vae.encode(frames.permute(0, 4, 1, 2, 3) * 2 - 1).latent_dist.mode()
    mean = torch.tensor(codec.vae.config.latents_mean).view(1, -1, 1, 1, 1)
    std = torch.tensor(codec.vae.config.latents_std).view(1, -1, 1, 1, 1)
    torch.testing.assert_close(codec.encode(frames), (raw - mean) / std, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind,repo", [("cosmos", COSMOS_REPO), ("wan", WAN_REPO)])
def test_missing_weights_say_what_to_download(kind, repo, tmp_path):
    with pytest.raises(FileNotFoundError, match=repo):
        DiffusersVAECodec.from_pretrained(tmp_path / "nothing", kind)
    with pytest.raises(ValueError, match=repo):
        make_codec({"name": kind})


@pytest.mark.parametrize("kind,repo", [("cosmos", COSMOS_REPO), ("wan", WAN_REPO)])
def test_a_vae_with_only_pickled_weights_is_refused_before_anything_is_unpickled(kind, repo, tmp_path, monkeypatch):
    import pickle

    vae = _tiny_cosmos() if kind == "cosmos" else _tiny_wan()
    vae.save_pretrained(tmp_path / "vae", safe_serialization=False)  # diffusion_pytorch_model.bin: a pickle
    assert [p.name for p in (tmp_path / "vae").glob("*.bin")] == ["diffusion_pytorch_model.bin"]

    def no_unpickling(*args, **kwargs):
        raise AssertionError("a pickle was loaded")

    monkeypatch.setattr(pickle, "load", no_unpickling)
    monkeypatch.setattr(torch, "load", no_unpickling)
    with pytest.raises(FileNotFoundError, match=r"no \*.safetensors weights .*found diffusion_pytorch_model.bin: pickled "
                                                r"weights are never loaded.*" + repo):
        DiffusersVAECodec.from_pretrained(tmp_path, kind, subfolder="vae")
