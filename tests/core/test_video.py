"""`lyra_sim.video`: VideoSpec, HeldOutViews and MultiViewVideo validate their shapes; accessors."""

import pytest
import torch

from lyra_sim.cameras import TRAJECTORIES, Cameras
from lyra_sim.video import HeldOutViews, MultiViewVideo, VideoSpec, WorldModel


def _video(v=2, t=3, h=4, w=5, **kw):
    viewmats = torch.eye(4).expand(v, t, 4, 4).clone()
    viewmats[..., 2, 3] = torch.arange(v * t, dtype=torch.float32).reshape(v, t)  # tell frames apart
    ks = torch.tensor([[10.0, 0, w / 2], [0, 10.0, h / 2], [0, 0, 1]]).expand(v, t, 3, 3).clone()
    args = dict(frames=torch.rand(v, t, h, w, 3), viewmats=viewmats, Ks=ks, trajectories=tuple(TRAJECTORIES[:v]))
    return MultiViewVideo(**{**args, **kw})


# ----------------------------------------------------------------------------- VideoSpec

def test_video_spec_defaults_are_valid():
    spec = VideoSpec()
    assert (spec.num_frames, spec.width, spec.height, spec.anchor) == (9, 256, 192, "corner")


@pytest.mark.parametrize("kw, match", [
    ({"num_frames": 0}, r"num_frames: expected a positive integer, got 0"),
    ({"num_frames": 1}, r"num_frames: expected >= 2 \(a trajectory\), got 1"),
    ({"num_frames": 2.0}, r"num_frames: expected a positive integer, got 2.0"),
    ({"width": -8}, r"width: expected a positive integer, got -8"),
    ({"height": "64"}, r"height: expected a positive integer, got '64'"),
    ({"num_holdout": -1}, r"num_holdout: expected a non-negative integer, got -1"),
    ({"num_holdout": 1.5}, r"num_holdout: expected a non-negative integer, got 1.5"),
    ({"fov_y_deg": 0.0}, r"fov_y_deg: expected a value in \(0, 180\), got 0.0"),
    ({"fov_y_deg": 180}, r"fov_y_deg: expected a value in \(0, 180\), got 180"),
    ({"fov_y_deg": float("nan")}, r"fov_y_deg: expected a value in \(0, 180\)"),
    ({"travel": 0.0}, r"travel: expected > 0, got 0.0"),
    ({"travel": float("nan")}, r"travel: expected > 0"),
    ({"anchor": "center"}, r"anchor: expected 'corner', 'random' or 'mixed', got 'center'"),
])
def test_video_spec_rejects_bad_values(kw, match):
    with pytest.raises(ValueError, match=match):
        VideoSpec(**kw)


def test_video_spec_rejects_bools():
    with pytest.raises(ValueError, match="width"):
        VideoSpec(width=True)


# ----------------------------------------------------------------------------- HeldOutViews

def test_held_out_views_accessors():
    k, h, w = 3, 6, 8
    views = HeldOutViews(torch.rand(k, h, w, 3), torch.eye(4).expand(k, 4, 4).clone(),
                         torch.eye(3).expand(k, 3, 3).clone(), torch.rand(k, h, w, 1))
    cams = views.cameras
    assert isinstance(cams, Cameras) and len(cams) == k and (cams.width, cams.height) == (w, h)
    assert torch.equal(cams.viewmats, views.viewmats) and torch.equal(cams.Ks, views.Ks)


@pytest.mark.parametrize("frames, viewmats, ks, depth, match", [
    ((3, 6, 8), (3, 4, 4), (3, 3, 3), None, r"holdout frames: expected \[K, H, W, 3\], got \[3, 6, 8\]"),
    ((3, 6, 8, 4), (3, 4, 4), (3, 3, 3), None, r"holdout frames: expected \[K, H, W, 3\], got \[3, 6, 8, 4\]"),
    ((3, 6, 8, 3), (2, 4, 4), (3, 3, 3), None, (r"holdout cameras: expected viewmats \[3, 4, 4\] and Ks \[3, 3, 3\] "
                                                r"for 3 frames, got \[2, 4, 4\] and \[3, 3, 3\]")),
    ((3, 6, 8, 3), (3, 4, 4), (3, 3, 4), None, r"holdout cameras"),
    ((3, 6, 8, 3), (3, 4, 4), (3, 3, 3), (3, 8, 6, 1), r"holdout depth: expected \[3, 6, 8, 1\], got \[3, 8, 6, 1\]"),
])
def test_held_out_views_validate_shapes(frames, viewmats, ks, depth, match):
    with pytest.raises(ValueError, match=match):
        HeldOutViews(torch.rand(frames), torch.rand(viewmats), torch.rand(ks),
                     None if depth is None else torch.rand(depth))


# ----------------------------------------------------------------------------- MultiViewVideo

def test_multi_view_video_accessors():
    video = _video(v=2, t=3, h=4, w=5)
    assert (video.num_views, video.num_frames) == (2, 3)
    assert video.info == {} and video.depth is None and video.latents is None and video.holdout is None
    cams = video.cameras(1)
    assert isinstance(cams, Cameras) and len(cams) == 3 and (cams.width, cams.height) == (5, 4)
    assert torch.equal(cams.viewmats, video.viewmats[1]) and torch.equal(cams.Ks, video.Ks[1])
    assert cams.viewmats[:, 2, 3].tolist() == [3.0, 4.0, 5.0]  # trajectory 1's frames, in order


def test_multi_view_video_info_is_per_instance():
    a, b = _video(), _video()
    a.info["seed"] = 1
    assert b.info == {}


def test_multi_view_video_takes_depth_latents_and_holdout():
    holdout = HeldOutViews(torch.rand(1, 4, 5, 3), torch.eye(4)[None], torch.eye(3)[None])
    video = _video(depth=torch.rand(2, 3, 4, 5, 1), latents=torch.rand(2, 16, 2, 1, 1), holdout=holdout,
                   info={"world_model": {"name": "x"}})
    assert video.holdout is holdout and video.latents.shape[1] == 16


@pytest.mark.parametrize("kw, match", [
    ({"frames": [[0.0]]}, r"frames: expected \[V, T, H, W, 3\], got list"),
    ({"frames": torch.rand(2, 3, 4, 5)}, r"frames: expected \[V, T, H, W, 3\], got \[2, 3, 4, 5\]"),
    ({"frames": torch.rand(2, 3, 4, 5, 1)}, r"frames: expected \[V, T, H, W, 3\], got \[2, 3, 4, 5, 1\]"),
    ({"viewmats": torch.rand(2, 2, 4, 4)}, (r"cameras do not match the frames: 2 views x 3 frames need viewmats "
                                            r"\[2, 3, 4, 4\] and Ks \[2, 3, 3, 3\], got \[2, 2, 4, 4\] and \[2, 3, 3, 3\]")),
    ({"Ks": torch.rand(2, 3, 4, 4)}, r"cameras do not match the frames"),
    ({"trajectories": ("left",)}, r"trajectories: 1 names for 2 views"),
    ({"depth": torch.rand(2, 3, 4, 5)}, r"depth: expected \[2, 3, 4, 5, 1\], got \[2, 3, 4, 5\]"),
    ({"latents": torch.rand(3, 16, 2, 1, 1)}, r"latents: expected \[2, C, T', h, w\], got \[3, 16, 2, 1, 1\]"),
    ({"latents": torch.rand(2, 16, 2, 1)}, r"latents: expected \[2, C, T', h, w\], got \[2, 16, 2, 1\]"),
])
def test_multi_view_video_validates(kw, match):
    with pytest.raises(ValueError, match=match):
        _video(**kw)


def test_world_model_protocol_is_structural():
    class Imaginer:
        name = "mine"

        def imagine(self, condition, trajectories=TRAJECTORIES, *, seed, spec=VideoSpec()):
            return _video()

    class Nameless:
        def imagine(self, condition, trajectories=TRAJECTORIES, *, seed, spec=VideoSpec()):
            return _video()

    assert isinstance(Imaginer(), WorldModel)
    assert not isinstance(Nameless(), WorldModel)
    assert not isinstance(object(), WorldModel)
