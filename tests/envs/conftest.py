"""Fixtures of the environment tests: the box room bundle (built once) and a private bundle cache per test."""

import pytest

from _scenes import box_room_bundle


@pytest.fixture(scope="session")
def bundle():
    return box_room_bundle()


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LYRA_SIM_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"
