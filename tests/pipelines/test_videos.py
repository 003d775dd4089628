"""`lyra_sim.pipelines.videos`: camera paths for ``lyra-sim render`` and the video file itself."""

import math

import numpy as np
import pytest
import torch
from PIL import Image

from lyra_sim.cameras import TRAJECTORIES, Cameras, ViewConfig, room_view
from lyra_sim.manifest import read_manifest
from lyra_sim.pipelines import ProceduralSource, generate_scene
from lyra_sim.pipelines.describe import object_boxes
from lyra_sim.pipelines.videos import render_video, trajectory_cameras

SMALL_ROOM = {"room": {"type": "kitchen", "size": [2.4, 2.0, 2.2]}, "objects": [{"kind": "table"}]}
VIEW = ViewConfig(width=32, height=24)


@pytest.fixture(scope="module")
def scene_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("video") / "scene"
    generate_scene(out, ProceduralSource(SMALL_ROOM, 3), view=VIEW)
    return out


@pytest.fixture(scope="module")
def manifest(scene_dir):
    return read_manifest(scene_dir)


# ----------------------------------------------------------------------------- trajectory_cameras

def test_unknown_trajectory_names_the_accepted_ones(manifest):
    with pytest.raises(ValueError, match=r"^unknown trajectory 'spin'; accepted: orbit, still, " + ", ".join(TRAJECTORIES) + "$"):
        trajectory_cameras(manifest, "spin", 4, VIEW)


@pytest.mark.parametrize("frames", [1, 0, -3, 10_001, 2.0])
def test_a_path_needs_two_to_ten_thousand_frames(manifest, frames):
    with pytest.raises(ValueError, match=rf"^frames: expected an integer in \[2, 10000\], got {frames}$"):
        trajectory_cameras(manifest, "orbit", frames, VIEW)


def _anchor(manifest):
    lo, hi = manifest["bounds"]["room"]
    return room_view(lo, hi, object_boxes(manifest["objects"]), VIEW)


def test_orbit_circles_the_room_center_at_eye_height(manifest):
    cams = trajectory_cameras(manifest, "orbit", 8, VIEW)
    assert isinstance(cams, Cameras) and len(cams) == 8 and (cams.width, cams.height) == (32, 24)
    lo, hi = (np.asarray(b) for b in manifest["bounds"]["room"])
    eyes = cams.centers.numpy()
    anchor = _anchor(manifest)
    center = (lo + hi) / 2
    np.testing.assert_allclose(np.hypot(*(eyes[:, :2] - center[:2]).T), 0.25 * min(hi[:2] - lo[:2]), atol=1e-5)
    np.testing.assert_allclose(eyes[:, 2], float(anchor.centers[0, 2]), atol=1e-5)
    assert ((eyes > lo) & (eyes < hi)).all()
    np.testing.assert_allclose(cams.Ks[:, 1, 1], anchor.Ks[0, 1, 1].item(), rtol=1e-5)  # the preview's field of view
    angles = np.unwrap(np.arctan2(eyes[:, 1] - center[1], eyes[:, 0] - center[0]))
    np.testing.assert_allclose(np.diff(angles), 2 * math.pi / 8, atol=1e-5)  # evenly, once around


@pytest.mark.parametrize("kind", TRAJECTORIES)
def test_lyra_trajectories_start_at_the_preview_view(manifest, kind):
    cams = trajectory_cameras(manifest, kind, 5, VIEW)
    anchor = _anchor(manifest)
    assert len(cams) == 5
    torch.testing.assert_close(cams.viewmats[0], anchor.viewmats[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(cams.Ks, anchor.Ks.expand(5, 3, 3))
    assert not torch.allclose(cams.viewmats[-1], cams.viewmats[0])  # it moves


CAPTURE = {"bounds": {"gaussians": [[-3.0, -2.0, -1.0], [3.0, 2.0, 1.0]], "collision": [[-1.0, -2.0, 0.0], [1.0, 2.0, 2.0]]}}
"""A bundle of an imported capture: bounds only (no room, no preview camera); the collision box leaves floaters out."""


def _forward_hits(cams: Cameras, point: np.ndarray) -> np.ndarray:
    """Per camera, the angle (radians) between its optical axis and the direction to ``point``."""
    c2w = cams.camtoworlds.double().numpy()
    to = point - c2w[:, :3, 3]
    to /= np.linalg.norm(to, axis=1, keepdims=True)
    return np.arccos(np.clip((c2w[:, :3, 2] * to).sum(1), -1, 1))


def test_a_capture_bundle_is_orbited_from_outside():
    center = np.array([0.0, 0.0, 1.0])  # of the collision box
    cams = trajectory_cameras(CAPTURE, "orbit", 8, VIEW)
    eyes = cams.centers.double().numpy()
    radius = np.hypot(eyes[:, 0], eyes[:, 1])
    assert np.allclose(eyes[:, 2], eyes[0, 2], atol=1e-5) and eyes[0, 2] > 2.0  # one height, above the box
    assert np.allclose(radius, radius[0], rtol=1e-5) and radius[0] > np.hypot(1.0, 2.0)  # a circle outside it
    assert np.all(_forward_hits(cams, center) < 1e-3)  # always looking at its center
    angles = np.unwrap(np.arctan2(eyes[:, 1], eyes[:, 0]))
    assert np.allclose(np.diff(angles), 2 * math.pi / 8, atol=1e-4)  # evenly around, one way
    still = trajectory_cameras(CAPTURE, "still", 3, VIEW)
    assert torch.equal(still.viewmats[0], still.viewmats[2]) and torch.allclose(still.viewmats[0], cams.viewmats[0], atol=1e-5)
    zoom = trajectory_cameras(CAPTURE, "zoom_in", 4, VIEW)
    assert torch.allclose(zoom.viewmats[0], cams.viewmats[0], atol=1e-5)  # Lyra's paths start at the same view
    only_gaussians = {"bounds": {"gaussians": CAPTURE["bounds"]["gaussians"]}}
    assert np.all(_forward_hits(trajectory_cameras(only_gaussians, "orbit", 4, VIEW), np.zeros(3)) < 1e-3)
    with pytest.raises(ValueError, match="neither room bounds nor a preview camera"):
        trajectory_cameras({"bounds": {}}, "orbit", 4, VIEW)
    with pytest.raises(ValueError, match="no preview camera to hold still and no bounds"):
        trajectory_cameras({}, "still", 4, VIEW)


# ----------------------------------------------------------------------------- render_video

def test_a_two_frame_gif(scene_dir, tmp_path):
    out = tmp_path / "clip.gif"
    progress = []
    assert render_video(scene_dir, out, trajectory="left", frames=2, fps=10, view=VIEW,
                        progress=lambda done, total: progress.append((done, total))) == out
    assert progress == [(1, 2), (2, 2)]
    assert [p.name for p in tmp_path.iterdir()] == ["clip.gif"]  # written through a temp file, renamed
    with Image.open(out) as gif:
        assert gif.format == "GIF" and gif.size == (32, 24) and gif.n_frames == 2
        assert gif.info["duration"] == 100 and gif.info["loop"] == 0
        frames = []
        for i in range(2):
            gif.seek(i)
            frames.append(np.asarray(gif.convert("RGB"), dtype=np.int16))
    assert frames[0].std() > 5 and np.abs(frames[0] - frames[1]).mean() > 0.5  # a room, seen from two places
    # frame 0 is the preview view: it matches preview.png up to the GIF palette
    preview = np.asarray(Image.open(scene_dir / "preview.png").convert("RGB"), dtype=np.int16)
    assert np.abs(frames[0] - preview).mean() < 12
    again = tmp_path / "again.gif"
    render_video(scene_dir, again, trajectory="left", frames=2, fps=10, view=VIEW)
    assert again.read_bytes() == out.read_bytes()


def test_render_video_errors(scene_dir, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"the directory .*missing does not exist"):
        render_video(scene_dir, tmp_path / "missing" / "clip.gif", frames=2, view=VIEW)
    with pytest.raises(FileNotFoundError, match="no manifest.json"):
        render_video(tmp_path, tmp_path / "clip.gif", frames=2, view=VIEW)
    with pytest.raises(ValueError, match="unknown trajectory"):
        render_video(scene_dir, tmp_path / "clip.gif", trajectory="sideways", frames=2, view=VIEW)
    with pytest.raises(ValueError, match=r"a file; render takes a scene directory .* lyra-sim export .*scene.ply --out DIR"):
        render_video(scene_dir / "scene.ply", tmp_path / "clip.gif", frames=2, view=VIEW)
    assert [p.name for p in tmp_path.iterdir()] == []
