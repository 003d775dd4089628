"""A distillation run's configuration: JSON files map onto `DistillConfig` section by section.

Sections: ``decoder`` (a preset name, ``{"preset": NAME, ...overrides}`` or all fields),
``codec`` (`lyra_sim.decoder.codecs.make_codec`), ``video`` (`lyra_sim.video.VideoSpec`),
``world`` (`lyra_sim.decoder.checkpoint.WorldSettings`), ``data``, ``train``, ``loss``, ``run``.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..config import check_keys, from_dict, read_json
from ..decoder import PRESETS, DecoderConfig
from ..decoder.checkpoint import WorldSettings, check_compatible
from ..video import VideoSpec

ROOM_PROMPTS = ("a kitchen", "a living room", "a bedroom", "an office", "a warehouse", "a corridor")
"""Default training conditions: one prompt per procedural room type."""

DYNAMIC_PROMPTS = ("a kitchen with a person walking", "a corridor with a rolling cart", "a living room with a robot vacuum",
                   "a bedroom with a door swinging", "a bedroom with a drawer sliding", "a living room with a bouncing ball",
                   "an office with a spinning fan and a person walking", "a warehouse with a rolling cart")
"""Training conditions of dynamic distillation: every motion kind, in the room types."""


@dataclass(frozen=True)
class DataSettings:
    """Which scenes, and where they come from.

    Attributes:
        conditions: prompts; scene seed ``s`` uses ``conditions[s % len(conditions)]``.
        train_seed_start: first training seed.
        train_scenes: 0 = a fresh scene for every sample (seeds ``start, start + 1, ...``); N > 0 =
            cycle over N scenes (seeds ``start .. start + N - 1``), reshuffled every epoch; the
            teacher cache holds exactly these.
        eval_seed_start, eval_scenes: held-out scenes (disjoint from training seeds).
        eval_conditions: prompts of the held-out scenes (None: ``conditions``); give others to
            evaluate on unseen prompts.
        cache_dir: teacher videos precomputed by ``--build-cache`` (None: render while training).
        num_workers: data-loader processes (staging scenes or reading the cache).
        between: dynamic teachers only: fraction of held-out views whose target time lies between
            two input frames (the others show an input time).
    """

    conditions: tuple[str, ...] = ROOM_PROMPTS
    train_seed_start: int = 0
    train_scenes: int = 0
    eval_seed_start: int = 1_000_000_000
    eval_scenes: int = 24
    cache_dir: str | None = None
    num_workers: int = 0
    eval_conditions: tuple[str, ...] | None = None
    between: float = 0.5

    def __post_init__(self) -> None:
        if not self.conditions:
            raise ValueError("data.conditions: give at least one prompt")
        if self.eval_conditions is not None and not self.eval_conditions:
            raise ValueError("data.eval_conditions: give at least one prompt, or null (the training prompts)")
        if not 0 <= self.between <= 1:
            raise ValueError(f"data.between: expected a fraction in [0, 1], got {self.between}")
        if self.eval_seed_start < self.train_seed_start + self.train_scenes and self.eval_seed_start >= self.train_seed_start:
            raise ValueError("data: eval seeds overlap the training seeds")

    def condition(self, seed: int) -> str:
        """The prompt of scene ``seed``: a training prompt, or an evaluation prompt for held-out seeds."""
        if self.eval_conditions is not None and self.eval_seed_start <= seed < self.eval_seed_start + self.eval_scenes:
            return self.eval_conditions[seed % len(self.eval_conditions)]
        return self.conditions[seed % len(self.conditions)]

    def eval_seeds(self) -> list[int]:
        return list(range(self.eval_seed_start, self.eval_seed_start + self.eval_scenes))

    def train_seed(self, sample: int, shuffle_seed: int) -> int:
        """Scene seed of the run's ``sample``-th training sample."""
        if self.train_scenes == 0:
            return self.train_seed_start + sample
        epoch, pos = divmod(sample, self.train_scenes)
        perm = np.random.default_rng(np.random.SeedSequence(shuffle_seed, spawn_key=(epoch,))).permutation(self.train_scenes)
        return self.train_seed_start + int(perm[pos])


@dataclass(frozen=True)
class TrainSettings:
    """Optimization.

    Attributes:
        steps: optimizer steps.
        batch_size: scenes per step over all ranks (must divide by the number of ranks).
        lr, min_lr_ratio, warmup_steps: AdamW learning rate, linear warmup, cosine decay to ``min_lr_ratio · lr``.
        weight_decay, betas: AdamW (no decay on 1-D parameters: norms, biases, SSM scalars).
        grad_clip: max global gradient norm.
        bf16: autocast the decoder to bfloat16 on CUDA (the Gaussian head, rays and renders stay float32).
        render_views: trajectory frames rendered per sample per step, picked at random (0 = all);
            held-out views are always rendered. A dynamic step renders instead the views that show its
            target time (`lyra_sim.training.losses`).
        prune_start: step from which the pruning stage runs (None: never).
        seed: weight initialization and per-step randomness.
        grad_checkpoint: recompute backbone activations in the backward pass.
        device: "auto" (CUDA if available), "cpu" or "cuda".
        init_from: a decoder checkpoint to start from (``"default"``: the shipped static decoder), of
            this decoder or of it without some additions (their weights then start as the addition starts:
            `lyra_sim.decoder.load_initial_weights`); None: random initialization. Ignored on resume.
        depth_dropout: for a decoder with ``depth_input``, the chance that a sample is decoded from its latents
            alone (no depth), drawn per sample, so that one checkpoint serves videos with and without depth.
    """

    steps: int = 1000
    batch_size: int = 4
    lr: float = 1e-4
    min_lr_ratio: float = 0.1
    warmup_steps: int = 100
    weight_decay: float = 0.05
    betas: tuple[float, float] = (0.9, 0.95)
    grad_clip: float = 1.0
    bf16: bool = True
    render_views: int = 0
    prune_start: int | None = None
    seed: int = 0
    grad_checkpoint: bool = False
    device: str = "auto"
    init_from: str | None = None
    depth_dropout: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.depth_dropout, bool) or not isinstance(self.depth_dropout, (int, float)) \
                or not 0 <= self.depth_dropout <= 1:
            raise ValueError(f"train.depth_dropout: expected a probability in [0, 1], got {self.depth_dropout!r}")

    def lr_at(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        span = max(1, self.steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / span)
        return self.lr * (self.min_lr_ratio + (1 - self.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


@dataclass(frozen=True)
class LossSettings:
    """Loss weights. ``lpips > 0`` needs the ``lpips`` package and its VGG weights (see `PerceptualLoss`).

    ``moving``: dynamic teachers only: the squared error of pixels that show a moving object
    counts ``1 + moving`` times (they are few, and where time conditioning matters).
    ``depth_abs``: relative absolute depth error ``|d - d*| / d*`` where the world gives depth: metric
    geometry, which SI-depth leaves free up to scale and shift (where things *are* matters for the
    moving objects' centres). Both compare the *rendered* depth, the front of each pixel's stack of Gaussians.
    ``gaussian_depth``: mean ``|ln z - ln z*|`` of every Gaussian's camera depth in the frame it comes from
    against the world's depth at its pixel (`lyra_sim.training.losses.gaussian_depth_loss`): the metric scale of
    each Gaussian, hidden or not; without it the decoded depths are pulled towards the head's initial depth.
    ``mover_position`` / ``mover_fade`` (dynamic teachers; `lyra_sim.training.losses.mover_motion_loss`): a moving
    object's Gaussians decoded from a frame at another time than the target should be where the object is at the
    target time: each one whose surface point, carried there by the object's motion, lies within the decoder's
    position offsets of its ray is pulled to that point (mean distance over depth); each one beyond them should
    vanish (their mean opacity over that of all Gaussians). Without them the decoder keeps "ghosts" of a mover
    at every frame's time.
    ``mover_depth`` (dynamic teachers, a decoder with offsets): those same Gaussians (moving objects' pixels of
    frames at other times than the target), which ``gaussian_depth`` leaves out, get its log-depth error on
    their ray points (``means - offsets``: the offsets carry them to the target time, the ray depth is where their
    pixel's surface was at their own frame's time), as a mean over them alone. Without it no term places a
    moving object's Gaussians along their rays when no frame shows the target time.
    ``motion_mask`` (dynamic teachers, a decoder with ``motion_gate``): binary cross-entropy of the gate's
    probability that a Gaussian shows a moving object against its pixel's label in the world's label maps,
    the mean over moving pixels and the mean over still ones averaged (moving objects cover a few percent).
    """

    mse: float = 1.0
    lpips: float = 0.0
    depth: float = 0.05
    opacity: float = 0.01
    moving: float = 0.0
    depth_abs: float = 0.0
    gaussian_depth: float = 0.0
    mover_position: float = 0.0
    mover_fade: float = 0.0
    mover_depth: float = 0.0
    motion_mask: float = 0.0


@dataclass(frozen=True)
class RunSettings:
    """Outputs: ``out_dir`` gets ``metrics.jsonl``, ``checkpoints/`` and the final ``decoder.safetensors``."""

    out_dir: str = "runs/distill"
    log_every: int = 10
    ckpt_every: int = 500
    keep_last: int = 2
    resume: bool = True


@dataclass(frozen=True)
class DistillConfig:
    """A whole distillation run; JSON files map onto it section by section.

    ``decoder`` may be a preset name, or ``{"preset": NAME, ...field overrides}``, or all fields.
    ``codec`` is a codec description for `lyra_sim.decoder.codecs.make_codec`.
    """

    decoder: DecoderConfig = field(default_factory=lambda: PRESETS["small"])
    codec: dict[str, Any] = field(default_factory=lambda: {"name": "s2d", "spatial_compression": 8, "temporal_compression": 4})
    video: VideoSpec = field(default_factory=lambda: VideoSpec(num_frames=9, num_holdout=4, anchor="mixed"))
    world: WorldSettings = field(default_factory=WorldSettings)
    data: DataSettings = field(default_factory=DataSettings)
    train: TrainSettings = field(default_factory=TrainSettings)
    loss: LossSettings = field(default_factory=LossSettings)
    run: RunSettings = field(default_factory=RunSettings)

    def __post_init__(self) -> None:
        check_compatible(self.decoder, self.codec, self.video)
        if self.decoder.time_embedding != self.dynamic:
            raise ValueError(
                "decoder.time_embedding and world.name disagree: a time-conditioned decoder (a *_dynamic preset) "
                "distills from the dynamic world (world.name 'procedural_dynamic') and a static one from 'procedural'"
            )

    @property
    def dynamic(self) -> bool:
        """Whether the teacher is the procedural world over time (dynamic distillation)."""
        return self.world.name == "procedural_dynamic"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DistillConfig":
        check_keys(cls, data, "config")
        kwargs: dict[str, Any] = {}
        dec = data.get("decoder", "small")
        if isinstance(dec, str):
            dec = {"preset": dec}
        dec = dict(dec)
        preset = dec.pop("preset", None)
        if preset is not None:
            if preset not in PRESETS:
                raise ValueError(f"decoder.preset: unknown {preset!r}; accepted: {', '.join(PRESETS)}")
            dec = {**PRESETS[preset].to_dict(), **dec}
        kwargs["decoder"] = DecoderConfig.from_dict(dec)
        if "codec" in data:
            kwargs["codec"] = dict(data["codec"])
        for name, cls_ in (("video", VideoSpec), ("world", WorldSettings), ("data", DataSettings),
                           ("train", TrainSettings), ("loss", LossSettings), ("run", RunSettings)):
            if name in data:
                kwargs[name] = from_dict(cls_, data[name], name)
        return cls(**kwargs)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "DistillConfig":
        if not Path(path).is_file():
            raise FileNotFoundError(f"{path}: no such config file")
        return cls.from_dict(read_json(path))

    def to_dict(self) -> dict[str, Any]:
        out = {"decoder": self.decoder.to_dict(), "codec": dict(self.codec)}
        for name in ("video", "world", "data", "train", "loss", "run"):
            section = asdict(getattr(self, name))
            out[name] = {k: list(v) if isinstance(v, tuple) else v for k, v in section.items()}
        return out
