import numpy as np
import plyfile
import pytest
import torch

from lyra_sim.ply import PlyFormatError, read_ply, write_ply
from lyra_sim.scene import GaussianScene


def random_scene(n=257, degree=3, seed=0, labels=False):
    g = torch.Generator().manual_seed(seed)
    k = (degree + 1) ** 2
    lab = torch.randint(-1, 3, (n,), generator=g) if labels else None
    return GaussianScene(
        means=torch.randn(n, 3, generator=g),
        quats=torch.randn(n, 4, generator=g),
        scales=torch.rand(n, 3, generator=g) * 0.1 + 1e-3,
        opacities=torch.rand(n, generator=g),
        sh=torch.randn(n, k, 3, generator=g),
        labels=lab,
        label_names=("floor", "chair_0", "table_0") if labels else (),
    )


@pytest.mark.parametrize("degree", [0, 1, 2, 3])
@pytest.mark.parametrize("ascii", [False, True])
def test_write_read_matches_scene(tmp_path, degree, ascii):
    scene = random_scene(degree=degree, labels=True)
    path = tmp_path / "s.ply"
    write_ply(path, scene, ascii=ascii)
    back = read_ply(path)
    assert back.sh_degree == degree
    # means, SH and quats are stored as they are: exact.
    assert torch.equal(back.means, scene.means)
    assert torch.equal(back.sh, scene.sh)
    assert torch.equal(back.quats, scene.quats)
    assert torch.equal(back.labels, scene.labels)
    assert back.label_names == scene.label_names
    # opacity and scale pass through logit / log in float32: equal to float32 precision.
    torch.testing.assert_close(back.scales, scene.scales, rtol=2e-6, atol=0)
    torch.testing.assert_close(back.opacities, scene.opacities, rtol=0, atol=2e-6)


def test_file_round_trip_is_byte_exact(tmp_path):
    write_ply(tmp_path / "a.ply", random_scene())
    write_ply(tmp_path / "b.ply", read_ply(tmp_path / "a.ply"))
    write_ply(tmp_path / "c.ply", read_ply(tmp_path / "b.ply"))
    # After the first pass the raw values are fixed points of read → write.
    assert (tmp_path / "b.ply").read_bytes() == (tmp_path / "c.ply").read_bytes()
    a, b = plyfile.PlyData.read(str(tmp_path / "a.ply")), plyfile.PlyData.read(str(tmp_path / "b.ply"))
    for name in ("x", "f_dc_0", "f_rest_44", "rot_3"):
        assert np.array_equal(a["vertex"][name], b["vertex"][name])


def _inria_file(path, n=5, degree=1, normals=False, text=False, byte_order="<", drop=()):
    k = (degree + 1) ** 2
    names = ["x", "y", "z"] + (["nx", "ny", "nz"] if normals else [])
    names += [f"f_dc_{i}" for i in range(3)] + [f"f_rest_{i}" for i in range(3 * (k - 1))]
    names += ["opacity"] + [f"scale_{i}" for i in range(3)] + [f"rot_{i}" for i in range(4)]
    names = [nm for nm in names if nm not in drop]
    rng = np.random.default_rng(1)
    data = np.zeros(n, dtype=[(nm, "f4") for nm in names])
    for nm in names:
        data[nm] = rng.normal(size=n)
    plyfile.PlyData([plyfile.PlyElement.describe(data, "vertex")], text=text, byte_order=byte_order).write(str(path))
    return data


def test_reads_external_layout_and_activates(tmp_path):
    """A file written by another tool (no normals, big-endian, degree 1) reads with the INRIA activations."""
    path = tmp_path / "ext.ply"
    data = _inria_file(path, degree=1, byte_order=">")
    scene = read_ply(path)
    assert scene.sh_degree == 1 and len(scene) == 5
    np.testing.assert_allclose(scene.opacities.numpy(), 1 / (1 + np.exp(-data["opacity"].astype(np.float64))), rtol=1e-6)
    np.testing.assert_allclose(scene.scales[:, 2].numpy(), np.exp(data["scale_2"].astype(np.float64)), rtol=1e-6)
    # f_rest is channel-major: f_rest_0..2 are red's three degree-1 coefficients.
    np.testing.assert_array_equal(scene.sh[:, 1:, 0].numpy(), np.stack([data[f"f_rest_{i}"] for i in range(3)], -1))
    np.testing.assert_array_equal(scene.sh[:, 1:, 2].numpy(), np.stack([data[f"f_rest_{i}"] for i in range(6, 9)], -1))
    assert scene.labels is None


def test_reads_ascii_with_normals(tmp_path):
    path = tmp_path / "a.ply"
    _inria_file(path, degree=0, normals=True, text=True)
    assert read_ply(path).sh_degree == 0


def test_missing_property(tmp_path):
    path = tmp_path / "m.ply"
    _inria_file(path, drop=("scale_1",))
    with pytest.raises(PlyFormatError, match=r"missing 3DGS properties \['scale_1'\]"):
        read_ply(path)


def test_bad_rest_count(tmp_path):
    path = tmp_path / "r.ply"
    _inria_file(path, degree=1, drop=("f_rest_8", "f_rest_7", "f_rest_6"))
    with pytest.raises(PlyFormatError, match="6 f_rest properties match no SH degree"):
        read_ply(path)


def test_truncated_file(tmp_path):
    path = tmp_path / "t.ply"
    write_ply(path, random_scene(n=100))
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) - 37])
    with pytest.raises(PlyFormatError, match="truncated"):
        read_ply(path)


def test_not_a_ply(tmp_path):
    path = tmp_path / "x.ply"
    path.write_text("solid cube\nfacet normal 0 0 1\n")
    with pytest.raises(PlyFormatError, match="not a PLY file"):
        read_ply(path)


def test_nan_in_file_is_named(tmp_path):
    path = tmp_path / "n.ply"
    data = _inria_file(path, degree=0)
    data["x"][2] = np.nan
    plyfile.PlyData([plyfile.PlyElement.describe(data, "vertex")]).write(str(path))
    with pytest.raises(PlyFormatError, match="means: 1 Gaussian"):
        read_ply(path)


def test_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "s.ply"
    write_ply(path, random_scene(n=10))
    before = path.read_bytes()

    def boom(self, stream):
        raise RuntimeError("disk full")

    monkeypatch.setattr(plyfile.PlyData, "write", boom)
    with pytest.raises(RuntimeError):
        write_ply(path, random_scene(n=20, seed=3))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.ply"]


def test_extreme_opacities_stay_finite(tmp_path):
    s = random_scene(n=4, degree=0)
    s = GaussianScene(s.means, s.quats, s.scales, torch.tensor([0.0, 1.0, 0.5, 1e-9]), s.sh)
    write_ply(tmp_path / "e.ply", s)
    back = read_ply(tmp_path / "e.ply")
    assert torch.isfinite(back.opacities).all()
    assert float(back.opacities[0]) < 1e-8 and float(back.opacities[1]) > 1 - 1e-6
