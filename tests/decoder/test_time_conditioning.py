"""Lyra's time-conditioned decoder: zero-initialized input/target time embeddings and offsets, a static
checkpoint (the shipped one included) loads into it and decodes exactly as before, times are checked."""

import pytest
import torch
from _decoder import dynamic_inputs

from lyra_sim.decoder import DEFAULT_CHECKPOINT, PRESETS, LyraDecoder, load_decoder, load_initial_weights, save_decoder
from lyra_sim.decoder.checkpoint import ADDED_MODULES
from lyra_sim.decoder.model import normalize_times, time_features


def test_time_features_and_normalization():
    f = time_features(torch.tensor([0.0, 0.5, 1.0]))
    torch.testing.assert_close(f, torch.tensor([[0.0, 1.0, 0.0], [0.5, 0.0, 1.0], [1.0, -1.0, 0.0]]), atol=1e-6, rtol=0)
    times, target = normalize_times(torch.tensor([[2.0, 2.5, 3.0]]), torch.tensor([2.75]))
    torch.testing.assert_close(times, torch.tensor([[0.0, 0.5, 1.0]]))
    torch.testing.assert_close(target, torch.tensor([0.75]))


def test_a_static_checkpoint_starts_the_dynamic_decoder_as_itself(tmp_path):
    static = LyraDecoder(PRESETS["tiny"], seed=3)
    path = save_decoder(tmp_path / "static.safetensors", static, {})
    dyn = LyraDecoder(PRESETS["tiny_dynamic"], seed=11)
    fresh = load_initial_weights(path, dyn)
    time_modules = ADDED_MODULES["time_embedding"] + ADDED_MODULES["offsets"]
    assert fresh == sorted(k for k in dyn.state_dict() if k.startswith(time_modules))
    assert len(fresh) == 6
    assert all(float(dyn.state_dict()[k].abs().max()) == 0.0 for k in fresh)  # zero-initialized
    lat, vm, ks, times = dynamic_inputs(PRESETS["tiny"], slide=0.3)
    with torch.no_grad():
        ref = static(lat, vm, ks)
        for target in (0.0, 0.37, 1.0):
            out = dyn(lat, vm, ks, times, torch.tensor([target]))
            assert torch.equal(out.means, ref.means) and torch.equal(out.rgb, ref.rgb)
            assert torch.equal(out.opacities, ref.opacities) and torch.equal(out.scales, ref.scales)
    # a dynamic checkpoint loads into its own config, and not into another
    dpath = save_decoder(tmp_path / "dyn.safetensors", dyn, {})
    assert load_initial_weights(dpath, LyraDecoder(PRESETS["tiny_dynamic"])) == []
    back, _ = load_decoder(dpath)
    assert back.config == PRESETS["tiny_dynamic"]
    refused = (r"only additions the checkpoint has off may differ: time_embedding, offsets, detail_width, depth_input, "
               r"motion_gate\): latent_channels")
    with pytest.raises(ValueError, match=refused + r": checkpoint 192 vs model 768"):
        load_initial_weights(path, LyraDecoder(PRESETS["small_dynamic"]))


def test_time_weights_learn_and_then_the_target_matters():
    dyn = LyraDecoder(PRESETS["tiny_dynamic"], seed=0)
    lat, vm, ks, times = dynamic_inputs(dyn.config, slide=0.3)
    out = dyn(lat, vm, ks, times, torch.tensor([0.5]))
    (out.means.square().mean() + out.rgb.mean()).backward()
    for name in ("time_embed", "target_embed", "offset_head"):
        assert float(getattr(dyn, name).weight.grad.abs().max()) > 0, name
    with torch.no_grad():
        for name in ("time_embed", "target_embed", "offset_head"):
            getattr(dyn, name).weight.normal_(0, 0.05)
        a = dyn(lat, vm, ks, times, torch.tensor([0.0]))
        b = dyn(lat, vm, ks, times, torch.tensor([1.0]))
        base = LyraDecoder(PRESETS["tiny_dynamic"], seed=0)
        base.load_state_dict({k: v for k, v in dyn.state_dict().items() if not k.startswith("offset_head")}, strict=False)
        no_offsets = base(lat, vm, ks, times, torch.tensor([0.0]))
    assert float((a.means - b.means).abs().max()) > 1e-4
    # offsets move each Gaussian by at most `offsets` per axis (tanh)
    moved = (a.means - no_offsets.means).abs()
    assert 0 < float(moved.max()) <= dyn.config.offsets + 1e-6

def test_times_are_required_exactly_when_time_conditioned():
    dyn, static = LyraDecoder(PRESETS["tiny_dynamic"], seed=0), LyraDecoder(PRESETS["tiny"], seed=0)
    lat, vm, ks, times = dynamic_inputs(dyn.config, slide=0.3)
    with pytest.raises(ValueError, match=r"needs the frames' times \[B, T\] and a target time \[B\]"):
        dyn(lat, vm, ks)
    with pytest.raises(ValueError, match=r"expected \[1, 3\] and \[1\]"):
        dyn(lat, vm, ks, times[:, :2], torch.tensor([0.5]))
    with pytest.raises(ValueError, match="this decoder is static"):
        static(lat, vm, ks, times, torch.tensor([0.5]))
    with pytest.raises(ValueError, match="offsets: position offsets belong to a time-conditioned decoder"):
        PRESETS["tiny"].__class__(**{**PRESETS["tiny"].to_dict(), "offsets": 0.1})


def test_the_shipped_static_decoder_loads_into_small_dynamic():
    if not DEFAULT_CHECKPOINT.is_file():
        pytest.skip("the shipped decoder is not installed")
    static, _ = load_decoder(DEFAULT_CHECKPOINT)
    dyn = LyraDecoder(PRESETS["small_dynamic"], seed=0)
    fresh = load_initial_weights(DEFAULT_CHECKPOINT, dyn)
    assert {k.split(".")[0] for k in fresh} == {"time_embed", "target_embed", "offset_head"}
    dyn.eval()
    lat, vm, ks, times = dynamic_inputs(static.config, v=1, tl=2, h=2, w=2, slide=0.3)
    with torch.no_grad():
        ref = static(lat, vm, ks)
        out = dyn(lat, vm, ks, times, torch.tensor([0.6]))
    assert torch.equal(out.means, ref.means) and torch.equal(out.rgb, ref.rgb)
