"""Decoder checkpoints: one safetensors file holding the weights and, in its metadata, the config.

Metadata keys (all strings, as safetensors requires):
    ``format``: ``"lyra-sim-decoder"``; ``format_version``: ``"1"``;
    ``config``: `DecoderConfig` as JSON;
    ``extra``: JSON object for what inference needs besides the weights (the codec and video
    settings the decoder was trained with, training step, ...).

safetensors stores raw tensors and a JSON header, never pickled code, so an untrusted file can
at worst fail to load.

The checkpoint contract: a decoder reads one codec's latents of one kind of video, and was
trained on one world model. `check_compatible` checks the first two fit the decoder;
`WorldSettings` records the third (the trainer writes all three into ``extra``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from ..atomic import atomic_path
from ..config import parse_json
from ..video import VideoSpec
from .codecs import num_latent_frames
from .config import ADDITIONS, DecoderConfig
from .model import LyraDecoder

FORMAT = "lyra-sim-decoder"
FORMAT_VERSION = "1"

DEFAULT_CHECKPOINT = Path(__file__).parent / "weights" / "lyra_small.safetensors"
"""Where the shipped decoder lives inside the package (``--decoder default``)."""

DEFAULT_DYNAMIC_CHECKPOINT = Path(__file__).parent / "weights" / "lyra_small_dynamic.safetensors"
"""Where the shipped time-conditioned decoder lives (``generate --dynamic --decoder default``)."""

ADDED_MODULES: dict[str, tuple[str, ...]] = {
    "time_embedding": ("time_embed.", "target_embed."),
    "offsets": ("offset_head.", "detail_offsets."),
    "detail_width": ("detail.", "detail_out.", "detail_offsets.", "detail_gate.", "detail_motion."),
    "depth_input": ("depth_embed.", "depth_gate.", "detail_gate."),
    "motion_gate": ("motion_head.", "detail_motion."),
}
"""The weights each of `ADDITIONS` brings (zero-initialized where they output: a decoder with an addition
started from a checkpoint without it decodes as that checkpoint)."""

WORLD_MODELS = ("procedural", "procedural_dynamic")
"""World models a decoder can be trained on offline (`WorldSettings.name`)."""


@dataclass(frozen=True)
class WorldSettings:
    """The world model that imagined a decoder's training scenes (built by
    `lyra_sim.worlds.procedural_video.make_world`).

    Attributes:
        name: one of `WORLD_MODELS`.
        spacing: Gaussian spacing of procedural rooms in meters (None: the generator's default).
        fps: frames per second of the input video of a dynamic world (None: its default).
    """

    name: str = "procedural"
    spacing: float | None = None
    fps: float | None = None


def check_compatible(decoder: DecoderConfig, codec: dict[str, Any], video: VideoSpec) -> None:
    """Raise ``ValueError`` naming the mismatch unless ``decoder`` can read ``codec``'s latents of ``video``."""
    if codec.get("name") == "s2d":
        s, t = int(codec.get("spatial_compression", 8)), int(codec.get("temporal_compression", 1))
        expect = {"latent_channels": 3 * s * s * t, "spatial_compression": s, "temporal_compression": t}
        bad = {k: (getattr(decoder, k), v) for k, v in expect.items() if getattr(decoder, k) != v}
        if bad:
            raise ValueError(
                "decoder and codec disagree: " + ", ".join(f"decoder.{k}={a} but the codec gives {b}" for k, (a, b) in bad.items())
            )
    num_latent_frames(video.num_frames, decoder.temporal_compression)
    cell = decoder.spatial_compression * decoder.patch_size
    if video.width % cell or video.height % cell:
        raise ValueError(f"video: width and height must be multiples of {cell} (spatial compression x patch size)")


def resolve_checkpoint(checkpoint: str | os.PathLike, *, dynamic: bool = False) -> Path:
    """``"default"`` → the shipped checkpoint (the time-conditioned one if ``dynamic``); anything else → that path.
    Raises if the file is missing."""
    if str(checkpoint) == "default" and dynamic:
        if not DEFAULT_DYNAMIC_CHECKPOINT.is_file():
            raise FileNotFoundError(
                f"{DEFAULT_DYNAMIC_CHECKPOINT}: the default dynamic (time-conditioned) decoder is not installed yet. "
                "Train it on a GPU with scripts/distill_dynamic_device.sh (configs/distill_dynamic_small.json, "
                f"fine-tuned from the shipped static decoder) and copy its decoder.safetensors to "
                f"{DEFAULT_DYNAMIC_CHECKPOINT}, or pass a checkpoint path (--decoder FILE); without --decoder, "
                "--dynamic uses the procedural world's own Gaussians"
            )
        return DEFAULT_DYNAMIC_CHECKPOINT
    if str(checkpoint) == "default":
        if not DEFAULT_CHECKPOINT.is_file():
            raise FileNotFoundError(
                f"{DEFAULT_CHECKPOINT}: the default decoder checkpoint is not installed. Train one with "
                "scripts/distill_h100.sh (lyra-sim distill --config configs/distill_small.json) and copy "
                f"RUN_DIR/decoder.safetensors to {DEFAULT_CHECKPOINT}, or pass a checkpoint path"
            )
        return DEFAULT_CHECKPOINT
    path = Path(checkpoint)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such decoder checkpoint")
    return path


def save_decoder(path: str | os.PathLike, model: LyraDecoder, extra: dict[str, Any] | None = None) -> Path:
    """Write ``model``'s weights and config to ``path`` atomically; returns the path."""
    state = {k: v.detach().to("cpu", torch.float32 if v.is_floating_point() else v.dtype).contiguous()
             for k, v in model.state_dict().items()}
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": model.config.to_json(),
        "extra": json.dumps(extra or {}, sort_keys=True),
    }
    path = Path(path)
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata=metadata)
    return path


def read_decoder_metadata(path: str | os.PathLike) -> tuple[DecoderConfig, dict[str, Any]]:
    """``(config, extra)`` from a checkpoint's header, without reading the weights."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such decoder checkpoint")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as err:
        raise ValueError(
            f"{path}: not a readable safetensors file ({err}); decoder checkpoints are safetensors files "
            "written by lyra_sim.decoder.save_decoder (pickled .pt/.ckpt files are not accepted)"
        ) from err
    if meta.get("format") != FORMAT:
        raise ValueError(
            f"{path}: a safetensors file, but not a lyra-sim decoder checkpoint "
            f"(metadata 'format' is {meta.get('format')!r}, expected {FORMAT!r})"
        )
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path}: checkpoint format version {meta.get('format_version')!r}; this lyra-sim reads {FORMAT_VERSION!r}")
    try:
        config = DecoderConfig.from_dict(parse_json(meta["config"], "config"))
        extra = parse_json(meta.get("extra", "{}"), "extra")
    except (KeyError, ValueError, TypeError) as err:
        raise ValueError(f"{path}: the checkpoint's config metadata is missing or corrupt ({err})") from err
    return config, extra


def load_decoder(
    path: str | os.PathLike,
    *,
    expected: DecoderConfig | None = None,
    device: str | torch.device = "cpu",
) -> tuple[LyraDecoder, dict[str, Any]]:
    """Build a `LyraDecoder` from a checkpoint.

    Args:
        expected: when given, the checkpoint's config must equal it; otherwise a
            ``ValueError`` lists every differing field.

    Returns:
        ``(model in eval mode on device, extra metadata)``.
    """
    config, extra = read_decoder_metadata(path)
    if expected is not None and config != expected:
        diffs = "; ".join(f"{k}: checkpoint {a!r} vs expected {b!r}" for k, (a, b) in config.diff(expected).items())
        raise ValueError(f"{path}: decoder config mismatch — {diffs}")
    model = LyraDecoder(config)
    load_weights(path, model)
    return model.to(device).eval(), extra


def load_initial_weights(path: str | os.PathLike, model: LyraDecoder) -> list[str]:
    """Start ``model`` from a checkpoint of the same decoder, or of it with some of its zero-started `ADDITIONS`
    off (a static checkpoint for a time-conditioned decoder; one without the detail head for one with it).

    The weights of the additions the checkpoint lacks (`ADDED_MODULES`) keep their zero initialization, so
    the decoder starts out decoding exactly as the checkpoint's did, at any target time.

    Returns:
        The names of the weights left as initialized (empty when the configs are equal).
    """
    saved, _ = read_decoder_metadata(path)
    if saved == model.config:
        load_weights(path, model)
        return []
    diff = saved.diff(model.config)
    off = {k for k, (mine, _) in diff.items() if k in ADDITIONS and mine == ADDITIONS[k]}
    if set(diff) != off:
        diffs = "; ".join(f"{k}: checkpoint {a!r} vs model {b!r}" for k, (a, b) in diff.items() if k not in off)
        raise ValueError(f"{path}: cannot initialize this decoder from it (only additions the checkpoint has off may "
                         f"differ: {', '.join(ADDITIONS)}): {diffs}")
    prefixes = tuple(p for k in off for p in ADDED_MODULES[k])
    fresh = sorted(k for k in model.state_dict() if k.startswith(prefixes))
    load_weights(path, model, allow_missing=prefixes)
    return fresh


def load_weights(path: str | os.PathLike, model: LyraDecoder, allow_missing: tuple[str, ...] = ()) -> None:
    """Copy a checkpoint's tensors into ``model``; names and shapes must match exactly."""
    try:
        with safe_open(str(path), framework="pt") as f:
            state = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as err:
        raise ValueError(f"{path}: corrupt safetensors data ({err})") from err
    own = model.state_dict()
    missing = sorted(k for k in set(own) - set(state) if not k.startswith(allow_missing))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if tuple(own[k].shape) != tuple(state[k].shape))
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {missing[:5]}{' ...' if len(missing) > 5 else ''}")
        if unexpected:
            parts.append(f"unexpected {unexpected[:5]}{' ...' if len(unexpected) > 5 else ''}")
        if wrong:
            parts.append("shape mismatch " + ", ".join(f"{k} {list(state[k].shape)} vs {list(own[k].shape)}" for k in wrong[:5]))
        raise ValueError(f"{path}: weights do not fit the decoder config: {'; '.join(parts)}")
    model.load_state_dict(state, strict=not allow_missing)
