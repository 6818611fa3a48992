"""OTB loader on a tree with the benchmark's quirks, checked by hand and against the got10k toolkit."""
from __future__ import annotations

import numpy as np
import pytest

from datasets.loaders.annotations import AnnotationError
from datasets.loaders.otb import FRAME_RANGES, TB100, OTBDataset

SUBSET = ["Basketball", "Board", "David", "Human4", "Jogging.1", "Jogging.2", "Skating2.1", "Skating2.2"]


@pytest.fixture
def otb_root(tmp_path, write_frames):
    root = tmp_path / "OTB100"
    write_frames(root / "Basketball" / "img", [f"{i:04d}.jpg" for i in range(1, 4)])
    (root / "Basketball" / "groundtruth_rect.txt").write_text("198,214,34,81\n197,214,34,81\n195,214,34,81\n")
    write_frames(root / "Board" / "img", [f"{i:05d}.jpg" for i in range(1, 4)])           # 5 digits
    (root / "Board" / "groundtruth_rect.txt").write_text("154\t243\t324\t111\n153\t243\t324\t111\n152\t243\t324\t111\n")
    write_frames(root / "David" / "img", [f"{i:04d}.jpg" for i in range(1, 303)])        # 300..302 used
    (root / "David" / "groundtruth_rect.txt").write_text("161 65 75 95\n160 66 75 95\n160 66 75 95\n")
    write_frames(root / "Human4" / "img", [f"{i:04d}.jpg" for i in range(1, 3)])
    (root / "Human4" / "groundtruth_rect.1.txt").write_text("")
    (root / "Human4" / "groundtruth_rect.2.txt").write_text("99,237,27,82\n100,238,27,82\n")
    for folder in ("Jogging", "Skating2"):
        write_frames(root / folder / "img", [f"{i:04d}.jpg" for i in range(1, 3)])
        (root / folder / "groundtruth_rect.1.txt").write_text("111,98,25,101\n113,98,25,101\n")
        (root / folder / "groundtruth_rect.2.txt").write_text("180,79,37,114\n180,80,37,114\n")
    return root


def test_sequences(otb_root):
    ds = OTBDataset(otb_root, sequences=SUBSET)
    assert ds.names == SUBSET
    d = ds["David"]
    assert [p.name for p in d.frames] == ["0300.jpg", "0301.jpg", "0302.jpg"]
    np.testing.assert_array_equal(d.boxes[1], [160, 66, 75, 95])
    assert [p.name for p in ds["Board"].frames][0] == "00001.jpg"
    np.testing.assert_array_equal(ds["Board"].boxes[0], [154, 243, 324, 111])
    j2 = ds["Jogging.2"]
    np.testing.assert_array_equal(j2.boxes[0], [180, 79, 37, 114])
    assert j2.meta["folder"] == "Jogging" and j2.meta["box_origin"] == 1
    # aliases: pytracking names and lower case
    assert ds["Jogging_2"].name == "Jogging.2" and ds["jogging_1"].name == "Jogging.1"
    assert ds["Human4_2"].name == "Human4" and ds["skating2.2"].name == "Skating2.2"
    assert ds.select(["Human4_2", "Jogging_1"]).names == ["Human4", "Jogging.1"]
    with pytest.raises(KeyError, match="Jogging_3"):
        ds["Jogging_3"]
    assert OTBDataset(otb_root, sequences=["jogging_1", "Human4_2"]).names == ["Jogging.1", "Human4"]


def test_matches_got10k_toolkit(otb_root, capsys):
    from got10k.datasets import OTB

    ref = OTB(str(otb_root), version="tb100", download=False)   # warns about absent folders
    ours = OTBDataset(otb_root, sequences=SUBSET)
    assert sorted(ref.seq_names) == sorted(ours.names)
    for name in ref.seq_names:
        files, anno = ref[name]
        seq = ours[name]
        assert [str(p) for p in seq.frames] == files, name
        np.testing.assert_array_equal(seq.boxes, anno)


def test_tables():
    assert len(TB100) == 98 and len(set(TB100)) == 98
    assert FRAME_RANGES["David"] == (300, 770) and FRAME_RANGES["BlurCar1"] == (247, 988)


def test_errors(otb_root):
    with pytest.raises(FileNotFoundError, match="OTB sequence folder not found"):
        OTBDataset(otb_root).names                      # the full split needs all 98 folders
    (otb_root / "Basketball" / "groundtruth_rect.txt").write_text("198,214,34,81\n197,214\n195,214,34,81\n")
    with pytest.raises(AnnotationError, match=r"groundtruth_rect.txt:2: expected 4 values"):
        OTBDataset(otb_root, sequences=["Basketball"])[0]
    (otb_root / "David" / "groundtruth_rect.txt").write_text("161 65 75 95\n")
    with pytest.raises(AnnotationError, match="1 annotation rows but 3 frames"):
        OTBDataset(otb_root, sequences=["David"])[0]
    with pytest.raises(ValueError, match="unknown split"):
        OTBDataset(otb_root, "otb50")
