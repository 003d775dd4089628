"""Image or text → scene directory through real diffusion models (``lyra-sim generate --world diffusers``).

The flow is Lyra's (arXiv 2509.19296) with GEN3C-style camera control: the anchor image (given,
or drawn by a text-to-image model) is lifted into a 3D cache with monocular depth, the cache is
rendered along Lyra's six trajectories, a diffusers video model fills what the cache misses
(`lyra_sim.worlds.diffusion.DiffusionWorld`), the decoder's codec turns the videos into latents
and the 3DGS decoder into a `GaussianScene` (`lyra_sim.inference.generate_with_decoder`). The
scene directory is the one `lyra_sim.pipeline.generate_scene` writes: ``scene.ply``,
``preview.png`` (from the anchor view) and ``manifest.json``.

`generate_scene_diffusers` takes only paths, numbers and strings, so that callers such as the
Gymnasium environment (``gym.make("LyraScene-v0", image=..., world="diffusers", ...)``) can
pass their keyword arguments straight through.
"""

from __future__ import annotations

import importlib.metadata
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from .inference import generate_with_decoder, resolve_checkpoint
from .manifest import sha256_file
from .pipeline import Stage, ViewConfig, check_output_dir, write_scene_dir
from .worlds.checkpoints import check_all
from .worlds.diffusion import VIDEO_BACKENDS, DiffusionWorld, LoadOptions

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
_MODEL_PACKAGES = ("diffusers", "transformers", "accelerate")


def _model_packages() -> dict[str, str]:
    versions = {}
    for name in _MODEL_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def generate_scene_diffusers(
    out: str | os.PathLike,
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
    overwrite: bool = False,
    view: ViewConfig = ViewConfig(),
    stage: Stage = lambda name: None,
    timings: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Generate a scene from an image and/or a prompt with local diffusers models; write its directory atomically.

    Args:
        out: the directory to create; it must not exist or be empty unless ``overwrite``.
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
        stage: called with a short description as each step starts.
        timings: if given, filled with seconds per step (they stay out of the manifest).

    Returns:
        The manifest that was written.

    Raises:
        lyra_sim.worlds.checkpoints.CheckpointError: a model directory is missing or holds the
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
    out = check_output_dir(out, overwrite)
    checkpoint = resolve_checkpoint(decoder)
    options = LoadOptions(device=device, dtype=None if dtype is None else DTYPES[dtype], offload=offload,
                          vae_tiling=vae_tiling)
    world = DiffusionWorld(video_model, depth_model, t2i_model=t2i_model, backend=backend, options=options,
                           steps=steps, guidance_scale=guidance_scale, fov_y_deg=fov_y_deg)
    from .decoder import read_decoder_metadata

    codec_name = read_decoder_metadata(checkpoint)[1].get("codec", {}).get("name")
    if codec_path is None and codec_name == "wan":
        codec_path = Path(video_model) / "vae"
    condition = {"image": image, "prompt": prompt} if image is not None else {"prompt": prompt}
    decoded = generate_with_decoder(condition, seed, checkpoint, device=device, keep_ratio=keep_ratio,
                                    codec_path=codec_path, world=world, stage=stage)
    video, info = decoded.video, decoded.video.info
    # The preview keeps the anchor's field of view (the photo's framing) at the preview's size.
    anchor = video.cameras(0)[0].to("cpu")
    k = anchor.Ks.clone()
    k[:, 0] *= view.width / anchor.width
    k[:, 1] *= view.height / anchor.height
    preview = replace(anchor, Ks=k, width=view.width, height=view.height)
    fields = {
        "prompt": prompt,
        "seed": int(seed),
        "world_model": info["world_model"],
        "condition": {"image": None if image is None else str(image),
                      "image_sha256": None if image is None else sha256_file(image),
                      "prompt": prompt, "anchor_from": info["condition"]["image"]},
        "decoder": {"checkpoint": str(decoder) if str(decoder) == "default" else checkpoint.name,
                    "sha256": sha256_file(checkpoint), "config": decoded.config, "metadata": dict(decoded.metadata),
                    "device": torch.device(device).type},
        "video": {"trajectories": list(video.trajectories), "num_frames": video.num_frames,
                  "width": int(video.frames.shape[3]), "height": int(video.frames.shape[2]),
                  "travel": info["travel"], "focus_distance": info["focus_distance"],
                  "cache": info["cache"], "depth": info["depth"]},
        "anchor_camera": info["anchor"],
        "objects": [],
        "model_packages": _model_packages(),
    }
    start = time.perf_counter()
    manifest = write_scene_dir(out, decoded.scene, preview, fields, overwrite=overwrite, stage=stage)
    if timings is not None:
        timings.update(world.timings, **decoded.timings, write=time.perf_counter() - start)
    return manifest
