"""The teacher cache the training tests share: scenes 0 and 1 of the tiny config, rendered once."""

import pytest

from _training import CPU, tiny_config
from lyra_sim.training import build_cache


@pytest.fixture(scope="session")
def cache(tmp_path_factory):
    """Teacher videos of training scenes 0 and 1, rendered once for the session."""
    path = tmp_path_factory.mktemp("teacher")
    build_cache(tiny_config(path / "unused", path), "train", CPU, log=lambda s: None)
    return path
