"""Image or text (or a video) → scene through real diffusion models (``lyra-sim generate --world diffusers``).

The flow is Lyra's (arXiv 2509.19296) with GEN3C-style camera control: the anchor image (given,
or drawn by a text-to-image model) is lifted into a 3D cache with monocular depth, the cache is
rendered along Lyra's six trajectories, a diffusers video model fills what the cache misses
(`lyra_sim.worlds.diffusion.DiffusionWorld`), the decoder's codec turns the videos into latents
and the 3DGS decoder into a `GaussianScene`. `diffusers_source` returns that as a
`DecoderSource`; `lyra_sim.pipelines.generate_scene` writes its directory (``scene.ply``,
``preview.png`` from the anchor view, ``manifest.json``) like any other source's.

`diffusers_video_source` is the dynamic path: a monocular clip lifted into a dynamic 3D cache, the
video model along the six trajectories, and the time-conditioned decoder per target time
(`lyra_sim.worlds.video_lift`, `lyra_sim.pipelines.dynamic.DecoderDynamicSource`).

`diffusers_source` takes only paths, numbers and strings, so that callers such as the
Gymnasium environment (``gym.make("LyraScene-v0", image=..., world="diffusers", ...)``) can
pass their keyword arguments straight through.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ..decoder.checkpoint import read_decoder_metadata, resolve_checkpoint
from ..worlds.diffusion import VIDEO_BACKENDS, DiffusionWorld, LoadOptions
from ..worlds.model_dirs import check_all
from ..worlds.video_lift import DiffusionVideoWorld
from .dynamic import DecoderDynamicSource
from .sources import DecoderSource

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def diffusers_source(
    *,
    image: str | os.PathLike | None = None,
    prompt: str | None = None,
    seed: int = 0,
    video_model: str | os.PathLike | None = None,
    depth_model: str | os.PathLike | None = None,
    t2i_model: str | os.PathLike | None = None,
    decoder: str | os.PathLike = "default",
    backend: str = "vace",
    device: str = "cpu",
    dtype: str | None = None,
    offload: bool = False,
    vae_tiling: bool = False,
    steps: int = 30,
    guidance_scale: float = 5.0,
    fov_y_deg: float | None = None,
    keep_ratio: float | None = None,
    codec_path: str | os.PathLike | None = None,
) -> DecoderSource:
    """A scene source from an image and/or a prompt with local diffusers models (checked here, loaded by ``make``).

    Args:
        image: the anchor photo (any size; center-cropped to the decoder's video aspect ratio).
        prompt: guides the video model; without ``image`` it is first drawn by ``t2i_model``.
        seed: same inputs + seed → byte-identical files.
        video_model: local diffusers pipeline directory for ``backend`` ("vace": a WanVACEPipeline,
            e.g. Wan-AI/Wan2.1-VACE-1.3B-diffusers; "v2v": a Wan text-to-video pipeline).
        depth_model: local transformers depth-estimation directory (e.g. Depth Anything V2 *-hf).
        t2i_model: local diffusers text-to-image pipeline directory (needed for prompt-only input).
        decoder: 3DGS decoder checkpoint, or "default" (the shipped one). Its metadata fixes the
            video size, frame count and field of view the world model imagines.
        backend: "vace" or "v2v" (`lyra_sim.worlds.diffusion.VIDEO_BACKENDS`).
        device: "cpu" or "cuda[:i]"; dtype: "float32" | "bfloat16" | "float16" (None: bfloat16 on
            CUDA, float32 on the CPU).
        offload: diffusers' model CPU offload (CUDA only); vae_tiling: tiled VAE decoding.
        steps, guidance_scale: of the video model.
        fov_y_deg: the photo's vertical field of view after cropping (None: the decoder's).
        keep_ratio: fraction of decoded Gaussians kept (None: the checkpoint's).
        codec_path: local VAE for a decoder trained on VAE latents (None: the video model's own
            VAE for a decoder trained on Wan latents).

    Raises:
        lyra_sim.worlds.model_dirs.CheckpointError: a model directory is missing or holds the
            wrong model (one line: what is missing, what to download, which option takes it).
    """
    if backend not in VIDEO_BACKENDS:
        raise ValueError(f"backend: unknown {backend!r}; accepted: {', '.join(VIDEO_BACKENDS)}")
    if image is None and not prompt:
        raise ValueError("give an image (--image FILE), a prompt, or both")
    if dtype is not None and dtype not in DTYPES:
        raise ValueError(f"dtype: unknown {dtype!r}; accepted: {', '.join(DTYPES)}")
    if image is not None and not Path(image).is_file():
        raise FileNotFoundError(f"{image}: no such image")
    wanted = {VIDEO_BACKENDS[backend].kind: video_model, "depth": depth_model}
    if image is None or t2i_model is not None:
        wanted["t2i"] = t2i_model
    check_all(wanted)  # every missing model in one message, before anything loads
    checkpoint = resolve_checkpoint(decoder)
    options = LoadOptions(device=device, dtype=None if dtype is None else DTYPES[dtype], offload=offload,
                          vae_tiling=vae_tiling)
    world = DiffusionWorld(video_model, depth_model, t2i_model=t2i_model, backend=backend, options=options,
                           steps=steps, guidance_scale=guidance_scale, fov_y_deg=fov_y_deg)
    codec_name = read_decoder_metadata(checkpoint)[1].get("codec", {}).get("name")
    if codec_path is None and codec_name == "wan":
        codec_path = Path(video_model) / "vae"
    condition = {"image": image, "prompt": prompt} if image is not None else {"prompt": prompt}
    return DecoderSource(condition, seed, decoder, world=world, device=device, keep_ratio=keep_ratio,
                         codec_path=codec_path)


def diffusers_video_source(
    *,
    video: str | os.PathLike,
    prompt: str | None = None,
    seed: int = 0,
    frames: int = 9,
    video_model: str | os.PathLike | None = None,
    depth_model: str | os.PathLike | None = None,
    decoder: str | os.PathLike = "default",
    backend: str = "vace",
    device: str = "cpu",
    dtype: str | None = None,
    offload: bool = False,
    vae_tiling: bool = False,
    steps: int = 30,
    guidance_scale: float = 5.0,
    fov_y_deg: float | None = None,
    keep_ratio: float | None = None,
    codec_path: str | os.PathLike | None = None,
) -> DecoderDynamicSource:
    """A dynamic scene source from a monocular video with local models (`lyra_sim.worlds.video_lift`).

    Args as `diffusers_source`; ``video``: the clip (its frames are picked evenly to the decoder's frame
    count); ``frames``: target times of the dynamic scene, evenly over the picked frames' span;
    ``decoder``: a time-conditioned checkpoint ("default": the shipped dynamic one).

    Raises:
        lyra_sim.worlds.model_dirs.CheckpointError: a model directory is missing (one line).
        FileNotFoundError: no such video, or no dynamic decoder installed.
    """
    if backend not in VIDEO_BACKENDS:
        raise ValueError(f"backend: unknown {backend!r}; accepted: {', '.join(VIDEO_BACKENDS)}")
    if dtype is not None and dtype not in DTYPES:
        raise ValueError(f"dtype: unknown {dtype!r}; accepted: {', '.join(DTYPES)}")
    if not Path(video).is_file():
        raise FileNotFoundError(f"{video}: no such video")
    check_all({VIDEO_BACKENDS[backend].kind: video_model, "depth": depth_model})  # every missing model in one line
    checkpoint = resolve_checkpoint(decoder, dynamic=True)
    options = LoadOptions(device=device, dtype=None if dtype is None else DTYPES[dtype], offload=offload,
                          vae_tiling=vae_tiling)
    world = DiffusionVideoWorld(video_model, depth_model, backend=backend, options=options, steps=steps,
                                guidance_scale=guidance_scale, fov_y_deg=fov_y_deg)
    codec_name = read_decoder_metadata(checkpoint)[1].get("codec", {}).get("name")
    if codec_path is None and codec_name == "wan":
        codec_path = Path(video_model) / "vae"
    return DecoderDynamicSource({"video": video, "prompt": prompt}, seed, frames, decoder, device=device,
                                keep_ratio=keep_ratio, world=world, codec_path=codec_path)
