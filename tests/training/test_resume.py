"""Resumable training state (`lyra_sim.training.resume`): optimizer state without pickle, exact continuation."""

import json

import torch

from _training import CPU, assert_same_weights, tiny_config, weights
from lyra_sim.training import train
from lyra_sim.training.command import main
from lyra_sim.training.resume import optimizer_state, optimizer_tensors


def test_optimizer_state_round_trips_without_pickle():
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.ones(4, 3)).sum().backward()
    opt.step()
    tensors, meta = optimizer_tensors(opt)
    meta = json.loads(json.dumps(meta))
    opt2 = torch.optim.AdamW(torch.nn.Linear(3, 2).parameters(), lr=1e-3)
    opt2.load_state_dict(optimizer_state(tensors, meta))
    for s1, s2 in zip(opt.state.values(), opt2.state.values()):
        for key in s1:
            torch.testing.assert_close(s1[key], s2[key])

def test_resume_continues_exactly(cache, tmp_path):
    straight = train(tiny_config(tmp_path / "a", cache, steps=3), log=lambda s: None, env=CPU)
    # First leg through the command line (python -m lyra_sim.training --config ...), then resume.
    path = tmp_path / "b.json"
    path.write_text(json.dumps(tiny_config(tmp_path / "b", cache, steps=2).to_dict()))
    assert main(["--config", str(path)]) == 0
    assert json.loads((tmp_path / "b" / "latest.json").read_text())["step"] == 2
    resumed = train(tiny_config(tmp_path / "b", cache, steps=3), log=lambda s: None, env=CPU)
    assert [r["step"] for r in resumed.history] == [3]  # picked up at step 2
    assert [r["seeds"] for r in resumed.history] == [r["seeds"] for r in straight.history[2:]]
    assert_same_weights(weights(straight.model), weights(resumed.model), atol=1e-6)
    ckpts = sorted(p.name for p in (tmp_path / "b" / "checkpoints").iterdir())
    assert ckpts == ["step_0000001", "step_0000002", "step_0000003"]
    assert not list((tmp_path / "b").rglob("*.pt")) and not list((tmp_path / "b").rglob("*.pkl"))
