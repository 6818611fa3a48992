"""The shared annotation parser: formats it accepts and errors naming file and line."""
from __future__ import annotations

import re

import numpy as np
import pytest

from datasets.loaders.annotations import (
    AnnotationError,
    list_frames,
    natural_key,
    parse_rows,
    read_boxes,
    read_flag_row,
    read_labels,
)


def _write(tmp_path, text, name="gt.txt"):
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize("text", [
    "1,2,3,4\n5.5,6,7,8\n",
    "1\t2\t3\t4\n5.5\t6\t7\t8",
    "1 2 3 4\n5.5 6 7 8\n\n\n",
    "1, 2, 3, 4\r\n5.5,6\t7 8\r\n",            # CRLF, mixed delimiters inside a row (OTB)
    "\ufeff1,2,3,4\n5.5,6,7,8\n",              # BOM
])
def test_box_formats(tmp_path, text):
    p = tmp_path / "gt.txt"
    p.write_bytes(text.encode("utf-8"))
    np.testing.assert_array_equal(read_boxes(p), [[1, 2, 3, 4], [5.5, 6, 7, 8]])


@pytest.mark.parametrize("text,line,pattern", [
    ("1,2,3,4\n1,2,3\n", 2, "expected 4 values"),
    ("1,2,3,4\n1,2,3,4\n1,2,abc,4\n", 3, "non-numeric value 'abc'"),
    ("1,2,3,4\n1,2,3,4,5\n", 2, "expected 4 values"),
    ("1,2,3,4\n1,,2,3,4\n", 2, "empty field"),
    ("1,2,3,4\n1,2,3,4\n1,2,3,4,\n", 3, "empty field"),
    ("1,2,3,4\n\n1,2,3,4\n", 2, "blank line"),
    ("1,2,3,4\n1,2,-3,4\n", 2, "negative width or height"),
    ("1,2,3,4\nnan,2,3,4\n", 2, "NaN"),
    ("1,2,3,4\n1,2,inf,4\n", 2, "infinite"),
    ("", 1, "empty annotation file"),
    ("  \n\n", 1, "empty annotation file"),
])
def test_box_errors_name_file_and_line(tmp_path, text, line, pattern):
    p = _write(tmp_path, text)
    with pytest.raises(AnnotationError) as e:
        read_boxes(p)
    msg = str(e.value)
    assert msg.startswith(f"{p}:{line}:"), msg
    assert re.search(pattern, msg), msg


def test_nan_and_absent_marker_options(tmp_path):
    p = _write(tmp_path, "1,2,3,4\nnan,nan,nan,nan\n")
    assert np.isnan(read_boxes(p, allow_nan=True)[1]).all()
    q = _write(tmp_path, "1,2,3,4\n-1,-1,-1,-1\n", "q.txt")
    with pytest.raises(AnnotationError, match=f"{q}:2:"):
        read_boxes(q)
    np.testing.assert_array_equal(read_boxes(q, allow_absent_marker=True)[1], [-1, -1, -1, -1])
    r = _write(tmp_path, "-1,-1,-2,-1\n", "r.txt")  # not the marker: still an error
    with pytest.raises(AnnotationError, match=f"{r}:1:"):
        read_boxes(r, allow_absent_marker=True)
    s = _write(tmp_path, "-4.07,-2,3,4\n", "s.txt")  # negative x/y is fine (TrackingNet)
    assert read_boxes(s)[0, 0] == pytest.approx(-4.07)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        read_boxes(tmp_path / "nope.txt")


def test_parse_rows_other_width(tmp_path):
    p = _write(tmp_path, "1,2\n3,4\n")
    np.testing.assert_array_equal(parse_rows(p, 2, "a,b"), [[1, 2], [3, 4]])


def test_labels(tmp_path):
    np.testing.assert_array_equal(read_labels(_write(tmp_path, "0\n1\n8\n"), 3, max_value=8), [0, 1, 8])
    p = _write(tmp_path, "0\n1.5\n1\n", "a.label")
    with pytest.raises(AnnotationError, match=re.escape(f"{p}:2: expected one integer")):
        read_labels(p)
    p = _write(tmp_path, "0\n1 1\n", "b.label")
    with pytest.raises(AnnotationError, match=re.escape(f"{p}:2:")):
        read_labels(p)
    p = _write(tmp_path, "0\n9\n", "c.label")
    with pytest.raises(AnnotationError, match=re.escape(f"{p}:2: value 9 outside 0..8")):
        read_labels(p, max_value=8)
    p = _write(tmp_path, "0\n1\n", "d.label")
    with pytest.raises(AnnotationError, match=re.escape(f"{p}: 2 labels for 3 frames")):
        read_labels(p, 3)


def test_flag_row(tmp_path):
    np.testing.assert_array_equal(read_flag_row(_write(tmp_path, "0,1,0,0\n")), [False, True, False, False])
    np.testing.assert_array_equal(read_flag_row(_write(tmp_path, "0\n1\n", "b.txt"), 2), [False, True])
    p = _write(tmp_path, "0,1\n0,2,1\n", "c.txt")
    with pytest.raises(AnnotationError, match=re.escape(f"{p}:2: value #4 is '2'")):
        read_flag_row(p)
    with pytest.raises(AnnotationError, match="3 flags for 4 frames"):
        read_flag_row(_write(tmp_path, "0,1,1", "d.txt"), 4)


def test_list_frames_natural_order(tmp_path, write_frames):
    write_frames(tmp_path / "s", ["10.jpg", "2.jpg", "1.jpg", "0.png", "notes.txt", ".hidden.jpg"])
    assert [p.name for p in list_frames(tmp_path / "s")] == ["0.png", "1.jpg", "2.jpg", "10.jpg"]
    assert natural_key("img10.jpg") > natural_key("img9.jpg")
    with pytest.raises(FileNotFoundError, match="missing"):
        list_frames(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(AnnotationError, match="empty sequence"):
        list_frames(tmp_path / "empty")


def test_large_file_is_parsed_fast(tmp_path):
    """Vectorized path: a 20k-row file parses correctly and quickly (generous bound: shared CPU)."""
    import io
    import time

    rows = np.random.default_rng(0).uniform(1, 100, (20_000, 4))
    buf = io.StringIO()
    np.savetxt(buf, rows, fmt="%.2f", delimiter=",")
    p = tmp_path / "big.txt"
    p.write_text(buf.getvalue())
    t = time.perf_counter()
    out = read_boxes(p)
    assert time.perf_counter() - t < 2.0
    np.testing.assert_allclose(out, np.round(rows, 2))
