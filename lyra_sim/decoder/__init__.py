"""Lyra's 3DGS decoder: multi-view video latents → 3D Gaussians (arXiv 2509.19296)."""

from .checkpoint import load_decoder, read_decoder_metadata, save_decoder
from .config import PRESETS, DecoderConfig
from .model import GaussianBatch, LyraDecoder, activate_gaussians, count_parameters
from .rays import camera_rays, plucker

__all__ = [
    "PRESETS",
    "DecoderConfig",
    "GaussianBatch",
    "LyraDecoder",
    "activate_gaussians",
    "camera_rays",
    "count_parameters",
    "load_decoder",
    "plucker",
    "read_decoder_metadata",
    "save_decoder",
]
