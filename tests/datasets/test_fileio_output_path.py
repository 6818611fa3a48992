"""datasets.fileio.atomic_output_path: writers that need a file name (OpenCV) get atomic output."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from datasets.fileio import TMP_MARK, atomic_output_path, clean_stale_tmp


def test_success_renames_and_keeps_suffix(tmp_path):
    target = tmp_path / "sub" / "img.png"
    with atomic_output_path(target) as tmp:
        assert tmp.parent == target.parent and tmp.suffix == ".png" and TMP_MARK in tmp.name
        assert cv2.imwrite(str(tmp), np.zeros((4, 5, 3), np.uint8))   # format chosen from the suffix
        assert not target.exists()                                      # invisible until the end
    assert cv2.imread(str(target)).shape == (4, 5, 3)
    assert [p.name for p in target.parent.iterdir()] == ["img.png"]


def test_error_keeps_old_file_and_removes_temporary(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_output_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_writer_that_creates_nothing_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="did not create"):
        with atomic_output_path(tmp_path / "x.mp4"):
            pass
    assert not (tmp_path / "x.mp4").exists()


def test_crashed_temporary_is_cleaned(tmp_path):
    ctx = atomic_output_path(tmp_path / "v.mp4")
    tmp = ctx.__enter__()
    tmp.write_bytes(b"partial")                      # the process "dies" here: no __exit__
    assert clean_stale_tmp(tmp_path) == [tmp] and not list(tmp_path.iterdir())
