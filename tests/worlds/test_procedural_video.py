"""World models as video models: the procedural world rendered along Lyra's six trajectories."""

from __future__ import annotations

import pytest
import torch

from lyra_sim.cameras import TRAJECTORIES
from lyra_sim.video import MultiViewVideo, VideoSpec, WorldModel
from lyra_sim.worlds.procedural import ProceduralConfig
from lyra_sim.worlds.procedural_video import ProceduralWorld

SPEC = VideoSpec(num_frames=2, width=32, height=32, num_holdout=2, anchor="corner")


@pytest.fixture(scope="module")
def world():
    return ProceduralWorld(config=ProceduralConfig(spacing=0.08))


@pytest.fixture(scope="module")
def video(world):
    return world.imagine("an office with two desks", seed=7, spec=SPEC)


def test_protocol_and_shapes(world, video):
    assert isinstance(world, WorldModel)
    assert video.trajectories == TRAJECTORIES
    assert video.frames.shape == (6, 2, 32, 32, 3) and video.depth.shape == (6, 2, 32, 32, 1)
    assert video.viewmats.shape == (6, 2, 4, 4) and video.Ks.shape == (6, 2, 3, 3)
    assert float(video.frames.min()) >= 0 and float(video.frames.max()) <= 1
    assert float(video.frames.std()) > 0.02  # a room, not a blank image
    # Inside a closed room every pixel sees a surface.
    assert bool((video.depth > 0).all())
    assert video.info["world_model"]["name"] == "procedural" and video.info["seed"] == 7


def test_all_trajectories_start_at_the_anchor_and_move(video):
    for v in range(1, 6):
        torch.testing.assert_close(video.viewmats[v, 0], video.viewmats[0, 0])
        torch.testing.assert_close(video.frames[v, 0], video.frames[0, 0])
    centers = torch.linalg.inv(video.viewmats)[:, :, :3, 3]
    moved = (centers[:, 1] - centers[:, 0]).norm(dim=-1)
    assert bool((moved[:5] > 0.05).all())  # left, right, up, zoom out, zoom in end elsewhere
    assert float(moved[5]) < 1e-4  # clockwise: a full circle back to the anchor
    lo, hi = (torch.tensor(b) for b in video.info["room_bounds"])
    assert bool(((centers >= lo) & (centers <= hi)).all())


def test_holdout_views_are_novel(video):
    h = video.holdout
    assert h.frames.shape == (2, 32, 32, 3) and h.depth.shape == (2, 32, 32, 1)
    traj = video.viewmats.reshape(-1, 4, 4)
    for vm in h.viewmats:
        assert float((traj - vm).abs().amax(dim=(1, 2)).min()) > 1e-3
    assert h.cameras.width == 32


def test_same_seed_same_video_and_other_seed_differs(world):
    spec = VideoSpec(num_frames=2, width=16, height=16, anchor="random")
    a = world.imagine("a bedroom", ["up"], seed=3, spec=spec)
    b = world.imagine("a bedroom", ["up"], seed=3, spec=spec)
    c = world.imagine("a bedroom", ["up"], seed=4, spec=spec)
    assert torch.equal(a.frames, b.frames) and torch.equal(a.viewmats, b.viewmats)
    assert not torch.equal(a.viewmats, c.viewmats)


def test_bad_input_is_named(world, video):
    with pytest.raises(ValueError, match="cameras do not match the frames"):
        MultiViewVideo(video.frames, video.viewmats[:, :1], video.Ks, video.trajectories)
    with pytest.raises(ValueError, match="unknown"):
        world.imagine("a bedroom", ["sideways"], seed=0, spec=SPEC)
    with pytest.raises(ValueError, match="anchor"):
        VideoSpec(anchor="ceiling")
