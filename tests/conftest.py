"""Shared pytest hooks: tests marked ``gpu`` are skipped on machines without CUDA.

The suite runs in two pytest-xdist workers (``-n 2`` in pyproject.toml): each gets one torch
thread (and so do the processes it starts), since two workers of two threads each on two cores
spin-wait on each other's cores and run many times slower.
"""

import os

if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # before torch starts its thread pool

import pytest  # noqa: E402
import torch  # noqa: E402

if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (marked gpu)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


# Tiny random diffusers / transformers checkpoints on disk, built once per session for the tests
# of the diffusers world (tests/worlds), its pipeline (tests/pipelines) and its CLI (tests/cli).
TINY_VIDEO = {"num_frames": 5, "width": 32, "height": 32, "fov_y_deg": 75.0, "travel": 0.3, "num_holdout": 0,
              "anchor": "corner"}
"""Video settings of `tiny_decoder` (Wan: 1 + 4k frames, sides a multiple of 16)."""


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    pytest.importorskip("diffusers")
    pytest.importorskip("transformers")
    import _tiny_models as tiny

    root = tmp_path_factory.mktemp("models")
    return {"vace": tiny.wan_vace(root), "v2v": tiny.wan_v2v(root), "t2i": tiny.pixart(root),
            "depth": tiny.depth_anything(root), "root": root}


@pytest.fixture(scope="session")
def tiny_photo(tmp_path_factory):
    """A 48 x 40 photo: gray, with a red square left of center (cropped to 40 x 40 for the video)."""
    import numpy as np
    from PIL import Image

    rgb = np.full((40, 48, 3), 128, np.uint8)
    rgb[14:24, 12:22] = (255, 0, 0)
    path = tmp_path_factory.mktemp("photo") / "photo.png"
    Image.fromarray(rgb).save(path)
    return path


@pytest.fixture(scope="session")
def tiny_decoder(tmp_path_factory):
    """A random tiny decoder checkpoint reading `TINY_VIDEO` through the space-to-depth codec."""
    from lyra_sim.decoder import PRESETS, LyraDecoder, save_decoder

    path = tmp_path_factory.mktemp("decoder") / "tiny.safetensors"
    extra = {"codec": {"name": "s2d", "spatial_compression": 8, "temporal_compression": 1}, "video": TINY_VIDEO,
             "world": {"name": "procedural"}}
    return save_decoder(path, LyraDecoder(PRESETS["tiny"], seed=0), extra)


@pytest.fixture(scope="session")
def tiny_dynamic_decoder(tmp_path_factory):
    """A random tiny time-conditioned decoder reading `TINY_VIDEO` (5 frames, 32 x 32) of the dynamic world."""
    from lyra_sim.decoder import PRESETS, LyraDecoder, save_decoder

    path = tmp_path_factory.mktemp("decoder") / "tiny_dynamic.safetensors"
    extra = {"codec": {"name": "s2d", "spatial_compression": 8, "temporal_compression": 1}, "video": TINY_VIDEO,
             "world": {"name": "procedural_dynamic", "spacing": 0.15, "fps": 8.0}}
    return save_decoder(path, LyraDecoder(PRESETS["tiny_dynamic"], seed=0), extra)


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory):
    """A 12-frame 48 x 40 clip at 12 fps: a red square crossing a gray background (H.264 .mp4)."""
    import imageio.v2 as imageio
    import numpy as np

    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    with imageio.get_writer(path, fps=12, codec="libx264", macro_block_size=8, quality=8) as writer:
        for k in range(12):
            rgb = np.full((40, 48, 3), 128, np.uint8)
            rgb[14:24, 4 + 3 * k:14 + 3 * k] = (255, 0, 0)
            writer.append_data(rgb)
    return path
