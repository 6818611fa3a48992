"""OSTrack and DiMP processing: crop -> box -> label round trips, flips, batches as in INTERFACES."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from datasets.processing import build_processing
from datasets.processing.config import IMAGENET_MEAN, IMAGENET_STD, DiMPProcessingConfig, OSTrackProcessingConfig
from datasets.geometry import crop_transform, snap_transform
from datasets.processing.augment import finish_crop, jitter_boxes
from datasets.processing.crops import CropSpec, InvalidSample, sample_windows
from datasets.processing.dimp import DiMPProcessing
from datasets.processing.labels import iou_xywh
from datasets.processing.normalize import normalize_crops
from datasets.processing.ostrack import OSTrackProcessing


def scene(box, hw=(180, 240), seed=0):
    """Dark noisy frame with a white target filling the integer box exactly."""
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 90, (*hw, 3), dtype=np.uint8)
    x, y, w, h = (int(v) for v in box)
    img[y:y + h, x:x + w] = 255
    return img


def bright_bbox(crop):
    """xywh of the pixels brighter than mid-grey (edges: bilinear mixes, count > 50% as inside)."""
    m = (crop.min(axis=-1) if crop.ndim == 3 else crop) > 170
    ys, xs = np.nonzero(m)
    return np.array([xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()], float)


def clipped(box, size):
    """xywh box clipped to the [0, size] crop (the part whose pixels can be seen)."""
    x1, y1 = np.clip(box[0], 0, size), np.clip(box[1], 0, size)
    x2, y2 = np.clip(box[0] + box[2], 0, size), np.clip(box[1] + box[3], 0, size)
    return np.array([x1, y1, x2 - x1, y2 - y1])


OST = OSTrackProcessingConfig(template_size=64, search_size=128, stride=16, grayscale_prob=0.0)


def ost_sample(cfg, seed, boxes):
    frames = [scene(b, seed=i) for i, b in enumerate(boxes)]
    return OSTrackProcessing(cfg)(frames, np.array(boxes, float), np.random.default_rng(seed))


BOXES = [(60, 50, 40, 30), (70, 60, 44, 28), (90, 70, 36, 32)]


@pytest.mark.parametrize("seed", range(6))
def test_ostrack_crop_boxes_match_crop_content(seed):
    cfg = OSTrackProcessingConfig(template_size=64, search_size=128, stride=16, grayscale_prob=0.0,
                                  template_center_jitter=0.5, template_scale_jitter=0.1)
    s = ost_sample(cfg, seed, BOXES)
    for role in ("template", "dynamic_template", "search"):
        np.testing.assert_allclose(clipped(s[role + "_box"], s[role].shape[0]), bright_bbox(s[role]), atol=1.5)


def test_ostrack_flip_mirrors_crops_and_boxes_consistently():
    plain = ost_sample(OSTrackProcessingConfig(**{**OST.__dict__, "flip_prob": 0.0, "crop_flip_prob": 0.0}), 7, BOXES)
    flip = ost_sample(OSTrackProcessingConfig(**{**OST.__dict__, "flip_prob": 1.0, "crop_flip_prob": 0.0}), 7, BOXES)
    for role, size in (("template", 64), ("dynamic_template", 64), ("search", 128)):
        np.testing.assert_array_equal(flip[role], plain[role][:, ::-1])
        b = plain[role + "_box"]
        np.testing.assert_allclose(flip[role + "_box"], [size - b[0] - b[2], b[1], b[2], b[3]], rtol=1e-6)
        np.testing.assert_allclose(clipped(flip[role + "_box"], size), bright_bbox(flip[role]), atol=1.5)
    # per-crop flip on top of the joint flip un-flips (XOR)
    both = ost_sample(OSTrackProcessingConfig(**{**OST.__dict__, "flip_prob": 1.0, "crop_flip_prob": 1.0}), 7, BOXES)
    np.testing.assert_array_equal(both["search"], plain["search"])


def test_ostrack_grayscale_is_joint():
    g = ost_sample(OSTrackProcessingConfig(**{**OST.__dict__, "grayscale_prob": 1.0}), 1, BOXES)
    for role in ("template", "dynamic_template", "search"):
        assert g[role].ndim == 2                                       # luma, replicated by the collate
    batch = OSTrackProcessing(OST).collate([{**g, "video_id": 0}])
    un = batch["search"][0] * torch.tensor(IMAGENET_STD).view(3, 1, 1) + torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    torch.testing.assert_close(un[0], un[1]) and torch.testing.assert_close(un[1], un[2])


def test_ostrack_batch_matches_interface_and_heatmap_decodes_to_box_centre():
    proc = OSTrackProcessing(OST)
    samples = []
    for i in range(4):
        s = ost_sample(OST, 10 + i, BOXES)
        s["video_id"] = 3 + i // 2
        samples.append(s)
    batch = proc.collate(samples)
    assert batch["template"].shape == (4, 3, 64, 64) and batch["dynamic_template"].shape == (4, 3, 64, 64)
    assert batch["search"].shape == (4, 3, 128, 128)
    for k in ("template_box", "dynamic_template_box", "search_box"):
        assert batch[k].shape == (4, 4) and batch[k].dtype == torch.float32
    assert batch["search_heatmap"].shape == (4, 8, 8) and batch["search"].dtype == torch.float32
    assert batch["video_id"].tolist() == [3, 3, 4, 4] and batch["video_id"].dtype == torch.int64
    for i, s in enumerate(samples):
        x, y, w, h = bright_bbox(s["search"])                     # independent: from the pixels
        hm = batch["search_heatmap"][i]
        row, col = np.unravel_index(int(hm.argmax()), hm.shape)
        assert hm[row, col] == 1.0
        assert abs(col - (x + w / 2) / 16) <= 0.5 + 1.5 / 16 and abs(row - (y + h / 2) / 16) <= 0.5 + 1.5 / 16


def test_ostrack_all_padding_window_is_rejected():
    frames = [scene(b) for b in BOXES]
    boxes = np.array(BOXES, float)
    boxes[2] = [5000, 5000, 20, 20]
    with pytest.raises(InvalidSample) as e:
        OSTrackProcessing(OST)(frames, boxes, np.random.default_rng(0))
    assert e.value.role == 2 and "all padding" in str(e.value)


def test_normalize_crops_hand_values():
    img = np.zeros((2, 1, 2, 3), np.uint8)
    img[:, 0, 0] = 255
    img[:, 0, 1] = 100
    out = normalize_crops([img[0], img[1]], np.array([1.0, 1.2]))
    mean, std = np.array(IMAGENET_MEAN), np.array(IMAGENET_STD)
    assert out.shape == (2, 3, 1, 2) and out.is_contiguous() and out.dtype == torch.float32
    np.testing.assert_allclose(out[0, :, 0, 0], (1 - mean) / std, rtol=1e-6)
    np.testing.assert_allclose(out[1, :, 0, 0], (1 - mean) / std, rtol=1e-6)          # 255*1.2 clamps to 1
    np.testing.assert_allclose(out[1, :, 0, 1], (120 / 255 - mean) / std, rtol=1e-6)
    rgb = np.zeros((1, 2, 3), np.uint8)
    rgb[0, 0] = (10, 20, 30)
    np.testing.assert_allclose(normalize_crops([rgb])[0, :, 0, 0], (np.array([10, 20, 30]) / 255 - mean) / std, rtol=1e-6)
    gray = np.full((1, 2), 51, np.uint8)
    np.testing.assert_allclose(normalize_crops([gray])[0, :, 0, 1], (0.2 - mean) / std, rtol=1e-6)
    with pytest.raises(ValueError, match="uint8"):
        normalize_crops([img[0].astype(np.float32)])


def test_finish_crop_flip_and_gray():
    crop = (np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3) * 10)
    np.testing.assert_array_equal(finish_crop(crop, gray=False, flip=True), crop[:, ::-1])
    g = finish_crop(crop, gray=True, flip=False)
    assert g.shape == (2, 3) and g[0, 0] == round(0.299 * 0 + 0.587 * 10 + 0.114 * 20)


def test_sample_windows_equal_geometry_crop_transform():
    rng = np.random.default_rng(0)
    boxes = np.array([[10.0, 20, 30, 40], [50, 60, 20, 10]])
    specs = [CropSpec(64, 2.0, 0.5, 0.2), CropSpec(128, 4.0, 3.0, 0.25)]
    ts, in_crop = sample_windows(boxes, specs, np.random.default_rng(5))
    win = jitter_boxes(boxes, [0.5, 3.0], [0.2, 0.25], np.random.default_rng(5))     # same draws
    for k in range(2):
        ref = snap_transform(crop_transform(win[k], specs[k].area_factor, specs[k].out_size))
        assert ts[k].out_size == ref.out_size
        np.testing.assert_allclose([ts[k].cx, ts[k].cy, ts[k].scale], [ref.cx, ref.cy, ref.scale], rtol=1e-12)
        x0 = ts[k].cx - ts[k].window_side / 2
        assert abs(x0 - round(x0)) < 1e-9 and abs(ts[k].window_side - round(ts[k].window_side)) < 1e-9
        np.testing.assert_allclose(in_crop[k], ref.box_to_crop(boxes[k]), rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# DiMP
# ---------------------------------------------------------------------------------------------
DIMP = DiMPProcessingConfig(image_size=96, search_factor=5.0, stride=16, num_proposals=8, grayscale_prob=0.0)
DBOXES = [(60, 50, 20, 16), (66, 52, 22, 14), (70, 60, 18, 18), (75, 58, 20, 16), (80, 62, 22, 18), (84, 66, 20, 16)]


def dimp_samples(cfg, n=3, category_index=None):
    proc = DiMPProcessing(cfg, category_index) if category_index else DiMPProcessing(cfg)
    out = []
    for i in range(n):
        frames = [scene(b, seed=k) for k, b in enumerate(DBOXES)]
        s = proc(frames, np.array(DBOXES, float), np.random.default_rng(100 + i))
        s.update(video_id=i, category_name=["zebra", "cow", None][i % 3])
        out.append(s)
    return proc, out


def test_dimp_sample_boxes_match_crop_content():
    _, samples = dimp_samples(DIMP, n=2)
    for s in samples:
        for imgs, boxes in ((s["train_images"], s["train_boxes"]), (s["test_images"], s["test_boxes"])):
            for img, box in zip(imgs, boxes):
                np.testing.assert_allclose(clipped(box, 96), bright_bbox(img), atol=1.5)


def test_dimp_iou_batch_matches_interface_and_targets():
    proc, samples = dimp_samples(DIMP, category_index=lambda name: {"zebra": 69}.get(name, -1))
    batch = proc.collate(samples)
    f = 96 // 16
    assert batch["train_images"].shape == (3, 3, 3, 96, 96) and batch["test_images"].shape == (3, 3, 3, 96, 96)
    assert batch["train_boxes"].shape == (3, 3, 4) and batch["test_boxes"].shape == (3, 3, 4)
    assert batch["train_label"].shape == (3, 3, f + 1, f + 1) and batch["test_label"].shape == (3, 3, f + 1, f + 1)
    assert batch["test_proposals"].shape == (3, 3, 8, 4) and batch["proposal_iou"].shape == (3, 3, 8)
    assert "proposal_density" not in batch and "gt_density" not in batch
    assert batch["category"].tolist() == [69, -1, -1] and batch["video_id"].tolist() == [0, 1, 2]
    # frames-first layout: test_images[t, b] is sample b's test crop t
    np.testing.assert_allclose(batch["test_images"][1, 2].numpy(),
                               normalize_crops([samples[2]["test_images"][1]], samples[2]["brightness"][4:5])[0].numpy())
    # IoU targets = 2 IoU - 1 of the proposals with the test box
    iou = iou_xywh(batch["test_boxes"].numpy()[:, :, None, :].astype(np.float64), batch["test_proposals"].numpy())
    np.testing.assert_allclose(batch["proposal_iou"].numpy(), 2 * iou - 1, atol=1e-5)
    # label peak sits at the box centre / stride (label cell j <-> crop pixel j*stride)
    for t in range(3):
        for b in range(3):
            lab = batch["test_label"][t, b].numpy()
            row, col = np.unravel_index(lab.argmax(), lab.shape)
            x, y, w, h = batch["test_boxes"][t, b].tolist()
            assert abs(col - (x + w / 2) / 16) <= 0.5 and abs(row - (y + h / 2) / 16) <= 0.5


def test_dimp_kl_batch_has_densities():
    cfg = DiMPProcessingConfig(**{**DIMP.__dict__, "box_regression": "kl", "num_proposals": 16})
    proc, samples = dimp_samples(cfg, n=2)
    batch = proc.collate(samples)
    assert batch["test_proposals"].shape == (3, 2, 16, 4)
    assert batch["proposal_density"].shape == (3, 2, 16) and batch["gt_density"].shape == (3, 2, 16)
    assert "proposal_iou" not in batch and (batch["proposal_density"] > 0).all()
    assert batch["category"].tolist() == [-1, -1]                     # no map injected: unknown


def test_dimp_border_replicate_vs_constant():
    # target at the image corner: the crop window sticks out of the image
    box = (0, 0, 20, 16)
    frames = [scene(box, seed=k) for k in range(6)]
    frames = [np.full_like(f, 200) for f in frames]
    boxes = np.tile(np.array(box, float), (6, 1))
    kw = {**DIMP.__dict__, "train_center_jitter": 0.0, "train_scale_jitter": 0.0, "test_center_jitter": 0.0,
          "test_scale_jitter": 0.0, "brightness_jitter": 0.0}
    rep = DiMPProcessing(DiMPProcessingConfig(**{**kw, "border": "replicate"}))(frames, boxes, np.random.default_rng(0))
    con = DiMPProcessing(DiMPProcessingConfig(**{**kw, "border": "constant"}))(frames, boxes, np.random.default_rng(0))
    assert all((c == 200).all() for c in rep["train_images"])
    assert (con["train_images"][0][0, 0] == 0).all()                    # top-left corner is padding


def test_build_processing_dispatch():
    assert isinstance(build_processing(OST), OSTrackProcessing)
    assert isinstance(build_processing(DIMP), DiMPProcessing)
    with pytest.raises(TypeError, match="no processing"):
        build_processing(object())
