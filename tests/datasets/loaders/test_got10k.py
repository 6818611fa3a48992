"""GOT-10k loader on a hand-made tree, checked against hand-written values and the got10k toolkit."""
from __future__ import annotations

import numpy as np
import pytest

from datasets.loaders.annotations import AnnotationError
from datasets.loaders.got10k import GOT10kDataset, SyntheticDataset, read_meta_info

META = """[METAINFO]
url: https://youtu.be/x
begin: 00:00:01
end: 00:00:02
anno_fps: 10Hz
object_class: ctenophore
motion_class: swimming
major_class: invertebrate
root_class: animal
motion_adverb: slowly
resolution: (1920, 1080)
"""


@pytest.fixture
def got_root(tmp_path, write_frames):
    root = tmp_path / "GOT-10k"
    v = root / "val"
    a = v / "GOT-10k_Val_000001"
    write_frames(a, [f"{i:08d}.jpg" for i in range(1, 5)])
    (a / "groundtruth.txt").write_text("10.0,20.0,30.0,40.0\n11,21,31,41\n-1,-1,-1,-1\n12,22,0,42\n")
    (a / "absence.label").write_text("0\n0\n1\n0\n")
    (a / "cover.label").write_text("8\n0\n0\n5\n")
    (a / "cut_by_image.label").write_text("0\n1\n0\n0\n")
    (a / "meta_info.ini").write_text(META)
    b = v / "GOT-10k_Val_000002"            # no label files, no meta
    write_frames(b, [f"{i:08d}.jpg" for i in range(1, 4)])
    (b / "groundtruth.txt").write_text("1,2,3,4\n1,2,0,4\n5,6,7,8\n")
    (v / "list.txt").write_text("GOT-10k_Val_000001\nGOT-10k_Val_000002\n")
    t = root / "test" / "GOT-10k_Test_000001"
    write_frames(t, [f"{i:08d}.jpg" for i in range(1, 4)])
    (t / "groundtruth.txt").write_text("5,6,7,8\n")
    (root / "test" / "list.txt").write_text("GOT-10k_Test_000001\n")
    return root


def test_val_sequence(got_root):
    ds = GOT10kDataset(got_root, "val")
    assert ds.names == ["GOT-10k_Val_000001", "GOT-10k_Val_000002"]
    s = ds["GOT-10k_Val_000001"]
    np.testing.assert_array_equal(s.boxes, [[10, 20, 30, 40], [11, 21, 31, 41], [-1, -1, -1, -1], [12, 22, 0, 42]])
    # visible = ~absence & cover > 0 & valid box
    np.testing.assert_array_equal(s.visible, [True, False, False, False])
    np.testing.assert_array_equal(s.attributes["cover"], [8, 0, 0, 5])
    np.testing.assert_array_equal(s.attributes["cut_by_image"], [False, True, False, False])
    assert s.category == "ctenophore"
    assert s.meta["resolution"] == (1920, 1080) and s.meta["motion_adverb"] == "slowly"
    assert [p.name for p in s.frames] == [f"{i:08d}.jpg" for i in range(1, 5)]
    s2 = ds[1]
    np.testing.assert_array_equal(s2.visible, [True, False, True])   # from boxes only
    assert s2.category is None and s2.attributes == {}


def test_test_split_has_first_box_only(got_root):
    s = GOT10kDataset(got_root, "test")[0]
    np.testing.assert_array_equal(s.boxes[0], [5, 6, 7, 8])
    assert np.isnan(s.boxes[1:]).all()
    np.testing.assert_array_equal(s.visible, [True, False, False])


def test_matches_got10k_toolkit(got_root):
    from got10k.datasets import GOT10k

    ref = GOT10k(str(got_root), subset="val")
    ours = GOT10kDataset(got_root, "val")
    assert ref.seq_names == ours.names
    for i, seq in enumerate(ours):
        files, anno = ref[i]
        assert [str(p) for p in seq.frames] == files
        np.testing.assert_array_equal(seq.boxes, anno)
    _, _, meta = GOT10k(str(got_root), subset="val", return_meta=True)[0]  # seq 2 has no meta
    s = ours[0]
    assert s.meta["object_class"] == meta["object_class"] and s.meta["url"] == meta["url"]
    for label in ("cover", "absence", "cut_by_image"):
        np.testing.assert_array_equal(s.attributes[label], meta[label])


def test_errors(got_root):
    d = got_root / "val" / "GOT-10k_Val_000002"
    (d / "groundtruth.txt").write_text("1,2,3,4\n1,2,3,4\n")
    with pytest.raises(AnnotationError) as e:
        GOT10kDataset(got_root, "val")[1]
    assert str(d / "groundtruth.txt") in str(e.value) and "2 annotation rows but 3 frames" in str(e.value)
    assert str(d) in str(e.value)
    (got_root / "val" / "list.txt").write_text("GOT-10k_Val_000001\nGOT-10k_Val_000009\n")
    with pytest.raises(FileNotFoundError, match="GOT-10k_Val_000009"):
        GOT10kDataset(got_root, "val")[1]
    with pytest.raises(ValueError, match="unknown split"):
        GOT10kDataset(got_root, "holdout")
    with pytest.raises(FileNotFoundError, match="train"):
        GOT10kDataset(got_root, "train").names
    (got_root / "val" / "list.txt").write_text("A\nB\nA\n")
    with pytest.raises(AnnotationError, match=r"list.txt:3: duplicate name 'A'"):
        GOT10kDataset(got_root, "val").names
    a = got_root / "val" / "GOT-10k_Val_000001"
    (a / "cover.label").write_text("8\n0\n9\n5\n")
    with pytest.raises(AnnotationError, match=r"cover.label:3: value 9 outside 0..8"):
        GOT10kDataset(got_root, "val")._load("GOT-10k_Val_000001")


def test_meta_info_errors(tmp_path):
    p = tmp_path / "meta_info.ini"
    p.write_text("[METAINFO]\nurl: x\nresolution: 1920x1080\n")
    with pytest.raises(AnnotationError, match=f"{p}:3: resolution"):
        read_meta_info(p)
    p.write_text("[METAINFO]\nno separator here\n")
    with pytest.raises(AnnotationError, match=f"{p}:2:"):
        read_meta_info(p)


def test_synthetic_loader_is_got10k_layout(tmp_path):
    from datasets.synthetic import SyntheticConfig, generate_synthetic, synthetic_sequence

    cfg = SyntheticConfig(seed=1, train_sequences=1, val_sequences=2, frames=6, width=64, height=48)
    root = generate_synthetic(tmp_path / "syn", cfg)
    ds = SyntheticDataset(root, "val")
    assert ds.benchmark == "synthetic" and len(ds) == 2
    mem = synthetic_sequence(cfg, "val", 1)
    s = ds[1]
    np.testing.assert_allclose(s.boxes, mem.labels.boxes, atol=5e-5)
    np.testing.assert_array_equal(s.visible, ~mem.labels.absence)
    assert s.category == mem.category and s.meta["resolution"] == (64, 48)
    with pytest.raises(ValueError, match="unknown split"):
        SyntheticDataset(root, "test")
