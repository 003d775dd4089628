"""LyraScene-v0 (`lyra_sim.envs`): registration, spaces, episodes, collisions, vector env, bad input.

Runs on the box room bundle of `_scenes` (2.0 × 2.4 × 1.6 m with a 0.6 × 0.8 × 0.5 m block), so
nothing is generated; the procedural path through the cache is covered once, by a prompt.
"""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
import trimesh
from gymnasium.utils.env_checker import check_env
from scipy.spatial import cKDTree

import lyra_sim  # noqa: F401  (registers LyraScene-v0)
from _scenes import box_room_bundle
from lyra_sim.envs.pointnav import PointNavTask
from lyra_sim.envs.scene_env import LyraSceneEnv
from lyra_sim.envs.vector_env import LyraSceneVectorEnv
from lyra_sim.exporters.evaluate import sample_surface
from lyra_sim.exporters.nav import read_nav

TASK = {"min_geodesic": 0.5, "max_episode_steps": 40}


@pytest.fixture(scope="module")
def bundle():
    return box_room_bundle()


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LYRA_SIM_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def make(bundle, **kw):
    kw.setdefault("task", TASK)
    return gym.make("LyraScene-v0", scene=str(bundle), **kw)


def test_import_registers_without_loading_anything():
    code = (
        "import sys, lyra_sim, gymnasium as gym; "
        "assert 'LyraScene-v0' in gym.registry; "
        "spec = gym.spec('LyraScene-v0'); "
        "assert spec.vector_entry_point == 'lyra_sim.envs.vector_env:LyraSceneVectorEnv'; "
        "bad = [m for m in ('lyra_sim.envs', 'lyra_sim.exporters', 'gsplat', 'open3d') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_module_prefixed_id_in_a_fresh_interpreter_passes_check_env(bundle, tmp_path):
    code = (
        "import gymnasium as gym\n"
        "from gymnasium.utils.env_checker import check_env\n"
        f"env = gym.make('lyra_sim:LyraScene-v0', scene={str(bundle)!r}, task={TASK!r})\n"
        "check_env(env.unwrapped, skip_render_check=False)\n"
        "print('ok', env.observation_space['rgb'].shape)\n"
    )
    env = dict(os.environ, LYRA_SIM_CACHE=str(tmp_path / "cache"))
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env)
    assert "ok (64, 64, 3)" in out.stdout


@pytest.mark.parametrize("kw", [{}, {"action_type": "discrete"}, {"depth": True, "width": 48, "height": 32}])
def test_check_env(bundle, cache, kw):
    env = make(bundle, render_mode="rgb_array", **kw)
    check_env(env.unwrapped, skip_render_check=False)
    obs, _ = env.reset(seed=0)
    assert obs["rgb"].shape == (kw.get("height", 64), kw.get("width", 64), 3)
    assert ("depth" in obs) == bool(kw.get("depth"))
    if kw.get("depth"):
        d = obs["depth"]
        # Inside a closed room every pixel sees a surface between 0.2 m and the far corner.
        assert d.dtype == np.float32 and d.min() > 0.2 and d.max() < math.dist((0, 0, 0), (2.0, 2.4, 1.6)) + 0.05


def test_same_seed_same_episode_and_different_seed_differs(bundle, cache):
    def rollout(seed):
        env = make(bundle)
        obs, _ = env.reset(seed=seed)
        frames, rewards = [obs["rgb"]], []
        rng = np.random.default_rng(7)
        for _ in range(15):
            obs, r, term, trunc, _ = env.step(rng.uniform(-1, 1, 2).astype(np.float32))
            frames.append(obs["rgb"])
            rewards.append(r)
            if term or trunc:
                break
        return np.stack(frames), np.array(rewards)

    a, b, c = rollout(3), rollout(3), rollout(4)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0][0], c[0][0])


def _band_tree(bundle: Path, agent_height: float):
    """KD-tree over the xy of collision-surface samples between step height and the agent's top."""
    nav = read_nav(bundle / "nav.npz")
    mesh = trimesh.load(bundle / "collision.obj", force="mesh", process=False)
    vertices, faces = np.asarray(mesh.vertices), np.asarray(mesh.faces)
    points, _, _ = sample_surface(vertices, faces, 400_000, np.random.default_rng(0))
    z = points[:, 2] - nav.floor_z
    band = (z > nav.height_range[0]) & (z < agent_height)
    return cKDTree(points[band, :2])


def test_ten_thousand_max_speed_steps_never_enter_the_collision_mesh(bundle, cache):
    env = make(bundle, task={**TASK, "max_episode_steps": 10_000}).unwrapped
    agent = env.settings.agent
    # 50 agents × 200 steps, full speed forward or backward with random turns (no rendering).
    task = PointNavTask(env.scenes.fields, torch.zeros(50, dtype=torch.long), agent, env.settings.task, env.settings.camera)
    rngs = [np.random.default_rng(i) for i in range(50)]
    task.reset(list(range(50)), rngs)
    tree = _band_tree(env.bundle, agent.height)
    rng = np.random.default_rng(0)
    positions, collisions = [task.state.xy.clone()], 0
    for _ in range(200):
        action = torch.tensor(np.stack([rng.choice([-1.0, 1.0], 50), rng.uniform(-1, 1, 50)], 1), dtype=torch.float32)
        collisions += int(task.step(action).collided.sum())
        positions.append(task.state.xy.clone())
    xy = torch.cat(positions).numpy()
    nearest, _ = tree.query(xy)
    # Surface samples are ~1 cm apart: the true distance is at most ~1 cm below the sampled one.
    assert nearest.min() >= agent.radius - 0.01, nearest.min()
    assert collisions > 100  # the walls were hit, and slid along, many times
    moved = np.linalg.norm(np.diff(np.stack(np.split(xy, 201)), axis=0), axis=-1)
    assert moved.max() <= agent.max_linear_speed * agent.dt + 1e-5
    assert (moved > 0.05).mean() > 0.5  # mostly moving, not stuck


def test_episode_starts_leave_room_for_the_body(bundle, cache):
    task = make(bundle).unwrapped.task
    rng = np.random.default_rng(0)
    starts = torch.tensor(np.array([task.draw_episode(0, rng)[0] for _ in range(300)]), dtype=torch.float32)
    clearance = task.fields.clearance_at(torch.zeros(len(starts), dtype=torch.long), starts)
    assert bool((clearance >= task.required[0]).all()), float(clearance.min())


def test_reward_is_the_geodesic_decrease_and_success_ends_the_episode(bundle, cache):
    env = make(bundle, task={**TASK, "time_penalty": 0.0, "collision_penalty": 0.0, "success_reward": 0.0}).unwrapped
    env.reset(seed=5)
    total, start = 0.0, env.task.state.geodesic.item()
    for _ in range(40):
        dist, heading = env.task.pointgoal()[0].tolist()
        # Turn toward the goal, then drive: a greedy policy that reaches goals in an open room.
        action = np.array([1.0 if abs(heading) < 0.3 else 0.0, np.clip(heading / 0.5, -1, 1)], np.float32)
        obs, r, term, trunc, info = env.step(action)
        total += r
        if term:
            break
    assert term and info["success"] and info["distance_to_goal"] <= 0.3
    assert total == pytest.approx(start - info["geodesic_distance"], abs=1e-4)
    assert 0 < info["spl"] <= 1


def test_discrete_stop_terminates_and_succeeds_only_at_the_goal(bundle, cache):
    env = make(bundle, action_type="discrete").unwrapped
    env.reset(seed=0)
    _, _, term, _, info = env.step(0)
    assert term and not info["success"]  # min_geodesic 0.5 > success distance 0.3
    with pytest.raises(RuntimeError, match="reset"):
        env.step(1)
    env.reset(seed=0)
    x, y = env.task.state.xy[0].tolist()
    _, _, _, _, info = env.step(1)
    moved = math.dist((x, y), env.task.state.xy[0].tolist())
    assert moved == pytest.approx(0.25, abs=1e-5) or info["collided"]


def test_pointgoal_heading_is_counterclockwise(bundle, cache):
    env = make(bundle).unwrapped
    obs, _ = env.reset(seed=2)
    dist, heading = obs["pointgoal"]
    st = env.task.state
    goal = env.task.goal_xy()[0]
    left = torch.tensor([-math.sin(st.yaw[0]), math.cos(st.yaw[0])])
    assert np.sign(heading) == np.sign(float((goal - st.xy[0]) @ left))
    assert dist == pytest.approx(float((goal - st.xy[0]).norm()), abs=1e-5)


def test_observation_is_the_scene_rendered_at_the_agent_camera(bundle, cache):
    from lyra_sim.cameras import Cameras
    from lyra_sim.envs.views import agent_viewmats
    from lyra_sim.ply import read_ply
    from lyra_sim.render import render

    env = make(bundle, camera={"pixel_ratio": 0, "pitch_deg": 20}).unwrapped
    obs, _ = env.reset(seed=1)
    st = env.task.state
    vm = agent_viewmats(st.xy, st.yaw, env.task.camera_z(), 20.0)
    cams = Cameras(vm, env.scenes.views.K[None], 64, 64)
    ref = render(read_ply(env.bundle / "scene.ply"), cams, near_plane=0.05, far_plane=100.0).rgb[0]
    ref8 = (ref.clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy()
    # Frustum culling must not change a single pixel; the LOD default stays close.
    assert np.abs(obs["rgb"].astype(int) - ref8).max() <= 1
    lod_env = make(bundle, camera={"pitch_deg": 20}).unwrapped
    lod_obs, _ = lod_env.reset(seed=1)
    mse = ((lod_obs["rgb"].astype(float) - ref8) / 255) ** 2
    assert -10 * math.log10(mse.mean()) > 28


def test_render_shows_the_map_beside_the_view(bundle, cache):
    env = make(bundle, render_mode="rgb_array")
    obs, _ = env.reset(seed=0)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[1] > frame.shape[0]
    h = frame.shape[0]
    view = frame[:, -h:]
    # The right square is the observation, scaled up by nearest neighbour.
    idx = (np.arange(h) * 64 // h)
    assert np.array_equal(view, obs["rgb"][idx][:, idx])


def test_vector_env_matches_single_envs_including_autoreset(bundle, cache):
    n, seed = 3, 11
    venv = gym.make_vec("LyraScene-v0", num_envs=n, vectorization_mode="vector_entry_point", scene=str(bundle), task={**TASK, "max_episode_steps": 6})
    assert isinstance(venv.unwrapped, LyraSceneVectorEnv)
    singles = [make(bundle, task={**TASK, "max_episode_steps": 6}) for _ in range(n)]
    vobs, _ = venv.reset(seed=seed)
    sobs = [e.reset(seed=seed + i)[0] for i, e in enumerate(singles)]
    rng = np.random.default_rng(0)
    done = [False] * n
    ends = 0
    for _ in range(14):
        actions = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
        vobs, vr, vterm, vtrunc, vinfo = venv.step(actions)
        for i, e in enumerate(singles):
            if done[i]:  # next-step autoreset: the vector env reset this one and ignored its action
                sobs[i], sinfo = e.reset()
                r, term, trunc = 0.0, False, False
            else:
                sobs[i], r, term, trunc, sinfo = e.step(actions[i])
            assert vinfo["path_length"][i] == pytest.approx(sinfo["path_length"], abs=1e-5)
            assert vinfo["_spl"][i] == ("spl" in sinfo)
            if "spl" in sinfo:
                assert vinfo["spl"][i] == pytest.approx(sinfo["spl"], abs=1e-6)
            assert np.array_equal(vobs["rgb"][i], sobs[i]["rgb"])
            np.testing.assert_allclose(vobs["pointgoal"][i], sobs[i]["pointgoal"], atol=1e-6)
            assert vr[i] == pytest.approx(r, abs=1e-6) and vterm[i] == term and vtrunc[i] == trunc
            done[i] = term or trunc
            ends += done[i]
    assert ends >= n  # every env went through at least one autoreset


def test_vector_env_spreads_several_scenes(bundle, cache, tmp_path):
    # A second scene: the same room 10 m further along x.
    shifted = _bundle_without_open3d(tmp_path / "shifted", shift=10.0)
    venv = LyraSceneVectorEnv(num_envs=4, scene=[str(bundle), str(shifted)], task=TASK, array_type="torch")
    obs, _ = venv.reset(seed=0)
    x = venv.task.state.xy[:, 0]
    assert (x[0::2] < 3).all() and (x[1::2] > 9).all()
    assert isinstance(obs["rgb"], torch.Tensor) and obs["rgb"].shape == (4, 64, 64, 3)


def test_concurrent_builders_share_one_bundle_that_is_then_reused(bundle, cache, tmp_path):
    from lyra_sim.envs.cache import bundle_for_path
    from lyra_sim.manifest import verify
    from lyra_sim.ply import read_ply, write_ply

    ply = tmp_path / "room.ply"
    write_ply(ply, read_ply(bundle / "scene.ply"))
    code = (
        "import sys; from lyra_sim.envs.cache import bundle_for_path; "
        f"print(bundle_for_path({str(ply)!r}))"
    )
    env = dict(os.environ, LYRA_SIM_CACHE=str(cache), OMP_NUM_THREADS="1")
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    outs = [p.communicate()[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs) and outs[0] == outs[1]
    built = Path(outs[0])
    assert built.parent == cache / "bundles" and verify(built) == []
    assert [p.name for p in (cache / "bundles").iterdir() if p.name.startswith(".")] == []  # no scratch left
    # Later calls read the finished entry; an existing bundle is used in place, not copied.
    stamp = (built / "manifest.json").stat().st_mtime_ns
    assert bundle_for_path(ply) == built and (built / "manifest.json").stat().st_mtime_ns == stamp
    assert bundle_for_path(bundle) == bundle


def test_prompt_generates_once_then_reads_the_cache(cache):
    kw = dict(prompt={"room": {"type": "plain", "size": [2.5, 2.5, 2.2], "furnish": False}, "objects": []}, seed=0, task=TASK)
    env = gym.make("LyraScene-v0", **kw).unwrapped
    built = env.bundle
    assert built.parent == cache / "bundles" and json.loads((built / "manifest.json").read_text())["seed"] == 0
    stamp = (built / "scene.ply").stat().st_mtime_ns
    again = gym.make("LyraScene-v0", **kw).unwrapped
    assert again.bundle == built and (built / "scene.ply").stat().st_mtime_ns == stamp


# ---------------------------------------------------------------------- bad input


def test_bad_arguments_fail_at_make(bundle, cache, tmp_path):
    with pytest.raises(TypeError, match="unexpected keyword"):
        make(bundle, colour="red")
    with pytest.raises(TypeError, match="unknown setting"):
        make(bundle, agent={"radius": 0.2, "wheels": 3})
    with pytest.raises(ValueError, match="exactly one of prompt"):
        gym.make("LyraScene-v0")
    with pytest.raises(ValueError, match="agent radius"):
        make(bundle, agent={"radius": float("nan")})
    with pytest.raises(ValueError, match="action_type"):
        make(bundle, action_type="teleport")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        gym.make("LyraScene-v0", scene=str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="no walkable floor fits"):
        make(bundle, agent={"radius": 1.5})


def test_a_prompt_the_world_model_rejects_fails_at_make(cache):
    with pytest.raises(ValueError, match="prompt: empty"):
        gym.make("LyraScene-v0", prompt="", seed=0)
    assert not any((cache / "bundles").glob("[!.]*/manifest.json")) if (cache / "bundles").exists() else True


def test_a_bundle_that_fails_verification_is_refused(bundle, cache, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(bundle, broken)
    with open(broken / "nav.npz", "ab") as f:
        f.write(b"x")
    with pytest.raises(ValueError, match="fails verification: nav.npz"):
        gym.make("LyraScene-v0", scene=str(broken))


def test_a_ply_without_a_usable_surface_is_refused(cache, tmp_path):
    from lyra_sim.ply import write_ply
    from lyra_sim.scene import GaussianScene

    g = torch.Generator().manual_seed(0)
    n = 50
    quats = torch.tensor([[1.0, 0, 0, 0]]).expand(n, 4).contiguous()
    scene = GaussianScene.from_rgb(
        torch.rand(n, 3, generator=g) * 3, quats, torch.full((n, 3), 0.01), torch.full((n,), 0.9), torch.rand(n, 3, generator=g)
    )
    write_ply(tmp_path / "dust.ply", scene)
    with pytest.raises(ValueError, match="dust.ply.*no surface"):
        gym.make("LyraScene-v0", scene=str(tmp_path / "dust.ply"))


@pytest.mark.parametrize(
    "action, message",
    [
        (np.array([np.nan, 0.0], np.float32), "outside the action space"),
        (np.array([1.5, 0.0], np.float32), "outside the action space"),
        (np.array([1.0, 0.0, 0.0], np.float32), "expected shape"),
    ],
)
def test_bad_actions_raise_at_step(bundle, cache, action, message):
    env = make(bundle)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=message):
        env.step(action)


def test_bad_discrete_actions_raise(bundle, cache):
    env = make(bundle, action_type="discrete")
    env.reset(seed=0)
    for bad in (4, -1, 1.0):
        with pytest.raises(ValueError, match="integer"):
            env.step(bad)


# ---------------------------------------------------------------------- CUDA


def _bundle_without_open3d(out: Path, shift: float = 0.0) -> Path:
    """The box room (moved ``shift`` meters along x) as a bundle built by hand, fast and without
    open3d (the GPU machine has none): its Gaussians, the ground-truth boxes as the collision
    mesh and a nav grid rasterized from them."""
    from _scenes import BLOCK, ROOM, box_room_ground_truth, box_room_scene
    from lyra_sim.exporters.meshes import write_mesh
    from lyra_sim.exporters.nav import NavGrid, write_nav
    from lyra_sim.manifest import write_manifest
    from lyra_sim.ply import write_ply

    out.mkdir()
    move = torch.tensor([shift, 0.0, 0.0])
    write_ply(out / "scene.ply", box_room_scene().transform(torch.eye(3), move))
    meshes = box_room_ground_truth()
    vertices = np.concatenate([v for v, _ in meshes]) + move.numpy()
    offsets = np.cumsum([0] + [len(v) for v, _ in meshes[:-1]])
    write_mesh(out / "collision.obj", vertices, np.concatenate([f + o for (_, f), o in zip(meshes, offsets)]))
    res, origin = 0.05, np.array([-0.2 + shift, -0.2])
    ny, nx = int((ROOM[1] + 0.4) / res), int((ROOM[0] + 0.4) / res)
    cx = origin[0] + (np.arange(nx) + 0.5) * res
    cy = origin[1] + (np.arange(ny) + 0.5) * res
    x, y = np.meshgrid(cx, cy)
    x = x - shift
    floor = (x > 0) & (x < ROOM[0]) & (y > 0) & (y < ROOM[1])
    (bx0, by0, _), (bx1, by1, bz1) = BLOCK
    on_block = (x > bx0 - res) & (x < bx1 + res) & (y > by0 - res) & (y < by1 + res)
    height = np.where(on_block, 0.06, ROOM[2]).astype(np.float32)  # block sides start at the floor
    grid = NavGrid(np.zeros((ny, nx), np.uint8), np.zeros((ny, nx), np.float32), origin, res, 0.0,
                   np.array([0.05, 1.2]), floor.astype(np.uint8), height).for_agent(1.2)
    write_nav(out / "nav.npz", grid)
    write_manifest(out, {"kind": "bundle", "source": "test"})
    return out


@pytest.mark.gpu
def test_cuda_vector_env_agrees_with_the_cpu_one(tmp_path, monkeypatch):
    monkeypatch.setenv("LYRA_SIM_CACHE", str(tmp_path / "cache"))
    bundle = _bundle_without_open3d(tmp_path / "bundle")
    kw = dict(num_envs=8, scene=str(bundle), task=TASK, camera={"pixel_ratio": 0}, array_type="torch")
    cpu, gpu = LyraSceneVectorEnv(device="cpu", **kw), LyraSceneVectorEnv(device="cuda", **kw)
    a, _ = cpu.reset(seed=0)
    b, _ = gpu.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(5):
        actions = rng.uniform(-1, 1, (8, 2)).astype(np.float32)
        a, ra, *_ = cpu.step(actions)
        b, rb, *_ = gpu.step(torch.as_tensor(actions, device="cuda"))
        torch.testing.assert_close(gpu.task.state.xy.cpu(), cpu.task.state.xy, atol=1e-4, rtol=0)
        torch.testing.assert_close(rb.cpu(), ra, atol=1e-4, rtol=0)
        # gsplat and the PyTorch rasterizer agree to float rounding; uint8 may differ by one level.
        diff = (b["rgb"].cpu().int() - a["rgb"].int()).abs()
        assert diff.max() <= 2 and diff.float().mean() < 0.05


@pytest.mark.gpu
def test_cuda_lod_vector_env_steps_as_the_cpu_one_without_syncs_and_renders_close_to_full(tmp_path, monkeypatch):
    from lyra_sim.cameras import Cameras
    from lyra_sim.envs.views import agent_viewmats
    from lyra_sim.render import render

    monkeypatch.setenv("LYRA_SIM_CACHE", str(tmp_path / "cache"))
    bundle = _bundle_without_open3d(tmp_path / "bundle")
    n = 16
    kw = dict(num_envs=n, scene=str(bundle), task={**TASK, "max_episode_steps": 6}, array_type="torch")
    cpu = LyraSceneVectorEnv(device="cpu", **kw)
    gpu = LyraSceneVectorEnv(device="cuda", action_check="async", **kw)
    views = gpu.scenes.views
    assert views.pixel_ratio > 0 and views.budget < len(views.full_scenes[0])  # the LOD path, fitted budget
    cpu.reset(seed=3)
    gpu.reset(seed=3)
    rng = np.random.default_rng(0)
    ends = 0
    for _ in range(14):
        actions = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
        a, ra, ta, ua, ia = cpu.step(actions)
        b, rb, tb, ub, ib = gpu.step(torch.as_tensor(actions, device="cuda"))
        torch.testing.assert_close(gpu.task.state.xy.cpu(), cpu.task.state.xy, atol=1e-4, rtol=0)
        torch.testing.assert_close(rb.cpu(), ra, atol=1e-4, rtol=0)
        assert torch.equal(tb.cpu(), ta) and torch.equal(ub.cpu(), ua) and torch.equal(ib["_spl"].cpu(), ia["_spl"])
        torch.testing.assert_close(b["pointgoal"].cpu(), a["pointgoal"], atol=1e-4, rtol=0)
        ends += int((ta | ua).sum())
    assert ends >= n
    st, cfg = gpu.task.state, gpu.settings.camera
    viewmats = agent_viewmats(st.xy, st.yaw, gpu.task.camera_z(), cfg.pitch_deg)
    cams = Cameras(viewmats, views.K[None].expand(n, 3, 3).contiguous(), cfg.width, cfg.height)
    full = render(views.full_scenes[0], cams, "RGB", near_plane=cfg.near, far_plane=cfg.far).rgb
    full = (full.clamp(0, 1) * 255 + 0.5).to(torch.uint8)
    mse = ((b["rgb"].float() - full.float()) ** 2).mean() / 255**2
    assert -10 * math.log10(float(mse)) > 27  # LOD vs full at the CUDA default ratio
    assert int(views.coarsened) == 0


@pytest.mark.gpu
def test_cuda_single_env_matches_the_cuda_vector_env(tmp_path, monkeypatch):
    monkeypatch.setenv("LYRA_SIM_CACHE", str(tmp_path / "cache"))
    bundle = _bundle_without_open3d(tmp_path / "bundle")
    single = LyraSceneEnv(scene=str(bundle), task=TASK, device="cuda")
    vec = LyraSceneVectorEnv(num_envs=1, scene=str(bundle), task=TASK, device="cuda")
    assert single.scenes.views.budget == vec.scenes.views.budget  # both sized from the same survey
    a, _ = single.reset(seed=3)
    b, _ = vec.reset(seed=3)
    rng = np.random.default_rng(1)
    for _ in range(5):
        action = rng.uniform(-1, 1, 2).astype(np.float32)
        a, ra, *_ = single.step(action)
        b, rb, *_ = vec.step(action[None])
        assert np.array_equal(a["rgb"], b["rgb"][0]) and ra == pytest.approx(float(rb[0]), abs=1e-6)
