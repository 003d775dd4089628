"""Action and observation spaces (`lyra_sim.envs.spaces`): bad actions raise at step."""

import numpy as np
import pytest

import lyra_sim  # noqa: F401  (registers LyraScene-v0)
from _envs import make


@pytest.mark.parametrize(
    "action, message",
    [
        (np.array([np.nan, 0.0], np.float32), "outside the action space"),
        (np.array([1.5, 0.0], np.float32), "outside the action space"),
        (np.array([1.0, 0.0, 0.0], np.float32), "expected shape"),
    ],
)


def test_bad_actions_raise_at_step(bundle, cache, action, message):
    env = make(bundle)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=message):
        env.step(action)


def test_bad_discrete_actions_raise(bundle, cache):
    env = make(bundle, action_type="discrete")
    env.reset(seed=0)
    for bad in (4, -1, 1.0):
        with pytest.raises(ValueError, match="integer"):
            env.step(bad)
