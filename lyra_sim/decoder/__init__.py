"""Lyra's 3DGS decoder: multi-view video latents → 3D Gaussians (arXiv 2509.19296).

- `model`, `blocks`, `ssm`, `rays`, `config`: the network (Plücker rays, Mamba2 + attention,
  Gaussian heads) and its presets;
- `codecs`: video ↔ latents (space-to-depth, diffusers VAEs from local paths);
- `checkpoint`: the safetensors checkpoint file and its contract (codec, video, world);
- `inference`: `decode_world`, a world model's video through codec and decoder.
"""

from .checkpoint import (
    DEFAULT_CHECKPOINT,
    DEFAULT_DYNAMIC_CHECKPOINT,
    WorldSettings,
    check_compatible,
    load_decoder,
    load_initial_weights,
    read_decoder_metadata,
    resolve_checkpoint,
    save_decoder,
)
from .config import PRESETS, DecoderConfig
from .inference import DecodedScene, checkpoint_world, decode_world
from .model import GaussianBatch, LyraDecoder, activate_gaussians, count_parameters
from .rays import camera_rays, plucker

__all__ = [
    "DEFAULT_CHECKPOINT",
    "DEFAULT_DYNAMIC_CHECKPOINT",
    "PRESETS",
    "DecodedScene",
    "DecoderConfig",
    "GaussianBatch",
    "LyraDecoder",
    "WorldSettings",
    "activate_gaussians",
    "camera_rays",
    "check_compatible",
    "checkpoint_world",
    "count_parameters",
    "decode_world",
    "load_decoder",
    "load_initial_weights",
    "plucker",
    "read_decoder_metadata",
    "resolve_checkpoint",
    "save_decoder",
]
