"""`lyra_sim.pipelines.describe`: manifest fields and the preview camera per world model."""

import math

import pytest
import torch

from lyra_sim.cameras import TRAJECTORIES, ViewConfig, look_at_cameras
from lyra_sim.manifest import sha256_file
from lyra_sim.pipelines.describe import (
    MODEL_PACKAGES,
    WORLD_FIELDS,
    diffusers_fields,
    generic_fields,
    object_boxes,
    procedural_fields,
)
from lyra_sim.video import MultiViewVideo, VideoSpec
from lyra_sim.worlds.procedural_video import make_world

VIEW = ViewConfig(width=40, height=30, fov_y_deg=60.0)
SMALL_ROOM = {"room": {"type": "kitchen", "size": [2.4, 2.0, 2.2]}, "objects": [{"kind": "table"}]}


def _video(info, v=2, t=2, w=32, h=24):
    eyes = torch.tensor([[1.0, -2.0, 1.2]]).expand(v * t, 3) + torch.arange(v * t, dtype=torch.float32)[:, None] * 0.1
    cams = look_at_cameras(eyes, torch.zeros(v * t, 3), w, h, fov_y_deg=50.0)
    return MultiViewVideo(torch.rand(v, t, h, w, 3), cams.viewmats.reshape(v, t, 4, 4), cams.Ks.reshape(v, t, 3, 3),
                          tuple(TRAJECTORIES[:v]), info=info)


def test_registry():
    assert set(WORLD_FIELDS) == {"procedural", "procedural_dynamic", "diffusers", "diffusers_video"}
    assert WORLD_FIELDS["procedural"] is procedural_fields and WORLD_FIELDS["diffusers"] is diffusers_fields
    with pytest.raises(TypeError):
        WORLD_FIELDS["mine"] = generic_fields  # read-only: a new world gets generic fields, not a patched table


def test_object_boxes():
    objects = [{"name": "a", "bbox": [[0, 0, 0], [1, 1, 1]]}, {"name": "b", "bbox": [[-1, -2, 0], [0, 0, 0.5]]}]
    assert object_boxes(objects) == [([0, 0, 0], [1, 1, 1]), ([-1, -2, 0], [0, 0, 0.5])]
    assert object_boxes([]) == []


# ----------------------------------------------------------------------------- procedural

@pytest.fixture(scope="module")
def procedural_video():
    spec = VideoSpec(num_frames=2, width=32, height=32)
    return make_world("procedural", "cpu", spacing=0.15).imagine(SMALL_ROOM, TRAJECTORIES, seed=3, spec=spec)


def test_procedural_fields_for_a_spec(procedural_video):
    fields, preview, images = procedural_fields(procedural_video, SMALL_ROOM, 3, VIEW)
    assert images == {}  # a room: no floor plan
    assert set(fields) == {"prompt", "seed", "world_model", "scene_spec", "bounds", "objects"}
    info = procedural_video.info
    assert fields["prompt"] is None and fields["seed"] == 3 and fields["world_model"] == info["world_model"]
    assert fields["scene_spec"] == info["scene_spec"] and fields["objects"] == info["objects"]
    assert fields["bounds"] == {"room": info["room_bounds"]}
    # the preview looks from the anchor along its viewing direction, at the preview's size and field of view
    anchor = procedural_video.cameras(0)[0]
    assert (preview.width, preview.height) == (40, 30)
    torch.testing.assert_close(preview.centers, anchor.centers, atol=1e-5, rtol=0)
    torch.testing.assert_close(preview.camtoworlds[:, :3, 2], anchor.camtoworlds[:, :3, 2], atol=1e-5, rtol=0)
    assert preview.Ks[0, 1, 1].item() == pytest.approx(15 / math.tan(math.radians(30)), rel=1e-5)


def test_procedural_fields_for_a_prompt_add_its_words(procedural_video):
    fields, _, images = procedural_fields(procedural_video, "a kitchen with a spaceship", 3, VIEW)
    assert set(fields) == {"prompt", "seed", "world_model", "scene_spec", "bounds", "objects", "understood", "unknown"}
    assert fields["prompt"] == "a kitchen with a spaceship"
    assert "kitchen" in fields["understood"] and fields["unknown"] == ["spaceship"]


def test_procedural_fields_without_room_bounds():
    fields, _, images = procedural_fields(_video({"world_model": {"name": "procedural"}}), {"room": {}}, 0, VIEW)
    assert fields["bounds"] == {} and fields["objects"] == [] and fields["scene_spec"] is None


# ----------------------------------------------------------------------------- diffusers

DIFFUSERS_INFO = {
    "world_model": {"name": "diffusers", "backend": "vace"},
    "condition": {"image": "generated", "prompt": "a red table"},
    "anchor": {"viewmat": torch.eye(4).tolist(), "K": torch.eye(3).tolist(), "width": 32, "height": 24},
    "depth": {"metric": True, "min": 0.5, "median": 2.0, "max": 6.0},
    "focus_distance": 2.0, "travel": 0.6, "cache": {"num_gaussians": 100, "coverage": {}},
}


def test_diffusers_fields_record_the_photo_the_video_and_the_packages(tmp_path):
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"not really a png")
    video = _video(DIFFUSERS_INFO)
    fields, preview, images = diffusers_fields(video, {"image": photo, "prompt": "a red table"}, 5, VIEW)
    assert set(fields) == {"prompt", "seed", "world_model", "condition", "video", "anchor_camera", "objects",
                           "model_packages"}
    assert fields["prompt"] == "a red table" and fields["seed"] == 5 and fields["objects"] == []
    assert fields["condition"] == {"image": str(photo), "image_sha256": sha256_file(photo), "prompt": "a red table",
                                   "anchor_from": "generated"}
    assert fields["video"] == {"trajectories": list(TRAJECTORIES[:2]), "num_frames": 2, "width": 32, "height": 24,
                               "travel": 0.6, "focus_distance": 2.0, "cache": DIFFUSERS_INFO["cache"],
                               "depth": DIFFUSERS_INFO["depth"]}
    assert fields["anchor_camera"] == DIFFUSERS_INFO["anchor"]
    assert "python" not in fields["model_packages"] and set(fields["model_packages"]) <= set(MODEL_PACKAGES)
    # the preview is the anchor camera rescaled to the preview's size: the photo's framing
    anchor = video.cameras(0)[0]
    assert torch.equal(preview.viewmats, anchor.viewmats) and (preview.width, preview.height) == (40, 30)
    torch.testing.assert_close(preview.Ks[0, 0], anchor.Ks[0, 0] * 40 / 32)
    torch.testing.assert_close(preview.Ks[0, 1], anchor.Ks[0, 1] * 30 / 24)
    assert preview.Ks[0, 2].tolist() == [0.0, 0.0, 1.0]


def test_diffusers_fields_from_a_prompt_only():
    fields, _, images = diffusers_fields(_video(DIFFUSERS_INFO), {"prompt": "a red table"}, 1, VIEW)
    assert fields["condition"]["image"] is None and fields["condition"]["image_sha256"] is None


# ----------------------------------------------------------------------------- generic

@pytest.mark.parametrize("condition, prompt", [("a prompt", "a prompt"), ({"prompt": "in a dict", "x": 1}, "in a dict"),
                                               ({"image": "photo.png"}, None), (42, None)])
def test_generic_fields(condition, prompt):
    video = _video({"world_model": {"name": "mine"}, "objects": [{"name": "o"}], "extra": "ignored"})
    fields, preview, images = generic_fields(video, condition, 7, VIEW)
    assert fields == {"prompt": prompt, "seed": 7, "world_model": {"name": "mine"}, "objects": [{"name": "o"}]}
    assert torch.equal(preview.viewmats, video.viewmats[0, :1]) and (preview.width, preview.height) == (40, 30)


def test_generic_fields_of_a_bare_video():
    fields, _, images = generic_fields(_video({}), "p", 0, VIEW)
    assert fields == {"prompt": "p", "seed": 0, "world_model": None, "objects": []}
