"""evaluation.results: deterministic formatting, tolerant parsing with named errors, layouts,
completeness checks, and third-party box-format adapters."""
from __future__ import annotations

import numpy as np
import pytest

from evaluation import results as rf


def test_format_is_deterministic_and_matches_savetxt(tmp_path):
    rng = np.random.default_rng(0)
    b = rng.uniform(-50, 500, (40, 4))
    assert rf.format_rows(b, rf.BOX_FMT) == rf.format_rows(b.copy(), rf.BOX_FMT)
    np.savetxt(tmp_path / "ref.txt", b, fmt="%.3f", delimiter=",")  # the got10k toolkit's _record
    assert rf.format_rows(b, rf.BOX_FMT) == (tmp_path / "ref.txt").read_bytes()
    assert rf.format_rows(np.array([[-0.0, 1.0, 2.0, 3.0]]), rf.BOX_FMT) == b"0.000,1.000,2.000,3.000\n"
    assert rf.format_rows(np.array([0.5, 0.25]), rf.TIME_FMT) == b"0.50000000\n0.25000000\n"


@pytest.mark.parametrize("text", [
    "1,2,3,4\n5,6,7,8\n", "1\t2\t3\t4\n5\t6\t7\t8", "1 2  3 4\r\n5 6 7 8\r\n", "1, 2, 3, 4\n5,6,7,8\n\n\n",
])
def test_parse_delimiters(text):
    np.testing.assert_array_equal(rf.parse_rows(text, "f.txt"), [[1, 2, 3, 4], [5, 6, 7, 8]])


@pytest.mark.parametrize("text, match", [
    ("1,2,3,4\n5,6,7\n", r"f\.txt:2: expected 4 comma-separated numbers"),
    ("1,2,3,4\n\n5,6,7,8\n", r"f\.txt:2: blank line"),
    ("1,2,3,4\n1,2,x,4\n", r"f\.txt:2: not a number"),
    ("1 2 3 4\n1,2,3,4\n", r"f\.txt:2: expected 4 whitespace-separated"),
])
def test_parse_errors_name_file_and_line(text, match):
    with pytest.raises(ValueError, match=match):
        rf.parse_rows(text, "f.txt")


def test_parse_accepts_nan_and_time_matrices():
    a = rf.parse_rows("nan,1,2,3\n", "f")
    assert np.isnan(a[0, 0])
    np.testing.assert_array_equal(rf.parse_rows("0.1,0.2\n0.3,0.4\n", "t", columns=None), [[0.1, 0.2], [0.3, 0.4]])


def test_layout_paths_and_discovery(tmp_path):
    d = tmp_path / "trk"
    assert rf.box_path(d, "s", "got10k", 2) == d / "s" / "s_002.txt"
    assert rf.time_path(d, "s", "otb") == d / "times" / "s_time.txt"
    assert rf.time_path(d, "s", "pytracking") == d / "s_time.txt"
    with pytest.raises(ValueError, match="one run per folder"):
        rf.box_path(d, "s", "otb", 2)
    for r in (2, 1, 10):
        rf.write_box_file(rf.box_path(d, "a", "got10k", r), np.zeros((3, 4)))
    (d / "a" / "a_001_flags.json").write_text("{}")  # not a run file
    assert [p.name for p in rf.find_box_files(d, "a")] == ["a_001.txt", "a_002.txt", "a_010.txt"]
    rf.write_box_file(d / "b.txt", np.zeros((3, 4)))
    rf.write_time_file(d / "b_time.txt", np.zeros(3))
    assert rf.list_sequences(d) == ["a", "b"]
    assert rf.find_time_file(d, "b") == d / "b_time.txt"
    rf.write_box_file(d / "a.txt", np.zeros((3, 4)))
    with pytest.raises(ValueError, match="both as a.txt and in a/"):
        rf.find_box_files(d, "a")


def test_completeness_check_lists_every_problem(tmp_path):
    d = tmp_path / "trk"
    rf.write_box_file(d / "ok.txt", np.ones((5, 4)))
    rf.write_box_file(d / "short.txt", np.ones((4, 4)))
    (d / "bad.txt").write_text("1,2,3,4\n1,2,3\n1,2,3,4\n1,2,3,4\n1,2,3,4\n")
    with pytest.raises(rf.IncompleteResultsError) as e:
        rf.load_tracker_results(d, ["ok", "short", "bad", "gone"], {"ok": 5, "short": 5, "bad": 5, "gone": 5})
    msg = str(e.value)
    assert "short.txt: 4 rows for 5 frames" in msg
    assert "bad.txt:2: expected 4" in msg
    assert "no result file for sequence 'gone'" in msg
    assert "'ok'" not in msg
    res = rf.load_tracker_results(d, ["ok"], {"ok": 5})
    assert res.boxes["ok"].shape == (1, 5, 4) and res.times["ok"] is None and res.name == "trk"


def test_unusable_time_file_is_a_warning(tmp_path):
    d = tmp_path / "trk"
    rf.write_box_file(d / "s.txt", np.ones((3, 4)))
    rf.write_time_file(d / "times" / "s_time.txt", np.ones(2))
    res = rf.load_tracker_results(d, ["s"], {"s": 3})
    assert res.times["s"] is None and "2 rows for 3 frames" in res.warnings[0]


def test_box_adapters_hand_computed():
    # 1-based inclusive corners (MATLAB pixel indices): pixels 11..20 x 21..25 -> 0-based x=10, w=10
    a = rf.BoxAdapter(fmt="xyxy", one_based=True, inclusive=True)
    np.testing.assert_array_equal(a.to_xywh(np.array([[11.0, 21.0, 20.0, 25.0]])), [[10, 20, 10, 5]])
    np.testing.assert_array_equal(rf.BoxAdapter(fmt="xyxy").to_xywh(np.array([[1.0, 2, 4, 8]])), [[1, 2, 3, 6]])
    np.testing.assert_array_equal(rf.BoxAdapter(one_based=True).to_xywh(np.array([[1.0, 2, 4, 8]])), [[0, 1, 4, 8]])
    with pytest.raises(ValueError, match="inclusive"):
        rf.BoxAdapter(fmt="xywh", inclusive=True)


def test_import_third_party_results(tmp_path):
    src, dst = tmp_path / "theirs", tmp_path / "ours"
    src.mkdir()
    (src / "s1.txt").write_text("11\t21\t20\t25\n1\t1\t10\t10\n")           # tab, xyxy, 1-based inclusive
    (src / "s1_time.txt").write_text("0.1\n0.2\n")
    (src / "s2.txt").write_text("1\t1\t10\t10\n")                           # only 1 of 2 frames
    adapter = rf.BoxAdapter(fmt="xyxy", one_based=True, inclusive=True, delimiter="\t")
    with pytest.raises(rf.IncompleteResultsError, match="s2.txt: 1 rows for 2 frames"):
        rf.import_results(src, dst, ["s1", "s2"], {"s1": 2, "s2": 2}, adapter)
    assert not dst.exists()  # nothing written before the check passes
    (src / "s2.txt").write_text("1\t1\t10\t10\n2\t2\t11\t11\n")
    res = rf.import_results(src, dst, ["s1", "s2"], {"s1": 2, "s2": 2}, adapter)
    assert (dst / "s1.txt").read_text() == "10.000,20.000,10.000,5.000\n0.000,0.000,10.000,10.000\n"
    np.testing.assert_array_equal(rf.read_time_file(dst / "times" / "s1_time.txt"), [[0.1], [0.2]])
    assert res.root == dst
