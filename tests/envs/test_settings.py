"""`gym.make` arguments (`lyra_sim.envs.settings`): every bad one fails at make with a clear error, missing
diffusers weights included (nothing is half-built)."""

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from PIL import Image

import lyra_sim  # noqa: F401  (registers LyraScene-v0)
from _envs import make
from lyra_sim.envs import settings as settings_module
from lyra_sim.worlds.model_dirs import CheckpointError


def test_bad_arguments_fail_at_make(bundle, cache, tmp_path):
    with pytest.raises(TypeError, match="unexpected keyword"):
        make(bundle, colour="red")
    with pytest.raises(ValueError, match="unknown key .wheels.; accepted: radius"):
        make(bundle, agent={"radius": 0.2, "wheels": 3})
    with pytest.raises(ValueError, match="exactly one of prompt"):
        gym.make("LyraScene-v0")
    with pytest.raises(ValueError, match="agent radius"):
        make(bundle, agent={"radius": float("nan")})
    with pytest.raises(ValueError, match="action_type"):
        make(bundle, action_type="teleport")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        gym.make("LyraScene-v0", scene=str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="no walkable floor fits"):
        make(bundle, agent={"radius": 1.5})


def test_a_prompt_the_world_model_rejects_fails_at_make(cache):
    with pytest.raises(ValueError, match="prompt: empty"):
        gym.make("LyraScene-v0", prompt="", seed=0)
    assert not any((cache / "bundles").glob("[!.]*/manifest.json")) if (cache / "bundles").exists() else True


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


def test_env_settings_take_the_frame_of_an_imported_scene(tmp_path, monkeypatch):
    settings = settings_module.make_settings(scene=str(tmp_path / "x.spz"), up="auto", scale="auto")
    assert (settings.up, settings.scale) == ("auto", "auto")
    with pytest.raises(ValueError, match="need scene="):
        settings_module.make_settings(prompt="a kitchen", up="-y")
    with pytest.raises(ValueError, match="up: expected one of"):
        settings_module.make_settings(scene="x.ply", up="down")
    seen = {}
    monkeypatch.setattr(settings_module, "bundle_for_path", lambda value, **kwargs: seen.update(kwargs) or Path(value))
    settings_module.resolve_bundle("scene", "x.spz", settings)
    assert seen["up"] == "auto" and seen["scale"] == "auto"
