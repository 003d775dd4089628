"""Core readers under bad input (issue 17, section 3): deeply nested JSON, bytes that are not UTF-8, PLY
headers that under-count, manifests that point outside their bundle. Each is one ValueError naming the file."""

import json

import pytest
import torch

from lyra_sim.config import MAX_JSON_DEPTH, parse_json, read_json, read_text
from lyra_sim.scene import GaussianScene

DEEP = "[" * 100_000 + "]" * 100_000  # RecursionError in json.loads


def small_scene(n: int = 5, label_names=("floor", "chair_0")) -> GaussianScene:
    g = torch.Generator().manual_seed(0)
    return GaussianScene.from_rgb(
        torch.rand(n, 3, generator=g), torch.tensor([[1.0, 0, 0, 0]]).repeat(n, 1), torch.full((n, 3), 0.05),
        torch.full((n,), 0.9), torch.rand(n, 3, generator=g),
        labels=torch.arange(n) % max(1, len(label_names)) if label_names else None, label_names=label_names,
    )


def nested(depth: int) -> str:
    return '{"a":' * (depth - 1) + "[]" + "}" * (depth - 1)


# ---------------------------------------------------------------- JSON
@pytest.mark.parametrize("text", [DEEP, nested(MAX_JSON_DEPTH + 1), "[" * 5000 + "]" * 5000])
def test_deeply_nested_json_is_a_value_error(text):
    with pytest.raises(ValueError, match=f"spec.json: JSON nested deeper than {MAX_JSON_DEPTH} levels"):
        parse_json(text, "spec.json")


def test_json_up_to_the_depth_limit_is_read():
    assert parse_json(nested(MAX_JSON_DEPTH), "x") == json.loads(nested(MAX_JSON_DEPTH))
    assert parse_json(b'\xef\xbb\xbf{"a": "caf\xc3\xa9"}', "x") == {"a": "café"}  # a BOM, UTF-8 bytes


def test_bad_json_and_bytes_that_are_not_utf8_name_the_file(tmp_path):
    bad = tmp_path / "spec.json"
    bad.write_bytes(b'\xff\xfe{"room": {}}')
    with pytest.raises(ValueError, match=r"spec.json: not UTF-8 text \(byte 0 is b'\\xff'\)"):
        read_json(bad)
    with pytest.raises(ValueError, match=r"spec.json: not UTF-8 text"):
        read_text(bad)
    bad.write_text('{"room": ')
    with pytest.raises(ValueError, match="spec.json: not valid JSON"):
        read_json(bad)
    with pytest.raises(FileNotFoundError, match="missing.json: no such file"):
        read_json(tmp_path / "missing.json")


def test_a_manifest_nested_too_deeply_fails_verification_with_one_line(tmp_path):
    from lyra_sim.manifest import MANIFEST, read_manifest, verify

    (tmp_path / MANIFEST).write_text(DEEP)
    assert verify(tmp_path) == [f"{tmp_path / MANIFEST}: JSON nested deeper than {MAX_JSON_DEPTH} levels"]
    (tmp_path / MANIFEST).write_bytes(b'{"format": "lyra-sim-scene", "x": "\xff"}')
    with pytest.raises(ValueError, match="manifest.json: not UTF-8 text"):
        read_manifest(tmp_path)


def test_a_ply_label_comment_nested_too_deeply_is_a_ply_format_error(tmp_path):
    from lyra_sim.ply import PlyFormatError, read_ply, write_ply

    path = tmp_path / "s.ply"
    write_ply(path, small_scene())
    data = path.read_bytes()
    start = data.index(b"comment lyra_sim label_names ") + len(b"comment lyra_sim label_names ")
    end = data.index(b"\n", start)
    for comment, message in ((b"[" * 20_000 + b"]" * 20_000, "nested deeper"), (b'{"a": 1}', "not a JSON list of strings")):
        path.write_bytes(data[:start] + comment + data[end:])
        with pytest.raises(PlyFormatError, match=f"s.ply: .*{message}"):
            read_ply(path)


# ---------------------------------------------------------------- manifests that point outside their directory
def _bundle_beside_a_secret(tmp_path):
    from lyra_sim.manifest import write_manifest

    secret = tmp_path / "secret.txt"
    secret.write_text("not the bundle's")
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "scene.ply").write_text("ply")
    return bundle, secret, write_manifest(bundle, {"kind": "bundle"})


def _tamper(bundle, files):
    from lyra_sim.manifest import MANIFEST

    data = json.loads((bundle / MANIFEST).read_text())
    data["files"].update(files)
    (bundle / MANIFEST).write_text(json.dumps(data))


@pytest.mark.parametrize("name", ["../secret.txt", "{abs}", "sub/../../secret.txt", "./../secret.txt", "..\\secret.txt"])
def test_verify_never_follows_listed_paths_out_of_the_bundle(tmp_path, name):
    from lyra_sim.manifest import sha256_file, verify

    bundle, secret, _ = _bundle_beside_a_secret(tmp_path)
    name = name.format(abs=secret)
    _tamper(bundle, {name: sha256_file(secret)})  # the right digest: only confinement can catch it
    problems = verify(bundle)
    assert problems == [f"{name}: not a relative path inside the directory (absolute, with '..' or not normalized); refused"]


def test_verify_refuses_a_symlink_that_leaves_the_bundle_but_takes_one_inside(tmp_path):
    from lyra_sim.manifest import sha256_file, verify

    bundle, secret, _ = _bundle_beside_a_secret(tmp_path)
    (bundle / "nav.npz").symlink_to(secret)
    _tamper(bundle, {"nav.npz": sha256_file(secret)})
    assert verify(bundle) == [f"nav.npz: resolves outside the directory (a symbolic link to {secret.resolve()}); refused"]
    (bundle / "nav.npz").unlink()
    (bundle / "nav.npz").symlink_to("scene.ply")  # inside: the same bytes as any listed file
    _tamper(bundle, {"nav.npz": sha256_file(bundle / "scene.ply")})
    assert verify(bundle) == []


def test_the_cli_verify_says_failed(tmp_path, capsys):
    from lyra_sim.cli import main
    from lyra_sim.manifest import sha256_file

    bundle, secret, _ = _bundle_beside_a_secret(tmp_path)
    _tamper(bundle, {"../secret.txt": sha256_file(secret)})
    assert main(["verify", str(bundle)]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == f"{bundle}: FAILED (1 problem)"


# ---------------------------------------------------------------- a PLY header that under-counts its vertices
@pytest.mark.parametrize("ascii", [False, True])
def test_a_ply_header_that_under_counts_is_refused(tmp_path, ascii):
    from lyra_sim.exchange import read_splats
    from lyra_sim.ply import PlyFormatError, read_ply, write_ply

    path = tmp_path / "s.ply"
    write_ply(path, small_scene(n=10), ascii=ascii)
    assert len(read_ply(path)) == 10
    path.write_bytes(path.read_bytes().replace(b"element vertex 10\n", b"element vertex 7\n"))
    message = "data lines after a header that declares 7 rows" if ascii else "bytes after the rows the header declares"
    for read in (read_ply, read_splats):
        with pytest.raises(PlyFormatError, match=f"s.ply: .*{message}.*the header under-counts"):
            read(path)


def test_a_ply_one_byte_short_is_still_truncated(tmp_path):
    from lyra_sim.ply import read_ply, write_ply

    path = tmp_path / "s.ply"
    write_ply(path, small_scene(n=10))
    data = path.read_bytes()
    path.write_bytes(data[:-1])  # one byte short: truncated, still an error
    with pytest.raises(ValueError, match="truncated"):
        read_ply(path)
