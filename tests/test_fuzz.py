"""Property-based fuzzing of everything a user hands in (issue 17, "Must hold"): splat files (PLY headers
and bodies, and every `lyra_sim.exchange` reader), scene specs, prompts, env actions and command lines.

Each property: the input is either accepted (and then the result is valid) or refused with one
`ValueError` (the CLI: exit 2 with one line on stderr) — never another exception, never a hang (each
example has a deadline far above its normal cost, so only a runaway trips it), never a partial file.
Derandomized with few examples, so the module is reproducible and runs in well under a minute.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import tempfile
from datetime import timedelta
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from _splats import compressed_ply_file
from lyra_sim.scene import GaussianScene


def fuzz(examples: int):
    """Reproducible (derandomized) and quick; the deadline only catches runaways (a hang, a
    pathological allocation), not slow machines."""
    return settings(max_examples=examples, derandomize=True, deadline=timedelta(seconds=20), database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# ---------------------------------------------------------------- splat files
def _scene(n: int = 6, labels: bool = True) -> GaussianScene:
    g = torch.Generator().manual_seed(n)
    return GaussianScene.from_rgb(
        torch.rand(n, 3, generator=g), torch.randn(n, 4, generator=g), torch.rand(n, 3, generator=g) * 0.1 + 0.01,
        torch.rand(n, generator=g), torch.rand(n, 3, generator=g),
        labels=torch.arange(n) % 2 if labels else None, label_names=("floor", "chair_0") if labels else (),
    )


@cache
def seed_files() -> dict[str, bytes]:
    """One small valid file per format and variant, as bytes."""
    from lyra_sim.exchange import write_splats
    from lyra_sim.ply import write_ply

    out: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_ply(root / "a.ply", _scene())
        write_ply(root / "b.ply", _scene(), ascii=True)
        write_splats(root / "c.splat", _scene(labels=False))
        for version in (2, 3, 4):
            write_splats(root / f"v{version}.spz", _scene(labels=False), version=version)
        compressed_ply_file(root / "d.ply", [(1 << 20, 512 << 20, 0, 255)] * 3, (0, 0, 0, 1, 1, 1) + (-2,) * 3 + (0,) * 3
                            + (0, 0, 0, 1, 1, 1), [bytes(range(9))] * 3)
        for path in sorted(root.iterdir()):
            out[path.name] = path.read_bytes()
    return out


HEADER_LINES = [
    b"element vertex 0", b"element vertex 3", b"element vertex 99999999999", b"element vertex -1", b"element vertex x",
    b"element face 2", b"property list uchar int vertex_indices", b"property float", b"property double x",
    b"property char opacity", b"property float f_rest_0", b"property float nx", b"property int label",
    b"format ascii 1.0", b"format binary_big_endian 1.0", b"format binary_little_endian 2.0", b"format",
    b"comment lyra_sim label_names [\"a\",\"a\"]", b"comment lyra_sim label_names " + b"[" * 3000,
    b"comment lyra_sim label_names {\"x\": 1}", b"comment \xff\xfe", b"obj_info x", b"end_header", b"", b"ply",
]

mutation = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0, 1)),
    st.tuples(st.just("flip"), st.floats(0, 1), st.integers(0, 255)),
    st.tuples(st.just("insert"), st.floats(0, 1), st.binary(min_size=1, max_size=16)),
    st.tuples(st.just("append"), st.binary(min_size=1, max_size=64)),
    st.tuples(st.just("header"), st.integers(0, 40), st.sampled_from(HEADER_LINES)),
    st.tuples(st.just("labels"), st.sampled_from([
        b"[" * 3000, b"[" * 70 + b"]" * 70, b'["floor","floor"]', b'["' + b"x" * 300 + b'","chair 0"]', b'{"a": 1}',
        b'["floor", 3]', b"\xff\xfe", b'["caf\xc3\xa9","chair_0"]', b"",
    ])),
)


def mutate(data: bytes, ops) -> bytes:
    for op in ops:
        if op[0] == "truncate":
            data = data[: int(op[1] * len(data))]
        elif op[0] == "flip" and data:
            i = min(len(data) - 1, int(op[1] * len(data)))
            data = data[:i] + bytes([op[2]]) + data[i + 1:]
        elif op[0] == "insert":
            i = int(op[1] * len(data))
            data = data[:i] + op[2] + data[i:]
        elif op[0] == "append":
            data = data + op[1]
        elif op[0] == "labels" and b"label_names " in data:
            start = data.index(b"label_names ") + len(b"label_names ")
            data = data[:start] + op[1] + data[data.index(b"\n", start):]
        elif op[0] == "header" and b"end_header" in data:
            end = data.index(b"end_header")
            lines = data[:end].split(b"\n")
            i = op[1] % max(1, len(lines))
            data = b"\n".join(lines[:i] + [op[2]] + lines[i + 1:]) + data[end:]
    return data


def check_scene(scene: GaussianScene) -> None:
    """What an accepted file must give: a valid scene (GaussianScene validated it) of finite values."""
    assert isinstance(scene, GaussianScene)
    for t in (scene.means, scene.scales, scene.opacities, scene.sh):
        assert bool(torch.isfinite(t).all())


@fuzz(120)
@given(name=st.sampled_from(sorted(seed_files())), ops=st.lists(mutation, min_size=1, max_size=4))
def test_splat_files_are_read_or_refused_with_one_value_error(name, ops):
    from lyra_sim.exchange import read_splats

    data = mutate(seed_files()[name], ops)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        try:
            scene = read_splats(path)
        except ValueError as exc:
            assert str(exc).startswith(str(path)) and "\n" not in str(exc), str(exc)
        else:
            check_scene(scene)
            if data.startswith(b"ply") and b"packed_position" not in data:
                check_inria_body(data, len(scene))


def check_inria_body(data: bytes, n: int) -> None:
    """An accepted INRIA PLY holds exactly the rows its header declares: nothing after them ignored."""
    from lyra_sim.exchange.plyheader import SCALAR_TYPES, parse_ply_header

    header = parse_ply_header(data)
    vertex = header.element("vertex")
    assert vertex is not None and vertex.count == n
    body = data[header.length:]
    if header.encoding == "ascii":
        assert sum(1 for line in body.splitlines() if line.strip()) == sum(e.count for e in header.elements)
    else:
        row = {e.name: sum(np.dtype(SCALAR_TYPES[t]).itemsize for _, t in e.properties) for e in header.elements}
        assert len(body) == sum(e.count * row[e.name] for e in header.elements)


@fuzz(60)
@given(header=st.lists(st.sampled_from(HEADER_LINES), max_size=8), body=st.binary(max_size=256))
def test_ply_headers_from_scratch(header, body):
    from lyra_sim.ply import read_ply

    data = b"ply\n" + b"\n".join(header) + b"\nend_header\n" + body
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.ply"
        path.write_bytes(data)
        try:
            check_scene(read_ply(path))
        except ValueError as exc:
            assert "\n" not in str(exc)


@fuzz(40)
@given(ops=st.lists(mutation, min_size=1, max_size=3), name=st.sampled_from(["a.ply", "b.ply", "v2.spz", "c.splat"]))
def test_export_of_a_fuzzed_file_exits_2_with_one_line_and_leaves_nothing(ops, name, monkeypatch_collision):
    data = mutate(seed_files()[name], ops)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / name
        src.write_bytes(data)
        code, err = run_cli(["export", str(src), "--out", str(Path(tmp) / "out"), "--formats", "obj", "-q"])
        assert code in (0, 2), err
        if code == 2:
            assert len(err) == 1 and err[0].startswith("lyra-sim: error: "), err
            assert sorted(p.name for p in Path(tmp).iterdir()) == [name]  # no bundle, no scratch


# ---------------------------------------------------------------- scene specs
SPEC_KEYS = ["room", "objects", "version", "type", "size", "scale", "floor", "walls", "ceiling", "furnish", "kind",
             "count", "color", "material", "on", "position", "yaw", "x"]
json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True),
                      st.text(max_size=12), st.sampled_from(["kitchen", "chair", "red", "wood", "plain", "table"]))
json_value = st.recursive(json_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(SPEC_KEYS) | st.text(max_size=6), inner, max_size=5)),
    max_leaves=25)


@fuzz(150)
@given(data=st.one_of(json_value, st.fixed_dictionaries({"room": json_value}, optional={"objects": json_value})))
def test_specs_are_accepted_or_one_value_error(data):
    from lyra_sim.worlds.spec import SceneSpec

    try:
        spec = SceneSpec.from_dict(data)
    except ValueError as exc:
        assert "\n" not in str(exc)
    else:
        assert SceneSpec.from_dict(json.loads(spec.to_json())) == spec  # what is accepted round-trips


@fuzz(30)
@given(depth=st.integers(1, 5000), opener=st.sampled_from(["[", '{"a":']))
def test_spec_text_of_any_nesting_is_parsed_or_refused(depth, opener):
    from lyra_sim.config import MAX_JSON_DEPTH
    from lyra_sim.worlds.spec import SceneSpec

    closer = "]" if opener == "[" else "}"
    text = opener * depth + ("[]" if opener != "[" else "") + closer * depth
    with pytest.raises(ValueError) as info:
        SceneSpec.from_json(text)
    if depth > MAX_JSON_DEPTH:
        assert "nested deeper" in str(info.value)


# ---------------------------------------------------------------- prompts
prompt_text = st.one_of(
    st.text(max_size=60),
    st.lists(st.sampled_from(["a", "kitchen", "with", "two", "-3", "1.5", "chairs", "café", "red", "on", "table",
                              "shelves", "🪑", "ﬁsh", "a dozen", "99999999999999999999", "and", "'s", "living room",
                              "0", "garage", "tiny", "huge", ",", "wooden", "床"]), max_size=12).map(" ".join),
)


@fuzz(200)
@given(prompt=prompt_text)
def test_prompts_parse_or_fail_with_one_value_error_and_drop_no_word(prompt):
    import unicodedata

    from lyra_sim.worlds.prompt import parse_prompt

    try:
        result = parse_prompt(prompt)
    except ValueError as exc:
        assert str(exc).startswith("prompt: ")
        return
    for obj in result.spec.objects:
        assert obj.count is None or (isinstance(obj.count, int) and obj.count >= 0)
    # Every word of the prompt is reported, understood or not (never silently dropped or cut).
    text = unicodedata.normalize("NFKC", prompt).lower().replace("'s", "").replace("\u2019s", "")
    words = [w for w in "".join(c if c.isalpha() else " " for c in text).split()]
    reported = " ".join(result.understood + result.unknown).split()
    assert all(w in reported for w in words), (words, reported)


# ---------------------------------------------------------------- env actions
DTYPES = [np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
          np.uint64, np.bool_, np.complex64, np.complex128]
arrays = st.sampled_from(DTYPES).flatmap(lambda dtype: hnp.arrays(
    dtype, st.sampled_from([(), (1,), (2,), (1, 2), (2, 1), (3,), (0,), (2, 2)]),
    elements=hnp.from_dtype(np.dtype(dtype), allow_nan=True, allow_infinity=True) if np.dtype(dtype).kind in "fc"
    else hnp.from_dtype(np.dtype(dtype))))
odd_actions = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(), st.complex_numbers(),
                                     st.text(max_size=3)), lambda inner: st.lists(inner, max_size=3), max_leaves=6)


@fuzz(200)
@given(action=st.one_of(arrays, odd_actions), action_type=st.sampled_from(["continuous", "discrete"]))
def test_actions_are_valid_tensors_or_one_value_error(action, action_type):
    from lyra_sim.envs.pointnav import TaskConfig
    from lyra_sim.envs.spaces import check_actions

    try:
        a = check_actions(action, TaskConfig(action_type=action_type), 1, torch.device("cpu"))
    except ValueError as exc:
        assert str(exc).startswith("action") and "\n" not in str(exc)
        return
    if action_type == "continuous":
        assert a.shape == (1, 2) and a.dtype == torch.float32 and bool((a.abs() <= 1).all())
    else:
        assert a.shape == (1,) and a.dtype == torch.int64 and 0 <= int(a[0]) <= 3


@cache
def env():
    import gymnasium as gym

    import lyra_sim  # noqa: F401  (registers LyraScene-v0)
    from _scenes import box_room_bundle

    e = gym.make("LyraScene-v0", scene=str(box_room_bundle()), task={"min_geodesic": 0.5, "max_episode_steps": 10**6},
                 width=16, height=16, depth=True, cache_dir=tempfile.mkdtemp(prefix="lyra-fuzz-cache-")).unwrapped
    e.reset(seed=0)
    return e


@fuzz(60)
@given(action=st.one_of(arrays, odd_actions, hnp.arrays(np.float32, 2, elements=st.floats(-1, 1, width=32))))
def test_env_steps_on_valid_actions_and_refuses_others_without_moving(action):
    e = env()
    before = e.task.state.xy.clone()
    try:
        obs, reward, terminated, truncated, _ = e.step(action)
    except ValueError:
        assert torch.equal(e.task.state.xy, before)  # a refused action moves nothing
        return
    assert e.observation_space.contains(obs) and math.isfinite(reward)
    if terminated or truncated:
        e.reset(seed=1)


@fuzz(40)
@given(agent=st.dictionaries(st.sampled_from(["radius", "height", "max_linear_speed", "max_angular_speed", "dt",
                                              "forward_step", "turn_angle_deg"]),
                             st.one_of(st.floats(), st.integers(-10**9, 10**9), st.booleans(), st.text(max_size=3)),
                             max_size=3))
def test_agent_settings_are_accepted_within_their_ranges_or_one_value_error(agent):
    from lyra_sim.envs.pointnav import MAX_STEP_LENGTH, AgentConfig

    try:
        config = AgentConfig(**agent)
    except ValueError as exc:
        assert str(exc).startswith("agent ")
        return
    assert config.max_step_length <= MAX_STEP_LENGTH  # bounded work per step


@fuzz(120)
@given(kwargs=st.fixed_dictionaries({}, optional={
    "prompt": st.one_of(json_value, st.text(max_size=8), st.lists(st.text(max_size=4), max_size=2)),
    "seed": st.one_of(st.integers(-5, 2**40), st.floats(), st.booleans(), st.text(max_size=2)),
    "agent": json_value, "camera": json_value, "task": json_value,
    "width": json_leaf, "height": json_leaf, "depth": json_leaf, "action_type": json_leaf,
    "device": st.one_of(st.sampled_from(["auto", "cpu", "cuda", "cuda:7", "tpu", "mps", ""]), json_leaf),
    "world": st.sampled_from(["procedural", "diffusers", "dreams"]),
}))
def test_make_arguments_are_settings_or_one_value_error(kwargs):
    """What gym.make / gym.make_vec validate (`make_settings`), before anything is built."""
    from lyra_sim.envs.cache import cache_key
    from lyra_sim.envs.settings import EnvSettings, make_settings

    try:
        settings_ = make_settings(**kwargs)
    except ValueError as exc:
        assert "\n" not in str(exc)
    else:
        assert isinstance(settings_, EnvSettings) and settings_.sources
        for _, value in settings_.sources:  # what the cache hashes next: JSON-able
            cache_key({"condition": value})


# ---------------------------------------------------------------- command lines
class _Reached(Exception):
    """Raised by the patched scene source: the command line was accepted."""


def run_cli(argv) -> tuple[int, list[str]]:
    from lyra_sim.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse: usage + one "error:" line
            code = exc.code
    return code, [line for line in err.getvalue().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def monkeypatch_collision():
    """Collision extraction stubbed out (a box), so that accepted fuzzed files export in milliseconds."""
    import trimesh

    from lyra_sim.exporters import bundle
    from lyra_sim.exporters.collision import CollisionMesh
    from lyra_sim.exporters.view_planning import visible_gaussians

    def quick(scene, config, stage, meanwhile=None):
        visible_gaussians(scene)  # the real refusals of unusable scenes
        box = trimesh.creation.box(extents=(2.0, 2.0, 2.0))
        box.apply_translation((0.0, 0.0, 1.0))
        return CollisionMesh(np.asarray(box.vertices), np.asarray(box.faces), np.zeros((1, 3)), False,
                             {"voxel_size": 0.05, "views": 1, "seconds": {}, "faces": 12})

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(bundle, "extract_collision_mesh", quick)
        yield


EXPORT_OPTIONS = ("--voxel-size", "--resolution", "--viewpoints", "--face-budget")
POSITIVE = ("--width", "--height", "--resolution", "--viewpoints", "--face-budget")
OPTIONS = {  # value -> accepted (export options: when --export is given; ignored otherwise)
    "--width": {"0": False, "-1": False, "8": True, "4096": True, "100000": False, "x": False, "1e3": False},
    "--height": {"7": False, "480": True, "99999": False},
    "--seed": {"0": True, "2147483648": True, "x": False},
    "--voxel-size": {"0.0005": False, "0.05": True, "nan": False, "inf": False, "-1": False, "0": False},
    "--resolution": {"1": False, "64": True, "5000": False},
    "--viewpoints": {"0": False, "6": True, "100000": False},
    "--face-budget": {"1": True, "10000000000": False},
    "--export": {"obj": True, "all": True, "step": False, "": False, ",": False},
    "--out": {"": False, ".": False, "{tmp}/o": True, "/proc/lyra-fuzz": None},  # None: only without --export
}


@fuzz(80)
@given(prompt=st.sampled_from(["a kitchen", "", "zxqv", "a café with -3 chairs", "a room " * 50]),
       options=st.dictionaries(st.sampled_from(sorted(OPTIONS)), st.just(None), max_size=4), data=st.data())
def test_generate_command_lines_exit_2_with_one_line_or_reach_generation(prompt, options, data, monkeypatch_source):
    """Generation is reached exactly when every option is within its documented range (checked before any
    work); otherwise exit 2 with one line (argparse's own usage errors: its usage and one error line)."""
    chosen = {k: data.draw(st.sampled_from(sorted(OPTIONS[k])), label=k) for k in options}
    chosen.setdefault("--out", "{tmp}/o")
    exporting = "--export" in chosen

    def accepted(key, value):
        if key in POSITIVE and not (value.isdigit() and int(value) > 0):
            return False  # argparse's type
        if key in EXPORT_OPTIONS and not exporting:
            return True  # unused without --export
        ok = OPTIONS[key][value]
        return (not exporting) if ok is None else ok

    with tempfile.TemporaryDirectory() as tmp:
        argv = ["generate", prompt, "-q"]
        for k, v in chosen.items():
            argv += [k, v.format(tmp=tmp)]
        try:
            code, err = run_cli(argv)
        except _Reached:
            assert all(accepted(k, v) for k, v in chosen.items()), chosen  # nothing out of range got through
            return
        assert not all(accepted(k, v) for k, v in chosen.items()), (chosen, err)
        assert code == 2 and err, err
        if err[-1].startswith("lyra-sim generate: error:"):  # argparse: a value of the wrong type
            assert err[0].startswith("usage:"), err
        else:
            assert len(err) == 1 and err[0].startswith("lyra-sim: error: "), err
        assert list(Path(tmp).iterdir()) == []  # nothing written


@pytest.fixture(scope="module")
def monkeypatch_source():
    from lyra_sim.pipelines import sources

    def reached(self, view, stage):
        raise _Reached()

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sources.ProceduralSource, "make", reached)
        yield
