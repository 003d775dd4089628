"""The detail head (``DecoderConfig.detail_width``): zero-started, so a checkpoint without it initializes a
decoder with it that decodes exactly as before; it learns; checkpoints round-trip; bad values are refused."""

from dataclasses import replace

import pytest
import torch
from _decoder import dynamic_inputs

from lyra_sim.decoder import PRESETS, LyraDecoder, load_decoder, load_initial_weights, save_decoder

DETAIL = replace(PRESETS["tiny_dynamic"], detail_width=8)


@pytest.mark.parametrize("start", ["tiny", "tiny_dynamic"])
def test_a_checkpoint_without_the_head_starts_the_decoder_as_itself(tmp_path, start):
    before = LyraDecoder(PRESETS[start], seed=3)
    path = save_decoder(tmp_path / "before.safetensors", before, {})
    model = LyraDecoder(DETAIL, seed=11)
    fresh = load_initial_weights(path, model)
    heads = ("detail.", "detail_out.", "detail_offsets.")
    if start == "tiny":
        heads += ("time_embed.", "target_embed.", "offset_head.")
    assert fresh == sorted(k for k in model.state_dict() if k.startswith(heads))
    assert {k.split(".")[0] for k in fresh} == {h[:-1] for h in heads}
    assert float(model.detail_out.weight.detach().abs().max()) == 0.0 == float(model.detail_offsets.weight.detach().abs().max())
    lat, vm, ks, times = dynamic_inputs(DETAIL, tl=2)
    with torch.no_grad():
        ref = before(lat, vm, ks) if start == "tiny" else before(lat, vm, ks, times, torch.tensor([0.4]))
        out = model(lat, vm, ks, times, torch.tensor([0.4]))
    for name in ("means", "rgb", "opacities", "scales", "quats"):
        assert torch.equal(getattr(out, name), getattr(ref, name)), name


def test_the_head_learns():
    torch.manual_seed(0)
    model = LyraDecoder(DETAIL, seed=0)
    lat, vm, ks, times = dynamic_inputs(DETAIL, tl=2)
    target = torch.tensor([0.5])
    before = model(lat, vm, ks, times, target).means.detach()
    # Pull one Gaussian halfway to the camera; only the detail head trains (the rest of the decoder is as initialized).
    opt = torch.optim.Adam([p for n, p in model.named_parameters() if n.startswith("detail")], lr=1e-2)
    for _ in range(20):
        means = model(lat, vm, ks, times, target).means
        loss = (means[0, 5] - before[0, 5] * 0.5).square().sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = model(lat, vm, ks, times, target).means.detach()
    assert float(model.detail_out.weight.detach().abs().max()) > 0
    assert float((after[0, 5] - before[0, 5] * 0.5).norm()) < 0.5 * float((before[0, 5] * 0.5).norm())


def test_round_trip_and_refusals(tmp_path):
    model = LyraDecoder(DETAIL, seed=1)
    path = save_decoder(tmp_path / "d.safetensors", model, {})
    back, _ = load_decoder(path)
    assert back.config == DETAIL
    assert all(torch.equal(a, b) for a, b in zip(back.state_dict().values(), model.state_dict().values()))
    # a checkpoint with the head does not start a decoder without it (its weights would be dropped)
    with pytest.raises(ValueError, match=r"detail_width: checkpoint 8 vs model 0"):
        load_initial_weights(path, LyraDecoder(PRESETS["tiny_dynamic"]))
    with pytest.raises(ValueError, match=r"detail_width: checkpoint 8 vs model 16"):
        load_initial_weights(path, LyraDecoder(replace(DETAIL, detail_width=16)))
    for bad in (-1, 2.5, True):
        with pytest.raises(ValueError, match=r"detail_width: expected a channel count >= 0"):
            replace(DETAIL, detail_width=bad)
    static = replace(PRESETS["tiny"], detail_width=4)  # the head needs no time conditioning
    assert not hasattr(LyraDecoder(static), "detail_offsets")
