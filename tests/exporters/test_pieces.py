"""Convex pieces of a static surface (`lyra_sim.exporters.pieces`)."""

import numpy as np
import pytest
from scipy.spatial import Delaunay

from _scenes import BLOCK, ROOM
from lyra_sim.exporters.mesh_tools import face_normals
from lyra_sim.exporters.pieces import PieceConfig, convex_hull, static_colliders, surface_pieces


def _room_surface(n: int = 12):
    """Inward-facing room + outward block, finely triangulated (like a fused mesh)."""
    import trimesh

    room = trimesh.creation.box(extents=ROOM)
    room.apply_translation(np.asarray(ROOM) / 2)
    room.invert()
    lo, hi = (np.asarray(b, float) for b in BLOCK)
    block = trimesh.creation.box(extents=hi - lo)
    block.apply_translation((lo + hi) / 2)
    mesh = trimesh.util.concatenate([room, block])
    for _ in range(4):
        mesh = mesh.subdivide()
    return np.asarray(mesh.vertices), np.asarray(mesh.faces)


@pytest.fixture(scope="module")
def pieces():
    v, f = _room_surface()
    return v, f, surface_pieces(v, f)


def test_flat_walls_give_few_pieces(pieces):
    _, _, ps = pieces
    # 6 room faces cut by 1 m cells (2x3 floor, ...) plus the block's 6 faces: well under 100.
    assert 12 <= len(ps) < 100


def test_pieces_are_closed_convex_and_outward(pieces):
    for p in pieces[2]:
        n = face_normals(p.vertices, p.faces)
        center = p.vertices.mean(0)
        assert (np.einsum("ij,ij->i", n, p.vertices[p.faces[:, 0]] - center) > 0).all()
        # convex: every vertex is behind every face plane
        for face, normal in zip(p.faces, n):
            assert ((p.vertices - p.vertices[face[0]]) @ normal <= 1e-9).all()


def test_pieces_cover_the_surface_and_leave_free_space_free(pieces):
    v, f, ps = pieces
    hulls = [Delaunay(p.vertices) for p in ps]
    centroids = v[f].mean(1)
    normals = face_normals(v, f)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    behind = centroids - 0.002 * normals  # just inside the solid
    covered = np.zeros(len(f), bool)
    for h in hulls:
        covered |= h.find_simplex(behind) >= 0
    assert covered.all()
    # free-space probes 5 cm in front of the surface are never inside a piece (skip the
    # floor under the block and the block's bottom: pressed together, no free space there)
    front = centroids + 0.05 * normals
    lo, hi = (np.asarray(b) for b in BLOCK)
    in_block = ((front > lo - 0.01) & (front < hi + 0.01)).all(1)
    front = front[~in_block & (front[:, 2] > 0)]
    for h in hulls:
        assert (h.find_simplex(front) < 0).all()


def test_thin_object_slabs_stay_inside_it():
    import trimesh

    plate = trimesh.creation.box(extents=(1.0, 1.0, 0.02))  # 2 cm plate, both sides visible
    v, f = np.asarray(plate.vertices), np.asarray(plate.faces)
    ps = surface_pieces(v, f, PieceConfig(thickness=0.05))
    for p in ps:
        assert p.vertices[:, 2].min() >= -0.0101 and p.vertices[:, 2].max() <= 0.0101


def test_hull_of_flat_points_is_none():
    assert convex_hull(np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0.0]])) is None
    assert convex_hull(np.eye(3)) is None


def _bumpy_floor_room():
    """The room surface with the floor as fused: +-4 mm noise and a 2 cm plateau (views that disagree)."""
    v, f = _room_surface()
    v = v.copy()
    on_floor = np.abs(v[:, 2]) < 1e-9
    rng = np.random.default_rng(0)
    v[on_floor, 2] += rng.uniform(-0.004, 0.004, on_floor.sum())
    plateau = on_floor & (np.abs(v[:, 0] - 1.6) < 0.25) & (np.abs(v[:, 1] - 0.5) < 0.25)
    v[plateau, 2] += 0.02
    return v, f


def test_the_floor_becomes_one_level_box_and_nothing_else_covers_it():
    v, f = _bumpy_floor_room()
    box, ps = static_colliders(v, f, floor_z=0.0)
    assert box.hi[2] == 0.0 and box.lo[2] == -PieceConfig().floor_thickness
    # it spans the floor (and reaches under the wall slabs)
    assert box.lo[0] <= -0.05 + 1e-9 and box.lo[1] <= -0.05 + 1e-9
    assert box.hi[0] >= ROOM[0] + 0.05 - 1e-9 and box.hi[1] >= ROOM[1] + 0.05 - 1e-9
    # no piece stands on the open floor: away from walls and the block, nothing is just above the box
    lo, hi = (np.asarray(b, float) for b in BLOCK)
    for p in ps:
        top = (p.vertices[:, 2] > 1e-9) & (p.vertices[:, 2] < 0.1)
        xy = p.vertices[top, :2]
        near_wall = (xy < 0.05).any(1) | (xy > np.asarray(ROOM[:2]) - 0.05).any(1)
        near_block = ((xy > lo[:2] - 0.05) & (xy < hi[:2] + 0.05)).all(1)
        assert (near_wall | near_block).all()


def test_pieces_that_reach_the_floor_continue_into_the_box():
    v, f = _bumpy_floor_room()
    _, ps = static_colliders(v, f, floor_z=0.0)
    band = PieceConfig().floor_band
    touching = [p for p in ps if p.vertices[:, 2].min() < band and p.vertices[:, 2].max() > band]
    assert len(touching) >= 8  # the four walls' and the block's lowest pieces
    assert all(p.vertices[:, 2].min() <= -PieceConfig().floor_thickness / 2 + 1e-9 for p in touching)


def test_without_a_floor_height_every_face_becomes_pieces():
    v, f = _room_surface()
    box, ps = static_colliders(v, f, floor_z=None)
    assert box is None
    expected = surface_pieces(v, f)
    assert len(ps) == len(expected)
    assert all(np.array_equal(a.vertices, b.vertices) for a, b in zip(ps, expected))


def test_config_is_validated():
    with pytest.raises(ValueError, match="min_cell"):
        PieceConfig(min_cell=2.0, max_cell=1.0)
    with pytest.raises(ValueError, match="thickness"):
        PieceConfig(thickness=0.0)
    with pytest.raises(ValueError, match="floor_band"):
        PieceConfig(floor_band=0.2, floor_thickness=0.1)
