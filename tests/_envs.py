"""Helpers of the environment tests: `LyraScene-v0` on a bundle with a short task."""

import gymnasium as gym

import lyra_sim  # noqa: F401  (registers LyraScene-v0)

TASK = {"min_geodesic": 0.5, "max_episode_steps": 40}


def make(bundle, **kw):
    kw.setdefault("task", TASK)
    return gym.make("LyraScene-v0", scene=str(bundle), **kw)
