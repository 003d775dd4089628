"""Tiny randomly initialized checkpoints on disk, built the way diffusers' and transformers' own tests build them.

Each builder saves with ``save_pretrained`` (safetensors) into a directory, so the code under test
loads them back by path exactly as it loads real checkpoints. The tokenizer is a word-level
`tokenizers` model (the tests' usual ``hf-internal-testing/tiny-random-t5`` is a hub download).
"""

from __future__ import annotations

from pathlib import Path

import torch

WORDS = "a an the of with and in on room kitchen table chair red wooden photo scene".split()
TEXT_DIM = 32


def tokenizer(path: Path) -> Path:
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(["<pad>", "</s>", "<unk>", *WORDS])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")
    fast.save_pretrained(path)
    return path


def _text_encoder(umt5: bool = False):
    """A one-layer T5 encoder (UMT5 for Wan, whose pipelines declare it; T5 for PixArt)."""
    from transformers import T5Config, T5EncoderModel, UMT5Config, UMT5EncoderModel

    config_cls, model_cls = (UMT5Config, UMT5EncoderModel) if umt5 else (T5Config, T5EncoderModel)
    torch.manual_seed(0)
    cfg = config_cls(vocab_size=32, d_model=TEXT_DIM, d_kv=8, d_ff=37, num_layers=1, num_heads=4,
                     relative_attention_num_buckets=8, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
    return model_cls(cfg)


def _wan_parts(path: Path) -> dict:
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler
    from transformers import AutoTokenizer

    torch.manual_seed(0)
    vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True])
    tok = AutoTokenizer.from_pretrained(tokenizer(path / "_tok"))
    return {"vae": vae, "scheduler": FlowMatchEulerDiscreteScheduler(shift=7.0),
            "text_encoder": _text_encoder(umt5=True), "tokenizer": tok}


_WAN_TRANSFORMER = dict(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=16,
                        out_channels=16, text_dim=TEXT_DIM, freq_dim=256, ffn_dim=32, cross_attn_norm=True,
                        qk_norm="rms_norm_across_heads", rope_max_seq_len=32)


def wan_vace(path: Path) -> Path:
    """A tiny ``WanVACEPipeline`` directory (VAE 8x spatial, 4x temporal; transformer patch 2)."""
    from diffusers import WanVACEPipeline, WanVACETransformer3DModel

    parts = _wan_parts(path)
    torch.manual_seed(0)
    transformer = WanVACETransformer3DModel(**_WAN_TRANSFORMER, num_layers=3, vace_layers=[0, 2], vace_in_channels=96)
    WanVACEPipeline(transformer=transformer, **parts).save_pretrained(path / "vace")
    return path / "vace"


def wan_v2v(path: Path) -> Path:
    """A tiny ``WanVideoToVideoPipeline`` directory."""
    from diffusers import WanTransformer3DModel, WanVideoToVideoPipeline

    parts = _wan_parts(path)
    torch.manual_seed(0)
    transformer = WanTransformer3DModel(**_WAN_TRANSFORMER, num_layers=2)
    WanVideoToVideoPipeline(transformer=transformer, **parts).save_pretrained(path / "v2v")
    return path / "v2v"


def pixart(path: Path) -> Path:
    """A tiny ``PixArtAlphaPipeline`` (text → image) directory: 256 x 256 images through a 4x VAE."""
    from diffusers import AutoencoderKL, DDIMScheduler, PixArtAlphaPipeline, PixArtTransformer2DModel
    from transformers import AutoTokenizer

    torch.manual_seed(0)
    transformer = PixArtTransformer2DModel(
        sample_size=32, num_layers=1, patch_size=2, attention_head_dim=8, num_attention_heads=2,
        caption_channels=TEXT_DIM, in_channels=4, cross_attention_dim=16, out_channels=8, attention_bias=True,
        activation_fn="gelu-approximate", num_embeds_ada_norm=1000, norm_type="ada_norm_single",
        norm_elementwise_affine=False, norm_eps=1e-6,
    )
    torch.manual_seed(0)
    vae = AutoencoderKL(block_out_channels=(8, 8, 8), down_block_types=("DownEncoderBlock2D",) * 3,
                        up_block_types=("UpDecoderBlock2D",) * 3, latent_channels=4, norm_num_groups=4)
    tok = AutoTokenizer.from_pretrained(tokenizer(path / "_tok"))
    pipe = PixArtAlphaPipeline(tokenizer=tok, text_encoder=_text_encoder(), vae=vae, transformer=transformer,
                               scheduler=DDIMScheduler())
    pipe.save_pretrained(path / "t2i")
    return path / "t2i"


def depth_anything(path: Path, kind: str = "metric") -> Path:
    """A tiny ``DepthAnythingForDepthEstimation`` with its image processor (32 x 32 inputs)."""
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config, DPTImageProcessor

    backbone = Dinov2Config(image_size=32, patch_size=16, num_channels=3, hidden_size=32, num_hidden_layers=2,
                            num_attention_heads=4, intermediate_size=37, out_features=["stage1", "stage2"],
                            apply_layernorm=False, reshape_hidden_states=False)
    cfg = DepthAnythingConfig(backbone_config=backbone, reassemble_hidden_size=32, patch_size=16,
                              reassemble_factors=[2, 1], neck_hidden_sizes=[16, 32], fusion_hidden_size=16,
                              head_hidden_size=8, depth_estimation_type=kind, max_depth=10)
    torch.manual_seed(0)
    DepthAnythingForDepthEstimation(cfg).save_pretrained(path / "depth")
    DPTImageProcessor(size={"height": 32, "width": 32}, keep_aspect_ratio=False, ensure_multiple_of=16,
                      do_pad=False).save_pretrained(path / "depth")
    return path / "depth"
