"""Dynamic scene directories (`lyra_sim.pipelines.dynamic`): scene4d/, the time-lapse and input videos, the manifest's
dynamic and motion records, same bytes on a rerun, nothing written on failure; the decoder path; videos over time."""

import imageio.v2 as imageio
import numpy as np
import pytest

from lyra_sim.cameras import ViewConfig
from lyra_sim.dynamic import read_scene4d
from lyra_sim.manifest import verify
from lyra_sim.pipelines import DecoderDynamicSource, ProceduralDynamicSource, generate_scene
from lyra_sim.pipelines.videos import render_video
from lyra_sim.ply import read_ply
from lyra_sim.worlds.procedural import ProceduralConfig

VIEW = ViewConfig(64, 48)
CFG = ProceduralConfig(spacing=0.08)


@pytest.fixture(scope="module")
def scene_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("dyn") / "scene"
    source = ProceduralDynamicSource("a living room with a person walking and a door swinging", 2, frames=3, fps=4.0,
                                     config=CFG)
    return out, generate_scene(out, source, view=VIEW), source


def test_the_directory_holds_scene4d_videos_and_records(scene_dir):
    out, manifest, _ = scene_dir
    assert sorted(p.name for p in out.iterdir()) == ["input.mp4", "manifest.json", "preview.mp4", "preview.png",
                                                     "scene.ply", "scene4d"]
    assert verify(out) == []
    d = manifest["dynamic"]
    assert d["times"] == [0.0, 0.25, 0.5] and d["fps"] == 4.0 and d["frames"] == 3 and d["duration_s"] == 0.5
    assert d["scene4d"]["files"] == ["t0000.ply", "t0001.ply", "t0002.ply"]
    assert (out / "scene.ply").read_bytes() == (out / "scene4d" / "t0000.ply").read_bytes()  # t = 0
    motions = {m["label"]: m for m in manifest["motions"]}
    assert set(motions) == {"person_0", "door_0.leaf"}
    assert np.array(motions["person_0"]["poses"]).shape == (3, 4, 4)
    assert motions["person_0"]["motion"]["path"] and motions["door_0.leaf"]["motion"]["amplitude"] > 0
    assert manifest["scene_spec"]["motions"][0]["object"] in ("person_0", "door_0")
    dyn = read_scene4d(out / "scene4d")
    assert dyn.label_names == tuple(manifest["label_names"]) and "door_0.leaf" in dyn.label_names
    person = dyn.label_names.index("person_0")
    moved = (dyn[2].means[dyn[2].labels == person] - dyn[0].means[dyn[0].labels == person]).norm(dim=-1)
    assert float(moved.min()) > 0.05  # walking at 0.8 m/s for half a second
    for name, frames in (("input.mp4", 3), ("preview.mp4", 3)):
        video = imageio.mimread(out / name)
        assert len(video) == frames, name
    assert imageio.mimread(out / "preview.mp4")[0].shape == (48, 64, 3)


def test_same_prompt_and_seed_same_bytes(scene_dir, tmp_path):
    out, manifest, source = scene_dir
    generate_scene(tmp_path / "again", source, view=VIEW)
    for name in [*manifest["files"], "manifest.json"]:  # the videos too (H.264 here is deterministic)
        assert (out / name).read_bytes() == (tmp_path / "again" / name).read_bytes(), name


def test_a_bad_motion_writes_nothing(tmp_path):
    spec = {"room": {"type": "plain", "size": [4.0, 4.0, 2.6]}, "objects": [{"kind": "cart"}],
            "motions": [{"kind": "drive", "object": "cart_1"}]}
    with pytest.raises(ValueError, match=r"'cart_1' is not an object of this scene"):
        generate_scene(tmp_path / "out", ProceduralDynamicSource(spec, 0, frames=2, config=CFG), view=VIEW)
    with pytest.raises(ValueError, match=r"frames: expected 1\.\.1024 times, got 0"):
        generate_scene(tmp_path / "out", ProceduralDynamicSource("a bouncing ball", 0, frames=0, config=CFG), view=VIEW)
    assert not (tmp_path / "out").exists()


def test_videos_run_time_or_freeze_it(scene_dir, tmp_path):
    out, _, _ = scene_dir
    lapse = render_video(out, tmp_path / "lapse.mp4", trajectory="still", frames=3, fps=4, view=VIEW, times=(0.0, 0.5))
    frames = imageio.mimread(lapse)
    assert len(frames) == 3 and not np.array_equal(frames[0], frames[2])  # the person moved
    frozen = imageio.mimread(render_video(out, tmp_path / "bullet.mp4", trajectory="still", frames=3, fps=4, view=VIEW,
                                          times=0.25))
    assert len(frozen) == 3 and np.abs(frozen[0].astype(int) - frozen[2]).max() <= 3  # the same frame (up to H.264)
    with pytest.raises(ValueError, match=r"times 2..2 s asked for, but the scene.s times are \[0, 0.5\] s"):
        render_video(out, tmp_path / "x.mp4", frames=2, view=VIEW, times=2.0)
    static = tmp_path / "static"
    static.mkdir()
    (static / "manifest.json").write_text((out / "manifest.json").read_text())
    with pytest.raises(ValueError, match="not a dynamic scene directory"):
        render_video(static, tmp_path / "y.mp4", trajectory="still", frames=2, view=VIEW, times=0.0)


def test_the_decoder_path_decodes_every_target_time(tiny_dynamic_decoder, tmp_path):
    manifest = generate_scene(tmp_path / "dec", DecoderDynamicSource("a bouncing ball", 0, frames=3,
                                                                     checkpoint=tiny_dynamic_decoder), view=VIEW)
    assert verify(tmp_path / "dec") == []
    assert manifest["dynamic"]["times"] == [0.0, 0.25, 0.5]  # 5 input frames at 8 fps
    assert manifest["world_model"]["name"] == "procedural_dynamic" and manifest["input_times"][-1] == 0.5
    assert manifest["decoder"]["config"]["time_embedding"] is True and manifest["motions"][0]["label"] == "ball_0"
    dyn = read_scene4d(tmp_path / "dec" / "scene4d")
    assert len(dyn) == 3 and len(dyn[0]) == manifest["num_gaussians"]
    assert read_ply(tmp_path / "dec" / "scene.ply").means.shape == dyn[0].means.shape
    with pytest.raises(ValueError, match="a static decoder"):
        from lyra_sim.decoder import DEFAULT_CHECKPOINT

        DecoderDynamicSource("a bouncing ball", 0, checkpoint=DEFAULT_CHECKPOINT).make(VIEW, lambda s: None)
