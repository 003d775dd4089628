"""Floaters (`lyra_sim.exporters.floaters`): faint isolated splats, left out of collision only."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from _scenes import box_room_scene
from lyra_sim.exporters.floaters import FloaterConfig, find_floaters
from lyra_sim.scene import GaussianScene


def test_floaters_are_faint_splats_far_from_surfaces():
    room = box_room_scene(spacing=0.05)
    rng = np.random.default_rng(0)
    n = 150
    air = torch.tensor(rng.uniform([1.3, 0.5, 0.9], [1.7, 1.9, 1.1], (n, 3)), dtype=torch.float32)  # mid-air
    haze = torch.tensor(rng.uniform([0.2, 0.2, 0.0], [1.8, 2.2, 0.0], (n, 3)), dtype=torch.float32)  # on the floor
    extra = GaussianScene.from_rgb(torch.cat([air, haze]), torch.tensor([[1.0, 0, 0, 0]]).expand(2 * n, 4),
                                   torch.full((2 * n, 3), 0.02), torch.full((2 * n,), 0.05), torch.rand(2 * n, 3))
    corner = torch.tensor(rng.uniform([0.2, 0.2, 1.0], [0.4, 0.4, 1.2], (n, 3)), dtype=torch.float32)  # also mid-air
    bright = replace(extra.select(torch.arange(n)), means=corner, opacities=torch.full((n,), 0.9))
    from lyra_sim.scene import merge

    scene = merge([room, extra, bright])
    mask, stats = find_floaters(scene, FloaterConfig(radius=4.0))
    m = len(room)
    assert not mask[:m].any()  # the room's own splats stay
    assert mask[m : m + n].all()  # faint splats in mid-air go
    assert not mask[m + n : m + 2 * n].any()  # faint splats on a surface stay
    assert not mask[m + 2 * n :].any()  # opaque splats in mid-air stay (not floaters by this rule)
    assert stats["count"] == n


# ---------------------------------------------------------------- wiring
