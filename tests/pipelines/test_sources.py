"""`lyra_sim.pipelines.sources`: the procedural world's own Gaussians, and Lyra's decoder over any world model."""

import math
from dataclasses import asdict

import pytest
import torch

from lyra_sim.cameras import TRAJECTORIES, Cameras, ViewConfig, look_at_cameras, room_view
from lyra_sim.decoder import PRESETS, LyraDecoder, save_decoder
from lyra_sim.manifest import read_manifest, sha256_file, verify
from lyra_sim.pipelines import DecoderSource, MadeScene, ProceduralSource, generate_scene
from lyra_sim.pipelines.describe import object_boxes
from lyra_sim.scene import GaussianScene
from lyra_sim.video import MultiViewVideo, VideoSpec, WorldModel
from lyra_sim.worlds import procedural

SMALL_ROOM = {"room": {"type": "kitchen", "size": [2.4, 2.0, 2.2]}, "objects": [{"kind": "table"}]}
VIEW = ViewConfig(width=40, height=30)
VIDEO = VideoSpec(num_frames=2, width=32, height=32)
EXTRA = {"codec": {"name": "s2d", "spatial_compression": 8, "temporal_compression": 1}, "video": asdict(VIDEO),
         "world": {"name": "procedural", "spacing": 0.15}}


class ToyWorld:
    """A world model of a few lines: seeded noise frames along cameras circling the origin."""

    name = "toy"

    def __init__(self):
        self.calls = []
        self.timings = {"toy_imagine": 0.5}

    def imagine(self, condition, trajectories=TRAJECTORIES, *, seed, spec=VideoSpec()):
        self.calls.append((condition, tuple(trajectories), seed, spec))
        v, t = len(trajectories), spec.num_frames
        g = torch.Generator().manual_seed(seed)
        angles = torch.arange(v * t, dtype=torch.float32) * (2 * math.pi / (v * t))
        eyes = torch.stack([2 * torch.cos(angles), 2 * torch.sin(angles), torch.full_like(angles, 1.0)], -1)
        cams = look_at_cameras(eyes, torch.zeros(v * t, 3), spec.width, spec.height, spec.fov_y_deg)
        return MultiViewVideo(
            frames=torch.rand(v, t, spec.height, spec.width, 3, generator=g),
            viewmats=cams.viewmats.reshape(v, t, 4, 4), Ks=cams.Ks.reshape(v, t, 3, 3), trajectories=tuple(trajectories),
            info={"world_model": {"name": "toy", "version": "0"}, "objects": [{"name": "blob"}]},
        )


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_decoder(tmp_path_factory.mktemp("ckpt") / "tiny.safetensors", LyraDecoder(PRESETS["tiny"], seed=0), EXTRA)


# ----------------------------------------------------------------------------- ProceduralSource

def test_procedural_source_makes_the_worlds_own_gaussians():
    stages = []
    made = ProceduralSource(SMALL_ROOM, 3).make(VIEW, stages.append)
    world = procedural.generate(SMALL_ROOM, seed=3)
    assert isinstance(made, MadeScene) and made.timings == {} and len(stages) == 1
    assert torch.equal(made.scene.means, world.gaussians.means) and torch.equal(made.scene.sh, world.gaussians.sh)
    expected_cam = room_view(world.room_bounds[0], world.room_bounds[1], object_boxes(world.objects), VIEW)
    assert torch.equal(made.preview.viewmats, expected_cam.viewmats) and (made.preview.width, made.preview.height) == (40, 30)
    assert set(made.fields) == {"prompt", "seed", "world_model", "scene_spec", "understood", "unknown", "bounds",
                                "objects"}
    assert made.fields["prompt"] is None and made.fields["scene_spec"] == world.spec.to_dict()
    assert made.fields["world_model"] == {"name": "procedural", "version": procedural.GENERATOR_VERSION}


def test_procedural_source_with_a_prompt_records_its_words():
    made = ProceduralSource("a small plain room with a table", 1).make(VIEW, lambda s: None)
    assert made.fields["prompt"] == "a small plain room with a table"
    assert made.fields["understood"] == ["a", "small", "plain", "room", "with", "a", "table"]
    assert made.fields["unknown"] == []


def test_procedural_source_errors_come_from_the_world():
    with pytest.raises(ValueError, match="seed"):
        ProceduralSource(SMALL_ROOM, -1).make(VIEW, lambda s: None)


# ----------------------------------------------------------------------------- DecoderSource over a custom world

def test_the_toy_world_is_a_world_model():
    assert isinstance(ToyWorld(), WorldModel)


def test_decoder_over_a_custom_world_gets_generic_fields(checkpoint):
    world = ToyWorld()
    stages = []
    made = DecoderSource("a toy prompt", 4, checkpoint, world=world).make(VIEW, stages.append)
    # the world was asked for Lyra's six trajectories in the checkpoint's video settings
    [(condition, trajectories, seed, spec)] = world.calls
    assert (condition, trajectories, seed) == ("a toy prompt", tuple(TRAJECTORIES), 4)
    assert (spec.num_frames, spec.width, spec.height, spec.num_holdout, spec.anchor) == (2, 32, 32, 0, "corner")
    assert isinstance(made.scene, GaussianScene)
    assert len(made.scene) == math.ceil(0.2 * 6 * LyraDecoder(PRESETS["tiny"]).gaussians_per_view(2, 4, 4))
    # generic fields: what the video's info says, plus the decoder's record
    assert set(made.fields) == {"prompt", "seed", "world_model", "objects", "decoder"}
    assert made.fields["prompt"] == "a toy prompt" and made.fields["seed"] == 4
    assert made.fields["world_model"] == {"name": "toy", "version": "0"} and made.fields["objects"] == [{"name": "blob"}]
    decoder = made.fields["decoder"]
    assert decoder["checkpoint"] == "tiny.safetensors" and decoder["sha256"] == sha256_file(checkpoint)
    assert decoder["config"] == PRESETS["tiny"].to_dict() and decoder["metadata"] == EXTRA and decoder["device"] == "cpu"
    # preview from the anchor view (trajectory 0, frame 0) at the preview's size, same field of view
    assert isinstance(made.preview, Cameras) and (made.preview.width, made.preview.height) == (40, 30)
    video = world.imagine("a toy prompt", TRAJECTORIES, seed=4, spec=spec)
    assert torch.equal(made.preview.viewmats[0], video.viewmats[0, 0])
    assert made.preview.Ks[0, 0, 0] / 40 == pytest.approx(video.Ks[0, 0, 0, 0].item() / 32)
    assert {"toy_imagine", "imagine", "encode", "decode"} <= set(made.timings)  # the world's own timings too
    assert any("toy world model" in s for s in stages)


def test_decoder_over_a_custom_world_writes_a_scene_directory(checkpoint, tmp_path):
    out = tmp_path / "scene"
    manifest = generate_scene(out, DecoderSource({"prompt": "a dict condition"}, 2, checkpoint, world=ToyWorld()),
                              view=VIEW)
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "preview.png", "scene.ply"]
    assert verify(out) == [] and read_manifest(out) == manifest
    assert manifest["prompt"] == "a dict condition" and manifest["world_model"]["name"] == "toy"
    assert manifest["decoder"]["checkpoint"] == "tiny.safetensors"
    # same inputs + seed -> same bytes
    generate_scene(tmp_path / "again", DecoderSource({"prompt": "a dict condition"}, 2, checkpoint, world=ToyWorld()),
                   view=VIEW)
    for name in ("scene.ply", "preview.png", "manifest.json"):
        assert (tmp_path / "again" / name).read_bytes() == (out / name).read_bytes(), name


def test_decoder_source_builds_the_checkpoints_world_by_default(checkpoint):
    made = DecoderSource(SMALL_ROOM, 3, checkpoint).make(VIEW, lambda s: None)
    assert made.fields["world_model"]["name"] == "procedural" and "scene_spec" in made.fields
    assert made.fields["bounds"]["room"] == [[-1.2, -1.0, 0.0], [1.2, 1.0, 2.2]]


def test_decoder_source_with_a_missing_checkpoint(tmp_path):
    world = ToyWorld()
    with pytest.raises(FileNotFoundError, match="no such decoder checkpoint"):
        DecoderSource("x", 0, tmp_path / "missing.safetensors", world=world).make(VIEW, lambda s: None)
    assert world.calls == []  # nothing imagined for a checkpoint that is not there
