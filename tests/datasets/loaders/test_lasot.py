"""LaSOT loader: shipped split lists, hand-made sequences, subset and missing-folder rules."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest

from datasets.data import data_file
from datasets.loaders.annotations import AnnotationError
from datasets.loaders.lasot import (
    ATTRIBUTES,
    CATEGORIES,
    SPLIT_SHA256,
    LaSOTDataset,
    category_index,
    category_of,
    split_names,
)


def test_official_split_lists():
    train, test = split_names("train"), split_names("test")
    assert len(train) == 1120 and len(test) == 280 and len(set(train + test)) == 1400
    assert set(train + test) == {f"{c}-{k}" for c in CATEGORIES for k in range(1, 21)}
    for c in CATEGORIES:  # 4 test sequences per class
        assert sum(category_of(n) == c for n in test) == 4
    # spot checks against the published test list (pytracking LaSOTDataset / toolkit)
    assert {"airplane-1", "airplane-9", "airplane-13", "airplane-15", "volleyball-19",
            "rubicCube-14", "monkey-17"} <= set(test)
    assert {"airplane-2", "zebra-9", "person-2"} <= set(train)
    assert split_names("all") == train + test
    for name, digest in SPLIT_SHA256.items():
        assert hashlib.sha256(data_file(name).read_bytes()).hexdigest() == digest
    assert len(CATEGORIES) == 70 and CATEGORIES[0] == "airplane" and CATEGORIES[-1] == "zebra"
    assert category_index("rubicCube") == CATEGORIES.index("rubicCube") and category_index("unicorn") == -1
    with pytest.raises(ValueError, match="unknown split"):
        split_names("val")


def test_category_of():
    assert category_of("rubicCube-3") == "rubicCube"
    with pytest.raises(ValueError, match="not a"):
        category_of("airplane")


@pytest.fixture
def lasot_root(tmp_path, write_frames):
    root = tmp_path / "LaSOT"
    d = root / "airplane" / "airplane-1"
    write_frames(d / "img", [f"{i:08d}.jpg" for i in range(1, 5)])
    (d / "groundtruth.txt").write_text("367,101,41,16\n366,103,45,16\n0,0,0,0\n370,105,41,17\n")
    (d / "full_occlusion.txt").write_text("0,0,1,0")
    (d / "out_of_view.txt").write_text("0,1,1,0")
    (d / "nlp.txt").write_text("white airplane landing on the ground\n")
    (root / "att").mkdir()
    (root / "att" / "airplane-1.txt").write_text("0,1,0,0,0,1,0,0,1,0,0,0,1,0\n")
    e = root / "rubicCube" / "rubicCube-6"
    write_frames(e / "img", [f"{i:08d}.jpg" for i in range(1, 3)])
    (e / "groundtruth.txt").write_text("1,2,3,4\n1,2,0,4\n")
    return root


def test_sequence(lasot_root):
    ds = LaSOTDataset(lasot_root, "test", sequences=["airplane-1", "rubicCube-6"])
    assert ds.names == ["airplane-1", "rubicCube-6"]
    s = ds["airplane-1"]
    np.testing.assert_array_equal(s.boxes[1], [366, 103, 45, 16])     # file numbers, unshifted
    np.testing.assert_array_equal(s.visible, [True, False, False, True])
    np.testing.assert_array_equal(s.attributes["full_occlusion"], [False, False, True, False])
    assert s.category == "airplane" and s.meta["category_index"] == 0 and s.meta["box_origin"] == 1
    assert s.meta["nlp"] == "white airplane landing on the ground"
    assert [a for a in ATTRIBUTES if s.attributes[a]] == ["POC", "ROT", "SV", "LR"]
    r = ds[1]                                   # no flag files: visibility from boxes
    np.testing.assert_array_equal(r.visible, [True, False])
    assert r.category == "rubicCube" and "IV" not in r.attributes


def test_missing_folders_and_subsets(lasot_root):
    with pytest.raises(FileNotFoundError) as e:
        LaSOTDataset(lasot_root, "test").names
    assert "278 of 280 sequence folders missing" in str(e.value)
    assert str(lasot_root / "airplane" / "airplane-9") in str(e.value)      # first missing, named
    with pytest.raises(KeyError, match="airplane-2"):
        LaSOTDataset(lasot_root, "test", sequences=["airplane-2"])       # a train sequence
    with pytest.raises(FileNotFoundError, match="airplane-9"):
        LaSOTDataset(lasot_root, "test", sequences=["airplane-9"]).names


def test_malformed(lasot_root):
    d = lasot_root / "airplane" / "airplane-1"
    (d / "out_of_view.txt").write_text("0,1,1")
    with pytest.raises(AnnotationError, match="3 flags for 4 frames"):
        LaSOTDataset(lasot_root, "test", sequences=["airplane-1"])[0]
    (d / "out_of_view.txt").write_text("0,1,1,0")
    (d / "groundtruth.txt").write_text("367,101,41,16\n366,103,x,16\n0,0,0,0\n370,105,41,17\n")
    with pytest.raises(AnnotationError, match=f"{d / 'groundtruth.txt'}:2: non-numeric value 'x'"):
        LaSOTDataset(lasot_root, "test", sequences=["airplane-1"])[0]
    (d / "groundtruth.txt").write_text("367,101,41,16\n366,103,45,16\n")
    with pytest.raises(AnnotationError, match="2 annotation rows but 4 frames"):
        LaSOTDataset(lasot_root, "test", sequences=["airplane-1"])[0]
