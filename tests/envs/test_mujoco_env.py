"""``LyraMuJoCo-v0`` (`lyra_sim.envs.mujoco_env`, `mujoco_vector`, `mujoco_task`): registration, check_env,
spaces from the robot, PointNav reward and episodes, the vector env, and clear errors."""

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import lyra_sim  # registers the environments
from _envs import write_arm
from _scenes import box_room_bundle_by_hand

pytest.importorskip("mujoco")

TASK = {"min_geodesic": 0.5, "max_episode_steps": 12}

TWO_CAMERAS = [
    "rgb",
    {"name": "rear", "body": "base", "pos": [-0.15, 0.0, 0.2], "yaw_deg": 180, "fovy": 90},
]


def make(bundle, **kw):
    kw.setdefault("task", TASK)
    return gym.make("LyraMuJoCo-v0", scene=str(bundle), device="cpu", **kw)


def test_import_registers_it():
    assert lyra_sim.MUJOCO_ENV_ID == "LyraMuJoCo-v0" and "LyraMuJoCo-v0" in gym.registry


@pytest.mark.parametrize("kw", [{}, {"depth": True, "width": 48, "height": 32}, {"cameras": TWO_CAMERAS}])
def test_check_env_passes_with_only_gymnasiums_advice_on_unnormalized_actions(bundle, cache, kw):
    env = make(bundle, render_mode="rgb_array", **kw)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped, skip_render_check=False)
    # Actions are the wheels' speeds in rad/s (ctrlrange), as asked; Gymnasium recommends [-1, 1].
    assert all("symmetric and normalized" in str(w.message) for w in caught), [str(w.message) for w in caught]
    obs, _ = env.reset(seed=0)
    if "cameras" in kw:
        assert set(obs) == {"rgb_rgb", "rgb_rear", "pointgoal"}
        assert not np.array_equal(obs["rgb_rgb"], obs["rgb_rear"])  # looking ahead and behind
    else:
        assert obs["rgb"].shape == (kw.get("height", 64), kw.get("width", 64), 3)
        assert ("depth" in obs) == bool(kw.get("depth"))
    assert env.render().ndim == 3


def test_actions_are_the_actuators_control_ranges_and_outside_is_an_error(bundle, cache):
    env = make(bundle)
    assert env.action_space.low.tolist() == [-20, -20] and env.action_space.high.tolist() == [20, 20]
    env.reset(seed=0)
    env.step(np.array([20.0, -20.0]))
    with pytest.raises(ValueError, match=r"robot/right_wheel = 20.5 \(env 0\) is outside its ctrlrange \[-20, 20\]"):
        env.step(np.array([0.0, 20.5]))
    with pytest.raises(ValueError, match=r"expected shape \[2\] \(controls of robot/left_wheel, robot/right_wheel\)"):
        env.step(np.zeros(3))
    with pytest.raises(ValueError, match="outside its ctrlrange"):
        env.step(np.array([np.nan, 0.0]))


def test_reward_is_the_geodesic_progress_with_lyra_scenes_penalties(bundle, cache):
    env = make(bundle)
    _, info = env.reset(seed=3)
    rng = np.random.default_rng(0)
    for _ in range(12):
        before = info["geodesic_distance"]
        _, reward, terminated, truncated, info = env.step(rng.uniform(-5, 20, 2))
        expected = before - info["geodesic_distance"] - 0.05 * info["collided"] - 0.01 + 2.5 * info["success"]
        assert reward == pytest.approx(expected, abs=1e-5)
        assert info["geodesic_distance"] < 1e5  # defined everywhere the base can be, walls included
        if terminated or truncated:
            assert "spl" in info and truncated == (not terminated)
            break
    assert truncated or terminated  # 12 steps at most


def test_driving_toward_the_goal_is_rewarded(cache, tmp_path):
    # The exact box room (no fusion gaps for the base to push into): the controller and the reward, not the mesh.
    bundle = box_room_bundle_by_hand(tmp_path / "bundle", mjcf=True)
    env = make(bundle, task={**TASK, "max_episode_steps": 60})
    obs, info = env.reset(seed=1)
    total = 0.0
    for _ in range(60):
        _, heading = obs["pointgoal"]
        turn = np.clip(4 * heading, -1, 1)
        obs, reward, terminated, truncated, info = env.step(np.array([10 * (1 - turn), 10 * (1 + turn)]))
        total += reward
        if terminated or truncated:
            break
    assert info["success"] and terminated and total > 0  # a pursuit controller reaches it in the 2 x 2.4 m room


def test_same_seed_same_episode(bundle, cache):
    a, b = make(bundle), make(bundle)
    oa, ia = a.reset(seed=7)
    ob, ib = b.reset(seed=7)
    assert np.array_equal(oa["rgb"], ob["rgb"]) and ia == ib
    oc, _ = b.reset(seed=8)
    assert not np.array_equal(oa["pointgoal"], oc["pointgoal"])


def test_vector_env_equals_single_envs_with_autoreset(bundle, cache):
    n = 3
    venv = gym.make_vec("LyraMuJoCo-v0", num_envs=n, vectorization_mode="vector_entry_point", scene=str(bundle),
                        task={**TASK, "max_episode_steps": 4}, device="cpu", physics={"threads": 2})
    singles = [make(bundle, task={**TASK, "max_episode_steps": 4}) for _ in range(n)]
    obs, _ = venv.reset(seed=5)
    for i, env in enumerate(singles):
        assert np.array_equal(obs["rgb"][i], env.reset(seed=5 + i)[0]["rgb"])
    rng = np.random.default_rng(0)
    done = np.zeros(n, bool)
    for _ in range(9):  # two autoresets per env
        actions = rng.uniform(-20, 20, (n, 2)).astype(np.float32)
        obs, reward, terminated, truncated, info = venv.step(actions)
        for i, env in enumerate(singles):
            if done[i]:
                single_obs, single_reward = env.reset()[0], 0.0
            else:
                single_obs, single_reward, *_ = env.step(actions[i])
            assert np.array_equal(obs["rgb"][i], single_obs["rgb"]) and reward[i] == pytest.approx(single_reward, abs=1e-6)
        done = terminated | truncated
    assert info["_spl"].dtype == bool


def test_a_users_arm_drives_its_own_actions_and_camera(bundle, cache, tmp_path):
    env = make(bundle, robot=str(write_arm(tmp_path)))
    np.testing.assert_allclose(env.action_space.high, [2.9, 1.5], rtol=1e-6)
    obs, _ = env.reset(seed=0)
    assert obs["rgb"].shape == (64, 64, 3)
    first = obs["rgb"]
    for _ in range(5):
        obs, *_ = env.step(np.array([2.5, 1.0]))
    assert not np.array_equal(first, obs["rgb"])  # the wrist camera turned with the arm


@pytest.mark.parametrize("kw, match", [
    ({"cameras": ["front"]}, r"camera 'front' is not in robot .*diffdrive.xml; its cameras: rgb"),
    ({"task": "objectnav"}, r"task: expected one of pointnav"),
    ({"task": {"action_type": "discrete"}}, r"actions are the robot's actuator controls"),
    ({"camera": {"hfov_deg": 70}}, r"camera hfov_deg: set by the robot's MuJoCo cameras"),
    ({"agent": {"radius": 0.2}}, r"agent= is for LyraScene-v0"),
    ({"physics": {"control_dt": 0.003}}, r"control_dt 0.003 s is not a whole number of timesteps"),
    ({"physics": {"integrator": "verlet"}}, r"integrator: expected one of euler, rk4, implicit, implicitfast"),
    ({"robot": "spot"}, r"neither a shipped robot \(diffdrive\) nor an existing file"),
])
def test_bad_options_are_one_clear_error(bundle, cache, kw, match):
    with pytest.raises(ValueError, match=match):
        make(bundle, **kw)


def test_a_robot_that_fits_no_free_spot_is_a_clear_error(bundle, cache, tmp_path):
    big = tmp_path / "big.xml"
    big.write_text("<mujoco><worldbody><body name='b'><freejoint/><geom type='box' size='0.6 0.6 0.2' pos='0 0 0.2'/>"
                   "<camera name='c'/></body></worldbody><actuator><motor joint='j' ctrlrange='-1 1'/></actuator></mujoco>"
                   .replace("<freejoint/>", "<freejoint/><body name='w'><joint name='j'/><geom size='0.05' pos='0 0 0.1'/></body>"))
    with pytest.raises(ValueError, match=r"footprint radius 0\.85 m.*fits no free spot of .*no walkable floor fits"):
        make(bundle, robot=str(big))


def test_a_bundle_without_mjcf_is_a_clear_error(cache, tmp_path):
    bundle = box_room_bundle_by_hand(tmp_path / "bundle")
    with pytest.raises(ValueError, match=r"no scene.xml \(export the bundle with the mjcf format"):
        make(bundle)


def test_the_render_budget_survey_covers_the_robots_cameras(bundle, cache):
    """The CUDA path pads every camera's selection to a budget fitted on a survey of the robot's
    camera poses; built here on the CPU (the tables are device-independent), every real view fits."""
    import torch

    env = make(bundle, cameras=TWO_CAMERAS)
    core = env.unwrapped.core
    views = core.views
    views._init_lod_tables()  # what SceneViews does on CUDA
    scene, viewmats, ks = core._survey()
    assert len(scene) == len(viewmats) == len(ks) and len(scene) % 2 == 0  # two cameras per surveyed pose
    budget = views.fit_budget(scene, viewmats, Ks=ks)
    assert 0 < budget < len(views.full_scenes[0])
    for seed in range(5):
        env.reset(seed=seed)
        vm, k = core.worlds.cameras(64, 64)
        counts = views.lod.selection_counts(torch.as_tensor(vm, dtype=torch.float32), torch.as_tensor(k, dtype=torch.float32),
                                            64, 64, views.pixel_ratio, 0.05, None)
        assert int(counts.max()) <= budget


@pytest.mark.gpu
def test_cuda_vector_env_steps_as_the_cpu_one_and_renders_every_camera_close_to_it(tmp_path, monkeypatch):
    import math

    import torch

    from lyra_sim.envs.mujoco_vector import LyraMuJoCoVectorEnv

    monkeypatch.setenv("LYRA_SIM_CACHE", str(tmp_path / "cache"))
    bundle = box_room_bundle_by_hand(tmp_path / "bundle", mjcf=True)  # no Open3D needed
    n = 16
    kw = dict(num_envs=n, scene=str(bundle), task={**TASK, "max_episode_steps": 6}, cameras=TWO_CAMERAS)
    cpu = LyraMuJoCoVectorEnv(device="cpu", **kw)
    gpu = LyraMuJoCoVectorEnv(device="cuda", array_type="torch", **kw)
    views = gpu.core.views
    assert views.backend == "gsplat" and views.pixel_ratio > 0
    cpu.reset(seed=3)
    gpu.reset(seed=3)
    rng = np.random.default_rng(0)
    for _ in range(10):
        actions = rng.uniform(-20, 20, (n, 2)).astype(np.float32)
        a, ra, ta, ua, _ = cpu.step(actions)
        b, rb, tb, ub, _ = gpu.step(actions)
        assert b["rgb_rgb"].device.type == "cuda"
        np.testing.assert_allclose(rb.cpu().numpy(), ra, atol=1e-4)  # the same MuJoCo worlds
        assert np.array_equal(tb.cpu().numpy(), ta) and np.array_equal(ub.cpu().numpy(), ua)
        for key in ("rgb_rgb", "rgb_rear"):  # gsplat vs the PyTorch rasterizer, each camera with its own fovy
            mse = ((b[key].float().cpu() - torch.as_tensor(a[key]).float()) ** 2).mean() / 255**2
            assert -10 * math.log10(float(mse) + 1e-12) > 27, key
    assert int(views.coarsened) == 0
