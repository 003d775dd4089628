"""Decoder forward time (latents + cameras → pruned Gaussians) per preset, on the CPU or a GPU.

Usage: ``python benchmarks/decoder_speed.py [--device cpu|cuda] [--presets small lyra] [--repeats 3]``

Inputs are random latents of the shape each preset reads from Lyra's six trajectories at the
video size given per preset below; weights are random (speed does not depend on them). Prints one
table row per preset: parameters, tokens, Gaussians before/after pruning, seconds per scene.
"""

from __future__ import annotations

import argparse
import time

import torch

from lyra_sim.cameras import look_at_cameras
from lyra_sim.decoder import PRESETS, LyraDecoder, count_parameters

VIDEO = {  # preset → (frames per trajectory, height, width)
    "tiny": (3, 32, 32),
    "small": (9, 192, 256),
    "lyra": (17, 176, 320),  # Lyra's smallest training resolution, 17 frames
}


def bench(name: str, device: str, repeats: int) -> dict:
    cfg = PRESETS[name]
    frames, height, width = VIDEO[name]
    t = cfg.temporal_compression
    tl = 1 + (frames - 1) // t
    h, w = height // cfg.spatial_compression, width // cfg.spatial_compression
    model = LyraDecoder(cfg, seed=0).to(device).eval()
    g = torch.Generator().manual_seed(0)
    latents = torch.randn(1, 6, cfg.latent_channels, tl, h, w, generator=g).to(device)
    eyes = torch.randn(6 * frames, 3, generator=g)
    cams = look_at_cameras(eyes, eyes + torch.tensor([1.0, 0.0, 0.0]), width, height)
    viewmats = cams.viewmats.reshape(1, 6, frames, 4, 4).to(device)
    ks = cams.Ks.reshape(1, 6, frames, 3, 3).to(device)
    best = float("inf")
    with torch.no_grad(), torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16, enabled=device.startswith("cuda")):
        for _ in range(repeats + 1):  # first call warms up
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            out = model(latents, viewmats, ks)
            kept = out.prune(cfg.keep_ratio)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            best = min(best, time.perf_counter() - t0)
    tokens = 6 * tl * (h // cfg.patch_size) * (w // cfg.patch_size)
    return {"preset": name, "params": count_parameters(model), "video": f"6x{frames}x{height}x{width}", "tokens": tokens,
            "gaussians": out.num_gaussians, "kept": kept.num_gaussians, "seconds": best}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--presets", nargs="+", default=["tiny", "small"], choices=sorted(PRESETS))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, help="torch CPU threads")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"| preset | parameters | video (views x frames x H x W) | tokens | Gaussians | kept | s/scene ({args.device}) |")
    print("|---|---|---|---|---|---|---|")
    for name in args.presets:
        r = bench(name, args.device, args.repeats)
        print(f"| {r['preset']} | {r['params']:,} | {r['video']} | {r['tokens']:,} | {r['gaussians']:,} | {r['kept']:,} | {r['seconds']:.3f} |")


if __name__ == "__main__":
    main()
