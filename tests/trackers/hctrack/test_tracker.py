import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from datasets.geometry import crop_around_box
from datasets.processing.config import IMAGENET_MEAN, IMAGENET_STD
from trackers.base import TrackResult
from trackers.hctrack.api import build_model, build_tracker
from trackers.hctrack.tracker import HCTrackTracker

MEAN = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
STD = torch.tensor(IMAGENET_STD).view(3, 1, 1)


def _video(n=8, hw=(150, 200), box=(60.0, 50.0, 24.0, 16.0), step=(4.0, 3.0)):
    """White axis-aligned rectangle (integer edges) moving on black; returns frames and true boxes."""
    frames, boxes = [], []
    for i in range(n):
        b = np.array([box[0] + i * step[0], box[1] + i * step[1], box[2], box[3]])
        img = np.zeros((*hw, 3), np.uint8)
        x, y, w, h = b.astype(int)
        img[y:y + h, x:x + w] = 255
        frames.append(img)
        boxes.append(b)
    return frames, boxes


class CropReader(nn.Module):
    """Stub network: measures the bright rectangle in the search crop (sub-pixel, from the column and
    row coverage profiles) and reports it through the head maps; scores can be scripted."""

    def __init__(self, F_=8, S=128, scores=None, nan_at=()):
        super().__init__()
        self.F, self.S, self.scores, self.nan_at = F_, S, list(scores or []), set(nan_at)
        self.templates, self.calls = [], 0

    def forward_template(self, z, dz):
        self.templates.append((z.clone(), dz.clone()))
        return object()

    def forward_search(self, x, tf):
        self.calls += 1
        img = (x[0] * STD + MEAN).mean(0).clamp(0, 1)                 # (S, S) coverage in [0, 1]
        colp, rowp = img.max(0).values, img.max(1).values
        pos = torch.arange(self.S, dtype=torch.float64) + 0.5
        w, h = colp.double().sum(), rowp.double().sum()
        cx, cy = (pos * colp.double()).sum() / w, (pos * rowp.double()).sum() / h
        box = torch.tensor([cx, cy, w, h]) / self.S                     # normalised cxcywh
        F_ = self.F
        ix, iy = int(box[0] * F_), int(box[1] * F_)
        score = torch.full((1, 1, F_, F_), 1e-4)
        score[0, 0, iy, ix] = self.scores[self.calls - 1] if self.scores else 0.9
        offset = torch.zeros(1, 2, F_, F_)
        size = torch.zeros(1, 2, F_, F_)
        offset[0, :, iy, ix] = torch.tensor([box[0] * F_ - ix, box[1] * F_ - iy])
        size[0, :, iy, ix] = box[2:].float()
        if self.calls in self.nan_at:
            size[:] = float("nan")
        return {"score_map": score, "offset_map": offset, "size_map": size}


def _stub_tracker(cfg, **kw):
    return HCTrackTracker(cfg, CropReader(cfg.search_grid, cfg.data.search_size, **kw))


def test_crop_map_back_round_trip(small_cfg):
    frames, boxes = _video()
    tr = _stub_tracker(small_cfg())
    tr.initialize(frames[0], boxes[0])
    for img, gt in zip(frames[1:], boxes[1:]):
        res = tr.track(img)
        assert isinstance(res, TrackResult) and res.flag == ""
        np.testing.assert_allclose(res.box_xywh, gt, atol=0.3)
        assert res.score == pytest.approx(0.9)


def test_dynamic_template_takes_best_frame_of_each_interval(small_cfg):
    cfg = small_cfg()
    cfg = dataclasses.replace(cfg, inference=dataclasses.replace(cfg.inference, update_interval=3))
    frames, boxes = _video(n=7)
    tr = _stub_tracker(cfg, scores=[0.3, 0.8, 0.5, 0.9, 0.2, 0.4])
    tr.initialize(frames[0], boxes[0])
    out = [tr.track(f) for f in frames[1:]]
    stub = tr.model
    assert len(stub.templates) == 3                                   # init, after frame 3, after frame 6

    def crop(i):  # expected DT: template crop around the box reported for frame i (independent crop)
        c, _ = crop_around_box(frames[i], out[i - 1].box_xywh, 2.0, 64)
        return (torch.from_numpy(c).permute(2, 0, 1)[None].float() / 255 - MEAN) / STD

    t0, dt0 = stub.templates[0]
    torch.testing.assert_close(t0, dt0)                               # first frame is T and DT
    for k, best in ((1, 2), (2, 4)):                                  # interval 1-3 -> frame 2, 4-6 -> frame 4
        t, dt = stub.templates[k]
        torch.testing.assert_close(t, t0)                             # T never changes
        torch.testing.assert_close(dt, crop(best), atol=1e-5, rtol=0)
    assert tr._state.history == [3, 6]


def test_fallback_on_nan_output(small_cfg):
    frames, boxes = _video(n=4)
    tr = _stub_tracker(small_cfg(), nan_at={2})
    tr.initialize(frames[0], boxes[0])
    r1 = tr.track(frames[1])
    r2 = tr.track(frames[2])
    assert r2.flag == "fallback" and r2.score == 0.0
    np.testing.assert_array_equal(r2.box_xywh, r1.box_xywh)
    assert tr.track(frames[3]).flag == ""


def test_input_validation(small_cfg):
    tr = _stub_tracker(small_cfg())
    img = np.zeros((100, 120, 3), np.uint8)
    with pytest.raises(ValueError, match="before initialize"):
        tr.track(img)
    for bad in ([10, 10, 0, 5], [np.nan, 1, 5, 5], [1, 1, -3, 4]):
        with pytest.raises(ValueError, match=r"invalid init box \["):
            tr.initialize(img, np.array(bad, float))
    with pytest.raises(ValueError, match="outside"):
        tr.initialize(img, np.array([130.0, 10, 20, 20]))
    for frame in (np.zeros((100, 120), np.uint8), np.zeros((100, 120, 4), np.uint8), np.zeros((100, 120, 3))):
        with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8"):
            tr.initialize(frame, np.array([10.0, 10, 20, 20]))
    tr.initialize(img, np.array([-10.0, 90, 30, 30]))                # partly outside: clipped
    np.testing.assert_allclose(tr._state.box, [0, 90, 20, 10])


def test_cached_template_equals_recomputed(small_cfg):
    """Real (random-weight) model: caching the template branch changes nothing, DT updates included."""
    base = small_cfg(rip_ratio=0.8)
    results = {}
    frames, boxes = _video(n=9)
    model = build_model(base).eval()
    calls = []
    model.contrastive_head.register_forward_hook(lambda *a: calls.append(1))
    for cache in (True, False):
        cfg = dataclasses.replace(base, inference=dataclasses.replace(base.inference, cache_template=cache, update_interval=3))
        tr = build_tracker(cfg, model)
        tr.initialize(frames[0], boxes[0])
        results[cache] = [tr.track(f) for f in frames[1:]]
        assert tr._state.history == [3, 6]
    for a, b in zip(results[True], results[False]):
        np.testing.assert_allclose(a.box_xywh, b.box_xywh, rtol=0, atol=1e-9)
        assert a.score == b.score and 0.0 <= a.score <= 1.0
        assert (a.box_xywh[:2] >= 0).all() and a.box_xywh[0] + a.box_xywh[2] <= 200 + 1e-9
    assert not calls, "the contrastive head must not run at inference"
