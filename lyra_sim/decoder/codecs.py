"""Latent codecs: ``encode(frames) → latents`` and ``decode(latents) → frames``.

The 3DGS decoder reads a video model's latents; its teacher during self-distillation is the
codec's own RGB decoder (Lyra, arXiv 2509.19296). Three codecs share one protocol:

- `SpaceToDepthCodec`: lossless, no weights, the offline default. Each ``s x s`` pixel block of
  ``t`` consecutive frames becomes ``3 s² t`` channels of one latent pixel.
- `DiffusersVAECodec` for diffusers' ``AutoencoderKLCosmos`` (Lyra's tokenizer family, Cosmos
  CV8x8x8: 16 channels, 8x8 spatial, 8x temporal) and ``AutoencoderKLWan`` (16 channels, 8x8
  spatial, 4x temporal), loaded from a local directory with ``from_pretrained``.

Layouts (all codecs):
    frames: ``[B, T, H, W, 3]`` float in [0, 1], channels last like `lyra_sim.render`.
    latents: ``[B, C, T', H / s, W / s]``, channels first like diffusers.

Time is *causal* in every codec, as in Cosmos and Wan: latent frame 0 encodes frame 0 alone
and latent frame ``i >= 1`` encodes frames ``t (i - 1) + 1 .. t i``, so ``T = 1 + t (T' - 1)``
(`latent_frame_groups` gives the mapping). The space-to-depth codec fills latent frame 0's
``t`` slots with copies of frame 0 and decodes it from its last slot.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor

COSMOS_REPO = "nvidia/Cosmos-1.0-Tokenizer-CV8x8x8"
WAN_REPO = "Wan-AI/Wan2.1-T2V-1.3B-Diffusers"


def num_latent_frames(num_frames: int, temporal: int) -> int:
    """``T'`` for ``T`` frames under causal compression ``t``; raises unless ``T = 1 + t k``."""
    if num_frames < 1 or (num_frames - 1) % temporal:
        raise ValueError(
            f"frames: {num_frames} frames do not fit causal temporal compression {temporal} "
            f"(expected 1 + {temporal}·k frames, e.g. {1 + temporal}, {1 + 2 * temporal}, {1 + 4 * temporal})"
        )
    return 1 + (num_frames - 1) // temporal


def latent_frame_groups(num_latent: int, temporal: int, device: torch.device | str = "cpu") -> Tensor:
    """Frame index of every slot of every latent frame: ``[T', t]`` int64.

    Row 0 is ``[0, 0, ..., 0]`` (frame 0 repeated: the causal first latent); row ``i >= 1`` is
    ``t (i - 1) + 1 .. t i``.
    """
    rows = torch.arange(num_latent, device=device)[:, None]
    slots = torch.arange(temporal, device=device)[None, :]
    return torch.where(rows == 0, torch.zeros_like(rows * slots), temporal * (rows - 1) + 1 + slots)


@runtime_checkable
class LatentCodec(Protocol):
    """What the distillation trainer and the decoder need from a codec.

    Attributes:
        name: short identifier stored in decoder checkpoints ("s2d", "cosmos", "wan").
        latent_channels, spatial_compression, temporal_compression: the latent layout.
    """

    name: str
    latent_channels: int
    spatial_compression: int
    temporal_compression: int

    def encode(self, frames: Tensor) -> Tensor:
        """``[B, T, H, W, 3]`` in [0, 1] → ``[B, C, T', H / s, W / s]``."""
        ...

    def decode(self, latents: Tensor) -> Tensor:
        """``[B, C, T', h, w]`` → ``[B, T, h s, w s, 3]`` in [0, 1]."""
        ...

    def describe(self) -> dict[str, Any]:
        """JSON-able description, stored with checkpoints and caches to detect mismatches."""
        ...


def _check_frames(frames: Tensor, spatial: int, temporal: int) -> int:
    if not isinstance(frames, Tensor) or frames.ndim != 5 or frames.shape[-1] != 3:
        shape = list(frames.shape) if isinstance(frames, Tensor) else type(frames).__name__
        raise ValueError(f"frames: expected [B, T, H, W, 3] RGB in [0, 1], got {shape}")
    _, t, h, w, _ = frames.shape
    if h % spatial or w % spatial:
        raise ValueError(f"frames: height {h} and width {w} must be multiples of the spatial compression {spatial}")
    return num_latent_frames(t, temporal)


@dataclass(frozen=True)
class SpaceToDepthCodec:
    """Lossless codec: pixel blocks folded into channels, values mapped from [0, 1] to [-1, 1].

    ``decode(encode(x)) == x`` exactly (up to float rounding of ``2x - 1``). Latent channel
    order is ``(slot, dy, dx, rgb)``.

    Attributes:
        spatial_compression: s, pixels per latent pixel along each axis.
        temporal_compression: t, frames per latent frame (causal, see the module doc).
    """

    spatial_compression: int = 8
    temporal_compression: int = 1
    name: str = "s2d"

    def __post_init__(self) -> None:
        for field_name in ("spatial_compression", "temporal_compression"):
            value = getattr(self, field_name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{field_name}: expected a positive integer, got {value!r}")

    @property
    def latent_channels(self) -> int:
        return 3 * self.spatial_compression**2 * self.temporal_compression

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "spatial_compression": self.spatial_compression,
                "temporal_compression": self.temporal_compression}

    def encode(self, frames: Tensor) -> Tensor:
        s, t = self.spatial_compression, self.temporal_compression
        tl = _check_frames(frames, s, t)
        b, _, h, w, _ = frames.shape
        groups = latent_frame_groups(tl, t, frames.device)  # [T', t]
        x = frames[:, groups.reshape(-1)].reshape(b, tl, t, h // s, s, w // s, s, 3)
        x = x.permute(0, 2, 4, 6, 7, 1, 3, 5).reshape(b, t * s * s * 3, tl, h // s, w // s)
        return x * 2 - 1

    def decode(self, latents: Tensor) -> Tensor:
        s, t = self.spatial_compression, self.temporal_compression
        if not isinstance(latents, Tensor) or latents.ndim != 5 or latents.shape[1] != self.latent_channels:
            shape = list(latents.shape) if isinstance(latents, Tensor) else type(latents).__name__
            raise ValueError(f"latents: expected [B, {self.latent_channels}, T', h, w], got {shape}")
        b, _, tl, h, w = latents.shape
        x = latents.reshape(b, t, s, s, 3, tl, h, w).permute(0, 5, 1, 6, 2, 7, 3, 4)
        x = x.reshape(b, tl * t, h * s, w * s, 3)
        # Latent 0's slots all hold frame 0; its last slot is the one a trained model
        # predicts in the same position as later latents' frames.
        x = x[:, t - 1 :]
        return ((x + 1) / 2).clamp(0, 1)


class DiffusersVAECodec:
    """A diffusers video VAE (``AutoencoderKLCosmos`` or ``AutoencoderKLWan``) as a `LatentCodec`.

    Encoding takes the mode of the posterior (deterministic) and normalizes it with the
    model's ``latents_mean`` / ``latents_std`` when its config has them (per channel for Wan;
    per channel and latent frame for Cosmos, as diffusers' Cosmos pipelines do), so the
    decoder sees roughly unit-scale inputs. Decoding undoes the normalization.

    Args:
        vae: the diffusers model.
        kind: "cosmos" or "wan".
    """

    def __init__(self, vae: Any, kind: str) -> None:
        if kind not in ("cosmos", "wan"):
            raise ValueError(f"kind: expected 'cosmos' or 'wan', got {kind!r}")
        self.vae = vae.eval().requires_grad_(False)
        self.kind = kind
        self.name = kind
        cfg = vae.config
        if kind == "cosmos":
            self.latent_channels = int(cfg.latent_channels)
            self.spatial_compression = int(cfg.spatial_compression_ratio)
            self.temporal_compression = int(cfg.temporal_compression_ratio)
        else:
            self.latent_channels = int(cfg.z_dim)
            self.spatial_compression = int(cfg.scale_factor_spatial)
            self.temporal_compression = int(cfg.scale_factor_temporal)
        self._mean = None if cfg.latents_mean is None else torch.tensor(cfg.latents_mean, dtype=torch.float32)
        self._std = None if cfg.latents_std is None else torch.tensor(cfg.latents_std, dtype=torch.float32)

    @classmethod
    def from_pretrained(
        cls, path: str | os.PathLike, kind: str, *, device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32, subfolder: str | None = None,
    ) -> "DiffusersVAECodec":
        """Load from a local diffusers directory (never the network).

        Args:
            path: the model directory (holding ``config.json`` and weights), or the
                pipeline directory with ``subfolder="vae"``.
            kind: "cosmos" (``AutoencoderKLCosmos``) or "wan" (``AutoencoderKLWan``).

        Raises:
            FileNotFoundError: naming the Hugging Face repository to download and where
                to put it, when ``path`` holds no such model, or holds its weights only in
                a pickled format (``.bin``, ``.pt``, ...): those are never loaded, since
                unpickling runs code from the file.
        """
        if kind not in ("cosmos", "wan"):
            raise ValueError(f"kind: expected 'cosmos' or 'wan', got {kind!r}")
        from diffusers import AutoencoderKLCosmos, AutoencoderKLWan

        model_cls, repo = (AutoencoderKLCosmos, COSMOS_REPO) if kind == "cosmos" else (AutoencoderKLWan, WAN_REPO)
        folder = Path(path) / subfolder if subfolder else Path(path)
        if not (folder / "config.json").is_file():
            raise FileNotFoundError(
                f"{folder}: no {model_cls.__name__} here (config.json missing). Download the VAE of "
                f"{repo} (its 'vae' subfolder) on a machine with network access, e.g. "
                f"`huggingface-cli download {repo} --include 'vae/*' --local-dir DIR`, copy DIR here "
                f"and pass DIR with subfolder='vae' (or DIR/vae)"
            )
        if next(folder.glob("*.safetensors"), None) is None:
            pickled = sorted(p.name for pattern in ("*.bin", "*.pt", "*.pth", "*.ckpt") for p in folder.glob(pattern))
            raise FileNotFoundError(
                f"{folder}: no *.safetensors weights for the {model_cls.__name__}"
                + (f" (found {', '.join(pickled)}: pickled weights are never loaded, since unpickling runs code "
                   "from the file; convert them with `save_pretrained(..., safe_serialization=True)`)" if pickled else "")
                + f"; the {repo} download has safetensors weights"
            )
        vae = model_cls.from_pretrained(str(folder), local_files_only=True, torch_dtype=dtype, use_safetensors=True)
        return cls(vae.to(device), kind)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "latent_channels": self.latent_channels,
                "spatial_compression": self.spatial_compression, "temporal_compression": self.temporal_compression}

    def _stats(self, latents: Tensor) -> tuple[Tensor, Tensor] | None:
        if self._mean is None or self._std is None:
            return None
        c, tl = latents.shape[1], latents.shape[2]
        mean = self._mean.to(latents.device, latents.dtype).view(1, c, -1, 1, 1)
        std = self._std.to(latents.device, latents.dtype).view(1, c, -1, 1, 1)
        if mean.shape[2] > 1:  # Cosmos: statistics per latent frame
            if mean.shape[2] < tl:
                raise ValueError(f"latents: {tl} latent frames, but the VAE has statistics for {mean.shape[2]}")
            mean, std = mean[:, :, :tl], std[:, :, :tl]
        return mean, std

    @torch.no_grad()
    def encode(self, frames: Tensor) -> Tensor:
        _check_frames(frames, self.spatial_compression, self.temporal_compression)
        param = next(self.vae.parameters())
        x = (frames.permute(0, 4, 1, 2, 3) * 2 - 1).to(param.device, param.dtype)  # [B, 3, T, H, W]
        z = self.vae.encode(x).latent_dist.mode().float()
        stats = self._stats(z)
        return z if stats is None else (z - stats[0]) / stats[1]

    @torch.no_grad()
    def decode(self, latents: Tensor) -> Tensor:
        if not isinstance(latents, Tensor) or latents.ndim != 5 or latents.shape[1] != self.latent_channels:
            shape = list(latents.shape) if isinstance(latents, Tensor) else type(latents).__name__
            raise ValueError(f"latents: expected [B, {self.latent_channels}, T', h, w], got {shape}")
        stats = self._stats(latents)
        z = latents if stats is None else latents * stats[1] + stats[0]
        param = next(self.vae.parameters())
        x = self.vae.decode(z.to(param.device, param.dtype)).sample.float()  # [B, 3, T, H, W] in [-1, 1]
        return ((x.permute(0, 2, 3, 4, 1) + 1) / 2).clamp(0, 1)


def make_codec(spec: dict[str, Any], *, device: str | torch.device = "cpu") -> LatentCodec:
    """Build a codec from its description (``describe()`` output, plus ``path`` for VAEs).

    ``{"name": "s2d", "spatial_compression": 8, "temporal_compression": 4}`` or
    ``{"name": "cosmos" | "wan", "path": DIR, "subfolder": "vae"}``.
    """
    name = spec.get("name")
    if name == "s2d":
        return SpaceToDepthCodec(int(spec.get("spatial_compression", 8)), int(spec.get("temporal_compression", 1)))
    if name in ("cosmos", "wan"):
        if "path" not in spec:
            repo = COSMOS_REPO if name == "cosmos" else WAN_REPO
            raise ValueError(f"codec {name!r}: needs 'path', a local copy of {repo} (the VAE)")
        return DiffusersVAECodec.from_pretrained(spec["path"], name, device=device, subfolder=spec.get("subfolder"))
    raise ValueError(f"codec: unknown name {name!r}; accepted: s2d, cosmos, wan")
