"""LyraScene-v0 over the diffusers world model: arguments reach it, and missing weights fail at make."""

import gymnasium as gym
import numpy as np
import pytest
from PIL import Image

import lyra_sim  # noqa: F401  (registers LyraScene-v0)
from lyra_sim.worlds.checkpoints import CheckpointError


@pytest.fixture()
def photo(tmp_path):
    path = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(path)
    return path


def test_missing_weights_fail_at_make_naming_what_to_download(photo, tmp_path, monkeypatch):
    monkeypatch.setenv("LYRA_SIM_CACHE", str(tmp_path / "cache"))
    with pytest.raises(CheckpointError, match="--video-model not given.*huggingface-cli download.*diffusers=.'video_model'"):
        gym.make("LyraScene-v0", image=str(photo), world="diffusers")
    with pytest.raises(CheckpointError, match="nope"):
        gym.make("LyraScene-v0", image=str(photo), world="diffusers",
                 diffusers={"video_model": str(tmp_path / "nope"), "depth_model": str(tmp_path / "nope")})
    bundles = tmp_path / "cache" / "bundles"
    assert not bundles.exists() or not [p for p in bundles.iterdir() if p.suffix != ".lock"]  # nothing half-built


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"world": "diffusers"}, "needs image="),
        ({"world": "diffusers", "scene": "x.ply", "prompt": "a room"}, "not scene="),
        ({"image": "photo.png"}, "needs world='diffusers'"),
        ({"world": "dreams", "prompt": "a room"}, "world: expected one of procedural, diffusers"),
        ({"prompt": "a room", "diffusers": {"video_model": "x"}}, "need world='diffusers'"),
    ],
)
def test_world_arguments_are_checked(kw, message):
    with pytest.raises(ValueError, match=message):
        gym.make("LyraScene-v0", **kw)
