"""Buildings through `lyra-sim`: generate --export all, floorplan.png, collision views in every room,
a nav grid that crosses the doorways, eval-mesh against the regenerated ground truth, clear errors."""

import json

import numpy as np
import pytest
from scipy import ndimage

from lyra_sim.cli import main
from lyra_sim.exporters.nav_grid import read_nav
from lyra_sim.manifest import read_manifest, verify
from lyra_sim.worlds import plan_geometry as pg

TINY_HOUSE = {"building": {"type": "house", "rooms": [
    {"type": "kitchen", "polygon": [[0, 0], [3.5, 0], [3.5, 3], [0, 3]], "objects": [{"kind": "table"}]},
    {"type": "bedroom", "polygon": [[3.5, 0], [7, 0], [7, 3], [3.5, 3]], "objects": [{"kind": "bed"}]},
]}}
COARSE = ["--voxel-size", "0.05", "--resolution", "64", "--viewpoints", "3", "--width", "64", "--height", "48", "-q"]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    root = tmp_path_factory.mktemp("house")
    spec = root / "house.json"
    spec.write_text(json.dumps(TINY_HOUSE))
    out = root / "bundle"
    assert main(["generate", "--spec", str(spec), "--seed", "0", "--export", "all", "--out", str(out), *COARSE]) == 0
    return out


def _rooms(manifest):
    return {r["name"]: pg.rects(tuple(map(tuple, r["interior"]))) for r in manifest["floor_plan"]["rooms"]}


def test_bundle_has_every_format_and_the_floor_plan(bundle):
    assert verify(bundle) == []
    manifest = read_manifest(bundle)
    for name in ("scene.ply", "preview.png", "floorplan.png", "collision.obj", "nav.npz", "scene.usda", "scene.usdz",
                 "scene.xml", "scene.urdf", "collision.glb", "visual.glb", "visual.obj"):
        assert name in manifest["files"], name
    plan = manifest["floor_plan"]
    assert [r["type"] for r in plan["rooms"]] == ["kitchen", "bedroom"] and len(plan["doorways"]) == 1
    assert plan["area_m2"] == pytest.approx(21.0)
    assert manifest["scene_spec"]["building"]["rooms"][0]["polygon"] == [[0, 0], [3.5, 0], [3.5, 3], [0, 3]]
    from PIL import Image

    assert Image.open(bundle / "floorplan.png").size[0] > 300


def test_collision_views_reach_every_room(bundle):
    manifest = read_manifest(bundle)
    viewpoints = np.array(manifest["collision"]["viewpoints"])
    for name, rects in _rooms(manifest).items():
        assert pg.contains(rects, viewpoints[:, :2]).any(), name


def test_nav_grid_is_walkable_across_the_doorway(bundle):
    manifest = read_manifest(bundle)
    nav = read_nav(bundle / "nav.npz")
    walkable = nav.distance >= 0.25
    labels, _ = ndimage.label(walkable)
    largest = labels == np.argmax(np.bincount(labels[walkable]))
    centers = nav.cell_centers()[largest]
    for name, rects in _rooms(manifest).items():
        assert pg.contains(rects, centers).sum() * nav.resolution**2 > 1.0, name  # a 10 m² bedroom around a big bed
    assert largest.sum() / walkable.sum() > 0.95


def test_eval_mesh_scores_a_house(bundle, capsys):
    assert main(["eval-mesh", str(bundle), "--points", "20000", "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["fscore"]["0.05"] > 0.7 and scores["num_viewpoints"] > 20


@pytest.mark.parametrize("prompt, message", [
    ("a house with 30 rooms", "30 rooms requested; at most 12 rooms per building"),
    ("a 2 m^2 house with a bathroom and a kitchen", "2 m² is too small for these rooms"),
])
def test_impossible_houses_are_one_line_exit_2(tmp_path, capsys, prompt, message):
    out = tmp_path / "out"
    assert main(["generate", prompt, "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
