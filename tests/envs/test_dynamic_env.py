"""LyraScene-v0 on dynamic scenes: moving parts rendered at each env's time, collided with, pushing the body out,
never entered (checked by exact distance to the posed collision meshes), and the errors of ``dynamic=``."""

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

import lyra_sim  # noqa: F401  (registers LyraScene-v0)
from _dynamic import CART, ExactClearance, box_room_dynamic, box_room_dynamic_bundle
from _envs import TASK
from lyra_sim.cameras import Cameras
from lyra_sim.envs.views import agent_viewmats
from lyra_sim.render import render

AGENT = {"height": 1.2}


@pytest.fixture(scope="module")
def bundle():
    return box_room_dynamic_bundle()


def _make(bundle, **kw):
    return gym.make("LyraScene-v0", scene=str(bundle), task=TASK, agent=AGENT, **kw)


def _exact(env):
    u = env.unwrapped
    floor = float(u.scenes.fields.floor_z[0])
    return ExactClearance(u.bundle, floor + 0.05, floor + u.settings.agent.height)


def test_time_runs_with_the_steps_and_info_counts_moving_collisions(bundle, cache):
    env = _make(bundle)
    obs, info = env.reset(seed=3)
    assert 0 <= info["time"] < 2.0  # a random time of the 2 s loop
    assert info["moving_collision"] is False and info["moving_collisions"] == 0
    t0 = info["time"]
    _, _, _, _, info = env.step(np.zeros(2, np.float32))
    assert info["time"] == pytest.approx(t0 + 0.25)
    assert env.unwrapped.scenes.parts.names == ["cart_0", "door_0.leaf"]


def test_observations_show_the_parts_where_they_are_at_the_env_time(bundle, cache):
    dynamic, _ = box_room_dynamic()
    env = _make(bundle, camera={"pixel_ratio": 0.0, "hfov_deg": 100.0}, width=48, height=40)
    env.reset(seed=0)
    u = env.unwrapped
    st = u.task.state
    from lyra_sim.envs.spaces import observe

    for k in (0, 2, 5):  # at a motion sample, the env draws exactly that time's Gaussians
        st.xy = torch.tensor([[1.0, 0.9]])
        st.yaw = torch.tensor([math.pi / 2 + 0.3])
        st.time = torch.tensor([dynamic.times[k]])
        got = observe(u.task, u.scenes.views)["rgb"][0].float()
        vm = agent_viewmats(st.xy, st.yaw, u.task.camera_z(), 0.0)
        cams = Cameras(vm, u.scenes.views.K[None], 48, 40)
        want = (render(dynamic[k], cams, "RGB").rgb[0].clamp(0, 1) * 255).round()
        assert (got - want).abs().mean() < 0.5, k
    # and the cart's place in the image changes with time
    st.time = torch.tensor([0.0])
    a = observe(u.task, u.scenes.views)["rgb"][0].float()
    st.time = torch.tensor([1.0])
    b = observe(u.task, u.scenes.views)["rgb"][0].float()
    assert (a - b).abs().mean() > 2.0


def test_a_part_that_sweeps_into_the_agent_pushes_it_out(bundle, cache):
    env = _make(bundle)
    env.reset(seed=0)
    u = env.unwrapped
    exact = _exact(env)
    st = u.task.state
    y = (CART[0][1] + CART[1][1]) / 2 - 0.25  # beside the cart's lane, its body overlapping the lane
    st.xy = torch.tensor([[1.2, y]], dtype=torch.float32)
    st.yaw = torch.tensor([0.0])
    st.time = torch.tensor([0.0])  # the cart starts at x 0.35..0.65 and drives +x for a second
    pushed = 0
    for _ in range(5):
        _, _, _, _, info = env.step(np.zeros(2, np.float32))  # standing still
        pushed += info["moving_collision"]
        d, inside = exact(st.xy[0].numpy().astype(np.float64), float(st.time[0]))
        assert d >= u.settings.agent.radius and not inside
    assert pushed >= 1 and info["moving_collisions"] == pushed and info["collisions"] >= pushed
    assert float(st.xy[0, 1]) < y - 0.01  # pushed away from the lane


def test_no_penetration_over_random_full_speed_steps(bundle, cache):
    env = _make(bundle, width=8, height=8)
    env.reset(seed=1)
    u = env.unwrapped
    exact = _exact(env)
    rng = np.random.default_rng(0)
    r = u.settings.agent.radius
    worst, hits = math.inf, 0
    for _ in range(300):
        action = np.array([rng.choice([-1.0, 1.0]), rng.uniform(-1, 1)], np.float32)
        _, _, terminated, truncated, info = env.step(action)
        hits += info["moving_collision"]
        d, inside = exact(u.task.state.xy[0].numpy().astype(np.float64), float(u.task.state.time[0]))
        assert not inside
        worst = min(worst, d)
        if terminated or truncated:
            env.reset()
    assert worst >= r, worst
    assert hits > 0  # the parts did get in the way


def test_host_start_check_agrees_with_the_step_clearance(bundle, cache):
    """Episode starts are checked on the host in numpy float64 (`MovingParts.margin_host`); the step reads the
    same fields in float32 (`clearance_reference`): they agree to float32 rounding everywhere (near the parts,
    on their fields' edges and past them), and every drawn start clears each part at its time."""
    env = _make(bundle, width=8, height=8)
    env.reset(seed=0)
    u = env.unwrapped
    parts, fields = u.task.parts, u.scenes.fields
    rng = np.random.default_rng(5)
    lo, hi = fields.origin_host[0], fields.origin_host[0] + np.array(fields.shape[::-1]) * float(fields.resolution_host[0])
    xy = rng.uniform(lo - 1.0, hi + 1.0, (4000, 2))
    t = rng.uniform(-3.0, 9.0, 4000)  # before and past the loop: wrapped
    host = parts.margin_host(np.zeros(4000, np.int64), t, xy)
    frames = parts.frames(torch.zeros(4000, dtype=torch.long), torch.tensor(t, dtype=torch.float32))
    ref, _ = parts.clearance_reference(frames, torch.tensor(xy, dtype=torch.float32))
    np.testing.assert_allclose(host, ref.double().numpy(), atol=2e-5)
    assert (host < 0).sum() > 100 and (host > 0.5).sum() > 100  # both sides were probed
    exact = _exact(env)
    for seed in range(40):
        xy0, _, _, t0 = u.task.draw_episode(0, np.random.default_rng(seed))
        d, inside = exact(xy0, t0)
        assert not inside and d >= u.settings.agent.radius


def test_vector_env_matches_single_envs(bundle, cache):
    n = 3
    vec = gym.make_vec("LyraScene-v0", num_envs=n, vectorization_mode="vector_entry_point", scene=str(bundle), task=TASK,
                       agent=AGENT, width=16, height=16)
    singles = [_make(bundle, width=16, height=16) for _ in range(n)]
    obs, info = vec.reset(seed=5)
    for i, env in enumerate(singles):
        o, inf = env.reset(seed=5 + i)
        assert np.array_equal(obs["rgb"][i], o["rgb"]) and info["time"][i] == pytest.approx(inf["time"])
    assert len(set(np.round(info["time"], 4))) == n  # each env at its own time
    rng = np.random.default_rng(1)
    done = [False] * n
    for _ in range(6):
        actions = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
        obs, _, terminated, truncated, info = vec.step(actions)
        for i, env in enumerate(singles):
            if done[i]:  # next-step autoreset: the vector env started env i's next episode, drawn as a reset
                o, inf = env.reset()
                t = u = False
            else:
                o, _, t, u, inf = env.step(actions[i])
            assert np.array_equal(obs["rgb"][i], o["rgb"]) and info["time"][i] == pytest.approx(inf["time"])
            assert info["moving_collisions"][i] == inf["moving_collisions"]
            assert (terminated[i], truncated[i]) == (t, u)
            done[i] = t or u


def test_dynamic_flag_errors(bundle, cache):
    from _scenes import box_room_bundle

    with pytest.raises(ValueError, match=r"dynamic=True: scene .* is static \(its bundle .* has no moving parts"):
        gym.make("LyraScene-v0", scene=str(box_room_bundle()), dynamic=True, agent=AGENT)
    with pytest.raises(ValueError, match="dynamic=False: scene .* has moving parts"):
        _make(bundle, dynamic=False)
    with pytest.raises(ValueError, match="dynamic frames: expected 2..1024 times, got 1"):
        _make(bundle, dynamic={"frames": 1})
    with pytest.raises(ValueError, match="dynamic: unknown key 'speed'; accepted: frames, fps"):
        _make(bundle, dynamic={"speed": 2})


def test_episode_datasets_and_the_mujoco_env_refuse_a_dynamic_scene(bundle, cache, tmp_path):
    from _scenes import box_room_bundle
    from lyra_sim.envs.episode_sampling import sample_episodes
    from lyra_sim.envs.episodes import write_episodes

    with pytest.raises(ValueError, match=r"has moving parts \(motion.json\), and episode datasets hold no start times"):
        sample_episodes(str(bundle), 2, agent=AGENT, task=TASK)
    dataset = write_episodes(tmp_path / "static.json.gz", sample_episodes(str(box_room_bundle()), 2, agent=AGENT, task=TASK))
    with pytest.raises(ValueError, match=r"episode datasets hold no start times, so they replay static scenes only"):
        _make(bundle, episodes=str(dataset))
    with pytest.raises(ValueError, match=r"robot= runs static scenes in MuJoCo, and this bundle has moving parts"):
        gym.make("LyraMuJoCo-v0", scene=str(bundle), device="cpu")


def test_a_dynamic_prompt_builds_its_dynamic_bundle_once(cache):
    spec = {"room": {"type": "plain", "size": [4.0, 3.0, 2.2], "furnish": False}, "objects": [{"kind": "cart"}],
            "motions": [{"kind": "drive", "object": "cart"}]}
    env = gym.make("LyraScene-v0", prompt=spec, dynamic={"frames": 4, "fps": 4.0}, task=TASK).unwrapped
    assert env.scenes.parts.names == ["cart_0"] and (env.bundle / "motion.json").is_file()
    again = gym.make("LyraScene-v0", prompt=spec, dynamic={"frames": 4, "fps": 4.0}, task=TASK).unwrapped
    assert again.bundle == env.bundle
    with pytest.raises(ValueError, match="the scene has nothing that moves"):
        gym.make("LyraScene-v0", prompt={**spec, "motions": []}, dynamic=True, task=TASK)


@pytest.mark.gpu
def test_cuda_dynamic_vector_env_agrees_with_the_cpu_one_in_one_render_call(tmp_path, monkeypatch):
    from _dynamic import box_room_dynamic_bundle_by_hand
    from lyra_sim.envs import views as views_module
    from lyra_sim.envs.vector_env import LyraSceneVectorEnv

    monkeypatch.setenv("LYRA_SIM_CACHE", str(tmp_path / "cache"))
    bundle = box_room_dynamic_bundle_by_hand(tmp_path / "bundle")
    n = 8
    # Full detail on both devices (pixel_ratio 0), so the two renderers draw the same Gaussians.
    kw = dict(num_envs=n, scene=str(bundle), task=TASK, agent=AGENT, camera={"pixel_ratio": 0}, array_type="torch")
    cpu, gpu = LyraSceneVectorEnv(device="cpu", **kw), LyraSceneVectorEnv(device="cuda", action_check="async", **kw)
    views = gpu.scenes.views
    assert views.has_parts and min(views.part_budgets) >= 1
    calls = []
    real = views_module.rasterize_selected
    monkeypatch.setattr(views_module, "rasterize_selected", lambda *a, **k: calls.append(1) or real(*a, **k))
    cpu.reset(seed=2)
    gpu.reset(seed=2)
    rng = np.random.default_rng(0)
    for step in range(12):
        actions = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
        a, ra, *_, ia = cpu.step(actions)
        b, rb, *_, ib = gpu.step(torch.as_tensor(actions, device="cuda"))
        assert len(calls) == step + 2  # the reset, then one render call per step for all envs, each at its own time
        torch.testing.assert_close(gpu.task.state.xy.cpu(), cpu.task.state.xy, atol=1e-4, rtol=0)
        torch.testing.assert_close(gpu.task.state.time.cpu(), cpu.task.state.time, atol=1e-5, rtol=0)
        assert torch.equal(ib["moving_collisions"].cpu(), ia["moving_collisions"])
        diff = (b["rgb"].cpu().float() - a["rgb"].float()).abs()
        psnr = -10 * torch.log10((diff / 255).pow(2).mean().clamp_min(1e-10))
        # gsplat (fused projection) and the PyTorch rasterizer round differently; the parts' poses are the same.
        assert psnr > 40 and diff.mean() < 0.5, (float(psnr), float(diff.mean()))


@pytest.mark.gpu
def test_cuda_graphs_and_the_clearance_kernel_change_no_result(tmp_path, monkeypatch):
    """The CUDA dynamic env (graphed steps, poses and selections; the Triton clearance kernel) against the same env
    run eagerly with the PyTorch clearance: every state, reward and pixel bit for bit over 200 steps."""
    from _dynamic import box_room_dynamic_bundle_by_hand
    from lyra_sim.envs.vector_env import LyraSceneVectorEnv
    from lyra_sim.envs.views import _select_lod

    monkeypatch.setenv("LYRA_SIM_CACHE", str(tmp_path / "cache"))
    bundle = box_room_dynamic_bundle_by_hand(tmp_path / "bundle")
    kw = dict(num_envs=64, scene=str(bundle), task=TASK, agent=AGENT, array_type="torch", device="cuda", action_check="async")
    fast, slow = LyraSceneVectorEnv(**kw), LyraSceneVectorEnv(**kw)
    task, views = slow.task, slow.scenes.views
    task.step = task._step
    task._poses_graph = task.parts.scene_poses
    task.parts.clearance = task.parts.clearance_reference
    views._select_graph = lambda *args, key=None: _select_lod(views, *args)
    a, _ = fast.reset(seed=3)
    b, _ = slow.reset(seed=3)
    rng = np.random.default_rng(1)
    pushed = 0
    for _ in range(200):
        actions = torch.as_tensor(rng.uniform(-1, 1, (64, 2)).astype(np.float32), device="cuda")
        a, ra, ta, ua, ia = fast.step(actions)
        b, rb, tb, ub, ib = slow.step(actions)
        assert torch.equal(a["rgb"], b["rgb"]) and torch.equal(ra, rb) and torch.equal(ta, tb) and torch.equal(ua, ub)
        for name in ("xy", "yaw", "time", "collisions", "moving_collisions", "geodesic"):
            assert torch.equal(getattr(fast.task.state, name), getattr(slow.task.state, name)), name
        pushed += int(ia["moving_collision"].sum())
    assert pushed > 0  # the parts did sweep into agents: the push path ran
