"""TrackingNet: ``TRAIN_0`` .. ``TRAIN_11`` (about 30k sequences) and ``TEST`` (511).

Layout (docs/evaluation_protocols.md §5)::

    ROOT/<CHUNK>/anno/<seq>.txt          x,y,w,h per frame, comma-separated (TEST: first frame only)
    ROOT/<CHUNK>/frames/<seq>/<i>.jpg    i = 0, 1, ... sorted numerically

Listing is fast: sequence names come from **one** ``os.scandir`` of each chunk's ``anno/``
folder (no annotation file is opened) and are cached (see `datasets.loaders.cache`) together with
a stamp of the ``anno/`` and ``frames/`` folders' mtimes, which change whenever a sequence is added
or removed; a stale chunk is rescanned. Annotations are read when a sequence is loaded.
Frame counts (`sequence_lengths`) need one scan per sequence folder, so they are computed only on
request and cached in the same index.

Splits: ``"test"`` (``TEST``), ``"train"`` (every ``TRAIN_k`` folder present; the absent ones are
listed in `missing_chunks`, an error only if none is present), a chunk name (``"TRAIN_3"``), or
several joined by commas (``"TRAIN_0,TRAIN_1"``).

Boxes may have negative x/y (the target leaves the frame); a negative size is an error. TEST
sequences get NaN boxes after the first frame. Visibility comes from the boxes. No category (the
data set has none).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from datasets.geometry import box_is_valid
from datasets.loaders import cache
from datasets.loaders.annotations import check_count, list_frames, natural_key, read_boxes
from datasets.sequence import Sequence, SequenceDataset

TRAIN_CHUNKS = tuple(f"TRAIN_{i}" for i in range(12))
TEST_CHUNK = "TEST"


def _mtime_ns(path: Path) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except FileNotFoundError:
        return -1


def scan_chunk(chunk_dir: Path) -> list[str]:
    """Sequence names of one chunk from one scan of ``anno/`` (``*.txt`` files), naturally sorted."""
    anno = chunk_dir / "anno"
    try:
        with os.scandir(anno) as it:
            names = [e.name[:-4] for e in it if e.name.endswith(".txt") and not e.name.startswith(".")]
    except FileNotFoundError:
        raise FileNotFoundError(f"{anno}: TrackingNet annotation folder not found") from None
    names.sort(key=natural_key)
    return names


class TrackingNetDataset(SequenceDataset):
    """TrackingNet under `root` (the folder holding ``TRAIN_*`` and ``TEST``)."""

    benchmark = "trackingnet"

    def __init__(self, root: str | Path, split: str = "test", use_cache: bool = True) -> None:
        super().__init__(root, split)
        self.use_cache = use_cache
        self.chunks, self.missing_chunks = self._resolve_chunks(split)
        self._chunk_of: dict[str, str] = {}

    def _resolve_chunks(self, split: str) -> tuple[list[str], list[str]]:
        if split == "test":
            wanted, required = [TEST_CHUNK], True
        elif split == "train":
            wanted, required = list(TRAIN_CHUNKS), False
        else:
            wanted, required = [s.strip() for s in split.split(",")], True
            bad = [c for c in wanted if c not in TRAIN_CHUNKS + (TEST_CHUNK,)]
            if bad:
                raise ValueError(f"trackingnet: unknown split/chunk {bad}; expected 'train', 'test', "
                                 f"or chunk names {TRAIN_CHUNKS[0]}..{TRAIN_CHUNKS[-1]}, {TEST_CHUNK}")
        present = [c for c in wanted if (self.root / c).is_dir()]
        missing = [c for c in wanted if c not in present]
        if (required and missing) or not present:
            raise FileNotFoundError(
                f"trackingnet/{split}: chunk folder(s) {missing} not found under {self.root}"
            )
        return present, missing

    # -- index -------------------------------------------------------------------------
    def _stamp(self, chunk: str) -> list[int]:
        d = self.root / chunk
        return [_mtime_ns(d / "anno"), _mtime_ns(d / "frames")]

    def _index(self) -> dict:
        """{"chunks": {chunk: {"stamp": [...], "names": [...], "lengths"?: [...]}}} for this root."""
        path = cache.cache_path("trackingnet-index", self.root, "json")
        data = (cache.load_json(path) if self.use_cache else None) or {"root": str(self.root.absolute()), "chunks": {}}
        changed = False
        for chunk in self.chunks:
            stamp = self._stamp(chunk)
            entry = data["chunks"].get(chunk)
            if entry is None or entry.get("stamp") != stamp:
                data["chunks"][chunk] = {"stamp": stamp, "names": scan_chunk(self.root / chunk)}
                changed = True
        if changed and self.use_cache:
            cache.save_json(path, data)
        self._index_cache = data
        return data

    def _list_names(self) -> list[str]:
        data = self._index()
        names: list[str] = []
        for chunk in self.chunks:
            chunk_names = data["chunks"][chunk]["names"]
            for n in chunk_names:
                if n in self._chunk_of:
                    raise ValueError(f"trackingnet: sequence {n!r} appears in both {self._chunk_of[n]} and {chunk}")
                self._chunk_of[n] = chunk
            names.extend(chunk_names)
        return names

    def sequence_lengths(self) -> dict[str, int]:
        """Frame count of every sequence (one scan per sequence folder, cached with the index)."""
        names = self.names
        data = self._index_cache
        changed = False
        for chunk in self.chunks:
            entry = data["chunks"][chunk]
            if "lengths" not in entry:
                frames = self.root / chunk / "frames"
                entry["lengths"] = [_count_frames(frames / n) for n in entry["names"]]
                changed = True
        if changed and self.use_cache:
            cache.save_json(cache.cache_path("trackingnet-index", self.root, "json"), data)
        out = {}
        for chunk in self.chunks:
            out.update(zip(data["chunks"][chunk]["names"], data["chunks"][chunk]["lengths"]))
        return {n: out[n] for n in names}

    # -- loading -----------------------------------------------------------------------
    def _load(self, name: str) -> Sequence:
        if not self._chunk_of:
            _ = self.names
        chunk = self._chunk_of[name]
        d = self.root / chunk
        frames_dir = d / "frames" / name
        frames = list_frames(frames_dir)
        anno = d / "anno" / f"{name}.txt"
        boxes = read_boxes(anno)
        n = len(frames)
        if chunk == TEST_CHUNK and len(boxes) == 1 and n > 1:
            boxes = np.vstack([boxes, np.full((n - 1, 4), np.nan)])
        check_count(frames_dir, n, anno, len(boxes))
        return Sequence(name=name, frames=tuple(frames), boxes=boxes, visible=box_is_valid(boxes),
                        category=None, meta={"split": self.split, "chunk": chunk})


def _count_frames(folder: Path) -> int:
    try:
        with os.scandir(folder) as it:
            return sum(1 for e in it if e.name.lower().endswith((".jpg", ".jpeg", ".png")))
    except FileNotFoundError:
        raise FileNotFoundError(f"{folder}: frame folder not found") from None
