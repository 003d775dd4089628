"""Asset bundles (`lyra_sim.exporters.bundle`): layout, manifest, determinism, bad input."""

import shutil
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from _scenes import box_room_bundle, box_room_scene, fast_export_config
from lyra_sim.exporters.bundle import FORMATS, export_bundle, parse_formats
from lyra_sim.exporters.convex import ConvexConfig
from lyra_sim.manifest import read_manifest, verify, write_manifest
from lyra_sim.ply import write_ply


@pytest.fixture(scope="module")
def bundle():
    return box_room_bundle()


def test_bundle_layout_and_manifest(bundle):
    assert verify(bundle) == []
    names = {p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()}
    for name in ("scene.ply", "collision.obj", "nav.npz", "manifest.json", "scene.usda", "splats.usdc",
                 "scene.usdz", "scene.xml", "scene.urdf", "collision.glb", "visual.glb", "visual.obj"):
        assert name in names, name
    pieces = [n for n in names if n.startswith("collision_static/")]
    assert len(pieces) > 10
    manifest = read_manifest(bundle)
    assert set(manifest["files"]) == names - {"manifest.json"}
    assert manifest["formats"] == ["usd", "usdz", "mjcf", "urdf", "glb", "obj"]
    assert manifest["num_gaussians"] == len(box_room_scene())
    assert manifest["label_names"] == ["floor", "wall", "ceiling", "table_0"]
    col = manifest["collision"]
    assert col["interior"] is True and col["faces"] > 1000 and len(col["viewpoints"]) >= 6
    assert manifest["nav"]["spawn_region"]["cells"] > 0
    assert manifest["source"] == "room.ply" and "prompt" not in manifest
    # the MJCF references exactly the pieces in the bundle
    xml = (bundle / "scene.xml").read_text()
    assert all(p in xml for p in pieces)


def test_same_input_same_bytes(bundle, tmp_path):
    shutil.copyfile(bundle / "scene.ply", tmp_path / "room.ply")  # same name: it is recorded as the source
    again = export_bundle(tmp_path / "room.ply", tmp_path / "again", tuple(FORMATS), fast_export_config())
    for name, digest in read_manifest(bundle)["files"].items():
        assert again["files"][name] == digest, name
    assert (tmp_path / "again" / "manifest.json").read_bytes() == (bundle / "manifest.json").read_bytes()


def test_tampering_is_detected(bundle, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(bundle, copy)
    (copy / "scene.xml").write_text((copy / "scene.xml").read_text() + " ")
    (copy / "extra.txt").write_text("x")
    problems = verify(copy)
    assert any("scene.xml" in p for p in problems) and any("extra.txt" in p for p in problems)


def test_format_names():
    assert parse_formats("all") == tuple(FORMATS)
    assert parse_formats("mjcf, USD") == ("usd", "mjcf")  # registry order, case-insensitive
    with pytest.raises(ValueError, match="accepted: all, usd, usdz, mjcf, urdf, glb, obj"):
        parse_formats("usd,fbx")
    with pytest.raises(ValueError, match="no formats"):
        parse_formats(" , ")


def test_scene_directory_source_keeps_prompt_and_preview(tmp_path):
    scene_dir = tmp_path / "scene"
    scene_dir.mkdir()
    write_ply(scene_dir / "scene.ply", box_room_scene(spacing=0.05))
    (scene_dir / "preview.png").write_bytes(b"\x89PNG not really")
    write_manifest(scene_dir, {"prompt": "a box room", "seed": 3, "objects": [{"name": "table_0"}]})
    config = replace(fast_export_config(), convex=ConvexConfig(threshold=0.1, max_parts=4, resolution=400,
                                                               preprocess_resolution=20, mcts_iterations=20))
    manifest = export_bundle(scene_dir, tmp_path / "b", ("mjcf",), config)
    assert manifest["prompt"] == "a box room" and manifest["seed"] == 3 and manifest["objects"] == [{"name": "table_0"}]
    assert (tmp_path / "b" / "preview.png").read_bytes() == b"\x89PNG not really"
    # CoACD parts for the block (an object seen from outside); the room shell stays static
    assert list(manifest["convex"]["parts"]) == ["table_0"]
    parts = sorted((tmp_path / "b" / "collision_parts").iterdir())
    assert len(parts) == manifest["convex"]["parts"]["table_0"] >= 1
    assert '<body name="table_0">' in (tmp_path / "b" / "scene.xml").read_text()
    assert verify(tmp_path / "b") == []
    # a modified source directory is refused
    (scene_dir / "scene.ply").write_bytes((scene_dir / "scene.ply").read_bytes()[:-4] + b"\0\0\0\0")
    with pytest.raises(ValueError, match="does not verify"):
        export_bundle(scene_dir, tmp_path / "c", ("mjcf",), fast_export_config())
    assert not (tmp_path / "c").exists()


def _ply(tmp_path, scene):
    path = tmp_path / "bad.ply"
    write_ply(path, scene)
    return path


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda s: s.select(torch.zeros(len(s), dtype=torch.bool)), "no Gaussians"),
        (lambda s: replace(s, opacities=torch.full_like(s.opacities, 1e-4)), "transparent"),
    ],
)
def test_bad_scenes_leave_nothing(tmp_path, make, message):
    src = _ply(tmp_path, make(box_room_scene(spacing=0.1)))
    with pytest.raises(ValueError, match=message):
        export_bundle(src, tmp_path / "out", ("mjcf",), fast_export_config())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.ply"]


def test_nan_ply_is_refused(tmp_path):
    src = _ply(tmp_path, box_room_scene(spacing=0.1))
    data = bytearray(src.read_bytes())
    end = data.index(b"end_header\n") + len(b"end_header\n")
    data[end:end + 4] = np.float32(np.nan).tobytes()  # first Gaussian's x
    src.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="non-finite"):
        export_bundle(src, tmp_path / "out", ("mjcf",), fast_export_config())
    assert not (tmp_path / "out").exists()


def test_existing_output_is_not_touched(tmp_path, bundle):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty"):
        export_bundle(bundle / "scene.ply", out, ("mjcf",), fast_export_config())
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["taken"]  # no temporary directory left behind


def test_unwritable_output_directory(tmp_path, bundle):
    if __import__("os").geteuid() == 0:
        pytest.skip("root ignores directory permissions")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(PermissionError):
            export_bundle(bundle / "scene.ply", locked / "out", ("mjcf",), fast_export_config())
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)


def test_usd_is_loaded_before_the_nav_thread_starts(tmp_path):
    """Loading USD's libraries beside a thread in NumPy can deadlock (`exporters.usd.load_usd`, seen as an export
    that never finished): the exporter loads them before it starts the nav-grid thread, and only when a USD format
    is asked for. A fresh interpreter, so that no other test has imported USD already."""
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parents[1])!r})
        from _scenes import box_room_scene, fast_export_config
        from lyra_sim.exporters import bundle
        from lyra_sim.exporters.usd import USD_MODULES
        from lyra_sim.ply import write_ply

        loaded = []
        start = bundle.ExportContext.start_nav
        def spy(ctx, pool):
            loaded.append(all(f"pxr.{{name}}" in sys.modules for name in USD_MODULES))
            start(ctx, pool)
        bundle.ExportContext.start_nav = spy
        write_ply({str(tmp_path / "room.ply")!r}, box_room_scene(spacing=0.05))
        for i, formats in enumerate([("mjcf",), ("usd", "mjcf")]):
            bundle.export_bundle({str(tmp_path / "room.ply")!r}, {str(tmp_path)!r} + f"/b{{i}}", formats, fast_export_config())
        print(loaded)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)  # without the fix: a hang
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "[False, True]"


def test_writers_libraries_load_while_cleanup_waits_for_the_other_core(tmp_path):
    """The export imports its writers' libraries (`load_writers`: USD here) in the idle time of its cleanup,
    while the child process decimates its half. A fresh interpreter, so that USD is not imported yet; the
    room's small mesh is split as a large one would be."""
    script = textwrap.dedent(f"""
        import sys
        from dataclasses import replace
        sys.path.insert(0, {str(Path(__file__).parents[1])!r})
        import torch
        from _scenes import box_room_scene, fast_export_config
        from lyra_sim.exporters import bundle, decimation, depth_fusion
        from lyra_sim.ply import write_ply

        torch.set_num_threads(2)
        decimation.SPLIT_MIN_FACES = depth_fusion.SPLIT_MIN_FACES = 500
        callers = []
        load = bundle.load_writers
        def spy(formats):
            callers.append((sys._getframe(1).f_code.co_name, "pxr.Usd" in sys.modules))
            load(formats)
        bundle.load_writers = spy
        config = fast_export_config()
        config = replace(config, collision=replace(config.collision, face_budget=800))
        write_ply({str(tmp_path / "room.ply")!r}, box_room_scene(spacing=0.05))
        manifest = bundle.export_bundle({str(tmp_path / "room.ply")!r}, {str(tmp_path / "b")!r}, ("usd", "obj"), config)
        print(manifest["collision"]["faces"], manifest["collision"]["fused_faces"])
        print(callers)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts, callers = proc.stdout.strip().splitlines()[-2:]
    faces, fused = map(int, counts.split())
    assert faces <= 800 < fused  # the cleanup decimated, in halves
    # First in the decimation's wait (nothing loaded yet), then before the nav thread (all loaded: no cost).
    assert callers == "[('<lambda>', False), ('write_assets', True)]"
