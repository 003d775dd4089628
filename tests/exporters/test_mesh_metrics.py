"""Chamfer distance and F-scores (`lyra_sim.exporters.mesh_metrics`)."""

import numpy as np
import pytest
import trimesh

from _scenes import ROOM, box_room_ground_truth
from lyra_sim.exporters.mesh_metrics import (
    EvalConfig,
    concatenate,
    evaluate_mesh,
    free_space_viewpoints,
    visible_mask,
)

CONFIG = EvalConfig(num_points=20_000)
BOX = ((0.0, 0.0, 0.0), ROOM)


def _inner_room(shift=(0.0, 0.0, 0.0)):
    """The room's inner surface as one inward-facing box (what a perfect fusion would give)."""
    box = trimesh.creation.box(extents=ROOM)
    box.apply_translation(np.asarray(ROOM) / 2 + np.asarray(shift))
    box.invert()
    return np.asarray(box.vertices), np.asarray(box.faces)


GT = box_room_ground_truth(block=None)


def test_perfect_mesh_scores_one():
    v, f = _inner_room()
    result = evaluate_mesh(v, f, GT, BOX, CONFIG)
    assert result.chamfer < 1e-5  # float32 ray casting
    assert result.fscore[0.02] == result.fscore[0.05] == 1.0


def test_shifted_mesh_fails_the_tight_threshold_only():
    v, f = _inner_room(shift=(0.0, 0.0, 0.03))  # floor and ceiling 3 cm off, walls in place
    result = evaluate_mesh(v, f, GT, BOX, CONFIG)
    assert result.fscore[0.05] > 0.95
    assert result.fscore[0.02] < 0.8
    assert 0.005 < result.chamfer < 0.03


def test_only_visible_ground_truth_counts_for_recall():
    v, f = _inner_room()
    visible = evaluate_mesh(v, f, GT, BOX, CONFIG)
    everything = evaluate_mesh(v, f, GT, BOX, EvalConfig(num_points=20_000, visible_only=False))
    # The outer faces of the wall slabs cannot be seen from inside: the whole-surface recall
    # is capped near the inner share of the area.
    assert visible.visible_fraction < 0.5
    assert visible.recall[0.05] == 1.0
    assert everything.recall[0.05] < 0.6


def test_missing_wall_lowers_recall_not_precision():
    v, f = _inner_room()
    centers = v[f].mean(1)
    keep = centers[:, 0] > 1e-6  # drop the x = 0 wall
    result = evaluate_mesh(v, f[keep], GT, BOX, CONFIG)
    assert result.precision[0.05] == 1.0
    assert result.recall[0.05] < 0.95


def test_visibility_needs_a_line_of_sight():
    gv, gf = concatenate(GT)
    vp = free_space_viewpoints(gv, gf, *BOX)
    assert len(vp) > 10 and ((vp > 0) & (vp < ROOM)).all()
    points = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, -0.1]])  # floor top (seen), slab bottom (hidden)
    normals = np.array([[0, 0, 1.0], [0, 0, -1.0]])
    assert visible_mask(points, normals, vp, gv, gf).tolist() == [True, False]


def test_bad_inputs():
    with pytest.raises(ValueError, match="no faces"):
        evaluate_mesh(np.zeros((3, 3)), np.zeros((0, 3), int), GT, BOX, CONFIG)
    with pytest.raises(ValueError, match="out of range"):
        evaluate_mesh(np.zeros((3, 3)), np.array([[0, 1, 5]]), GT, BOX, CONFIG)
    with pytest.raises(ValueError, match="free_box"):
        evaluate_mesh(*_inner_room(), GT, None, CONFIG)
