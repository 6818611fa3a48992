"""Smoke tests of experiments.profiling / experiments.profile: FLOP formulas against hand counts,
timing plumbing, the synthetic video, and one tiny end-to-end profile through the CLI."""
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from experiments import profile as profile_cli
from experiments.profiling import (ProfileConfig, ProfileResult, count_flops, matmul_rate, synthetic_video,
                                   table_row, time_calls, time_interleaved)


def test_count_flops_linear_conv_attention_by_hand():
    x, w, b = torch.randn(5, 7), torch.randn(3, 7), torch.randn(3)
    assert count_flops(lambda: F.linear(x, w, b)) == 2 * 5 * 7 * 3
    img, k = torch.randn(1, 4, 6, 6), torch.randn(8, 4, 3, 3)
    assert count_flops(lambda: F.conv2d(img, k, padding=1)) == 2 * (6 * 6) * 8 * (4 * 3 * 3)
    q, kk, v = torch.randn(1, 2, 5, 4), torch.randn(1, 2, 9, 4), torch.randn(1, 2, 9, 4)
    with torch.inference_mode():  # the fused CPU kernel (the custom formula) and the explicit path agree
        fused = count_flops(lambda: F.scaled_dot_product_attention(q, kk, v))
    assert fused == 2 * 2 * 5 * 9 * (4 + 4)
    assert count_flops(lambda: (q @ kk.transpose(-2, -1)).softmax(-1) @ v) == fused


def test_count_flops_of_the_folded_conv_and_packed_linear_equal_the_plain_ops():
    from torch import nn

    from trackers.common import fused_conv, packed_linear

    if not (fused_conv.onednn_supported() and packed_linear.supported()):
        pytest.skip("torch build without the oneDNN ops")
    stack = fused_conv.ConvBNReLU(nn.Conv2d(4, 8, 3, stride=2, padding=1, groups=2), nn.BatchNorm2d(8)).eval()
    img = torch.randn(1, 4, 9, 9)
    with torch.no_grad():
        plain = count_flops(lambda: stack(img))
        fused_conv.fold_conv_bn(stack)
        folded = count_flops(lambda: stack(img))
    assert plain == folded == 2 * (5 * 5) * 8 * (2 * 3 * 3)
    lin = nn.Linear(7, 3)
    x = torch.randn(5, 7)
    packed = packed_linear.PackedLinear(lin)
    with torch.no_grad():
        assert count_flops(lambda: packed(x)) == count_flops(lambda: lin(x)) == 2 * 5 * 7 * 3


def test_time_calls_counts_calls_and_returns_positive_seconds():
    calls = []
    t = time_calls(lambda: calls.append(1), "cpu", n=4, warmup=2)
    assert len(calls) == 6 and t.shape == (4,) and (t >= 0).all()
    assert matmul_rate("cpu", n=64, reps=2) > 0


def test_synthetic_video_target_and_box():
    frames, box = synthetic_video(3, 160, 120, seed=1)
    assert len(frames) == 3 and frames[0].shape == (120, 160, 3) and frames[0].dtype == np.uint8
    x, y, w, h = box.astype(int)
    assert (w, h) == (80, 60) and 0 <= x and x + w <= 160 and 0 <= y and y + h <= 120
    patch = frames[0][y:y + h, x:x + w]
    assert (patch[:10, :10] == patch[0, 0]).all()            # the 10x10 target cells are flat


def test_summary_ratio_is_paired_latency_over_floor():
    # matmul of 1 GFLOP taking 1 s, then 0.5 s (the machine got twice as fast for the middle pair)
    r = ProfileResult(config={}, matmul_flops=1e9, model_seconds=[0.2, 0.05, 0.3],
                      model_matmul_seconds=[1.0, 0.5, 1.0], track_seconds=[0.5], track_matmul_seconds=[1.0],
                      model_flops=int(5e7), track_flops=1e8)
    s = r.summary()
    assert s["model"]["median_ms"] == pytest.approx(200.0) and s["model"]["min_ms"] == pytest.approx(50.0)
    assert s["model"]["matmul_gflop_per_s"] == pytest.approx(1.0)
    assert s["model"]["floor_ms"] == pytest.approx(50.0)
    # per pair: 0.2 / 0.05, 0.05 / 0.025, 0.3 / 0.05 -> median 4
    assert s["model"]["ratio"] == pytest.approx(4.0)
    assert s["model"]["ratio_of_medians"] == pytest.approx(4.0)
    assert s["model"]["ratio_best"] == pytest.approx(0.05 * 2e9 / 5e7)      # fastest call x fastest matmul
    assert s["track"]["ratio"] == pytest.approx(5.0) and s["track"]["fps"] == pytest.approx(2.0)


def test_time_interleaved_alternates_calls():
    order = []
    t = time_interleaved([lambda: order.append("a"), lambda: order.append("b")], "cpu", n=3, warmup=1)
    assert t.shape == (2, 3) and order == ["a", "b"] * 4


def test_config_validation():
    with pytest.raises(ValueError, match="precision"):
        ProfileConfig("hctrack-tiny", precision="fp8")
    with pytest.raises(ValueError, match="device"):
        ProfileConfig("hctrack-tiny", device="tpu")


def test_cli_tiny_hctrack_writes_json(tmp_path, capsys):
    out = tmp_path / "p.json"
    rc = profile_cli.main(["hctrack-tiny", "--threads", "1", "--frames", "2", "--warmup", "1", "--matmul-size", "128",
                           "--top-ops", "5", "--json", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "model only" in text and "track() end-to-end" in text and "GFLOP/frame" in text
    assert "track() frames profiled" in text and "Self CPU" in text
    data = json.loads(out.read_text())
    assert data["machine"]["cpu"] and data["machine"]["torch"] == torch.__version__
    assert data["config"]["precision"] == "fp32" and data["config"]["threads"] == 1
    assert len(data["model_seconds"]) == 2 and len(data["track_seconds"]) == 2
    assert len(data["model_matmul_seconds"]) == 2 and data["matmul_flops"] == 2 * 128 ** 3
    # hctrack-tiny search branch: 64 tokens through 6 layers of width 192 dominate the count
    assert 0.3e9 < data["model_flops"] < 0.6e9
    assert data["track_flops"] >= data["model_flops"]
    row = table_row(ProfileResult(**{k: data[k] for k in ProfileResult.__dataclass_fields__}))
    assert row.startswith("| `hctrack-tiny` | cpu | fp32 | 1 |")


def test_cli_unknown_preset_exit_code(capsys):
    assert profile_cli.main(["no-such-tracker", "--frames", "1"]) == 2
    assert "no-such-tracker" in capsys.readouterr().err


def test_count_flops_packed_linear():
    from trackers.common import packed_linear as pl

    if not pl.supported():
        pytest.skip("no oneDNN linear ops")
    lin = torch.nn.Linear(7, 3)
    packed = pl.PackedLinear(lin)
    x = torch.randn(2, 5, 7)
    with torch.no_grad():
        assert count_flops(lambda: packed(x, ("gelu", "none"))) == 2 * (2 * 5) * 7 * 3
