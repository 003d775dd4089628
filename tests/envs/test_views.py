"""Agent camera observations (`lyra_sim.envs.views`): the scene rendered at the agent camera, full and level of detail."""

import math

import numpy as np
import pytest
import torch

import lyra_sim  # noqa: F401  (registers LyraScene-v0)
from _envs import TASK, make
from _scenes import box_room_bundle_by_hand
from lyra_sim.envs.vector_env import LyraSceneVectorEnv


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


@pytest.mark.gpu


def test_cuda_lod_vector_env_steps_as_the_cpu_one_without_syncs_and_renders_close_to_full(tmp_path, monkeypatch):
    from lyra_sim.cameras import Cameras
    from lyra_sim.envs.views import agent_viewmats
    from lyra_sim.render import render

    monkeypatch.setenv("LYRA_SIM_CACHE", str(tmp_path / "cache"))
    bundle = box_room_bundle_by_hand(tmp_path / "bundle")
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
