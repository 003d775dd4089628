"""`lyra_sim.training.teacher_cache`: the world's frames as supervision, cached or rendered on the fly."""

import json
from dataclasses import asdict, replace
from pathlib import Path

import pytest
import torch
from _training import CPU, tiny_config
from safetensors import safe_open
from safetensors.torch import save_file

from lyra_sim.training import build_cache
from lyra_sim.training.teacher_cache import (
    CACHE_FORMAT,
    TeacherSample,
    TeacherSource,
    cache_path,
    materialize,
    read_cached,
    teacher_world,
)
from lyra_sim.worlds.procedural_video import ProceduralWorld, StagedScene

V, T, HW, K = 6, 2, 32, 1  # the tiny config: six trajectories of 2 frames at 32 x 32, one held-out view


@pytest.fixture()
def config(tmp_path, cache):
    return tiny_config(tmp_path / "run", cache)


def test_cache_path_naming():
    assert cache_path("/data/cache", 7) == Path("/data/cache/scene_0000000007.safetensors")
    assert cache_path(Path("c"), 1_000_000_000).name == "scene_1000000000.safetensors"


def test_build_cache_writes_one_file_per_seed_with_the_run_settings(cache, config):
    assert sorted(p.name for p in cache.iterdir()) == ["scene_0000000000.safetensors", "scene_0000000001.safetensors"]
    expected = TeacherSource(config).meta
    assert json.loads(expected) == {"video": asdict(config.video), "world": {"name": "procedural", "spacing": 0.15, "fps": None}}
    for seed in (0, 1):
        with safe_open(str(cache_path(cache, seed)), framework="pt") as f:
            meta = f.metadata()
            assert meta["format"] == CACHE_FORMAT and meta["settings"] == expected
            info = json.loads(meta["info"])
            assert info["seed"] == seed and info["condition"] == config.data.condition(seed)
            shapes = {k: (tuple(f.get_slice(k).get_shape()), f.get_slice(k).get_dtype()) for k in f.keys()}
    assert shapes == {
        "frames": ((V, T, HW, HW, 3), "U8"), "depth": ((V, T, HW, HW, 1), "F16"),
        "viewmats": ((V, T, 4, 4), "F32"), "Ks": ((V, T, 3, 3), "F32"),
        "hold_frames": ((K, HW, HW, 3), "U8"), "hold_depth": ((K, HW, HW, 1), "F16"),
        "hold_viewmats": ((K, 4, 4), "F32"), "hold_Ks": ((K, 3, 3), "F32"),
    }


def test_build_cache_keeps_files_already_there(cache, config):
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in cache.iterdir()}
    assert build_cache(config, "train", CPU, log=lambda s: None) == cache
    assert {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in cache.iterdir()} == before


def test_build_cache_errors(config):
    with pytest.raises(ValueError, match="data.cache_dir: set it to build a cache"):
        build_cache(replace(config, data=replace(config.data, cache_dir=None)), "train", CPU)
    with pytest.raises(ValueError, match=r"data.train_scenes: a cache needs a finite number of training scenes"):
        build_cache(replace(config, data=replace(config.data, train_scenes=0)), "train", CPU)
    with pytest.raises(ValueError, match=r"split: expected 'train' or 'eval', got 'test'"):
        build_cache(config, "test", CPU)


def test_read_cached_returns_the_tensors(cache, config):
    tensors = read_cached(cache_path(cache, 0), TeacherSource(config).meta)
    assert tensors["frames"].dtype == torch.uint8 and tensors["frames"].shape == (V, T, HW, HW, 3)


def test_read_cached_refuses_other_settings(cache, config):
    other = replace(config, video=replace(config.video, fov_y_deg=60.0))
    with pytest.raises(ValueError, match=r"cached with different video/world settings .* than this run .*; rebuild the "
                                         r"cache \(--build-cache\) or point data.cache_dir elsewhere"):
        read_cached(cache_path(cache, 0), TeacherSource(other).meta)
    coarser = replace(config, world=replace(config.world, spacing=0.2))
    with pytest.raises(ValueError, match="cached with different video/world settings"):
        TeacherSource(replace(coarser, data=replace(config.data, cache_dir=str(cache))))[0]


def test_read_cached_refuses_other_safetensors_files(tmp_path, config):
    foreign = tmp_path / "scene_0000000000.safetensors"
    save_file({"frames": torch.zeros(1)}, str(foreign), metadata={"format": "lyra-sim-decoder"})
    with pytest.raises(ValueError, match=r"not a lyra-sim teacher cache file \(format 'lyra-sim-decoder'\)"):
        read_cached(foreign, TeacherSource(config).meta)
    bare = tmp_path / "bare.safetensors"
    save_file({"frames": torch.zeros(1)}, str(bare))
    with pytest.raises(ValueError, match=r"not a lyra-sim teacher cache file \(format None\)"):
        read_cached(bare, TeacherSource(config).meta)


def test_a_missing_cache_file_says_how_to_build_it(tmp_path, config):
    with pytest.raises(FileNotFoundError, match=r"scene_0000000005.safetensors: missing from the teacher cache; build it "
                                                r"with `python -m lyra_sim.training --config CONFIG --build-cache"):
        read_cached(cache_path(tmp_path, 5), TeacherSource(config).meta)


def test_a_corrupt_cache_file_is_a_clear_error(tmp_path, config):
    junk = tmp_path / "scene_0000000000.safetensors"
    junk.write_bytes(b"\x00\x01 this is not a safetensors file" * 10)
    try:
        read_cached(junk, TeacherSource(config).meta)
    except ValueError as err:
        assert str(junk) in str(err)
    except Exception as err:  # the point of the test: which error comes out
        raise AssertionError(f"{type(err).__name__}: {err}") from err


def test_teacher_source_reads_the_cache_or_stages_a_scene(cache, config):
    seed, payload = TeacherSource(config)[1]
    assert seed == 1 and isinstance(payload, dict) and set(payload) >= {"frames", "viewmats", "Ks"}
    staged_seed, staged = TeacherSource(replace(config, data=replace(config.data, cache_dir=None)))[1]
    assert staged_seed == 1 and isinstance(staged, StagedScene)
    assert len(staged.cameras) == V and staged.info["condition"] == config.data.condition(1)


def test_materialize_shapes_dtypes_and_values(cache, config):
    world = teacher_world(config.world, "cpu")
    assert isinstance(world, ProceduralWorld) and world.device == torch.device("cpu")
    cached = materialize(TeacherSource(config)[1], world, torch.device("cpu"))
    assert isinstance(cached, TeacherSample) and cached.seed == 1
    shapes = {name: (tuple(getattr(cached, name).shape), getattr(cached, name).dtype) for name in
              ("frames", "depth", "viewmats", "Ks", "hold_frames", "hold_depth", "hold_viewmats", "hold_Ks")}
    assert shapes == {
        "frames": ((V, T, HW, HW, 3), torch.float32), "depth": ((V, T, HW, HW, 1), torch.float32),
        "viewmats": ((V, T, 4, 4), torch.float32), "Ks": ((V, T, 3, 3), torch.float32),
        "hold_frames": ((K, HW, HW, 3), torch.float32), "hold_depth": ((K, HW, HW, 1), torch.float32),
        "hold_viewmats": ((K, 4, 4), torch.float32), "hold_Ks": ((K, 3, 3), torch.float32),
    }
    assert 0 <= cached.frames.min() and cached.frames.max() <= 1
    raw = read_cached(cache_path(cache, 1), TeacherSource(config).meta)["frames"]
    assert torch.equal(cached.frames, raw.float() / 255)  # uint8 levels, exactly
    # rendered on the fly: the same tensors as from the cache (both go through the cache's uint8 / float16 storage)
    fresh = materialize(TeacherSource(replace(config, data=replace(config.data, cache_dir=None)))[1], world,
                        torch.device("cpu"))
    for name in ("frames", "depth", "viewmats", "Ks", "hold_frames", "hold_depth", "hold_viewmats", "hold_Ks"):
        assert torch.equal(getattr(fresh, name), getattr(cached, name)), name


def test_materialize_without_held_out_views_gives_empty_ones(config):
    no_hold = replace(config, video=replace(config.video, num_holdout=0), data=replace(config.data, cache_dir=None))
    world = teacher_world(no_hold.world, "cpu")
    sample = materialize(TeacherSource(no_hold)[0], world, torch.device("cpu"))
    assert sample.hold_frames.shape == (0, HW, HW, 3) and sample.hold_viewmats.shape == (0, 4, 4)
    assert sample.hold_Ks.shape == (0, 3, 3) and sample.hold_depth is None
    assert sample.frames.shape == (V, T, HW, HW, 3)
