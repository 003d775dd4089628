"""End-to-end checks of the `lyra-sim` command (generate, render) as a user runs it."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from lyra_sim.cli import main
from lyra_sim.manifest import read_manifest, verify
from lyra_sim.ply import read_ply

PROMPT = "a kitchen with a red table and two wooden chairs and a flux capacitor"
SMALL = ["--width", "96", "--height", "72", "-q"]


@pytest.fixture(scope="module")
def kitchen(tmp_path_factory):
    out = tmp_path_factory.mktemp("gen") / "kitchen"
    assert main(["generate", PROMPT, "--seed", "7", "--out", str(out), *SMALL]) == 0
    return out


def test_generate_writes_a_verified_scene_directory(kitchen):
    assert sorted(p.name for p in kitchen.iterdir()) == ["manifest.json", "preview.png", "scene.ply"]
    assert verify(kitchen) == []
    manifest = read_manifest(kitchen)
    scene = read_ply(kitchen / "scene.ply")
    assert manifest["num_gaussians"] == len(scene) > 10_000
    assert manifest["prompt"] == PROMPT and manifest["seed"] == 7
    assert manifest["scene_spec"]["room"]["type"] == "kitchen"
    assert {"flux", "capacitor"} <= set(manifest["unknown"])
    kinds = sorted(o["kind"] for o in manifest["objects"])
    assert kinds.count("chair") == 2 and kinds.count("table") == 1
    assert list(scene.label_names) == manifest["label_names"]
    lo, hi = scene.bounds()
    assert np.allclose(manifest["bounds"]["gaussians"], [lo.tolist(), hi.tolist()])
    preview = np.asarray(Image.open(kitchen / "preview.png"))
    assert preview.shape == (72, 96, 3)
    assert preview.std() > 10  # an actual picture, not a blank frame


def test_generate_is_byte_identical_on_rerun(kitchen, tmp_path):
    again = tmp_path / "again"
    assert main(["generate", PROMPT, "--seed", "7", "--out", str(again), *SMALL]) == 0
    for name in ("scene.ply", "preview.png", "manifest.json"):
        assert (again / name).read_bytes() == (kitchen / name).read_bytes(), name


def test_generate_from_spec_reproduces_the_prompt_scene(kitchen, tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(read_manifest(kitchen)["scene_spec"]))
    out = tmp_path / "from_spec"
    assert main(["generate", "--spec", str(spec), "--seed", "7", "--out", str(out), *SMALL]) == 0
    assert (out / "scene.ply").read_bytes() == (kitchen / "scene.ply").read_bytes()


@pytest.mark.parametrize(
    "args,message",
    [
        (["generate", "", "--out", "{out}"], "error: "),
        (["generate", "zxqv blorp", "--out", "{out}"], "error: "),
        (["generate", "a kitchen with 500 chairs", "--out", "{out}"], "error: "),
        (["generate", "--spec", "{bad_json}", "--out", "{out}"], "not valid JSON"),
        (["render", "{missing}", "--out", "{out}.mp4"], "error: "),
    ],
)
def test_errors_are_one_line_and_write_nothing(tmp_path, args, message):
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json")
    out = tmp_path / "out"
    fmt = {"out": str(out), "bad_json": str(bad_json), "missing": str(tmp_path / "nope")}
    proc = subprocess.run(
        [sys.executable, "-m", "lyra_sim.cli", *[a.format(**fmt) for a in args]],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    # Progress lines may precede it; the error itself is one line, and the last.
    lines = proc.stderr.strip().splitlines()
    errors = [line for line in lines if "error" in line]
    assert errors == [lines[-1]] and lines[-1].startswith("lyra-sim: error:") and message in lines[-1], proc.stderr
    assert "Traceback" not in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json"]


def test_generate_refuses_to_clobber(kitchen):
    before = {p.name: p.read_bytes() for p in kitchen.iterdir()}
    assert main(["generate", "an office", "--out", str(kitchen), *SMALL]) == 2
    assert {p.name: p.read_bytes() for p in kitchen.iterdir()} == before


def test_render_writes_a_video(kitchen, tmp_path):
    import imageio.v2 as imageio

    out = tmp_path / "orbit.gif"
    assert main(["render", str(kitchen), "--trajectory", "orbit", "--frames", "3", "--out", str(out), *SMALL]) == 0
    frames = imageio.mimread(out)
    assert len(frames) == 3 and frames[0].shape[:2] == (72, 96)
    assert not np.array_equal(frames[0], frames[1])  # the camera moves
    assert main(["render", str(kitchen), "--trajectory", "spiral", "--out", str(tmp_path / "x.gif"), *SMALL]) == 2
    assert not (tmp_path / "x.gif").exists()
