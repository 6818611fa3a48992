"""`get_dataset`: benchmark dispatch, default splits, roots from flags or environment variables."""
from __future__ import annotations

import pytest

from datasets.loaders import BENCHMARKS, DEFAULT_SPLITS, dataset_class, get_dataset
from datasets.roots import DatasetNotFoundError


def test_every_benchmark_has_a_class_and_default_split():
    assert set(BENCHMARKS) == {"got10k", "lasot", "trackingnet", "otb", "coco", "folder", "synthetic"}
    for b in BENCHMARKS:
        assert dataset_class(b).benchmark == b
    assert DEFAULT_SPLITS == {"got10k": "val", "lasot": "test", "trackingnet": "test", "otb": "all",
                              "coco": "train", "folder": "all", "synthetic": "val"}


def test_root_from_environment(tmp_path, monkeypatch):
    (tmp_path / "val").mkdir()
    (tmp_path / "val" / "list.txt").write_text("a\n")
    monkeypatch.setenv("GOT10K_ROOT", str(tmp_path))
    ds = get_dataset("got10k")
    assert ds.root == tmp_path and ds.split == "val" and ds.names == ["a"]
    monkeypatch.delenv("GOT10K_ROOT")
    with pytest.raises(DatasetNotFoundError, match=r"--data-root.*GOT10K_ROOT"):
        get_dataset("got10k")
    with pytest.raises(DatasetNotFoundError, match="--data-root"):
        get_dataset("folder")
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        get_dataset("folder", tmp_path / "nope")
    with pytest.raises(KeyError, match="unknown benchmark"):
        get_dataset("vot")
    assert get_dataset("folder", tmp_path).benchmark == "folder"
    assert get_dataset("synthetic", tmp_path, "train").split == "train"
