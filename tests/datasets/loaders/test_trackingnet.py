"""TrackingNet loader: chunks, numeric frame order, TEST first-box-only, and the cached index."""
from __future__ import annotations

import os

import numpy as np
import pytest

from datasets.loaders import cache, trackingnet
from datasets.loaders.annotations import AnnotationError
from datasets.loaders.trackingnet import TrackingNetDataset


def _seq(root, chunk, name, rows, n_frames, write_frames):
    write_frames(root / chunk / "frames" / name, [f"{i}.jpg" for i in range(n_frames)])
    (root / chunk / "anno").mkdir(parents=True, exist_ok=True)
    (root / chunk / "anno" / f"{name}.txt").write_text(rows)


@pytest.fixture
def tn_root(tmp_path, write_frames):
    root = tmp_path / "TrackingNet"
    rows = "".join(f"{-4.07 + i:.2f},102.00,245.00,174.00\n" for i in range(12))
    _seq(root, "TRAIN_0", "-3TIfnTSM6c_2", rows, 12, write_frames)
    _seq(root, "TRAIN_0", "a_0", "1,2,3,4\n", 1, write_frames)
    _seq(root, "TRAIN_1", "b_1", "1,2,3,4\n5,6,7,8\n", 2, write_frames)
    _seq(root, "TEST", "t_0", " 1.00,102.00,245.00,174.00\n", 3, write_frames)
    return root


def test_train_and_test(tn_root):
    ds = TrackingNetDataset(tn_root, "train")
    assert ds.chunks == ["TRAIN_0", "TRAIN_1"] and ds.missing_chunks == [f"TRAIN_{i}" for i in range(2, 12)]
    assert sorted(ds.names) == ["-3TIfnTSM6c_2", "a_0", "b_1"]
    s = ds["-3TIfnTSM6c_2"]
    assert [p.name for p in s.frames] == [f"{i}.jpg" for i in range(12)]   # 2.jpg before 10.jpg
    assert s.boxes[0, 0] == pytest.approx(-4.07) and s.visible.all()
    assert s.meta["chunk"] == "TRAIN_0" and s.category is None
    t = TrackingNetDataset(tn_root, "test")[0]
    np.testing.assert_array_equal(t.boxes[0], [1, 102, 245, 174])
    assert np.isnan(t.boxes[1:]).all() and t.visible.tolist() == [True, False, False]
    assert TrackingNetDataset(tn_root, "TRAIN_1,TEST").names == ["b_1", "t_0"]
    assert TrackingNetDataset(tn_root, "train").sequence_lengths() == {"-3TIfnTSM6c_2": 12, "a_0": 1, "b_1": 2}


def test_index_is_cached_and_refreshed(tn_root, monkeypatch):
    TrackingNetDataset(tn_root, "train").names
    path = cache.cache_path("trackingnet-index", tn_root, "json")
    assert path.is_file()

    def boom(chunk_dir):
        raise AssertionError(f"rescanned {chunk_dir}")

    real_scan = trackingnet.scan_chunk
    monkeypatch.setattr(trackingnet, "scan_chunk", boom)
    assert sorted(TrackingNetDataset(tn_root, "train").names) == ["-3TIfnTSM6c_2", "a_0", "b_1"]

    # a new sequence changes anno/'s mtime -> only that chunk is rescanned
    (tn_root / "TRAIN_1" / "anno" / "c_2.txt").write_text("1,2,3,4\n")
    os.utime(tn_root / "TRAIN_1" / "anno", ns=(1, 10**18))
    scanned = []
    monkeypatch.setattr(trackingnet, "scan_chunk", lambda d: scanned.append(d.name) or real_scan(d))
    assert "c_2" in TrackingNetDataset(tn_root, "train").names
    assert scanned == ["TRAIN_1"]
    # a corrupt cache file is rebuilt, not trusted
    path.write_text("{not json")
    assert len(TrackingNetDataset(tn_root, "train").names) == 4


def test_errors(tn_root, write_frames):
    with pytest.raises(FileNotFoundError, match="TRAIN_5"):
        TrackingNetDataset(tn_root, "TRAIN_5")
    with pytest.raises(ValueError, match="unknown split"):
        TrackingNetDataset(tn_root, "val")
    _seq(tn_root, "TRAIN_1", "a_0", "1,2,3,4\n", 1, write_frames)
    with pytest.raises(ValueError, match="'a_0' appears in both TRAIN_0 and TRAIN_1"):
        TrackingNetDataset(tn_root, "train", use_cache=False).names
    (tn_root / "TRAIN_1" / "anno" / "a_0.txt").unlink()
    (tn_root / "TRAIN_1" / "anno" / "b_1.txt").write_text("1,2,3,4\n5,6,-7,8\n")
    with pytest.raises(AnnotationError, match=r"b_1.txt:2: negative width"):
        TrackingNetDataset(tn_root, "TRAIN_1", use_cache=False)["b_1"]
