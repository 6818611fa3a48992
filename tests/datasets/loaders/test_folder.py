"""The generic folder format for custom data."""
from __future__ import annotations

import numpy as np
import pytest

from datasets.loaders.annotations import AnnotationError
from datasets.loaders.folder import FolderDataset


@pytest.fixture
def folder_root(tmp_path, write_frames):
    root = tmp_path / "mydata"
    write_frames(root / "seq10", ["1.png", "10.png", "2.png"])
    (root / "seq10" / "groundtruth.txt").write_text("1 2 3 4\nnan nan nan nan\n5 6 7 8\n")
    write_frames(root / "seq2" / "img", ["a1.jpg", "a2.jpg"])
    (root / "seq2" / "groundtruth.txt").write_text("1\t2\t3\t4\n1\t2\t3\t4\n")
    (root / "seq2" / "absence.label").write_text("0\n1\n")
    (root / ".cache").mkdir()
    return root


def test_listing_and_loading(folder_root):
    ds = FolderDataset(folder_root)
    assert ds.names == ["seq2", "seq10"]                   # natural order, hidden skipped
    s = ds["seq10"]
    assert [p.name for p in s.frames] == ["1.png", "2.png", "10.png"]
    assert np.isnan(s.boxes[1]).all() and s.visible.tolist() == [True, False, True]
    t = ds["seq2"]
    assert t.frames[0].parent.name == "img" and t.visible.tolist() == [True, False]
    (folder_root / "list.txt").write_text("seq10\n")
    assert FolderDataset(folder_root).names == ["seq10"]


def test_errors(folder_root, write_frames):
    (folder_root / "seq2" / "groundtruth.txt").unlink()
    with pytest.raises(FileNotFoundError, match="seq2/groundtruth.txt"):
        FolderDataset(folder_root)["seq2"]
    (folder_root / "empty").mkdir()
    (folder_root / "empty" / "groundtruth.txt").write_text("1,2,3,4\n")
    with pytest.raises(AnnotationError, match="empty sequence"):
        FolderDataset(folder_root)["empty"]
    (folder_root / "seq10" / "groundtruth.txt").write_text("1 2 3 4\n5 6 7 8\n")
    with pytest.raises(AnnotationError, match="2 annotation rows but 3 frames"):
        FolderDataset(folder_root)["seq10"]
    with pytest.raises(ValueError, match="one split"):
        FolderDataset(folder_root, "train")
