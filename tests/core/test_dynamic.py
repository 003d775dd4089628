"""`lyra_sim.dynamic`: DynamicScene validation, per-time operations, rigid motions with SH, scene4d round trips."""

import json
import math

import pytest
import torch

from lyra_sim.dynamic import (
    DynamicScene,
    merge_dynamic,
    read_index,
    read_scene4d,
    rigid_transform,
    write_scene4d,
)
from lyra_sim.scene import GaussianScene, quat_to_rotmat
from lyra_sim.sh import eval_sh, rotate_sh


def _scene(n=6, seed=0, degree=0, labels=True):
    g = torch.Generator().manual_seed(seed)
    k = (degree + 1) ** 2
    return GaussianScene(
        means=torch.randn(n, 3, generator=g),
        quats=torch.nn.functional.normalize(torch.randn(n, 4, generator=g), dim=-1),
        scales=torch.rand(n, 3, generator=g) * 0.1 + 0.01,
        opacities=torch.rand(n, generator=g),
        sh=torch.randn(n, k, 3, generator=g) * 0.3,
        labels=torch.tensor([0, 1] * (n // 2)) if labels else None,
        label_names=("floor", "cart_0") if labels else (),
    )


def _rot_z(deg):
    a = math.radians(deg)
    return torch.tensor([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0], [0.0, 0.0, 1.0]])


def test_validation_names_the_problem():
    s = _scene()
    with pytest.raises(ValueError, match=r"times: a dynamic scene needs at least one time"):
        DynamicScene((), ())
    with pytest.raises(ValueError, match=r"increase strictly; times\[1\] = 0.0 follows 0.5"):
        DynamicScene((0.5, 0.0), (s, s))
    with pytest.raises(ValueError, match=r"scenes: 1 scenes for 2 times"):
        DynamicScene((0.0, 0.5), (s,))
    with pytest.raises(ValueError, match=r"times\[0\]: expected a finite number"):
        DynamicScene((float("nan"),), (s,))
    with pytest.raises(ValueError, match=r"scenes\[1\]: label table"):
        DynamicScene((0.0, 1.0), (s, _scene(labels=False)))
    with pytest.raises(ValueError, match=r"fps: expected a positive"):
        DynamicScene((0.0,), (s,), fps=0)
    d = DynamicScene(torch.tensor([0.0, 0.25]), (s, _scene(n=4, seed=1)), fps=4)
    assert d.times == (0.0, 0.25) and d.fps == 4.0 and len(d) == 2 and d.duration == 0.25
    assert d.nearest(0.2) == 1 and d.nearest(0.125) == 0


def test_rigid_transform_moves_only_the_mask_and_turns_sh():
    s = _scene(degree=2)
    mask = s.labels == 1
    r, t = _rot_z(90), torch.tensor([1.0, 2.0, 0.5])
    moved = rigid_transform(s, r, t, mask)
    torch.testing.assert_close(moved.means[~mask], s.means[~mask], rtol=0, atol=0)
    torch.testing.assert_close(moved.sh[~mask], s.sh[~mask], rtol=0, atol=0)
    torch.testing.assert_close(moved.means[mask], s.means[mask] @ r.T + t)
    # the moved Gaussians' rotations are R times the old ones
    torch.testing.assert_close(quat_to_rotmat(moved.quats[mask]), r @ quat_to_rotmat(s.quats[mask]), atol=1e-5, rtol=0)
    # the color seen along d after the motion is the color seen along Rᵀ d before it
    d = torch.tensor([[0.3, -0.5, 0.8]]).expand(int(mask.sum()), 3)
    torch.testing.assert_close(eval_sh(2, moved.sh[mask], d), eval_sh(2, s.sh[mask], d @ r), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="proper rotation"):
        rigid_transform(s, torch.diag(torch.tensor([1.0, 1.0, -1.0])), t)


def test_rotate_sh_degree3_and_identity():
    g = torch.Generator().manual_seed(3)
    sh = torch.randn(4, 16, 3, generator=g)
    r = quat_to_rotmat(torch.randn(4, 4, generator=g))
    dirs = torch.randn(4, 3, generator=g)
    torch.testing.assert_close(eval_sh(3, rotate_sh(sh, r), dirs),
                               eval_sh(3, sh, (r.transpose(1, 2) @ dirs[..., None])[..., 0]), atol=1e-5, rtol=0)
    torch.testing.assert_close(rotate_sh(sh, torch.eye(3)), sh, atol=1e-6, rtol=0)
    assert torch.equal(rotate_sh(sh[:, :1], r), sh[:, :1])  # degree 0: rotation-invariant


def test_per_time_crop_transform_merge():
    a = DynamicScene((0.0, 1.0), (_scene(seed=0), _scene(seed=1)), fps=1)
    b = DynamicScene((0.0, 1.0), (_scene(n=2, seed=2), _scene(n=4, seed=3)), fps=1)
    m = merge_dynamic([a, b])
    assert [len(s) for s in m.scenes] == [8, 10] and m.fps == 1.0
    with pytest.raises(ValueError, match="part 1 has times"):
        merge_dynamic([a, DynamicScene((0.0, 2.0), b.scenes)])
    c = a.crop([-0.5] * 3, [0.5] * 3)
    for before, after in zip(a.scenes, c.scenes):
        assert len(after) == int(((before.means >= -0.5) & (before.means <= 0.5)).all(-1).sum())
    moved = a.transform(_rot_z(30), torch.tensor([0.0, 0.0, 1.0]))
    torch.testing.assert_close(moved.scenes[1].means, a.scenes[1].means @ _rot_z(30).T + torch.tensor([0.0, 0.0, 1.0]))


def test_scene4d_round_trip_and_loud_errors(tmp_path):
    d = DynamicScene((0.0, 0.125, 0.25), (_scene(seed=0), _scene(n=4, seed=1), _scene(n=8, seed=2)), fps=8)
    out = tmp_path / "scene4d"
    index = write_scene4d(out, d)
    assert sorted(p.name for p in out.iterdir()) == ["index.json", "t0000.ply", "t0001.ply", "t0002.ply"]
    assert index["times"] == [0.0, 0.125, 0.25] and index["num_gaussians"] == [6, 4, 8]
    back = read_scene4d(out)
    assert back.times == d.times and back.fps == 8.0 and back.label_names == ("floor", "cart_0")
    for x, y in zip(back.scenes, d.scenes):
        torch.testing.assert_close(x.means, y.means, rtol=0, atol=0)
        torch.testing.assert_close(x.opacities, y.opacities, rtol=1e-6, atol=1e-7)
    # same scene, same bytes
    write_scene4d(tmp_path / "again", d)
    assert all((out / n).read_bytes() == (tmp_path / "again" / n).read_bytes() for n in index["files"] + ["index.json"])
    with pytest.raises(FileExistsError, match="not empty"):
        write_scene4d(out, d)

    (out / "t0001.ply").rename(tmp_path / "moved.ply")
    with pytest.raises(FileNotFoundError, match=r"missing t0001.ply listed in index.json"):
        read_scene4d(out)
    (tmp_path / "moved.ply").rename(out / "t0001.ply")
    (out / "t0009.ply").write_bytes((out / "t0000.ply").read_bytes())
    with pytest.raises(ValueError, match=r"t0009.ply not listed in index.json"):
        read_index(out)
    (out / "t0009.ply").unlink()
    bad = json.loads((out / "index.json").read_text())
    bad["times"] = bad["times"][:2]
    (out / "index.json").write_text(json.dumps(bad))
    with pytest.raises(ValueError, match=r"3 files for 2 times"):
        read_scene4d(out)
    (out / "index.json").write_text("[" * 100_000 + "]" * 100_000)  # a RecursionError for json.loads
    with pytest.raises(ValueError, match=r"index.json: JSON nested deeper than 64 levels"):
        read_index(out)
    bad["times"] = [0.0, 0.125, 0.25]
    bad["label_names"] = ["floor", "door_0"]
    (out / "index.json").write_text(json.dumps(bad))
    with pytest.raises(ValueError, match=r"label names \['floor', 'cart_0'\] differ"):
        read_scene4d(out)
    bad["format"] = "something"
    (out / "index.json").write_text(json.dumps(bad))
    with pytest.raises(ValueError, match="not a scene4d index"):
        read_scene4d(out)
    with pytest.raises(FileNotFoundError, match="no index.json"):
        read_scene4d(tmp_path)
