"""The procedural world over time as a video world model: Lyra's dynamic videos, offline.

`DynamicProceduralWorld` imagines a room with its motions (`lyra_sim.worlds.dynamic_world`) along
Lyra's six trajectories, the way Lyra's video model renders a monocular input video: frame ``k`` of
every trajectory shows the scene at the input's time ``t_k = k / fps``. Held-out views each show
the scene at a *target time*: an input time, or (with probability ``between``) a time between two
input frames, the bullet-time views a time-conditioned decoder is trained and scored on. Every view
comes with depth and a per-pixel map of the moving object it shows (`render_labels`).

It is the teacher of dynamic self-distillation (`lyra_sim.training`) and the world the dynamic
decoder path of ``lyra-sim generate --dynamic --decoder`` imagines with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
from torch import Tensor

from ..cameras import TRAJECTORIES, Cameras, check_trajectories, look_at_cameras
from ..render import render
from ..scene import GaussianScene, rgb_to_sh
from ..video import HeldOutViews, MultiViewVideo, VideoSpec
from . import procedural
from .dynamic_world import DEFAULT_FPS, frame_times, generate_dynamic, pose_gaussians
from .motion import Mover
from .procedural_video import ProceduralWorld, StagedScene


def render_labels(scene: GaussianScene, movers: Sequence[Mover], cameras: Cameras) -> Tensor:
    """``[C, H, W]`` int64: ``i + 1`` where mover ``i``'s Gaussians are what the pixel shows (over half
    its opacity), 0 elsewhere; rendered as one-hot colors, three movers per pass."""
    out = torch.zeros(len(cameras), cameras.height, cameras.width, dtype=torch.int64, device=scene.device)
    best = torch.full_like(out, 0.5, dtype=torch.float32)
    for first in range(0, len(movers), 3):
        group = movers[first:first + 3]
        rgb = torch.zeros(len(scene), 3, device=scene.device)
        for c, m in enumerate(group):
            rgb[scene.labels == m.label_index, c] = 1.0
        coded = GaussianScene(scene.means, scene.quats, scene.scales, scene.opacities, rgb_to_sh(rgb)[:, None])
        shown = render(coded, cameras, "RGB").rgb
        for c in range(len(group)):
            take = shown[..., c] > best
            out[take] = first + c + 1
            best = torch.where(take, shown[..., c], best)
    return out


def mover_paths(world: Any, times: Sequence[float]) -> np.ndarray:
    """``[M, T, 3]``: each mover's centre (the centroid of its Gaussians as built) at each of ``times``;
    ``world``: anything with ``gaussians`` and ``movers`` (a generated world, a `DynamicStagedScene`)."""
    g = world.gaussians
    out = np.zeros((len(world.movers), len(times), 3))
    for i, m in enumerate(world.movers):
        centre = np.append(g.means[g.labels == m.label_index].double().mean(0).cpu().numpy(), 1.0)
        out[i] = [(m.pose(t) @ centre)[:3] for t in times]
    return out


def _seen(eye: np.ndarray, points: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """``[P]`` bool: whether the segment from ``eye`` to each point misses every box ``[B, 2, 3]`` (slab test)."""
    if len(boxes) == 0:
        return np.ones(len(points), dtype=bool)
    d = points - eye  # [P, 3]
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(np.abs(d) > 1e-12, 1.0 / d, np.inf)[:, None]  # [P, 1, 3]
        a, b = (boxes[None, :, 0] - eye) * inv, (boxes[None, :, 1] - eye) * inv  # [P, B, 3]
    a, b = np.nan_to_num(a, nan=-np.inf), np.nan_to_num(b, nan=np.inf)
    # An axis the segment does not move along gives (-inf, inf) inside the slab and an empty range outside it.
    near, far = np.minimum(a, b).max(-1), np.maximum(a, b).min(-1)  # [P, B]
    return ~((near <= far) & (far > 0.02) & (near < 0.98)).any(-1)


CANDIDATES = 32
"""Eye positions (the anchor's and free floor spots) a dynamic teacher's anchor picks from."""


def frame_movers(anchor: Cameras, focus: float, world: Any, times: Sequence[float],
                 rng: np.random.Generator) -> tuple[Cameras, float]:
    """The anchor re-aimed so the movers are in the video, as a monocular input video frames its subject.

    The eye is the static anchor's or one of `CANDIDATES` free floor spots at its height, whichever sees
    the most of the movers' paths (`mover_paths`: inside the image, lines of sight clear of the other
    objects' boxes), at least 0.8 m from every path point and preferring 1.5–4 m from their centroid; it
    looks at that centroid, which becomes the focus. Movers far apart may not all fit one view; the one
    that sees most wins. A world without movers, or without a spot that far from them, keeps ``(anchor, focus)``.
    """
    if not world.movers:
        return anchor, focus
    paths = mover_paths(world, times)
    points = paths.reshape(-1, 3)
    target = points.mean(0)
    own = {m.instance for m in world.movers}
    boxes = np.array([o["bbox"] for o in world.objects if o["name"] not in own], dtype=np.float64).reshape(-1, 2, 3)
    boxes = boxes + np.array([[0.01], [-0.01]])  # a line grazing a face is not blocked
    eye0 = anchor.centers[0].double().cpu().numpy()
    spots = world.free_space.sample(rng, CANDIDATES) if world.free_space.free.any() else np.zeros((0, 2))
    candidates = np.concatenate([eye0[None], np.column_stack([spots, np.full(len(spots), eye0[2])])])
    k = anchor.Ks[0].double().cpu().numpy()
    tan_x, tan_y = 0.9 * 0.5 * anchor.width / k[0, 0], 0.9 * 0.5 * anchor.height / k[1, 1]  # a 5 % margin
    best, best_score = eye0, -np.inf
    for eye in candidates:
        rays = points - eye
        if np.linalg.norm(rays, axis=-1).min() < 0.8:
            continue
        dist = float(np.linalg.norm(target - eye))
        forward = (target - eye) / dist
        right = np.cross(forward, [0.0, 0.0, 1.0])
        right /= max(np.linalg.norm(right), 1e-9)
        x, y, z = rays @ right, rays @ np.cross(forward, right), rays @ forward  # OpenCV camera axes
        in_view = (z > 0.1) & (np.abs(x) < tan_x * z) & (np.abs(y) < tan_y * z)
        score = float((_seen(eye, points, boxes) & in_view).mean()) - 0.05 * max(0.0, 1.5 - dist, dist - 4.0)
        if score > best_score + 1e-9:
            best, best_score = eye, score
    if best_score == -np.inf or np.linalg.norm(target[:2] - best[:2]) < 0.3:  # no spot, or straight down
        return anchor, focus
    view = look_at_cameras(torch.tensor(best[None], dtype=torch.float32), torch.tensor(target[None], dtype=torch.float32),
                           anchor.width, anchor.height).viewmats
    cam = Cameras(view.to(anchor.viewmats.device), anchor.Ks.clone(), anchor.width, anchor.height)  # the anchor's lens
    forward = cam.camtoworlds[0, :3, 2].double().cpu().numpy()
    return cam, max(float(np.dot(target - best, forward)), 1.0)


@dataclass(frozen=True)
class DynamicStagedScene(StagedScene):
    """A `StagedScene` over time (`DynamicProceduralWorld.stage`).

    Attributes:
        movers: what moves; times: ``[T]`` seconds of the frames; frame_poses: ``[T, M, 4, 4]``;
        holdout_times: ``[K]`` target times of the held-out views; holdout_poses: ``[K, M, 4, 4]``.
    """

    movers: tuple[Mover, ...] = ()
    times: tuple[float, ...] = ()
    frame_poses: np.ndarray | None = None
    holdout_times: tuple[float, ...] = ()
    holdout_poses: np.ndarray | None = None


class DynamicProceduralWorld(ProceduralWorld):
    """Procedural rooms with motions, rendered along Lyra's trajectories as the input video's time runs.

    Args:
        device, config: as `ProceduralWorld`.
        fps: frames per second of the input video (frame ``k`` at ``k / fps`` seconds).
        between: fraction of target times that lie strictly between two input frames.
        per_target: held-out views per target time (a decoder decodes one target time at a time).
        labels: also render the moving-object label maps (teachers and evaluation need them; a decoder
            reading the video does not).
    """

    name = "procedural_dynamic"

    def __init__(self, device: str | torch.device = "cpu", config: Any = None, fps: float = DEFAULT_FPS,
                 between: float = 0.5, per_target: int = 2, labels: bool = True) -> None:
        super().__init__(device, config)
        if not 0 <= between <= 1:
            raise ValueError(f"between: expected a fraction in [0, 1], got {between}")
        if isinstance(per_target, bool) or not isinstance(per_target, int) or per_target < 1:
            raise ValueError(f"per_target: expected a positive number of views, got {per_target!r}")
        frame_times(1, fps)  # validates fps
        self.fps, self.between, self.per_target, self.labels = float(fps), float(between), per_target, labels

    def stage(self, condition: Any, trajectories: Sequence[str] = TRAJECTORIES, *, seed: int,
              spec: VideoSpec = VideoSpec()) -> DynamicStagedScene:
        trajectories = check_trajectories(trajectories)
        times = frame_times(spec.num_frames, self.fps)
        dyn = generate_dynamic(condition, seed, times, fps=self.fps, config=self.config)
        world = dyn.world
        framing = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0x6672,)))
        cams, holdout, info = self._film(world, condition, seed, trajectories, spec,
                                         aim=lambda anchor, focus: frame_movers(anchor, focus, world, times, framing))
        targets = self.target_times(times, spec.num_holdout, np.random.default_rng(
            np.random.SeedSequence(seed, spawn_key=(0x7469,))))
        info = {**info, "fps": self.fps, "times": list(times), "layout_seed": dyn.layout_seed,
                "movers": [m.record() for m in world.movers]}
        holdout_poses = np.stack([np.stack([m.pose(t) for m in world.movers]) for t in targets]) if targets else None
        return DynamicStagedScene(world.gaussians, trajectories, cams, holdout, info, world.movers, times, dyn.poses,
                                  tuple(targets), holdout_poses)

    def target_times(self, times: Sequence[float], count: int, rng: np.random.Generator) -> list[float]:
        """Target times of ``count`` held-out views, ``per_target`` views each, seeded: an input time, or
        (``between``) a time between two of them (uniform in the middle 80 % of the interval)."""
        out: list[float] = []
        while len(out) < count:
            if len(times) > 1 and rng.random() < self.between:
                k = int(rng.integers(len(times) - 1))
                tau = float(times[k] + (times[k + 1] - times[k]) * rng.uniform(0.1, 0.9))
            else:
                tau = float(times[int(rng.integers(len(times)))])
            out += [tau] * self.per_target
        return out[:count]

    def shoot(self, staged: DynamicStagedScene) -> MultiViewVideo:
        """Render every trajectory frame at its time and every held-out view at its target time."""
        rest = staged.gaussians.to(self.device)
        v, t = len(staged.cameras), len(staged.times)
        frames, depths, labels = [[None] * t for _ in range(v)], [[None] * t for _ in range(v)], [[None] * t for _ in range(v)]
        for k in range(t):
            scene = pose_gaussians(rest, staged.movers, staged.frame_poses[k])
            cams = Cameras(torch.stack([c.viewmats[k] for c in staged.cameras]), torch.stack([c.Ks[k] for c in staged.cameras]),
                           staged.cameras[0].width, staged.cameras[0].height).to(self.device)
            out = render(scene, cams, "RGB+ED")
            lab = render_labels(scene, staged.movers, cams) if self.labels else None
            for i in range(v):
                frames[i][k], depths[i][k] = out.rgb[i].clamp(0, 1), out.depth[i]
                labels[i][k] = None if lab is None else lab[i]
        holdout = None
        if staged.holdout is not None:
            hcams = staged.holdout.to(self.device)
            rgb, depth, lab = [], [], []
            for j, tau in enumerate(staged.holdout_times):
                scene = pose_gaussians(rest, staged.movers, staged.holdout_poses[j])
                out = render(scene, hcams[j], "RGB+ED")
                rgb.append(out.rgb[0].clamp(0, 1))
                depth.append(out.depth[0])
                if self.labels:
                    lab.append(render_labels(scene, staged.movers, hcams[j])[0])
            holdout = HeldOutViews(torch.stack(rgb), hcams.viewmats, hcams.Ks, torch.stack(depth),
                                   torch.tensor(staged.holdout_times, dtype=torch.float64, device=self.device),
                                   torch.stack(lab) if lab else None)
        return MultiViewVideo(
            frames=torch.stack([torch.stack(f) for f in frames]),
            viewmats=torch.stack([c.viewmats for c in staged.cameras]).to(self.device),
            Ks=torch.stack([c.Ks for c in staged.cameras]).to(self.device),
            trajectories=staged.trajectories,
            depth=torch.stack([torch.stack(d) for d in depths]),
            holdout=holdout,
            info=staged.info,
            times=torch.tensor(staged.times, dtype=torch.float64, device=self.device),
            labels=torch.stack([torch.stack(lab) for lab in labels]) if self.labels else None,
        )


def make_dynamic_world(device: str | torch.device, spacing: float | None = None, fps: float = DEFAULT_FPS,
                       between: float = 0.5) -> DynamicProceduralWorld:
    """The dynamic teacher a checkpoint's ``world`` record names (see `lyra_sim.worlds.procedural_video.make_world`)."""
    cfg = procedural.ProceduralConfig() if spacing is None else procedural.ProceduralConfig(spacing=spacing)
    return DynamicProceduralWorld(device, cfg, fps=fps, between=between)


__all__ = ["DEFAULT_FPS", "DynamicProceduralWorld", "DynamicStagedScene", "frame_movers", "make_dynamic_world", "mover_paths",
           "render_labels"]
