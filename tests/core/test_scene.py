import math

import pytest
import torch

from lyra_sim.scene import (
    GaussianScene,
    merge,
    quat_to_rotmat,
    rgb_to_sh,
    rotmat_to_quat,
    sh_to_rgb,
)


def make(n=6, degree=0, **over):
    g = torch.Generator().manual_seed(0)
    fields = dict(
        means=torch.randn(n, 3, generator=g),
        quats=torch.nn.functional.normalize(torch.randn(n, 4, generator=g), dim=-1),
        scales=torch.full((n, 3), 0.05),
        opacities=torch.linspace(0.0, 1.0, n),
        sh=torch.zeros(n, (degree + 1) ** 2, 3),
    )
    fields.update(over)
    return GaussianScene(**fields)


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("means", torch.zeros(6, 2), r"means: expected shape \[N, 3\]"),
        ("quats", torch.zeros(5, 4), r"quats: expected shape \[6, 4\]"),
        ("sh", torch.zeros(6, 5, 3), "sh: 5 coefficients"),
        ("scales", torch.full((6, 3), -1.0), "scales: 6 Gaussian"),
        ("opacities", torch.full((6,), 1.5), r"opacities: values outside \[0, 1\]"),
        ("means", torch.full((6, 3), math.nan), "means: 6 Gaussian.*non-finite"),
        ("sh", torch.full((6, 1, 3), math.inf), "sh: 6 Gaussian.*non-finite"),
        ("quats", torch.zeros(6, 4), "quats: some quaternions have zero norm"),
        ("means", torch.zeros(6, 3, dtype=torch.float64), "means: expected dtype float32"),
    ],
)
def test_validation_names_the_field(field, value, message):
    with pytest.raises(ValueError, match=message):
        make(**{field: value})


def test_labels_validation():
    with pytest.raises(ValueError, match="labels: values must be -1"):
        make(labels=torch.tensor([0, 1, 2, 0, 0, 0]), label_names=("a", "b"))
    s = make(labels=torch.tensor([0, 1, -1, 0, 0, 1]), label_names=("a", "b"))
    assert s.labels.tolist() == [0, 1, -1, 0, 0, 1]


def test_rgb_sh_convention():
    rgb = torch.tensor([[0.0, 0.5, 1.0]])
    sh0 = rgb_to_sh(rgb)
    assert torch.allclose(0.5 + 0.28209479 * sh0, rgb, atol=1e-6)
    assert torch.allclose(sh_to_rgb(sh0), rgb, atol=1e-6)


def test_quaternion_round_trip():
    q = torch.nn.functional.normalize(torch.randn(1000, 4, generator=torch.Generator().manual_seed(1)), dim=-1)
    r = quat_to_rotmat(q)
    assert torch.allclose(r @ r.transpose(1, 2), torch.eye(3).expand(1000, 3, 3), atol=1e-5)
    q2 = rotmat_to_quat(r)
    # q and -q are the same rotation
    assert torch.allclose(q2 * torch.sign(q2[:, :1]), q * torch.sign(q[:, :1]), atol=1e-5)


def test_transform_moves_means_and_rotations():
    s = make()
    angle = 0.7
    rot = torch.tensor([[math.cos(angle), -math.sin(angle), 0], [math.sin(angle), math.cos(angle), 0], [0, 0, 1.0]])
    t = torch.tensor([1.0, 2.0, 3.0])
    out = s.transform(rot, t)
    assert torch.allclose(out.means, s.means @ rot.T + t, atol=1e-6)
    # Covariance axes rotate with the scene: R_out = rot @ R_in
    assert torch.allclose(quat_to_rotmat(out.quats), rot @ quat_to_rotmat(s.quats), atol=1e-5)
    m = torch.eye(4)
    m[:3, :3], m[:3, 3] = rot, t
    assert torch.allclose(s.transform(m).means, out.means)
    with pytest.raises(ValueError, match="not a proper rotation"):
        s.transform(torch.diag(torch.tensor([1.0, 1.0, -1.0])))


def test_crop_prune_bounds_select():
    means = torch.tensor([[0.0, 0, 0], [1, 1, 1], [2, 2, 2], [-1, 0, 0], [0.5, 0.5, 3], [1, 0, 0]])
    s = make(means=means)
    lo, hi = s.bounds()
    assert lo.tolist() == [-1, 0, 0] and hi.tolist() == [2, 2, 3]
    cropped = s.crop([0, 0, 0], [1, 1, 1])
    assert cropped.means.tolist() == [[0, 0, 0], [1, 1, 1], [1, 0, 0]]
    pruned = s.prune(0.5)
    assert torch.all(pruned.opacities >= 0.5) and len(pruned) == 3
    with pytest.raises(ValueError, match="bounds: the scene has no Gaussians"):
        s.prune(2.0).bounds()


def test_merge_pads_sh_and_merges_labels():
    a = make(n=2, degree=0, labels=torch.tensor([0, 1]), label_names=("floor", "chair_0"))
    b = make(n=3, degree=2, labels=torch.tensor([1, 0, -1]), label_names=("table_0", "floor"))
    c = make(n=1, degree=1)
    m = merge([a, b, c])
    assert len(m) == 6 and m.sh_degree == 2
    assert m.label_names == ("floor", "chair_0", "table_0")
    assert m.labels.tolist() == [0, 1, 0, 2, -1, -1]  # b: 1 → floor, 0 → table_0
    assert torch.equal(m.sh[:2, 1:], torch.zeros(2, 8, 3))


def test_to_device_and_len():
    s = make()
    assert len(s.to("cpu")) == 6 and s.to("cpu").device.type == "cpu"
