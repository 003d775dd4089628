"""The diffusers world model: image (or text) → 3D cache → camera-controlled video along Lyra's trajectories.

GEN3C-style camera control (Ren et al., 2025, the video model Lyra distills from):

1. text → image (optional): a local diffusers text-to-image pipeline draws the anchor image;
2. image → 3D cache: monocular depth lifts the image into small Gaussians
   (`lyra_sim.worlds.depth_cache`);
3. for each trajectory, the cache is rendered along the cameras with `lyra_sim.render` (frames
   plus a mask of what it does not cover), and a diffusers video model produces the video,
   conditioned on those renders: it keeps what the cache shows and fills what it misses.

Video backends (`VIDEO_BACKENDS`, one protocol, chosen by name):

- ``"vace"`` (default): `WanVACEPipeline` takes the renders as its conditioning video and the
  masks (white = generate) — exactly the inpaint-along-a-path task GEN3C trains for;
- ``"v2v"``: `WanVideoToVideoPipeline` (SDEdit). It has no mask input: holes are painted mid
  gray and ``strength`` sets how far the model may move away from the renders.

Plugging in a GEN3C checkpoint: GEN3C (nvidia/GEN3C-Cosmos-7B) is a Cosmos video-to-world
model fine-tuned to take exactly these inputs — the cache rendered along the target cameras and
its coverage masks — as extra latent channels. It has no diffusers pipeline today. To use it, add
a backend class here with ``pipeline_class`` naming its pipeline and a ``fill(renders, missing,
...)`` that passes the renders and masks the way it was trained (GEN3C's repository does this in
its ``cosmos1`` inference code), register it in `VIDEO_BACKENDS` and in
`lyra_sim.worlds.model_dirs.KINDS`; everything up to the renders and from the frames on stays.

Every model loads from a local directory (`lyra_sim.worlds.model_dirs` checks it first) with
``local_files_only=True``: nothing is fetched from a hub at run time. For memory, ``offload``
moves each model to the GPU only while it runs (diffusers' model CPU offload, needs accelerate)
and ``vae_tiling`` decodes the video in tiles; the text-to-image and depth models are released
before the video model loads.
"""

from __future__ import annotations

import gc
import os
import time
from dataclasses import dataclass
from typing import Any, Protocol, Sequence

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from ..cameras import TRAJECTORIES, Cameras, check_trajectories, lyra_trajectory
from ..images import to_uint8
from ..video import MultiViewVideo, VideoSpec
from .depth_cache import CacheRender, DepthCache, DepthEstimator, anchor_camera, build_cache, load_image, render_cache
from .model_dirs import check_checkpoint


def _to_pil(frames: Tensor) -> list[Image.Image]:
    """``[T, H, W, 3]`` in [0, 1] → RGB images (round half up, deterministic)."""
    array = to_uint8(frames).cpu().numpy()
    return [Image.fromarray(f) for f in array]


def _frames_from_pipeline(output: Any) -> Tensor:
    """A Wan pipeline's ``output_type="pt"`` frames ``[1, T, 3, H, W]`` → ``[T, H, W, 3]`` float32 on the CPU."""
    return output.frames[0].float().permute(0, 2, 3, 1).cpu().clamp(0, 1)


def _seed(seed: int, *key: int) -> int:
    """An independent 63-bit seed for one use of ``seed`` (a text-to-image call, one trajectory)."""
    return int(np.random.SeedSequence(seed, spawn_key=key).generate_state(1, np.uint64)[0] >> 1)


def free_memory() -> None:
    """Return the memory of models the caller has just dropped (before the next model loads)."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


@dataclass(frozen=True)
class LoadOptions:
    """How pipelines are placed in memory.

    Attributes:
        device: where models run.
        dtype: weights' dtype (None: bfloat16 on CUDA, float32 elsewhere). Wan VAEs stay float32,
            as the Wan authors run them.
        offload: diffusers' model CPU offload: each model moves to ``device`` only while it runs
            (needs a CUDA device and accelerate).
        vae_tiling: decode (and encode) the video in spatial tiles.
    """

    device: str = "cpu"
    dtype: torch.dtype | None = None
    offload: bool = False
    vae_tiling: bool = False

    def __post_init__(self) -> None:
        if self.offload and torch.device(self.device).type != "cuda":
            raise ValueError(f"offload: moves models between the CPU and a CUDA device; device is {self.device!r}")

    @property
    def torch_dtype(self) -> torch.dtype:
        if self.dtype is not None:
            return self.dtype
        return torch.bfloat16 if torch.device(self.device).type == "cuda" else torch.float32

    def place(self, pipe: Any) -> Any:
        """Move ``pipe`` to the device (or set up offloading) and apply VAE tiling."""
        if self.offload:
            pipe.enable_model_cpu_offload(device=self.device)
        else:
            pipe.to(self.device)
        if self.vae_tiling:
            pipe.vae.enable_tiling()
        pipe.set_progress_bar_config(disable=True)
        return pipe


def load_pipeline(pipeline_class: Any, path: str | os.PathLike, kind: str, options: LoadOptions) -> Any:
    """``pipeline_class.from_pretrained`` on a checked local directory, safetensors only, placed per ``options``."""
    folder = check_checkpoint(path, kind)
    dtype = {"default": options.torch_dtype, "vae": torch.float32}
    pipe = pipeline_class.from_pretrained(str(folder), dtype=dtype, local_files_only=True, use_safetensors=True)
    return options.place(pipe)


class VideoBackend(Protocol):
    """A diffusers video pipeline that turns cache renders into a video.

    Attributes:
        name: registry key; kind: checkpoint kind (`lyra_sim.worlds.model_dirs.KINDS`);
        pipeline_class: the diffusers class name that loads it.
    """

    name: str
    kind: str
    pipeline_class: str
    pipe: Any

    def fill(self, renders: Tensor, missing: Tensor, *, prompt: str, generator: torch.Generator,
             steps: int, guidance_scale: float) -> Tensor:
        """``renders: [T, H, W, 3]`` and ``missing: [T, H, W]`` (True: not covered) → frames ``[T, H, W, 3]`` in [0, 1]."""
        ...


class _WanBackend:
    kind = ""
    pipeline_class = ""

    def __init__(self, path: str | os.PathLike, options: LoadOptions) -> None:
        import diffusers

        self.pipe = load_pipeline(getattr(diffusers, self.pipeline_class), path, self.kind, options)

    def check_size(self, num_frames: int, height: int, width: int) -> None:
        """Wan's VAE compresses time causally (1 + t k frames) and space by s, and its transformer patches by p."""
        t = self.pipe.vae_scale_factor_temporal
        s = self.pipe.vae_scale_factor_spatial * self.pipe.transformer.config.patch_size[1]
        if (num_frames - 1) % t or height % s or width % s:
            raise ValueError(
                f"video model: {self.pipeline_class} needs 1 + {t}k frames and sizes that are multiples of {s}; "
                f"got {num_frames} frames of {width}x{height}"
            )


class VaceBackend(_WanBackend):
    """Wan VACE: conditioning video = the cache renders, mask = where the cache is missing."""

    name = "vace"
    kind = "vace"
    pipeline_class = "WanVACEPipeline"

    def fill(self, renders: Tensor, missing: Tensor, *, prompt: str, generator: torch.Generator,
             steps: int, guidance_scale: float) -> Tensor:
        t, h, w, _ = renders.shape
        self.check_size(t, h, w)
        masks = [Image.fromarray(m) for m in (missing.cpu().numpy().astype(np.uint8) * 255)]  # white: generate
        out = self.pipe(video=_to_pil(renders), mask=masks, prompt=prompt, height=h, width=w, num_frames=t,
                        num_inference_steps=steps, guidance_scale=guidance_scale, generator=generator,
                        output_type="pt")
        return _frames_from_pipeline(out)


class VideoToVideoBackend(_WanBackend):
    """Wan video-to-video (SDEdit): renders with mid-gray holes, re-noised to ``strength`` and denoised."""

    name = "v2v"
    kind = "v2v"
    pipeline_class = "WanVideoToVideoPipeline"
    strength = 0.7

    def fill(self, renders: Tensor, missing: Tensor, *, prompt: str, generator: torch.Generator,
             steps: int, guidance_scale: float) -> Tensor:
        t, h, w, _ = renders.shape
        self.check_size(t, h, w)
        video = torch.where(missing[..., None].to(renders.device), torch.full_like(renders, 0.5), renders)
        out = self.pipe(video=_to_pil(video), prompt=prompt, height=h, width=w, num_inference_steps=steps,
                        guidance_scale=guidance_scale, strength=self.strength, generator=generator,
                        output_type="pt")
        return _frames_from_pipeline(out)


VIDEO_BACKENDS: dict[str, type] = {"vace": VaceBackend, "v2v": VideoToVideoBackend}
"""Backend name → class (``cls(path, LoadOptions)`` loads it)."""


def text_to_image(path: str | os.PathLike, prompt: str, *, seed: int, options: LoadOptions,
                  steps: int = 20, guidance_scale: float = 4.5) -> Image.Image:
    """Draw the anchor image with a local diffusers text-to-image pipeline (any `AutoPipelineForText2Image` class).

    The image comes at the pipeline's own default size (what it was trained for); the caller crops
    and resizes it to the video's. The pipeline is released before returning.
    """
    from diffusers import AutoPipelineForText2Image

    pipe = load_pipeline(AutoPipelineForText2Image, path, "t2i", options)
    generator = torch.Generator("cpu").manual_seed(_seed(seed, 0x7432))  # CPU noise: same image on any device
    image = pipe(prompt=prompt, num_inference_steps=steps, guidance_scale=guidance_scale, generator=generator).images[0]
    del pipe
    free_memory()
    return image


@dataclass(frozen=True)
class CachedScene:
    """The first half of `DiffusionWorld.imagine`: the 3D cache and its renders along every trajectory.

    Attributes:
        cache: the `DepthCache` of the anchor image.
        trajectories: V names; cameras: V `Cameras` of T frames; renders: V `CacheRender`.
        prompt: the text given to the video model ("" when none).
        info: as `MultiViewVideo.info`.
    """

    cache: DepthCache
    trajectories: tuple[str, ...]
    cameras: list[Cameras]
    renders: list[CacheRender]
    prompt: str
    info: dict[str, Any]


def _parse_condition(condition: Any) -> tuple[Any, str | None]:
    """``(image or None, prompt or None)``: a `str` is a prompt; a path, PIL image, array or tensor is an image;
    a dict may carry both (``{"image": ..., "prompt": ...}``)."""
    if isinstance(condition, dict):
        unknown = sorted(set(condition) - {"image", "prompt"})
        if unknown:
            raise ValueError(f"condition: unknown keys {unknown}; accepted: image, prompt")
        image, prompt = condition.get("image"), condition.get("prompt")
    elif isinstance(condition, str):
        image, prompt = None, condition
    else:
        image, prompt = condition, None
    if image is None and not prompt:
        raise ValueError("condition: give an image, a prompt, or both")
    return image, prompt


def _describe_image(image: Any) -> str | None:
    if image is None:
        return None
    return str(image) if isinstance(image, (str, os.PathLike)) else f"<{type(image).__name__}>"


class DiffusionWorld:
    """The `WorldModel` that imagines with diffusers and transformers models from local directories.

    Args:
        video_model: local diffusers pipeline directory for ``backend``.
        depth_model: local transformers depth-estimation model directory.
        t2i_model: local diffusers text-to-image pipeline directory (needed when a condition
            has a prompt but no image).
        backend: a key of `VIDEO_BACKENDS`.
        options: device, dtype, offload, VAE tiling (`LoadOptions`).
        steps, guidance_scale: of the video model; t2i_steps, t2i_guidance_scale: of the text-to-image one.
        fov_y_deg: vertical field of view of the anchor image after cropping to the video's
            aspect ratio (None: the `VideoSpec`'s).
        eye_height: meters of the anchor camera above the world origin.
        relative_range: near/far meters for relative depth models (see `DepthEstimator`).

    ``imagine(condition, trajectories, seed=, spec=)``: ``condition`` is an image (path, PIL
    image, ``[H, W, 3]`` array or tensor), a prompt (`str`; drawn with ``t2i_model`` first) or
    ``{"image": ..., "prompt": ...}`` (the prompt then also guides the video model). ``spec``'s
    ``anchor`` is ignored (the anchor is the image's camera) and ``num_holdout`` must be 0. The
    returned video has no latents (the decoder's codec encodes the frames); its depth is the 3D cache's,
    rendered along the trajectories, 0 where the cache does not cover a pixel (what the video model made up
    there has no known depth). Same inputs + seed → the same video.
    """

    name = "diffusers"

    def __init__(
        self,
        video_model: str | os.PathLike,
        depth_model: str | os.PathLike,
        *,
        t2i_model: str | os.PathLike | None = None,
        backend: str = "vace",
        options: LoadOptions = LoadOptions(),
        steps: int = 30,
        guidance_scale: float = 5.0,
        t2i_steps: int = 20,
        t2i_guidance_scale: float = 4.5,
        fov_y_deg: float | None = None,
        eye_height: float = 1.5,
        relative_range: tuple[float, float] = (0.5, 8.0),
    ) -> None:
        if backend not in VIDEO_BACKENDS:
            raise ValueError(f"backend: unknown {backend!r}; accepted: {', '.join(VIDEO_BACKENDS)}")
        if steps < 1 or t2i_steps < 1:
            raise ValueError(f"steps: expected >= 1, got {steps} (video) and {t2i_steps} (text to image)")
        self.backend = backend
        self.video_model = check_checkpoint(video_model, VIDEO_BACKENDS[backend].kind)
        self.depth_model = check_checkpoint(depth_model, "depth")
        self.t2i_model = None if t2i_model is None else check_checkpoint(t2i_model, "t2i")
        self.options = options
        self.steps, self.guidance_scale = int(steps), float(guidance_scale)
        self.t2i_steps, self.t2i_guidance_scale = int(t2i_steps), float(t2i_guidance_scale)
        self.fov_y_deg = fov_y_deg
        self.eye_height = float(eye_height)
        self.relative_range = relative_range
        self._video: VideoBackend | None = None
        self.timings: dict[str, float] = {}
        """Seconds of the last `imagine`'s steps (kept out of ``info``, which must not vary between runs)."""

    @property
    def video_backend(self) -> VideoBackend:
        """The video pipeline, loaded on first use and kept (it is the expensive one to load)."""
        if self._video is None:
            self._video = VIDEO_BACKENDS[self.backend](self.video_model, self.options)
        return self._video

    def imagine(self, condition: Any, trajectories: Sequence[str] = TRAJECTORIES, *, seed: int,
                spec: VideoSpec = VideoSpec()) -> MultiViewVideo:
        return self.fill(self.stage(condition, trajectories, seed=seed, spec=spec), seed=seed)

    def stage(self, condition: Any, trajectories: Sequence[str] = TRAJECTORIES, *, seed: int,
              spec: VideoSpec = VideoSpec()) -> CachedScene:
        """Anchor image, depth, 3D cache, trajectory cameras and cache renders (no video model yet)."""
        trajectories = check_trajectories(trajectories)
        if spec.num_holdout:
            raise ValueError("spec.num_holdout: the diffusers world model imagines trajectories only (use 0)")
        image, prompt = _parse_condition(condition)
        self.timings = {}
        t0 = time.perf_counter()
        if image is None:
            if self.t2i_model is None:
                raise ValueError("condition: a prompt without an image needs t2i_model (--t2i-model PATH), "
                                 "a local diffusers text-to-image pipeline")
            image = text_to_image(self.t2i_model, prompt, seed=seed, options=self.options, steps=self.t2i_steps,
                                  guidance_scale=self.t2i_guidance_scale)
            source = "text_to_image"
        else:
            source = _describe_image(image)
        t1 = time.perf_counter()
        rgb = load_image(image, spec.width, spec.height)
        anchor = anchor_camera(spec.width, spec.height, self.fov_y_deg or spec.fov_y_deg, self.eye_height)
        estimator = DepthEstimator.from_pretrained(self.depth_model, device=self.options.device,
                                                   relative_range=self.relative_range)
        depth = estimator(rgb).cpu()
        metric = estimator.metric
        del estimator
        free_memory()
        cache = build_cache(rgb, depth, anchor)
        t2 = time.perf_counter()
        travel = spec.travel * cache.focus_distance
        device = torch.device(self.options.device)
        cameras = [lyra_trajectory(anchor, k, spec.num_frames, cache.focus_distance, travel) for k in trajectories]
        renders = [render_cache(cache, c.to(device)) for c in cameras]
        self.timings.update({"text_to_image": t1 - t0, "depth": t2 - t1, "cache_render": time.perf_counter() - t2})
        info = {
            "world_model": {"name": self.name, "backend": self.backend,
                            "pipeline": VIDEO_BACKENDS[self.backend].pipeline_class,
                            "video_model": str(self.video_model), "depth_model": str(self.depth_model),
                            "t2i_model": None if self.t2i_model is None else str(self.t2i_model),
                            "steps": self.steps, "guidance_scale": self.guidance_scale},
            "condition": {"image": source, "prompt": prompt},
            "seed": int(seed),
            "anchor": {"viewmat": anchor.viewmats[0].tolist(), "K": anchor.Ks[0].tolist(),
                       "width": anchor.width, "height": anchor.height},
            "depth": {"metric": metric, "min": float(depth.min()), "median": cache.focus_distance,
                      "max": float(depth.max())},
            "focus_distance": cache.focus_distance,
            "travel": travel,
            "cache": {"num_gaussians": len(cache.gaussians),
                      "coverage": {k: round(1.0 - float(r.missing.float().mean()), 6)
                                   for k, r in zip(trajectories, renders)}},
        }
        return CachedScene(cache, trajectories, cameras, renders, prompt or "", info)

    def fill(self, staged: CachedScene, *, seed: int) -> MultiViewVideo:
        """Run the video model on every trajectory's cache renders."""
        t0 = time.perf_counter()
        backend = self.video_backend
        self.timings["load_video_model"] = time.perf_counter() - t0
        frames = []
        for i, render in enumerate(staged.renders):
            generator = torch.Generator("cpu").manual_seed(_seed(seed, 0x7669, i))  # CPU noise: same on any device
            frames.append(backend.fill(render.rgb, render.missing, prompt=staged.prompt, generator=generator,
                                       steps=self.steps, guidance_scale=self.guidance_scale))
        self.timings["video"] = time.perf_counter() - t0 - self.timings["load_video_model"]
        frames = torch.stack(frames)
        return MultiViewVideo(
            frames=frames,
            viewmats=torch.stack([c.viewmats for c in staged.cameras]),
            Ks=torch.stack([c.Ks for c in staged.cameras]),
            trajectories=staged.trajectories,
            # where the cache covered a pixel, the video model was conditioned on its render: its depth holds there
            depth=torch.stack([r.depth for r in staged.renders])[..., None].to(frames.device, frames.dtype),
            info=staged.info,
        )
