"""Run configs (`lyra_sim.training.config`): the shipped JSON files parse, mismatches are named, round trips."""

import json

import pytest

from _training import ROOT
from lyra_sim.decoder import PRESETS
from lyra_sim.training import DistillConfig


def test_shipped_configs_parse_and_mismatches_are_named():
    small = DistillConfig.load(ROOT / "configs" / "distill_small.json")
    assert small.decoder == PRESETS["small"] and small.train.batch_size == 8
    DistillConfig.load(ROOT / "configs" / "distill_tiny_cpu.json")
    with pytest.raises(ValueError, match="decoder.latent_channels=192 but the codec gives 768"):
        DistillConfig.from_dict({"decoder": "tiny", "codec": {"name": "s2d", "temporal_compression": 4}})
    with pytest.raises(ValueError, match="unknown key"):
        DistillConfig.from_dict({"train": {"stepz": 3}})
    data = small.to_dict()
    assert DistillConfig.from_dict(json.loads(json.dumps(data))) == small
