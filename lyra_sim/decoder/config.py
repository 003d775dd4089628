"""`DecoderConfig`: every architectural choice of the 3DGS decoder, from tiny (tests) to Lyra-size."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from typing import Any

from ..config import check_keys

GAUSSIAN_CHANNELS = 12
"""Raw values the head predicts per Gaussian: depth 1, RGB 3, scale 3, quaternion 4, opacity 1."""


@dataclass(frozen=True)
class DecoderConfig:
    """Architecture of `LyraDecoder` (Lyra, arXiv 2509.19296, section 3).

    Latent layout (must match the codec that produced the latents):
        latent_channels: C of the latents ``[B, V, C, T', h, w]``.
        spatial_compression: frame pixels per latent pixel along each axis (s).
        temporal_compression: frames per latent frame (t); the codecs are causal, so
            ``T = 1 + t (T' - 1)`` frames (latent 0 holds frame 0 alone).

    Backbone:
        width: token dimension D.
        num_blocks: number of blocks.
        attention_blocks: indices of the blocks that are self-attention blocks; all other
            blocks are bidirectional Mamba2 blocks. Lyra: 16 blocks, 2 of them attention.
        num_heads: attention heads (``width % num_heads == 0``).
        mlp_ratio: hidden width of the attention blocks' MLP, as a multiple of ``width``.
        ssm_state: Mamba2 state size N.
        ssm_expand: Mamba2 inner width as a multiple of ``width``.
        ssm_head_dim: Mamba2 head dimension P (``ssm_expand * width % ssm_head_dim == 0``).
        ssm_conv: kernel of Mamba2's depthwise causal convolution.
        patch_size: spatial patch (tokens are ``patch_size x patch_size`` latent pixels, one latent frame).

    Camera conditioning:
        plucker_samples: rays per latent pixel along each axis for the Plücker embedding
            (``spatial_compression`` = one ray per frame pixel, as in Lyra; fewer saves memory).

    Head (pixel-aligned Gaussians):
        gaussian_upsample: Gaussians per latent pixel along each axis
            (``spatial_compression`` = one per frame pixel; 1 = one per 8x8 patch).
        gaussian_frames: Gaussian frames per latent frame; divides ``temporal_compression``.
        near, far, depth_shift: depth along the ray ``near (1 - w) + far w``,
            ``w = sigmoid(x - depth_shift)`` (Lyra: 0.1, 500, 1.65).
        init_depth: meters; the head's depth bias starts there (not part of the activation).
        rgb_skip: add a zero-initialized linear map from the latents straight to the Gaussians'
            raw RGB (an addition to Lyra). Tokens of width D summarize ``patch_size²`` latent pixels,
            so fine color detail must squeeze through D numbers; with a lossless codec (hundreds of
            channels per latent pixel) the shortcut carries it past that bottleneck.
        scale_cap: scale ``min(exp(x - (1 - ln cap)), cap)`` in meters (Lyra: 0.3).
        opacity_shift: opacity ``sigmoid(x - shift)`` (Lyra: 2).
        keep_ratio: fraction of Gaussians (top by opacity) kept at inference (Lyra: 0.2).

    Time conditioning (dynamic scenes, Lyra's dynamic decoder):
        time_embedding: the tokens also get the input frames' times and one target time, each
            embedded per pixel as ``(t, cos πt, sin πt)`` (times scaled to [0, 1] over the input
            video), folded like the Plücker rays and patch-embedded by a *zero-initialized* layer
            of its own (input and target separately); the decoder then outputs the Gaussians at
            the target time. False: a static decoder.
        offsets: meters a Gaussian may move off its pixel's ray (``offsets · tanh(x)`` per axis,
            from a zero-initialized head; Lyra's predicted position offsets): how the Gaussians of a
            moving object reach where it is at a target time no frame shows. 0: none.

    Detail head (an addition to Lyra):
        detail_width: channels of a convolutional refinement at latent resolution (0: none). The
            linear head turns one token into the Gaussians of ``(patch_size · gaussian_upsample)²``
            pixels, too coarse for the depth edge of a small object in front of a wall (a person in a
            corridor took the wall's depth). The refinement sees each latent pixel (with a lossless
            codec, its frame pixels exactly) and its 3x3 neighbours beside the tokens' features, and
            adds to every raw head output (and to the offsets) through a zero-initialized last layer,
            so a decoder initialized from a checkpoint without it decodes exactly as that one did.
            Measured (the shipped dynamic checkpoint, detail_width 64): +0.07 dB and -0.7 cm of centre error
            over the same training without it (benchmarks/results/dynamic_decoder_h200.md, seventh run).

    Depth input (an addition to Lyra):
        depth_input: the decoder may also read the frames' camera depth ``[B, V, T, H, W]`` (meters, 0 where
            unknown), where the world model has it: the procedural world's own depth, a diffusers world's 3D
            cache, or a depth sensor's. It
            enters twice: folded like the rays into a *zero-initialized* patch embedding added to the tokens,
            and per Gaussian, where the head's depth is pulled to the given one by a gate
            ``sigmoid(g)`` (`DEPTH_GATE_BIAS` at the start: trust the given depth) that a zero-initialized
            layer learns per pixel. Without depth (None, or 0 everywhere) the decoder decodes exactly as one
            without the addition, so one checkpoint serves videos with and without depth. Why: from latents alone
            the movers' Gaussians stayed 1.13-1.18x too far after 2,000 steps of metric depth losses, and the static
            scene's depth 14 % off (benchmarks/results/dynamic_decoder_h200.md); reading the world's depth, both are
            under 1 %.

    Motion gate (an addition to Lyra; time-conditioned decoders):
        motion_gate: a head predicts for every Gaussian the probability ``m`` that its pixel shows a moving object
            (trained against the world's label maps), and its opacity becomes ``α (1 - m (1 - w))``, where ``w``
            is its Gaussian frame's linear-interpolation weight at the target time (1 on that frame's time, 0 from
            the neighbouring Gaussian frames' times on). The still scene keeps every frame's Gaussians; a moving
            object is shown by the two Gaussian frames around the target time, cross-faded, so its copies from
            other times ("ghosts") vanish and its centre moves with it. Why: with exact depth the ghosts alone left
            23 cm of centre error, and interpolation weights on the true surface points score 3 cm where equal
            weights score 15 (benchmarks/results/dynamic_decoder_h200.md). The head starts at ``m = 0.0025``.
            Where depth is given (``depth_input``), ``m`` is raised to 1 on Gaussians whose surface point lies in
            space a frame of another time saw empty (`lyra_sim.decoder.free_space`): the learned head alone missed
            most of a drawer's or door's pixels on held-out scenes.
    """

    latent_channels: int = 16
    spatial_compression: int = 8
    temporal_compression: int = 8
    width: int = 512
    num_blocks: int = 16
    attention_blocks: tuple[int, ...] = (7, 15)
    num_heads: int = 8
    mlp_ratio: float = 4.0
    ssm_state: int = 64
    ssm_expand: int = 2
    ssm_head_dim: int = 64
    ssm_conv: int = 4
    patch_size: int = 2
    plucker_samples: int = 2
    gaussian_upsample: int = 8
    gaussian_frames: int = 1
    near: float = 0.1
    far: float = 500.0
    depth_shift: float = 1.65
    init_depth: float = 3.0
    rgb_skip: bool = False
    scale_cap: float = 0.3
    opacity_shift: float = 2.0
    keep_ratio: float = 0.2
    time_embedding: bool = False
    offsets: float = 0.0
    detail_width: int = 0
    depth_input: bool = False
    motion_gate: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "attention_blocks", tuple(int(i) for i in self.attention_blocks))
        for name in ("latent_channels", "spatial_compression", "temporal_compression", "width", "num_blocks",
                     "num_heads", "ssm_state", "ssm_expand", "ssm_head_dim", "ssm_conv", "patch_size",
                     "plucker_samples", "gaussian_upsample", "gaussian_frames"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}: expected a positive integer, got {value!r}")
        if self.width % self.num_heads:
            raise ValueError(f"num_heads: {self.num_heads} does not divide width {self.width}")
        if (self.ssm_expand * self.width) % self.ssm_head_dim:
            raise ValueError(
                f"ssm_head_dim: {self.ssm_head_dim} does not divide the Mamba2 inner width "
                f"{self.ssm_expand * self.width} (ssm_expand * width)"
            )
        if any(not 0 <= i < self.num_blocks for i in self.attention_blocks):
            raise ValueError(f"attention_blocks: indices must lie in 0..{self.num_blocks - 1}, got {self.attention_blocks}")
        if len(set(self.attention_blocks)) != len(self.attention_blocks):
            raise ValueError(f"attention_blocks: repeated index in {self.attention_blocks}")
        if self.temporal_compression % self.gaussian_frames:
            raise ValueError(
                f"gaussian_frames: {self.gaussian_frames} does not divide temporal_compression {self.temporal_compression}"
            )
        if not 0 < self.near < self.far:
            raise ValueError(f"near, far: expected 0 < near < far, got {self.near}, {self.far}")
        if not self.near < self.init_depth < self.far:
            raise ValueError(f"init_depth: expected a value in ({self.near}, {self.far}), got {self.init_depth}")
        if self.scale_cap <= 0:
            raise ValueError(f"scale_cap: expected > 0 meters, got {self.scale_cap}")
        if not 0 < self.keep_ratio <= 1:
            raise ValueError(f"keep_ratio: expected a fraction in (0, 1], got {self.keep_ratio}")
        if not isinstance(self.time_embedding, bool):
            raise ValueError(f"time_embedding: expected true or false, got {self.time_embedding!r}")
        if isinstance(self.offsets, bool) or not isinstance(self.offsets, (int, float)) or not 0 <= self.offsets <= 2:
            raise ValueError(f"offsets: expected meters in [0, 2], got {self.offsets!r}")
        if self.offsets and not self.time_embedding:
            raise ValueError("offsets: position offsets belong to a time-conditioned decoder (set time_embedding)")
        if not isinstance(self.detail_width, int) or isinstance(self.detail_width, bool) or self.detail_width < 0:
            raise ValueError(f"detail_width: expected a channel count >= 0 (0: no detail head), got {self.detail_width!r}")
        if not isinstance(self.depth_input, bool):
            raise ValueError(f"depth_input: expected true or false, got {self.depth_input!r}")
        if not isinstance(self.motion_gate, bool):
            raise ValueError(f"motion_gate: expected true or false, got {self.motion_gate!r}")
        if self.motion_gate and not self.time_embedding:
            raise ValueError("motion_gate: the motion gate belongs to a time-conditioned decoder (set time_embedding)")

    @property
    def dynamic(self) -> bool:
        """Whether it is time-conditioned (decodes a dynamic video at a target time)."""
        return self.time_embedding

    def without_additions(self) -> "DecoderConfig":
        """The plain static decoder this one extends: no time conditioning, offsets, detail head, depth input or
        motion gate (`ADDITIONS`). A checkpoint of it, or of this decoder with only some additions, initializes this one."""
        return replace(self, **ADDITIONS)

    @property
    def block_types(self) -> tuple[str, ...]:
        """``"attention"`` or ``"mamba2"`` for each block, in order."""
        return tuple("attention" if i in self.attention_blocks else "mamba2" for i in range(self.num_blocks))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["attention_blocks"] = list(self.attention_blocks)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DecoderConfig":
        return cls(**check_keys(cls, data, "decoder config"))

    def diff(self, other: "DecoderConfig") -> dict[str, tuple[Any, Any]]:
        """Fields whose values differ: ``name -> (self's, other's)``."""
        a, b = self.to_dict(), other.to_dict()
        return {k: (a[k], b[k]) for k in a if a[k] != b[k]}


ADDITIONS: dict[str, Any] = {"time_embedding": False, "offsets": 0.0, "detail_width": 0, "depth_input": False,
                             "motion_gate": False}
"""Fields of the zero-initialized additions and their values when off: a decoder with an addition on starts,
from a checkpoint with it off, as that checkpoint (`lyra_sim.decoder.checkpoint.load_initial_weights`)."""

PRESETS: dict[str, DecoderConfig] = {
    # Unit tests on the CPU: a few thousand parameters' worth of everything.
    "tiny": DecoderConfig(
        latent_channels=192, spatial_compression=8, temporal_compression=1, width=32, num_blocks=3,
        attention_blocks=(1,), num_heads=2, ssm_state=8, ssm_head_dim=16, plucker_samples=2,
        gaussian_upsample=2, gaussian_frames=1,
    ),
    # The shipped model: space-to-depth codec with 4 frames per latent frame, pixel-aligned
    # Gaussians on every 4th frame, 8 blocks at width 256 (see configs/distill_small.json).
    "small": DecoderConfig(
        latent_channels=768, spatial_compression=8, temporal_compression=4, width=256, num_blocks=8,
        attention_blocks=(3, 7), num_heads=4, ssm_state=32, ssm_head_dim=32, plucker_samples=4,
        gaussian_upsample=8, gaussian_frames=1, rgb_skip=True,
    ),
    # Lyra's decoder on Cosmos CV8x8x8 latents: 16 blocks at width 512, 14 Mamba2 + 2 attention.
    "lyra": DecoderConfig(),
}
"""Named configurations (``DecoderConfig`` values); ``PRESETS["lyra"]`` is the paper's size; ``NAME_dynamic``
is preset ``NAME`` with Lyra's time conditioning (and position offsets)."""

DYNAMIC_OFFSETS = 0.25
"""Meters of position offset of the time-conditioned presets."""

PRESETS.update({f"{name}_dynamic": replace(c, time_embedding=True, offsets=DYNAMIC_OFFSETS) for name, c in list(PRESETS.items())})
