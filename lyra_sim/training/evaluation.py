"""Held-out evaluation of a decoder checkpoint: novel-view PSNR / SSIM (LPIPS optional), Gaussian count, timings.

For each held-out scene the world model imagines the six trajectories plus K views that are in
no trajectory; the decoder turns the video's latents into Gaussians, which are rendered at
those K views and compared with the teacher (the codec's reconstruction of the world's frames).

Run::

    python -m lyra_sim.training.evaluation --checkpoint RUN/decoder.safetensors --config configs/distill_small.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ..cameras import Cameras
from ..config import from_dict
from ..decoder import WorldSettings, load_decoder, resolve_checkpoint
from ..decoder.codecs import make_codec
from ..render import render
from ..video import VideoSpec
from .config import DistillConfig
from .losses import PerceptualLoss
from .teacher_cache import TeacherSample, TeacherSource, cache_path, materialize, teacher_world


def psnr(pred: Tensor, target: Tensor) -> Tensor:
    """Per-image PSNR in dB of ``[C, H, W, 3]`` images in [0, 1] → ``[C]``."""
    mse = (pred - target).pow(2).flatten(1).mean(1)
    return -10 * torch.log10(mse.clamp_min(1e-12))


def ssim(pred: Tensor, target: Tensor, window: int = 11, sigma: float = 1.5) -> Tensor:
    """Per-image SSIM (Wang et al. 2004; Gaussian window 11, σ 1.5, valid region) of ``[C, H, W, 3]`` → ``[C]``."""
    coords = torch.arange(window, dtype=torch.float32, device=pred.device) - (window - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    kernel = (g[:, None] * g[None, :]).expand(3, 1, window, window)
    x, y = pred.permute(0, 3, 1, 2).float(), target.permute(0, 3, 1, 2).float()

    def blur(z: Tensor) -> Tensor:
        return F.conv2d(z, kernel, groups=3)

    mx, my = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx**2 + my**2 + c1) * (sxx + syy + c2))
    return s.flatten(1).mean(1)


@dataclass(frozen=True)
class EvalRow:
    """Metrics of one held-out scene (PSNR/SSIM averaged over its views)."""

    seed: int
    condition: str
    psnr_novel: float
    ssim_novel: float
    psnr_input: float  # at the last frame of each trajectory
    lpips_novel: float | None
    gaussians: int
    decode_s: float
    render_s: float


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def evaluate(
    checkpoint: str | Path,
    config_path: str | Path | None = None,
    *,
    scenes: int | None = None,
    device: str = "cpu",
    keep_ratio: float | None = None,
    lpips: bool = False,
    log=print,
) -> list[EvalRow]:
    """Evaluate ``checkpoint`` on held-out scenes.

    Seeds, prompts, video settings (incl. held-out views) and the teacher cache come from the
    distillation config when given (its ``data.eval_*``); otherwise from the checkpoint with 8
    held-out views and the default prompts. ``scenes`` limits how many are evaluated.
    """
    dev = torch.device(device)
    model, extra = load_decoder(checkpoint, device=dev)
    if config_path is not None:
        config = DistillConfig.load(config_path)
        if config.decoder != model.config:
            raise ValueError(f"{checkpoint}: decoder config differs from {config_path}'s: {model.config.diff(config.decoder)}")
    else:
        video = replace(from_dict(VideoSpec, extra["video"], f"{checkpoint}: metadata video"), num_holdout=8, anchor="mixed")
        world = from_dict(WorldSettings, extra.get("world", {}), f"{checkpoint}: metadata world")
        config = DistillConfig(decoder=model.config, codec=extra["codec"], video=video, world=world)
    data = config.data
    seeds = data.eval_seeds()[: scenes if scenes is not None else None]
    eval_cache = None if data.cache_dir is None else str(Path(data.cache_dir))
    if eval_cache is not None and not all(cache_path(eval_cache, s).exists() for s in seeds):
        eval_cache = None  # not built for these seeds: render on the fly
    config = replace(config, data=replace(data, cache_dir=eval_cache))
    source = TeacherSource(config)
    world = teacher_world(config.world, dev, config.data.between)
    codec = make_codec(config.codec, device=dev)
    keep = model.config.keep_ratio if keep_ratio is None else keep_ratio
    perceptual = None
    if lpips:
        perceptual = PerceptualLoss(dev)

    rows = []
    for seed in seeds:
        sample: TeacherSample = materialize(source[seed], world, dev)
        if sample.hold_frames.shape[0] == 0:
            raise ValueError("evaluation needs held-out views: set video.num_holdout > 0 in the config")
        v, t, h, w, _ = sample.frames.shape
        with torch.no_grad():
            teacher_hold = codec.decode(codec.encode(sample.hold_frames[:, None]))[:, 0]
            _sync(dev)
            t0 = time.perf_counter()
            latents = codec.encode(sample.frames.reshape(v, t, h, w, 3))
            teacher = codec.decode(latents)
            gaussians = model(latents[None], sample.viewmats[None].float(), sample.Ks[None].float()).prune(keep)
            scene = gaussians.scene(0)
            _sync(dev)
            t1 = time.perf_counter()
            out = render(scene, Cameras(sample.hold_viewmats.float(), sample.hold_Ks.float(), w, h), "RGB")
            _sync(dev)
            t2 = time.perf_counter()
            # Input views: the last frame of each trajectory (the anchor, frame 0, is shared by all).
            inputs = render(scene, Cameras(sample.viewmats[:, -1].float(), sample.Ks[:, -1].float(), w, h), "RGB")
            pred = out.rgb.clamp(0, 1)
            lp = None if perceptual is None else float(perceptual(pred, teacher_hold))
        row = EvalRow(
            seed=seed, condition=data.condition(seed),
            psnr_novel=float(psnr(pred, teacher_hold).mean()), ssim_novel=float(ssim(pred, teacher_hold).mean()),
            psnr_input=float(psnr(inputs.rgb.clamp(0, 1), teacher[:, -1]).mean()),
            lpips_novel=lp, gaussians=len(scene), decode_s=t1 - t0, render_s=(t2 - t1) / pred.shape[0],
        )
        rows.append(row)
        log(f"  seed {seed} ({row.condition}): novel-view PSNR {row.psnr_novel:.2f} dB, SSIM {row.ssim_novel:.3f}, "
            f"{row.gaussians:,} Gaussians, decode {row.decode_s:.3f} s")
    return rows


def format_table(rows: Sequence[EvalRow], device: str) -> str:
    """Markdown table: one line per prompt and the mean over all scenes."""
    groups: dict[str, list[EvalRow]] = {}
    for r in rows:
        groups.setdefault(r.condition, []).append(r)
    groups["all"] = list(rows)
    has_lpips = any(r.lpips_novel is not None for r in rows)
    head = ["prompt", "scenes", "novel PSNR (dB)", "novel SSIM"] + (["novel LPIPS"] if has_lpips else []) + [
        "input-view PSNR (dB)", "Gaussians", f"decode s ({device})", f"render s/view ({device})"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, rs in groups.items():
        mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
        cells = [name, str(len(rs)), f"{mean([r.psnr_novel for r in rs]):.2f}", f"{mean([r.ssim_novel for r in rs]):.3f}"]
        if has_lpips:
            measured = [r.lpips_novel for r in rs if r.lpips_novel is not None]
            cells.append(f"{mean(measured):.3f}" if measured else "")
        cells += [f"{mean([r.psnr_input for r in rs]):.2f}", f"{round(mean([r.gaussians for r in rs])):,}",
                  f"{mean([r.decode_s for r in rs]):.3f}", f"{mean([r.render_s for r in rs]):.4f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lyra_sim.training.evaluation", description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True, help="decoder .safetensors (or 'default')")
    p.add_argument("--config", help="the distillation config (held-out seeds, prompts, video, teacher cache)")
    p.add_argument("--scenes", type=int, help="evaluate only the first N held-out scenes")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--keep-ratio", type=float, help="fraction of Gaussians kept (default: the checkpoint's)")
    p.add_argument("--lpips", action="store_true", help="also report LPIPS (needs the lpips package and VGG weights)")
    p.add_argument("--json", help="also write the per-scene rows to this JSON file")
    args = p.parse_args(argv)
    ckpt = resolve_checkpoint(args.checkpoint)
    rows = evaluate(ckpt, args.config, scenes=args.scenes, device=args.device, keep_ratio=args.keep_ratio,
                    lpips=args.lpips, log=lambda s: print(s, flush=True))
    print(format_table(rows, args.device))
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in rows], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
