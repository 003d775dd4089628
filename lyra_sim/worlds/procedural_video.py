"""The procedural world as a video world model (`lyra_sim.video.WorldModel`), offline.

`ProceduralWorld` builds a room with `lyra_sim.worlds.procedural` and renders Lyra's six
trajectories (and optional held-out views) through `lyra_sim.render`, with exact depth: the
teacher of self-distillation (`lyra_sim.training`) and the default world of the decoder path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import Tensor

from ..cameras import TRAJECTORIES, Cameras, ViewConfig, check_trajectories, look_at_cameras, lyra_trajectory, room_view
from ..render import render
from ..video import HeldOutViews, MultiViewVideo, VideoSpec
from . import procedural
from .house import off_room_boxes, preview_room


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
        trajectories = check_trajectories(trajectories)
        world = procedural.generate(condition, seed=seed, config=self.config)
        cams, holdout, info = self._film(world, condition, seed, trajectories, spec)
        return StagedScene(world.gaussians, trajectories, cams, holdout, info)

    def _film(self, world: Any, condition: Any, seed: int, trajectories: tuple[str, ...], spec: VideoSpec,
              aim: Callable[[Cameras, float], tuple[Cameras, float]] | None = None,
              ) -> tuple[list[Cameras], Cameras | None, dict[str, Any]]:
        """Every camera of a generated ``world`` and its ``info``: the anchor (re-aimed by ``aim`` when given),
        the trajectories from it, the held-out views. Returns ``(cameras per trajectory, held-out cameras, info)``."""
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0x7669,)))  # this module's own stream
        lo, hi = (np.asarray(b, dtype=np.float64) for b in world.room_bounds)
        if world.plan is not None:  # a building: the trajectories stay in the room the preview shows
            lo, hi = (np.asarray(b, dtype=np.float64) for b in preview_room(world.plan)["bounds"])
        anchor, focus = self._anchor(world, lo, hi, spec, rng)
        if aim is not None:
            anchor, focus = aim(anchor, focus)
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
        return cams, holdout, info

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
            # the preview camera of `lyra-sim generate`
            blocked = [(o["bbox"][0], o["bbox"][1]) for o in world.objects]
            if world.plan is not None:
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


def make_world(name: str, device: str | torch.device, spacing: float | None = None, fps: float | None = None,
               between: float = 0.5) -> ProceduralWorld:
    """The world model a decoder checkpoint names (`lyra_sim.decoder.checkpoint.WorldSettings`), on ``device``:
    ``procedural``, or ``procedural_dynamic`` (`lyra_sim.worlds.dynamic_video`, at ``fps``)."""
    if name == "procedural_dynamic":
        from .dynamic_video import DEFAULT_FPS, make_dynamic_world  # the dynamic world builds on this one

        return make_dynamic_world(device, spacing, DEFAULT_FPS if fps is None else fps, between)
    if name != "procedural":
        raise ValueError(f"world.name: unknown world model {name!r}; accepted: procedural, procedural_dynamic")
    return ProceduralWorld(device, procedural.ProceduralConfig() if spacing is None else procedural.ProceduralConfig(spacing=spacing))
