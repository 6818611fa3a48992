"""A generic format for custom data: one folder per sequence.

Layout::

    ROOT/list.txt                     optional: sequence names to use, in order
    ROOT/<seq>/*.jpg | *.png          frames, sorted naturally (2.jpg before 10.jpg); an img/
                                      sub-folder is used when the sequence folder has no frames
    ROOT/<seq>/groundtruth.txt        x,y,w,h per frame, separated by commas, tabs or spaces;
                                      NaN rows mean "unknown / target absent"
    ROOT/<seq>/absence.label          optional: 0/1 per frame (1 = target absent)

Without ``list.txt`` the sequences are the sub-folders of ROOT (hidden ones skipped), naturally
sorted. Visibility = finite box with positive size, and not absent when ``absence.label``
exists. Boxes are used as given (0-based continuous pixels expected). The only split is "all".
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from datasets.geometry import box_is_valid
from datasets.loaders.annotations import (
    IMAGE_EXTS,
    AnnotationError,
    check_count,
    list_frames,
    natural_key,
    read_boxes,
    read_labels,
)
from datasets.loaders.got10k import read_name_list
from datasets.sequence import Sequence, SequenceDataset


def _has_frames(folder: Path) -> bool:
    with os.scandir(folder) as it:
        return any(e.name.lower().endswith(IMAGE_EXTS) for e in it)


class FolderDataset(SequenceDataset):
    """Sequences stored as ``ROOT/<seq>/{frames, groundtruth.txt[, absence.label]}``."""

    benchmark = "folder"

    def __init__(self, root: str | Path, split: str = "all") -> None:
        if split != "all":
            raise ValueError(f"folder: the generic format has one split, 'all' (got {split!r})")
        super().__init__(root, split)

    def _list_names(self) -> list[str]:
        lst = self.root / "list.txt"
        if lst.is_file():
            names = read_name_list(lst, "sequence list")
        else:
            try:
                with os.scandir(self.root) as it:
                    names = [e.name for e in it if e.is_dir() and not e.name.startswith(".")]
            except FileNotFoundError:
                raise FileNotFoundError(f"{self.root}: data folder not found") from None
            names.sort(key=natural_key)
        if not names:
            raise AnnotationError(f"{self.root}: no sequence folders (expected ROOT/<seq>/groundtruth.txt)")
        return names

    def _load(self, name: str) -> Sequence:
        d = self.root / name
        if not d.is_dir():
            raise FileNotFoundError(f"{d}: sequence folder not found")
        frames_dir = d if _has_frames(d) or not (d / "img").is_dir() else d / "img"
        frames = list_frames(frames_dir)
        gt = d / "groundtruth.txt"
        boxes = read_boxes(gt, allow_nan=True)
        check_count(frames_dir, len(frames), gt, len(boxes))
        visible = box_is_valid(boxes)
        attributes: dict[str, np.ndarray] = {}
        absence = d / "absence.label"
        if absence.is_file():
            attributes["absence"] = read_labels(absence, len(frames), max_value=1).astype(bool)
            visible &= ~attributes["absence"]
        return Sequence(name=name, frames=tuple(frames), boxes=boxes, visible=visible,
                        attributes=attributes, meta={"split": self.split})
