"""The viewer without a browser: what it loads and refuses, the splat arrays, camera presets,
overlay geometry, the agent camera of playback, the server's state, and the command's errors
and clean shutdown (see test_viewer_browser.py for the page itself)."""

from __future__ import annotations

import math
import shutil
import signal
import socket
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from _viewer import start_view
from scipy.spatial.transform import Rotation

from _scenes import box_room_bundle, box_room_scene
from lyra_sim.cameras import look_at_cameras
from lyra_sim.envs.rollout import RolloutInfo, RolloutRecorder, read_rollout
from lyra_sim.envs.views import agent_viewmats
from lyra_sim.exporters.nav_grid import NavGrid
from lyra_sim.manifest import read_manifest
from lyra_sim.ply import read_ply, write_ply
from lyra_sim.viewer.camera import CameraMover, apply_pose
from lyra_sim.viewer.episodes import agent_camera, camera_fov_y, step_text
from lyra_sim.viewer.layers import nav_points, pieces_mesh, region_outline
from lyra_sim.viewer.presets import (
    CameraPose,
    object_pose,
    pose_from_camera,
    preview_pose,
    scene_box,
    top_down_pose,
    trajectory_poses,
)
from lyra_sim.viewer.source import load_source
from lyra_sim.viewer.splats import UNLABELED_RGB, label_palette, label_rgbs, splat_arrays

pytest.importorskip("viser", reason="the viewer extra is not installed (pip install -e '.[viewer]')")


@pytest.fixture(scope="module")
def bundle():
    return box_room_bundle()


def _copy(bundle, tmp_path) -> Path:
    out = tmp_path / "bundle"
    shutil.copytree(bundle, out)
    return out


# ---------------------------------------------------------------- sources
def test_a_bundle_loads_with_its_overlays(bundle):
    source = load_source(bundle)
    manifest = read_manifest(bundle)
    assert source.kind == "bundle" and len(source.scene) == manifest["num_gaussians"]
    assert source.scene_sha256 == manifest["files"]["scene.ply"]
    mesh = source.collision_mesh()
    assert len(mesh.faces) == manifest["collision"]["faces"]
    static = sorted(p for p in manifest["files"] if p.startswith("collision_static/"))
    assert [p.name for p in source.convex_pieces()] == static


def test_a_splat_file_loads_as_read_ply_reads_it(tmp_path):
    write_ply(tmp_path / "s.ply", box_room_scene(spacing=0.2))
    source = load_source(tmp_path / "s.ply")
    assert source.kind == "splat file" and source.manifest == {} and source.collision_mesh() is None
    assert torch.equal(source.scene.means, read_ply(tmp_path / "s.ply").means)


def test_what_cannot_be_shown_is_one_clear_error(bundle, tmp_path):
    tampered = _copy(bundle, tmp_path)
    with open(tampered / "nav.npz", "ab") as f:
        f.write(b"x")
    with pytest.raises(ValueError, match=r"does not verify against its manifest: nav.npz: sha256 differs"):
        load_source(tampered)
    (tmp_path / "bare").mkdir()
    with pytest.raises(FileNotFoundError, match="no manifest.json"):
        load_source(tmp_path / "bare")
    with pytest.raises(FileNotFoundError, match="no such file or directory"):
        load_source(tmp_path / "missing")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(ValueError, match=r"notes.txt: not a splat file lyra-sim recognizes; accepted: .*INRIA 3DGS PLY"):
        load_source(tmp_path / "notes.txt")


# ---------------------------------------------------------------- splats
def test_splat_arrays_are_the_gaussians_covariances_and_dc_colours():
    scene = box_room_scene(spacing=0.3, sh_degree=1)
    a = splat_arrays(scene)
    q = scene.quats.double().numpy()
    rot = Rotation.from_quat(q[:, [1, 2, 3, 0]]).as_matrix()  # scipy takes xyzw
    s2 = scene.scales.double().numpy() ** 2
    expected = np.einsum("nij,nj,nkj->nik", rot, s2, rot)
    np.testing.assert_allclose(a["covariances"], expected, rtol=1e-4, atol=1e-7)  # float32 of variances ~0.04
    np.testing.assert_allclose(a["rgbs"], np.clip(0.5 + 0.28209479177387814 * scene.sh[:, 0].numpy(), 0, 1), atol=1e-6)
    assert a["opacities"].shape == (len(scene), 1) and a["centers"].dtype == np.float32


def test_label_colours_are_distinct_and_unlabeled_is_grey():
    palette = label_palette(40)
    gaps = np.linalg.norm(palette[1:] - palette[:-1], axis=1)
    assert gaps.min() > 0.25  # neighbouring ids never look alike
    scene = box_room_scene(spacing=0.3)
    labels = scene.labels.clone()
    labels[0] = -1
    scene = type(scene)(scene.means, scene.quats, scene.scales, scene.opacities, scene.sh, labels, scene.label_names)
    rgb = label_rgbs(scene)
    assert rgb[0].tolist() == pytest.approx(UNLABELED_RGB)
    np.testing.assert_array_equal(rgb[1:], label_palette(len(scene.label_names))[labels[1:].numpy()])


# ---------------------------------------------------------------- camera presets
def test_a_pose_and_its_cameras_describe_the_same_view():
    pose = CameraPose((0.3, 0.2, 1.1), (1.0, 1.5, 0.4), fov_y=math.radians(50))
    cams = pose.cameras(320, 200)
    ref = look_at_cameras(torch.tensor([[0.3, 0.2, 1.1]]), torch.tensor([[1.0, 1.5, 0.4]]), 320, 200, 50.0)
    torch.testing.assert_close(cams.viewmats, ref.viewmats)
    back = pose_from_camera(cams, focus_distance=float(np.linalg.norm(np.subtract(pose.look_at, pose.position))))
    np.testing.assert_allclose(back.position, pose.position, atol=1e-6)
    np.testing.assert_allclose(back.look_at, pose.look_at, atol=1e-5)
    assert back.fov_y == pytest.approx(pose.fov_y, rel=1e-6)


def test_the_preview_pose_is_the_manifests_preview_camera():
    cams = look_at_cameras(torch.tensor([[0.5, 0.4, 1.5]]), torch.tensor([[2.0, 2.0, 0.6]]), 640, 480, 75.0)
    manifest = {"preview_camera": {"viewmat": cams.viewmats[0].tolist(), "K": cams.Ks[0].tolist(), "width": 640, "height": 480},
                "bounds": {"room": [[0, 0, 0], [4, 4, 2.5]]}}
    lo, hi = scene_box(manifest, np.zeros((1, 3)))
    assert lo.tolist() == [0, 0, 0] and hi.tolist() == [4, 4, 2.5]
    pose = preview_pose(manifest, lo, hi)
    torch.testing.assert_close(pose.cameras(640, 480).viewmats, cams.viewmats, atol=1e-5, rtol=0)
    assert math.degrees(pose.fov_y) == pytest.approx(75.0)


def test_top_down_sees_the_whole_floor_through_a_clipped_ceiling():
    lo, hi = np.array([0.0, 0.0, 0.0]), np.array([6.0, 4.0, 2.5])
    pose = top_down_pose(lo, hi)
    eye = np.asarray(pose.position)
    assert eye[2] - pose.near < hi[2] - 0.02  # the near plane lies below the ceiling ...
    assert eye[2] - pose.near > lo[2] + 1.0  # ... and well above the floor
    cams = pose.cameras(100, 100)
    corners = torch.tensor([[x, y, 0.0, 1.0] for x in (0, 6) for y in (0, 4)])
    cam = (cams.viewmats[0] @ corners.T).T[:, :3]
    pix = (cams.Ks[0] @ cam.T).T
    uv = pix[:, :2] / pix[:, 2:]
    assert ((uv >= 0) & (uv <= 100)).all()


def test_trajectory_poses_follow_lyra_trajectories_from_the_anchor():
    lo, hi = np.array([0.0, 0.0, 0.0]), np.array([4.0, 4.0, 2.5])
    anchor = CameraPose((0.5, 0.5, 1.5), (2.0, 2.0, 1.25), fov_y=math.radians(60))
    left = trajectory_poses(anchor, "left", 10, lo, hi)
    assert len(left) == 10
    np.testing.assert_allclose(left[0].position, anchor.position, atol=1e-5)
    focus = np.linalg.norm((lo + hi) / 2 - np.asarray(anchor.position))
    right = anchor.cameras(640, 480).camtoworlds[0, :3, 0].numpy()
    np.testing.assert_allclose(left[-1].position, np.asarray(anchor.position) - 0.3 * focus * right, atol=1e-4)
    with pytest.raises(ValueError, match="unknown trajectory"):
        trajectory_poses(anchor, "spiral", 10, lo, hi)


def test_object_pose_looks_at_the_object_from_inside_the_room():
    lo, hi = np.array([0.0, 0.0, 0.0]), np.array([4.0, 3.0, 2.5])
    pose = object_pose([3.2, 2.2, 0.0], [3.9, 2.9, 0.8], lo, hi)
    np.testing.assert_allclose(pose.look_at, [3.55, 2.55, 0.4])
    eye = np.asarray(pose.position)
    assert (eye > lo).all() and (eye < hi).all() and eye[2] > 0.4


def test_camera_mover_ends_exactly_at_the_target_and_a_new_move_cancels_the_old():
    class FakeClient:
        def __init__(self):
            self.client_id = 0
            self.camera = SimpleNamespace(position=(0.0, 0.0, 1.0), look_at=(1.0, 0.0, 1.0), up_direction=(0, 0, 1),
                                          fov=1.0, near=0.01)
            self.moves = 0

        @contextmanager
        def atomic(self):
            self.moves += 1
            yield

    client = FakeClient()
    mover = CameraMover(fps=200)
    far = CameraPose((9.0, 9.0, 9.0), (0.0, 0.0, 0.0))
    mover.play(client, [far] * 1000)  # would take 5 s
    target = CameraPose((2.0, 1.0, 1.5), (3.0, 1.0, 1.0), fov_y=0.9, near=0.2)
    mover.fly(client, target, seconds=0.05)
    deadline = time.time() + 10
    while time.time() < deadline and tuple(client.camera.position) != target.position:
        time.sleep(0.01)
    time.sleep(0.1)  # the cancelled move must not come back
    assert tuple(client.camera.position) == target.position and tuple(client.camera.look_at) == target.look_at
    assert client.camera.fov == 0.9 and client.camera.near == 0.2
    apply_pose(client, far)
    assert client.camera.position == far.position


# ---------------------------------------------------------------- overlays
def _grid(occupancy, floor=None, distance=None) -> NavGrid:
    occ = np.asarray(occupancy, np.uint8)
    return NavGrid(occupancy=occ, distance=np.zeros(occ.shape, np.float32) if distance is None else distance,
                   origin=np.array([1.0, 2.0]), resolution=0.5, floor_z=0.1, height_range=np.array([0.05, 1.2]),
                   floor=np.ones(occ.shape, np.uint8) if floor is None else np.asarray(floor, np.uint8),
                   obstacle_height=np.full(occ.shape, np.inf, np.float32))


def test_nav_points_mark_each_floor_cell_free_or_blocked():
    grid = _grid([[0, 1], [0, 0]], floor=[[1, 1], [0, 1]])
    points, colors = nav_points(grid)
    np.testing.assert_allclose(points, [[1.25, 2.25, 0.11], [1.75, 2.25, 0.11], [1.75, 2.75, 0.11]], atol=1e-6)
    assert colors.tolist() == [[40, 200, 90], [230, 50, 50], [40, 200, 90]]


def test_region_outline_is_the_border_of_the_region():
    grid = _grid(np.zeros((4, 5)))
    one = np.zeros((4, 5), bool)
    one[1, 2] = True
    seg = region_outline(grid, one)
    assert len(seg) == 4
    xy = seg[..., :2]
    assert set(map(tuple, xy.reshape(-1, 2).round(6).tolist())) == {(2.0, 2.5), (2.5, 2.5), (2.0, 3.0), (2.5, 3.0)}
    ell = np.zeros((4, 5), bool)
    ell[0, 0:3] = True
    ell[1, 0] = True  # an L of 4 cells: perimeter 10 cell edges
    seg = region_outline(grid, ell)
    length = np.linalg.norm(seg[:, 1] - seg[:, 0], axis=1).sum()
    assert len(seg) == 10 and length == pytest.approx(10 * 0.5)
    np.testing.assert_allclose(seg[..., 2], 0.12, atol=1e-6)


def test_pieces_mesh_keeps_every_piece_with_its_own_colour(bundle):
    pieces = load_source(bundle).convex_pieces()
    v, f, c = pieces_mesh(pieces)
    assert len(v) == sum(len(p.vertices) for p in pieces) and len(f) == sum(len(p.faces) for p in pieces)
    assert f.max() == len(v) - 1
    starts = np.cumsum([0] + [len(p.vertices) for p in pieces])
    colours = [c[a:b] for a, b in zip(starts[:-1], starts[1:])]
    assert all((piece == piece[0]).all() for piece in colours)  # one colour per piece ...
    assert all((x[0] != y[0]).any() for x, y in zip(colours[:-1], colours[1:]))  # ... differing from the next
    np.testing.assert_array_equal(v[f[: len(pieces[0].faces)]], pieces[0].vertices[pieces[0].faces])


# ---------------------------------------------------------------- episodes
INFO = RolloutInfo(action_type="discrete", agent_radius=0.2, agent_height=1.0, camera_height_m=0.9,
                   camera_pitch_deg=15.0, camera_hfov_deg=90.0, scene_sha256=("",), floor_z=(0.05,))


def _rollout(tmp_path, info=INFO, sha=None):
    if sha is not None:
        info = RolloutInfo(**{**info.__dict__, "scene_sha256": (sha,)})
    rec = RolloutRecorder(tmp_path / "r.npz", info, images=True)
    img = np.zeros((1, 6, 8, 3), np.uint8)
    rec.reset([[1.0, 1.0]], [0.3], [[1.5, 1.2]], image=img)
    rec.step([[1.2, 1.1]], [0.5], [[1.5, 1.2]], [1], [0.1], [False], [False], image=img + 50)
    rec.step([[1.2, 1.1]], [0.5], [[1.5, 1.2]], [0], [2.5], [True], [False], [False], [True], image=img + 100)
    return rec.close()


def test_the_agent_camera_is_the_envs_camera(tmp_path):
    r = read_rollout(_rollout(tmp_path))
    for row in range(len(r)):
        eye, rot = agent_camera(r, row)
        view = agent_viewmats(torch.tensor(r.xy[row : row + 1]), torch.tensor(r.yaw[row : row + 1]),
                              torch.tensor([0.05 + 0.9]), 15.0)[0].double().numpy()
        np.testing.assert_allclose(rot.T, view[:3, :3], atol=1e-6)
        np.testing.assert_allclose(-rot.T @ eye, view[:3, 3], atol=1e-6)
    fov, aspect = camera_fov_y(r)
    assert aspect == pytest.approx(8 / 6) and math.tan(fov / 2) * aspect == pytest.approx(1.0)  # hfov 90°
    text = step_text(r, r.rows(0), 2)
    assert "step 2 / 2" in text and "stop" in text and "return +2.600" in text and "success, terminated" in text


# ---------------------------------------------------------------- the server, in process
def test_the_server_serves_the_page_and_its_controls_act(bundle, tmp_path):
    from lyra_sim.viewer.app import SceneViewer

    source = load_source(bundle)
    rollout = read_rollout(_rollout(tmp_path, sha=source.scene_sha256))
    viewer = SceneViewer(source, port=0, rollout=rollout)
    try:
        page = urllib.request.urlopen(viewer.url, timeout=10).read().decode()
        assert "<html" in page.lower()
        assert set(viewer.layers.controls) == {"collision", "collision_style", "pieces", "nav", "spawn"}
        c, nodes = viewer.layers.controls, viewer.layers.nodes
        static, opacities = viewer.splats.static_node, viewer.splats.static.arrays["opacities"]  # one node: the scene
        for key in ("pieces", "nav", "spawn"):  # a server-side value runs the same callbacks as a click
            c[key].value = True
            assert nodes[key].visible
        c["collision"].value = True
        assert nodes["collision_wireframe"].visible and not nodes["collision_translucent"].visible
        c["collision_style"].value = "translucent"
        assert nodes["collision_translucent"].visible and not nodes["collision_wireframe"].visible
        assert np.abs(static.opacities.astype(float) - opacities * 0.3 * 255).max() <= 1.0
        c["collision"].value = False
        assert not nodes["collision_translucent"].visible
        assert np.abs(static.opacities.astype(float) - opacities * 255).max() <= 1.0
        viewer.set_color_mode("semantic label")
        expected = label_rgbs(source.scene) * 255  # viser keeps uint8 colours
        assert np.abs(static.rgbs.astype(float) - expected).max() <= 1.0
        player = viewer.player
        player.show(1)
        assert tuple(player.body.position) == pytest.approx((1.2, 1.1, 0.05 + 0.5))
        assert tuple(player.goal.position[:2]) == pytest.approx((1.5, 1.2))
        np.testing.assert_array_equal(player.image.image[::32, ::32], rollout.image[1])  # 8 px wide, shown 32x
    finally:
        viewer.stop()


# ---------------------------------------------------------------- the command
def _one_line_error(capsys, *args, fragments=()):
    """``lyra-sim view ARGS`` (in process: the same `main` as the console script) fails with exit 2 and one line."""
    from lyra_sim.cli import main

    assert main(["view", *map(str, args)]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lyra-sim: error: "), err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_bad_inputs_exit_2_with_one_line(bundle, tmp_path, capsys):
    _one_line_error(capsys, tmp_path / "missing", fragments=["no such file or directory"])
    tampered = _copy(bundle, tmp_path)
    (tampered / "collision.obj").write_text("")
    _one_line_error(capsys, tampered, "--port", 0, fragments=["does not verify", "collision.obj"])
    (tmp_path / "bad.npz").write_bytes(b"\x00" * 10)
    _one_line_error(capsys, bundle, "--port", 0, "--episodes", tmp_path / "bad.npz", fragments=["not a readable rollout"])
    other = _rollout(tmp_path, sha="f" * 64)
    _one_line_error(capsys, bundle, "--port", 0, "--episodes", other, fragments=["no episode in this scene"])


def test_a_port_in_use_is_one_clear_error(bundle, capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        _one_line_error(capsys, bundle, "--port", port, fragments=[f"port {port} on 127.0.0.1 is in use"])


def test_ctrl_c_shuts_the_server_down_cleanly(bundle, tmp_path):
    proc = start_view(bundle, "--port", "0")
    try:
        line = proc.stdout.readline()
        assert " at http://localhost:" in line, line + proc.stderr.read()
        url = line.split(" at ")[1].split()[0]
        port = int(url.rsplit(":", 1)[1])
        assert urllib.request.urlopen(url, timeout=10).status == 200
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=30)
        err = proc.stderr.read()
        assert rc == 0, err
        assert "lyra-sim view: stopped" in err and "Traceback" not in err
        with socket.socket() as again:  # the port is free again
            again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            again.bind(("127.0.0.1", port))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
