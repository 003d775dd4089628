"""`LyraDecoder`: multi-view video latents + cameras → pixel-aligned 3D Gaussians in one pass.

The architecture of Lyra (arXiv 2509.19296, after Long-LRM):

1. video tokens: a patch embedding (``patch_size`` spatial, 1 temporal) of the latents;
2. camera tokens: per-pixel Plücker rays ``(o × d, d)`` of every frame, folded to latent
   resolution exactly like the frames (``t`` frames, ``r x r`` rays per latent pixel), then a
   *zero-initialized* patch embedding added to the video tokens, so at initialization the
   cameras change nothing and training grows the conditioning from zero;
3. all views' tokens in one sequence through attention and bidirectional Mamba2 blocks;
4. a transposed 3D convolution back to a grid of Gaussians aligned with frame pixels, each
   placed along its pixel's ray at a predicted depth.

Time conditioning (``config.time_embedding``, Lyra's dynamic decoder): every frame's time and one
target time, scaled to [0, 1] over the input video, are embedded per pixel as ``(t, cos πt, sin πt)``,
folded like the rays and patch-embedded by two *zero-initialized* layers (input times, target
time) added to the tokens; the output is the scene at the target time. With ``config.offsets`` a
zero-initialized head also moves each Gaussian off its ray (``offsets · tanh``), so a moving
object's Gaussians can reach where it is at a target time between frames. All of these start at
zero, so a dynamic decoder initialized from a static checkpoint (`lyra_sim.decoder.checkpoint.
load_initial_weights`) decodes exactly as the static one did, at any target time.

Detail head (``config.detail_width``, an addition to Lyra): a few convolutions at latent resolution over the
latents and the tokens' features, added to the head's outputs through a zero-initialized layer (`DetailHead`).

Depth input (``config.depth_input``, an addition to Lyra): the frames' camera depth where the world model has it,
folded like the rays into a zero-initialized patch embedding, and per Gaussian a gate that pulls the head's depth
to the given one (`depth_raw` inverts the depth activation). Pixels of unknown depth (0) decode as without it.

Motion gate (``config.motion_gate``, an addition to Lyra): a head's probability that a Gaussian shows a moving object
(raised to 1 where given depth shows its point moved: `free_space_violations`) scales its opacity by its Gaussian
frame's linear-interpolation weight at the target time (`interpolation_weights`), so a moving object is shown by
the Gaussian frames around the target time only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from ..scene import GaussianScene
from .blocks import AttentionBlock, MambaBlock
from .codecs import latent_frame_groups
from .config import GAUSSIAN_CHANNELS, DecoderConfig
from .free_space import free_space_violations
from .rays import camera_rays, plucker, sample_coords


@dataclass(frozen=True)
class GaussianBatch:
    """Activated Gaussians of B samples with N each, world frame (Z up, meters).

    Attributes:
        means: ``[B, N, 3]``.
        quats: ``[B, N, 4]`` unit quaternions, ``w, x, y, z``.
        scales: ``[B, N, 3]`` standard deviations in meters, in ``(0, scale_cap]``.
        opacities: ``[B, N]`` in (0, 1).
        rgb: ``[B, N, 3]`` colors in [0, 1].
        offsets: ``[B, N, 3]`` the position offsets included in ``means`` (``means - offsets`` lie on the
            pixels' rays), or None for a decoder without offsets.
        motion: ``[B, N]`` the motion head's probability that a Gaussian's pixel shows a moving object, or None
            for a decoder without the gate. ``opacities`` already have the gate applied: this probability, raised
            to 1 where given depth shows the Gaussian's point moved (`free_space.free_space_violations`).
    """

    means: Tensor
    quats: Tensor
    scales: Tensor
    opacities: Tensor
    rgb: Tensor
    offsets: Tensor | None = None
    motion: Tensor | None = None

    def __len__(self) -> int:
        return self.means.shape[0]

    @property
    def num_gaussians(self) -> int:
        """N, Gaussians per sample."""
        return self.means.shape[1]

    def prune(self, keep_ratio: float) -> "GaussianBatch":
        """Keep the ``ceil(keep_ratio · N)`` most opaque Gaussians of each sample (Long-LRM/Lyra pruning)."""
        if not 0 < keep_ratio <= 1:
            raise ValueError(f"keep_ratio: expected a fraction in (0, 1], got {keep_ratio}")
        k = max(1, math.ceil(keep_ratio * self.num_gaussians))
        if k == self.num_gaussians:
            return self
        return self.gather(self.opacities.topk(k, dim=1).indices)

    def gather(self, idx: Tensor) -> "GaussianBatch":
        """The Gaussians ``idx [B, K]`` (int64) of each sample, every field (offsets, motion too) alike."""

        def take(x: Tensor | None) -> Tensor | None:
            if x is None:
                return None
            return x.gather(1, idx.reshape(*idx.shape, *([1] * (x.ndim - 2))).expand(*idx.shape, *x.shape[2:]))

        return GaussianBatch(take(self.means), take(self.quats), take(self.scales), take(self.opacities), take(self.rgb),
                             take(self.offsets), take(self.motion))

    def scene(self, index: int) -> GaussianScene:
        """Sample ``index`` as a degree-0 `GaussianScene` (float32; keeps autograd)."""
        return GaussianScene.from_rgb(
            self.means[index].float(), self.quats[index].float(), self.scales[index].float(),
            self.opacities[index].float(), self.rgb[index].float(),
        )

    def scenes(self) -> list[GaussianScene]:
        return [self.scene(i) for i in range(len(self))]


DEPTH_FEATURES = 2
"""Channels of one depth sample for the tokens: ``(known, near / depth)`` (0, 0 where unknown)."""

DEPTH_GATE_BIAS = 6.0
"""Start of the depth gate's logit: ``sigmoid(6) = 0.9975``, so a new depth input is trusted from the first step
(a zero-initialized gate would take Adam thousands of steps at a fine-tuning learning rate to open)."""

MOTION_GAIN = 10.0
"""The motion gate's logit is this times its head's output: Adam then moves it that much faster at a fine-tuning
learning rate (the head starts at zero and must reach logits of several units within a few hundred steps)."""

MOTION_BIAS = -6.0
"""Start of the motion gate's logit: ``m = sigmoid(-6) = 0.0025``, opacities within 0.25 % of the checkpoint's."""

TIME_FEATURES = 3
"""Channels of one time's embedding: ``(t, cos πt, sin πt)``."""


def time_features(t: Tensor) -> Tensor:
    """``[...]`` times in [0, 1] → ``[..., 3]`` embeddings ``(t, cos πt, sin πt)`` (distinct over [0, 1])."""
    t = t.float()
    return torch.stack([t, torch.cos(math.pi * t), torch.sin(math.pi * t)], -1)


def normalize_times(times: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
    """Seconds → [0, 1] over each sample's input video: ``times [B, T]``, ``targets [B, ...]`` (Lyra's scaling)."""
    t0 = times[:, :1]
    span = (times[:, -1:] - t0).clamp_min(1e-6)
    shape = (-1,) + (1,) * (targets.ndim - 1)
    return (times - t0) / span, (targets - t0.reshape(shape)) / span.reshape(shape)


def interpolation_weights(nodes: Tensor, x: Tensor) -> Tensor:
    """Linear-interpolation ("hat") weights ``[B, G]`` of increasing ``nodes [B, G]`` at ``x [B]``: 1 at a node,
    falling linearly to 0 at its neighbours; they sum to 1. Outside ``[nodes[0], nodes[-1]]`` the nearest end node
    gets 1."""
    x = torch.minimum(torch.maximum(x[:, None], nodes[:, :1]), nodes[:, -1:])
    left = torch.cat([nodes[:, :1], nodes[:, :-1]], 1)
    right = torch.cat([nodes[:, 1:], nodes[:, -1:]], 1)
    up = torch.where(nodes > left, (x - left) / (nodes - left).clamp_min(1e-12), torch.ones_like(nodes))
    down = torch.where(right > nodes, (right - x) / (right - nodes).clamp_min(1e-12), torch.ones_like(nodes))
    return torch.where(x <= nodes, up, down).clamp(0, 1)


def depth_raw(distance: Tensor, config: DecoderConfig) -> Tensor:
    """The raw depth channel that `activate_gaussians` turns into ``distance`` (meters along the unit ray, clamped
    into the activation's open range ``(near, far)``): the inverse of ``near (1 - w) + far w``,
    ``w = sigmoid(x - depth_shift)``."""
    w = ((distance - config.near) / (config.far - config.near)).clamp(1e-6, 1 - 1e-6)
    return torch.logit(w) + config.depth_shift


def activate_gaussians(raw: Tensor, origins: Tensor, directions: Tensor, config: DecoderConfig) -> GaussianBatch:
    """Lyra's activations: raw head outputs ``[B, N, 12]`` + rays ``[B, N, 3]`` → `GaussianBatch`.

    Channels: depth (1), RGB (3), scale (3), quaternion (4), opacity (1).

    - depth along the unit ray: ``near (1 - w) + far w`` with ``w = sigmoid(x - depth_shift)``;
    - RGB: ``0.5 tanh(x) + 0.5``;
    - scale: ``min(exp(x - (1 - ln cap)), cap)``;
    - rotation: the normalized quaternion;
    - opacity: ``sigmoid(x - opacity_shift)``.
    """
    depth_x, rgb_x, scale_x, quat_x, opacity_x = raw.split([1, 3, 3, 4, 1], -1)
    w = torch.sigmoid(depth_x - config.depth_shift)
    depth = config.near * (1 - w) + config.far * w
    cap = config.scale_cap
    return GaussianBatch(
        means=origins + directions * depth,
        quats=F.normalize(quat_x, dim=-1),
        scales=torch.exp(scale_x - (1 - math.log(cap))).clamp_max(cap),
        opacities=torch.sigmoid(opacity_x[..., 0] - config.opacity_shift),
        rgb=0.5 * torch.tanh(rgb_x) + 0.5,
    )


class DetailHead(nn.Module):
    """Features at latent resolution for the detail outputs: ``grid [BV, D, T', h/p, w/p]`` (normed tokens) and
    ``latents [BV, C, T', h, w]`` → ``[BV, detail_width, T', h, w]``.

    Each latent pixel gets its own linear map of its token (a transposed patch embedding) plus a linear map of
    its own latent, then two 3x3 convolutions within each latent frame mix neighbours: an object's edge, which
    the linear head can only place on its token's 16x16 pattern basis, is visible here at latent-pixel
    resolution, and through a lossless codec at pixel resolution.
    """

    def __init__(self, c: DecoderConfig) -> None:
        super().__init__()
        d, p = c.detail_width, c.patch_size
        self.tokens = nn.ConvTranspose3d(c.width, d, (1, p, p), stride=(1, p, p))
        self.latents = nn.Conv3d(c.latent_channels, d, 1)
        self.body = nn.Sequential(
            nn.GELU(), nn.Conv3d(d, d, (1, 3, 3), padding=(0, 1, 1)),
            nn.GELU(), nn.Conv3d(d, d, (1, 3, 3), padding=(0, 1, 1)),
            nn.GELU(),
        )

    def forward(self, grid: Tensor, latents: Tensor) -> Tensor:
        return self.body(self.tokens(grid) + self.latents(latents))


class LyraDecoder(nn.Module):
    """The 3DGS decoder. See the module doc and `DecoderConfig`.

    Args:
        config: the architecture.
        seed: when given, weights are initialized from this seed (the global RNG is left
            untouched); same config + seed → identical weights.

    Attributes:
        gradient_checkpointing: recompute block activations in the backward pass (saves
            memory on long token sequences; off by default).
    """

    def __init__(self, config: DecoderConfig, seed: int | None = None) -> None:
        super().__init__()
        if seed is None:
            self._build(config)
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                self._build(config)
        self.gradient_checkpointing = False

    def _build(self, c: DecoderConfig) -> None:
        self.config = c
        p, t, r, u = c.patch_size, c.temporal_compression, c.plucker_samples, c.gaussian_upsample
        self.patch_embed = nn.Conv3d(c.latent_channels, c.width, (1, p, p), stride=(1, p, p))
        self.plucker_embed = nn.Conv3d(6 * t * r * r, c.width, (1, p, p), stride=(1, p, p))
        blocks: list[nn.Module] = []
        for kind in c.block_types:
            if kind == "attention":
                blocks.append(AttentionBlock(c.width, c.num_heads, c.mlp_ratio))
            else:
                blocks.append(MambaBlock(c.width, c.ssm_state, c.ssm_expand, c.ssm_head_dim, c.ssm_conv))
        self.blocks = nn.ModuleList(blocks)
        self.norm = nn.LayerNorm(c.width, eps=1e-6)
        g = c.gaussian_frames
        self.head = nn.ConvTranspose3d(c.width, GAUSSIAN_CHANNELS, (g, p * u, p * u), stride=(g, p * u, p * u))
        self.rgb_skip = nn.ConvTranspose3d(c.latent_channels, 3, (g, u, u), stride=(g, u, u)) if c.rgb_skip else None
        if c.time_embedding:  # Lyra: input times and the target time, each its own zero-initialized patch embedding
            self.time_embed = nn.Conv3d(TIME_FEATURES * t, c.width, (1, p, p), stride=(1, p, p))
            self.target_embed = nn.Conv3d(TIME_FEATURES * t, c.width, (1, p, p), stride=(1, p, p))
        if c.offsets > 0:
            self.offset_head = nn.ConvTranspose3d(c.width, 3, (g, p * u, p * u), stride=(g, p * u, p * u))
        if c.detail_width:
            self.detail = DetailHead(c)
            self.detail_out = nn.ConvTranspose3d(c.detail_width, GAUSSIAN_CHANNELS, (g, u, u), stride=(g, u, u))
            if c.offsets > 0:
                self.detail_offsets = nn.ConvTranspose3d(c.detail_width, 3, (g, u, u), stride=(g, u, u))
        if c.depth_input:
            self.depth_embed = nn.Conv3d(DEPTH_FEATURES * t * r * r, c.width, (1, p, p), stride=(1, p, p))
            self.depth_gate = nn.ConvTranspose3d(c.width, 1, (g, p * u, p * u), stride=(g, p * u, p * u))
            if c.detail_width:
                self.detail_gate = nn.ConvTranspose3d(c.detail_width, 1, (g, u, u), stride=(g, u, u))
        if c.motion_gate:
            self.motion_head = nn.ConvTranspose3d(c.width, 1, (g, p * u, p * u), stride=(g, p * u, p * u))
            if c.detail_width:
                self.detail_motion = nn.ConvTranspose3d(c.detail_width, 1, (g, u, u), stride=(g, u, u))

        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        # Camera conditioning starts as an exact no-op (Lyra's zero-initialized embedding).
        nn.init.zeros_(self.plucker_embed.weight)
        nn.init.zeros_(self.plucker_embed.bias)
        if self.rgb_skip is not None:  # starts as a no-op, like the camera embedding
            nn.init.zeros_(self.rgb_skip.weight)
            nn.init.zeros_(self.rgb_skip.bias)
        for name in ("time_embed", "target_embed", "offset_head", "detail_out", "detail_offsets", "depth_embed",
                     "depth_gate", "detail_gate", "motion_head", "detail_motion"):  # no-ops too (see the biases)
            if hasattr(self, name):
                nn.init.zeros_(getattr(self, name).weight)
                nn.init.zeros_(getattr(self, name).bias)
        if c.depth_input:  # acts only where depth is given
            nn.init.constant_(self.depth_gate.bias, DEPTH_GATE_BIAS)
        if c.motion_gate:
            nn.init.constant_(self.motion_head.bias, MOTION_BIAS / MOTION_GAIN)
        # Small head weights so the first Gaussians sit near the biases: depth init_depth,
        # identity rotation, scale cap/e, opacity sigmoid(-shift).
        nn.init.normal_(self.head.weight, std=0.02 / math.sqrt(c.width / 64))
        with torch.no_grad():
            bias = torch.zeros(GAUSSIAN_CHANNELS)
            w0 = (c.init_depth - c.near) / (c.far - c.near)
            bias[0] = math.log(w0 / (1 - w0)) + c.depth_shift
            bias[7] = 1.0  # quaternion w
            self.head.bias.copy_(bias)

    # ------------------------------------------------------------------ layout helpers
    def num_frames(self, num_latent: int) -> int:
        """Frames T per view that ``num_latent`` latent frames stand for."""
        return 1 + self.config.temporal_compression * (num_latent - 1)

    def gaussian_times(self, num_latent: int, device: torch.device | str = "cpu") -> tuple[Tensor, Tensor]:
        """Which head output frames are kept, and the video frame each is aligned with.

        The head makes ``gaussian_frames`` (g) Gaussian frames per latent frame; sub-frame ``j``
        of latent ``i`` sits on the frame in slot ``(j + 1) t / g - 1`` of that latent's group.
        Latent 0's slots all hold frame 0, so only its last sub-frame is kept.

        Returns:
            ``(times [Tg], frames [Tg])`` int64: indices into the head's time axis and into
            the video's frames.
        """
        c = self.config
        g, t = c.gaussian_frames, c.temporal_compression
        groups = latent_frame_groups(num_latent, t, device)  # [T', t]
        slots = (torch.arange(g, device=device) + 1) * (t // g) - 1
        frames = groups[:, slots].reshape(-1)
        times = torch.arange(num_latent * g, device=device)
        return times[g - 1 :], frames[g - 1 :]

    def gaussian_pixels(self, num_latent: int, h: int, w: int,
                        device: torch.device | str = "cpu") -> tuple[Tensor, Tensor, Tensor]:
        """Where a view's Gaussians come from, for ``num_latent`` latent frames of ``h x w``.

        Returns:
            ``(frames [Tg], xs [w u], ys [h u])``: the video frame of each kept Gaussian frame
            (`gaussian_times`) and the pixel coordinates of the rays the Gaussians sit on; a view's
            Gaussians (before pruning) are this grid ``[Tg, h u, w u]`` flattened.
        """
        c = self.config
        s, u = c.spatial_compression, c.gaussian_upsample
        _, frames = self.gaussian_times(num_latent, device)
        return frames, sample_coords(w, s, u, device), sample_coords(h, s, u, device)

    def gaussians_per_view(self, num_latent: int, h: int, w: int) -> int:
        """Gaussians per view (before pruning) for ``num_latent`` latent frames of ``h x w``."""
        u = self.config.gaussian_upsample
        return (1 + self.config.gaussian_frames * (num_latent - 1)) * h * u * w * u

    def _check_times(self, b: int, t: int, times: Tensor | None, target: Tensor | None) -> None:
        if not self.config.time_embedding:
            if times is not None or target is not None:
                raise ValueError("times, target: this decoder is static (config.time_embedding is false); pass neither")
            return
        if times is None or target is None:
            raise ValueError("times, target: a time-conditioned decoder needs the frames' times [B, T] and a target "
                             "time [B] (both scaled to [0, 1]: lyra_sim.decoder.model.normalize_times)")
        if tuple(times.shape) != (b, t) or tuple(target.shape) != (b,):
            raise ValueError(f"times, target: expected [{b}, {t}] and [{b}], got {list(times.shape)} and {list(target.shape)}")

    def _check_depth(self, latents: Tensor, depth: Tensor | None) -> None:
        if depth is None:
            return
        if not self.config.depth_input:
            raise ValueError("depth: this decoder reads no depth (config.depth_input is false); pass None")
        b, v, _, tl, h, w = latents.shape
        s = self.config.spatial_compression
        want = (b, v, self.num_frames(tl), h * s, w * s)
        shape = tuple(depth.shape) if isinstance(depth, Tensor) else None
        if shape not in (want, want + (1,)):
            raise ValueError(f"depth: expected {list(want)} (or with a trailing 1) camera depths in meters, 0 where "
                             f"unknown, got {list(shape) if shape else type(depth).__name__}")

    def _check_inputs(self, latents: Tensor, viewmats: Tensor, Ks: Tensor) -> None:
        c = self.config
        if not isinstance(latents, Tensor) or latents.ndim != 6:
            shape = list(latents.shape) if isinstance(latents, Tensor) else type(latents).__name__
            raise ValueError(f"latents: expected [B, V, C, T', h, w], got {shape}")
        b, v, ch, tl, h, w = latents.shape
        if ch != c.latent_channels:
            raise ValueError(
                f"latents: {ch} channels, but the decoder was built for {c.latent_channels} "
                "(a different codec?)"
            )
        if h % c.patch_size or w % c.patch_size:
            raise ValueError(f"latents: spatial size {h}x{w} is not a multiple of the patch size {c.patch_size}")
        t = self.num_frames(tl)
        for name, value, tail in (("viewmats", viewmats, (4, 4)), ("Ks", Ks, (3, 3))):
            if not isinstance(value, Tensor) or tuple(value.shape) != (b, v, t, *tail):
                shape = list(value.shape) if isinstance(value, Tensor) else type(value).__name__
                raise ValueError(
                    f"{name}: expected [{b}, {v}, {t}, {tail[0]}, {tail[1]}] (one camera per frame: {tl} latent "
                    f"frames at temporal compression {c.temporal_compression} are {t} frames), got {shape}"
                )

    # ------------------------------------------------------------------ forward
    def forward(self, latents: Tensor, viewmats: Tensor, Ks: Tensor, times: Tensor | None = None,
                target: Tensor | None = None, depth: Tensor | None = None, moved: Tensor | None = None) -> GaussianBatch:
        """Predict the Gaussians of B multi-view videos (at a target time, for a time-conditioned decoder).

        Args:
            latents: ``[B, V, C, T', h, w]`` codec latents of V views (trajectories).
            viewmats: ``[B, V, T, 4, 4]`` world-to-camera of every frame, ``T = 1 + t (T' - 1)``.
            Ks: ``[B, V, T, 3, 3]`` intrinsics in pixels of the ``h s x w s`` frames.
            times: ``[B, T]`` the frames' times in [0, 1] (frame k of every view shows ``times[:, k]``);
                target: ``[B]`` the time to decode, same scale. Only for a time-conditioned decoder.
            depth: ``[B, V, T, H, W]`` (or ``[..., 1]``) camera depth of every frame in meters, 0 where unknown;
                only for a decoder with ``depth_input`` (None: unknown everywhere).
            moved: ``[B, V, Tg, H' W']`` bool, `free_space` of this ``depth``, computed here when None (it depends on
                the video only: a caller decoding many target times computes it once).

        Returns:
            `GaussianBatch` with ``N = V · gaussians_per_view(T', h, w)`` Gaussians per sample
            (unpruned; see `GaussianBatch.prune`), float32.
        """
        self._check_inputs(latents, viewmats, Ks)
        c = self.config
        b, v, ch, tl, h, w = latents.shape
        self._check_times(b, self.num_frames(tl), times, target)
        self._check_depth(latents, depth)
        s, t, p, r, u = c.spatial_compression, c.temporal_compression, c.patch_size, c.plucker_samples, c.gaussian_upsample
        device = latents.device
        viewmats, Ks = viewmats.float(), Ks.float()

        x = self.patch_embed(latents.reshape(b * v, ch, tl, h, w))  # [BV, D, T', h/p, w/p]
        with torch.autocast(device_type=device.type, enabled=False):  # rays in float32 even under bf16 autocast
            # Plücker rays of every frame slot, folded like the codec folds frames.
            slots = latent_frame_groups(tl, t, device).reshape(-1)
            o, d = camera_rays(viewmats[:, :, slots], Ks[:, :, slots], sample_coords(w, s, r, device), sample_coords(h, s, r, device))
            rays = plucker(o, d).reshape(b * v, tl, t, h, r, w, r, 6).permute(0, 2, 4, 6, 7, 1, 3, 5)
            rays = rays.reshape(b * v, t * r * r * 6, tl, h, w)
        x = x + self.plucker_embed(rays.to(x.dtype))
        if c.time_embedding:
            x = x + self._embed_times(times, target, v, h, w, x.dtype)
        if depth is not None:
            depth = depth.reshape(b, v, -1, h * s, w * s).float()
            x = x + self._embed_depth(depth, sample_coords(w, s, r, device), sample_coords(h, s, r, device), x.dtype)

        dim, hp, wp = x.shape[1], h // p, w // p
        tokens = x.reshape(b, v, dim, tl, hp, wp).permute(0, 1, 3, 4, 5, 2).reshape(b, v * tl * hp * wp, dim)
        for block in self.blocks:
            if self.gradient_checkpointing and self.training and torch.is_grad_enabled():
                tokens = checkpoint(block, tokens, use_reentrant=False)
            else:
                tokens = block(tokens)
        tokens = self.norm(tokens)

        # The head and the Gaussians in float32: bf16 would quantize depth along the ray to ~1 %.
        with torch.autocast(device_type=device.type, enabled=False):
            grid = tokens.float().reshape(b * v, tl, hp, wp, dim).permute(0, 4, 1, 2, 3)
            times_kept, _ = self.gaussian_times(tl, device)
            frames, xs, ys = self.gaussian_pixels(tl, h, w, device)
            raw = self.head(grid)[:, :, times_kept]  # [BV, 12, Tg, h u, w u]
            flat = latents.reshape(b * v, ch, tl, h, w).float()
            if c.detail_width:
                detail = self.detail(grid, flat)
                raw = raw + self.detail_out(detail)[:, :, times_kept]
            if self.rgb_skip is not None:
                skip = self.rgb_skip(flat)[:, :, times_kept]
                raw = torch.cat([raw[:, :1], raw[:, 1:4] + skip, raw[:, 4:]], 1)
            tg = times_kept.numel()
            raw = raw.reshape(b, v, GAUSSIAN_CHANNELS, tg, h * u, w * u).permute(0, 1, 3, 4, 5, 2)
            o, d = camera_rays(viewmats[:, :, frames], Ks[:, :, frames], xs, ys)
            if depth is not None:
                gate = self.depth_gate(grid)[:, :, times_kept]
                if c.detail_width:
                    gate = gate + self.detail_gate(detail)[:, :, times_kept]
                gate = torch.sigmoid(gate.reshape(b, v, tg, h * u, w * u))
                raw = self._pull_depth(raw, gate, depth, viewmats[:, :, frames], d, frames, xs, ys)
            gaussians = activate_gaussians(raw.reshape(b, -1, GAUSSIAN_CHANNELS), o.reshape(b, -1, 3), d.reshape(b, -1, 3), c)
            if c.offsets > 0:
                off = self.offset_head(grid)[:, :, times_kept]
                if c.detail_width:
                    off = off + self.detail_offsets(detail)[:, :, times_kept]
                off = off.reshape(b, v, 3, tg, h * u, w * u).permute(0, 1, 3, 4, 5, 2)
                off = c.offsets * torch.tanh(off.reshape(b, -1, 3))
                gaussians = replace(gaussians, means=gaussians.means + off, offsets=off)
            if c.motion_gate:
                logit = self.motion_head(grid)[:, :, times_kept]
                if c.detail_width:
                    logit = logit + self.detail_motion(detail)[:, :, times_kept]
                motion = torch.sigmoid(MOTION_GAIN * logit.reshape(b, v, tg, -1))
                gate = motion
                if depth is not None:  # where the depth shows that something moved, it did
                    if moved is None:
                        moved = self.free_space(depth, viewmats, Ks, times)
                    elif tuple(moved.shape) != tuple(motion.shape):
                        raise ValueError(f"moved: expected {list(motion.shape)} (free_space of this video), "
                                         f"got {list(moved.shape)}")
                    gate = torch.maximum(motion, moved.to(motion.dtype))
                weight = interpolation_weights(times.float()[:, frames], target.float())  # [B, Tg]
                keep = 1 - gate * (1 - weight[:, None, :, None])
                gaussians = replace(gaussians, opacities=gaussians.opacities * keep.reshape(b, -1),
                                    motion=motion.reshape(b, -1))
            return gaussians

    def free_space(self, depth: Tensor, viewmats: Tensor, Ks: Tensor, times: Tensor) -> Tensor:
        """``[B, V, Tg, H' W']`` bool: which of each sample's Gaussians show something that moved, by the free-space
        test (`free_space_violations`) on ``depth [B, V, T, H, W]`` (meters, 0 unknown), ``viewmats [B, V, T, 4, 4]``,
        ``Ks [B, V, T, 3, 3]`` and the frames' ``times [B, T]``. The motion gate's lower bound where depth is given."""
        b, v, t, hh, ww = depth.shape
        s = self.config.spatial_compression
        tl = 1 + (t - 1) // self.config.temporal_compression
        frames, xs, ys = self.gaussian_pixels(tl, hh // s, ww // s, depth.device)
        return torch.stack([free_space_violations(depth[i].float(), viewmats[i].float(), Ks[i].float(), frames, xs, ys,
                                                  times[i]) for i in range(b)]).reshape(b, v, frames.numel(), -1)

    def _embed_depth(self, depth: Tensor, us: Tensor, vs: Tensor, dtype: torch.dtype) -> Tensor:
        """``[B V, D, T', h/p, w/p]``: the depth of every frame slot, sampled at the ray samples ``vs x us`` and
        folded like the rays, through the zero-initialized embedding."""
        c = self.config
        b, v, _, height, width = depth.shape
        t, r, tl = c.temporal_compression, c.plucker_samples, (depth.shape[2] - 1) // c.temporal_compression + 1
        slots = latent_frame_groups(tl, t, depth.device).reshape(-1)
        rows = vs.floor().long().clamp(0, height - 1)
        cols = us.floor().long().clamp(0, width - 1)
        z = depth[:, :, slots][:, :, :, rows][..., cols]  # [B, V, T' t, h r, w r]
        known = (z > 0).float()
        feats = torch.stack([known, known * c.near / z.clamp_min(c.near)], -1)
        h, w = len(vs) // r, len(us) // r
        feats = feats.reshape(b * v, tl, t, h, r, w, r, DEPTH_FEATURES).permute(0, 2, 4, 6, 7, 1, 3, 5)
        return self.depth_embed(feats.reshape(b * v, t * r * r * DEPTH_FEATURES, tl, h, w).to(dtype))

    def _pull_depth(self, raw: Tensor, gate: Tensor, depth: Tensor, viewmats: Tensor, directions: Tensor,
                    frames: Tensor, xs: Tensor, ys: Tensor) -> Tensor:
        """Raw head outputs ``[B, V, Tg, H', W', 12]`` with each depth channel moved towards the given depth by
        ``gate [B, V, Tg, H', W']`` where it is known: ``x + gate (x_given - x)``.

        ``viewmats [B, V, Tg, 4, 4]`` and unit ``directions [B, V, Tg, H', W', 3]`` of the Gaussians' rays turn a
        camera depth into the distance along the ray that the activation makes."""
        height, width = depth.shape[-2:]
        rows = ys.floor().long().clamp(0, height - 1)
        cols = xs.floor().long().clamp(0, width - 1)
        z = depth[:, :, frames][:, :, :, rows][..., cols]  # [B, V, Tg, H', W']
        cos = (viewmats[:, :, :, None, None, 2, :3] * directions).sum(-1).clamp_min(1e-6)  # ray · camera axis
        given = depth_raw(z / cos, self.config)
        pull = torch.where(z > 0, gate, torch.zeros_like(gate))
        x = raw[..., 0]
        return torch.cat([(x + pull * (given - x))[..., None], raw[..., 1:]], -1)

    def _embed_times(self, times: Tensor, target: Tensor, v: int, h: int, w: int, dtype: torch.dtype) -> Tensor:
        """``[B V, D, T', h/p, w/p]``: the input-time and target-time embeddings of every token."""
        c = self.config
        b, t = times.shape[0], c.temporal_compression
        tl = (times.shape[1] - 1) // t + 1
        slots = latent_frame_groups(tl, t, times.device)  # [T', t]: the frame in each slot, as the codec folds them
        per_frame = time_features(times)[:, slots]  # [B, T', t, 3]
        fields = []
        for feats in (per_frame, time_features(target)[:, None, None, :].expand_as(per_frame)):
            f = feats.reshape(b, tl, t * TIME_FEATURES).permute(0, 2, 1)[:, :, :, None, None].expand(-1, -1, -1, h, w)
            fields.append(f.repeat_interleave(v, 0).to(dtype))  # the same for every view of a sample
        return self.time_embed(fields[0]) + self.target_embed(fields[1])

    @torch.no_grad()
    def decode(self, latents: Tensor, viewmats: Tensor, Ks: Tensor, keep_ratio: float | None = None,
               times: Tensor | None = None, target: Tensor | None = None,
               depth: Tensor | None = None, moved: Tensor | None = None) -> list[GaussianScene]:
        """Inference: one pruned `GaussianScene` per sample (``keep_ratio`` default: the config's)."""
        batch = self(latents, viewmats, Ks, times, target, depth, moved)
        return batch.prune(self.config.keep_ratio if keep_ratio is None else keep_ratio).scenes()


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
