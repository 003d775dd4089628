"""World models as *video* models: ``imagine(condition, trajectories) → MultiViewVideo``.

This is the interface of Lyra's generator (arXiv 2509.19296): a camera-controlled video model
imagines the scene along several camera trajectories starting at one anchor view. The 3DGS
decoder (`lyra_sim.decoder`) is trained on, and runs on, what a world model imagines.

`ProceduralWorld` implements it offline: it builds a room with `lyra_sim.worlds.procedural`
and renders Lyra's six trajectories (and optional held-out views) through `lyra_sim.render`,
with exact depth. A diffusion video model would fill ``latents`` directly instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np
import torch
from torch import Tensor

from ..cameras import TRAJECTORIES, Cameras, look_at_cameras, lyra_trajectory
from ..render import render


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
        anchor: "corner" (the preview camera of `lyra_sim.pipeline.room_view`: high in a free
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
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected a positive integer, got {value!r}")
        if self.num_frames < 2:
            raise ValueError(f"num_frames: expected >= 2 (a trajectory), got {self.num_frames}")
        if not isinstance(self.num_holdout, int) or self.num_holdout < 0:
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
    """

    frames: Tensor
    viewmats: Tensor
    Ks: Tensor
    depth: Tensor | None = None

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
        depth: ``[V, T, H, W, 1]`` camera-space depth in meters, or None.
        latents: ``[V, C, T', h, w]`` when the world model works in a codec's latent space, else None.
        holdout: extra views of the scene, or None.
        info: JSON-able facts about the scene (world model, condition, seed, room bounds, objects).
    """

    frames: Tensor
    viewmats: Tensor
    Ks: Tensor
    trajectories: tuple[str, ...]
    depth: Tensor | None = None
    latents: Tensor | None = None
    holdout: HeldOutViews | None = None
    info: dict[str, Any] = field(default_factory=dict)

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


# ---------------------------------------------------------------------- procedural world
def _jitter_rotation(rng: np.random.Generator, max_deg: float) -> Tensor:
    """A small random rotation ``[3, 3]`` (yaw then pitch, each uniform in ±max_deg)."""
    yaw, pitch = np.radians(rng.uniform(-max_deg, max_deg, size=2))
    cy, sy, cp, sp = math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch)
    r_yaw = torch.tensor([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]], dtype=torch.float32)  # about camera y
    r_pitch = torch.tensor([[1, 0, 0], [0, cp, -sp], [0, sp, cp]], dtype=torch.float32)  # about camera x
    return r_pitch @ r_yaw


@dataclass(frozen=True)
class StagedScene:
    """A procedural scene with its cameras placed, not yet rendered (see `ProceduralWorld.stage`).

    Attributes:
        gaussians: the room's `GaussianScene` (CPU).
        trajectories: V trajectory names; cameras: V `Cameras` of T frames each.
        holdout: K extra cameras, or None; info: as `MultiViewVideo.info`.
    """

    gaussians: Any
    trajectories: tuple[str, ...]
    cameras: list[Cameras]
    holdout: Cameras | None
    info: dict[str, Any]


class ProceduralWorld:
    """The offline world model: procedural rooms rendered along Lyra's trajectories.

    Args:
        device: where scenes are rendered ("cuda" uses gsplat through `lyra_sim.render`).
        config: `lyra_sim.worlds.procedural.ProceduralConfig` (None: its defaults).

    ``imagine(condition, trajectories, seed=, spec=)`` takes a prompt or a scene spec (what
    `procedural.generate` takes); same inputs + seed → identical video.
    """

    name = "procedural"

    def __init__(self, device: str | torch.device = "cpu", config: Any = None) -> None:
        self.device = torch.device(device)
        self.config = config

    def imagine(
        self, condition: Any, trajectories: Sequence[str] = TRAJECTORIES, *, seed: int, spec: VideoSpec = VideoSpec()
    ) -> MultiViewVideo:
        return self.shoot(self.stage(condition, trajectories, seed=seed, spec=spec))

    def stage(
        self, condition: Any, trajectories: Sequence[str] = TRAJECTORIES, *, seed: int, spec: VideoSpec = VideoSpec()
    ) -> "StagedScene":
        """The CPU half of `imagine`: build the room and place every camera (nothing rendered).

        Separate so that data-loader workers can stage scenes on CPU cores while the main
        process renders them on the GPU (`shoot`).
        """
        from . import procedural

        trajectories = tuple(trajectories)
        unknown = [k for k in trajectories if k not in TRAJECTORIES]
        if not trajectories or unknown:
            raise ValueError(f"trajectories: unknown {unknown or 'none given'}; accepted: {', '.join(TRAJECTORIES)}")
        world = procedural.generate(condition, seed=seed, config=self.config)
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0x7669,)))  # this module's own stream
        lo, hi = (np.asarray(b, dtype=np.float64) for b in world.room_bounds)
        if world.plan is not None:  # a building: the trajectories stay in the room the preview shows
            from .house import preview_room

            lo, hi = (np.asarray(b, dtype=np.float64) for b in preview_room(world.plan)["bounds"])
        anchor, focus = self._anchor(world, lo, hi, spec, rng)
        travel = self._travel(anchor, focus, lo, hi, spec)
        cams = [lyra_trajectory(anchor, k, spec.num_frames, focus, travel) for k in trajectories]
        holdout = self._holdout_cameras(anchor, focus, travel, spec, rng) if spec.num_holdout else None
        info = {
            "world_model": {"name": self.name, "version": procedural.GENERATOR_VERSION},
            "condition": condition if isinstance(condition, (str, dict)) else world.spec.to_dict(),
            "seed": int(seed),
            "scene_spec": world.spec.to_dict(),
            "room_bounds": [list(map(float, b)) for b in world.room_bounds],
            "objects": world.objects,
            **({"floor_plan": world.plan} if world.plan is not None else {}),
            "label_names": list(world.gaussians.label_names),
            "anchor": {"viewmat": anchor.viewmats[0].tolist(), "K": anchor.Ks[0].tolist(),
                       "width": anchor.width, "height": anchor.height},
            "focus_distance": focus,
            "travel": travel,
        }
        return StagedScene(world.gaussians, trajectories, cams, holdout, info)

    def shoot(self, staged: "StagedScene") -> MultiViewVideo:
        """The rendering half of `imagine`, on this world's device."""
        scene = staged.gaussians.to(self.device)
        frames, depths = [], []
        for c in staged.cameras:
            out = render(scene, c.to(self.device), "RGB+ED")
            frames.append(out.rgb.clamp(0, 1))
            depths.append(out.depth)
        holdout = None
        if staged.holdout is not None:
            hcams = staged.holdout.to(self.device)
            out = render(scene, hcams, "RGB+ED")
            holdout = HeldOutViews(out.rgb.clamp(0, 1), hcams.viewmats, hcams.Ks, out.depth)
        return MultiViewVideo(
            frames=torch.stack(frames),
            viewmats=torch.stack([c.viewmats for c in staged.cameras]).to(self.device),
            Ks=torch.stack([c.Ks for c in staged.cameras]).to(self.device),
            trajectories=staged.trajectories,
            depth=torch.stack(depths),
            holdout=holdout,
            info=staged.info,
        )

    # -------------------------------------------------------------- cameras
    @staticmethod
    def _anchor(world: Any, lo: np.ndarray, hi: np.ndarray, spec: VideoSpec, rng: np.random.Generator) -> tuple[Cameras, float]:
        """The anchor camera and its focus distance (meters to the point kept in view)."""
        mode = spec.anchor
        if mode == "mixed":
            mode = "corner" if rng.random() < 0.5 else "random"
        center = (lo + hi) / 2
        if mode == "corner":
            from ..pipeline import ViewConfig, room_view  # the preview camera of `lyra-sim generate`

            blocked = [(o["bbox"][0], o["bbox"][1]) for o in world.objects]
            if world.plan is not None:
                from .house import off_room_boxes, preview_room

                blocked += off_room_boxes(preview_room(world.plan))
            anchor = room_view(lo.tolist(), hi.tolist(), blocked, ViewConfig(spec.width, spec.height, spec.fov_y_deg))
        else:
            if world.plan is None:
                xy = world.free_space.sample(rng, 1)[0]
            else:  # a free spot inside the room
                centers = world.free_space.cell_centers()
                inside = world.free_space.free & ((centers >= lo[:2]) & (centers <= hi[:2])).all(-1)
                xy = centers[inside][rng.integers(int(inside.sum()))]
            eye_z = lo[2] + min(rng.uniform(1.1, 1.9), 0.75 * (hi[2] - lo[2]))
            heading = rng.uniform(0, 2 * math.pi)
            reach = 0.5 * float(np.min(hi[:2] - lo[:2]))
            target = np.array([xy[0] + reach * math.cos(heading), xy[1] + reach * math.sin(heading),
                               lo[2] + rng.uniform(0.3, 1.2)])
            target[:2] = np.clip(target[:2], lo[:2] + 0.05, hi[:2] - 0.05)
            anchor = look_at_cameras(
                torch.tensor([[xy[0], xy[1], eye_z]], dtype=torch.float32),
                torch.tensor(target[None], dtype=torch.float32), spec.width, spec.height, spec.fov_y_deg,
            )
        forward = anchor.camtoworlds[0, :3, 2].double().numpy()
        eye = anchor.centers[0].double().numpy()
        focus = max(float(np.dot(center - eye, forward)), 1.0)
        return anchor, focus

    @staticmethod
    def _travel(anchor: Cameras, focus: float, lo: np.ndarray, hi: np.ndarray, spec: VideoSpec) -> float:
        """The trajectory length: ``spec.travel · focus``, shortened until every camera stays 0.1 m inside the room."""
        travel = spec.travel * focus
        margin = 0.1
        for _ in range(20):
            eyes = torch.cat([lyra_trajectory(anchor, k, 9, focus, travel).centers for k in TRAJECTORIES]).double().numpy()
            if bool(((eyes >= lo + margin) & (eyes <= hi - margin)).all()):
                break
            travel *= 0.75
        return float(travel)

    @staticmethod
    def _holdout_cameras(
        anchor: Cameras, focus: float, travel: float, spec: VideoSpec, rng: np.random.Generator
    ) -> Cameras:
        """Views between trajectory frames (random trajectory and progress), turned by up to ±6°."""
        fine = 8 * (spec.num_frames - 1) + 1
        viewmats = []
        for _ in range(spec.num_holdout):
            kind = TRAJECTORIES[int(rng.integers(len(TRAJECTORIES)))]
            index = int(rng.integers(1, fine))
            vm = lyra_trajectory(anchor, kind, fine, focus, travel).viewmats[index].clone()
            jitter = _jitter_rotation(rng, 6.0)
            vm[:3, :3] = jitter @ vm[:3, :3]  # rotate about the camera center
            vm[:3, 3] = jitter @ vm[:3, 3]
            viewmats.append(vm)
        ks = anchor.Ks.expand(spec.num_holdout, 3, 3).clone()
        return Cameras(torch.stack(viewmats), ks, anchor.width, anchor.height)
