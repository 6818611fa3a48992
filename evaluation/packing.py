"""Pack raw results for the GOT-10k and TrackingNet evaluation servers, validated before zipping.

Server layouts (got10k toolkit ``ExperimentGOT10k.report`` for test / pytracking
``pack_got10k_results.py`` / ``pack_trackingnet_results.py``; TrackingNet devkit ``metrics.py``):

* **GOT-10k test**: zip root holds one folder per sequence, ``<seq>/<seq>_001.txt`` (up to
  ``_003.txt``, one per run: 3 runs, or 1 for a deterministic tracker) and ``<seq>/<seq>_time.txt``
  (N rows x R comma-separated columns, seconds); 180 sequences ``GOT-10k_Test_000001..000180``.
* **TrackingNet test**: ``<seq>.txt`` at the zip root, one ``x,y,w,h`` row per frame including
  frame 0; 511 sequences; no time files.

Validation, all problems reported together before anything is written: every expected sequence
present (names from the data set when a data root is given, else the official GOT-10k names /
the TrackingNet count), no unexpected ones, each result file parsable with 4 numbers per row and
exactly one row per frame (when the data set is known; else all runs equally long), no NaN or
infinite value, runs numbered 1..R, and for GOT-10k a time file with one row per frame and a
column per run. Boxes are re-written comma-separated (``%.3f``; times ``%.8f``) whatever the
source delimiter was (the servers reject spaces). The zip is deterministic (fixed timestamps,
sorted entries), read back and checked, then written atomically.
"""
from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from datasets.fileio import atomic_write_bytes
from datasets.sequence import Sequence
from evaluation import results as rf

GOT10K_TEST_SEQUENCES = tuple(f"GOT-10k_Test_{i:06d}" for i in range(1, 181))
TRACKINGNET_TEST_COUNT = 511
SERVERS = ("got10k", "trackingnet")
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


class PackingError(ValueError):
    """The results cannot be packed as they are; the message lists every problem."""


@dataclass
class PackReport:
    """What was packed."""

    out: Path
    server: str
    sequences: int
    runs: int
    entries: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _zip_bytes(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, files[name])
    return buf.getvalue()


def _check_zip(data: bytes, files: dict[str, bytes]) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        if sorted(z.namelist()) != sorted(files) or z.testzip() is not None:
            raise PackingError("the written archive does not read back as expected")
        for name, content in files.items():
            if z.read(name) != content:
                raise PackingError(f"archive entry {name} does not read back as written")


def _expected(
    server: str, results_dir: Path, dataset: Iterable[Sequence] | None, allow_partial: bool
) -> tuple[list[str], dict[str, int] | None, list[str]]:
    """Expected sequence names, their frame counts (None without a data set), problems."""
    problems: list[str] = []
    present = rf.list_sequences(results_dir)
    if dataset is not None:
        seqs = list(dataset)
        names, lengths = [s.name for s in seqs], {s.name: len(s) for s in seqs}
    else:
        lengths = None
        if server == "got10k":
            names = list(GOT10K_TEST_SEQUENCES)
        else:
            names = present
            if len(names) != TRACKINGNET_TEST_COUNT and not allow_partial:
                problems.append(
                    f"{results_dir}: {len(names)} sequences, the TrackingNet test set has {TRACKINGNET_TEST_COUNT} "
                    f"(pass the data root to check names and frame counts, or allow a partial pack)"
                )
    extra = sorted(set(present) - set(names))
    if extra:
        problems.append(f"{results_dir}: results for {len(extra)} sequence(s) not in the test set: {extra[:10]}")
    if allow_partial:
        names = [n for n in names if n in set(present)]
    return names, lengths, problems


def pack_results(
    server: str,
    results_dir: str | Path,
    out_zip: str | Path,
    dataset: Iterable[Sequence] | None = None,
    allow_partial: bool = False,
) -> PackReport:
    """Validate `results_dir` (one tracker's results, any layout) and write the server zip.

    Args:
        server: ``"got10k"`` or ``"trackingnet"``.
        results_dir: the tracker's results folder.
        out_zip: the archive to write.
        dataset: the test split (``datasets.loaders.get_dataset(..., split="test")``) to check
            names and frame counts against; None checks names (GOT-10k) or the count (TrackingNet).
        allow_partial: pack only the sequences present (for a trial upload); never for a real one.
    Raises:
        PackingError: listing every problem found; nothing is written then.
    """
    if server not in SERVERS:
        raise KeyError(f"unknown server {server!r}; expected one of {SERVERS}")
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise FileNotFoundError(f"{results_dir}: results folder not found")
    names, lengths, problems = _expected(server, results_dir, dataset, allow_partial)
    files: dict[str, bytes] = {}
    runs_seen: set[int] = set()
    warnings: list[str] = []
    for seq in names:
        found = rf.find_box_files(results_dir, seq)
        if not found:
            problems.append(f"{results_dir}: missing results for {seq}")
            continue
        runs, bad = [], False
        for i, f in enumerate(found, start=1):
            if f.name not in (f"{seq}.txt", f"{seq}_{i:03d}.txt"):
                problems.append(f"{f}: runs must be numbered {seq}_001.txt, {seq}_002.txt, ... without gaps")
                bad = True
                break
            try:
                b = rf.read_box_file(f)
            except ValueError as e:
                problems.append(str(e))
                bad = True
                continue
            n_expected = lengths[seq] if lengths is not None else (runs[0].shape[0] if runs else b.shape[0])
            if b.shape[0] != n_expected:
                problems.append(f"{f}: {b.shape[0]} rows, expected {n_expected} (one per frame, frame 0 included)")
                bad = True
                continue
            nonfinite = ~np.isfinite(b).all(axis=1)
            if nonfinite.any():
                problems.append(f"{f}:{int(np.argmax(nonfinite)) + 1}: non-finite box {b[np.argmax(nonfinite)].tolist()}")
                bad = True
                continue
            runs.append(b)
        if bad:
            continue
        if server == "trackingnet":
            if len(runs) > 1:
                warnings.append(f"{seq}: {len(runs)} runs found, TrackingNet takes one: packing run 1")
            files[f"{seq}.txt"] = rf.format_rows(runs[0], rf.BOX_FMT)
            continue
        if len(runs) > 3:
            problems.append(f"{results_dir / seq}: {len(runs)} runs, the GOT-10k server takes at most 3")
            continue
        tf = rf.find_time_file(results_dir, seq)
        if tf is None:
            problems.append(f"{results_dir}: no time file for {seq} (the GOT-10k server needs {seq}_time.txt)")
            continue
        try:
            times = rf.read_time_file(tf)
        except ValueError as e:
            problems.append(str(e))
            continue
        n = runs[0].shape[0]
        if times.shape[0] != n or times.shape[1] < len(runs):
            problems.append(f"{tf}: {times.shape[0]} rows x {times.shape[1]} columns, expected {n} x {len(runs)}")
            continue
        runs_seen.add(len(runs))
        for r, b in enumerate(runs, start=1):
            files[f"{seq}/{seq}_{r:03d}.txt"] = rf.format_rows(b, rf.BOX_FMT)
        files[f"{seq}/{seq}_time.txt"] = rf.format_rows(times[:, : len(runs)], rf.TIME_FMT)
    if len(runs_seen) > 1:
        warnings.append(f"sequences have different run counts {sorted(runs_seen)}")
    if problems:
        listed = "\n  ".join(problems[:30])
        more = f"\n  ... and {len(problems) - 30} more" if len(problems) > 30 else ""
        raise PackingError(f"cannot pack {results_dir} for {server}: {len(problems)} problem(s):\n  {listed}{more}")
    if not files:
        raise PackingError(f"cannot pack {results_dir} for {server}: no sequences")
    data = _zip_bytes(files)
    _check_zip(data, files)
    out = atomic_write_bytes(out_zip, data)
    return PackReport(out=out, server=server, sequences=len(names), runs=max(runs_seen, default=1),
                      entries=sorted(files), warnings=warnings)
