"""Online tracker: input validation, fallback, coordinate convention, and its parts."""
import dataclasses

import numpy as np
import pytest
import torch

import trackers.cia.tracker as tracker_mod
from datasets.geometry import crop_image, crop_transform
from trackers.base import TrackResult
from trackers.cia import api
from trackers.cia.box_refinement import autograd_value_and_grad, jittered_boxes, optimize_boxes, select_box
from trackers.cia.config import CIATrackerParams
from trackers.cia.init_augmentation import Augmentation, augmented_samples, init_augmentations
from trackers.cia.localization import localize
from trackers.cia.sample_memory import SampleMemory
from trackers.registry import get_config


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    cfg = get_config("cia-tiny")
    return cfg, api.build_model(cfg)


def _frames(n=4, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 60, (120, 160, 3), dtype=np.uint8)
    frames = []
    for i in range(n):
        f = base.copy()
        f[40 + 2 * i:70 + 2 * i, 50 + 3 * i:90 + 3 * i] = (220, 60, 30)
        frames.append(f)
    return frames, np.array([50.0, 40.0, 40.0, 30.0])


def test_initialize_validates_box_and_image(tiny):
    cfg, model = tiny
    trk = api.build_tracker(cfg, model)
    frames, box = _frames(1)
    for bad in ([10, 10, 0, 5], [np.nan, 1, 2, 3], [1, 2, 3]):
        with pytest.raises(ValueError, match="init box"):
            trk.initialize(frames[0], np.array(bad, dtype=float))
    with pytest.raises(ValueError, match="uint8"):
        trk.initialize(frames[0].astype(np.float32), box)
    with pytest.raises(ValueError, match="before initialize"):
        api.build_tracker(cfg, model).track(frames[0])


def test_tracks_a_short_sequence_deterministically(tiny):
    cfg, model = tiny
    frames, box = _frames(4)
    runs = []
    for _ in range(2):
        trk = api.build_tracker(cfg, model)
        trk.initialize(frames[0], box)
        runs.append([trk.track(f) for f in frames[1:]])
    for r in runs[0]:
        assert isinstance(r, TrackResult) and r.box_xywh.shape == (4,)
        assert np.isfinite(r.box_xywh).all() and r.box_xywh[2] > 0 and 0.0 <= r.score <= 1.0
        b, s = r  # unpacks as (box, score)
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a.box_xywh, b.box_xywh)


def test_nan_output_falls_back_to_previous_box(tiny, monkeypatch):
    cfg, model = tiny
    frames, box = _frames(3)
    trk = api.build_tracker(cfg, model)
    trk.initialize(frames[0], box)
    monkeypatch.setattr(tracker_mod, "apply_filter", lambda feat, filt: torch.full((1, 1, 9, 9), float("nan")))
    r = trk.track(frames[1])
    assert r.flag == "fallback"
    np.testing.assert_array_equal(r.box_xywh, box)


def test_score_peak_maps_to_crop_pixel_stride_times_cell(tiny, monkeypatch):
    cfg, model = tiny
    params = dataclasses.replace(cfg.tracker, use_iou_net=False, update_classifier=False)
    trk = tracker_mod.CIATracker(model, params)
    frames, box = _frames(2)
    trk.initialize(frames[0], box)
    peak = torch.zeros(1, 1, 9, 9)
    peak[0, 0, 3, 6] = 0.9                                   # row 3, column 6
    monkeypatch.setattr(tracker_mod, "apply_filter", lambda feat, filt: peak)
    r = trk.track(frames[1])
    t = crop_transform(box, params.search_area_scale, params.image_sample_size)
    expected_center = (np.array([6.0, 3.0]) * 16 - params.image_sample_size / 2) / t.scale + np.array([t.cx, t.cy])
    np.testing.assert_allclose(r.box_xywh[:2] + r.box_xywh[2:] / 2, expected_center, atol=1e-9)
    np.testing.assert_allclose(r.box_xywh[2:], box[2:])
    assert r.score == pytest.approx(0.9)


def test_localize_flags():
    p = CIATrackerParams()
    size, prev = torch.tensor([2.0, 2.0]), torch.tensor([9.0, 9.0])
    s = torch.zeros(19, 19)
    s[9, 9] = 0.1
    assert localize(s, size, prev, p)[1] == "not_found"
    s[9, 9] = 1.0
    pos, flag, score = localize(s, size, prev, p)
    assert flag == "normal" and pos.tolist() == [9.0, 9.0] and score == 1.0
    s[2, 2] = 0.6                      # > 0.5 * max, far away: hard negative, keep peak 1
    assert localize(s, size, prev, p)[1] == "hard_negative"
    s[2, 2] = 0.9                      # > 0.8 * max but far from the previous position
    pos, flag, _ = localize(s, size, prev, p)
    assert flag == "hard_negative" and pos.tolist() == [9.0, 9.0]
    pos, flag, score = localize(s, size, torch.tensor([2.0, 2.0]), p)  # the distractor is where we were
    assert flag == "hard_negative" and pos.tolist() == [2.0, 2.0] and score == pytest.approx(0.9)
    s2 = torch.zeros(19, 19)
    s2[9, 9], s2[9, 14] = 1.0, 0.95   # both within the displacement threshold: uncertain
    assert localize(s2, size, prev, p)[1] == "uncertain"


def test_sample_memory_weights():
    mem = SampleMemory(capacity=4, init_min_weight=0.25)
    mem.initialize(torch.zeros(2, 1, 1, 1), torch.zeros(2, 4))
    assert mem.weights.tolist() == [0.5, 0.5, 0.0, 0.0]
    assert mem.update(torch.ones(1, 1, 1), torch.ones(4), lr=0.2) == 2
    torch.testing.assert_close(mem.weights, torch.tensor([0.4, 0.4, 0.2, 0.0]))
    assert mem.update(torch.ones(1, 1, 1), torch.ones(4), lr=0.5) == 3
    torch.testing.assert_close(mem.weights, torch.tensor([0.2, 0.2, 0.1, 0.5]))
    # full: the smallest non-initial weight (slot 2) is replaced; initial samples keep >= 0.25
    assert mem.update(2 * torch.ones(1, 1, 1), torch.ones(4), lr=0.9) == 2
    w = mem.weights
    assert w[:2].sum().item() == pytest.approx(0.25) and w.sum().item() == pytest.approx(1.0)
    # non-initial weights keep their proportions 0.9 : 0.05
    assert (w[2] / w[3]).item() == pytest.approx(0.9 / 0.05)
    assert mem.stored()[0][2].item() == 2.0


def test_initial_augmentation_geometry():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (100, 120, 3), dtype=np.uint8)
    box = np.array([40.0, 30.0, 20.0, 16.0])
    t = crop_transform(box, 4.0, 64)
    b = t.box_to_crop(box)
    augs = [Augmentation(), Augmentation(flip=True), Augmentation(shift=(5.0, -3.0))]
    samples, boxes = augmented_samples(img, t, b, augs, expansion=2.0)
    assert samples.shape == (3, 64, 64, 3)
    # same sampling points as the direct crop (OpenCV's fixed-point coordinates: +-1 grey level)
    diff = samples[0].astype(int) - crop_image(img, t, border="replicate").astype(int)
    assert np.abs(diff).max() <= 1 and (diff != 0).mean() < 0.01
    np.testing.assert_array_equal(samples[1], samples[0][:, ::-1])
    np.testing.assert_array_equal(samples[2][10:50, 10:50], samples[0][13:53, 5:45])
    np.testing.assert_allclose(boxes[1], [64 - b[0] - b[2], b[1], b[2], b[3]])
    np.testing.assert_allclose(boxes[2], [b[0] + 5, b[1] - 3, b[2], b[3]])
    assert len(init_augmentations(CIATrackerParams(), 64, rng)) == 13


def test_box_refinement_ascends_and_selects():
    target = torch.tensor([30.0, 20.0, 16.0, 12.0], dtype=torch.float64)

    def score(b):  # peaked at the target box
        return -((b - target) ** 2).sum(-1) / 100.0

    start = torch.tensor([[26.0, 23.0, 12.0, 15.0]], dtype=torch.float64)
    for space, step in (("default", 0.5), ("relative", 0.1)):
        boxes, scores = optimize_boxes(autograd_value_and_grad(score), start, iterations=300, step_length=step, space=space)
        assert torch.allclose(boxes[0], target, atol=0.05), (space, boxes)
        assert scores[0] > score(start)[0]
    g = torch.Generator().manual_seed(0)
    cands = jittered_boxes(target, 9, 0.1, 0.5, g)
    assert cands.shape == (10, 4) and torch.equal(cands[0], target)
    assert bool((cands[:, 2:] >= 12.0 / 3 - 1e-9).all())
    boxes = torch.tensor([[0, 0, 10, 10], [2, 2, 10, 40], [0, 0, 100, 10], [4, 4, 40, 10.0]], dtype=torch.float64)
    scores = torch.tensor([0.9, 0.8, 1.0, 0.1], dtype=torch.float64)
    box, s = select_box(boxes, scores, k=2, max_aspect_ratio=6.0)  # box 2 (ratio 10) dropped
    centres = torch.tensor([[5.0, 5.0], [7.0, 22.0]], dtype=torch.float64)
    size = torch.exp(torch.log(torch.tensor([[10.0, 10.0], [10.0, 40.0]], dtype=torch.float64)).mean(0))
    torch.testing.assert_close(box, torch.cat([centres.mean(0) - size / 2, size]))
    assert s == pytest.approx(0.85)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_tracker_on_cuda_matches_cpu(tiny):
    cfg, model = tiny
    frames, box = _frames(3)
    out = {}
    for dev in ("cpu", "cuda"):
        trk = api.build_tracker(cfg, model, device=dev)
        trk.initialize(frames[0], box)
        out[dev] = [trk.track(f).box_xywh for f in frames[1:]]
    model.to("cpu")
    for a, b in zip(out["cpu"], out["cuda"]):
        np.testing.assert_allclose(a, b, atol=0.5)
