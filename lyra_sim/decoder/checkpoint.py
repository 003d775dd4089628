"""Decoder checkpoints: one safetensors file holding the weights and, in its metadata, the config.

Metadata keys (all strings, as safetensors requires):
    ``format``: ``"lyra-sim-decoder"``; ``format_version``: ``"1"``;
    ``config``: `DecoderConfig` as JSON;
    ``extra``: JSON object for what inference needs besides the weights (the codec and video
    settings the decoder was trained with, training step, ...).

safetensors stores raw tensors and a JSON header, never pickled code, so an untrusted file can
at worst fail to load.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from ..atomic import atomic_path
from .config import DecoderConfig
from .model import LyraDecoder

FORMAT = "lyra-sim-decoder"
FORMAT_VERSION = "1"


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
        config = DecoderConfig.from_dict(json.loads(meta["config"]))
        extra = json.loads(meta.get("extra", "{}"))
    except (KeyError, json.JSONDecodeError, TypeError) as err:
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


def load_weights(path: str | os.PathLike, model: LyraDecoder) -> None:
    """Copy a checkpoint's tensors into ``model``; names and shapes must match exactly."""
    try:
        with safe_open(str(path), framework="pt") as f:
            state = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as err:
        raise ValueError(f"{path}: corrupt safetensors data ({err})") from err
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
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
    model.load_state_dict(state)
