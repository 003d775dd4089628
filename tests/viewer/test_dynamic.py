"""Dynamic scenes in the viewer, without a browser: each path kind loads, a broken scene4d/ is one clear
error, the static/moving split, the slider and Play showing the right time's splats (both ways of
switching), colours and objects at each time (the browser test checks the page itself)."""

from __future__ import annotations

import json
import shutil
import time

import numpy as np
import pytest
import torch
from _scenes4d import SHIFTS, sliding_table, table_record, write_dynamic_directory

from _scenes import box_room_bundle
from lyra_sim.dynamic import DynamicScene, write_scene4d
from lyra_sim.manifest import read_manifest, write_manifest
from lyra_sim.viewer.nodes import SplatNodes, static_mask
from lyra_sim.viewer.source import load_source
from lyra_sim.viewer.splats import label_rgbs, splat_arrays
from lyra_sim.viewer.timeline import object_bbox_at, playback_fps

pytest.importorskip("viser", reason="the viewer extra is not installed (pip install -e '.[viewer]')")


@pytest.fixture(scope="module")
def dyn() -> DynamicScene:
    return sliding_table()


@pytest.fixture(scope="module")
def scene_dir(dyn, tmp_path_factory):
    return write_dynamic_directory(tmp_path_factory.mktemp("dyn") / "scene", dyn)


def _table(scene) -> torch.Tensor:
    return scene.labels == scene.label_names.index("table_0")


# ---------------------------------------------------------------- sources
def _same(a: DynamicScene, b: DynamicScene) -> None:
    assert a.times == b.times and a.fps == b.fps
    for x, y in zip(a.scenes, b.scenes, strict=True):
        assert torch.equal(x.means, y.means) and torch.equal(x.labels, y.labels)


def test_a_scene_directory_and_its_scene4d_load_over_time(dyn, scene_dir):
    source = load_source(scene_dir)
    assert source.kind == "scene directory" and source.directory == scene_dir
    _same(source.dynamic, dyn)
    assert torch.equal(source.scene.means, dyn.scenes[0].means)
    bare = load_source(scene_dir / "scene4d")
    assert bare.kind == "scene4d directory" and bare.manifest == {} and bare.directory is None
    _same(bare.dynamic, dyn)


def test_a_bundle_with_scene4d_loads_over_time_with_its_overlays(tmp_path):
    out = tmp_path / "bundle"
    shutil.copytree(box_room_bundle(), out)
    dyn = sliding_table(spacing=0.025)  # the bundle's own scene at t = 0
    write_scene4d(out / "scene4d", dyn)
    manifest = {k: v for k, v in read_manifest(out).items() if k not in ("files", "format", "format_version")}
    write_manifest(out, manifest)
    source = load_source(out)
    assert source.kind == "bundle" and len(source.dynamic) == 3 and source.collision_mesh() is not None
    assert torch.equal(source.scene.means, dyn.scenes[0].means)


def test_a_static_scene_has_no_times(tmp_path):
    from _scenes import box_room_scene
    from lyra_sim.ply import write_ply

    write_ply(tmp_path / "s.ply", box_room_scene(spacing=0.2))
    assert load_source(tmp_path / "s.ply").dynamic is None


def _broken(scene_dir, tmp_path):
    bare = tmp_path / "scene4d"
    shutil.copytree(scene_dir / "scene4d", bare)
    return bare


def test_a_broken_scene4d_is_one_clear_error(scene_dir, tmp_path):
    bare = _broken(scene_dir, tmp_path)
    (bare / "t0001.ply").unlink()
    with pytest.raises(FileNotFoundError, match=r"missing t0001.ply listed in index.json"):
        load_source(bare)
    bare = _broken(scene_dir, tmp_path / "b")
    index = json.loads((bare / "index.json").read_text())
    index["num_gaussians"][2] += 1
    (bare / "index.json").write_text(json.dumps(index))
    with pytest.raises(ValueError, match=r"t0002.ply: \d+ Gaussians, but index.json records \d+"):
        load_source(bare)
    index["num_gaussians"][2] -= 1
    index["times"] = index["times"][:2]
    (bare / "index.json").write_text(json.dumps(index))
    with pytest.raises(ValueError, match=r"3 files for 2 times \(one PLY per time\)"):
        load_source(bare)
    index["times"] = [0.0, 0.5, 0.25]
    (bare / "index.json").write_text(json.dumps(index))
    with pytest.raises(ValueError, match=r"times: must increase strictly"):
        load_source(bare)
    # Inside a scene directory the manifest catches it first.
    copy = tmp_path / "scene"
    shutil.copytree(scene_dir, copy)
    (copy / "scene4d" / "t0001.ply").unlink()
    with pytest.raises(ValueError, match=r"does not verify against its manifest: scene4d/t0001.ply: listed in the manifest but missing"):
        load_source(copy)


def test_the_command_reports_a_broken_scene4d_in_one_line(scene_dir, tmp_path, capsys):
    from lyra_sim.cli import main

    bare = _broken(scene_dir, tmp_path)
    (bare / "t0002.ply").unlink()
    assert main(["view", str(bare), "--port", "0"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "missing t0002.ply listed in index.json" in lines[0], lines


# ---------------------------------------------------------------- splats over time
def test_static_mask_is_exactly_what_stays_put(dyn):
    mask = static_mask(dyn.scenes)
    assert torch.equal(mask, ~_table(dyn.scenes[0]))
    grown = DynamicScene(dyn.times[:2], (dyn.scenes[0], dyn.scenes[1].select(torch.arange(len(dyn.scenes[1]) - 1))), dyn.fps)
    assert not static_mask(grown.scenes).any()  # no correspondence across sizes: everything is per time


class _Server:
    """The part of viser's server `SplatNodes` uses, recording nodes (no sockets)."""

    class Node:
        def __init__(self, name, visible=True, **arrays):
            self.name, self.visible, self.arrays = name, visible, arrays

        def set_gaussians(self, **arrays):
            self.arrays = arrays

    def __init__(self):
        self.nodes = {}
        self.scene = self

    def add_frame(self, name, show_axes=True):
        self.nodes[name] = node = self.Node(name)
        return node

    def add_gaussian_splats(self, name, visible=True, **arrays):
        self.nodes[name] = node = self.Node(name, visible, **arrays)
        return node


def _shown(server) -> np.ndarray:
    """The centers of every visible splat node."""
    return np.concatenate([n.arrays["centers"] for n in server.nodes.values() if n.visible and "centers" in n.arrays])


@pytest.mark.parametrize("strategy", ["nodes", "swap"])
def test_both_ways_of_switching_show_each_times_gaussians(dyn, strategy):
    server = _Server()
    splats = SplatNodes(server, dyn.scenes, strategy)
    assert splats.strategy == strategy and splats.static.size == int((~_table(dyn.scenes[0])).sum())
    names = set(server.nodes)
    assert names == ({"/splats", "/splats/static", "/splats/t0000", "/splats/t0001", "/splats/t0002"} if strategy == "nodes"
                     else {"/splats", "/splats/static", "/splats/moving"})
    for index in (2, 0, 1):
        splats.show(index)
        expected = np.sort(dyn.scenes[index].means.numpy().view("f4,f4,f4").ravel())
        assert np.array_equal(np.sort(_shown(server).view("f4,f4,f4").ravel()), expected)
    splats.set_color_mode("semantic label")
    splats.show(2)
    moving = [n for n in server.nodes.values() if n.visible and n.name not in ("/splats", "/splats/static")]
    table = dyn.scenes[2].select(_table(dyn.scenes[2]))
    assert len(moving) == 1 and np.array_equal(moving[0].arrays["rgbs"], label_rgbs(table))
    splats.set_fade(0.3)
    np.testing.assert_allclose(server.nodes["/splats/static"].arrays["opacities"],
                               splat_arrays(dyn.scenes[0].select(~_table(dyn.scenes[0])))["opacities"] * 0.3)
    np.testing.assert_allclose(moving[0].arrays["opacities"], splat_arrays(table)["opacities"] * 0.3)
    with pytest.raises(ValueError, match="index: expected 0..2"):
        splats.show(3)


def test_the_strategy_is_picked_by_how_much_moves(dyn, monkeypatch):
    from lyra_sim.viewer import nodes

    assert SplatNodes(_Server(), dyn.scenes).strategy == "nodes"
    monkeypatch.setattr(nodes, "PRELOAD_GAUSSIANS", 3 * int(_table(dyn.scenes[0]).sum()) - 1)
    assert SplatNodes(_Server(), dyn.scenes).strategy == "swap"
    one = SplatNodes(_Server(), dyn.scenes[:1])  # a static scene: one node, nothing moving
    assert one.static.size == len(dyn.scenes[0]) and one.moving == []


def test_moving_objects_are_posed_at_each_time():
    obj, motion = table_record()
    for index, dx in enumerate(SHIFTS):
        lo, hi = object_bbox_at(obj, [motion], index)
        np.testing.assert_allclose(lo, np.add(obj["bbox"][0], [dx, 0, 0]))
        np.testing.assert_allclose(hi, np.add(obj["bbox"][1], [dx, 0, 0]))
    door = {"name": "door_0", "bbox": [[0, 0, 0], [1, 0.1, 2]]}
    hinge = {**motion, "object": "door_0", "joint": "hinge"}  # only its leaf moves: the object's box stays
    assert [b.tolist() for b in object_bbox_at(door, [motion, hinge], 2)] == door["bbox"]


# ---------------------------------------------------------------- the server
def test_the_slider_and_play_show_the_scene_at_their_time(dyn, scene_dir):
    from lyra_sim.viewer.app import SceneViewer

    source = load_source(scene_dir)
    viewer = SceneViewer(source, port=0)
    try:
        timeline, splats = viewer.timeline, viewer.splats
        assert timeline.slider.min == 0.0 and timeline.slider.max == 0.5 and timeline.slider.step == 0.25
        assert playback_fps(source.dynamic) == 4.0 and timeline.text.content == "t = 0.000 s, time 1 of 3"
        timeline.slider.value = 0.3  # between times: the nearest one, 0.25 s
        assert timeline.index == splats.index == 1 and timeline.text.content == "t = 0.250 s, time 2 of 3"
        assert [n.visible for n in splats.moving_nodes] == [False, True, False]
        moving = splats.moving_nodes[1].centers
        np.testing.assert_array_equal(moving, dyn.scenes[1].means[_table(dyn.scenes[1])].numpy())
        viewer.set_color_mode("semantic label")
        table = dyn.scenes[1].select(_table(dyn.scenes[1]))
        assert np.abs(splats.moving_nodes[1].rgbs.astype(float) - label_rgbs(table) * 255).max() <= 1.0
        assert viewer.legend.visible
        # The object list follows the table: its outline moves with the time.
        camera, drawn = viewer.camera, []
        camera.highlighted = source.manifest["objects"][0]
        highlight = camera.highlight
        camera.highlight = lambda: drawn.append(highlight())
        timeline.slider.value = 0.5
        lo, hi = drawn[-1]
        np.testing.assert_allclose((lo + hi) / 2, [0.8 + SHIFTS[2], 1.0, 0.25], atol=1e-6)
        # Play loops through every time and Pause stops it there.
        seen, deadline = set(), time.time() + 20
        timeline.toggle()
        assert timeline.playing and timeline.play.label == "Pause"
        while len(seen) < 3 and time.time() < deadline:
            seen.add(timeline.index)
            time.sleep(0.02)
        timeline.toggle()
        assert seen == {0, 1, 2} and not timeline.playing and timeline.play.label == "Play"
    finally:
        viewer.stop()
