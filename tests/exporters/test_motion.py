"""Motion from the Gaussians (`lyra_sim.exporters.motion`): the moving parts of the dynamic box room and their
poses, found by label, by motion clustering and by change detection, against the ground truth of `_dynamic`."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from _dynamic import CART, box_room_dynamic
from lyra_sim.dynamic import DynamicScene
from lyra_sim.exporters.motion import MotionConfig, estimate_motion, kabsch
from lyra_sim.exporters.motion_track import MotionTrack, detect_loop, poses_to_tracks
from lyra_sim.scene import merge


def _errors(part, truth: np.ndarray) -> tuple[float, float]:
    """Largest centroid error (m) and rotation error (degrees) of a part's world motion against ``truth [T, 4, 4]``."""
    motions = part.poses @ np.linalg.inv(part.poses[0])
    c = part.poses[0][:3, 3]
    moved = motions[:, :3, :3] @ c + motions[:, :3, 3]
    true = truth[:, :3, :3] @ c + truth[:, :3, 3]
    rel = np.einsum("tij,tkj->tik", motions[:, :3, :3], truth[:, :3, :3])
    angle = np.degrees(np.arccos(np.clip((np.trace(rel, axis1=1, axis2=2) - 1) / 2, -1, 1)))
    return float(np.linalg.norm(moved - true, axis=1).max()), float(angle.max())


def _match(estimate, truth):
    """Each part with the ground-truth mover whose motion it follows best (by centroid error)."""
    return {p.name: min(truth.motions, key=lambda k: _errors(p, truth.motions[k])[0]) for p in estimate.parts}


def _redrawn(dynamic: DynamicScene, keep_labels: bool, seed: int = 0) -> DynamicScene:
    """Each time's Gaussians drawn anew (85 %, shuffled, 2 mm noise), as a decoder gives them: no correspondence."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for s in dynamic.scenes:
        s = s.select(torch.randperm(len(s), generator=g)[: int(0.85 * len(s))])
        s = replace(s, means=s.means + 0.002 * torch.randn(s.means.shape, generator=g))
        out.append(s if keep_labels else replace(s, labels=None, label_names=()))
    return DynamicScene(dynamic.times, tuple(out), dynamic.fps)


def test_kabsch_recovers_a_rigid_motion_exactly():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(50, 3))
    q = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    q *= np.sign(np.linalg.det(q))
    m = kabsch(a, a @ q.T + [1.0, -2.0, 0.5])
    np.testing.assert_allclose(m[:3, :3], q, atol=1e-12)
    np.testing.assert_allclose(m[:3, 3], [1.0, -2.0, 0.5], atol=1e-12)


def test_parts_by_label_have_exact_poses_and_the_static_part_keeps_the_rest():
    dynamic, truth = box_room_dynamic()
    est = estimate_motion(dynamic)
    assert est.segmentation == "labels" and est.correspondence
    assert [p.name for p in est.parts] == ["cart_0", "door_0.leaf"]
    for p in est.parts:
        assert p.method == "kabsch" and p.label == p.name
        t, r = _errors(p, truth.motions[p.name])
        assert t < 1e-5 and r < 1e-4
        # the part frame: centered on its Gaussians at the first time, world axes
        np.testing.assert_allclose(p.poses[0][:3, :3], np.eye(3))
        assert float(p.gaussians.means.double().mean(0).abs().max()) < 1e-5
    names = dynamic.label_names
    moving = [names.index("cart_0"), names.index("door_0.leaf")]
    assert len(est.static) + sum(len(p.gaussians) for p in est.parts) == len(dynamic[0])
    assert not bool(torch.isin(est.static.labels, torch.tensor(moving)).any())
    # one full period of both motions at 8 frames: going on from the last frame to the first is one more step
    assert [p.loop for p in est.parts] == ["wrap", "wrap"]


def test_parts_by_motion_clustering_without_labels():
    dynamic, truth = box_room_dynamic()
    unlabelled = DynamicScene(dynamic.times, tuple(replace(s, labels=None, label_names=()) for s in dynamic.scenes), dynamic.fps)
    est = estimate_motion(unlabelled)
    assert est.segmentation == "clustering" and [p.name for p in est.parts] == ["part_00", "part_01"]
    match = _match(est, truth)
    assert sorted(match.values()) == ["cart_0", "door_0.leaf"]
    cart = next(p for p in est.parts if match[p.name] == "cart_0")
    assert len(cart.gaussians) == int((dynamic[0].labels == dynamic.label_names.index("cart_0")).sum())
    for p in est.parts:
        t, r = _errors(p, truth.motions[match[p.name]])
        assert t < 1e-5 and r < 1e-4


def test_motion_clustering_keeps_a_body_of_separate_pieces_whole_under_jitter():
    """An imported sequence jitters every Gaussian a little at every time: a body whose pieces do not touch (the
    cart with a handle 30 cm above it, carried along) is still one part, and the door leaf another."""
    dynamic, truth = box_room_dynamic()
    first = dynamic[0]
    cart = torch.nonzero(first.labels == dynamic.label_names.index("cart_0")).flatten()
    handle = first.select(cart[:150])
    lifted = handle.means.double().numpy() + [0.0, 0.0, CART[1][2] - CART[0][2] + 0.3]  # 30 cm above the cart's top
    move = truth.motions["cart_0"] @ np.linalg.inv(truth.motions["cart_0"][0])
    g = torch.Generator().manual_seed(0)
    scenes = []
    for k, s in enumerate(dynamic.scenes):
        carried = replace(handle, means=torch.as_tensor(lifted @ move[k][:3, :3].T + move[k][:3, 3], dtype=torch.float32))
        s = merge([s, carried])
        scenes.append(replace(s, means=s.means + 0.002 * torch.randn(s.means.shape, generator=g), labels=None, label_names=()))
    est = estimate_motion(DynamicScene(dynamic.times, tuple(scenes), dynamic.fps))
    assert est.segmentation == "clustering" and len(est.parts) == 2
    match = _match(est, truth)
    assert sorted(match.values()) == ["cart_0", "door_0.leaf"]
    whole = next(p for p in est.parts if match[p.name] == "cart_0")
    assert len(whole.gaussians) == len(cart) + 150  # the cart and its handle
    for p in est.parts:
        t, r = _errors(p, truth.motions[match[p.name]])
        assert t < 0.005 and r < 0.5, (p.name, t, r)


@pytest.mark.parametrize("labels", [True, False], ids=["icp-by-label", "change-detection"])
def test_parts_of_redrawn_gaussians_are_tracked_by_icp(labels):
    dynamic, truth = box_room_dynamic()
    est = estimate_motion(_redrawn(dynamic, labels))
    assert not est.correspondence and est.segmentation == ("labels" if labels else "change")
    match = _match(est, truth)
    assert sorted(match.values()) == ["cart_0", "door_0.leaf"]
    for p in est.parts:
        assert p.method == "icp"
        t, r = _errors(p, truth.motions[match[p.name]])
        assert t < 0.01 and r < 1.0, (p.name, t, r)


def test_a_scene_where_nothing_moves_and_bad_input():
    dynamic, _ = box_room_dynamic()
    still = DynamicScene(dynamic.times[:3], (dynamic[0],) * 3, dynamic.fps)
    est = estimate_motion(still)
    assert est.parts == () and len(est.static) == len(dynamic[0])
    with pytest.raises(ValueError, match="at least 2 times"):
        estimate_motion(dynamic.select([0]))
    with pytest.raises(ValueError, match="move_tolerance"):
        MotionConfig(move_tolerance=0)
    with pytest.raises(ValueError, match="expected a DynamicScene"):
        estimate_motion(dynamic[0])


def test_same_scene_same_estimate():
    dynamic, _ = box_room_dynamic()
    a, b = estimate_motion(_redrawn(dynamic, True)), estimate_motion(_redrawn(dynamic, True))
    for p, q in zip(a.parts, b.parts):
        assert np.array_equal(p.poses, q.poses) and torch.equal(p.gaussians.means, q.gaussians.means)


def test_tracks_interpolate_and_loop():
    dynamic, truth = box_room_dynamic(frames=5, fps=4.0, period=4.0)  # 1 s of a 4 s motion: it ping-pongs
    part = estimate_motion(dynamic).parts[0]
    track = part.track(dynamic.times)
    assert track.loop == "pingpong" and track.period == pytest.approx(2.0)
    np.testing.assert_allclose(track.pose_at(np.array(dynamic.times)), part.poses, atol=1e-12)
    # halfway between two samples: the mean position (linear); back at the first sample after a period
    mid = track.pose_at(0.125)
    np.testing.assert_allclose(mid[:3, 3], (part.poses[0][:3, 3] + part.poses[1][:3, 3]) / 2, atol=1e-12)
    np.testing.assert_allclose(track.pose_at(2.0), part.poses[0], atol=1e-12)
    np.testing.assert_allclose(track.pose_at(1.25), track.pose_at(0.75), atol=1e-12)  # on the way back
    np.testing.assert_allclose(track.pose_at(-0.25), track.pose_at(0.25), atol=1e-12)
    # a wrap loop goes from the last sample to the first in one frame interval
    turn = np.stack([np.eye(4)] * 4)
    for k in range(4):
        c, s = np.cos(k * np.pi / 2), np.sin(k * np.pi / 2)
        turn[k, :2, :2] = [[c, -s], [s, c]]
    corners = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    assert detect_loop(turn, corners) == "wrap"
    spin = MotionTrack("rotor", np.arange(4) * 0.5, *poses_to_tracks(turn), "wrap")
    assert spin.period == pytest.approx(2.0)
    np.testing.assert_allclose(spin.pose_at(1.75)[:3, :3], turn[0][:3, :3] @ _rz(-np.pi / 4), atol=1e-12)
    with pytest.raises(ValueError, match="loop 'bounce'"):
        MotionTrack("x", np.arange(4.0), np.zeros((4, 3)), np.tile([1.0, 0, 0, 0], (4, 1)), "bounce")
    assert CART[0][2] == 0.0


def _rz(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])
