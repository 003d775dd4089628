"""``lyra-sim generate --dynamic`` and ``lyra-sim render --time`` as a user runs them: the dynamic scene directory,
one-line errors with no output left behind, time-lapse and bullet-time videos."""

import imageio.v2 as imageio
import pytest

from lyra_sim.cli import main
from lyra_sim.dynamic import read_scene4d
from lyra_sim.manifest import read_manifest, verify

SMALL = ["--width", "64", "--height", "48", "-q"]


@pytest.fixture(scope="module")
def ball(tmp_path_factory):
    out = tmp_path_factory.mktemp("gen") / "ball"
    assert main(["generate", "a bouncing ball", "--dynamic", "--frames", "3", "--fps", "6", "--seed", "1", "--out",
                 str(out), *SMALL]) == 0
    return out


def test_generate_dynamic_writes_scene4d_and_videos(ball, capsys):
    assert verify(ball) == []
    manifest = read_manifest(ball)
    assert manifest["dynamic"]["times"] == [0.0, 1 / 6, 2 / 6] and manifest["dynamic"]["fps"] == 6.0
    assert [m["label"] for m in manifest["motions"]] == ["ball_0"] and manifest["motions"][0]["motion"]["kind"] == "bounce"
    assert manifest["world_model"]["dynamic"] is True and manifest["scene_spec"]["motions"][0]["object"] == "ball_0"
    assert len(read_scene4d(ball / "scene4d")) == 3
    assert {"input.mp4", "preview.mp4"} <= set(manifest["files"])


def test_render_time_lapse_and_bullet_time(ball, tmp_path, capsys):
    assert main(["render", str(ball), "--time", "0:0.33", "--trajectory", "orbit", "--frames", "4", "--out",
                 str(tmp_path / "v.mp4"), *SMALL]) == 0
    assert len(imageio.mimread(tmp_path / "v.mp4")) == 4
    assert main(["render", str(ball), "--time", "0.2", "--trajectory", "left", "--frames", "3", "--out",
                 str(tmp_path / "b.mp4"), *SMALL]) == 0
    capsys.readouterr()
    for bad, message in ((["--time", "soon"], "--time 'soon': expected seconds A:B"),
                         (["--time", "0:9"], "times 0..9 s asked for, but the scene's times are")):
        assert main(["render", str(ball), *bad, "--frames", "2", "--out", str(tmp_path / "x.mp4"), *SMALL]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err
    assert not (tmp_path / "x.mp4").exists()


@pytest.mark.parametrize("args, message", [
    (["a bouncing ball", "--dynamic", "--frames", "0"], "frames: expected 1..1024 times, got 0"),
    (["a bouncing ball", "--frames", "3"], "--frames and --fps are for dynamic scenes (--dynamic)"),
    (["a kitchen", "--dynamic", "--frames", "2"], "the scene has nothing that moves"),
    (["a kitchen with a spinning table", "--dynamic"], "'spinning' cannot apply to a table"),
    (["a bouncing ball", "--dynamic", "--decoder", "default"], "scripts/distill_dynamic_device.sh"),
    (["a bouncing ball", "--video", "clip.mp4"], "--video needs --world diffusers"),
])
def test_bad_input_is_one_line_and_no_output(args, message, tmp_path, capsys):
    if "--decoder" in args:
        from lyra_sim.decoder import DEFAULT_DYNAMIC_CHECKPOINT

        if DEFAULT_DYNAMIC_CHECKPOINT.is_file():
            pytest.skip("the dynamic decoder is installed")
    out = tmp_path / "out"
    assert main(["generate", *args, "--out", str(out), *SMALL]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err, err
    assert not out.exists()


def test_generate_dynamic_with_a_decoder_checkpoint(tiny_dynamic_decoder, tmp_path, capsys):
    out = tmp_path / "dec"
    assert main(["generate", "a bouncing ball", "--dynamic", "--decoder", str(tiny_dynamic_decoder), "--frames", "2",
                 "--out", str(out), *SMALL]) == 0
    manifest = read_manifest(out)
    assert verify(out) == [] and manifest["dynamic"]["times"] == [0.0, 0.5]
    assert manifest["decoder"]["checkpoint"] == tiny_dynamic_decoder.name
    assert "2 times over 0.50 s (scene4d/), moving: ball_0 bounce" in capsys.readouterr().out


def test_generate_from_a_video_with_local_models(tiny_models, tiny_clip, tiny_dynamic_decoder, tmp_path, capsys):
    pytest.importorskip("diffusers")
    assert main(["generate", "--video", str(tiny_clip), "--world", "diffusers", "--out", str(tmp_path / "none"),
                 *SMALL]) == 2  # no weights: one line naming each missing model
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--video-model DIR" in err and "--depth-model DIR" in err
    out = tmp_path / "lifted"
    assert main(["generate", "--video", str(tiny_clip), "--world", "diffusers", "--video-model", str(tiny_models["vace"]),
                 "--depth-model", str(tiny_models["depth"]), "--decoder", str(tiny_dynamic_decoder), "--steps", "1",
                 "--frames", "2", "--out", str(out), "--width", "32", "--height", "32"]) == 0
    assert verify(out) == [] and read_manifest(out)["world_model"]["name"] == "diffusers_video"
    assert f"Gaussians from video {tiny_clip} via WanVACEPipeline; 2 times" in capsys.readouterr().out


def test_the_manifest_says_when_the_decoder_read_the_worlds_depth(tiny_dynamic_decoder, tmp_path):
    from dataclasses import replace

    from lyra_sim.decoder import PRESETS, LyraDecoder, read_decoder_metadata, save_decoder

    _, extra = read_decoder_metadata(tiny_dynamic_decoder)  # the same video and world
    config = replace(PRESETS["tiny_dynamic"], depth_input=True, motion_gate=True)
    path = save_decoder(tmp_path / "depth.safetensors", LyraDecoder(config, seed=0), extra)
    out = tmp_path / "dec"
    assert main(["generate", "a bouncing ball", "--dynamic", "--decoder", str(path), "--frames", "2",
                 "--out", str(out), *SMALL]) == 0
    decoder = read_manifest(out)["decoder"]
    assert decoder["depth_input"] is True and decoder["config"]["motion_gate"] is True and verify(out) == []
