"""Raw result files: the got10k-toolkit and pytracking layouts, parsing, writing, importing.

Layouts of one tracker's folder (``tracker_dir``, its name is the tracker name):

============  ==========================================  ====================================
layout        boxes                                       per-frame times
============  ==========================================  ====================================
``got10k``    ``<seq>/<seq>_001.txt`` (``_002``, ... runs)  ``<seq>/<seq>_time.txt``, N x R
``otb``       ``<seq>.txt`` (got10k toolkit OTB/LaSOT)      ``times/<seq>_time.txt``, 1 column
``pytracking````<seq>.txt`` (tab or comma)                  ``<seq>_time.txt``, 1 column
============  ==========================================  ====================================

Box files hold one ``x,y,w,h`` row per frame, frame 0 (the initial box) included. We write
``%.3f`` comma-separated boxes and ``%.8f`` times, exactly as the got10k toolkit's ``_record``
(the same floats always give the same bytes) and always through `datasets.fileio` (atomic).
Readers accept comma, tab or whitespace delimiters and name the file and line of any bad row.

Third-party raw results are brought in with a declared `BoxAdapter` (xywh / xyxy, 0- / 1-based,
inclusive corners, delimiter) by `import_results`, which checks completeness (every sequence,
every frame) before anything is written.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence as Seq

import numpy as np

from datasets.fileio import atomic_write_bytes

LAYOUTS = ("got10k", "otb", "pytracking")
BOX_FMT = "%.3f"
TIME_FMT = "%.8f"
DELIMITERS = (None, ",", "\t", " ")


# ---------------------------------------------------------------------------------------------
# text <-> arrays
# ---------------------------------------------------------------------------------------------


def format_rows(values: np.ndarray, fmt: str) -> bytes:
    """Deterministic comma-separated text of an (N, C) array, one row per line ('\\n').

    ``-0.0`` is written as ``0`` (``x + 0.0``) so that sign-of-zero noise never changes bytes.
    """
    a = np.asarray(values, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(f"expected an (N, C) array, got shape {a.shape}")
    n, c = a.shape
    line = ",".join([fmt] * c) + "\n"
    return ((line * n) % tuple((a + 0.0).ravel().tolist())).encode("ascii")


def _detect_delimiter(line: str) -> str | None:
    if "," in line:
        return ","
    if "\t" in line:
        return "\t"
    return None  # whitespace


def parse_rows(text: str, source: str, columns: int | None = 4, delimiter: str | None = None) -> np.ndarray:
    """Parse numeric rows of a result or time file.

    Args:
        text: file content.
        source: file name used in error messages.
        columns: required numbers per row (None: any, but the same on every row).
        delimiter: ``","``, ``"\\t"``, ``" "`` (any whitespace) or None (detected from line 1).
    Returns:
        (N, columns) float64 (``nan`` / ``inf`` tokens are accepted).
    Raises:
        ValueError: ``"<source>:<line>: ..."`` for a blank line before the end, a wrong number of
            fields or a non-number.
    """
    if delimiter not in DELIMITERS:
        raise ValueError(f"unknown delimiter {delimiter!r}; expected one of {DELIMITERS}")
    body = text.rstrip()
    if not body:
        return np.zeros((0, columns or 0))
    lines = body.split("\n")
    delim = _detect_delimiter(lines[0]) if delimiter is None else (None if delimiter == " " else delimiter)
    try:
        if "\n\n" in body or "\n\r\n" in body:
            raise ValueError("blank line")
        arr = np.loadtxt(io.StringIO(body), delimiter=delim, comments=None, ndmin=2, dtype=np.float64)
        if columns is not None and arr.shape[1] != columns:
            raise ValueError("column count")
        if arr.shape[0] != len(lines):
            raise ValueError("row count")
        return arr
    except ValueError:
        pass
    # error path: find the first bad line and name it
    width = columns
    for i, raw in enumerate(lines, start=1):
        line = raw.strip()
        fields = line.split(delim) if delim else line.split()
        if not line:
            raise ValueError(f"{source}:{i}: blank line inside the file")
        if width is None:
            width = len(fields)
        if len(fields) != width:
            sep = {",": "comma", "\t": "tab", None: "whitespace"}[delim]
            raise ValueError(f"{source}:{i}: expected {width} {sep}-separated numbers, got {raw!r}")
        try:
            [float(f) for f in fields]
        except ValueError:
            raise ValueError(f"{source}:{i}: not a number in {raw!r}") from None
    raise ValueError(f"{source}: cannot parse as a numeric table")


def read_box_file(path: str | Path, delimiter: str | None = None) -> np.ndarray:
    """(N, 4) float64 boxes of a result file (comma, tab or whitespace separated)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: result file not found")
    return parse_rows(path.read_text(encoding="utf-8", errors="replace"), str(path), 4, delimiter)


def read_time_file(path: str | Path) -> np.ndarray:
    """(N, R) float64 per-frame seconds (one column per run)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: time file not found")
    return parse_rows(path.read_text(encoding="utf-8", errors="replace"), str(path), None)


def count_rows(path: str | Path) -> int:
    """Number of rows of a text file (trailing blank lines ignored); 0 if it does not exist."""
    path = Path(path)
    if not path.is_file():
        return 0
    body = path.read_bytes().rstrip()
    return body.count(b"\n") + 1 if body else 0


def write_box_file(path: str | Path, boxes: np.ndarray) -> Path:
    """Atomically write (N, 4) xywh boxes as ``%.3f`` comma-separated rows."""
    b = np.asarray(boxes, dtype=np.float64)
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"{path}: boxes must be (N, 4), got {b.shape}")
    return atomic_write_bytes(path, format_rows(b, BOX_FMT))


def write_time_file(path: str | Path, times: np.ndarray) -> Path:
    """Atomically write (N,) or (N, R) seconds as ``%.8f`` comma-separated rows."""
    return atomic_write_bytes(path, format_rows(times, TIME_FMT))


# ---------------------------------------------------------------------------------------------
# layouts
# ---------------------------------------------------------------------------------------------


def _check_layout(layout: str) -> None:
    if layout not in LAYOUTS:
        raise ValueError(f"unknown results layout {layout!r}; expected one of {LAYOUTS}")


def box_path(tracker_dir: str | Path, seq: str, layout: str, run: int = 1) -> Path:
    """Where `layout` puts run `run` (1-based) of sequence `seq`."""
    _check_layout(layout)
    d = Path(tracker_dir)
    if layout == "got10k":
        return d / seq / f"{seq}_{run:03d}.txt"
    if run != 1:
        raise ValueError(f"layout {layout!r} holds one run per folder; use layout 'got10k' for run {run}")
    return d / f"{seq}.txt"


def time_path(tracker_dir: str | Path, seq: str, layout: str) -> Path:
    """Where `layout` puts the per-frame times of `seq`."""
    _check_layout(layout)
    d = Path(tracker_dir)
    if layout == "got10k":
        return d / seq / f"{seq}_time.txt"
    if layout == "otb":
        return d / "times" / f"{seq}_time.txt"
    return d / f"{seq}_time.txt"


def find_box_files(tracker_dir: str | Path, seq: str) -> list[Path]:
    """Result files of `seq` in any layout: ``<seq>/<seq>_NNN.txt`` (sorted by run) or ``<seq>.txt``.

    Raises:
        ValueError: both layouts hold results for `seq` (ambiguous).
    """
    d = Path(tracker_dir)
    runs: list[tuple[int, Path]] = []
    sub = d / seq
    if sub.is_dir():
        pat = re.compile(rf"^{re.escape(seq)}_(\d+)\.txt$")
        for p in sub.iterdir():
            m = pat.match(p.name)
            if m and p.is_file():
                runs.append((int(m.group(1)), p))
    flat = d / f"{seq}.txt"
    if runs and flat.is_file():
        raise ValueError(f"{d}: results for {seq!r} exist both as {flat.name} and in {sub.name}/: remove one")
    if runs:
        return [p for _, p in sorted(runs)]
    return [flat] if flat.is_file() else []


def find_time_file(tracker_dir: str | Path, seq: str) -> Path | None:
    """The per-frame time file of `seq` in any layout, or None."""
    for layout in LAYOUTS:
        p = time_path(tracker_dir, seq, layout)
        if p.is_file():
            return p
    return None


def list_sequences(tracker_dir: str | Path) -> list[str]:
    """Sequence names that have results in `tracker_dir` (any layout), sorted."""
    d = Path(tracker_dir)
    if not d.is_dir():
        raise FileNotFoundError(f"{d}: results folder not found")
    names = set()
    for p in d.iterdir():
        if p.is_dir() and find_box_files(d, p.name) and p.name != "times":
            names.add(p.name)
        elif p.is_file() and p.suffix == ".txt" and not p.name.endswith("_time.txt"):
            names.add(p.stem)
    return sorted(names)


# ---------------------------------------------------------------------------------------------
# adapters, loading, completeness
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BoxAdapter:
    """How a third party's raw results encode boxes; `to_xywh` converts to our convention.

    Attributes:
        fmt: ``"xywh"`` or ``"xyxy"`` (corners).
        one_based: coordinates count pixels from 1 (MATLAB): 1 is subtracted from x, y (and x2, y2).
        inclusive: ``xyxy`` only: ``x2, y2`` are the last pixel inside the box, so
            ``w = x2 - x1 + 1`` (pixel-index convention) instead of ``x2 - x1``.
        delimiter: ``","``, ``"\\t"``, ``" "`` or None (detect).
    """

    fmt: str = "xywh"
    one_based: bool = False
    inclusive: bool = False
    delimiter: str | None = None

    def __post_init__(self) -> None:
        if self.fmt not in ("xywh", "xyxy"):
            raise ValueError(f"BoxAdapter.fmt={self.fmt!r}; expected 'xywh' or 'xyxy'")
        if self.inclusive and self.fmt != "xyxy":
            raise ValueError("BoxAdapter.inclusive applies to fmt='xyxy' only")
        if self.delimiter not in DELIMITERS:
            raise ValueError(f"BoxAdapter.delimiter={self.delimiter!r}; expected one of {DELIMITERS}")

    def to_xywh(self, boxes: np.ndarray) -> np.ndarray:
        """(N, 4) boxes in this adapter's convention -> (N, 4) 0-based continuous xywh."""
        b = np.asarray(boxes, dtype=np.float64).copy()
        if self.fmt == "xyxy":
            b[:, 2:] = b[:, 2:] - b[:, :2] + (1.0 if self.inclusive else 0.0)
        if self.one_based:
            b[:, :2] -= 1.0
        return b


@dataclass
class TrackerResults:
    """One tracker's raw results, checked complete.

    Attributes:
        name: tracker name (the folder name).
        root: the folder.
        boxes: sequence -> (R, N, 4) float64 xywh (R runs).
        times: sequence -> (N, R) seconds, or None when no usable time file exists.
        files: sequence -> result files (one per run).
        warnings: non-fatal problems (unusable time files).
    """

    name: str
    root: Path
    boxes: dict[str, np.ndarray]
    times: dict[str, np.ndarray | None]
    files: dict[str, list[Path]]
    warnings: list[str] = field(default_factory=list)


class IncompleteResultsError(ValueError):
    """Result files are missing or do not have one row per frame. The message lists every problem."""


def load_tracker_results(
    tracker_dir: str | Path,
    names: Seq[str],
    lengths: Mapping[str, int] | None = None,
    adapter: BoxAdapter | None = None,
    max_listed: int = 20,
) -> TrackerResults:
    """Read and check the results of sequences `names` from `tracker_dir` (any layout).

    Args:
        tracker_dir: the tracker's folder.
        names: sequences that must all be present.
        lengths: sequence -> frame count; every result file must have exactly that many rows.
        adapter: box convention of third-party files (default: our xywh, delimiter detected).
    Raises:
        FileNotFoundError: `tracker_dir` does not exist.
        IncompleteResultsError: missing sequences, row counts != frame counts, or unparsable rows,
            all listed (file and line / counts) in one message.
    """
    root = Path(tracker_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: results folder not found")
    adapter = adapter or BoxAdapter()
    problems: list[str] = []
    out = TrackerResults(name=root.name, root=root, boxes={}, times={}, files={})
    for seq in names:
        files = find_box_files(root, seq)
        if not files:
            problems.append(f"{root}: no result file for sequence {seq!r} (expected {seq}.txt or {seq}/{seq}_001.txt)")
            continue
        runs = []
        for f in files:
            try:
                b = read_box_file(f, adapter.delimiter)
            except ValueError as e:
                problems.append(str(e))
                continue
            if lengths is not None and b.shape[0] != lengths[seq]:
                problems.append(f"{f}: {b.shape[0]} rows for {lengths[seq]} frames (incomplete or wrong sequence)")
                continue
            runs.append(adapter.to_xywh(b))
        if len(runs) != len(files):
            continue
        if len({r.shape[0] for r in runs}) != 1:
            problems.append(f"{root / seq}: runs have different row counts {[r.shape[0] for r in runs]}")
            continue
        out.boxes[seq] = np.stack(runs)
        out.files[seq] = files
        out.times[seq] = _load_times(root, seq, runs[0].shape[0], out.warnings)
    if problems:
        listed = "\n  ".join(problems[:max_listed])
        more = f"\n  ... and {len(problems) - max_listed} more" if len(problems) > max_listed else ""
        raise IncompleteResultsError(
            f"{root}: results incomplete for {len(problems)} file(s)/sequence(s) of {len(names)} sequences:\n  {listed}{more}"
        )
    return out


def _load_times(root: Path, seq: str, n: int, warnings: list[str]) -> np.ndarray | None:
    tf = find_time_file(root, seq)
    if tf is None:
        return None
    try:
        t = read_time_file(tf)
    except ValueError as e:
        warnings.append(f"{e}; times ignored")
        return None
    if t.shape[0] != n:
        warnings.append(f"{tf}: {t.shape[0]} rows for {n} frames; times ignored")
        return None
    return t


def import_results(
    src_dir: str | Path,
    dst_dir: str | Path,
    names: Seq[str],
    lengths: Mapping[str, int],
    adapter: BoxAdapter,
    layout: str = "otb",
) -> TrackerResults:
    """Convert a third party's raw results into our layout, after a completeness check.

    Nothing is written unless every sequence in `names` has a parsable result with one row per
    frame. Time files found next to the results are copied (re-written comma-separated).

    Returns:
        The converted `TrackerResults` (its ``root`` is `dst_dir`).
    """
    _check_layout(layout)
    res = load_tracker_results(src_dir, names, lengths, adapter)
    dst = Path(dst_dir)
    for seq in names:
        runs = res.boxes[seq]
        if runs.shape[0] > 1 and layout != "got10k":
            raise ValueError(f"{src_dir}: {seq!r} has {runs.shape[0]} runs; import with layout='got10k'")
        files = []
        for r in range(runs.shape[0]):
            files.append(write_box_file(box_path(dst, seq, layout, r + 1), runs[r]))
        if res.times[seq] is not None:
            write_time_file(time_path(dst, seq, layout), res.times[seq])
        res.files[seq] = files
    res.root, res.name = dst, dst.name
    return res
