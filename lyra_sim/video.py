"""Multi-view videos: what a world model imagines and a 3DGS decoder reads.

This is the interface of Lyra's generator (arXiv 2509.19296): a camera-controlled video model
imagines the scene along several camera trajectories that start at one anchor view
(`lyra_sim.cameras.TRAJECTORIES`). `WorldModel` is anything that does this; the procedural world
(`lyra_sim.worlds.procedural_video`) and the diffusers world (`lyra_sim.worlds.diffusion`)
implement it, and the decoder (`lyra_sim.decoder`) is trained on, and runs on, what they imagine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence, runtime_checkable

from torch import Tensor

from .cameras import TRAJECTORIES, Cameras


@dataclass(frozen=True)
class VideoSpec:
    """What to imagine: frames per trajectory, image size, field of view, camera travel.

    Attributes:
        num_frames: frames per trajectory (frame 0 is the anchor view). Causal codecs need
            ``1 + t k`` frames (t: their temporal compression).
        width, height: pixels.
        fov_y_deg: vertical field of view.
        travel: how far each trajectory moves, as a fraction of the focus distance (the
            distance kept in view; shortened where the room is too small).
        num_holdout: extra views that are not part of any trajectory (novel-view supervision
            and evaluation), placed between trajectory frames with small random rotations.
        anchor: "corner" (the preview camera of `lyra_sim.cameras.room_view`: high in a free
            corner, looking across the room), "random" (a seeded free position and heading), or
            "mixed" (either, 50/50 by seed).
    """

    num_frames: int = 9
    width: int = 256
    height: int = 192
    fov_y_deg: float = 75.0
    travel: float = 0.3
    num_holdout: int = 0
    anchor: str = "corner"

    def __post_init__(self) -> None:
        for name in ("num_frames", "width", "height"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}: expected a positive integer, got {value!r}")
        if self.num_frames < 2:
            raise ValueError(f"num_frames: expected >= 2 (a trajectory), got {self.num_frames}")
        if not isinstance(self.num_holdout, int) or isinstance(self.num_holdout, bool) or self.num_holdout < 0:
            raise ValueError(f"num_holdout: expected a non-negative integer, got {self.num_holdout!r}")
        if not 0 < self.fov_y_deg < 180:
            raise ValueError(f"fov_y_deg: expected a value in (0, 180), got {self.fov_y_deg}")
        if not self.travel > 0:
            raise ValueError(f"travel: expected > 0, got {self.travel}")
        if self.anchor not in ("corner", "random", "mixed"):
            raise ValueError(f"anchor: expected 'corner', 'random' or 'mixed', got {self.anchor!r}")


@dataclass(frozen=True)
class HeldOutViews:
    """Views of the same scene that are not in the video.

    Attributes:
        frames: ``[K, H, W, 3]`` in [0, 1]; viewmats: ``[K, 4, 4]``; Ks: ``[K, 3, 3]``;
        depth: ``[K, H, W, 1]`` camera-space depth in meters, or None.
        times: ``[K]`` seconds: the time each view shows (dynamic scenes), or None (static).
        labels: ``[K, H, W]`` int64 per-pixel index of the moving object seen there (0: none,
            ``i + 1``: mover ``i`` of ``info["movers"]``), or None.
    """

    frames: Tensor
    viewmats: Tensor
    Ks: Tensor
    depth: Tensor | None = None
    times: Tensor | None = None
    labels: Tensor | None = None

    def __post_init__(self) -> None:
        if self.frames.ndim != 4 or self.frames.shape[-1] != 3:
            raise ValueError(f"holdout frames: expected [K, H, W, 3], got {list(self.frames.shape)}")
        k, h, w = self.frames.shape[:3]
        if tuple(self.viewmats.shape) != (k, 4, 4) or tuple(self.Ks.shape) != (k, 3, 3):
            raise ValueError(
                f"holdout cameras: expected viewmats [{k}, 4, 4] and Ks [{k}, 3, 3] for {k} frames, "
                f"got {list(self.viewmats.shape)} and {list(self.Ks.shape)}"
            )
        if self.depth is not None and tuple(self.depth.shape) != (k, h, w, 1):
            raise ValueError(f"holdout depth: expected [{k}, {h}, {w}, 1], got {list(self.depth.shape)}")
        if self.times is not None and tuple(self.times.shape) != (k,):
            raise ValueError(f"holdout times: expected [{k}] (one time per view), got {list(self.times.shape)}")
        if self.labels is not None and tuple(self.labels.shape) != (k, h, w):
            raise ValueError(f"holdout labels: expected [{k}, {h}, {w}], got {list(self.labels.shape)}")

    @property
    def cameras(self) -> Cameras:
        return Cameras(self.viewmats, self.Ks, self.frames.shape[2], self.frames.shape[1])


@dataclass(frozen=True)
class MultiViewVideo:
    """A scene imagined along V camera trajectories of T frames each.

    Attributes:
        frames: ``[V, T, H, W, 3]`` RGB in [0, 1].
        viewmats: ``[V, T, 4, 4]`` world-to-camera (OpenCV) of every frame.
        Ks: ``[V, T, 3, 3]`` pixel intrinsics.
        trajectories: V names (e.g. `lyra_sim.cameras.TRAJECTORIES`).
        depth: ``[V, T, H, W, 1]`` camera-space depth in meters (0 where unknown: no surface, or a world's
            cache does not cover the pixel), or None.
        latents: ``[V, C, T', h, w]`` when the world model works in a codec's latent space, else None.
        holdout: extra views of the scene, or None.
        info: JSON-able facts about the scene (world model, condition, seed, room bounds, objects).
        times: ``[T]`` seconds for a dynamic scene: frame ``k`` of every view shows the scene at
            ``times[k]`` (Lyra's dynamic videos); None for a static scene.
        labels: ``[V, T, H, W]`` int64 per-pixel moving-object index (as `HeldOutViews.labels`), or None.
    """

    frames: Tensor
    viewmats: Tensor
    Ks: Tensor
    trajectories: tuple[str, ...]
    depth: Tensor | None = None
    latents: Tensor | None = None
    holdout: HeldOutViews | None = None
    info: dict[str, Any] = field(default_factory=dict)
    times: Tensor | None = None
    labels: Tensor | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.frames, Tensor) or self.frames.ndim != 5 or self.frames.shape[-1] != 3:
            shape = list(self.frames.shape) if isinstance(self.frames, Tensor) else type(self.frames).__name__
            raise ValueError(f"frames: expected [V, T, H, W, 3], got {shape}")
        v, t, h, w, _ = self.frames.shape
        if tuple(self.viewmats.shape) != (v, t, 4, 4) or tuple(self.Ks.shape) != (v, t, 3, 3):
            raise ValueError(
                f"cameras do not match the frames: {v} views x {t} frames need viewmats [{v}, {t}, 4, 4] and "
                f"Ks [{v}, {t}, 3, 3], got {list(self.viewmats.shape)} and {list(self.Ks.shape)}"
            )
        if len(self.trajectories) != v:
            raise ValueError(f"trajectories: {len(self.trajectories)} names for {v} views")
        if self.depth is not None and tuple(self.depth.shape) != (v, t, h, w, 1):
            raise ValueError(f"depth: expected [{v}, {t}, {h}, {w}, 1], got {list(self.depth.shape)}")
        if self.latents is not None and (self.latents.ndim != 5 or self.latents.shape[0] != v):
            raise ValueError(f"latents: expected [{v}, C, T', h, w], got {list(self.latents.shape)}")
        if self.times is not None:
            if tuple(self.times.shape) != (t,):
                raise ValueError(f"times: expected [{t}] (one time per frame), got {list(self.times.shape)}")
            if t > 1 and not bool((self.times[1:] > self.times[:-1]).all()):
                raise ValueError("times: must increase strictly from frame to frame")
        if self.labels is not None and tuple(self.labels.shape) != (v, t, h, w):
            raise ValueError(f"labels: expected [{v}, {t}, {h}, {w}], got {list(self.labels.shape)}")

    @property
    def num_views(self) -> int:
        return self.frames.shape[0]

    @property
    def num_frames(self) -> int:
        return self.frames.shape[1]

    def cameras(self, view: int) -> Cameras:
        """The T cameras of trajectory ``view``."""
        return Cameras(self.viewmats[view], self.Ks[view], self.frames.shape[3], self.frames.shape[2])


@runtime_checkable
class WorldModel(Protocol):
    """Anything that imagines a scene as a multi-view video."""

    name: str

    def imagine(
        self, condition: Any, trajectories: Sequence[str] = TRAJECTORIES, *, seed: int, spec: VideoSpec = VideoSpec()
    ) -> MultiViewVideo:
        """Imagine ``condition`` (a prompt, an image, a scene spec) along ``trajectories`` from one anchor view."""
        ...
