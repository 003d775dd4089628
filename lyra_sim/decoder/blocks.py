"""Backbone blocks: pre-norm self-attention (with MLP) and pre-norm bidirectional Mamba2."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from .ssm import BiMamba2, RMSNorm


class AttentionBlock(nn.Module):
    """``x + attn(LN(x))``, then ``x + MLP(LN(x))``; global attention over all tokens ``[B, L, D]``."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: Tensor) -> Tensor:
        b, length, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(b, length, 3, self.num_heads, d // self.num_heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v)  # [B, heads, L, d / heads]; flash/memory-efficient on CUDA
        x = x + self.proj(y.transpose(1, 2).reshape(b, length, d))
        return x + self.mlp(self.norm2(x))


class MambaBlock(nn.Module):
    """``x + BiMamba2(RMSNorm(x))`` on ``[B, L, D]`` (Mamba2 blocks have no separate MLP)."""

    def __init__(self, dim: int, d_state: int, expand: int, head_dim: int, d_conv: int) -> None:
        super().__init__()
        self.norm = RMSNorm(dim)
        self.mixer = BiMamba2(dim, d_state, expand, head_dim, d_conv)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.mixer(self.norm(x))
