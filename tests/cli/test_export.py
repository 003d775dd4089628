"""The exporter commands of `lyra-sim`: generate --export, export, verify, eval-mesh (as a user runs them)."""

import json
import re
import shutil
import subprocess
import sys

import pytest
from scipy.spatial.transform import Rotation

from _scenes import box_room_scene
from _splats import CAPTURES, moved
from lyra_sim.cli import main
from lyra_sim.exchange import write_splats
from lyra_sim.manifest import read_manifest, verify
from lyra_sim.ply import write_ply

SMALL_ROOM = {"room": {"type": "kitchen", "size": [2.4, 2.0, 2.2]}, "objects": [{"kind": "table"}]}
COARSE = ["--voxel-size", "0.05", "--resolution", "64", "--viewpoints", "6", "--width", "64", "--height", "48", "-q"]


def _run(*args):
    return subprocess.run([sys.executable, "-m", "lyra_sim.cli", *map(str, args)], capture_output=True, text=True)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("gen")
    spec = root / "spec.json"
    spec.write_text(json.dumps(SMALL_ROOM))
    out = root / "bundle"
    assert main(["generate", "--spec", str(spec), "--seed", "3", "--export", "mjcf,usd", "--out", str(out), *COARSE]) == 0
    return out


def test_generate_export_writes_one_verified_bundle(generated):
    assert verify(generated) == []
    manifest = read_manifest(generated)
    assert manifest["formats"] == ["usd", "mjcf"]
    assert manifest["seed"] == 3 and manifest["world_model"]["name"] == "procedural"
    for name in ("scene.ply", "preview.png", "scene.usda", "scene.xml", "collision.obj", "nav.npz"):
        assert (generated / name).is_file(), name
    # nothing but the bundle was left beside it
    assert sorted(p.name for p in generated.parent.iterdir()) == ["bundle", "spec.json"]


def test_verify_command(generated, tmp_path):
    ok = _run("verify", generated)
    assert ok.returncode == 0 and "OK" in ok.stdout
    broken = tmp_path / "broken"
    shutil.copytree(generated, broken)
    (broken / "collision.obj").unlink()
    bad = _run("verify", broken)
    assert bad.returncode == 1
    assert "collision.obj: listed in the manifest but missing" in bad.stdout


def test_eval_mesh_regenerates_the_ground_truth(generated):
    proc = _run("eval-mesh", generated, "--points", "20000", "--json")
    assert proc.returncode == 0, proc.stderr
    scores = json.loads(proc.stdout)
    assert 0 < scores["chamfer"] < 0.05
    assert scores["fscore"]["0.05"] > 0.8
    assert 0.2 < scores["visible_fraction"] < 0.9
    text = _run("eval-mesh", generated, "--points", "20000").stdout
    assert re.search(r"chamfer\s+\d+\.\d+ cm", text) and "F@2cm" in text and "F@5cm" in text


def test_export_of_a_ply(tmp_path):
    ply = tmp_path / "room.ply"
    write_ply(ply, box_room_scene(spacing=0.05))
    out = tmp_path / "b"
    proc = _run("export", ply, "--formats", "urdf", "--out", out, "--voxel-size", "0.04", "--resolution", "48", "-q")
    assert proc.returncode == 0, proc.stderr
    assert verify(out) == [] and (out / "scene.urdf").is_file() and not (out / "scene.xml").exists()
    again = _run("export", ply, "--formats", "urdf", "--out", out, "-q")
    assert again.returncode == 2 and "not empty" in again.stderr and len(again.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args,message",
    [
        (["export", "{ply}", "--formats", "usd,fbx", "--out", "{out}"], "unknown format(s) 'fbx'; accepted: all, usd"),
        (["export", "{missing}", "--out", "{out}"], "no such file"),
        (["export", "{nan}", "--out", "{out}"], "non-finite"),
        (["generate", "a kitchen", "--export", "mjcf,step", "--out", "{out}"], "unknown format"),
        (["eval-mesh", "{missing}"], "no manifest.json"),
    ],
)
def test_errors_are_one_line_exit_2_and_write_nothing(tmp_path, args, message):
    ply = tmp_path / "room.ply"
    write_ply(ply, box_room_scene(spacing=0.2))
    nan = tmp_path / "nan.ply"
    data = bytearray(ply.read_bytes())
    end = data.index(b"end_header\n") + len(b"end_header\n")
    data[end:end + 4] = b"\x00\x00\xc0\x7f"  # NaN
    nan.write_bytes(bytes(data))
    fmt = {"ply": ply, "nan": nan, "missing": tmp_path / "nope", "out": tmp_path / "out"}
    proc = _run(*[a.format(**fmt) for a in args])
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.strip().splitlines() if not re.match(r"\[\s*\d+\.\ds\] ", line)]  # progress
    assert len(lines) == 1 and lines[0].startswith("lyra-sim: error: ") and message in lines[0], proc.stderr
    assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nan.ply", "room.ply"]


def test_cli_export_takes_up_and_scale(tmp_path, capsys):
    room = box_room_scene(spacing=0.05)
    write_splats(tmp_path / "room.splat", moved(room, Rotation.from_euler("y", -90, degrees=True).as_matrix(), 1.0))
    code = main(["export", str(tmp_path / "room.splat"), "--up", "+x", "--scale", "1", "--formats", "mjcf",
                 "--out", str(tmp_path / "b"), "--voxel-size", "0.04", "--resolution", "64", "-q"])
    out = capsys.readouterr().out
    assert code == 0 and "frame: up +x -> source direction [1.0, 0.0, 0.0] (given" in out
    assert read_manifest(tmp_path / "b")["alignment"]["up"]["source_direction"] == [1.0, 0.0, 0.0]
    code = main(["export", str(CAPTURES / "biker.spz"), "--up", "auto", "--out", str(tmp_path / "c"), "-q"])
    err = capsys.readouterr().err
    assert code == 2 and "cannot tell which way is up" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "c").exists()
    with pytest.raises(SystemExit):
        main(["export", str(tmp_path / "room.splat"), "--scale", "-2", "--out", str(tmp_path / "d")])


def test_a_minus_up_axis_may_follow_up_with_a_space_and_its_bundle_renders(tmp_path, capsys):
    from lyra_sim.cli import join_signed_values

    assert join_signed_values(["export", "f.ply", "--up", "-y", "--out", "b"]) == ["export", "f.ply", "--up=-y", "--out", "b"]
    assert join_signed_values(["--up", "+z", "-q"]) == ["--up", "+z", "-q"]  # a plus sign already parses
    assert join_signed_values(["--out", "-y"]) == ["--out", "-y"]  # only --up's values
    room = box_room_scene(spacing=0.05)
    write_splats(tmp_path / "room.splat", moved(room, Rotation.from_euler("x", -90, degrees=True).as_matrix(), 1.0))
    code = main(["export", str(tmp_path / "room.splat"), "--up", "-y", "--formats", "obj", "--out", str(tmp_path / "b"),
                 "--voxel-size", "0.04", "--resolution", "64", "-q"])
    assert code == 0 and "frame: up -y -> source direction [0.0, -1.0, 0.0] (given" in capsys.readouterr().out
    # an imported scene's bundle has no preview camera: render films it from outside
    assert main(["render", str(tmp_path / "b"), "--frames", "2", "--width", "32", "--height", "24", "-q",
                 "--out", str(tmp_path / "v.gif")]) == 0
    assert main(["render", str(tmp_path / "room.splat"), "--out", str(tmp_path / "w.gif")]) == 2
    assert "for a splat file, make one first: lyra-sim export" in capsys.readouterr().err
    assert not (tmp_path / "w.gif").exists()
