"""Imported captures in any frame (`lyra_sim.exporters.alignment`, `.floaters`) and their wiring
into bundles, the CLI and the env settings."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from _scenes import ROOM, box_room_scene, fast_export_config
from _splats import CAPTURES, moved
from lyra_sim.exchange import read_splats, write_splats
from lyra_sim.exporters.alignment import UP_CHOICES, estimate_alignment, rotate_sh, transform_scene
from lyra_sim.exporters.bundle import ExportConfig, export_bundle
from lyra_sim.manifest import verify
from lyra_sim.ply import read_ply
from lyra_sim.sh import eval_sh
from lyra_sim.worlds.procedural import ProceduralConfig, generate


def up_error_deg(found: list[float], rotation: np.ndarray) -> float:
    true_up = rotation @ np.array([0.0, 0.0, 1.0])
    return math.degrees(math.acos(np.clip(np.dot(found, true_up), -1.0, 1.0)))


# seed 0: -Y up (a COLMAP-like frame); others: arbitrary rotations; scales from 0.2 to 5
ROOMS = [(0, Rotation.from_euler("x", 90, degrees=True).as_matrix(), 0.37)] + [
    (seed, Rotation.random(random_state=seed).as_matrix(), float(scale)) for seed, scale in ((1, 2.9), (2, 0.21), (3, 4.6))
]


@pytest.mark.parametrize("seed, rotation, scale", ROOMS, ids=[f"bedroom-{r[0]}" for r in ROOMS])
def test_auto_recovers_the_frame_of_a_turned_rescaled_room(seed, rotation, scale):
    room = generate("a bedroom", seed=seed, config=ProceduralConfig(spacing=0.04)).gaussians
    capture = moved(room, rotation, scale, shift=(1.5, -2.0, 0.7))
    alignment = estimate_alignment(capture, "auto", "auto")
    assert up_error_deg(alignment.up_source, rotation) < 1.0
    assert abs(alignment.scale * scale - 1) < 0.05, alignment.scale_reason
    assert alignment.up_confidence > 0.5 and alignment.scale_confidence > 0.5  # a door was found
    if seed == 1:  # same scene, same alignment (seeded RANSAC and subsampling)
        assert np.array_equal(estimate_alignment(capture, "auto", "auto").matrix, alignment.matrix)
    aligned = transform_scene(capture, alignment)
    floor = aligned.means[aligned.labels == room.label_names.index("floor")]
    assert floor[:, 2].abs().max() < 0.02  # floor at z = 0 (meters)
    # walls run along x and y: the floor's footprint is an axis-aligned rectangle
    walls = aligned.means[aligned.labels == room.label_names.index("wall")].double().numpy()
    yaw = np.degrees(np.arctan2(*np.linalg.svd(walls[:, :2] - walls[:, :2].mean(0), full_matrices=False)[2][0][::-1])) % 90
    assert min(yaw, 90 - yaw) < 1.0


@pytest.mark.parametrize("up", [u for u in UP_CHOICES if u != "auto"])
def test_a_given_up_axis_becomes_z_with_the_floor_at_zero(up):
    scene = box_room_scene(spacing=0.08)
    axis = {"x": 0, "y": 1, "z": 2}[up[1]]
    sign = 1.0 if up[0] == "+" else -1.0
    # a rotation that takes +z to the named axis (so that axis is up in the "capture")
    target = np.zeros(3)
    target[axis] = sign
    rotation = Rotation.align_vectors([target], [[0.0, 0.0, 1.0]])[0].as_matrix()
    alignment = estimate_alignment(moved(scene, rotation, 1.0, shift=(0.3, 0.2, -0.4)), up, 1.0)
    assert np.allclose(alignment.up_source, target) and alignment.up_reason == "given"
    aligned = transform_scene(moved(scene, rotation, 1.0, shift=(0.3, 0.2, -0.4)), alignment)
    heights = aligned.means[:, 2]
    assert abs(float(heights.min())) < 1e-4 and abs(float(heights.max()) - ROOM[2]) < 1e-4


def test_sh_turns_with_the_scene():
    g = torch.Generator().manual_seed(0)
    sh = torch.randn(5, 16, 3, generator=g, dtype=torch.float64)
    rotation = torch.tensor(Rotation.random(random_state=1).as_matrix())
    dirs = torch.nn.functional.normalize(torch.randn(40, 3, generator=g, dtype=torch.float64), dim=-1)
    before = eval_sh(3, sh[:, None].expand(5, 40, 16, 3), dirs.expand(5, 40, 3))
    after = eval_sh(3, rotate_sh(sh, rotation)[:, None].expand(5, 40, 16, 3), (dirs @ rotation.T).expand(5, 40, 3))
    assert torch.allclose(before, after, atol=1e-9)  # the color seen along R d after = along d before


def test_real_captures_state_what_they_cannot_tell():
    biker = read_splats(CAPTURES / "biker.spz")  # a standing person, no ground: no floor to find
    with pytest.raises(ValueError, match="cannot tell which way is up: none of the .* large planes has the scene on one side"):
        estimate_alignment(biker, "auto", 1.0)
    alignment = estimate_alignment(biker, "-y", "auto")  # as the capture's README says
    assert alignment.scale == 1.0 and alignment.scale_confidence == 0.0 and "cannot tell" in alignment.scale_reason
    standing = transform_scene(biker, alignment)
    lo, hi = standing.bounds()
    assert abs(float(lo[2])) < 0.05 and 3.1 < float(hi[2]) < 3.25  # feet at z = 0, head 3.2 units up
    # train-1000 (1,000 splats of an outdoor capture): its ground is the one plane with the scene
    # above it, near -y (the reconstruction's y points down); too few splats to be sure
    train = estimate_alignment(read_splats(CAPTURES / "train-1000.ply"), "auto", "auto")
    assert math.degrees(math.acos(-train.up_source[1])) < 10 and train.up_confidence < 0.5
    assert train.scale_confidence == 0.0


def test_bad_requests_are_refused():
    scene = box_room_scene(spacing=0.1)
    with pytest.raises(ValueError, match="up: expected one of auto, \\+z"):
        estimate_alignment(scene, "up", 1.0)
    with pytest.raises(ValueError, match="scale: expected a positive number"):
        estimate_alignment(scene, "+z", -1.0)
    with pytest.raises(ValueError, match="scale: expected"):
        ExportConfig(scale=float("nan"))
    with pytest.raises(ValueError, match="up: expected"):
        ExportConfig(up="z")


# ---------------------------------------------------------------- floaters
def test_an_spz_capture_in_another_frame_exports_z_up_meters(tmp_path):
    room = box_room_scene(spacing=0.05)
    rotation = Rotation.from_euler("x", 90, degrees=True).as_matrix()  # -Y up
    capture = moved(room, rotation, 0.5, shift=(2.0, 1.0, -3.0))  # half-meter units
    write_splats(tmp_path / "room.spz", capture, version=4)
    config = replace(fast_export_config(), up="-y", scale=2.0)
    manifest = export_bundle(tmp_path / "room.spz", tmp_path / "bundle", ("usd",), config)
    assert verify(tmp_path / "bundle") == []
    assert manifest["source_format"] == "spz" and manifest["alignment"]["up"]["requested"] == "-y"
    assert manifest["alignment"]["scale"]["meters_per_unit"] == 2.0 and "Z-up meters" in manifest["frame"]
    # scene.ply is written in the bundle's frame: the original room again (within SPZ's quantization)
    scene = read_ply(tmp_path / "bundle" / "scene.ply")
    shift = scene.means.min(0).values - room.means.min(0).values
    assert abs(float(scene.means[:, 2].min())) < 1e-3 and (scene.means - shift - room.means).abs().max() < 1e-3
    lo, hi = manifest["bounds"]["collision"]
    assert hi[2] - lo[2] == pytest.approx(ROOM[2], abs=0.1) and abs(lo[2]) < 0.1
    usda = (tmp_path / "bundle" / "scene.usda").read_text()
    assert 'upAxis = "Z"' in usda and "metersPerUnit = 1" in usda
    assert manifest["floaters"]["removed_from_collision"] == 0


