"""The one parser for text annotation files of every benchmark: boxes, per-frame labels, flags.

Box files hold one ``x,y,w,h`` row per frame separated by commas, tabs or spaces (OTB mixes
them between sequences; a row may even mix them). Each file is read once and parsed by numpy's C
parser; only when that fails do we walk the lines to report the first bad one. Every error names
the file and the 1-based line: ``f"{path}:{lineno}: ..."``.

Frame listing (`list_frames`) sorts names naturally (``2.jpg`` before ``10.jpg``).
"""
from __future__ import annotations

import io
import os
import re
from pathlib import Path

import numpy as np

_SEP = re.compile(r"[,\s]+")
_BLANK_INSIDE = re.compile(r"\n[ \t\r]*\n")
_EMPTY_FIELD = re.compile(r"^[ \t]*,|,[ \t]*,|,[ \t]*\r?$", re.M)
_DIGITS = re.compile(r"(\d+)")
IMAGE_EXTS = (".jpg", ".jpeg", ".png")


class AnnotationError(ValueError):
    """A malformed annotation file; the message starts with ``path:line:``."""


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")  # tolerate a BOM
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: annotation file not found") from None
    except UnicodeDecodeError as e:
        raise AnnotationError(f"{path}: not a UTF-8 text file ({e.reason})") from None


def _body(path: Path, text: str) -> str:
    """Text without trailing blank lines; blank lines inside the file are an error (they would
    shift every later frame)."""
    body = text.rstrip()
    lead = len(body) - len(body.lstrip("\r\n \t"))
    if not body:
        raise AnnotationError(f"{path}:1: empty annotation file")
    if lead and "\n" in body[:lead]:
        raise AnnotationError(f"{path}:1: blank line at the start of the file")
    m = _BLANK_INSIDE.search(body)
    if m:
        raise AnnotationError(f"{path}:{body[: m.start()].count(chr(10)) + 2}: blank line inside the annotations")
    return body


def _locate_bad_line(path: Path, body: str, ncols: int, what: str) -> None:
    """Walk the lines (only after numpy rejected the file) and raise for the first bad one."""
    for lineno, line in enumerate(body.split("\n"), 1):
        parts = [p for p in _SEP.split(line.strip()) if p]
        if len(parts) != ncols:
            raise AnnotationError(f"{path}:{lineno}: expected {ncols} values ({what}), got {len(parts)} in {line.strip()!r}")
        for p in parts:
            try:
                float(p)
            except ValueError:
                raise AnnotationError(f"{path}:{lineno}: non-numeric value {p!r} in {line.strip()!r}") from None
    raise AnnotationError(f"{path}: could not parse as {ncols} numbers per line")


def parse_rows(path: str | Path, ncols: int = 4, what: str = "x,y,w,h") -> np.ndarray:
    """(N, ncols) float64 rows of a comma/tab/space separated numeric file, N >= 1.

    Raises:
        FileNotFoundError: missing file (named).
        AnnotationError: empty file, blank line inside, wrong number of values or non-numeric
            text on a line (``path:line: ...``).
    """
    path = Path(path)
    body = _body(path, _read_text(path))
    m = _EMPTY_FIELD.search(body)
    if m:  # "1,,2,3" would silently lose a field once commas become spaces
        lineno = body.count("\n", 0, m.start()) + 1
        raise AnnotationError(f"{path}:{lineno}: empty field in {body.split(chr(10))[lineno - 1].strip()!r}")
    try:
        rows = np.loadtxt(io.StringIO(body.replace(",", " ")), dtype=np.float64, ndmin=2, comments=None)
    except ValueError:
        _locate_bad_line(path, body, ncols, what)
        raise  # unreachable: _locate_bad_line always raises
    if rows.shape[1] != ncols:
        _locate_bad_line(path, body, ncols, what)
    return rows


def read_boxes(path: str | Path, *, allow_nan: bool = False, allow_absent_marker: bool = False) -> np.ndarray:
    """(N, 4) float64 xywh boxes of a box file (one row per frame).

    Args:
        allow_nan: NaN rows/values are accepted (benchmarks that mark unknown boxes with NaN).
        allow_absent_marker: rows ``-1,-1,-1,-1`` (GOT-10k's marker for a target out of view)
            are accepted despite their negative size.

    Raises:
        AnnotationError: parse errors (see `parse_rows`), NaN where not allowed, infinite values,
            or a negative width/height, naming ``path:line``.
    """
    path = Path(path)
    boxes = parse_rows(path, 4, "x,y,w,h")
    nan = np.isnan(boxes)
    if not allow_nan and nan.any():
        i = int(np.flatnonzero(nan.any(axis=1))[0])
        raise AnnotationError(f"{path}:{i + 1}: NaN in box {boxes[i].tolist()} (not allowed in this benchmark)")
    inf = np.isinf(boxes).any(axis=1)
    if inf.any():
        i = int(np.flatnonzero(inf)[0])
        raise AnnotationError(f"{path}:{i + 1}: infinite value in box {boxes[i].tolist()}")
    negative = (boxes[:, 2] < 0) | (boxes[:, 3] < 0)
    if allow_absent_marker:
        negative &= ~(boxes == -1).all(axis=1)
    if negative.any():
        i = int(np.flatnonzero(negative)[0])
        raise AnnotationError(f"{path}:{i + 1}: negative width or height in box {boxes[i].tolist()}")
    return boxes


def read_labels(path: str | Path, n_frames: int | None = None, *, max_value: int | None = None) -> np.ndarray:
    """(N,) int64 per-frame labels, one integer per line (GOT-10k ``*.label``).

    Raises:
        AnnotationError: non-integer or out-of-range value (``path:line``), or N != `n_frames`
            (names both counts).
    """
    path = Path(path)
    body = _body(path, _read_text(path))
    tokens = body.split()
    try:
        values = np.array(tokens, dtype=np.int64)
    except ValueError:
        values = None
    if values is None or len(tokens) != body.count("\n") + 1:
        for lineno, line in enumerate(body.split("\n"), 1):
            parts = line.split()
            if len(parts) != 1 or not re.fullmatch(r"[+-]?\d+", parts[0]):
                raise AnnotationError(f"{path}:{lineno}: expected one integer, got {line.strip()!r}")
    hi = np.iinfo(np.int64).max if max_value is None else max_value
    bad = (values < 0) | (values > hi)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise AnnotationError(f"{path}:{i + 1}: value {values[i]} outside 0..{hi}")
    if n_frames is not None and len(values) != n_frames:
        raise AnnotationError(f"{path}: {len(values)} labels for {n_frames} frames")
    return values


def read_flag_row(path: str | Path, n_frames: int | None = None) -> np.ndarray:
    """(N,) bool flags stored on one comma-separated line (LaSOT ``full_occlusion.txt``,
    ``out_of_view.txt``). Values must be 0 or 1. Also accepts one value per line.

    Raises:
        AnnotationError: a value that is not 0/1 (names line and position), or N != `n_frames`.
    """
    path = Path(path)
    body = _body(path, _read_text(path))
    arr = np.array(body.replace(",", " ").split())
    ok = (arr == "0") | (arr == "1")
    if not ok.all():
        k = int(np.flatnonzero(~ok)[0])
        start = next(m.start() for i, m in enumerate(re.finditer(r"[^,\s]+", body)) if i == k)
        lineno = body.count("\n", 0, start) + 1
        raise AnnotationError(f"{path}:{lineno}: value #{k + 1} is {str(arr[k])!r}, expected 0 or 1")
    if n_frames is not None and len(arr) != n_frames:
        raise AnnotationError(f"{path}: {len(arr)} flags for {n_frames} frames")
    return arr == "1"


def natural_key(name: str) -> tuple:
    """Sort key putting ``2.jpg`` before ``10.jpg``."""
    return tuple(int(p) if p.isdigit() else p.lower() for p in _DIGITS.split(name))


def list_frames(folder: str | Path, exts: tuple[str, ...] = IMAGE_EXTS) -> list[Path]:
    """Image files directly in `folder`, naturally sorted (one ``os.scandir``).

    Raises:
        FileNotFoundError: the folder is missing (named).
        AnnotationError: the folder holds no image (named).
    """
    folder = Path(folder)
    try:
        with os.scandir(folder) as it:
            names = [e.name for e in it if e.name.lower().endswith(exts) and not e.name.startswith(".")]
    except (FileNotFoundError, NotADirectoryError):
        raise FileNotFoundError(f"{folder}: frame folder not found") from None
    if not names:
        raise AnnotationError(f"{folder}: no frames ({'/'.join(exts)}) in the folder (empty sequence)")
    names.sort(key=natural_key)
    return [folder / n for n in names]


def check_count(frames_dir: Path, n_frames: int, ann_path: Path, n_ann: int) -> None:
    """Raise if the number of frames and annotation rows differ, naming both."""
    if n_frames != n_ann:
        raise AnnotationError(
            f"{ann_path}: {n_ann} annotation rows but {n_frames} frames in {frames_dir}"
        )
