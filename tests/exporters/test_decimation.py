"""Decimation in two halves (`lyra_sim.exporters.decimation`): one result however it runs, a closed seam."""

import contextlib

import numpy as np
import pytest
import trimesh

from lyra_sim.exporters import decimation


def _bumpy_sphere():
    """A closed sphere of 5,120 faces with bumps (so that collapses have errors to weigh)."""
    mesh = trimesh.creation.icosphere(subdivisions=4, radius=1.0)
    v = np.asarray(mesh.vertices)
    v = v * (1.0 + 0.05 * np.sin(5 * v[:, :1]) * np.cos(3 * v[:, 1:2]))
    return v.astype(np.float64), np.asarray(mesh.faces, np.int64)


@pytest.fixture
def small_split(monkeypatch):
    monkeypatch.setattr(decimation, "SPLIT_MIN_FACES", 1000)


def test_split_halves_cover_every_face_once_and_freeze_the_seam():
    v, f = _bumpy_sphere()
    halves = decimation.split_halves(v, f)
    assert sum(len(h[1]) for h in halves) == len(f)
    assert sum(h[3] for h in halves) == pytest.approx(1.0)
    (ids0, f0, _, _), (ids1, f1, _, _) = halves
    rows = {tuple(sorted(r)) for r in np.concatenate([ids0[f0], ids1[f1]])}
    assert rows == {tuple(sorted(r)) for r in f}  # the same faces, in the original indices
    seam = np.intersect1d(ids0, ids1)
    assert len(seam) > 10
    for ids, faces, free, _ in halves:  # a face is frozen exactly when it touches a seam vertex
        assert np.array_equal(~free, np.isin(ids[faces], seam).any(1))


def test_two_processes_give_the_bytes_of_one_and_a_closed_mesh(small_split):
    v, f = _bumpy_sphere()
    calls = []
    here = decimation.decimate(v, f, 1000, meanwhile=lambda: calls.append("alone"))
    with contextlib.closing(decimation.HalfWorker()) as worker:
        side_by_side = decimation.decimate(v, f, 1000, worker, meanwhile=lambda: calls.append("beside the child"))
    assert np.array_equal(here[0], side_by_side[0]) and np.array_equal(here[1], side_by_side[1])
    assert calls == ["beside the child"]  # only where this process would wait, once
    out = trimesh.Trimesh(*here, process=False)
    assert 900 <= len(out.faces) <= 1000
    assert out.is_watertight  # the halves meet: no crack along the cut
    assert abs(out.volume - trimesh.Trimesh(v, f).volume) < 0.01 * trimesh.Trimesh(v, f).volume


def test_a_failing_child_is_replaced_by_this_process(small_split, monkeypatch):
    v, f = _bumpy_sphere()
    expected = decimation.decimate(v, f, 1000)
    monkeypatch.setattr(decimation, "_CHILD", "import sys; sys.stderr.write('boom\\n'); sys.exit(3)")
    with contextlib.closing(decimation.HalfWorker()) as worker, pytest.warns(UserWarning, match=r"child process failed \(boom\)"):
        got = decimation.decimate(v, f, 1000, worker)
    assert np.array_equal(expected[0], got[0]) and np.array_equal(expected[1], got[1])


def test_small_meshes_are_decimated_whole_and_within_budget():
    v, f = _bumpy_sphere()
    out_v, out_f = decimation.decimate(v, f, 2000)  # under SPLIT_MIN_FACES: one pass
    assert len(out_f) <= 2000 and trimesh.Trimesh(out_v, out_f, process=False).is_watertight
    same_v, same_f = decimation.decimate(v, f, len(f))  # nothing to do
    assert np.array_equal(same_v, v) and np.array_equal(same_f, f)
