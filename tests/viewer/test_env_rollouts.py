"""What the env records with ``record=`` is what ``lyra-sim view BUNDLE --episodes rollout.npz`` plays:
the command's reader and the viewer take it, its episodes are found in the bundle, and the player
shows the recorded pose, goal and camera image."""

from __future__ import annotations

import signal

import gymnasium as gym
import numpy as np
import pytest
from _viewer import start_view

import lyra_sim  # noqa: F401  (registers LyraScene-v0)
from _scenes import box_room_bundle
from lyra_sim.envs.rollout import read_rollout
from lyra_sim.viewer.app import episodes_for
from lyra_sim.viewer.source import load_source

pytest.importorskip("viser", reason="the viewer extra is not installed (pip install -e '.[viewer]')")


def _record(bundle, path, images: bool):
    venv = gym.make_vec("LyraScene-v0", num_envs=2, vectorization_mode="vector_entry_point", scene=str(bundle),
                        width=16, height=12, device="cpu", action_type="discrete", record=str(path), record_images=images,
                        task={"min_geodesic": 0.5, "max_episode_steps": 3})
    venv.reset(seed=0)
    for a in ([1, 0], [2, 1], [1, 1], [0, 3]):
        venv.step(np.array(a))
    venv.close()
    return path


def test_the_viewer_plays_what_the_env_recorded(tmp_path, images=True):
    from lyra_sim.viewer.app import SceneViewer

    bundle = box_room_bundle()
    rollout = read_rollout(_record(bundle, tmp_path / "rollout.npz", images))  # what `view --episodes` reads
    source = load_source(bundle)
    assert episodes_for(source, rollout) == rollout.episode_ids().tolist()
    viewer = SceneViewer(source, port=0, rollout=rollout)
    try:
        player = viewer.player
        rows = rollout.rows(0)
        player.show(len(rows) - 1)
        x, y = rollout.xy[rows[-1]]
        assert tuple(player.body.position[:2]) == pytest.approx((x, y))
        assert tuple(player.goal.position[:2]) == pytest.approx(tuple(rollout.goal[rows[-1]]))
        if images:
            assert rollout.image.shape[1:] == (12, 16, 3)
            shown = player.image.image
            np.testing.assert_array_equal(shown[:: shown.shape[0] // 12, :: shown.shape[1] // 16], rollout.image[rows[-1]])
    finally:
        viewer.stop()


def test_the_view_command_serves_an_env_rollout(tmp_path):
    bundle = box_room_bundle()
    path = _record(bundle, tmp_path / "rollout.npz", images=False)
    proc = start_view(bundle, "--port", "0", "--episodes", path)
    try:
        line = proc.stdout.readline()
        assert " at http://localhost:" in line, line + proc.stderr.read()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
