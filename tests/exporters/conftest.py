"""Fixtures shared by the exporter tests."""

import pytest

from _scenes import box_room_scene


@pytest.fixture(scope="session")
def block_only():
    """The block alone: an object, whose enclosed inside is too small to be a room."""
    scene = box_room_scene(room=(3.0, 3.0, 2.0), block=((1.2, 1.2, 0.0), (1.8, 1.8, 0.6)))
    return scene.select(scene.labels == scene.label_names.index("table_0"))
