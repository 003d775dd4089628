"""Dynamic self-distillation: the teacher over time (cached with times and label maps), a step decoded at a
held-out target time, fine-tuning from a static checkpoint, and the held-out evaluation beside the baselines."""

import json
import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from _training import CPU, tiny_dynamic_config, tiny_static_checkpoint
from lyra_sim.decoder import PRESETS, LyraDecoder, load_decoder
from lyra_sim.decoder.codecs import make_codec
from lyra_sim.decoder.model import GaussianBatch
from lyra_sim.training import build_cache, train
from lyra_sim.training.config import DistillConfig
from lyra_sim.training.dynamic_evaluation import (
    WITH_DEPTH,
    centre_errors,
    depth_ratios,
    evaluate_dynamic,
    format_dynamic_table,
    mover_depths,
    source_pixels,
)
from lyra_sim.training.losses import _gaussian_depth, _mover_motion, depth_inputs, distill_step_loss, pick_target
from lyra_sim.training.teacher_cache import TeacherSource, materialize, teacher_world


@pytest.fixture(scope="module")
def dynamic_cache(tmp_path_factory):
    path = tmp_path_factory.mktemp("teacher_dynamic")
    build_cache(tiny_dynamic_config(path / "unused", path), "train", CPU, log=lambda s: None)
    return path


def test_cached_dynamic_teacher_matches_the_rendered_one(dynamic_cache, tmp_path):
    config = tiny_dynamic_config(tmp_path, dynamic_cache)
    world = teacher_world(config.world, "cpu", config.data.between)
    cached = materialize(TeacherSource(config)[1], world, torch.device("cpu"))
    fresh = materialize(TeacherSource(replace(config, data=replace(config.data, cache_dir=None)))[1], world,
                        torch.device("cpu"))
    torch.testing.assert_close(cached.times, torch.tensor([0.0, 0.125, 0.25], dtype=torch.float64))
    for name in ("times", "hold_times", "labels", "hold_labels", "frames", "hold_frames"):
        torch.testing.assert_close(getattr(cached, name), getattr(fresh, name), msg=name)
    assert cached.labels.shape == (6, 3, 32, 32) and cached.hold_labels.shape == (2, 32, 32)
    assert len(torch.unique(cached.hold_times)) == 1  # two views per target time
    assert int(cached.labels.max()) == 1  # the cart is mover 1


def test_a_dynamic_step_decodes_at_a_target_time_and_trains_the_time_weights(dynamic_cache, tmp_path):
    config = tiny_dynamic_config(tmp_path, dynamic_cache)
    config = replace(config, loss=replace(config.loss, moving=4.0))
    world = teacher_world(config.world, "cpu")
    sample = materialize(TeacherSource(config)[0], world, torch.device("cpu"))
    gen = torch.Generator().manual_seed(0)
    assert pick_target(sample, gen) in sample.hold_times.tolist()
    model = LyraDecoder(config.decoder, seed=0)
    with torch.no_grad():  # make the time weights matter, then check they get gradients
        model.target_embed.weight.normal_(0, 0.01)
    codec = make_codec(config.codec)
    loss, metrics = distill_step_loss(model, [sample], codec, config, 0, [torch.Generator().manual_seed(0)], None,
                                      torch.device("cpu"))
    assert torch.isfinite(loss) and metrics["mse_holdout"] > 0
    metric_depth = replace(config, loss=replace(config.loss, depth_abs=1.0))
    with torch.no_grad():
        more, _ = distill_step_loss(model, [sample], codec, metric_depth, 0, [torch.Generator().manual_seed(0)], None,
                                    torch.device("cpu"))
    assert float(more) > float(loss) + 0.01  # the relative depth error adds to the loss
    loss.backward()
    for name in ("time_embed", "target_embed", "offset_head"):
        assert float(getattr(model, name).weight.grad.abs().max()) > 0, name
    no_holdout = replace(sample, hold_times=sample.hold_times[:0])
    with pytest.raises(ValueError, match="needs held-out views at target times"):
        pick_target(no_holdout, gen)


def test_gaussian_depth_term_supervises_every_gaussian_but_movers_at_other_times(dynamic_cache, tmp_path):
    config = tiny_dynamic_config(tmp_path, dynamic_cache)
    sample = materialize(TeacherSource(config)[1], teacher_world(config.world, "cpu"), torch.device("cpu"))
    model = LyraDecoder(config.decoder, seed=0)
    v, t, h, w, _ = sample.frames.shape
    shape = torch.Size([1, v, 0, t, h // 8, w // 8])  # latents [b, V, C, T', h, w] (temporal compression 1)
    frames, xs, ys = model.gaussian_pixels(t, h // 8, w // 8)
    rows, cols = ys.long(), xs.long()
    true = sample.depth[:, frames][:, :, rows][:, :, :, cols, 0]  # [V, Tg, Hg, Wg]
    ks = sample.Ks[:, frames][:, :, None, None]
    cam = torch.stack(torch.broadcast_tensors((xs - ks[..., 0, 2]) / ks[..., 0, 0] * true,
                                              (ys[:, None] - ks[..., 1, 2]) / ks[..., 1, 1] * true, true), -1)
    c2w = torch.linalg.inv(sample.viewmats[:, frames])[:, :, None, None]
    means = (c2w[..., :3, :3] @ cam[..., None])[..., 0] + c2w[..., :3, 3]  # on the world's surface at every pixel
    mover = sample.labels[:, frames][:, :, rows][:, :, :, cols] > 0
    assert bool(mover[:, 1].any()) and bool((true > 0).all())
    eye = c2w[..., :3, 3].expand_as(means)
    off = torch.where((mover & (frames == 1)[None, :, None, None])[..., None], eye + 2 * (means - eye), means)
    between = float(sample.times[0] + sample.times[1]) / 2

    def terms(points, at, offsets=None, labelled=sample):
        batch = GaussianBatch(points.reshape(1, -1, 3), *(torch.zeros(1, 0),) * 4,
                              None if offsets is None else offsets.reshape(1, -1, 3))
        return [float(x) for x in _gaussian_depth(model, shape, batch, 0, labelled, at)]

    assert terms(means, between)[0] < 1e-5
    # frame 1's mover Gaussians twice too far: ignored at a time between frames (the mover should have moved),
    # counted at frame 1's own time; a static teacher (no labels) counts them always
    assert terms(off, between)[0] < 1e-5
    n_at = mover.numel() - int(mover[:, [0, 2]].sum())  # frames 0 and 2 show the mover at other times
    assert terms(off, float(sample.times[1]))[0] == pytest.approx(math.log(2) * int(mover[:, 1].sum()) / n_at, rel=1e-4)
    static = terms(off, None, labelled=replace(sample, labels=None))[0]
    assert static == pytest.approx(math.log(2) * int(mover[:, 1].sum()) / mover.numel(), rel=1e-4)
    # mover_depth: those left-out Gaussians alone, on their ray points (means - offsets); 0 without offsets
    assert terms(off, between)[1] == 0.0
    zero = torch.zeros_like(off)
    assert terms(off, between, zero)[1] == pytest.approx(math.log(2) * int(mover[:, 1].sum()) / int(mover.sum()), rel=1e-4)
    carried = terms(off, between, off - means)  # the offsets explain the displacement: the rays sit on the surface
    assert carried[1] < 1e-5 and carried[0] < 1e-5
    at_1 = terms(off, float(sample.times[1]), zero)[1]  # at frame 1's time only frames 0 and 2 are left out
    assert at_1 < 1e-5

    # in a step: the term adds its weight times its value, and a step on it alone brings the depths closer
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    codec = make_codec(config.codec)
    weighted = replace(config, loss=replace(config.loss, gaussian_depth=2.0))

    def gen():
        return [torch.Generator().manual_seed(0)]

    with torch.no_grad():
        plain, _ = distill_step_loss(model, [sample], codec, config, 0, gen(), None, torch.device("cpu"))
    loss, metrics = distill_step_loss(model, [sample], codec, weighted, 0, gen(), None, torch.device("cpu"))
    assert metrics["gaussian_depth"] > 0.05
    assert float(loss.detach()) == pytest.approx(float(plain) + 2.0 * metrics["gaussian_depth"], rel=1e-5)
    movers = replace(config, loss=replace(config.loss, mover_depth=3.0))
    with torch.no_grad():
        loss_m, metrics_m = distill_step_loss(model, [sample], codec, movers, 0, gen(), None, torch.device("cpu"))
    assert metrics_m["mover_depth"] > 0.05
    assert float(loss_m) == pytest.approx(float(plain) + 3.0 * metrics_m["mover_depth"], rel=1e-5)
    only = replace(config, loss=replace(config.loss, mse=0.0, depth=0.0, depth_abs=0.0, opacity=0.0, gaussian_depth=1.0))
    before = metrics["gaussian_depth"]
    for _ in range(3):
        loss, metrics = distill_step_loss(model, [sample], codec, only, 0, gen(), None, torch.device("cpu"))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert metrics["gaussian_depth"] < 0.8 * before


def test_mover_terms_carry_each_movers_gaussians_to_the_target_time(dynamic_cache, tmp_path):
    config = tiny_dynamic_config(tmp_path, dynamic_cache)
    source = TeacherSource(config)
    sample = materialize(source[1], teacher_world(config.world, "cpu"), torch.device("cpu"))
    staged = TeacherSource(replace(config, data=replace(config.data, cache_dir=None)))[1][1]
    torch.testing.assert_close(sample.poses, torch.from_numpy(staged.frame_poses))  # cached as staged, float64
    torch.testing.assert_close(sample.hold_poses, torch.from_numpy(staged.holdout_poses))
    model = LyraDecoder(config.decoder, seed=0)
    v, t, h, w, _ = sample.frames.shape
    shape = torch.Size([1, v, 0, t, h // 8, w // 8])
    frames, xs, ys = model.gaussian_pixels(t, h // 8, w // 8)
    rows, cols = ys.long(), xs.long()
    true = sample.depth[:, frames][:, :, rows][:, :, :, cols, 0]
    ks = sample.Ks[:, frames][:, :, None, None]
    cam = torch.stack(torch.broadcast_tensors((xs - ks[..., 0, 2]) / ks[..., 0, 0] * true,
                                              (ys[:, None] - ks[..., 1, 2]) / ks[..., 1, 1] * true, true), -1)
    c2w = torch.linalg.inv(sample.viewmats[:, frames])[:, :, None, None]
    surface = (c2w[..., :3, :3] @ cam[..., None])[..., 0] + c2w[..., :3, 3]  # [V, Tg, Hg, Wg, 3]
    tau = float(sample.hold_times[0])
    target = sample.hold_poses[0, 0]
    carried = surface.clone()
    mover = sample.labels[:, frames][:, :, rows][:, :, :, cols] == 1
    for g in range(len(frames)):  # each frame's mover Gaussians moved with the cart to the target time
        move = (target @ torch.linalg.inv(sample.poses[frames[g], 0])).float()
        on = mover[:, g]
        carried[:, g][on] = surface[:, g][on] @ move[:3, :3].T + move[:3, 3]
    opacities = torch.full(surface.shape[:-1], 0.5)
    at_rest = _mover_motion(model, shape, surface.reshape(-1, 3), opacities.reshape(-1), sample, tau)
    moved = _mover_motion(model, shape, carried.reshape(-1, 3), opacities.reshape(-1), sample, tau)
    assert bool(mover.any()) and float(at_rest[0]) > 10 * float(moved[0])
    assert float(moved[0]) < 1e-5  # where the cart is at the target time: nothing left to pull
    assert float(moved[1]) == 0.0  # the cart travels 6.25 cm a frame: every frame's Gaussians are within reach
    short = LyraDecoder(replace(config.decoder, offsets=0.05), seed=0)  # reach 4 cm: frames 1 and 2 are ghosts
    position, fade = _mover_motion(short, shape, carried.reshape(-1, 3), opacities.reshape(-1), sample, tau)
    assert float(position) < 1e-5 and float(fade) == pytest.approx(1.0)  # as opaque as every other Gaussian
    with pytest.raises(ValueError, match="predates"):
        _mover_motion(model, shape, carried.reshape(-1, 3), opacities.reshape(-1), replace(sample, poses=None), tau)
    # in a step: both terms add their weights times their values
    codec = make_codec(config.codec)

    def gen():
        return [torch.Generator().manual_seed(0)]

    weighted = replace(config, loss=replace(config.loss, mover_position=2.0, mover_fade=3.0))
    with torch.no_grad():
        plain, _ = distill_step_loss(model, [sample], codec, config, 0, gen(), None, torch.device("cpu"))
        loss, metrics = distill_step_loss(model, [sample], codec, weighted, 0, gen(), None, torch.device("cpu"))
    assert metrics["mover_position"] > 0.01
    assert float(loss) == pytest.approx(float(plain) + 2.0 * metrics["mover_position"] + 3.0 * metrics["mover_fade"],
                                        rel=1e-5)


def test_fine_tuning_starts_from_a_static_checkpoint(dynamic_cache, tmp_path):
    init = tiny_static_checkpoint(tmp_path / "static.safetensors")
    config = tiny_dynamic_config(tmp_path / "run", dynamic_cache, steps=2, init_from=str(init))
    logs = []
    result = train(config, env=CPU, log=logs.append)
    assert any("6 weights of additions the checkpoint lacks, newly initialized: offset_head, target_embed, time_embed" in line for line in logs)
    static, _ = load_decoder(init)
    trained = result.model.state_dict()
    # two steps from the static weights: close to them, not random
    diff = max(float((trained[k] - v).abs().max()) for k, v in static.state_dict().items())
    assert diff < 0.1
    dyn, extra = load_decoder(result.out_dir / "decoder.safetensors")
    assert dyn.config == PRESETS["tiny_dynamic"] and extra["world"]["name"] == "procedural_dynamic"


def test_dynamic_config_must_pair_decoder_and_world(tmp_path):
    config = tiny_dynamic_config(tmp_path, None)
    with pytest.raises(ValueError, match="decoder.time_embedding and world.name disagree"):
        replace(config, decoder=PRESETS["tiny"])
    assert config.data.condition(1_000_000_000) == "a rolling ball"  # held-out seeds take the unseen prompts
    assert DistillConfig.load("configs/distill_dynamic_small.json").dynamic


def test_centre_error_is_exact_for_gaussians_on_the_true_surface(tmp_path):
    """Gaussians placed on the pixels' true points carried to the target time have zero centre error; 5 cm off, 5 cm.
    A mover's true surface is its own depth: at its silhouette the frame's expected depth blends in the background."""
    config = tiny_dynamic_config(tmp_path, None)
    config = replace(config, video=replace(config.video, width=64, height=64),
                     data=replace(config.data, conditions=("a corridor with a rolling cart",)))
    world = teacher_world(config.world, "cpu", between=1.0)
    staged = TeacherSource(config).world.stage("a corridor with a rolling cart", seed=0, spec=config.video)
    blended = world.shoot(staged)
    video = replace(blended, depth=mover_depths(staged, blended))
    on_mover = blended.labels > 0
    assert torch.equal(video.depth[~on_mover], blended.depth[~on_mover])
    gap = (blended.depth - video.depth)[..., 0][on_mover]
    assert float(gap.abs().median()) < 1e-3  # inside its silhouette the mover is all the pixel shows
    assert float(gap.max()) > 0.05  # at its edges the frame's depth lies behind the mover
    model = LyraDecoder(replace(PRESETS["tiny_dynamic"], gaussian_upsample=8), seed=0)  # one Gaussian per pixel
    v, t, h, w, _ = video.frames.shape
    sources = source_pixels(model, t, h // 8, w // 8, v)
    view, frame, px, py = sources
    depth = video.depth[view, frame, py.long(), px.long(), 0].double()
    c2w = torch.linalg.inv(video.viewmats[view, frame].double())
    k = video.Ks[view, frame].double()
    cam = torch.stack([(px - k[:, 0, 2]) / k[:, 0, 0] * depth, (py - k[:, 1, 2]) / k[:, 1, 1] * depth, depth], -1)
    pts = (c2w[:, :3, :3] @ cam[..., None])[..., 0] + c2w[:, :3, 3]
    # the depth scale: 1 on the surface at the source time, 1.5 for every Gaussian 1.5x as far along its ray
    n, eye = len(pts), c2w[:, :3, 3]
    for scale in (1.0, 1.5):
        at = GaussianBatch((eye + scale * (pts - eye)).float()[None], torch.zeros(1, n, 4), torch.ones(1, n, 3),
                           torch.ones(1, n), torch.zeros(1, n, 3))
        ratio, error, moving = depth_ratios(at, torch.arange(n), sources, torch.arange(t), video)
        assert ratio == pytest.approx(scale, rel=1e-4) and moving == pytest.approx(scale, rel=1e-4)
        assert error == pytest.approx(scale - 1, abs=1e-4)
    tau = float(video.holdout.times[0])
    mover = staged.movers[0]
    for f in range(t):
        on = frame == f
        rel = torch.from_numpy(mover.pose(tau) @ np.linalg.inv(mover.pose(float(video.times[f]))))
        pts[on] = pts[on] @ rel[:3, :3].T + rel[:3, 3]
    ones = torch.ones(1, n)
    batch = GaussianBatch(pts.float()[None], torch.zeros(1, n, 4), torch.ones(1, n, 3), ones, torch.zeros(1, n, 3))
    idx = torch.arange(n)
    errors = centre_errors(batch, idx, sources, torch.arange(t), video, staged.movers, tau)
    assert len(errors) == 1 and errors[0] < 1e-4
    assert centre_errors(batch, idx, sources, torch.arange(t), blended, staged.movers, tau)[0] > 1e-3  # biased
    shifted = replace(batch, means=batch.means + torch.tensor([0.05, 0.0, 0.0]))
    assert centre_errors(shifted, idx, sources, torch.arange(t), video, staged.movers, tau)[0] == pytest.approx(0.05, abs=1e-4)
    # Far outliers (a tenth of the mover's Gaussians 3 m off) move the centroid by 0.3 m, the medians by a tenth
    # of the mover's extent at most.
    outliers = batch.means.clone()
    outliers[0, ::10] += torch.tensor([0.0, 3.0, 0.0])
    far = replace(batch, means=outliers)
    mean_err = centre_errors(far, idx, sources, torch.arange(t), video, staged.movers, tau)[0]
    median_err = centre_errors(far, idx, sources, torch.arange(t), video, staged.movers, tau, "median")[0]
    assert mean_err == pytest.approx(0.3, abs=0.01) and median_err < 0.1
    shifted_median = centre_errors(shifted, idx, sources, torch.arange(t), video, staged.movers, tau, "median")[0]
    assert shifted_median == pytest.approx(0.05, abs=1e-3)
    with pytest.raises(ValueError, match="statistic: expected 'mean' or 'median'"):
        centre_errors(batch, idx, sources, torch.arange(t), video, staged.movers, tau, "mode")


@pytest.mark.gpu
def test_cuda_bf16_dynamic_fine_tuning_with_gsplat(dynamic_cache, tmp_path):
    """On the GPU: the dynamic teacher rendered by gsplat, bf16 autocast through the time embeddings, offsets in
    float32; a few steps from a static checkpoint, finite and falling; the teacher matches the CPU one."""
    pytest.importorskip("gsplat")
    from lyra_sim.training import DistEnv

    env = DistEnv(0, 1, 0, torch.device("cuda", 0))
    init = tiny_static_checkpoint(tmp_path / "static.safetensors")
    cfg = tiny_dynamic_config(tmp_path / "run", None, steps=8, bf16=True, device="cuda", init_from=str(init))
    cfg = replace(cfg, data=replace(cfg.data, train_scenes=1))
    result = train(cfg, log=lambda s: None, env=env)
    losses = [r["loss"] for r in result.history]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]
    world = teacher_world(cfg.world, "cuda")
    gpu = materialize(TeacherSource(cfg)[0], world, torch.device("cuda"))
    cpu = materialize(TeacherSource(cfg)[0], teacher_world(cfg.world, "cpu"), torch.device("cpu"))
    assert float((gpu.frames.cpu() - cpu.frames).abs().mean()) < 2e-3
    assert float((gpu.hold_labels.cpu() != cpu.hold_labels).float().mean()) < 0.01


def test_depth_inputs_keep_each_samples_world_depth_or_drop_it(dynamic_cache, tmp_path):
    config = tiny_dynamic_config(tmp_path, dynamic_cache)
    world = teacher_world(config.world, "cpu")
    samples = [materialize(TeacherSource(config)[i], world, torch.device("cpu")) for i in (0, 1)]
    gens = lambda: [torch.Generator().manual_seed(i) for i in (0, 1)]  # noqa: E731
    kept = depth_inputs(samples, gens(), 0.0)
    assert kept.shape == (2, *samples[0].depth.shape[:-1])
    assert all(torch.equal(kept[i], s.depth[..., 0]) for i, s in enumerate(samples))
    assert depth_inputs(samples, gens(), 1.0) is None
    # with one sample's depth dropped (here: missing), it reads zeros (unknown) and the other keeps its own
    mixed = depth_inputs([replace(samples[0], depth=None), samples[1]], gens(), 0.0)
    assert float(mixed[0].abs().max()) == 0.0 and torch.equal(mixed[1], samples[1].depth[..., 0])
    # the draw is one per sample from its own generator: about half of many seeds drop at 0.5
    dropped = sum(depth_inputs(samples[:1], [torch.Generator().manual_seed(s)], 0.5) is None for s in range(200))
    assert 70 < dropped < 130
    with pytest.raises(ValueError, match=r"train.depth_dropout: expected a probability in \[0, 1\]"):
        replace(config.train, depth_dropout=1.5)


def test_a_depth_input_decoder_fine_tunes_and_is_evaluated_with_and_without_the_worlds_depth(dynamic_cache, tmp_path):
    init = tiny_static_checkpoint(tmp_path / "static.safetensors")
    config = tiny_dynamic_config(tmp_path / "run", dynamic_cache, steps=2, init_from=str(init))
    config = replace(config, decoder=replace(config.decoder, depth_input=True),
                     train=replace(config.train, depth_dropout=0.5))
    logs = []
    result = train(config, env=CPU, log=logs.append)
    assert any("newly initialized: depth_embed, depth_gate, offset_head, target_embed, time_embed" in line
               for line in logs)
    assert all(np.isfinite(r["loss"]) for r in result.history)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config.to_dict()))
    rows = evaluate_dynamic(result.out_dir / "decoder.safetensors", path, baseline=init, scenes=1, log=lambda s: None)
    methods = {r.method for r in rows}
    assert methods == {"dynamic", WITH_DEPTH, "static per time", "static all frames"}
    by = {m: [r for r in rows if r.method == m] for m in methods}
    # reading the world's depth, the Gaussians sit at it (the gate starts open); from latents alone this barely
    # trained decoder's depth is its initial guess
    assert all(abs(r.depth_ratio - 1) < 0.02 for r in by[WITH_DEPTH])
    assert all(abs(r.depth_ratio - 1) > 0.1 for r in by["dynamic"])
    table = format_dynamic_table(rows, "cpu")
    assert table.index("| dynamic |") < table.index(f"| {WITH_DEPTH} |") < table.index("| static per time |")
