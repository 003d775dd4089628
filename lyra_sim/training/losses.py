"""Losses of self-distillation, and the forward pass + loss of one step.

``mse · MSE + lpips · LPIPS + depth · SI-depth + depth_abs · relative depth error + gaussian_depth ·
per-Gaussian log-depth error + mover_position · moving objects' Gaussians' distance from where they are
at the target time + mover_fade · relative opacity of those that cannot get there + mover_depth · their ray
points' log-depth error + motion_mask · the motion gate's cross-entropy against the label maps + opacity · mean
opacity`` (the last only in the pruning stage, when training renders the top ``keep_ratio`` Gaussians
as inference does).
SI-depth compares rendered and world depth after per-image median / mean-absolute-deviation
normalization, with smooth L1, where the world model gives depth; it and the relative error see the
*rendered* (front-most) depth only. The per-Gaussian term (`gaussian_depth_loss`) puts every Gaussian,
before pruning, at the world's metric depth of its own pixel.

Dynamic distillation (a time-conditioned decoder, a teacher over time): each sample is decoded at
one of its held-out target times (seeded per sample) and supervised by the world's frames *at that
time*: its held-out views there, and the trajectory frames when it is an input time; pixels
showing a moving object weigh ``1 + loss.moving``.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ..cameras import Cameras, pixel_points
from ..decoder.codecs import LatentCodec
from ..decoder.model import GaussianBatch, normalize_times
from ..render import render
from .config import DistillConfig
from .teacher_cache import TeacherSample


def scale_invariant_depth_loss(pred: Tensor, target: Tensor) -> Tensor:
    """Smooth-L1 between depths normalized per image by median and mean absolute deviation.

    Args:
        pred, target: ``[C, H, W, 1]`` depths; pixels with ``target <= 0`` (no surface) are ignored.

    Returns:
        Scalar loss (0 when no pixel is valid).
    """
    valid = (target > 0).flatten(1)
    if not bool(valid.any()):
        return pred.sum() * 0

    def normalize(d: Tensor) -> Tensor:
        x = d.flatten(1)
        masked = x.masked_fill(~valid, float("nan"))
        med = masked.nanmedian(1, keepdim=True).values
        mad = (masked - med).abs().nanmean(1, keepdim=True).clamp_min(1e-6)
        return (x - med) / mad

    return F.smooth_l1_loss(normalize(pred)[valid], normalize(target)[valid])


def log_depth_l1(z: Tensor, target: Tensor, valid: Tensor) -> Tensor:
    """Mean ``|ln z - ln z*|`` over the ``valid`` entries (tensors of one shape); 0 when none is valid.

    Metric and symmetric in scale: 1.5x too far costs what 1.5x too near does. ``z`` is clamped at
    1 mm, so a point at or behind its camera costs a lot but finitely.
    """
    if not bool(valid.any()):
        return z.sum() * 0
    return (z.clamp_min(1e-3).log() - target.clamp_min(1e-3).log()).abs()[valid].mean()


def gaussian_depth_loss(means: Tensor, viewmats: Tensor, depth: Tensor, frames: Tensor, xs: Tensor, ys: Tensor,
                        keep: Tensor | None = None) -> Tensor:
    """Metric depth of *every* pixel-aligned Gaussian: its camera depth in the camera of the frame it comes from
    against the world's depth at its pixel (`log_depth_l1`).

    A loss on rendered depth sees only the front of each pixel's stack of Gaussians (every view and frame adds
    one), so Gaussians behind it may sit anywhere; this term supervises each one.

    Args:
        means: ``[V, Tg, Hg, Wg, 3]`` one sample's Gaussians (before pruning) in the decoder's output layout.
        viewmats: ``[V, T, 4, 4]``; depth: ``[V, T, H, W, 1]`` the world's camera depth (0: no surface).
        frames, xs, ys: `LyraDecoder.gaussian_pixels`: the frame ``[Tg]`` and pixel coordinates ``[Wg]``,
            ``[Hg]`` of the Gaussians.
        keep: ``[V, Tg, Hg, Wg]`` bool, Gaussians to supervise (None: all).
    """
    h, w = depth.shape[2:4]
    rows, cols = ys.floor().long().clamp(0, h - 1), xs.floor().long().clamp(0, w - 1)
    target = depth[:, frames][:, :, rows][:, :, :, cols, 0].float()  # [V, Tg, Hg, Wg]
    vm = viewmats[:, frames].float()  # [V, Tg, 4, 4]
    z = (means * vm[:, :, None, None, 2, :3]).sum(-1) + vm[:, :, None, None, 2, 3]
    valid = target > 0 if keep is None else (target > 0) & keep
    return log_depth_l1(z, target, valid)


REACH = 0.8
"""Fraction of the decoder's position offsets (``offsets · tanh(x)`` per axis) that counts as within reach: tanh
needs ever larger inputs as it nears 1."""
MIN_REACH = 0.01
"""Meters within which a carried point counts as reachable even without offsets (float error of a still object)."""


def mover_motion_loss(means: Tensor, opacities: Tensor, viewmats: Tensor, Ks: Tensor, depth: Tensor, labels: Tensor,
                      frames: Tensor, xs: Tensor, ys: Tensor, carry: Tensor, reach: float) -> tuple[Tensor, Tensor]:
    """Where a moving object's Gaussians from each frame belong at the target time: ``(position, fade)``.

    A Gaussian on an object's pixel (label ``m + 1``) sits, in the frame it comes from, on the world's surface point
    there; at the target time that point has moved with the object (``carry``). If the carried point lies within
    ``reach`` of the Gaussian's ray, the decoder can put the Gaussian there (depth along the ray plus its offsets):
    ``position`` is the mean L1 distance to it over the camera depth. If not, the Gaussian is a ghost of the object
    at another time and should vanish: ``fade`` is the mean opacity of those over the mean opacity of all the
    sample's Gaussians, a ratio that fading every Gaussian alike does not lower. Only pixels inside a label count
    (their 3 x 3 neighbourhood has one label): at a silhouette the world's depth blends in what lies behind.

    Args:
        means: ``[V, Tg, Hg, Wg, 3]``, opacities: ``[V, Tg, Hg, Wg]``: one sample's Gaussians before pruning.
        viewmats: ``[V, T, 4, 4]``; Ks: ``[V, T, 3, 3]``; depth: ``[V, T, H, W, 1]`` (0: no surface);
            labels: ``[V, T, H, W]`` int, ``m + 1`` where object ``m`` is shown, 0 elsewhere.
        frames, xs, ys: `LyraDecoder.gaussian_pixels`.
        carry: ``[Tg, M, 4, 4]``: object ``m``'s rigid motion from the time of Gaussian frame ``g`` to the target time.
        reach: meters a Gaussian can move off its ray.
    Returns:
        Two scalars, each 0 (with gradient) where no Gaussian of its kind exists.
    """
    h, w = depth.shape[2:4]
    rows, cols = ys.floor().long().clamp(0, h - 1), xs.floor().long().clamp(0, w - 1)
    lab = labels[:, frames].float()  # [V, Tg, H, W]
    flat = lab.reshape(-1, 1, h, w)
    interior = (F.max_pool2d(flat, 3, 1, 1) == flat) & (-F.max_pool2d(-flat, 3, 1, 1) == flat)
    interior = interior.reshape(lab.shape)[:, :, rows][:, :, :, cols]
    lab = lab[:, :, rows][:, :, :, cols].long()
    z = depth[:, frames][:, :, rows][:, :, :, cols, 0].float()  # [V, Tg, Hg, Wg]
    valid = (lab > 0) & interior & (z > 0)
    zero = means.sum() * 0
    if not bool(valid.any()):
        return zero, zero
    v, g, r, c = valid.nonzero(as_tuple=True)
    z = z[valid]
    c2w = torch.linalg.inv(viewmats[:, frames].double())[v, g].float()  # [N, 4, 4]
    p = pixel_points(xs[c], ys[r], z, Ks[:, frames].float()[v, g], c2w)
    move = carry.float()[g, lab[valid] - 1]  # [N, 4, 4]
    q = (move[:, :3, :3] @ p[..., None])[..., 0] + move[:, :3, 3]
    origin = c2w[:, :3, 3]
    ray = F.normalize(p - origin, dim=-1)
    rel = q - origin
    along = (rel * ray).sum(-1)
    off_ray = (rel - along[:, None] * ray).norm(dim=-1)
    reachable = (off_ray <= max(reach, MIN_REACH)) & (along > 0)
    position = ((means[valid] - q).abs().sum(-1) / z)[reachable].mean() if bool(reachable.any()) else zero
    fade = opacities[valid][~reachable].mean() / opacities.mean().clamp_min(1e-12) if bool((~reachable).any()) else zero
    return position, fade


class PerceptualLoss(torch.nn.Module):
    """LPIPS (Zhang et al. 2018) with a VGG backbone, from the ``lpips`` package (``pip install lpips``).

    Its linear calibration layers ship inside the package; the VGG16 ImageNet weights are fetched
    by torchvision into ``$TORCH_HOME/hub/checkpoints/vgg16-397923af.pth``, so on a machine
    without network access copy that file there first. Inputs ``[C, H, W, 3]`` in [0, 1].
    """

    def __init__(self, device: torch.device) -> None:
        super().__init__()
        try:
            import lpips
        except ImportError as err:
            raise ImportError(
                "loss.lpips > 0 needs the lpips package (pip install lpips) and torchvision's VGG16 weights "
                "(vgg16-397923af.pth in $TORCH_HOME/hub/checkpoints); set loss.lpips to 0 to train without it"
            ) from err
        self.net = lpips.LPIPS(net="vgg", verbose=False).to(device).eval().requires_grad_(False)

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        to_net = lambda x: x.permute(0, 3, 1, 2) * 2 - 1  # noqa: E731 - [C, 3, H, W] in [-1, 1]
        return self.net(to_net(pred), to_net(target)).mean()


def psnr_from_mse(mse: float) -> float:
    return float("inf") if mse <= 0 else -10 * math.log10(mse)


def _render_targets(sample: TeacherSample, teacher: Tensor, count: int, gen: torch.Generator) -> tuple[Cameras, Tensor, Tensor | None]:
    """Cameras, teacher RGB ``[C, H, W, 3]`` and depth ``[C, H, W, 1]`` (or None) to supervise one sample.

    ``count`` random trajectory frames (0: all) plus every held-out view.
    """
    v, t, h, w, _ = sample.frames.shape
    n = v * t
    pick = torch.randperm(n, generator=gen)[:count].sort().values if 0 < count < n else torch.arange(n)
    pick = pick.to(sample.frames.device)
    viewmats = torch.cat([sample.viewmats.reshape(n, 4, 4)[pick], sample.hold_viewmats])
    ks = torch.cat([sample.Ks.reshape(n, 3, 3)[pick], sample.hold_Ks])
    rgb = torch.cat([teacher.reshape(n, h, w, 3)[pick], sample.hold_frames])
    depth = None
    if sample.depth is not None and (sample.hold_depth is not None or sample.hold_frames.shape[0] == 0):
        hold_depth = sample.hold_depth if sample.hold_depth is not None else sample.depth.new_zeros(0, h, w, 1)
        depth = torch.cat([sample.depth.reshape(n, h, w, 1)[pick], hold_depth])
    return Cameras(viewmats.float(), ks.float(), w, h), rgb, depth


def pick_target(sample: TeacherSample, gen: torch.Generator) -> float:
    """One of a dynamic sample's held-out target times (seconds), drawn with ``gen``."""
    if sample.hold_times is None or sample.hold_times.numel() == 0:
        raise ValueError(f"scene {sample.seed}: dynamic distillation needs held-out views at target times "
                         "(video.num_holdout > 0)")
    distinct = torch.unique(sample.hold_times.cpu())
    return float(distinct[int(torch.randint(len(distinct), (1,), generator=gen))])


def depth_inputs(samples: Sequence[TeacherSample], gens: Sequence[torch.Generator], dropout: float) -> Tensor | None:
    """``[b, V, T, H, W]`` the depth a depth-input decoder reads: each sample's world depth, or zeros (unknown) with
    chance ``dropout`` (one draw from each sample's generator) or where the sample has none; None if no sample has
    depth left."""
    keep = [s.depth is not None and float(torch.rand((), generator=g)) >= dropout for s, g in zip(samples, gens)]
    if not any(keep):
        return None
    ref = next(s.depth for s, k in zip(samples, keep) if k)
    return torch.stack([s.depth[..., 0] if k else ref.new_zeros(ref.shape[:-1]) for s, k in zip(samples, keep)])


def _at_target(sample: TeacherSample, teacher: Tensor, tau: float) -> tuple[Cameras, Tensor, Tensor | None, Tensor, int]:
    """Cameras, teacher RGB, depth (or None) and moving masks of the views showing time ``tau``: the held-out
    views at ``tau`` and, when ``tau`` is an input time, every trajectory's frame at it. Also how many are
    trajectory frames (they come first)."""
    v, t, h, w, _ = sample.frames.shape
    frame = torch.nonzero((sample.times - tau).abs() < 1e-9).flatten()
    hold = torch.nonzero((sample.hold_times - tau).abs() < 1e-9).flatten()
    k = frame.numel() * v
    viewmats = torch.cat([sample.viewmats[:, frame].reshape(-1, 4, 4), sample.hold_viewmats[hold]])
    ks = torch.cat([sample.Ks[:, frame].reshape(-1, 3, 3), sample.hold_Ks[hold]])
    rgb = torch.cat([teacher[:, frame].reshape(-1, h, w, 3), sample.hold_frames[hold]])
    depth = None
    if sample.depth is not None and sample.hold_depth is not None:
        depth = torch.cat([sample.depth[:, frame].reshape(-1, h, w, 1), sample.hold_depth[hold]])
    moving = torch.zeros(len(rgb), h, w, device=rgb.device)
    if sample.labels is not None and sample.hold_labels is not None:
        moving = torch.cat([sample.labels[:, frame].reshape(-1, h, w), sample.hold_labels[hold]]).gt(0).float()
    return Cameras(viewmats.float(), ks.float(), w, h), rgb, depth, moving, k


def _gaussian_depth(model, latent_shape: torch.Size, batch: GaussianBatch, index: int, sample: TeacherSample,
                    tau: float | None) -> tuple[Tensor, Tensor]:
    """`gaussian_depth_loss` of one sample's Gaussians (sample ``index`` of ``batch``; ``latent_shape``:
    ``[b, V, C, T', h, w]``): ``(gaussian_depth, mover_depth)``.

    At a target time ``tau`` (dynamic), a moving object's Gaussians from frames at other times should have
    moved with it, away from their pixels' depth: only the static pixels of those frames count for the first.
    The second is over those moving ones alone, on their ray points (``means - offsets``; 0 without offsets)."""
    means = batch.means[index]
    zero = means.sum() * 0
    if sample.depth is None:
        return zero, zero
    frames, xs, ys = model.gaussian_pixels(latent_shape[3], latent_shape[4], latent_shape[5], means.device)
    layout = (latent_shape[1], len(frames), len(ys), len(xs), 3)
    keep = None
    if tau is not None and sample.labels is not None:
        h, w = sample.labels.shape[2:]
        rows, cols = ys.floor().long().clamp(0, h - 1), xs.floor().long().clamp(0, w - 1)
        static = sample.labels[:, frames][:, :, rows][:, :, :, cols] == 0
        same_time = (sample.times[frames] - tau).abs() < 1e-9
        keep = static | same_time[None, :, None, None]
    depth = gaussian_depth_loss(means.reshape(layout), sample.viewmats, sample.depth, frames, xs, ys, keep)
    if keep is None or batch.offsets is None:
        return depth, zero
    rays = (means - batch.offsets[index]).reshape(layout)
    return depth, gaussian_depth_loss(rays, sample.viewmats, sample.depth, frames, xs, ys, ~keep)


def motion_mask_loss(motion: Tensor, labels: Tensor, frames: Tensor, xs: Tensor, ys: Tensor) -> Tensor:
    """Balanced binary cross-entropy of the motion gate's ``motion [V, Tg, Hg, Wg]`` (probabilities) against whether
    each Gaussian's pixel shows a moving object in ``labels [V, T, H, W]`` (``> 0``): the mean over moving pixels
    and the mean over still ones, averaged (either alone where the other kind is absent)."""
    h, w = labels.shape[2:]
    rows, cols = ys.floor().long().clamp(0, h - 1), xs.floor().long().clamp(0, w - 1)
    moving = labels[:, frames][:, :, rows][:, :, :, cols] > 0
    m = motion.float().clamp(1e-6, 1 - 1e-6)
    parts = [-m[moving].log().mean()] if bool(moving.any()) else []
    if bool((~moving).any()):
        parts.append(-(1 - m[~moving]).log().mean())
    return torch.stack(parts).mean()


def _motion_mask(model, latent_shape: torch.Size, motion: Tensor, sample: TeacherSample) -> Tensor:
    """`motion_mask_loss` of one dynamic sample's Gaussians (shapes as `_gaussian_depth`)."""
    if sample.labels is None:
        raise ValueError(f"scene {sample.seed}: loss.motion_mask needs the teacher's label maps, which this sample "
                         "lacks; rebuild the teacher cache (--build-cache) or set loss.motion_mask to 0")
    frames, xs, ys = model.gaussian_pixels(latent_shape[3], latent_shape[4], latent_shape[5], motion.device)
    return motion_mask_loss(motion.reshape(latent_shape[1], len(frames), len(ys), len(xs)), sample.labels, frames, xs, ys)


def _mover_motion(model, latent_shape: torch.Size, means: Tensor, opacities: Tensor, sample: TeacherSample,
                  tau: float) -> tuple[Tensor, Tensor]:
    """`mover_motion_loss` of one dynamic sample decoded at target time ``tau`` (shapes as `_gaussian_depth`)."""
    zero = means.sum() * 0
    if sample.depth is None or sample.labels is None or not bool((sample.labels > 0).any()):
        return zero, zero
    if sample.poses is None or sample.hold_poses is None:
        raise ValueError(f"scene {sample.seed}: loss.mover_position / mover_fade need each moving object's poses, "
                         "which this teacher cache predates; rebuild it (--build-cache) or set both weights to 0")
    target = sample.hold_poses[int(torch.nonzero((sample.hold_times - tau).abs() < 1e-9)[0])]  # [M, 4, 4]
    frames, xs, ys = model.gaussian_pixels(latent_shape[3], latent_shape[4], latent_shape[5], means.device)
    carry = target[None] @ torch.linalg.inv(sample.poses[frames].double())  # [Tg, M, 4, 4]
    shape = (latent_shape[1], len(frames), len(ys), len(xs))
    return mover_motion_loss(means.reshape(*shape, 3), opacities.reshape(shape), sample.viewmats, sample.Ks,
                             sample.depth, sample.labels, frames, xs, ys, carry, REACH * model.config.offsets)


def distill_step_loss(
    model: torch.nn.Module, samples: Sequence[TeacherSample], codec: LatentCodec, config: DistillConfig,
    step: int, gens: Sequence[torch.Generator], perceptual: PerceptualLoss | None, device: torch.device,
) -> tuple[Tensor, dict[str, float]]:
    """Forward pass and loss of one step on this rank's samples; returns ``(loss, scalar metrics)``.

    ``gens`` holds one generator per sample (which frames it renders), seeded by the sample's
    index in the run so that the choice does not depend on how samples are spread over ranks.
    """
    frames = torch.stack([s.frames for s in samples])  # [b, V, T, H, W, 3]
    b, v, t, h, w, _ = frames.shape
    with torch.no_grad():
        latents = codec.encode(frames.reshape(b * v, t, h, w, 3))
        teacher = codec.decode(latents).reshape(b, v, t, h, w, 3)
        latents = latents.reshape(b, v, *latents.shape[1:])
        hold_teacher = [
            codec.decode(codec.encode(s.hold_frames[:, None]))[:, 0] if s.hold_frames.shape[0] else s.hold_frames
            for s in samples
        ]
    viewmats = torch.stack([s.viewmats for s in samples]).float()
    ks = torch.stack([s.Ks for s in samples]).float()
    use_bf16 = config.train.bf16 and device.type == "cuda"
    unwrapped = model.module if hasattr(model, "module") else model
    taus = [pick_target(s, g) for s, g in zip(samples, gens)] if config.dynamic else []
    depth_in = depth_inputs(samples, gens, config.train.depth_dropout) if unwrapped.config.depth_input else None
    time_args: tuple = (None, None)
    if config.dynamic:
        frame_t, target_t = normalize_times(torch.stack([s.times for s in samples]).double(),
                                            torch.tensor(taus, dtype=torch.float64, device=device))
        time_args = (frame_t.float(), target_t.float())
    with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_bf16):
        gaussians = model(latents, viewmats, ks, *time_args, depth_in)
    pruning = config.train.prune_start is not None and step >= config.train.prune_start
    lw = config.loss
    gauss_depth = [_gaussian_depth(unwrapped, latents.shape, gaussians, i, s, taus[i] if taus else None)
                   for i, s in enumerate(samples)] if lw.gaussian_depth > 0 or lw.mover_depth > 0 else []
    motion = [_mover_motion(unwrapped, latents.shape, gaussians.means[i], gaussians.opacities[i], s, taus[i])
              for i, s in enumerate(samples)] if config.dynamic and (lw.mover_position > 0 or lw.mover_fade > 0) else []
    masks = [_motion_mask(unwrapped, latents.shape, gaussians.motion[i], s) for i, s in enumerate(samples)] \
        if lw.motion_mask > 0 and gaussians.motion is not None else []
    # Opacity regularization acts on all Gaussians, so the ones pruning drops fade out, while
    # the renders see only the kept ones, as at inference.
    opacity = gaussians.opacities.mean()
    if pruning:
        gaussians = gaussians.prune(unwrapped.config.keep_ratio)

    total = torch.zeros((), device=device)
    sums = {"mse": 0.0, "mse_holdout": 0.0, "depth": 0.0, "lpips": 0.0, "gaussian_depth": 0.0,
            "mover_position": 0.0, "mover_fade": 0.0, "mover_depth": 0.0, "motion_mask": 0.0}
    for i, s in enumerate(samples):
        sample = replace(s, hold_frames=hold_teacher[i])
        if config.dynamic:
            cams, rgb_t, depth_t, moving, n_traj = _at_target(sample, teacher[i], taus[i])
            k = len(cams) - n_traj
        else:
            cams, rgb_t, depth_t = _render_targets(sample, teacher[i], config.train.render_views, gens[i])
            moving, k = None, sample.hold_frames.shape[0]
        want_depth = (lw.depth > 0 or lw.depth_abs > 0) and depth_t is not None
        out = render(gaussians.scene(i), cams, "RGB+ED" if want_depth else "RGB")
        sq = (out.rgb - rgb_t).pow(2)
        weighted = sq if moving is None or lw.moving == 0 else sq * (1 + lw.moving * moving[..., None])
        mse = weighted.mean()
        loss = lw.mse * mse
        if len(cams) > k:
            sums["mse"] += float(sq[: len(cams) - k].mean().detach())
        if k:
            sums["mse_holdout"] += float(sq[len(cams) - k :].mean().detach())
        if want_depth and lw.depth > 0:
            d = scale_invariant_depth_loss(out.depth, depth_t)
            loss = loss + lw.depth * d
            sums["depth"] += float(d.detach())
        if want_depth and lw.depth_abs > 0:
            valid = depth_t > 0
            rel = ((out.depth - depth_t).abs() / depth_t.clamp_min(1e-3))[valid]
            loss = loss + lw.depth_abs * (rel.mean() if rel.numel() else out.depth.sum() * 0)
        if gauss_depth:
            loss = loss + lw.gaussian_depth * gauss_depth[i][0] + lw.mover_depth * gauss_depth[i][1]
            sums["gaussian_depth"] += float(gauss_depth[i][0].detach())
            sums["mover_depth"] += float(gauss_depth[i][1].detach())
        if motion:
            loss = loss + lw.mover_position * motion[i][0] + lw.mover_fade * motion[i][1]
            sums["mover_position"] += float(motion[i][0].detach())
            sums["mover_fade"] += float(motion[i][1].detach())
        if masks:
            loss = loss + lw.motion_mask * masks[i]
            sums["motion_mask"] += float(masks[i].detach())
        if perceptual is not None and lw.lpips > 0:
            p = perceptual(out.rgb, rgb_t)
            loss = loss + lw.lpips * p
            sums["lpips"] += float(p.detach())
        total = total + loss / len(samples)
    if pruning and lw.opacity > 0:
        total = total + lw.opacity * opacity
    metrics = {k: v / len(samples) for k, v in sums.items()}
    metrics.update(opacity=float(opacity.detach()), gaussians=gaussians.num_gaussians, pruning=float(pruning))
    return total, metrics
