"""Object kinds: enough of them, each buildable, closed, inside its box, and shaped like itself."""

import numpy as np
import pytest
import trimesh

from lyra_sim.worlds.materials import MATERIALS
from lyra_sim.worlds.objects import ACCENT, FIXED, MAIN, OBJECT_KINDS
from lyra_sim.worlds.prompt import parse_prompt


def build(kind, seed=0):
    k = OBJECT_KINDS[kind]
    return k.build(np.array(k.size), np.random.default_rng(seed))


def test_at_least_25_kinds():
    assert len(OBJECT_KINDS) >= 25


@pytest.mark.parametrize("kind", sorted(OBJECT_KINDS))
def test_kind_builds_closed_parts_inside_its_box(kind):
    k = OBJECT_KINDS[kind]
    parts = build(kind)
    assert parts, kind
    w, d, h = k.size
    for part in parts:
        mesh = trimesh.Trimesh(part.mesh.vertices, part.mesh.triangles(), process=False)
        assert mesh.is_watertight and mesh.is_winding_consistent, kind
        assert mesh.volume > 0, f"{kind}: inward-facing part"
        lo, hi = part.mesh.vertices.min(0), part.mesh.vertices.max(0)
        assert (lo >= np.array([-w / 2, -d / 2, 0]) - 1e-9).all() and (hi <= np.array([w / 2, d / 2, h]) + 1e-9).all()
        assert part.role in (MAIN, ACCENT, FIXED)
        if part.role == FIXED:
            assert part.material in MATERIALS
    # the parts fill the box: the object is as big as its footprint says
    all_v = np.concatenate([p.mesh.vertices for p in parts])
    assert np.allclose(all_v.max(0) - all_v.min(0), [w, d, h], atol=0.05 * max(w, d, h) + 0.03)
    assert any(p.role == MAIN for p in parts), f"{kind}: nothing takes the object's color/material"


@pytest.mark.parametrize("kind", sorted(OBJECT_KINDS))
def test_kind_has_a_prompt_word(kind):
    assert [o.kind for o in parse_prompt(kind.replace("_", " ")).spec.objects] == [kind]


def _on_floor(parts):
    return [p for p in parts if p.mesh.vertices[:, 2].min() < 1e-9]


def test_chair_has_legs_seat_and_backrest():
    w, d, h = OBJECT_KINDS["chair"].size
    parts = build("chair")
    assert len(_on_floor(parts)) == 4  # legs
    seat = [p for p in parts if np.ptp(p.mesh.vertices[:, 0]) > 0.9 * w and np.ptp(p.mesh.vertices[:, 1]) > 0.9 * d]
    assert len(seat) == 1 and 0.35 < seat[0].mesh.vertices[:, 2].max() < 0.55
    back = [p for p in parts if p.mesh.vertices[:, 2].max() > h - 1e-6]
    assert back and all(p.mesh.vertices[:, 1].mean() < 0 for p in back)  # backrest at the back (-y)


def test_table_has_top_and_four_legs():
    w, d, h = OBJECT_KINDS["table"].size
    parts = build("table")
    assert len(_on_floor(parts)) == 4
    top = [p for p in parts if p.mesh.vertices[:, 2].max() > h - 1e-6]
    assert len(top) == 1 and np.ptp(top[0].mesh.vertices[:, 0]) == pytest.approx(w)


def test_shelf_has_uprights_and_boards():
    w, d, h = OBJECT_KINDS["shelf"].size
    parts = build("shelf")
    uprights = [p for p in parts if np.ptp(p.mesh.vertices[:, 2]) > 0.99 * h]
    boards = [p for p in parts if np.ptp(p.mesh.vertices[:, 0]) > 0.9 * w and np.ptp(p.mesh.vertices[:, 2]) < 0.05]
    assert len(uprights) == 4 and len(boards) >= 3


def test_plant_has_pot_and_foliage():
    parts = build("plant")
    assert sum(p.material == "foliage" for p in parts) >= 3
    pot = _on_floor(parts)
    assert len(pot) == 1 and pot[0].role == MAIN


def test_bookcase_holds_books_and_builders_are_seeded():
    a, b = build("bookcase", 1), build("bookcase", 1)
    assert len(a) > 20  # books on the shelves
    assert len(a) == len(b) and all(np.array_equal(p.mesh.vertices, q.mesh.vertices) for p, q in zip(a, b))
