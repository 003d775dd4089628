"""Inputs of a small time-conditioned decoder call, shared by the decoder's addition tests."""

import torch

from lyra_sim.decoder.model import normalize_times


def dynamic_inputs(c, b=1, v=2, tl=3, h=4, w=4, seed=0, slide=0.0):
    """Random latents ``[b, v, C, tl, h, w]`` of config ``c``, cameras 2 m back from the origin (sliding ``slide``
    meters along x over the frames), pinhole intrinsics with the focal length the frame's width, and the frames'
    times (1/8 s apart) scaled to [0, 1]: ``(latents, viewmats, Ks, times)``."""
    g = torch.Generator().manual_seed(seed)
    t = 1 + c.temporal_compression * (tl - 1)
    lat = torch.randn(b, v, c.latent_channels, tl, h, w, generator=g)
    vm = torch.eye(4).expand(b, v, t, 4, 4).clone()
    vm[..., 0, 3] = torch.linspace(0, slide, t)
    vm[..., 2, 3] = 2.0
    s = c.spatial_compression
    ks = torch.tensor([[float(s * w), 0, s * w / 2], [0, float(s * w), s * h / 2], [0, 0, 1]]).expand(b, v, t, 3, 3)
    times, _ = normalize_times(torch.arange(t, dtype=torch.float64)[None].expand(b, t) / 8, torch.zeros(b))
    return lat, vm, ks, times.float()
