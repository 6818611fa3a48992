"""Benchmark: listing a 30,000-sequence TrackingNet-like tree, without and with the cached index.

    python benchmarks/listing.py [--sequences 30000] [--frames 2] [--keep DIR]

Builds ``TRAIN_0..TRAIN_11`` in a temporary folder (each sequence: a one-row annotation file and
`--frames` empty frame files), then times, in fresh `TrackingNetDataset` objects:

* ``naive``: what a loader without an index does, opening every annotation file;
* ``cold``: `names` with an empty cache (one ``os.scandir`` of ``anno/`` per chunk, index written);
* ``cached``: `names` again (index read, 24 folder ``stat`` calls to validate it);
* ``lengths cold`` / ``lengths cached``: `sequence_lengths()` (one scan per sequence folder, then
  cached).

The OS page cache is warm in every case (the tree was just written); "cold" means no index.
Prints a table and writes ``benchmarks/results/listing.json`` (atomically).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from datasets.fileio import atomic_write_text  # noqa: E402
from datasets.loaders.trackingnet import TRAIN_CHUNKS, TrackingNetDataset  # noqa: E402


def build_tree(root: Path, n_sequences: int, n_frames: int) -> None:
    """TRAIN_0..11 with `n_sequences` sequences spread evenly."""
    per_chunk = -(-n_sequences // len(TRAIN_CHUNKS))
    made = 0
    for chunk in TRAIN_CHUNKS:
        anno, frames = root / chunk / "anno", root / chunk / "frames"
        anno.mkdir(parents=True)
        frames.mkdir()
        for i in range(min(per_chunk, n_sequences - made)):
            name = f"{chunk}_seq{i:05d}_0"
            (anno / f"{name}.txt").write_text("1.00,2.00,30.00,40.00\n" * n_frames)
            d = frames / name
            d.mkdir()
            for f in range(n_frames):
                (d / f"{f}.jpg").touch()
            made += 1


def timed(fn) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def naive_listing(root: Path) -> int:
    """Open and parse every annotation file (what listing without an index costs)."""
    n = 0
    for chunk in TRAIN_CHUNKS:
        for p in sorted((root / chunk / "anno").iterdir()):
            p.read_text().splitlines()
            n += 1
    return n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sequences", type=int, default=30_000)
    ap.add_argument("--frames", type=int, default=2)
    ap.add_argument("--keep", type=Path, default=None, help="build the tree here and keep it")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "listing.json")
    a = ap.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="trackkit-listing-"))
    root = a.keep or tmp / "TrackingNet"
    os.environ["TRACKKIT_CACHE"] = str(tmp / "cache")
    try:
        t_build, _ = timed(lambda: build_tree(root, a.sequences, a.frames))
        t_naive, n_naive = timed(lambda: naive_listing(root))
        t_cold, names = timed(lambda: TrackingNetDataset(root, "train").names)
        t_cached, names2 = timed(lambda: TrackingNetDataset(root, "train").names)
        if names2 != names or len(names) != a.sequences or n_naive != a.sequences:
            raise RuntimeError(f"listing mismatch: {len(names)} / {len(names2)} / {n_naive} vs {a.sequences}")
        t_len_cold, lengths = timed(lambda: TrackingNetDataset(root, "train").sequence_lengths())
        t_len_cached, _ = timed(lambda: TrackingNetDataset(root, "train").sequence_lengths())
        if set(lengths.values()) != {a.frames}:
            raise RuntimeError("wrong frame counts")
        t_load, seq = timed(lambda: TrackingNetDataset(root, "train")[names[-1]])
        index_bytes = sum(p.stat().st_size for p in (tmp / "cache").iterdir())
    finally:
        if a.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)

    rows = [
        ("naive (read every annotation file)", t_naive),
        ("names, cold (scan + write index)", t_cold),
        ("names, cached index", t_cached),
        ("sequence_lengths, cold", t_len_cold),
        ("sequence_lengths, cached", t_len_cached),
        ("load one sequence (after listing)", t_load),
    ]
    print(f"TrackingNet-like tree: {a.sequences} sequences x {a.frames} frames (built in {t_build:.1f} s)")
    print(f"{'operation':<40} {'seconds':>9}")
    for label, t in rows:
        print(f"{label:<40} {t:>9.4f}")
    print(f"index file: {index_bytes / 1024:.0f} KiB; speed-up cached vs naive: {t_naive / t_cached:.0f}x")
    result = {
        "sequences": a.sequences, "frames_per_sequence": a.frames,
        "seconds": {label: round(t, 6) for label, t in rows},
        "index_bytes": index_bytes, "build_seconds": round(t_build, 3),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
    }
    atomic_write_text(a.out, json.dumps(result, indent=1) + "\n")
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
