"""GOT-10k (train / val / test) and the synthetic benchmark, which uses the same layout.

Layout (docs/evaluation_protocols.md §5)::

    ROOT/{train,val,test}/list.txt
    ROOT/<split>/<seq>/00000001.jpg ..., groundtruth.txt, absence.label, cover.label,
                       cut_by_image.label, meta_info.ini

* ``groundtruth.txt``: ``x,y,w,h`` per frame. ``test`` holds only the first frame's box: the
  other rows become NaN (unknown). A row ``-1,-1,-1,-1`` (GOT-10k's out-of-view marker) is
  accepted and kept as is; any other negative size is an error.
* **Visibility** (OSTrack / pytracking ``_read_target_visible`` rule, plus a valid box):
  ``visible = ~absence & (cover > 0) & (box finite with w > 0 and h > 0)``. Label files are
  optional: a missing ``absence.label`` / ``cover.label`` drops that term, so without them
  visibility comes from the boxes alone.
* ``Sequence.attributes`` holds the per-frame labels that exist: ``absence`` (bool),
  ``cover`` (int64 0..8, visible eighths), ``cut_by_image`` (bool), each (N,).
* ``Sequence.meta``: ``split`` plus every ``key: value`` of ``meta_info.ini`` as strings, except
  ``resolution`` parsed to an ``(W, H)`` int tuple; ``category`` = ``object_class``.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from datasets.geometry import box_is_valid
from datasets.loaders.annotations import (
    AnnotationError,
    check_count,
    list_frames,
    read_boxes,
    read_labels,
)
from datasets.sequence import Sequence, SequenceDataset

_RESOLUTION = re.compile(r"^\(\s*(\d+)\s*,\s*(\d+)\s*\)$")


def read_meta_info(path: str | Path) -> dict[str, object]:
    """``meta_info.ini`` as a dict: the ``[METAINFO]`` header line, then ``key: value`` lines.

    ``resolution`` becomes an ``(W, H)`` tuple of ints. Raises AnnotationError naming the line.
    """
    path = Path(path)
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    meta: dict[str, object] = {}
    for lineno, line in enumerate(lines, 1):
        s = line.strip()
        if not s or (lineno == 1 and s.startswith("[")):
            continue
        key, sep, value = s.partition(":")
        if not sep or not key.strip():
            raise AnnotationError(f"{path}:{lineno}: expected 'key: value', got {s!r}")
        key, value = key.strip(), value.strip()
        if key == "resolution":
            m = _RESOLUTION.match(value)
            if not m:
                raise AnnotationError(f"{path}:{lineno}: resolution must look like '(W, H)', got {value!r}")
            meta[key] = (int(m.group(1)), int(m.group(2)))
        else:
            meta[key] = value
    return meta


def read_name_list(path: Path, what: str) -> list[str]:
    """Names, one per line (blank lines ignored); a duplicate is an error naming its line."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: {what} not found")
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    names = [s for s in (line.strip() for line in lines) if s]
    if len(set(names)) != len(names):  # slow path only to name the line
        seen: set[str] = set()
        for lineno, line in enumerate(lines, 1):
            if line.strip() in seen:
                raise AnnotationError(f"{path}:{lineno}: duplicate name {line.strip()!r}")
            seen.add(line.strip())
    return names


class GOT10kDataset(SequenceDataset):
    """One GOT-10k split under `root` (the folder holding ``train/``, ``val/``, ``test/``)."""

    benchmark = "got10k"
    splits: tuple[str, ...] = ("train", "val", "test")
    #: splits whose ground truth only has the first frame's box
    first_box_only: tuple[str, ...] = ("test",)

    def __init__(self, root: str | Path, split: str = "val") -> None:
        if split not in self.splits:
            raise ValueError(f"{self.benchmark}: unknown split {split!r}; expected one of {self.splits}")
        super().__init__(root, split)
        self.split_dir = self.root / split

    def _list_names(self) -> list[str]:
        if not self.split_dir.is_dir():
            raise FileNotFoundError(
                f"{self.split_dir}: {self.benchmark} split folder not found under root {self.root} "
                f"(expected {self.root}/{self.split}/list.txt)"
            )
        names = read_name_list(self.split_dir / "list.txt", f"{self.benchmark} sequence list")
        if not names:
            raise AnnotationError(f"{self.split_dir / 'list.txt'}:1: the list is empty")
        return names

    def _load(self, name: str) -> Sequence:
        d = self.split_dir / name
        if not d.is_dir():
            raise FileNotFoundError(f"{d}: sequence folder listed in {self.split_dir / 'list.txt'} not found")
        frames = list_frames(d)
        n = len(frames)
        gt_path = d / "groundtruth.txt"
        boxes = read_boxes(gt_path, allow_absent_marker=True)
        if self.split in self.first_box_only and len(boxes) == 1 and n > 1:
            boxes = np.vstack([boxes, np.full((n - 1, 4), np.nan)])
        check_count(d, n, gt_path, len(boxes))

        attributes: dict[str, np.ndarray] = {}
        visible = box_is_valid(boxes)
        for label, max_value in (("absence", 1), ("cover", 8), ("cut_by_image", 1)):
            p = d / f"{label}.label"
            if p.is_file():
                values = read_labels(p, n, max_value=max_value)
                attributes[label] = values if label == "cover" else values.astype(bool)
        if "absence" in attributes:
            visible &= ~attributes["absence"]
        if "cover" in attributes:
            visible &= attributes["cover"] > 0

        meta: dict[str, object] = {"split": self.split}
        meta_path = d / "meta_info.ini"
        if meta_path.is_file():
            meta.update(read_meta_info(meta_path))
        category = meta.get("object_class")
        return Sequence(
            name=name, frames=tuple(frames), boxes=boxes, visible=visible,
            category=str(category) if category else None, attributes=attributes, meta=meta,
        )


class SyntheticDataset(GOT10kDataset):
    """The procedurally generated benchmark (`datasets.synthetic`): GOT-10k layout, train/val."""

    benchmark = "synthetic"
    splits = ("train", "val")
    first_box_only = ()
