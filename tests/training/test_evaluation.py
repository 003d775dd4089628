"""`lyra_sim.training.evaluation`: PSNR / SSIM on known images, `evaluate` on a tiny decoder, the table."""

import json
import math
from dataclasses import replace

import pytest
import torch
from _training import tiny_config

from lyra_sim.decoder import PRESETS, LyraDecoder, save_decoder
from lyra_sim.training.evaluation import EvalRow, evaluate, format_table, main, psnr, ssim
from lyra_sim.training.resume import checkpoint_extra

EVAL_SEED = 1_000_000_000  # the default first held-out seed


def _images(c=2, h=24, w=20, seed=0):
    return torch.rand(c, h, w, 3, generator=torch.Generator().manual_seed(seed))


# ----------------------------------------------------------------------------- psnr

def test_psnr_of_a_known_mse():
    target = torch.full((1, 8, 8, 3), 0.5)
    assert psnr(target + 0.1, target).item() == pytest.approx(20.0, abs=1e-4)  # MSE 0.01
    assert psnr(target - 0.01, target).item() == pytest.approx(40.0, abs=1e-3)  # MSE 1e-4


def test_psnr_is_per_image():
    target = torch.zeros(3, 4, 5, 3)
    pred = target.clone()
    pred[0] += 0.1
    pred[1, :2] += 1.0  # half the pixels off by 1: MSE 0.5
    pred[2] += 1e-3
    expected = torch.tensor([20.0, -10 * math.log10(0.5), 60.0])
    torch.testing.assert_close(psnr(pred, target), expected, atol=1e-3, rtol=0)


def test_psnr_of_identical_images_is_capped_at_120_db():
    """MSE is clamped at 1e-12, so identical images give a finite 120 dB (means over views stay finite)."""
    x = _images()
    out = psnr(x, x)
    assert out.shape == (2,) and torch.equal(out, torch.full((2,), 120.0))


def test_psnr_is_symmetric():
    a, b = _images(seed=1), _images(seed=2)
    assert torch.equal(psnr(a, b), psnr(b, a))


# ----------------------------------------------------------------------------- ssim

def test_ssim_of_identical_images_is_one():
    x = _images()
    torch.testing.assert_close(ssim(x, x), torch.ones(2), atol=1e-6, rtol=0)


def test_ssim_of_constant_images_is_the_luminance_term():
    a, b = 0.5, 0.25
    c1 = 0.01**2
    out = ssim(torch.full((1, 16, 16, 3), a), torch.full((1, 16, 16, 3), b))
    assert out.item() == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1), abs=1e-5)


def test_ssim_is_symmetric_and_bounded():
    a, b = _images(seed=3), _images(seed=4)
    assert torch.equal(ssim(a, b), ssim(b, a))
    inverse = ssim(a, 1 - a)
    for value in (ssim(a, b), inverse):
        assert ((value >= -1) & (value <= 1)).all()
    assert (inverse < 0).all()  # anti-correlated structure
    noisy = (a + 0.05 * torch.randn(a.shape, generator=torch.Generator().manual_seed(5))).clamp(0, 1)
    assert (ssim(a, b) < ssim(a, noisy)).all() and (ssim(a, noisy) < 1).all()


def test_ssim_is_per_image_over_the_valid_region():
    a = _images(c=3, h=11, w=11)  # exactly one window: one value per image
    b = a.clone()
    b[1] = 1 - b[1]
    out = ssim(a, b)
    assert out.shape == (3,) and out[0] == pytest.approx(1.0, abs=1e-6) and out[1] < 0.5
    assert out[2] == pytest.approx(1.0, abs=1e-6)


# ----------------------------------------------------------------------------- evaluate

@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny random decoder checkpoint and its distillation config file (one held-out view per scene)."""
    root = tmp_path_factory.mktemp("eval")
    config = tiny_config(root / "run", root / "no-cache")
    checkpoint = save_decoder(root / "decoder.safetensors", LyraDecoder(config.decoder, seed=0),
                              checkpoint_extra(config, 0))
    path = root / "distill.json"
    path.write_text(json.dumps(config.to_dict()))
    return checkpoint, path, config


def test_evaluate_one_held_out_scene(run):
    checkpoint, config_path, config = run
    logged = []
    rows = evaluate(checkpoint, config_path, scenes=1, log=logged.append)
    assert len(rows) == 1 and len(logged) == 1
    row = rows[0]
    assert row.seed == EVAL_SEED and row.condition == config.data.condition(EVAL_SEED)
    total = 6 * LyraDecoder(PRESETS["tiny"]).gaussians_per_view(2, 4, 4)
    assert row.gaussians == math.ceil(config.decoder.keep_ratio * total)
    assert math.isfinite(row.psnr_novel) and math.isfinite(row.psnr_input) and 0 < row.psnr_novel < 120
    assert -1 <= row.ssim_novel <= 1
    assert row.lpips_novel is None and row.decode_s >= 0 and row.render_s >= 0
    assert f"seed {EVAL_SEED}" in logged[0] and f"{row.psnr_novel:.2f} dB" in logged[0]
    # deterministic: the same checkpoint scores the same
    again = evaluate(checkpoint, config_path, scenes=1, log=lambda s: None)[0]
    assert (again.psnr_novel, again.ssim_novel, again.psnr_input, again.gaussians) == \
        (row.psnr_novel, row.ssim_novel, row.psnr_input, row.gaussians)


def test_evaluate_keep_ratio_changes_the_gaussians(run):
    checkpoint, config_path, _ = run
    row = evaluate(checkpoint, config_path, scenes=1, keep_ratio=0.5, log=lambda s: None)[0]
    assert row.gaussians == math.ceil(0.5 * 6 * LyraDecoder(PRESETS["tiny"]).gaussians_per_view(2, 4, 4))


def test_evaluate_without_a_config_uses_the_checkpoint_settings(run):
    """Video and world from the checkpoint's metadata, with 8 held-out views; default prompts and seeds."""
    checkpoint, _, _ = run
    row = evaluate(checkpoint, scenes=1, log=lambda s: None)[0]
    assert row.seed == EVAL_SEED and math.isfinite(row.psnr_novel)


def test_evaluate_refuses_a_config_of_another_decoder(run, tmp_path):
    checkpoint, _, config = run
    other = replace(config, decoder=replace(config.decoder, width=config.decoder.width * 2))
    path = tmp_path / "other.json"
    path.write_text(json.dumps(other.to_dict()))
    with pytest.raises(ValueError, match=r"decoder config differs from .*other.json's.*width"):
        evaluate(checkpoint, path, scenes=1, log=lambda s: None)


def test_evaluate_needs_held_out_views(run, tmp_path):
    checkpoint, _, config = run
    none = replace(config, video=replace(config.video, num_holdout=0))
    path = tmp_path / "none.json"
    path.write_text(json.dumps(none.to_dict()))
    with pytest.raises(ValueError, match=r"evaluation needs held-out views: set video.num_holdout > 0"):
        evaluate(checkpoint, path, scenes=1, log=lambda s: None)


def test_main_prints_the_table_and_writes_json(run, tmp_path, capsys):
    checkpoint, config_path, config = run
    out = tmp_path / "rows.json"
    assert main(["--checkpoint", str(checkpoint), "--config", str(config_path), "--scenes", "1", "--device", "cpu",
                 "--json", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert len(rows) == 1 and rows[0]["seed"] == EVAL_SEED
    printed = capsys.readouterr().out
    assert "| prompt | scenes | novel PSNR (dB) |" in printed and f"| {config.data.condition(EVAL_SEED)} | 1 |" in printed


# ----------------------------------------------------------------------------- format_table

def _row(seed, condition, psnr_novel, lpips=None, gaussians=100):
    return EvalRow(seed, condition, psnr_novel, 0.5, psnr_novel + 1, lpips, gaussians, 0.25, 0.125)


def test_format_table_rows_per_prompt_and_all():
    rows = [_row(0, "a kitchen", 20.0, gaussians=100), _row(1, "an office", 30.0, gaussians=201),
            _row(2, "a kitchen", 22.0, gaussians=300), _row(3, "a warehouse", 24.0, gaussians=1_234_567)]
    lines = format_table(rows, "cpu").splitlines()
    assert lines[0] == ("| prompt | scenes | novel PSNR (dB) | novel SSIM | input-view PSNR (dB) | Gaussians | "
                        "decode s (cpu) | render s/view (cpu) |")
    assert lines[1] == "|" + "---|" * 8
    assert lines[2:] == [
        "| a kitchen | 2 | 21.00 | 0.500 | 22.00 | 200 | 0.250 | 0.1250 |",
        "| an office | 1 | 30.00 | 0.500 | 31.00 | 201 | 0.250 | 0.1250 |",
        "| a warehouse | 1 | 24.00 | 0.500 | 25.00 | 1,234,567 | 0.250 | 0.1250 |",
        "| all | 4 | 24.00 | 0.500 | 25.00 | 308,792 | 0.250 | 0.1250 |",
    ]


def test_format_table_has_an_lpips_column_only_when_measured():
    rows = [_row(0, "a kitchen", 20.0, lpips=0.5), _row(1, "a kitchen", 22.0, lpips=0.25)]
    lines = format_table(rows, "cuda").splitlines()
    assert "| novel LPIPS |" in lines[0] and "decode s (cuda)" in lines[0] and lines[1] == "|" + "---|" * 9
    assert lines[2] == "| a kitchen | 2 | 21.00 | 0.500 | 0.375 | 22.00 | 100 | 0.250 | 0.1250 |"


def test_format_table_with_lpips_on_some_prompts_only():
    format_table([_row(0, "a kitchen", 20.0, lpips=0.5), _row(1, "an office", 22.0)], "cpu")
