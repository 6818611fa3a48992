"""CIA speed paths against the reference: modulate-once IoU prediction, channels-last inference
weights, bf16 autocast (CPU), half precision and torch.compile on CUDA (skipped without a GPU)."""
import dataclasses

import numpy as np
import pytest
import torch

import trackers.cia.tracker as tracker_mod
from trackers.cia import api
from trackers.registry import get_config


def _frames(n=5, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 60, (120, 160, 3), dtype=np.uint8)
    frames = []
    for i in range(n):
        f = base.copy()
        f[40 + 2 * i:70 + 2 * i, 50 + 3 * i:90 + 3 * i] = (220, 60, 30)
        frames.append(f)
    return frames, np.array([50.0, 40.0, 40.0, 30.0])


def _cfg(**tracker):
    cfg = get_config("cia-tiny")
    # always take the found / IoU-refinement / memory-update path with random weights
    tracker = dict(target_not_found_threshold=-float("inf"), distractor_threshold=float("inf"),
                   hard_negative_threshold=float("inf"), train_skipping=2, **tracker)
    return dataclasses.replace(cfg, tracker=dataclasses.replace(cfg.tracker, **tracker))


def _model(cfg):
    torch.manual_seed(0)
    return api.build_model(cfg)


def _run(cfg, model, device="cpu"):
    frames, box = _frames()
    trk = api.build_tracker(cfg, model, device)
    trk.initialize(frames[0], box)
    return trk, [trk.track(f) for f in frames[1:]]


def test_predict_iou_modulated_equals_predict_iou():
    cfg = _cfg()
    head = _model(cfg).box_head.eval()
    g = torch.Generator().manual_seed(1)
    c2, c3 = cfg.model.iou_pred_dims
    feat = (torch.randn(2, c2, 16, 16, generator=g), torch.randn(2, c3, 8, 8, generator=g))
    mod = (torch.randn(2, c2, 1, 1, generator=g), torch.randn(2, c3, 1, 1, generator=g))
    boxes = torch.tensor([[[20.0, 30.0, 40.0, 50.0], [5.0, 8.0, 60.0, 33.0]]]).expand(2, 2, 4)
    with torch.no_grad():
        ref = head.predict_iou(mod, feat, boxes)
        manual = head.predict_iou_modulated((feat[0] * mod[0], feat[1] * mod[1]), boxes)
        fast = head.predict_iou_modulated(head.modulate(mod, feat), boxes)
    torch.testing.assert_close(fast, ref, rtol=0, atol=0)
    torch.testing.assert_close(manual, ref, rtol=0, atol=0)


def test_channels_last_inference_model_tracks_like_nchw(monkeypatch):
    """The prepared model (channels-last conv weights on CPU) against the plain ``.to().eval()`` one."""
    cfg = _cfg()
    trk, fast = _run(cfg, _model(cfg))
    assert trk.net.backbone.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    monkeypatch.setattr(tracker_mod, "prepare_for_inference", lambda m, d, **kw: m.to(d).eval())
    ref_trk, ref = _run(cfg, _model(cfg))
    assert ref_trk.net.backbone.conv1.weight.is_contiguous()
    for a, b in zip(fast, ref):
        np.testing.assert_allclose(a.box_xywh, b.box_xywh, rtol=0, atol=1e-3)
        assert abs(a.score - b.score) < 1e-4


def test_bf16_autocast_cpu_close_to_fp32():
    cfg = _cfg()
    trk32, res32 = _run(cfg, _model(cfg))
    trk16, res16 = _run(_cfg(precision="bf16"), _model(cfg))
    x = torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        a, b = trk32._features(x), trk16._features(x)
    assert all(t.dtype == torch.float32 for t in b)
    for ta, tb in zip(a, b):
        assert ((ta - tb).abs().max() / ta.abs().max()) < 0.05        # bf16: ~3 significant digits
    for r32, r16 in zip(res32, res16):
        np.testing.assert_allclose(r16.box_xywh, r32.box_xywh, atol=3.0)


def test_precision_is_validated():
    with pytest.raises(ValueError, match="precision"):
        _cfg(precision="fp8")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_cuda_half_precision_close_to_fp32(precision):
    cfg = _cfg()
    _, ref = _run(cfg, _model(cfg), "cuda")
    _, half = _run(_cfg(precision=precision), _model(cfg), "cuda")
    for r, h in zip(ref, half):
        np.testing.assert_allclose(h.box_xywh, r.box_xywh, atol=3.0)


@pytest.mark.gpu
@pytest.mark.slow
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_compile_equals_eager():
    cfg = _cfg()
    _, ref = _run(cfg, _model(cfg), "cuda")
    _, comp = _run(_cfg(compile=True), _model(cfg), "cuda")
    for r, c in zip(ref, comp):
        np.testing.assert_allclose(c.box_xywh, r.box_xywh, atol=1e-2)
