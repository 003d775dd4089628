import math

import pytest
import torch

from lyra_sim.cameras import (
    TRAJECTORIES,
    Cameras,
    cat,
    intrinsics,
    look_at,
    look_at_cameras,
    lyra_trajectories,
    orbit,
)


def project(cams: Cameras, points: torch.Tensor) -> torch.Tensor:
    """Pixel coordinates [C, P, 2] and depth of world points [P, 3]."""
    homog = torch.cat([points, torch.ones(len(points), 1)], -1)
    cam = (cams.viewmats @ homog.T).transpose(1, 2)[..., :3]
    pix = (cams.Ks @ cam.transpose(1, 2)).transpose(1, 2)
    return pix[..., :2] / pix[..., 2:], cam[..., 2]


def test_look_at_opencv_axes():
    cams = look_at_cameras(torch.tensor([[0.0, -3, 1]]), torch.tensor([[0.0, 0, 1]]), 64, 48, fov_y_deg=90)
    px, depth = project(cams, torch.tensor([[0.0, 0, 1], [1.0, 0, 1], [0.0, 0, 2]]))
    assert torch.allclose(px[0, 0], torch.tensor([32.0, 24.0]))  # target at the principal point
    assert px[0, 1, 0] > 32  # +x world is to the right
    assert px[0, 2, 1] < 24  # +z world (up) is toward the top of the image (y down)
    assert torch.allclose(depth[0], torch.tensor([3.0, 3.0, 3.0]))
    assert torch.allclose(cams.centers, torch.tensor([[0.0, -3, 1]]))
    assert torch.allclose(cams.camtoworlds[0, :3, 3], torch.tensor([0.0, -3, 1]))


def test_look_at_rejects_degenerate():
    with pytest.raises(ValueError, match="parallel to the up vector"):
        look_at(torch.tensor([[0.0, 0, 0]]), torch.tensor([[0.0, 0, 5]]))
    with pytest.raises(ValueError, match="coincides"):
        look_at(torch.tensor([[1.0, 0, 0]]), torch.tensor([[1.0, 0, 0]]))


def test_intrinsics_fov():
    k = intrinsics(90.0, 200, 100)
    assert k.shape == (1, 3, 3)
    assert math.isclose(float(k[0, 1, 1]), 50.0, rel_tol=1e-6)
    with pytest.raises(ValueError, match="fov_y_deg"):
        intrinsics(0.0, 10, 10)


@pytest.mark.parametrize(("fov", "width", "height"), [(75.0, 256, 192), (90.0, 64, 64), (20.5, 320, 240)])
def test_fov_y_deg_inverts_intrinsics(fov, width, height):
    cams = look_at_cameras(torch.tensor([[0.0, -3, 1]]), torch.tensor([[0.0, 0, 1]]), width, height, fov_y_deg=fov)
    assert math.isclose(cams.fov_y_deg, fov, rel_tol=1e-6)
    wider = Cameras(cams.viewmats, cams.Ks * torch.tensor([[0.5], [0.5], [1.0]]), width, height)  # half the focal length
    assert math.isclose(wider.fov_y_deg, math.degrees(2 * math.atan(2 * math.tan(math.radians(fov) / 2))), rel_tol=1e-6)


def test_validation():
    with pytest.raises(ValueError, match=r"viewmats: expected shape \[C, 4, 4\]"):
        Cameras(torch.zeros(2, 3, 4), torch.zeros(2, 3, 3), 4, 4)
    with pytest.raises(ValueError, match=r"Ks: expected shape \[2, 3, 3\]"):
        Cameras(torch.eye(4).expand(2, 4, 4), torch.zeros(1, 3, 3), 4, 4)
    with pytest.raises(ValueError, match="width"):
        Cameras(torch.eye(4)[None], torch.eye(3)[None], 0, 4)


def test_orbit_keeps_center_in_view():
    cams = orbit([1.0, 2.0, 0.5], radius=3.0, height=1.0, num_frames=12, width=32, height_px=32)
    px, depth = project(cams, torch.tensor([[1.0, 2.0, 0.5]]))
    assert torch.allclose(px[:, 0], torch.full((12, 2), 16.0), atol=1e-4)
    assert torch.allclose(depth[:, 0], torch.full((12,), math.sqrt(10.0)), atol=1e-5)
    dist = (cams.centers[:, :2] - torch.tensor([1.0, 2.0])).norm(dim=-1)
    assert torch.allclose(dist, torch.full((12,), 3.0), atol=1e-5)


def test_cat_and_index():
    a = orbit([0, 0, 0], 2.0, 1.0, 3, 16, 16)
    both = cat([a, a[1]])
    assert len(both) == 4 and torch.equal(both.viewmats[3], a.viewmats[1])
    assert torch.equal(a[-1].viewmats[0], a.viewmats[2])


def test_lyra_trajectories():
    anchor = look_at_cameras(torch.tensor([[0.0, -4, 1.5]]), torch.tensor([[0.0, 0, 1.5]]), 64, 48)
    trajs = lyra_trajectories(anchor, num_frames=9, focus_distance=4.0, distance=1.0)
    assert tuple(trajs) == TRAJECTORIES
    focus = torch.tensor([[0.0, 0, 1.5]])
    for name, cams in trajs.items():
        assert len(cams) == 9
        assert torch.allclose(cams.viewmats[0], anchor.viewmats[0], atol=1e-5), name
        px, _ = project(cams, focus)
        assert torch.allclose(px[:, 0], torch.tensor([32.0, 24.0]).expand(9, 2), atol=1e-3), name
    end = {k: v.centers[-1] for k, v in trajs.items()}
    assert torch.allclose(end["left"], torch.tensor([-1.0, -4, 1.5]), atol=1e-5)
    assert torch.allclose(end["right"], torch.tensor([1.0, -4, 1.5]), atol=1e-5)
    assert torch.allclose(end["up"], torch.tensor([0.0, -4, 2.5]), atol=1e-5)
    assert torch.allclose(end["zoom_in"], torch.tensor([0.0, -3, 1.5]), atol=1e-5)
    assert torch.allclose(end["zoom_out"], torch.tensor([0.0, -5, 1.5]), atol=1e-5)
    assert torch.allclose(end["clockwise"], torch.tensor([0.0, -4, 1.5]), atol=1e-5)
    # clockwise stays on a circle of radius `distance` around the anchor's axis
    mid = trajs["clockwise"].centers[4]
    assert torch.allclose(mid, torch.tensor([-2.0, -4, 1.5]), atol=1e-5)
    with pytest.raises(ValueError, match="accepted: left, right, up, zoom_out, zoom_in, clockwise"):
        from lyra_sim.cameras import lyra_trajectory
        lyra_trajectory(anchor, "spiral", 4, 1.0)
