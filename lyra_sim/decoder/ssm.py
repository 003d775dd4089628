"""Mamba2 in pure PyTorch: the chunked state-space-duality (SSD) scan and a bidirectional mixer.

Mamba2 (Dao & Gu, arXiv 2405.21060) with a scalar decay per head:

    h_t = exp(a_t) h_{t-1} + x_t b_tᵀ        (h_t: [P, N] per head)
    y_t = h_t c_t

`ssd_scan` evaluates it in chunks of ``chunk`` steps: inside a chunk as a masked
(attention-like) matrix product, across chunks as a short recurrence over chunk states. Cost
is ``O(L · chunk)``, memory ``O(L · chunk)`` per head; no custom kernels, so it runs on the CPU
and on CUDA alike (slower than the fused Triton kernels of ``mamba_ssm``, with the same math).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def segsum(x: Tensor) -> Tensor:
    """``[..., T]`` → ``[..., T, T]`` with ``out[i, j] = x_{j+1} + ... + x_i`` for ``i >= j``, ``-inf`` above the diagonal."""
    t = x.shape[-1]
    xx = x[..., None].expand(*x.shape, t)  # [..., k, j] = x_k
    strictly_lower = torch.tril(torch.ones(t, t, dtype=torch.bool, device=x.device), -1)
    sums = xx.masked_fill(~strictly_lower, 0).cumsum(-2)
    lower = torch.tril(torch.ones(t, t, dtype=torch.bool, device=x.device))
    return sums.masked_fill(~lower, -math.inf)


def ssd_scan(x: Tensor, a: Tensor, b: Tensor, c: Tensor, chunk: int = 64) -> Tensor:
    """Run the Mamba2 recurrence from a zero state, chunk by chunk.

    Args:
        x: ``[B, L, H, P]`` inputs (already multiplied by the step size dt).
        a: ``[B, L, H]`` log-decays ``dt · A`` (<= 0).
        b, c: ``[B, L, N]`` input and output projections, shared by all heads.
        chunk: chunk length; any value gives the same result.

    Returns:
        ``[B, L, H, P]``.
    """
    bsz, length, heads, p = x.shape
    chunk = max(1, min(chunk, length))
    pad = (-length) % chunk
    if pad:  # zero inputs and zero log-decay at the end change no earlier output
        x = F.pad(x, (0, 0, 0, 0, 0, pad))
        a = F.pad(a, (0, 0, 0, pad))
        b = F.pad(b, (0, 0, 0, pad))
        c = F.pad(c, (0, 0, 0, pad))
    nc = (length + pad) // chunk
    n = b.shape[-1]
    x = x.reshape(bsz, nc, chunk, heads, p)
    b = b.reshape(bsz, nc, chunk, n)
    c = c.reshape(bsz, nc, chunk, n)
    a = a.reshape(bsz, nc, chunk, heads).permute(0, 3, 1, 2)  # [B, H, nc, chunk]
    a_cum = a.cumsum(-1)

    # Within each chunk: y_l = Σ_{s<=l} exp(a_{s+1} + ... + a_l) (c_l · b_s) x_s
    decay = torch.exp(segsum(a))  # [B, H, nc, l, s]
    scores = torch.einsum("bzln,bzsn->bzls", c, b)
    y = torch.einsum("bzls,bhzls,bzshp->bzlhp", scores, decay, x)

    # State at the end of each chunk, from that chunk's inputs alone.
    to_end = torch.exp(a_cum[..., -1:] - a_cum)  # [B, H, nc, chunk]
    states = torch.einsum("bzln,bhzl,bzlhp->bzhpn", b, to_end, x)
    # Carry states across chunks: the state entering chunk z sums earlier chunks' states, decayed.
    states = torch.cat([torch.zeros_like(states[:, :1]), states], 1)  # [B, nc + 1, H, P, N]
    chunk_decay = torch.exp(segsum(F.pad(a_cum[..., -1], (1, 0))))  # [B, H, nc + 1, nc + 1]
    entering = torch.einsum("bhzc,bchpn->bzhpn", chunk_decay, states)[:, :-1]
    # Contribution of the entering state to each step of the chunk.
    y = y + torch.einsum("bzln,bzhpn,bhzl->bzlhp", c, entering, torch.exp(a_cum))
    return y.reshape(bsz, nc * chunk, heads, p)[:, :length]


class RMSNorm(nn.Module):
    """Root-mean-square norm with a learned gain ``[dim]``."""

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class _Direction(nn.Module):
    """One scan direction's own parameters: causal depthwise conv, decay A, skip D, dt bias."""

    def __init__(self, conv_channels: int, heads: int, kernel: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(conv_channels, conv_channels, kernel, groups=conv_channels, padding=kernel - 1)
        # Mamba2's initialization, made deterministic: A spread over [1, 16], dt over
        # [1e-3, 1e-1] (log-spaced across heads instead of random).
        self.A_log = nn.Parameter(torch.log(torch.linspace(1.0, 16.0, heads)))
        dt = torch.exp(torch.linspace(math.log(1e-3), math.log(1e-1), heads))
        self.dt_bias = nn.Parameter(dt + torch.log(-torch.expm1(-dt)))  # softplus⁻¹(dt)
        self.D = nn.Parameter(torch.ones(heads))


class BiMamba2(nn.Module):
    """Bidirectional Mamba2 mixer: one input/output projection, a forward and a backward scan.

    ``[B, L, D] → [B, L, D]``. The two scans have their own convolution, decay, skip and step
    parameters; their outputs are summed, gated by ``silu(z)`` and RMS-normalized, then projected.

    Args:
        dim: model width D.
        d_state: state size N.
        expand: inner width ``E = expand · D``.
        head_dim: P; ``E / P`` heads.
        d_conv: causal convolution kernel.
        chunk: scan chunk length (speed/memory trade-off only).
    """

    def __init__(self, dim: int, d_state: int, expand: int, head_dim: int, d_conv: int, chunk: int = 64) -> None:
        super().__init__()
        self.inner = expand * dim
        self.heads = self.inner // head_dim
        self.head_dim = head_dim
        self.d_state = d_state
        self.chunk = chunk
        conv_channels = self.inner + 2 * d_state
        self.in_proj = nn.Linear(dim, self.inner + conv_channels + self.heads, bias=False)
        self.fwd = _Direction(conv_channels, self.heads, d_conv)
        self.bwd = _Direction(conv_channels, self.heads, d_conv)
        self.norm = RMSNorm(self.inner)
        self.out_proj = nn.Linear(self.inner, dim, bias=False)

    def _scan(self, p: _Direction, xbc: Tensor, dt: Tensor) -> Tensor:
        length = xbc.shape[1]
        xbc = F.silu(p.conv(xbc.transpose(1, 2))[..., :length].transpose(1, 2))
        xs, b, c = torch.split(xbc, [self.inner, self.d_state, self.d_state], -1)
        dt = F.softplus(dt + p.dt_bias)  # [B, L, H]
        a = -torch.exp(p.A_log)
        xs = xs.reshape(*xs.shape[:2], self.heads, self.head_dim)
        y = ssd_scan(xs * dt[..., None], dt * a, b, c, self.chunk)
        return (y + xs * p.D[:, None]).reshape(*xs.shape[:2], self.inner)

    def forward(self, x: Tensor) -> Tensor:
        z, xbc, dt = torch.split(self.in_proj(x), [self.inner, self.inner + 2 * self.d_state, self.heads], -1)
        # The scan multiplies long chains of decays: bf16 would lose them, so it runs in float32.
        with torch.autocast(device_type=x.device.type, enabled=False):
            xbc, dt = xbc.float(), dt.float()
            y = self._scan(self.fwd, xbc, dt) + self._scan(self.bwd, xbc.flip(1), dt.flip(1)).flip(1)
            y = self.norm(y * F.silu(z.float()))
        return self.out_proj(y)
