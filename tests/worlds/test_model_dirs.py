"""Local model directories of the diffusers world (`lyra_sim.worlds.model_dirs`): errors that say what to download."""

import json
import shutil

import pytest

from lyra_sim.worlds.model_dirs import CheckpointError, check_all, check_checkpoint


def test_checkpoint_errors_say_what_to_download(tiny_models, tmp_path):
    with pytest.raises(CheckpointError) as err:
        check_all({"vace": None, "depth": tmp_path / "nope"})
    message = str(err.value)
    assert "\n" not in message
    assert "--video-model" in message and "Wan-AI/Wan2.1-VACE-1.3B-diffusers" in message
    assert "--depth-model" in message and "does not exist" in message and "preprocessor_config.json" in message
    with pytest.raises(CheckpointError, match="local directories only"):
        check_checkpoint("Wan-AI/Wan2.1-VACE-1.3B-diffusers", "vace")
    with pytest.raises(CheckpointError, match="holds a WanVideoToVideoPipeline checkpoint, but this needs WanVACEPipeline"):
        check_checkpoint(tiny_models["v2v"], "vace")
    with pytest.raises(CheckpointError, match="no model_index.json"):
        check_checkpoint(tiny_models["depth"], "vace")
    with pytest.raises(CheckpointError, match="not a depth-estimation model"):
        json_path = shutil.copytree(tiny_models["depth"], tmp_path / "notdepth") / "config.json"
        json_path.write_text(json.dumps({**json.loads(json_path.read_text()), "model_type": "vit"}))
        check_checkpoint(tmp_path / "notdepth", "depth")
    broken = shutil.copytree(tiny_models["vace"], tmp_path / "vace")
    for f in (broken / "transformer").glob("*.safetensors"):
        f.rename(f.with_suffix(".bin"))
    with pytest.raises(CheckpointError, match=r"transformer/ has no \*.safetensors weights \(pickled weights are not loaded\)"):
        check_checkpoint(broken, "vace")
