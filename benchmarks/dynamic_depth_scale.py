"""Depth scale of a time-conditioned decoder on held-out dynamic scenes, and how much of the centre error it explains.

Usage: ``python benchmarks/dynamic_depth_scale.py [--checkpoint default] [--config configs/distill_dynamic_small.json]
[--scenes 3] [--targets 2] [--json rows.json]``

Per held-out scene (the config's eval seeds and prompts) and target time (between input frames):

- ratio decoded / true depth of the kept Gaussians, per source trajectory view, on static pixels and on
  mover pixels (camera z of each Gaussian in its source camera vs the world's depth at its source pixel, a
  mover's own depth on its pixels;
  a mover's Gaussians at a target time should have moved, so theirs compares positions at the source time);
- ratio of the rendered expected depth of the decoded scene to the world's depth in the held-out views at the
  target time (static pixels / mover pixels, where the render's alpha is over 0.5);
- the slope of ``log decoded`` on ``log true`` depth over static Gaussians (1: one scale; < 1: depths pulled
  towards a typical depth);
- the moving-object centre error (`lyra_sim.training.dynamic_evaluation.centre_errors`) as evaluated (against each
  mover's own surface depth, `mover_depths`; also against the frame's expected depth, the reference before), and
  after oracle corrections: (a) each Gaussian's distance along its source ray divided by its view's median static
  ratio; (b) every mover Gaussian put at its pixel's true depth along its own ray; (c) (b) on interior
  pixels only (no label boundary among the 4 neighbours); and (d) the error of the true surface points at the
  source time, not carried to the target time: what a decoder that reconstructs perfectly but never moves a
  mover would score.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from lyra_sim.cameras import Cameras, pixel_points
from lyra_sim.decoder import load_decoder, resolve_checkpoint
from lyra_sim.decoder.codecs import make_codec
from lyra_sim.decoder.model import GaussianBatch, normalize_times
from lyra_sim.render import render
from lyra_sim.training.config import DistillConfig
from lyra_sim.training.dynamic_evaluation import _pruned, centre_errors, mover_depths, source_pixels
from lyra_sim.training.teacher_cache import TeacherSource, teacher_world


def _camera_z(means: Tensor, viewmats: Tensor) -> Tensor:
    """Camera-space z ``[N]`` of points ``[N, 3]`` in cameras ``[N, 4, 4]``."""
    return (viewmats[:, 2, :3].double() * means.double()).sum(-1) + viewmats[:, 2, 3].double()


def _with_means(batch: GaussianBatch, means: Tensor) -> GaussianBatch:
    return replace(batch, means=means[None].float())


def _subset(batch: GaussianBatch, idx: Tensor, keep: Tensor) -> tuple[GaussianBatch, Tensor]:
    return GaussianBatch(*(x[:, keep] for x in (batch.means, batch.quats, batch.scales, batch.opacities,
                                                 batch.rgb))), idx[keep]


def _edges(labels: Tensor) -> Tensor:
    """``[..., H, W]`` bool: pixels whose label differs from one of their 4 neighbours."""
    c = labels.float()
    pad = torch.nn.functional.pad(c.reshape(-1, 1, *c.shape[-2:]), (1, 1, 1, 1), mode="replicate").reshape(
        *c.shape[:-2], c.shape[-2] + 2, c.shape[-1] + 2)
    return ((pad[..., :-2, 1:-1] != c) | (pad[..., 2:, 1:-1] != c) | (pad[..., 1:-1, :-2] != c)
            | (pad[..., 1:-1, 2:] != c))


def _median(x: Tensor) -> float | None:
    return float(x.median()) if x.numel() else None


def _slope(pred: Tensor, true: Tensor) -> float | None:
    """Least-squares slope of ``log pred`` on ``log true``."""
    if pred.numel() < 10:
        return None
    x, y = true.log(), pred.log()
    x = x - x.mean()
    return float((x * (y - y.mean())).sum() / (x * x).sum().clamp_min(1e-12))


def _cm(errs: list[float]) -> float | None:
    return 100 * float(np.mean(errs)) if errs else None


def analyse_scene(seed: int, staged, model, codec, world, targets: int) -> list[dict]:
    video = world.shoot(staged)
    v, t, h, w, _ = video.frames.shape
    hold = video.holdout
    latents = codec.encode(video.frames)
    sources = source_pixels(model, latents.shape[2], latents.shape[3], latents.shape[4], v)
    frame_t, _ = normalize_times(video.times[None].double(), video.times[:1][None].double())
    surfaces = replace(video, depth=mover_depths(staged, video))
    labels, depth = video.labels.cpu(), surfaces.depth.cpu()[..., 0].double()
    edge = _edges(labels)
    rows = []
    for tau in torch.unique(hold.times.cpu()).tolist()[:targets]:
        _, target_t = normalize_times(video.times[None].double(), torch.tensor([tau], dtype=torch.float64))
        with torch.no_grad():
            batch = model(latents[None], video.viewmats[None].float(), video.Ks[None].float(), frame_t.float(),
                          target_t.float())
        kept, idx = _pruned(batch, model.config.keep_ratio)
        view, frame, px, py = (x[idx] for x in sources)
        row, col = py.floor().long().clamp(0, h - 1), px.floor().long().clamp(0, w - 1)
        lab, gt = labels[view, frame, row, col], depth[view, frame, row, col]
        vm, ks = video.viewmats.cpu()[view, frame], video.Ks.cpu()[view, frame]
        means = kept.means[0].double()
        z = _camera_z(means, vm)
        ok = (gt > 0) & (z > 0)
        ratio = torch.where(ok, z / gt.clamp_min(1e-6), torch.nan)
        static, moving = ok & (lab == 0), ok & (lab > 0)

        # (a) per-view oracle scale: distance along the source ray / the view's median static ratio
        origin = torch.linalg.inv(vm.double())[:, :3, 3]
        per_view = torch.ones(v, dtype=torch.float64)
        for i in range(v):
            r = ratio[static & (view == i)]
            if r.numel():
                per_view[i] = r.median()
        scaled = origin + (means - origin) / per_view[view][:, None]
        # (b) mover Gaussians at their pixel's true depth along their own rays (rays through their decoded means)
        truth = pixel_points(px.double(), py.double(), gt.clamp_min(1e-6).double(), ks.double(), torch.linalg.inv(vm.double()))
        direction = torch.nn.functional.normalize(means - origin, dim=-1)
        at_true = origin + direction * (truth - origin).norm(dim=-1, keepdim=True)
        placed = torch.where(moving[:, None], at_true, means)
        interior = ~edge[view, frame, row, col]

        def errs(b: GaussianBatch, i: Tensor, statistic: str = "mean", tau: float = tau, ref=surfaces) -> float | None:
            return _cm(centre_errors(b, i, sources, torch.arange(t), ref, staged.movers, tau, statistic))

        hv = torch.nonzero((hold.times - tau).abs() < 1e-9).flatten()
        cams = Cameras(hold.viewmats[hv].float(), hold.Ks[hv].float(), w, h)
        with torch.no_grad():
            out = render(kept.scene(0), cams, "RGB+ED")
        ed, ed_gt, hl = out.depth[..., 0].double(), hold.depth[hv][..., 0].double(), hold.labels[hv]
        good = (ed_gt > 0) & (out.alpha[..., 0] > 0.5) & (ed > 0)
        ed_ratio = ed / ed_gt.clamp_min(1e-6)
        rows.append({
            "seed": seed, "target": tau, "movers": len(staged.movers),
            "ratio_static_per_view": [_median(ratio[static & (view == i)]) for i in range(v)],
            "ratio_moving_per_view": [_median(ratio[moving & (view == i)]) for i in range(v)],
            "ratio_static": _median(ratio[static]), "ratio_moving": _median(ratio[moving]),
            "ratio_moving_interior": _median(ratio[moving & interior]),
            "ratio_moving_edge": _median(ratio[moving & ~interior]),
            "slope_static": _slope(z[static], gt[static]),
            "moving_gaussians": int(moving.sum()), "moving_edge_share": float((moving & ~interior).sum() / moving.sum().clamp_min(1)),
            "rendered_ratio_static": _median(ed_ratio[good & (hl == 0)]),
            "rendered_ratio_moving": _median(ed_ratio[good & (hl > 0)]),
            "centre_cm": errs(kept, idx), "centre_median_cm": errs(kept, idx, "median"),
            "centre_old_reference_cm": errs(kept, idx, ref=video),
            "centre_oracle_scale_cm": errs(_with_means(kept, scaled), idx),
            "centre_oracle_scale_median_cm": errs(_with_means(kept, scaled), idx, "median"),
            "centre_oracle_mover_depth_cm": errs(_with_means(kept, placed), idx),
            "centre_oracle_mover_depth_interior_cm": errs(*_subset(_with_means(kept, placed), idx, interior)),
            "centre_unmoved_truth_cm": errs(_with_means(kept, truth), idx),
        })
    return rows


def _fmt(x) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    return f"{x:.2f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", default="default")
    p.add_argument("--config", default="configs/distill_dynamic_small.json")
    p.add_argument("--scenes", type=int, default=3)
    p.add_argument("--first", type=int, default=0, help="index of the first held-out scene")
    p.add_argument("--targets", type=int, default=2, help="target times per scene")
    p.add_argument("--json")
    args = p.parse_args()
    torch.set_grad_enabled(False)
    config = DistillConfig.load(args.config)
    config = replace(config, data=replace(config.data, cache_dir=None, between=1.0, num_workers=0))
    model, _ = load_decoder(resolve_checkpoint(args.checkpoint, dynamic=True))
    codec, world, source = make_codec(config.codec), teacher_world(config.world, "cpu", between=1.0), TeacherSource(config)
    rows = []
    for seed in config.data.eval_seeds()[args.first: args.first + args.scenes]:
        _, staged = source[seed]
        rows += analyse_scene(seed, staged, model, codec, world, args.targets)
        for r in rows[-args.targets:]:
            print(json.dumps({k: (round(x, 3) if isinstance(x, float) else x) for k, x in r.items()}), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    cols = ["ratio_static", "ratio_moving", "ratio_moving_interior", "ratio_moving_edge", "slope_static",
            "rendered_ratio_static", "rendered_ratio_moving", "moving_edge_share", "centre_cm", "centre_median_cm", "centre_old_reference_cm",
            "centre_oracle_scale_cm", "centre_oracle_scale_median_cm", "centre_oracle_mover_depth_cm",
            "centre_oracle_mover_depth_interior_cm", "centre_unmoved_truth_cm"]
    print("\n| scene | prompt | target (s) | " + " | ".join(cols) + " |\n|" + "---|" * (len(cols) + 3))
    for r in rows:
        print(f"| {r['seed']} | {config.data.condition(r['seed'])} | {r['target']:.3f} | "
              + " | ".join(_fmt(r[c]) for c in cols) + " |")
    mean = {c: [r[c] for r in rows if r[c] is not None] for c in cols}
    print("| **mean** | | | " + " | ".join(_fmt(float(np.mean(x))) if x else "" for x in mean.values()) + " |")
    print("\nper-view static ratio (rows: scene/target; columns: trajectory views)")
    for r in rows:
        print(f"{r['seed']} {r['target']:.3f}: " + " ".join(_fmt(x) for x in r["ratio_static_per_view"])
              + "  | moving: " + " ".join(_fmt(x) or "-" for x in r["ratio_moving_per_view"]))


if __name__ == "__main__":
    main()
