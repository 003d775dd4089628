"""``lyra-sim generate --world diffusers`` on tiny random models: missing weights are one line, a photo becomes a scene."""

import pytest

pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from lyra_sim.cli import main  # noqa: E402
from lyra_sim.manifest import verify  # noqa: E402


def test_cli_image_to_scene(tiny_models, tiny_photo, tiny_decoder, tmp_path, capsys):
    # Without weights: one line naming each missing model and its option; nothing written.
    assert main(["generate", "--image", str(tiny_photo), "--world", "diffusers", "--out", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--video-model DIR" in err and "--depth-model DIR" in err and "huggingface-cli" in err
    assert not (tmp_path / "none").exists()
    assert main(["generate", "--image", str(tiny_photo), "--out", str(tmp_path / "proc")]) == 2
    assert "--world diffusers" in capsys.readouterr().err
    out = tmp_path / "scene"
    assert main(["generate", "--image", str(tiny_photo), "--world", "diffusers", "--video-model", str(tiny_models["vace"]),
                 "--depth-model", str(tiny_models["depth"]), "--decoder", str(tiny_decoder), "--steps", "1",
                 "--width", "32", "--height", "32", "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert "Gaussians from image" in printed.out and "WanVACEPipeline" in printed.out and "timings: " in printed.err
    assert verify(out) == []
