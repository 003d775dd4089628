"""The ``rgb_array`` render (`lyra_sim.envs.topdown`): the map beside the observation."""

import numpy as np

import lyra_sim  # noqa: F401  (registers LyraScene-v0)
from _envs import make


def test_render_shows_the_map_beside_the_view(bundle, cache):
    env = make(bundle, render_mode="rgb_array")
    obs, _ = env.reset(seed=0)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[1] > frame.shape[0]
    h = frame.shape[0]
    view = frame[:, -h:]
    # The right square is the observation, scaled up by nearest neighbour.
    idx = (np.arange(h) * 64 // h)
    assert np.array_equal(view, obs["rgb"][idx][:, idx])
