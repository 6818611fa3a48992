"""LaSOT: 70 categories x 20 sequences; official train (1,120) / test (280) split shipped as data.

Layout (docs/evaluation_protocols.md §5)::

    ROOT/<cat>/<cat>-<k>/img/00000001.jpg ...
    ROOT/<cat>/<cat>-<k>/groundtruth.txt       x,y,w,h integers, one row per frame
    ROOT/<cat>/<cat>-<k>/full_occlusion.txt    one comma-separated line of 0/1
    ROOT/<cat>/<cat>-<k>/out_of_view.txt       same
    ROOT/<cat>/<cat>-<k>/nlp.txt               one sentence (-> meta["nlp"])
    ROOT/att/<seq>.txt or ROOT/annos/att/<seq>.txt (optional, from the LaSOT evaluation toolkit):
        14 comma-separated 0/1 attribute flags -> Sequence.attributes (names in `ATTRIBUTES`)

Choices:

* **Boxes are the file's numbers, unshifted** (LaSOT boxes are 1-based, MATLAB style). Every
  official toolkit scores those numbers and tests GT validity on them (``gt > 0``); shifting by
  one pixel would change which frames count. ``meta["box_origin"] = 1`` records the convention.
* **Visibility** = ``~full_occlusion & ~out_of_view`` (pytracking's ``target_visible``; the
  official toolkit's absent frames). Box validity is *not* folded in (three test frames have
  w or h = 0 while visible, and the official toolkit scores them); training samplers check boxes.
  Without the two flag files visibility comes from the boxes.
* **Split membership**: a split lists the official names, in the shipped order. Listing checks
  that every listed sequence folder exists (one directory scan per category) and raises
  FileNotFoundError naming the missing folders; pass ``sequences=[...]`` to use a subset (only
  those are listed and checked). ``split="all"`` is train + test (1,400).
* ``category`` = folder name (the name before the last ``-``); `category_index` maps it to the
  index in `CATEGORIES` (the 70 classes, alphabetical).
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Iterable

import numpy as np

from datasets.data import data_file
from datasets.geometry import box_is_valid
from datasets.loaders.annotations import (
    AnnotationError,
    check_count,
    list_frames,
    read_boxes,
    read_flag_row,
)
from datasets.sequence import Sequence, SequenceDataset

#: the 14 per-sequence attributes, in the order of the toolkit's ``annos/att/<seq>.txt`` columns
ATTRIBUTES = ("IV", "POC", "DEF", "MB", "CM", "ROT", "BC", "VC", "SV", "FOC", "FM", "OV", "LR", "ARC")
ATTRIBUTE_NAMES = (
    "Illumination Variation", "Partial Occlusion", "Deformation", "Motion Blur", "Camera Motion",
    "Rotation", "Background Clutter", "Viewpoint Change", "Scale Variation", "Full Occlusion",
    "Fast Motion", "Out-of-View", "Low Resolution", "Aspect Ratio Change",
)
SPLIT_FILES = {"train": "lasot_train.txt", "test": "lasot_test.txt"}
#: pinned checksums of the shipped lists (tested)
SPLIT_SHA256 = {
    "lasot_train.txt": "0ae7df00644ee36794ac1d67f123612eb6341b4e94fef933169607d650ade893",
    "lasot_test.txt": "5a9faec7dc787f87de8267d201a7cddb01410c74d36122a3284200b74029df3b",
    "lasot_categories.txt": "276d2b3b0bb3a52a5f0b77cc1a75adae7c0f933ab415e38f4f0de00d11b98636",
}


def _read_list(name: str) -> list[str]:
    return data_file(name).read_text(encoding="utf-8").split()


CATEGORIES: tuple[str, ...] = tuple(_read_list("lasot_categories.txt"))
_CATEGORY_INDEX = {c: i for i, c in enumerate(CATEGORIES)}


def split_names(split: str) -> list[str]:
    """Official sequence names of `split` ("train", "test" or "all" = train + test)."""
    if split == "all":
        return _read_list(SPLIT_FILES["train"]) + _read_list(SPLIT_FILES["test"])
    if split not in SPLIT_FILES:
        raise ValueError(f"lasot: unknown split {split!r}; expected one of {sorted(SPLIT_FILES) + ['all']}")
    return _read_list(SPLIT_FILES[split])


def verify_split_files() -> dict[str, str]:
    """sha256 of every shipped list; raises ValueError naming a file whose content changed."""
    out = {}
    for name, want in SPLIT_SHA256.items():
        got = hashlib.sha256(data_file(name).read_bytes()).hexdigest()
        if got != want:
            raise ValueError(f"{data_file(name)}: checksum {got} differs from the pinned {want}")
        out[name] = got
    return out


def category_of(name: str) -> str:
    """Class of a sequence name: the part before the last ``-`` (``rubicCube-3`` -> ``rubicCube``)."""
    cat, sep, idx = name.rpartition("-")
    if not sep or not cat or not idx.isdigit():
        raise ValueError(f"lasot: {name!r} is not a '<category>-<number>' sequence name")
    return cat


def category_index(category: str) -> int:
    """Index of a LaSOT class in `CATEGORIES`, or -1 if it is not one of the 70."""
    return _CATEGORY_INDEX.get(category, -1)


def read_attributes(path: Path) -> dict[str, bool]:
    """The 14 attribute flags of one sequence (one comma-separated line)."""
    flags = read_flag_row(path)
    if len(flags) != len(ATTRIBUTES):
        raise AnnotationError(f"{path}:1: expected {len(ATTRIBUTES)} attribute flags, got {len(flags)}")
    return {a: bool(f) for a, f in zip(ATTRIBUTES, flags)}


class LaSOTDataset(SequenceDataset):
    """LaSOT under `root` (the folder holding the 70 category folders)."""

    benchmark = "lasot"

    def __init__(self, root: str | Path, split: str = "test", sequences: Iterable[str] | None = None,
                 attributes_dir: str | Path | None = None) -> None:
        """
        Args:
            sequences: optional subset of the split's names (order kept); each must belong to it.
            attributes_dir: folder of ``<seq>.txt`` attribute files; default: ``ROOT/att`` or
                ``ROOT/annos/att``, whichever exists (attributes are empty when none does).
        """
        official = split_names(split)
        super().__init__(root, split)
        if sequences is not None:
            sequences = list(sequences)
            unknown = sorted(set(sequences) - set(official))
            if unknown:
                raise KeyError(f"lasot/{split}: not in the official split: {unknown[:5]}")
        self._wanted = official if sequences is None else sequences
        if attributes_dir is None:
            cands = [self.root / "att", self.root / "annos" / "att"]
            attributes_dir = next((c for c in cands if c.is_dir()), None)
        self.attributes_dir = Path(attributes_dir) if attributes_dir is not None else None

    def sequence_dir(self, name: str) -> Path:
        return self.root / category_of(name) / name

    def _list_names(self) -> list[str]:
        wanted_cats = {category_of(n) for n in self._wanted}
        present: set[str] = set()
        for cat in wanted_cats:  # one scandir per category folder
            try:
                with os.scandir(self.root / cat) as it:
                    present.update(e.name for e in it if e.is_dir())
            except FileNotFoundError:
                pass
        missing = [n for n in self._wanted if n not in present]
        if missing:
            raise FileNotFoundError(
                f"lasot/{self.split}: {len(missing)} of {len(self._wanted)} sequence folders missing, "
                f"e.g. {self.sequence_dir(missing[0])}; pass sequences=[...] to use a subset"
            )
        return list(self._wanted)

    def _load(self, name: str) -> Sequence:
        d = self.sequence_dir(name)
        if not d.is_dir():
            raise FileNotFoundError(f"{d}: sequence folder not found")
        img = d / "img"
        frames = list_frames(img)
        gt_path = d / "groundtruth.txt"
        boxes = read_boxes(gt_path)
        check_count(img, len(frames), gt_path, len(boxes))
        n = len(frames)

        attributes: dict[str, object] = {}
        flags = {}
        for key, fname in (("full_occlusion", "full_occlusion.txt"), ("out_of_view", "out_of_view.txt")):
            p = d / fname
            if p.is_file():
                flags[key] = read_flag_row(p, n)
                attributes[key] = flags[key]
        if flags:
            visible = np.ones(n, dtype=bool)
            for f in flags.values():
                visible &= ~f
        else:
            visible = box_is_valid(boxes)
        if self.attributes_dir is not None and (self.attributes_dir / f"{name}.txt").is_file():
            attributes.update(read_attributes(self.attributes_dir / f"{name}.txt"))

        category = category_of(name)
        meta: dict[str, object] = {"split": self.split, "box_origin": 1, "category_index": category_index(category)}
        nlp = d / "nlp.txt"
        if nlp.is_file():
            meta["nlp"] = nlp.read_text(encoding="utf-8-sig").strip()
        return Sequence(name=name, frames=tuple(frames), boxes=boxes, visible=visible,
                        category=category, attributes=attributes, meta=meta)
