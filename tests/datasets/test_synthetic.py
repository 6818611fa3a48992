"""Synthetic benchmark: layout, determinism, label consistency, box accuracy and hardness."""
from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest

from datasets.frames import read_frame
from datasets.synthetic import (
    CATEGORY_NAMES,
    MARKER,
    SyntheticConfig,
    default_synthetic_root,
    ensure_synthetic,
    generate_synthetic,
    synthetic_sequence,
    target_labels,
)
from datasets.synthetic.__main__ import main as cli_main
from datasets.synthetic.generate import sequence_rng
from datasets.synthetic.render import blit, render_frame
from datasets.synthetic.scene import Layer, Scene, make_scene, reflect

TINY = SyntheticConfig(seed=3, train_sequences=2, val_sequences=2, frames=8, width=96, height=72)
SEQ_FILES = ("groundtruth.txt", "absence.label", "cover.label", "cut_by_image.label", "meta_info.ini")


def _tree_bytes(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _iou(a, b):
    ix = np.clip(np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = ix * iy
    return inter / (a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter)


# ---------------------------------------------------------------- layout and determinism
def test_layout_is_got10k(tmp_path):
    root = generate_synthetic(tmp_path / "syn", TINY)
    assert (root / MARKER).is_file()
    for split, prefix in (("train", "Synthetic_Train_"), ("val", "Synthetic_Val_")):
        names = (root / split / "list.txt").read_text().splitlines()
        assert names == [f"{prefix}{i:06d}" for i in (1, 2)]
        for name in names:
            d = root / split / name
            jpgs = sorted(p.name for p in d.glob("*.jpg"))
            assert jpgs == [f"{i:08d}.jpg" for i in range(1, 9)]
            assert read_frame(d / jpgs[0]).shape == (72, 96, 3)
            for f in SEQ_FILES:
                assert (d / f).is_file(), f
            gt = np.loadtxt(d / "groundtruth.txt", delimiter=",")
            assert gt.shape == (8, 4)
            for lab in ("absence", "cover", "cut_by_image"):
                assert len((d / f"{lab}.label").read_text().split()) == 8
            meta = (d / "meta_info.ini").read_text().splitlines()
            assert meta[0] == "[METAINFO]"
            kv = dict(line.split(": ", 1) for line in meta[1:])
            assert list(kv)[4] == "object_class" and kv["object_class"] in CATEGORY_NAMES
            assert kv["resolution"] == "(96, 72)"


def test_same_arguments_same_bytes_and_independent_of_count(tmp_path):
    a = _tree_bytes(generate_synthetic(tmp_path / "a", TINY))
    b = _tree_bytes(generate_synthetic(tmp_path / "b", TINY))
    assert a == b
    one = _tree_bytes(generate_synthetic(tmp_path / "c", dataclasses.replace(TINY, val_sequences=1, splits=("val",))))
    prefix = "val/Synthetic_Val_000001/"
    assert {k: v for k, v in one.items() if k.startswith(prefix)} == {k: v for k, v in a.items() if k.startswith(prefix)}
    other = _tree_bytes(generate_synthetic(tmp_path / "d", dataclasses.replace(TINY, seed=4)))
    assert other[prefix + "00000001.jpg"] != a[prefix + "00000001.jpg"]
    assert a["train/Synthetic_Train_000001/00000001.jpg"] != a[prefix + "00000001.jpg"]


def test_written_files_match_in_memory_sequence(tmp_path):
    root = generate_synthetic(tmp_path / "s", TINY)
    seq = synthetic_sequence(TINY, "val", 1)
    d = root / "val" / seq.name
    np.testing.assert_allclose(np.loadtxt(d / "groundtruth.txt", delimiter=","), seq.labels.boxes, atol=5e-5)
    np.testing.assert_array_equal(np.loadtxt(d / "cover.label", dtype=int), seq.labels.cover)
    img = read_frame(d / "00000003.jpg").astype(int)
    assert np.abs(img - seq.frames[2]).mean() < 4.0  # JPEG q90


# ---------------------------------------------------------------- labels
def test_target_labels_hand_computed():
    target = np.array([
        [10, 10, 20, 20],    # fully inside, no occluder overlap
        [-10, 10, 20, 20],   # half outside the left border
        [40, 40, 20, 20],    # fully under the occluder
        [55, 10, 20, 20],    # 3/4 under the occluder (x 55..70 of 55..75), -> 1/4 visible
        [120, 10, 20, 20],   # fully outside the right border (image 100 wide)
        [10, 10, 20, 20],    # 15/16 visible -> round(7.5) = 8 (half up)
    ], float)
    occ = np.array([[0, 0, 0, 0], [200, 0, 5, 5], [35, 30, 40, 40], [30, 0, 40, 100], [0, 0, 1, 1], [10, 10, 5, 5]], float)
    lab = target_labels(target, occ, 100, 80)
    np.testing.assert_array_equal(lab.cover, [8, 4, 0, 2, 0, 8])
    np.testing.assert_array_equal(lab.absence, [False, False, True, False, True, False])
    np.testing.assert_array_equal(lab.cut_by_image, [False, True, False, False, False, False])
    np.testing.assert_array_equal(lab.boxes[1], [0, 10, 10, 20])      # clipped to the image
    np.testing.assert_array_equal(lab.boxes[2], [-1, -1, -1, -1])     # absent marker
    np.testing.assert_array_equal(lab.boxes[4], [-1, -1, -1, -1])
    np.testing.assert_array_equal(lab.boxes[3], target[3])


@pytest.mark.parametrize("split,index", [("val", i) for i in range(12)])
def test_labels_consistent(split, index):
    cfg = SyntheticConfig(seed=0)
    sc = make_scene(cfg.scene(), sequence_rng(0, split, index))
    lab = target_labels(sc.target_boxes, sc.occluder, cfg.width, cfg.height)
    assert lab.cover[0] >= 7 and not lab.absence[0], "the init frame must show the target"
    np.testing.assert_array_equal(lab.absence, lab.cover == 0)
    assert (lab.boxes[lab.absence] == -1).all()
    present = lab.boxes[~lab.absence]
    assert (present[:, 2:] > 0).all()
    assert (present[:, :2] >= 0).all()
    assert (present[:, 0] + present[:, 2] <= cfg.width + 1e-9).all()
    assert (present[:, 1] + present[:, 3] <= cfg.height + 1e-9).all()
    assert not (lab.cut_by_image & lab.absence).any()


def test_reflect_is_a_bounce():
    x = np.array([5.0, 12.0, -3.0, 25.0, 31.0])
    np.testing.assert_allclose(reflect(x, np.float64(0), np.float64(10)), [5, 8, 3, 5, 9])


# ---------------------------------------------------------------- rendering accuracy
@pytest.mark.parametrize("box", [(10.5, 20.25, 30.0, 10.5), (3.2, 5.7, 57.3, 41.9), (20.0, 8.6, 90.4, 70.2)])
def test_blit_area_and_centroid_match_box(box):
    """Composite a white square on black: the coverage integrates to the box area and its
    centroid is the box centre (continuous convention: pixel centres at +0.5)."""
    sprite = np.ones((64, 64, 4), np.float32)
    sprite[..., :3] = 255.0                               # premultiplied white
    sprite[0, 0, 3] = 0.999                               # not "opaque": take the warp path
    frame = np.zeros((100, 120, 3), np.uint8)
    box = np.array(box)
    blit(frame, Layer(sprite, box[None]), box)
    cov = frame[..., 0].astype(float) / 255.0
    assert cov.sum() == pytest.approx(box[2] * box[3], rel=0.03)
    ys, xs = np.mgrid[0:100, 0:120] + 0.5
    assert (cov * xs).sum() / cov.sum() == pytest.approx(box[0] + box[2] / 2, abs=0.1)
    assert (cov * ys).sum() / cov.sum() == pytest.approx(box[1] + box[3] / 2, abs=0.1)
    inside = (int(box[1]) + 2, int(box[0]) + 2)
    assert cov[inside] == pytest.approx(1.0, abs=0.01) and cov[0, 119] == 0 and cov[99, 0] == 0


@pytest.mark.parametrize("index", [0, 1, 2])
def test_rendered_target_occupies_its_box(index):
    """Render frame 0 with and without the target layer: the changed pixels span the label box."""
    cfg = SyntheticConfig(seed=0)
    sc = make_scene(cfg.scene(), sequence_rng(0, "val", index))
    lab = target_labels(sc.target_boxes, sc.occluder, cfg.width, cfg.height)
    t = int(np.flatnonzero(lab.cover == 8)[-1])
    without = dataclasses.replace(sc, layers=sc.layers[: sc.target_index] + sc.layers[sc.target_index + 1:])
    diff = np.abs(render_frame(sc, t, cfg.width, cfg.height).astype(int)
                  - render_frame(without, t, cfg.width, cfg.height).astype(int)).max(axis=2) > 8
    ys, xs = np.nonzero(diff)
    found = np.array([xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()], float)
    assert _iou(found[None], lab.boxes[t][None])[0] > 0.85


# ---------------------------------------------------------------- hardness
def test_repeating_the_first_box_fails():
    """A blind tracker (first box repeated) scores AO well below 0.3 on the default val split.

    AO as the GOT-10k toolkit: frame 0 dropped, frames with cover > 0 kept, IoU pooled."""
    cfg = SyntheticConfig()
    ious, absent_seqs, events = [], 0, set()
    for i in range(cfg.val_sequences):
        sc = make_scene(cfg.scene(), sequence_rng(cfg.seed, "val", i))
        lab = target_labels(sc.target_boxes, sc.occluder, cfg.width, cfg.height)
        keep = lab.cover[1:] > 0
        pred = np.repeat(lab.boxes[:1], cfg.frames - 1, axis=0)
        ious.append(_iou(pred, lab.boxes[1:])[keep])
        absent_seqs += bool(lab.absence.any())
        events.update(sc.events)
        assert len(sc.layers) - sc.target_index - (sc.occluder is not None) == 1  # target drawn last but occluder
    ao = float(np.concatenate(ious).mean())
    assert ao < 0.2, ao
    assert absent_seqs >= cfg.val_sequences // 3
    assert events == {"occlusion", "out_of_view"}


def test_same_category_distractor_present():
    cfg = SyntheticConfig()
    sc: Scene = make_scene(cfg.scene(), sequence_rng(0, "train", 5))
    target = sc.layers[sc.target_index].sprite
    # the layer just below the target is a same-category look-alike: same silhouette (alpha)
    np.testing.assert_allclose(sc.layers[sc.target_index - 1].sprite[..., 3], target[..., 3])


# ---------------------------------------------------------------- CLI and ensure
def test_cli_writes_and_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "cli"
    args = [str(out), "--sequences", "1", "--seed", "2", "--frames", "3", "--split", "val",
            "--width", "64", "--height", "48", "--quiet"]
    assert cli_main(args) == 0
    assert (out / "val" / "list.txt").read_text() == "Synthetic_Val_000001\n"
    assert not (out / "train").exists()
    assert cli_main(args) == 2
    assert "exists" in capsys.readouterr().err
    assert cli_main(args + ["--overwrite"]) == 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


def test_ensure_synthetic_generates_once_and_checks_parameters(tmp_path):
    cfg = dataclasses.replace(TINY, train_sequences=1, val_sequences=1, frames=3)
    root = ensure_synthetic(tmp_path / "e", cfg)
    stamp = os.stat(root / "val" / "list.txt").st_mtime_ns
    assert ensure_synthetic(root, cfg) == root
    assert os.stat(root / "val" / "list.txt").st_mtime_ns == stamp
    with pytest.raises(ValueError, match="seed"):
        ensure_synthetic(root, dataclasses.replace(cfg, seed=9))
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "x.txt").write_text("hi")
    with pytest.raises(FileExistsError, match="not a synthetic benchmark"):
        ensure_synthetic(foreign, cfg)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert (ensure_synthetic(empty, cfg) / MARKER).is_file()


def test_default_root(tmp_path, monkeypatch):
    cfg = dataclasses.replace(TINY, train_sequences=1, val_sequences=1, frames=2, splits=("val",))
    monkeypatch.delenv("SYNTHETIC_ROOT", raising=False)
    monkeypatch.setenv("TRACKKIT_CACHE", str(tmp_path / "cache"))
    root = ensure_synthetic(None, cfg)
    assert root == tmp_path / "cache" / "synthetic" / "v1-seed3-1x1x2-96x72-q90-val"
    assert (root / "val" / "list.txt").is_file()
    monkeypatch.setenv("SYNTHETIC_ROOT", str(tmp_path / "env"))
    assert default_synthetic_root(cfg) == tmp_path / "env"


def test_config_validation():
    with pytest.raises(ValueError, match="splits"):
        SyntheticConfig(splits=("test",))
    with pytest.raises(ValueError, match="frames"):
        SyntheticConfig(frames=1)
