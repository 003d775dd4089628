"""The dynamic teacher's camera framing: the anchor sees the movers, and the line-of-sight test it uses."""

import numpy as np
import pytest

from lyra_sim.video import VideoSpec
from lyra_sim.worlds.dynamic_video import DynamicProceduralWorld, _seen, mover_paths
from lyra_sim.worlds.procedural import ProceduralConfig

CFG = ProceduralConfig(spacing=0.06)
SPEC = VideoSpec(num_frames=3, width=64, height=48, anchor="corner")


def test_line_of_sight_is_blocked_only_by_a_box_on_the_segment():
    eye = np.array([0.0, 0.0, 1.0])
    points = np.array([[4.0, 0.0, 1.0], [0.0, 4.0, 1.0], [1.5, 0.0, 1.0]])
    box = np.array([[[1.9, -0.5, 0.0], [2.1, 0.5, 2.0]]])  # a wall across the x axis at x = 2
    assert _seen(eye, points, box).tolist() == [False, True, True]  # behind it, beside it, in front of it
    assert _seen(eye, points, np.zeros((0, 2, 3))).tolist() == [True, True, True]


@pytest.mark.parametrize("prompt", ["a kitchen with a robot vacuum", "a bedroom with a spinning fan",
                                    "a bedroom with a drawer sliding"])
def test_the_anchor_view_shows_the_mover(prompt):
    # Small or low movers (a vacuum, a fan's rotor) were out of the corner view of held-out scenes of these
    # prompts before the anchor framed them; a teacher video must show what moves, from its first frame.
    world = DynamicProceduralWorld("cpu", CFG, fps=4.0)
    for seed in (1, 2):
        staged = world.stage(prompt, ("zoom_in",), seed=seed, spec=SPEC)
        video = world.shoot(staged)
        assert len(staged.movers) == 1 and int((video.labels[0, 0] == 1).sum()) > 0, (prompt, seed)
        eye = staged.cameras[0].centers[0].double().numpy()
        assert np.linalg.norm(mover_paths(staged, staged.times) - eye, axis=-1).min() >= 0.8  # staged has movers
