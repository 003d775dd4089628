"""`lyra_sim.manifest`: write, read and verify ``manifest.json`` (sha256 of every file)."""

import hashlib
import json

import pytest

from lyra_sim.manifest import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    package_versions,
    read_manifest,
    sha256_file,
    verify,
    write_manifest,
)


@pytest.fixture()
def scene_dir(tmp_path):
    d = tmp_path / "scene"
    d.mkdir()
    (d / "scene.ply").write_bytes(b"ply\x00\x01\x02")
    (d / "preview.png").write_bytes(b"\x89PNG fake")
    (d / "parts").mkdir()
    (d / "parts" / "p0.obj").write_text("v 0 0 0\n")
    return d


def test_write_records_every_file_and_the_data(scene_dir):
    manifest = write_manifest(scene_dir, {"kind": "scene", "seed": 3})
    assert manifest["format"] == FORMAT and manifest["format_version"] == FORMAT_VERSION
    assert manifest["kind"] == "scene" and manifest["seed"] == 3
    assert manifest["files"] == {
        "parts/p0.obj": hashlib.sha256(b"v 0 0 0\n").hexdigest(),  # nested files by posix relative path
        "preview.png": hashlib.sha256(b"\x89PNG fake").hexdigest(),
        "scene.ply": hashlib.sha256(b"ply\x00\x01\x02").hexdigest(),
    }
    assert read_manifest(scene_dir) == manifest
    assert verify(scene_dir) == []
    assert sorted(p.name for p in scene_dir.iterdir()) == ["manifest.json", "parts", "preview.png", "scene.ply"]


def test_sha256_file_matches_hashlib_across_blocks(tmp_path):
    data = bytes(range(256)) * 5000  # > 1 MiB: several read blocks
    (tmp_path / "big").write_bytes(data)
    assert sha256_file(tmp_path / "big") == hashlib.sha256(data).hexdigest()


def test_same_content_gives_the_same_bytes_whatever_the_key_order(scene_dir):
    write_manifest(scene_dir, {"b": 1, "a": {"y": 2, "x": 1}, "seed": 0})
    first = (scene_dir / MANIFEST).read_bytes()
    write_manifest(scene_dir, {"seed": 0, "a": {"x": 1, "y": 2}, "b": 1})  # the old manifest is not listed
    assert (scene_dir / MANIFEST).read_bytes() == first
    keys = list(json.loads(first))
    assert keys == sorted(keys) and first.endswith(b"}\n")


def test_unicode_is_written_as_is(scene_dir):
    write_manifest(scene_dir, {"prompt": "une cuisine \u00e9clair\u00e9e"})
    assert "une cuisine \u00e9clair\u00e9e" in (scene_dir / MANIFEST).read_text(encoding="utf-8")


def test_verify_finds_a_tampered_file(scene_dir):
    write_manifest(scene_dir, {})
    (scene_dir / "scene.ply").write_bytes(b"ply\x00\x01\x03")
    assert verify(scene_dir) == ["scene.ply: sha256 differs from the manifest (modified or corrupt)"]


def test_verify_finds_a_missing_file(scene_dir):
    write_manifest(scene_dir, {})
    (scene_dir / "parts" / "p0.obj").unlink()
    assert verify(scene_dir) == ["parts/p0.obj: listed in the manifest but missing"]


def test_verify_finds_an_extra_file(scene_dir):
    write_manifest(scene_dir, {})
    (scene_dir / "parts" / "stray.txt").write_text("?")
    assert verify(scene_dir) == ["parts/stray.txt: present but not listed in the manifest"]


def test_verify_reports_every_problem_at_once(scene_dir):
    write_manifest(scene_dir, {})
    (scene_dir / "preview.png").unlink()
    (scene_dir / "scene.ply").write_bytes(b"other")
    (scene_dir / "extra.bin").write_bytes(b"")
    assert verify(scene_dir) == [
        "preview.png: listed in the manifest but missing",
        "scene.ply: sha256 differs from the manifest (modified or corrupt)",
        "extra.bin: present but not listed in the manifest",
    ]


def test_a_directory_listed_as_a_file_is_missing(scene_dir):
    write_manifest(scene_dir, {})
    (scene_dir / "scene.ply").unlink()
    (scene_dir / "scene.ply").mkdir()
    assert verify(scene_dir) == ["scene.ply: listed in the manifest but missing"]


def test_no_manifest(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no manifest.json \(not a lyra-sim scene directory\)"):
        read_manifest(tmp_path)
    assert verify(tmp_path) == [f"{tmp_path}: no manifest.json (not a lyra-sim scene directory)"]


@pytest.mark.parametrize("text", ['{"format": "something-else", "files": {}}', "[1, 2]", '"lyra-sim-scene"', "{}"])
def test_not_a_manifest(tmp_path, text):
    (tmp_path / MANIFEST).write_text(text)
    with pytest.raises(ValueError, match=r"not a lyra-sim manifest \(expected \"format\": \"lyra-sim-scene\"\)"):
        read_manifest(tmp_path)
    [problem] = verify(tmp_path)
    assert "not a lyra-sim manifest" in problem


@pytest.mark.parametrize("raw, message", [(b"{not json", "not valid JSON"), (b"\xff\xfe\x00garbage", "not UTF-8 text")])
def test_invalid_json_or_bytes(tmp_path, raw, message):
    (tmp_path / MANIFEST).write_bytes(raw)
    with pytest.raises(ValueError, match=message):
        read_manifest(tmp_path)
    assert message in verify(tmp_path)[0] and MANIFEST in verify(tmp_path)[0]


def test_no_files_table(tmp_path):
    (tmp_path / MANIFEST).write_text(json.dumps({"format": FORMAT, "files": ["scene.ply"]}))
    assert verify(tmp_path) == [f'{tmp_path / MANIFEST}: no "files" table']


def test_package_versions():
    versions = package_versions(("numpy", "surely-not-an-installed-package"))
    assert set(versions) == {"python", "numpy"}
    import numpy

    assert versions["numpy"] == numpy.__version__
    assert package_versions(("numpy",), python=False) == {"numpy": numpy.__version__}
