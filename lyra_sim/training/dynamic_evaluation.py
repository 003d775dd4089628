"""Held-out evaluation of a time-conditioned decoder on dynamic scenes, beside static baselines.

For each held-out scene (seeds ``data.eval_*``; prompts ``data.eval_conditions``, unseen in training)
the dynamic world imagines the six trajectories over time and K held-out views at target times
strictly *between* input frames (bullet time no frame shows). Three decoders read the same video:

- ``dynamic``: the checkpoint, decoded once per target time (Lyra's time-conditioned decoder);
- ``static per time`` (the baseline): the static decoder run on each time's frames separately:
  for a target time, every trajectory's nearest input frame, held still as a static video;
- ``static all frames``: the static decoder on the whole dynamic video, ignoring time;
- ``dynamic, world depth``: for a checkpoint with ``depth_input``, the checkpoint reading the world's depth of the
  six trajectories beside the latents (``dynamic`` is then the same checkpoint from the latents alone).

Metrics, per target time: whole-image PSNR / SSIM of the held-out views at that time (against the
codec's reconstruction of the world's frames, as `lyra_sim.training.evaluation`); PSNR over the
pixels that show a moving object (the world's label maps); the moving objects' centre error in cm:
per mover, the opacity-weighted centroid of the decoded Gaussians that come from pixels showing it,
against the same pixels' true surface points carried to the target time by the mover's pose, and the
same with coordinate-wise weighted medians (a robust centre: Gaussians of a thin mover's silhouette
pixels may land on the background metres behind it, which moves a centroid but not a median). The
true surface of a mover's pixel is the mover's own depth there (`mover_depths`), not the frame's
expected depth, which at its silhouette blends in the background behind. The decoders' metric depth
scale: the kept Gaussians' camera depth in the frame they come from over the world's depth at their
pixel (median ratio and median relative error on static pixels; median ratio on movers' pixels, at
the time of their frame). And the decoder's seconds per target time.

Run::

    python -m lyra_sim.training.dynamic_evaluation --checkpoint RUN/decoder.safetensors \\
        --config configs/distill_dynamic_small.json [--baseline default] [--json rows.json]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from ..cameras import Cameras, pixel_points
from ..decoder import LyraDecoder, load_decoder, resolve_checkpoint
from ..decoder.codecs import make_codec
from ..decoder.model import GaussianBatch, normalize_times
from ..render import render
from ..worlds.dynamic_world import pose_gaussians
from .config import DistillConfig
from .evaluation import psnr, ssim
from .teacher_cache import TeacherSource, collate_list, teacher_world

METHODS = ("dynamic", "static per time", "static all frames")
WITH_DEPTH = "dynamic, world depth"
"""The extra method of a depth-input checkpoint."""
MIN_GAUSSIANS = 20
"""Decoded Gaussians a mover needs (from pixels showing it) for its centre error to count."""


@dataclass(frozen=True)
class DynamicEvalRow:
    """One method at one target time of one held-out scene (moving metrics None where no mover is seen)."""

    seed: int
    condition: str
    method: str
    target: float
    psnr: float
    ssim: float
    psnr_moving: float | None
    centre_cm: float | None
    centre_median_cm: float | None
    decode_s: float
    depth_ratio: float | None = None
    depth_error: float | None = None
    depth_ratio_moving: float | None = None


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def source_pixels(model: LyraDecoder, num_latent: int, h: int, w: int, v: int) -> tuple[Tensor, ...]:
    """For every Gaussian the decoder outputs (before pruning): its view, video frame, and pixel coordinates
    ``(u, v)`` of its ray, in output order ``[N]`` each."""
    frames, xs, ys = model.gaussian_pixels(num_latent, h, w)
    view, slot, row, col = torch.meshgrid(torch.arange(v), torch.arange(frames.numel()), torch.arange(len(ys)),
                                          torch.arange(len(xs)), indexing="ij")
    return view.flatten(), frames[slot.flatten()], xs[col.flatten()], ys[row.flatten()]


def mover_depths(staged, video) -> Tensor:
    """``[V, T, H, W, 1]``: the video's depth with each moving object's pixels set to that object's own expected
    depth (a render of its Gaussians alone, posed at the frame's time): the surface the label map says is there.

    ``staged``: the `lyra_sim.worlds.dynamic_video.DynamicStagedScene` the video was shot from.
    """
    depth = video.depth.clone()
    t, h, w = video.frames.shape[1:4]
    for m, mover in enumerate(staged.movers):
        own = staged.gaussians.select(staged.gaussians.labels == mover.label_index).to(video.frames.device)
        for k in range(t):
            shown = video.labels[:, k] == m + 1
            if not bool(shown.any()):
                continue
            posed = pose_gaussians(own, [mover], staged.frame_poses[k][m:m + 1])
            out = render(posed, Cameras(video.viewmats[:, k].float(), video.Ks[:, k].float(), w, h), "ED")
            depth[:, k][shown] = out.depth[shown].to(depth.dtype)
    return depth


def depth_ratios(batch: GaussianBatch, idx: Tensor, sources: tuple[Tensor, ...], frame_of: Tensor,
                 video) -> tuple[float | None, float | None, float | None]:
    """Metric depth scale of decoded Gaussians ``batch`` (indices ``idx`` into ``sources``, as `centre_errors`).

    Returns:
        ``(ratio, error, ratio_moving)``: the median over Gaussians from static pixels of camera depth in the
        frame they come from / the world's depth at their pixel, the median of ``|ratio - 1|`` there, and the
        median ratio over Gaussians from pixels showing a moving object (None where no Gaussian qualifies).
    """
    view, frame, px, py = (x[idx.cpu()] for x in sources)
    frame = frame_of[frame]
    h, w = video.labels.shape[2:]
    row, col = py.floor().long().clamp(0, h - 1), px.floor().long().clamp(0, w - 1)
    true = video.depth.cpu()[view, frame, row, col, 0].double()
    vm = video.viewmats.cpu()[view, frame].double()
    z = (vm[:, 2, :3] * batch.means[0].detach().cpu().double()).sum(-1) + vm[:, 2, 3]
    ratio = z / true.clamp_min(1e-9)
    lab = video.labels.cpu()[view, frame, row, col]
    static, moving = (true > 0) & (lab == 0), (true > 0) & (lab > 0)
    return _median(ratio[static]), _median((ratio[static] - 1).abs()), _median(ratio[moving])


def _median(x: Tensor) -> float | None:
    return float(x.median()) if x.numel() else None


def _pruned(batch: GaussianBatch, keep: float) -> tuple[GaussianBatch, Tensor]:
    """The ``keep`` most opaque Gaussians of sample 0 (the same indices taken from every sample) and their indices."""
    k = max(1, math.ceil(keep * batch.num_gaussians))
    idx = batch.opacities[0].topk(k).indices
    return batch.gather(idx.expand(len(batch), -1)), idx


def _weighted_median(x: Tensor, w: Tensor) -> Tensor:
    """Coordinate-wise weighted median ``[3]`` of points ``x [M, 3]`` with weights ``w [M]`` (summing to 1)."""
    order = x.argsort(0)  # [M, 3]
    cum = w[order].cumsum(0)
    at = (cum < 0.5).sum(0).clamp(max=len(x) - 1)  # first position where half the weight is reached
    return x.gather(0, order)[at, torch.arange(3)]


def centre_errors(batch: GaussianBatch, idx: Tensor, sources: tuple[Tensor, ...], frame_of: Tensor, video, movers,
                  tau: float, statistic: str = "mean") -> list[float]:
    """Per visible mover: centre error (m) of the decoded Gaussians ``batch`` (indices ``idx`` into ``sources``).

    ``frame_of`` maps a source frame index to the frame of ``video`` it shows (the per-time baseline
    holds one frame still). ``statistic``: ``"mean"`` (opacity-weighted centroids) or ``"median"``
    (opacity-weighted coordinate-wise medians).
    """
    if statistic not in ("mean", "median"):
        raise ValueError(f"statistic: expected 'mean' or 'median', got {statistic!r}")
    view, frame, px, py = (x[idx.cpu()] for x in sources)
    frame = frame_of[frame]
    labels = video.labels.cpu()
    h, w = labels.shape[2:]
    row = py.floor().long().clamp(0, h - 1)
    col = px.floor().long().clamp(0, w - 1)
    lab = labels[view, frame, row, col]
    depth = video.depth.cpu()[view, frame, row, col, 0].double()
    times = video.times.cpu().double()
    means = batch.means[0].detach().cpu().double()
    weights = batch.opacities[0].detach().cpu().double()
    out = []
    for m, mover in enumerate(movers):
        sel = (lab == m + 1) & (depth > 0)
        if int(sel.sum()) < MIN_GAUSSIANS:
            continue
        pts = pixel_points(px[sel].double(), py[sel].double(), depth[sel], video.Ks.cpu()[view[sel], frame[sel]].double(),
                           torch.linalg.inv(video.viewmats.cpu()[view[sel], frame[sel]].double()))
        carried = torch.empty_like(pts)
        for f in torch.unique(frame[sel]).tolist():  # from the time each pixel shows to the target time
            rel = torch.from_numpy(mover.pose(tau) @ np.linalg.inv(mover.pose(float(times[f]))))
            on = frame[sel] == f
            carried[on] = pts[on] @ rel[:3, :3].T + rel[:3, 3]
        wsel = weights[sel] / weights[sel].sum()
        if statistic == "mean":
            out.append(float(((means[sel] * wsel[:, None]).sum(0) - (carried * wsel[:, None]).sum(0)).norm()))
        else:
            out.append(float((_weighted_median(means[sel], wsel) - _weighted_median(carried, wsel)).norm()))
    return out


def _metrics(pred: Tensor, target: Tensor, moving: Tensor) -> tuple[float, float, float | None]:
    p = float(psnr(pred, target).mean())
    s = float(ssim(pred, target).mean())
    n = float(moving.sum())
    if n < 1:
        return p, s, None
    mse = float(((pred - target).pow(2) * moving[..., None]).sum()) / (3 * n)
    return p, s, -10 * math.log10(max(mse, 1e-12))


def evaluate_dynamic(
    checkpoint: str | Path,
    config_path: str | Path,
    *,
    baseline: str | Path = "default",
    scenes: int | None = None,
    device: str = "cpu",
    budget_s: float | None = None,
    log=print,
) -> list[DynamicEvalRow]:
    """Evaluate a time-conditioned ``checkpoint`` and the static ``baseline`` on held-out dynamic scenes.

    ``budget_s``: start no new scene after this many seconds (the rows so far are returned), so a
    time-boxed run still ends with a table.
    """
    start = time.perf_counter()
    dev = torch.device(device)
    config = DistillConfig.load(config_path)
    if not config.dynamic:
        raise ValueError(f"{config_path}: not a dynamic distillation config (world.name must be 'procedural_dynamic')")
    model, _ = load_decoder(checkpoint, device=dev)
    if model.config != config.decoder:
        raise ValueError(f"{checkpoint}: decoder config differs from {config_path}'s: {model.config.diff(config.decoder)}")
    static, _ = load_decoder(resolve_checkpoint(baseline), device=dev)
    if static.config != model.config.without_additions():
        raise ValueError(f"{baseline}: the baseline must be the static version of the decoder (it reads the same "
                         f"latents); differs in {sorted(static.config.diff(model.config.without_additions()))}")
    data = replace(config.data, cache_dir=None, between=1.0)  # every target time between two input frames
    config = replace(config, data=data)
    source = TeacherSource(config)
    world = teacher_world(config.world, dev, between=1.0)
    codec = make_codec(config.codec, device=dev)
    seeds = data.eval_seeds()[: scenes if scenes is not None else None]
    loader = torch.utils.data.DataLoader(source, batch_size=None, sampler=seeds, num_workers=data.num_workers,
                                         collate_fn=collate_list, prefetch_factor=2 if data.num_workers else None)
    rows: list[DynamicEvalRow] = []
    for seed, staged in loader:
        if budget_s is not None and time.perf_counter() - start > budget_s:
            log(f"  time budget of {budget_s:.0f} s spent: stopping after {len({r.seed for r in rows})} scenes")
            break
        video = world.shoot(staged)
        surfaces = replace(video, depth=mover_depths(staged, video))
        v, t, h, w, _ = video.frames.shape
        hold = video.holdout
        with torch.no_grad():
            latents = codec.encode(video.frames.reshape(v, t, h, w, 3))
            tl = latents.shape[2]
            teacher_hold = codec.decode(codec.encode(hold.frames[:, None]))[:, 0]
            sources = source_pixels(model, tl, latents.shape[3], latents.shape[4], v)
            frame_t, _ = normalize_times(video.times[None].double(), video.times[:1][None].double())
            for tau in torch.unique(hold.times.cpu()).tolist():
                views = torch.nonzero((hold.times - tau).abs() < 1e-9).flatten()
                cams = Cameras(hold.viewmats[views].float(), hold.Ks[views].float(), w, h)
                moving = hold.labels[views].gt(0).float()
                _, target_t = normalize_times(video.times[None].double(), torch.tensor([tau], dtype=torch.float64,
                                                                                        device=dev))
                nearest = int((video.times - tau).abs().argmin())
                still = torch.full((t,), nearest, dtype=torch.long)
                timed = (frame_t.float(), target_t.float())
                runs = {
                    "dynamic": (model, latents, video.viewmats, video.Ks, timed, torch.arange(t)),
                    "static per time": (static, codec.encode(video.frames[:, still]), video.viewmats[:, still],
                                        video.Ks[:, still], (), still),
                    "static all frames": (static, latents, video.viewmats, video.Ks, (), torch.arange(t)),
                }
                if model.config.depth_input:
                    runs[WITH_DEPTH] = (model, latents, video.viewmats, video.Ks, (*timed, video.depth[None, ..., 0]),
                                        torch.arange(t))
                for method, (net, lat, vm, ks, time_args, frame_of) in runs.items():
                    _sync(dev)
                    t0 = time.perf_counter()
                    batch = net(lat[None], vm[None].float(), ks[None].float(), *time_args)
                    kept, idx = _pruned(batch, net.config.keep_ratio)
                    _sync(dev)
                    seconds = time.perf_counter() - t0
                    pred = render(kept.scene(0), cams, "RGB").rgb.clamp(0, 1)
                    p, s, pm = _metrics(pred, teacher_hold[views], moving)
                    errs = centre_errors(kept, idx, sources, frame_of, surfaces, staged.movers, tau)
                    med = centre_errors(kept, idx, sources, frame_of, surfaces, staged.movers, tau, "median")
                    rows.append(DynamicEvalRow(seed, data.condition(seed), method, tau, p, s, pm,
                                               100 * float(np.mean(errs)) if errs else None,
                                               100 * float(np.mean(med)) if med else None, seconds,
                                               *depth_ratios(kept, idx, sources, frame_of, video)))
        mine = [r for r in rows if r.seed == seed]
        methods = list(dict.fromkeys(r.method for r in mine))
        summary = ", ".join(f"{m} {np.mean([r.psnr for r in mine if r.method == m]):.2f} dB" for m in methods)
        log(f"  seed {seed} ({data.condition(seed)}): novel-view PSNR at {len(mine) // len(methods)} target times: {summary}")
    return rows


def _mean(xs: list) -> str:
    xs = [x for x in xs if x is not None]
    return f"{np.mean(xs):.2f}" if xs else ""


def format_dynamic_table(rows: Sequence[DynamicEvalRow], device: str) -> str:
    """Markdown: per prompt and in all, each method's mean metrics over target times."""
    head = ["prompt", "method", "scenes", "target times", "novel PSNR (dB)", "novel SSIM", "moving PSNR (dB)",
            "centre error (cm)", "centre error, medians (cm)", "depth ratio, static", "depth error, static (%)",
            "depth ratio, movers", f"decode s / target ({device})"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    prompts = list(dict.fromkeys(r.condition for r in rows)) + ["all"]
    methods = [m for m in (METHODS[0], WITH_DEPTH, *METHODS[1:]) if any(r.method == m for r in rows)]
    for prompt in prompts:
        for method in methods:
            rs = [r for r in rows if r.method == method and (prompt == "all" or r.condition == prompt)]
            if not rs:
                continue
            lines.append("| " + " | ".join([
                f"**{prompt}**" if prompt == "all" else prompt, method, str(len({r.seed for r in rs})), str(len(rs)),
                _mean([r.psnr for r in rs]), f"{np.mean([r.ssim for r in rs]):.3f}", _mean([r.psnr_moving for r in rs]),
                _mean([r.centre_cm for r in rs]), _mean([r.centre_median_cm for r in rs]),
                _mean([r.depth_ratio for r in rs]),
                _mean([None if r.depth_error is None else 100 * r.depth_error for r in rs]),
                _mean([r.depth_ratio_moving for r in rs]), f"{np.mean([r.decode_s for r in rs]):.4f}"]) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lyra_sim.training.dynamic_evaluation", description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True, help="time-conditioned decoder .safetensors")
    p.add_argument("--config", required=True, help="the dynamic distillation config (held-out seeds, prompts, video)")
    p.add_argument("--baseline", default="default", help="static decoder for the baselines (default: the shipped one)")
    p.add_argument("--scenes", type=int, help="evaluate only the first N held-out scenes")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--json", help="also write the rows to this JSON file")
    p.add_argument("--budget", type=float, help="seconds after which no new scene is started")
    args = p.parse_args(argv)
    rows = evaluate_dynamic(args.checkpoint, args.config, baseline=args.baseline, scenes=args.scenes, device=args.device,
                            budget_s=args.budget, log=lambda s: print(s, flush=True))
    print(format_dynamic_table(rows, args.device))
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in rows], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
