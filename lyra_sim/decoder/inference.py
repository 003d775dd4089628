"""Lyra's inference path: a world model's multi-view video → codec latents → 3DGS decoder → `GaussianScene`.

`decode_world` takes any `lyra_sim.video.WorldModel`: the procedural world the shipped
decoder was trained on, or the diffusers world (`lyra_sim.worlds.diffusion`). The caller
(`lyra_sim.pipelines`) writes the scene directory, as for the procedural world's own Gaussians.

A time-conditioned decoder (`DecoderConfig.time_embedding`) reads a dynamic video (one whose
frames carry times) and decodes it once per target time, into a `lyra_sim.dynamic.DynamicScene`
("bullet time": each target time is a complete Gaussian set).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from typing import Any, Callable

import torch

from ..cameras import TRAJECTORIES
from ..config import from_dict
from ..dynamic import DynamicScene
from ..scene import GaussianScene
from ..video import MultiViewVideo, VideoSpec, WorldModel
from .checkpoint import WorldSettings, check_compatible, load_decoder, read_decoder_metadata, resolve_checkpoint
from .codecs import make_codec
from .model import LyraDecoder, normalize_times


@dataclass(frozen=True)
class DecodedScene:
    """What `decode_world` returns.

    Attributes:
        scene: the decoded Gaussians (world frame, pruned), on the requested device.
        video: the world model's multi-view video the decoder read.
        checkpoint: path of the decoder used; config: its `DecoderConfig` as a dict;
        metadata: what the checkpoint records besides (codec, video, world, training step).
        timings: seconds per stage: ``imagine``, ``encode``, ``decode`` (all target times).
        dynamic: for a time-conditioned decoder, the Gaussians at every target time (``scene`` is
            then the first of them); None for a static one.
        depth_input: whether the decoder read the world model's depth beside the latents (a decoder with
            ``depth_input`` and a world model that gives depth, as the procedural one does).
    """

    scene: GaussianScene
    video: MultiViewVideo
    checkpoint: str
    config: dict[str, Any]
    metadata: dict[str, Any]
    timings: dict[str, float]
    dynamic: DynamicScene | None = None
    depth_input: bool = False


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def checkpoint_world(checkpoint: str | os.PathLike, *, dynamic: bool = False) -> WorldSettings:
    """The world model ``checkpoint`` was trained on (its metadata's ``world`` record)."""
    _, extra = read_decoder_metadata(resolve_checkpoint(checkpoint, dynamic=dynamic))
    return from_dict(WorldSettings, extra.get("world", {}), f"{checkpoint}: metadata world")


def decode_world(
    world: WorldModel,
    condition: Any,
    seed: int,
    checkpoint: str | os.PathLike = "default",
    *,
    device: str | torch.device = "cpu",
    keep_ratio: float | None = None,
    codec_path: str | os.PathLike | None = None,
    stage: Callable[[str], None] = lambda name: None,
    targets: Any = None,
) -> DecodedScene:
    """Imagine ``condition`` with ``world`` along Lyra's six trajectories and decode the latents into Gaussians.

    Args:
        world: the world model (for the shipped decoder, the procedural world rendering on
            ``device``: see `checkpoint_world`).
        condition: prompt or scene spec (or image condition) for the world model.
        seed: same condition + seed + checkpoint → same scene.
        checkpoint: a decoder checkpoint path, or ``"default"`` (the shipped one).
        keep_ratio: fraction of Gaussians kept (default: the checkpoint's, Lyra's 0.2).
        codec_path: local diffusers VAE directory when the checkpoint was trained on a VAE's latents.
        stage: called with a short description as each step starts.
        targets: a time-conditioned decoder's target times: seconds, or a count (that many evenly over
            the video's span), or None (the video's frame times).
    """
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device}: no CUDA GPU is available to this torch {torch.__version__}; use the CPU")
    path = resolve_checkpoint(checkpoint)
    config, extra = read_decoder_metadata(path)
    if targets is not None and not config.time_embedding:
        raise ValueError(f"{path}: a static decoder (no time conditioning) cannot decode target times; use a dynamic "
                         "checkpoint (trained with configs/distill_dynamic_small.json)")
    for key in ("codec", "video"):
        if key not in extra:
            raise ValueError(f"{path}: checkpoint metadata lacks {key!r} (not written by lyra_sim.training?)")
    codec_spec = dict(extra["codec"])
    if codec_spec.get("name") != "s2d":
        if codec_path is None:
            raise ValueError(f"{path}: this decoder reads {codec_spec.get('name')} latents; pass codec_path (the local VAE)")
        codec_spec["path"] = str(codec_path)
    try:
        spec = replace(from_dict(VideoSpec, extra["video"], "video"), num_holdout=0, anchor="corner")
        check_compatible(config, codec_spec, spec)  # before minutes of rendering, not after
    except (ValueError, TypeError) as err:
        raise ValueError(f"{path}: the checkpoint's settings do not fit together: {err}") from err
    stage(f"loading the decoder ({path.name})")
    model: LyraDecoder
    model, _ = load_decoder(path, device=device)
    codec = make_codec(codec_spec, device=device)

    stage(f"imagining the scene along {len(TRAJECTORIES)} trajectories ({world.name} world model)")
    t0 = time.perf_counter()
    video = world.imagine(condition, TRAJECTORIES, seed=seed, spec=spec)
    _sync(device)
    t1 = time.perf_counter()
    stage("encoding the video into latents")
    v, t, h, w, _ = video.frames.shape
    latents = video.latents
    if latents is None:
        latents = codec.encode(video.frames.to(device).reshape(v, t, h, w, 3))
    _sync(device)
    t2 = time.perf_counter()
    args = (latents[None].to(device), video.viewmats[None].to(device), video.Ks[None].to(device), keep_ratio)
    # A depth-input decoder reads the world's depth where the world has it: the procedural world's own, the
    # diffusers worlds' 3D cache (0, unknown, where the video model filled in); a world without any leaves the
    # decoder on the latents alone, as it was also trained to run.
    depth = video.depth[None, ..., 0].to(device) if config.depth_input and video.depth is not None else None
    if not config.time_embedding:
        stage("decoding latents into 3D Gaussians")
        scene = model.decode(*args, depth=depth)[0]
        _sync(device)
        t3 = time.perf_counter()
        return DecodedScene(scene, video, str(path), model.config.to_dict(), extra,
                            {"imagine": t1 - t0, "encode": t2 - t1, "decode": t3 - t2}, depth_input=depth is not None)
    if video.times is None:
        raise ValueError(f"{path}: a time-conditioned decoder needs a dynamic video (frames with times); the "
                         f"{world.name} world model gave a static one")
    seconds = video.times.double().cpu()
    if isinstance(targets, int):
        wanted = torch.linspace(float(seconds[0]), float(seconds[-1]), targets, dtype=torch.float64)
    else:
        wanted = seconds if targets is None else torch.as_tensor(targets, dtype=torch.float64)
    stage(f"decoding latents into 3D Gaussians at {len(wanted)} target times")
    frame_t, target_t = normalize_times(seconds[None], wanted[None])
    frame_t = frame_t.float().to(device)
    # The free-space test depends on the video only: once for all target times.
    moved = model.free_space(depth, args[1], args[2], frame_t) if depth is not None and config.motion_gate else None
    scenes = tuple(model.decode(*args, times=frame_t, target=target_t[:, i].float().to(device), depth=depth,
                                moved=moved)[0] for i in range(len(wanted)))
    _sync(device)
    t3 = time.perf_counter()
    fps = video.info.get("fps") if targets is None else None
    dynamic = DynamicScene(tuple(wanted.tolist()), scenes, fps)
    return DecodedScene(scenes[0], video, str(path), model.config.to_dict(), extra,
                        {"imagine": t1 - t0, "encode": t2 - t1, "decode": t3 - t2}, dynamic, depth is not None)
