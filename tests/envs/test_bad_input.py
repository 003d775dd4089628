"""`LyraScene-v0` under bad input (issue 17, section 3): configs out of their documented ranges fail at make,
actions that are not real numbers fail at step, the spaces have finite bounds, and the env builds the nav
grid the CLI builds."""

import math
import warnings

import numpy as np
import pytest
import torch

import lyra_sim  # noqa: F401  (registers LyraScene-v0)
from _envs import make
from lyra_sim.envs.nav_fields import safety_margin
from lyra_sim.envs.pointnav import MAX_STEP_LENGTH, MAX_SUBSTEPS, AgentConfig, TaskConfig
from lyra_sim.envs.spaces import check_actions
from lyra_sim.envs.views import CameraConfig


# ---------------------------------------------------------------- hang: the work of one step is bounded
@pytest.mark.parametrize("agent", [{"max_linear_speed": 1e6}, {"dt": 1e6}, {"max_linear_speed": 10, "dt": 1},
                                   {"forward_step": 1e6}, {"max_angular_speed": float("inf")}, {"radius": 1e-6}])
def test_an_agent_that_would_step_for_minutes_is_refused(agent):
    with pytest.raises(ValueError, match="agent (max_linear_speed|dt|forward_step|max_angular_speed|radius)"):
        AgentConfig(**agent)


def test_every_accepted_agent_takes_a_bounded_number_of_parts_per_step():
    from lyra_sim.exporters.nav_grid import NavConfig

    with pytest.raises(ValueError, match=r"nav resolution: expected a number in \[0.01, 0.5\]"):
        NavConfig(resolution=0.001)
    # The longest step over the smallest clearance any accepted agent and nav grid need.
    smallest_required = AgentConfig(radius=0.05).radius + safety_margin(0.01)
    assert math.ceil(MAX_STEP_LENGTH / (0.5 * smallest_required)) <= MAX_SUBSTEPS
    assert AgentConfig(max_linear_speed=8, dt=0.25).max_step_length == MAX_STEP_LENGTH  # the limit is accepted


# ---------------------------------------------------------------- silent wrong results
@pytest.mark.parametrize("field", ["success_reward", "collision_penalty", "time_penalty"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), "1", True])
def test_reward_settings_must_be_finite_numbers(field, value):
    with pytest.raises(ValueError, match=f"task {field}: expected a number"):
        TaskConfig(**{field: value})


@pytest.mark.parametrize("height_m", [0.0, -0.5, float("nan"), float("inf")])
def test_camera_height_must_be_above_the_floor(height_m):
    with pytest.raises(ValueError, match="camera height_m"):
        CameraConfig(height_m=height_m)


@pytest.mark.parametrize("action", [np.array([0.5 + 0.5j, 0.0]), torch.tensor([0.5 + 1j, 0.0]), [0.5j, 0.0]])
def test_complex_actions_are_refused_not_cut_to_their_real_part(action):
    with pytest.raises(ValueError, match="expected real numbers, got complex"):
        check_actions(action, TaskConfig(), 1, torch.device("cpu"))


@pytest.mark.parametrize("action", [["a", "b"], [[0.1], [0.2, 0.3]], {"linear": 0.1}, None, [True, False]])
def test_actions_that_are_no_numbers_are_a_value_error(action):
    with pytest.raises(ValueError, match="action"):
        check_actions(action, TaskConfig(), 1, torch.device("cpu"))
    with pytest.raises(ValueError, match="action"):
        check_actions(action, TaskConfig(action_type="discrete"), 1, torch.device("cpu"))


def test_real_actions_of_any_width_are_taken():
    task = TaskConfig()
    for action in (np.array([0.5, -1.0], np.float16), np.array([0.5, -1.0], np.longdouble), [1, 0], (0.25, 0.0)):
        out = check_actions(action, task, 1, torch.device("cpu"))
        assert out.dtype == torch.float32 and out.tolist() == [[float(action[0]), float(action[1])]]
    assert check_actions(np.uint64(2), TaskConfig(action_type="discrete"), 1, torch.device("cpu")).tolist() == [2]


def test_the_env_and_the_cli_build_one_nav_grid():
    from lyra_sim.envs.cache import ENV_EXPORT
    from lyra_sim.exporters.bundle import ExportConfig

    assert ENV_EXPORT.nav == ExportConfig().nav and ExportConfig().nav.resolution == 0.025


def test_the_bundle_records_its_nav_settings(bundle):
    from lyra_sim.manifest import read_manifest

    nav = read_manifest(bundle)["nav"]
    assert nav["config"]["resolution"] == nav["resolution"] == 0.025 and nav["config"]["agent_height"] == 1.2


# ---------------------------------------------------------------- unclear errors
@pytest.mark.parametrize("prompt", [5, 2.5, b"a kitchen", [5], ["a kitchen", 3], [], object()])
def test_a_prompt_of_the_wrong_type_is_named(prompt):
    import gymnasium as gym

    from lyra_sim.envs.settings import make_settings

    message = r"prompt: expected a string, a scene-spec dict, or a non-empty list of them, got"
    with pytest.raises(ValueError, match=message):
        make_settings(prompt=prompt)  # gym.make and gym.make_vec both validate with it
    if not isinstance(prompt, list):
        with pytest.raises(ValueError, match=message):
            gym.make("LyraScene-v0", prompt=prompt)


@pytest.mark.parametrize("scene", [5, [], [3.0]])
def test_a_scene_of_the_wrong_type_is_named(scene):
    from lyra_sim.envs.settings import make_settings

    with pytest.raises(ValueError, match="scene: expected a path or a non-empty list of paths, got"):
        make_settings(scene=scene)


@pytest.mark.parametrize("device", ["tpu", "mps", 3.5], ids=["tpu", "mps", "float"])
def test_a_bad_device_is_a_value_error(bundle, cache, device):
    with pytest.raises(ValueError, match="device: expected 'auto', 'cpu' or 'cuda"):
        make(bundle, device=device)


@pytest.mark.parametrize("kw", [{}, {"depth": True, "width": 32, "height": 32}])
def test_check_env_passes_without_a_warning(bundle, cache, kw):
    from gymnasium.utils.env_checker import check_env

    env = make(bundle, **kw).unwrapped
    for space in env.observation_space.values():
        assert np.isfinite(space.low).all() and np.isfinite(space.high).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env)
    obs, _ = env.reset(seed=0)
    for _ in range(5):
        obs, *_ = env.step(env.action_space.sample())
        assert env.observation_space.contains(obs)
