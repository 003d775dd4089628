"""Mesh writers, vertex colors and face labels (`lyra_sim.exporters.meshes`)."""

import json
import struct

import numpy as np
import pytest
import trimesh

from _scenes import COLORS, box_room_scene
from lyra_sim.exporters.meshes import GLTF_FROM_WORLD, face_labels, vertex_colors, write_mesh


@pytest.fixture(scope="module")
def scene():
    return box_room_scene(spacing=0.05)


def _box():
    box = trimesh.creation.box(extents=(1, 2, 3))
    return np.asarray(box.vertices), np.asarray(box.faces)


@pytest.mark.parametrize("suffix", ["obj", "stl", "glb", "ply"])
def test_written_meshes_read_back_identically(tmp_path, suffix):
    v, f = _box()
    path = write_mesh(tmp_path / f"m.{suffix}", v, f)
    back = trimesh.load(path, process=False, force="mesh")
    if suffix == "stl":  # STL stores triangle soup: compare triangles
        assert np.allclose(np.sort(back.triangles.reshape(-1, 3), 0), np.sort(v[f].reshape(-1, 3), 0))
    elif suffix == "glb":  # glTF is Y-up: trimesh applies the root node, (x, y, z) -> (x, z, -y)
        assert np.allclose(back.vertices, v @ GLTF_FROM_WORLD[:3, :3].T) and np.array_equal(back.faces, f)
    else:
        assert np.allclose(back.vertices, v) and np.array_equal(back.faces, f)
    again = write_mesh(tmp_path / f"n.{suffix}", v, f)
    assert again.read_bytes() == path.read_bytes()


def test_glb_keeps_vertex_colors(tmp_path):
    v, f = _box()
    colors = np.tile(np.array([[255, 0, 0, 255]], np.uint8), (len(v), 1))
    back = trimesh.load(write_mesh(tmp_path / "c.glb", v, f, colors), process=False, force="mesh")
    assert np.array_equal(back.visual.vertex_colors, colors)


def _glb_json_and_positions(path):
    data = path.read_bytes()
    length = struct.unpack_from("<I", data, 12)[0]
    gltf = json.loads(data[20 : 20 + length])
    binary = data[20 + length + 8 :]
    accessor = gltf["accessors"][gltf["meshes"][0]["primitives"][0]["attributes"]["POSITION"]]
    view = gltf["bufferViews"][accessor["bufferView"]]
    start = view.get("byteOffset", 0) + accessor.get("byteOffset", 0)
    positions = np.frombuffer(binary, "<f4", accessor["count"] * 3, start).reshape(-1, 3)
    return gltf, positions


def test_glb_is_y_up_through_its_root_node(tmp_path):
    v, f = _box()
    v = v + np.array([0.0, 0.0, 1.5])  # standing on the floor: z from 0 to 3
    path = write_mesh(tmp_path / "up.glb", v, f)
    gltf, positions = _glb_json_and_positions(path)
    root = gltf["nodes"][gltf["scenes"][gltf.get("scene", 0)]["nodes"][0]]
    matrix = np.array(root["matrix"]).reshape(4, 4).T  # glTF stores column-major
    assert np.allclose(matrix, GLTF_FROM_WORLD) and "mesh" in root
    assert np.allclose(positions, v, atol=1e-6)  # the accessor keeps Z-up meters
    shown = trimesh.load(path, process=False, force="mesh")  # what a glTF viewer shows
    assert np.allclose(shown.bounds, [[-0.5, 0.0, -1.0], [0.5, 3.0, 1.0]])  # 3 m tall along +Y


def test_vertex_colors_come_from_nearby_gaussians(scene):
    points = np.array([[0.3, 0.3, 0.0], [0.8, 1.0, 0.5]])  # on the floor, on the (red) block top
    rgba = vertex_colors(scene, points)
    for got, label in zip(rgba, ("floor", "table_0")):
        assert np.allclose(got[:3] / 255, COLORS[label], atol=0.12), (label, got)
    assert (rgba[:, 3] == 255).all()


def test_face_labels_follow_the_nearest_gaussian(scene):
    v = np.array([[0.2, 0.2, 0.0], [0.3, 0.2, 0.0], [0.2, 0.3, 0.0], [0.7, 0.9, 0.5], [0.8, 0.9, 0.5], [0.7, 1.0, 0.5]])
    f = np.array([[0, 1, 2], [3, 4, 5]])
    labels = face_labels(scene, v, f)
    assert [scene.label_names[i] for i in labels] == ["floor", "table_0"]


def test_bad_meshes_are_refused(tmp_path):
    with pytest.raises(ValueError, match="no faces"):
        write_mesh(tmp_path / "e.obj", np.zeros((3, 3)), np.zeros((0, 3), int))
    with pytest.raises(ValueError, match="unknown mesh format"):
        write_mesh(tmp_path / "e.fbx", *_box())
    assert list(tmp_path.iterdir()) == []
