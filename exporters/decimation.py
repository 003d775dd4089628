"""Quadric edge-collapse decimation of a large mesh on two cores (pymeshlab in two processes).

pymeshlab's quadric decimation (VCG) runs on one core, its time grows with the number of
collapses (about 3 s for the 235k → 42k faces of a fused kitchen), and it cannot run twice at
once in one process: VCG keeps static state, and two `MeshSet`s decimating on two threads
crash. So `decimate` cuts a large mesh in two halves across its longest axis (at the median
face centroid) and decimates each half with the faces along the cut left out of the selection:
their vertices stay where they are, so the halves still meet exactly. One half is decimated in
this process and the other, at the same time, in a child Python that imports only numpy and
pymeshlab (`HalfWorker`); the halves are joined at the seam and the whole is decimated once
more to the budget, which also takes the seam's full-resolution faces down.

Which process decimates a half does not change it (the same filter on the same arrays), so the
result is the same bytes on one core or two, and if the child cannot run the half is decimated
here instead. On fused rooms the F-scores and triangle shapes equal those of one decimation of
the whole (`benchmarks/results/cpu_speed.md`).
"""

from __future__ import annotations

import io
import subprocess
import sys
import warnings
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable

import numpy as np

QUADRIC = {"qualitythr": 0.3, "preservenormal": True, "planarquadric": True, "optimalplacement": True, "autoclean": True}
"""pymeshlab ``meshing_decimation_quadric_edge_collapse`` settings: no triangles much worse than
0.3 in quality, no flipped normals, planar regions simplified, collapsed vertices placed optimally."""

SPLIT_MIN_FACES = 50_000
"""Meshes with fewer faces are decimated whole (in this process): the child's start-up (about
0.3 s) would cost more than the half it takes over."""



def decimate_half(
    vertices: np.ndarray, faces: np.ndarray, ids: np.ndarray, free: np.ndarray, target: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decimate the ``free [F]`` faces of a half towards ``target`` faces (`QUADRIC`, selected only).

    Args:
        vertices: ``[V, 3]`` float64; faces: ``[F, 3]`` int32; ids: ``[V]`` float64 vertex ids,
            carried along as vertex quality (a vertex that survives keeps its id).

    Returns:
        ``(vertices [V', 3], faces [F', 3], ids [V'])``.
    """
    import pymeshlab

    ms = pymeshlab.MeshSet()
    ms.add_mesh(pymeshlab.Mesh(vertex_matrix=vertices, face_matrix=faces, v_scalar_array=ids,
                               f_scalar_array=free.astype(np.float64)))
    ms.compute_selection_by_condition_per_face(condselect="fq > 0.5")
    ms.meshing_decimation_quadric_edge_collapse(targetfacenum=int(target), selected=True, **QUADRIC)
    m = ms.current_mesh()
    return m.vertex_matrix(), m.face_matrix(), m.vertex_scalar_array()


def _serve() -> None:
    """The child's side: one half in on stdin (``.npz``), `decimate_half` of it out on stdout."""
    job = np.load(io.BytesIO(sys.stdin.buffer.read()), allow_pickle=False)
    v, f, ids = decimate_half(job["vertices"], job["faces"], job["ids"], job["free"], int(job["target"]))
    out = io.BytesIO()
    np.savez(out, vertices=v, faces=f, ids=ids)
    sys.stdout.buffer.write(out.getvalue())


# The child runs this file as a script (not as part of the package, which would import torch):
# without the current directory on sys.path, so nothing there shadows numpy or pymeshlab.
_CHILD = f"import runpy, sys; sys.path[:1] = [p for p in sys.path[:1] if p]; runpy.run_path({__file__!r}, run_name='__main__')"


class HalfWorker:
    """A child Python (numpy + pymeshlab) that decimates one half (`send`, then `receive`).

    Start it early, so that its start-up overlaps other work, and `close` it (e.g. through
    ``contextlib.closing``). Without a child (it could not start, or it failed) the caller
    decimates the half itself: the same result, later.
    """

    def __init__(self) -> None:
        self._proc: subprocess.Popen | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._reply: Future | None = None
        try:
            self._proc = subprocess.Popen([sys.executable, "-c", _CHILD], stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as exc:
            warnings.warn(f"decimation: no child process ({exc}); both halves are decimated in this process", stacklevel=2)

    def close(self) -> None:
        """Stop the child (if it still runs) and the thread that talks to it."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        if self._proc is not None:
            self._proc.wait()

    def send(self, vertices, faces, ids, free, target) -> bool:
        """Hand the child `decimate_half`'s arguments; False if there is no child to take them."""
        if self._proc is None or self._reply is not None:
            return False
        job = io.BytesIO()
        np.savez(job, vertices=vertices, faces=faces, ids=ids, free=free, target=target)
        self._pool = ThreadPoolExecutor(1)  # feeds and drains the pipes (GIL released) while this process decimates
        self._reply = self._pool.submit(self._proc.communicate, job.getvalue())
        return True

    def receive(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """What `decimate_half` returned in the child, or None (with a warning) if it failed."""
        out, err = self._reply.result()
        if self._proc.returncode == 0:
            result = np.load(io.BytesIO(out), allow_pickle=False)
            return result["vertices"], result["faces"], result["ids"]
        tail = err.decode(errors="replace").strip().splitlines()[-1:] or [f"exit status {self._proc.returncode}"]
        warnings.warn(f"decimation: the child process failed ({tail[0]}); its half is decimated in this process",
                      stacklevel=2)
        return None


def split_halves(vertices: np.ndarray, faces: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """The two halves of a mesh across its longest axis, cut at the median face centroid.

    Returns:
        Per half ``(vertex ids [V_h] into vertices, faces [F_h, 3] int32 into those, free [F_h]
        bool)``, plus the half's share of the faces; ``free`` is false for the faces that touch
        the other half (through a shared vertex): they stay as they are.
    """
    centroids = vertices[faces].mean(1)
    axis = int(np.argmax(np.ptp(vertices, axis=0)))
    side = centroids[:, axis] > np.median(centroids[:, axis])
    used = np.zeros((2, len(vertices)), bool)
    for s in (0, 1):
        used[s, faces[side == bool(s)].ravel()] = True
    seam = used[0] & used[1]
    halves = []
    for s in (0, 1):
        f = faces[side == bool(s)]
        ids = np.flatnonzero(used[s])
        local = np.full(len(vertices), -1, np.int64)
        local[ids] = np.arange(len(ids))
        halves.append((ids, local[f].astype(np.int32), ~seam[f].any(1), len(f) / len(faces)))
    return halves


def _whole(vertices: np.ndarray, faces: np.ndarray, face_budget: int) -> tuple[np.ndarray, np.ndarray]:
    import pymeshlab

    ms = pymeshlab.MeshSet()
    ms.add_mesh(pymeshlab.Mesh(vertex_matrix=vertices, face_matrix=faces.astype(np.int32)))
    ms.meshing_decimation_quadric_edge_collapse(targetfacenum=int(face_budget), **QUADRIC)
    m = ms.current_mesh()
    return m.vertex_matrix().astype(np.float64), m.face_matrix().astype(np.int64)


def decimate(
    vertices: np.ndarray, faces: np.ndarray, face_budget: int, worker: HalfWorker | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Quadric edge-collapse decimation (`QUADRIC`) to at most ``face_budget`` faces.

    Meshes of at least `SPLIT_MIN_FACES` faces go in two halves first (see the module docstring),
    one of them through ``worker`` when given (else both here, one after the other: same result).
    ``meanwhile`` runs on this thread once its half is done, while the child may still decimate the
    other (0.3-0.4 s on a kitchen): work the caller needs next, such as its writers' imports.

    Args:
        vertices: ``[V, 3]`` float64; faces: ``[F, 3]`` int, a mesh without unreferenced vertices.

    Returns:
        ``(vertices [V', 3] float64, faces [F', 3] int64)``.
    """
    vertices = np.ascontiguousarray(vertices, np.float64)
    if len(faces) <= face_budget:
        return vertices, np.asarray(faces, np.int64)
    if len(faces) < SPLIT_MIN_FACES:
        return _whole(vertices, faces, face_budget)
    halves = split_halves(vertices, faces)
    if not all(free.any() for _, _, free, _ in halves):  # nothing to decimate on one side: no split
        return _whole(vertices, faces, face_budget)
    jobs = [(vertices[ids], f, ids.astype(np.float64), free, max(1, round(face_budget * share)))
            for ids, f, free, share in halves]
    sent = worker is not None and worker.send(*jobs[1])
    first = decimate_half(*jobs[0])  # meanwhile the child decimates the second half
    if sent and meanwhile is not None:
        meanwhile()
    second = worker.receive() if sent else None
    if second is None:  # never two decimations at once in this process
        second = decimate_half(*jobs[1])
    # Join at the seam: vertices of the second half that carry an id the first half kept are the
    # same vertices (never moved: their faces were not selected).
    v0, f0, id0 = first
    v1, f1, id1 = second
    order = np.argsort(id0)
    at = order[np.minimum(np.searchsorted(id0, id1, sorter=order), len(id0) - 1)]
    seam = np.where(id0[at] == id1, at, -1)
    own = seam < 0
    remap = np.where(own, len(v0) + np.cumsum(own) - 1, seam)
    joined_v = np.concatenate([v0, v1[own]])
    joined_f = np.concatenate([f0.astype(np.int64), remap[f1]])
    return _whole(joined_v, joined_f, face_budget)


if __name__ == "__main__":
    _serve()
