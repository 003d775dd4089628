"""Self-distillation of the 3DGS decoder from a world model (Lyra, arXiv 2509.19296, §3.3).

    world model ──imagine──▶ multi-view video ──codec.encode──▶ latents ──decoder──▶ Gaussians
                                  │                                                    │ render at the
                                  └──codec.decode(codec.encode(·))── teacher RGB ◀─loss─┘ video's cameras
                                                                                          + held-out views

Loss: ``mse · MSE + lpips · LPIPS + depth · SI-depth + opacity · mean opacity`` (the last only in the
pruning stage, when training renders the top ``keep_ratio`` Gaussians as inference does).
SI-depth compares rendered and world depth after per-image median / mean-absolute-deviation
normalization, with smooth L1, where the world model gives depth.

Run::

    python -m lyra_sim.distill --config configs/distill_small.json                 # train
    python -m lyra_sim.distill --config configs/distill_small.json --build-cache train
    torchrun --nproc_per_node=N -m lyra_sim.distill --config ...                   # DDP

Each rank draws different scenes: sample ``g`` of the run (``g = step · batch + rank · batch / N + i``)
maps to a scene seed, so the scenes seen depend on the sample count only, and a run resumed on a
different number of GPUs continues the same sequence. Only rank 0 writes checkpoints and logs.

Checkpoints (``OUT/checkpoints/step_NNNNNNN/``): ``decoder.safetensors`` (weights + config, loadable
by `lyra_sim.decoder.load_decoder`), ``trainer.safetensors`` (optimizer tensors, RNG state) and
``trainer.json`` (step, optimizer settings, the run config). No pickle anywhere.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor

from .atomic import atomic_directory, atomic_path
from .cameras import TRAJECTORIES, Cameras
from .codecs import LatentCodec, make_codec, num_latent_frames
from .decoder import PRESETS, DecoderConfig, LyraDecoder, save_decoder
from .decoder.checkpoint import load_weights
from .render import render
from .worlds.video import ProceduralWorld, StagedScene, VideoSpec

ROOM_PROMPTS = ("a kitchen", "a living room", "a bedroom", "an office", "a warehouse", "a corridor")
"""Default training conditions: one prompt per procedural room type."""

CACHE_FORMAT = "lyra-sim-teacher"


# ====================================================================== configuration
def _from_dict(cls, data: dict[str, Any], where: str):
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items()})


@dataclass(frozen=True)
class WorldSettings:
    """The world model that imagines training scenes.

    Attributes:
        name: "procedural" (the only offline world model).
        spacing: Gaussian spacing of procedural rooms in meters (None: the generator's default).
    """

    name: str = "procedural"
    spacing: float | None = None

    def build(self, device: str | torch.device) -> ProceduralWorld:
        if self.name != "procedural":
            raise ValueError(f"world.name: unknown world model {self.name!r}; accepted: procedural")
        from .worlds.procedural import ProceduralConfig

        config = ProceduralConfig() if self.spacing is None else ProceduralConfig(spacing=self.spacing)
        return ProceduralWorld(device, config)


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
        cache_dir: teacher videos precomputed by ``--build-cache`` (None: render while training).
        num_workers: data-loader processes (staging scenes or reading the cache).
    """

    conditions: tuple[str, ...] = ROOM_PROMPTS
    train_seed_start: int = 0
    train_scenes: int = 0
    eval_seed_start: int = 1_000_000_000
    eval_scenes: int = 24
    cache_dir: str | None = None
    num_workers: int = 0

    def __post_init__(self) -> None:
        if not self.conditions:
            raise ValueError("data.conditions: give at least one prompt")
        if self.eval_seed_start < self.train_seed_start + self.train_scenes and self.eval_seed_start >= self.train_seed_start:
            raise ValueError("data: eval seeds overlap the training seeds")

    def condition(self, seed: int) -> str:
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
            held-out views are always rendered.
        prune_start: step from which the pruning stage runs (None: never).
        seed: weight initialization and per-step randomness.
        grad_checkpoint: recompute backbone activations in the backward pass.
        device: "auto" (CUDA if available), "cpu" or "cuda".
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

    def lr_at(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        span = max(1, self.steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / span)
        return self.lr * (self.min_lr_ratio + (1 - self.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


@dataclass(frozen=True)
class LossSettings:
    """Loss weights. ``lpips > 0`` needs the ``lpips`` package and its VGG weights (see `PerceptualLoss`)."""

    mse: float = 1.0
    lpips: float = 0.0
    depth: float = 0.05
    opacity: float = 0.01


@dataclass(frozen=True)
class RunSettings:
    """Outputs: ``out_dir`` gets ``metrics.jsonl``, ``checkpoints/`` and the final ``decoder.safetensors``."""

    out_dir: str = "runs/distill"
    log_every: int = 10
    ckpt_every: int = 500
    keep_last: int = 2
    resume: bool = True


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


@dataclass(frozen=True)
class DistillConfig:
    """A whole distillation run; JSON files map onto it section by section.

    ``decoder`` may be a preset name, or ``{"preset": NAME, ...field overrides}``, or all fields.
    ``codec`` is a codec description for `lyra_sim.codecs.make_codec`.
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

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DistillConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"config: unknown section(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
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
                kwargs[name] = _from_dict(cls_, data[name], name)
        return cls(**kwargs)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "DistillConfig":
        try:
            data = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"{path}: no such config file") from None
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not valid JSON ({err})") from err
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        out = {"decoder": self.decoder.to_dict(), "codec": dict(self.codec)}
        for name in ("video", "world", "data", "train", "loss", "run"):
            section = asdict(getattr(self, name))
            out[name] = {k: list(v) if isinstance(v, tuple) else v for k, v in section.items()}
        return out


# ====================================================================== distributed
@dataclass(frozen=True)
class DistEnv:
    """This process's place in the run: ``rank`` of ``world_size``, on ``device``."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def init_distributed(device: str = "auto") -> DistEnv:
    """Read torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK) and join the process group.

    NCCL on CUDA, gloo on the CPU. A plain ``python`` run is rank 0 of 1 and joins nothing.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() if device == "auto" else device.startswith("cuda")
    if use_cuda:
        if not torch.cuda.is_available():
            raise RuntimeError("train.device: 'cuda' requested, but torch sees no CUDA device")
        dev = torch.device("cuda", local_rank)
        torch.cuda.set_device(dev)
    else:
        dev = torch.device("cpu")
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo", rank=rank, world_size=world_size)
    return DistEnv(rank, world_size, local_rank, dev)


# ====================================================================== teacher data
@dataclass
class TeacherSample:
    """One scene's supervision, on the training device.

    Attributes:
        seed: scene seed.
        frames: ``[V, T, H, W, 3]`` in [0, 1]; depth: ``[V, T, H, W, 1]`` or None.
        viewmats: ``[V, T, 4, 4]``; Ks: ``[V, T, 3, 3]``.
        hold_frames: ``[K, H, W, 3]``; hold_depth: ``[K, H, W, 1]`` or None;
        hold_viewmats: ``[K, 4, 4]``; hold_Ks: ``[K, 3, 3]`` (K may be 0).
    """

    seed: int
    frames: Tensor
    depth: Tensor | None
    viewmats: Tensor
    Ks: Tensor
    hold_frames: Tensor
    hold_depth: Tensor | None
    hold_viewmats: Tensor
    hold_Ks: Tensor


def _video_meta(spec: VideoSpec, world: WorldSettings) -> str:
    return json.dumps({"video": asdict(spec), "world": asdict(world)}, sort_keys=True)


def cache_path(cache_dir: str | os.PathLike, seed: int) -> Path:
    return Path(cache_dir) / f"scene_{seed:010d}.safetensors"


def _to_cache_tensors(video) -> dict[str, Tensor]:
    """A `MultiViewVideo` → tensors as stored: uint8 frames, float16 depth, float32 cameras."""

    def u8(x: Tensor) -> Tensor:
        return (x.clamp(0, 1) * 255 + 0.5).to(torch.uint8).cpu().contiguous()

    out = {"frames": u8(video.frames), "viewmats": video.viewmats.cpu().contiguous(), "Ks": video.Ks.cpu().contiguous()}
    if video.depth is not None:
        out["depth"] = video.depth.to(torch.float16).cpu().contiguous()
    if video.holdout is not None:
        h = video.holdout
        out.update(hold_frames=u8(h.frames), hold_viewmats=h.viewmats.cpu().contiguous(), hold_Ks=h.Ks.cpu().contiguous())
        if h.depth is not None:
            out["hold_depth"] = h.depth.to(torch.float16).cpu().contiguous()
    return out


def read_cached(path: Path, expected_meta: str) -> dict[str, Tensor]:
    """Tensors of one cached teacher video; its video/world settings must equal the run's."""
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            if meta.get("format") != CACHE_FORMAT:
                raise ValueError(f"{path}: not a lyra-sim teacher cache file (format {meta.get('format')!r})")
            if meta.get("settings") != expected_meta:
                raise ValueError(
                    f"{path}: cached with different video/world settings ({meta.get('settings')}) than this run "
                    f"({expected_meta}); rebuild the cache (--build-cache) or point data.cache_dir elsewhere"
                )
            return {k: f.get_tensor(k) for k in f.keys()}
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{path}: missing from the teacher cache; build it with "
            "`python -m lyra_sim.distill --config CONFIG --build-cache train` (or eval)"
        ) from None


class SceneSource(torch.utils.data.Dataset):
    """Scene seed → what a data-loader worker can prepare on the CPU.

    Returns ``(seed, payload)``: a `StagedScene` to render (no cache) or the cached tensors.
    """

    def __init__(self, config: DistillConfig) -> None:
        self.config = config
        self.world = config.world.build("cpu")
        self.meta = _video_meta(config.video, config.world)

    def __getitem__(self, seed: int) -> tuple[int, Any]:
        cfg = self.config
        if cfg.data.cache_dir is not None:
            return seed, read_cached(cache_path(cfg.data.cache_dir, seed), self.meta)
        return seed, self.world.stage(cfg.data.condition(seed), TRAJECTORIES, seed=seed, spec=cfg.video)


def _collate(items: list) -> list:
    return items


def _identity(item: Any) -> Any:
    return item


def materialize(item: tuple[int, Any], world: ProceduralWorld, device: torch.device) -> TeacherSample:
    """Finish a `SceneSource` item on ``device``: render a staged scene, or decode cached tensors."""
    seed, payload = item
    if isinstance(payload, StagedScene):
        payload = _to_cache_tensors(world.shoot(payload))
    t = {k: v.to(device, non_blocking=True) for k, v in payload.items()}

    def f32(x: Tensor | None) -> Tensor | None:
        return None if x is None else (x.float() / 255 if x.dtype == torch.uint8 else x.float())

    k = 0 if "hold_frames" not in t else t["hold_frames"].shape[0]
    h, w = t["frames"].shape[2:4]
    return TeacherSample(
        seed=seed,
        frames=f32(t["frames"]),
        depth=f32(t.get("depth")),
        viewmats=t["viewmats"],
        Ks=t["Ks"],
        hold_frames=f32(t["hold_frames"]) if k else torch.zeros(0, h, w, 3, device=device),
        hold_depth=f32(t.get("hold_depth")),
        hold_viewmats=t["hold_viewmats"] if k else torch.zeros(0, 4, 4, device=device),
        hold_Ks=t["hold_Ks"] if k else torch.zeros(0, 3, 3, device=device),
    )


def build_cache(config: DistillConfig, split: str, env: DistEnv, log: Callable[[str], None] = print) -> Path:
    """Render the teacher videos of a split (``"train"``: ``data.train_scenes`` seeds; ``"eval"``) to ``data.cache_dir``.

    Rank ``r`` of ``N`` builds seeds ``r, r + N, ...``; files already there are kept, so an
    interrupted build resumes. CPU workers stage scenes, this process renders them on its device.
    """
    data = config.data
    if data.cache_dir is None:
        raise ValueError("data.cache_dir: set it to build a cache")
    if split == "train":
        if data.train_scenes <= 0:
            raise ValueError("data.train_scenes: a cache needs a finite number of training scenes (> 0)")
        seeds = list(range(data.train_seed_start, data.train_seed_start + data.train_scenes))
    elif split == "eval":
        seeds = data.eval_seeds()
    else:
        raise ValueError(f"split: expected 'train' or 'eval', got {split!r}")
    out = Path(data.cache_dir)
    out.mkdir(parents=True, exist_ok=True)
    todo = [s for s in seeds[env.rank :: env.world_size] if not cache_path(out, s).exists()]
    source = SceneSource(replace(config, data=replace(data, cache_dir=None)))
    world = config.world.build(env.device)
    loader = torch.utils.data.DataLoader(
        source, batch_size=None, sampler=todo, num_workers=data.num_workers, collate_fn=_identity,
        prefetch_factor=4 if data.num_workers else None,
    )
    start = time.perf_counter()
    for i, item in enumerate(loader, 1):
        seed = item[0]
        tensors = _to_cache_tensors(world.shoot(item[1]))
        with atomic_path(cache_path(out, seed)) as tmp:
            save_file(tensors, str(tmp), metadata={"format": CACHE_FORMAT, "settings": source.meta,
                                                   "info": json.dumps(item[1].info, sort_keys=True)})
        if env.is_main and (i % 20 == 0 or i == len(todo)):
            rate = i / (time.perf_counter() - start)
            log(f"cache {split}: {i}/{len(todo)} scenes on rank 0 ({rate:.2f} scenes/s)")
    if env.distributed:
        dist.barrier()
    return out


# ====================================================================== losses
def scale_invariant_depth_loss(pred: Tensor, target: Tensor) -> Tensor:
    """Smooth-L1 between depths normalized per image by median and mean absolute deviation.

    Args:
        pred, target: ``[C, H, W, 1]`` depths; pixels with ``target <= 0`` (no surface) are ignored.

    Returns:
        Scalar loss (0 when no pixel is valid).
    """
    valid = (target > 0).flatten(1)
    if not bool(valid.any()):
        return pred.sum() * 0

    def normalize(d: Tensor) -> Tensor:
        x = d.flatten(1)
        masked = x.masked_fill(~valid, float("nan"))
        med = masked.nanmedian(1, keepdim=True).values
        mad = (masked - med).abs().nanmean(1, keepdim=True).clamp_min(1e-6)
        return (x - med) / mad

    return F.smooth_l1_loss(normalize(pred)[valid], normalize(target)[valid])


class PerceptualLoss(torch.nn.Module):
    """LPIPS (Zhang et al. 2018) with a VGG backbone, from the ``lpips`` package (``pip install lpips``).

    Its linear calibration layers ship inside the package; the VGG16 ImageNet weights are fetched
    by torchvision into ``$TORCH_HOME/hub/checkpoints/vgg16-397923af.pth``, so on a machine
    without network access copy that file there first. Inputs ``[C, H, W, 3]`` in [0, 1].
    """

    def __init__(self, device: torch.device) -> None:
        super().__init__()
        try:
            import lpips
        except ImportError as err:
            raise ImportError(
                "loss.lpips > 0 needs the lpips package (pip install lpips) and torchvision's VGG16 weights "
                "(vgg16-397923af.pth in $TORCH_HOME/hub/checkpoints); set loss.lpips to 0 to train without it"
            ) from err
        self.net = lpips.LPIPS(net="vgg", verbose=False).to(device).eval().requires_grad_(False)

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        to_net = lambda x: x.permute(0, 3, 1, 2) * 2 - 1  # noqa: E731 - [C, 3, H, W] in [-1, 1]
        return self.net(to_net(pred), to_net(target)).mean()


def psnr_from_mse(mse: float) -> float:
    return float("inf") if mse <= 0 else -10 * math.log10(mse)


# ====================================================================== training
@dataclass
class TrainResult:
    """What `train` returns: the trained (unwrapped) decoder and this rank's per-step records."""

    model: LyraDecoder
    history: list[dict[str, Any]]
    out_dir: Path


def _param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    decay = [p for _, p in sorted(model.named_parameters()) if p.ndim >= 2]
    no_decay = [p for _, p in sorted(model.named_parameters()) if p.ndim < 2]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _optimizer_tensors(opt: torch.optim.Optimizer) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Split an optimizer's state into safetensors-ready tensors and JSON-ready settings."""
    sd = opt.state_dict()
    tensors: dict[str, Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, state in sd["state"].items():
        for key, value in state.items():
            if isinstance(value, Tensor):
                tensors[f"optim.{pid}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(pid), {})[key] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _optimizer_state(tensors: dict[str, Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, pid, key = name.split(".", 2)
            state.setdefault(int(pid), {})[key] = value
    for pid, values in meta.get("scalars", {}).items():
        state.setdefault(int(pid), {}).update(values)
    return {"state": state, "param_groups": meta["param_groups"]}


def _checkpoint_extra(config: DistillConfig, step: int) -> dict[str, Any]:
    """What inference needs besides the weights: the codec and the video it was trained on."""
    video = asdict(replace(config.video, num_holdout=0, anchor="corner"))
    return {"codec": dict(config.codec), "video": video, "world": asdict(config.world), "step": step}


def save_training_checkpoint(
    out_dir: Path, step: int, samples: int, model: LyraDecoder, opt: torch.optim.Optimizer,
    config: DistillConfig, env: DistEnv,
) -> Path:
    """Write ``checkpoints/step_NNNNNNN/`` atomically and point ``latest.json`` at it (rank 0 only)."""
    ckpt_root = out_dir / "checkpoints"
    target = ckpt_root / f"step_{step:07d}"
    tensors, meta = _optimizer_tensors(opt)
    tensors["rng.cpu"] = torch.get_rng_state()
    if env.device.type == "cuda":
        tensors["rng.cuda"] = torch.cuda.get_rng_state(env.device)
    with atomic_directory(target, overwrite=True) as tmp:
        save_decoder(tmp / "decoder.safetensors", model, _checkpoint_extra(config, step))
        save_file(tensors, str(tmp / "trainer.safetensors"))
        (tmp / "trainer.json").write_text(json.dumps(
            {"step": step, "samples_seen": samples, "world_size": env.world_size, "optimizer": meta,
             "config": config.to_dict()}, indent=1, sort_keys=True))
    with atomic_path(out_dir / "latest.json") as tmp:
        tmp.write_text(json.dumps({"step": step, "checkpoint": str(target.relative_to(out_dir))}))
    olds = sorted(p for p in ckpt_root.glob("step_*") if p.is_dir() and p != target)
    for old in olds[: max(0, len(olds) - (config.run.keep_last - 1))]:
        shutil.rmtree(old, ignore_errors=True)
    return target


def _resume(out_dir: Path, model: LyraDecoder, opt: torch.optim.Optimizer, env: DistEnv) -> tuple[int, int]:
    """Load ``latest.json``'s checkpoint into model and optimizer; ``(step, samples_seen)`` or ``(0, 0)``."""
    latest = out_dir / "latest.json"
    if not latest.is_file():
        return 0, 0
    ckpt = out_dir / json.loads(latest.read_text())["checkpoint"]
    from .decoder import read_decoder_metadata

    saved, _ = read_decoder_metadata(ckpt / "decoder.safetensors")
    if saved != model.config:
        diffs = "; ".join(f"{k}: checkpoint {a!r} vs config {b!r}" for k, (a, b) in saved.diff(model.config).items())
        raise ValueError(f"{ckpt}: cannot resume, the decoder config changed — {diffs} (use a new run.out_dir)")
    load_weights(ckpt / "decoder.safetensors", model)
    meta = json.loads((ckpt / "trainer.json").read_text())
    with safe_open(str(ckpt / "trainer.safetensors"), framework="pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    opt.load_state_dict(_optimizer_state(tensors, meta["optimizer"]))
    torch.set_rng_state(tensors["rng.cpu"])
    if "rng.cuda" in tensors and env.device.type == "cuda":
        torch.cuda.set_rng_state(tensors["rng.cuda"], env.device)
    return int(meta["step"]), int(meta["samples_seen"])


def _rank_samples(config: DistillConfig, step: int, env: DistEnv) -> list[int]:
    """Indices (in the run) of the samples this rank trains on at ``step``."""
    local = config.train.batch_size // env.world_size
    first = step * config.train.batch_size + env.rank * local
    return list(range(first, first + local))


def _rank_seeds(config: DistillConfig, step: int, env: DistEnv) -> list[int]:
    return [config.data.train_seed(g, config.train.seed) for g in _rank_samples(config, step, env)]


def _sample_generator(config: DistillConfig, sample: int) -> torch.Generator:
    state = np.random.SeedSequence(config.train.seed, spawn_key=(1, sample)).generate_state(1)[0]
    return torch.Generator().manual_seed(int(state))


class _SeedSampler(torch.utils.data.Sampler):
    """Scene seeds this rank trains on, step after step, from ``start`` to the last step."""

    def __init__(self, config: DistillConfig, env: DistEnv, start: int) -> None:
        self.config, self.env, self.start = config, env, start

    def __iter__(self) -> Iterator[int]:
        for step in range(self.start, self.config.train.steps):
            yield from _rank_seeds(self.config, step, self.env)

    def __len__(self) -> int:
        return (self.config.train.steps - self.start) * (self.config.train.batch_size // self.env.world_size)


def _render_targets(sample: TeacherSample, teacher: Tensor, count: int, gen: torch.Generator) -> tuple[Cameras, Tensor, Tensor | None]:
    """Cameras, teacher RGB ``[C, H, W, 3]`` and depth ``[C, H, W, 1]`` (or None) to supervise one sample.

    ``count`` random trajectory frames (0: all) plus every held-out view.
    """
    v, t, h, w, _ = sample.frames.shape
    n = v * t
    pick = torch.randperm(n, generator=gen)[:count].sort().values if 0 < count < n else torch.arange(n)
    pick = pick.to(sample.frames.device)
    viewmats = torch.cat([sample.viewmats.reshape(n, 4, 4)[pick], sample.hold_viewmats])
    ks = torch.cat([sample.Ks.reshape(n, 3, 3)[pick], sample.hold_Ks])
    rgb = torch.cat([teacher.reshape(n, h, w, 3)[pick], sample.hold_frames])
    depth = None
    if sample.depth is not None and (sample.hold_depth is not None or sample.hold_frames.shape[0] == 0):
        hold_depth = sample.hold_depth if sample.hold_depth is not None else sample.depth.new_zeros(0, h, w, 1)
        depth = torch.cat([sample.depth.reshape(n, h, w, 1)[pick], hold_depth])
    return Cameras(viewmats.float(), ks.float(), w, h), rgb, depth


def distill_step_loss(
    model: torch.nn.Module, samples: Sequence[TeacherSample], codec: LatentCodec, config: DistillConfig,
    step: int, gens: Sequence[torch.Generator], perceptual: PerceptualLoss | None, device: torch.device,
) -> tuple[Tensor, dict[str, float]]:
    """Forward pass and loss of one step on this rank's samples; returns ``(loss, scalar metrics)``.

    ``gens`` holds one generator per sample (which frames it renders), seeded by the sample's
    index in the run so that the choice does not depend on how samples are spread over ranks.
    """
    frames = torch.stack([s.frames for s in samples])  # [b, V, T, H, W, 3]
    b, v, t, h, w, _ = frames.shape
    with torch.no_grad():
        latents = codec.encode(frames.reshape(b * v, t, h, w, 3))
        teacher = codec.decode(latents).reshape(b, v, t, h, w, 3)
        latents = latents.reshape(b, v, *latents.shape[1:])
        hold_teacher = [
            codec.decode(codec.encode(s.hold_frames[:, None]))[:, 0] if s.hold_frames.shape[0] else s.hold_frames
            for s in samples
        ]
    viewmats = torch.stack([s.viewmats for s in samples]).float()
    ks = torch.stack([s.Ks for s in samples]).float()
    use_bf16 = config.train.bf16 and device.type == "cuda"
    with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_bf16):
        gaussians = model(latents, viewmats, ks)
    pruning = config.train.prune_start is not None and step >= config.train.prune_start
    unwrapped = model.module if hasattr(model, "module") else model
    # Opacity regularization acts on all Gaussians, so the ones pruning drops fade out, while
    # the renders see only the kept ones, as at inference.
    opacity = gaussians.opacities.mean()
    if pruning:
        gaussians = gaussians.prune(unwrapped.config.keep_ratio)

    lw = config.loss
    total = torch.zeros((), device=device)
    sums = {"mse": 0.0, "mse_holdout": 0.0, "depth": 0.0, "lpips": 0.0}
    for i, s in enumerate(samples):
        sample = replace(s, hold_frames=hold_teacher[i])
        cams, rgb_t, depth_t = _render_targets(sample, teacher[i], config.train.render_views, gens[i])
        want_depth = lw.depth > 0 and depth_t is not None
        out = render(gaussians.scene(i), cams, "RGB+ED" if want_depth else "RGB")
        sq = (out.rgb - rgb_t).pow(2)
        mse = sq.mean()
        loss = lw.mse * mse
        k = sample.hold_frames.shape[0]
        sums["mse"] += float(sq[: len(cams) - k].mean().detach())
        if k:
            sums["mse_holdout"] += float(sq[len(cams) - k :].mean().detach())
        if want_depth:
            d = scale_invariant_depth_loss(out.depth, depth_t)
            loss = loss + lw.depth * d
            sums["depth"] += float(d.detach())
        if perceptual is not None and lw.lpips > 0:
            p = perceptual(out.rgb, rgb_t)
            loss = loss + lw.lpips * p
            sums["lpips"] += float(p.detach())
        total = total + loss / len(samples)
    if pruning and lw.opacity > 0:
        total = total + lw.opacity * opacity
    metrics = {k: v / len(samples) for k, v in sums.items()}
    metrics.update(opacity=float(opacity.detach()), gaussians=gaussians.num_gaussians, pruning=float(pruning))
    return total, metrics


@contextlib.contextmanager
def _tf32(enabled: bool) -> Iterator[None]:
    """TF32 matmuls for the duration of training only: the flags are process-wide, and the
    PyTorch rasterizer on CUDA (among others) must not silently lose float32 precision after."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    if enabled:
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def train(config: DistillConfig, *, log: Callable[[str], None] = print, env: DistEnv | None = None) -> TrainResult:
    """Run (or resume) the distillation described by ``config`` on this process's rank."""
    env = env or init_distributed(config.train.device)
    with _tf32(env.device.type == "cuda"):
        return _train(config, log, env)


def _train(config: DistillConfig, log: Callable[[str], None], env: DistEnv) -> TrainResult:
    tc = config.train
    if tc.batch_size % env.world_size:
        raise ValueError(f"train.batch_size: {tc.batch_size} scenes do not split evenly over {env.world_size} ranks")
    device = env.device
    out_dir = Path(config.run.out_dir)
    if env.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "config.json").write_text(json.dumps(config.to_dict(), indent=1, sort_keys=True))

    codec = make_codec(config.codec, device=device)
    model = LyraDecoder(config.decoder, seed=tc.seed).to(device)
    model.gradient_checkpointing = tc.grad_checkpoint
    opt = torch.optim.AdamW(_param_groups(model, tc.weight_decay), lr=tc.lr, betas=tuple(tc.betas),
                            fused=device.type == "cuda")
    step, samples_seen = (0, 0)
    if config.run.resume:
        step, samples_seen = _resume(out_dir, model, opt, env)
        if step and env.is_main:
            log(f"resumed from step {step} ({samples_seen} samples seen)")
    ddp = model
    if env.distributed:
        ddp = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    model.train()
    perceptual = PerceptualLoss(device) if config.loss.lpips > 0 else None
    world = config.world.build(device)

    source = SceneSource(config)
    local = tc.batch_size // env.world_size
    loader = torch.utils.data.DataLoader(
        source, batch_size=local, sampler=_SeedSampler(config, env, step), num_workers=config.data.num_workers,
        collate_fn=_collate, prefetch_factor=4 if config.data.num_workers else None,
        persistent_workers=False, pin_memory=device.type == "cuda",
    )
    metrics_path = out_dir / "metrics.jsonl"
    history: list[dict[str, Any]] = []
    window: list[dict[str, float]] = []
    t_last = time.perf_counter()
    for items in loader:
        samples = [materialize(it, world, device) for it in items]
        gens = [_sample_generator(config, g) for g in _rank_samples(config, step, env)]
        for group in opt.param_groups:
            group["lr"] = tc.lr_at(step)
        loss, m = distill_step_loss(ddp, samples, codec, config, step, gens, perceptual, device)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
        opt.step()
        step += 1
        samples_seen += tc.batch_size
        record = {"step": step, "loss": float(loss.detach()), "grad_norm": float(grad_norm), "lr": tc.lr_at(step - 1),
                  "seeds": [s.seed for s in samples], **m}
        history.append(record)
        window.append(record)

        if step % config.run.log_every == 0 or step == tc.steps:
            keys = ("loss", "mse", "mse_holdout", "depth", "lpips", "opacity", "grad_norm")
            avg = torch.tensor([[r[k] for k in keys] for r in window], dtype=torch.float64).mean(0).to(device)
            seeds: list[Any] = [[r["seeds"] for r in window]]
            if env.distributed:
                dist.all_reduce(avg)
                avg /= env.world_size
                seeds = [None] * env.world_size
                dist.all_gather_object(seeds, [r["seeds"] for r in window])
            if env.is_main:
                now = time.perf_counter()
                rate = len(window) * tc.batch_size / (now - t_last)
                entry = {"step": step, "samples_seen": samples_seen, "lr": record["lr"], **dict(zip(keys, avg.tolist())),
                         "psnr": psnr_from_mse(float(avg[1])), "psnr_holdout": psnr_from_mse(float(avg[2])),
                         "gaussians": m["gaussians"], "pruning": bool(m["pruning"]), "samples_per_s": rate,
                         "world_size": env.world_size, "time": time.time(), "rank_seeds": seeds}
                with metrics_path.open("a") as f:
                    f.write(json.dumps(entry) + "\n")
                eta = (tc.steps - step) * (now - t_last) / len(window)
                log(f"step {step}/{tc.steps}  loss {entry['loss']:.4f}  psnr {entry['psnr']:.2f} "
                    f"(held-out {entry['psnr_holdout']:.2f})  depth {entry['depth']:.3f}  lr {entry['lr']:.2e}  "
                    f"{rate:.1f} samples/s  eta {eta / 60:.1f} min")
            window, t_last = [], time.perf_counter()
        if step % config.run.ckpt_every == 0 or step == tc.steps:
            if env.is_main:
                save_training_checkpoint(out_dir, step, samples_seen, model, opt, config, env)
            if env.distributed:
                dist.barrier()
    if env.is_main:
        save_decoder(out_dir / "decoder.safetensors", model, _checkpoint_extra(config, step))
    return TrainResult(model, history, out_dir)


# ====================================================================== command line
DESCRIPTION = "Self-distill the Lyra 3DGS decoder from a world model (runs under torchrun for DDP)."


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The trainer's options; shared by ``python -m lyra_sim.distill`` and ``lyra-sim distill``."""
    p.add_argument("--config", required=True, help="JSON run config (see configs/distill_small.json)")
    p.add_argument("--build-cache", choices=("train", "eval"), help="render the split's teacher videos to data.cache_dir and exit")
    p.add_argument("--out-dir", help="override run.out_dir")
    p.add_argument("--steps", type=int, help="override train.steps")
    p.add_argument("--cache-dir", help="override data.cache_dir")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), help="override train.device")
    p.add_argument("--num-workers", type=int, help="override data.num_workers")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lyra_sim.distill", description=DESCRIPTION)
    return run(add_arguments(parser).parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Train (or ``--build-cache``) as the parsed options say."""
    config = DistillConfig.load(args.config)
    if args.out_dir:
        config = replace(config, run=replace(config.run, out_dir=args.out_dir))
    if args.steps is not None:
        config = replace(config, train=replace(config.train, steps=args.steps))
    if args.cache_dir:
        config = replace(config, data=replace(config.data, cache_dir=args.cache_dir))
    if args.device:
        config = replace(config, train=replace(config.train, device=args.device))
    if args.num_workers is not None:
        config = replace(config, data=replace(config.data, num_workers=args.num_workers))
    env = init_distributed(config.train.device)
    try:
        if args.build_cache:
            path = build_cache(config, args.build_cache, env, log=lambda s: print(s, flush=True))
            if env.is_main:
                print(f"teacher cache ({args.build_cache}) ready in {path}")
        else:
            result = train(config, env=env, log=lambda s: print(s, flush=True))
            if env.is_main:
                print(f"done: {result.out_dir / 'decoder.safetensors'}")
    finally:
        if env.distributed and dist.is_initialized():
            dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
