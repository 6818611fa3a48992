"""OTB100 (OTB-2015; also its TB-50 and OTB-2013 subsets): 98 folders, 100 targets.

Layout (docs/evaluation_protocols.md §5)::

    ROOT/<Seq>/img/0001.jpg ...                 (Board: 00001.jpg; sorted by frame number)
    ROOT/<Seq>/groundtruth_rect.txt             x,y,w,h per frame, ',' or tab or space separated
    ROOT/Jogging/groundtruth_rect.1.txt, .2.txt two targets (also Skating2)
    ROOT/Human4/groundtruth_rect.2.txt          (its .1.txt is empty)

Rules (the got10k toolkit's, so results match it):

* A folder's targets are its non-empty ``groundtruth*.txt`` files in sorted order. A folder with
  one target keeps its name (``Human4``); with several, targets are named ``<Seq>.<k>``
  (``Jogging.1``, ``Jogging.2``, ``Skating2.1``, ``Skating2.2``). These got10k-toolkit names are
  canonical; pytracking's names (``Jogging_1``, ``Human4_2``: folder + the GT file's number) and
  any lower-case spelling (``jogging_1``, ``jogging.1``) are accepted as aliases by ``ds[name]``,
  `select` and ``sequences=``.
* Frame ranges of the official benchmark configuration, as inclusive frame numbers (from the
  numbers in the file names, so a folder holding extra frames or only the range both work):
  David 300-770, Football1 1-74, Freeman3 1-460, Freeman4 1-283, Diving 1-215, BlurCar1 247-988,
  BlurCar3 3-359, BlurCar4 18-397. Tiger1 keeps all 354 frames (pytracking's ``initOmit=5`` is not
  applied, as in the got10k toolkit).
* Boxes are the file's numbers, unshifted (OTB is 1-based; ``meta["box_origin"] = 1``);
  visibility comes from the boxes (OTB has no absence labels).
* Every folder of the split must exist (FileNotFoundError naming it) unless ``sequences=[...]``
  selects a subset. Splits: ``all`` (= ``tb100``), ``tb50``, ``otb2013``.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterable, Sequence as Seq

import numpy as np

from datasets.geometry import box_is_valid
from datasets.loaders.annotations import AnnotationError, check_count, list_frames, read_boxes
from datasets.sequence import Sequence, SequenceDataset, SubsetDataset

TB50 = (
    "Basketball", "Biker", "Bird1", "BlurBody", "BlurCar2", "BlurFace", "BlurOwl", "Bolt", "Box",
    "Car1", "Car4", "CarDark", "CarScale", "ClifBar", "Couple", "Crowds", "David", "Deer", "Diving",
    "DragonBaby", "Dudek", "Football", "Freeman4", "Girl", "Human3", "Human4", "Human6", "Human9",
    "Ironman", "Jump", "Jumping", "Liquor", "Matrix", "MotorRolling", "Panda", "RedTeam", "Shaking",
    "Singer2", "Skating1", "Skating2", "Skiing", "Soccer", "Surfer", "Sylvester", "Tiger2", "Trellis",
    "Walking", "Walking2", "Woman",
)
TB100 = TB50 + (
    "Bird2", "BlurCar1", "BlurCar3", "BlurCar4", "Board", "Bolt2", "Boy", "Car2", "Car24", "Coke",
    "Coupon", "Crossing", "Dancer", "Dancer2", "David2", "David3", "Dog", "Dog1", "Doll", "FaceOcc1",
    "FaceOcc2", "Fish", "FleetFace", "Football1", "Freeman1", "Freeman3", "Girl2", "Gym", "Human2",
    "Human5", "Human7", "Human8", "Jogging", "KiteSurf", "Lemming", "Man", "Mhyang", "MountainBike",
    "Rubik", "Singer1", "Skater", "Skater2", "Subway", "Suv", "Tiger1", "Toy", "Trans", "Twinnings",
    "Vase",
)
OTB2013 = (
    "Basketball", "Bolt", "Boy", "Car4", "CarDark", "CarScale", "Coke", "Couple", "Crossing", "David",
    "David2", "David3", "Deer", "Dog1", "Doll", "Dudek", "FaceOcc1", "FaceOcc2", "Fish", "FleetFace",
    "Football", "Football1", "Freeman1", "Freeman3", "Freeman4", "Girl", "Ironman", "Jogging", "Jumping",
    "Lemming", "Liquor", "Matrix", "Mhyang", "MotorRolling", "MountainBike", "Shaking", "Singer1",
    "Singer2", "Skating1", "Skiing", "Soccer", "Subway", "Suv", "Sylvester", "Tiger1", "Tiger2",
    "Trellis", "Walking", "Walking2", "Woman",
)
SPLITS = {"all": TB100, "tb100": TB100, "tb50": TB50, "otb2013": OTB2013}
#: folder -> (first, last) frame number, inclusive (the official configuration's special ranges)
FRAME_RANGES = {
    "David": (300, 770), "Football1": (1, 74), "Freeman3": (1, 460), "Freeman4": (1, 283),
    "Diving": (1, 215), "BlurCar1": (247, 988), "BlurCar3": (3, 359), "BlurCar4": (18, 397),
}
_GT_FILE = re.compile(r"^groundtruth.*\.txt$")
_FILE_NUMBER = re.compile(r"\.(\d+)\.txt$")
_FRAME_NUMBER = re.compile(r"(\d+)\.[A-Za-z]+$")


def _is_empty(path: Path) -> bool:
    size = path.stat().st_size
    return size == 0 or (size < 64 and not path.read_text(encoding="utf-8-sig").strip())


def frames_in_range(frames: list[Path], first: int, last: int) -> list[Path]:
    """Frames whose file-name number lies in [first, last]."""
    nums = np.array([int(m.group(1)) if (m := _FRAME_NUMBER.search(p.name)) else -1 for p in frames])
    keep = (nums >= first) & (nums <= last)
    return [p for p, k in zip(frames, keep) if k]


class OTBDataset(SequenceDataset):
    """OTB under `root` (the folder holding the sequence folders)."""

    benchmark = "otb"

    def __init__(self, root: str | Path, split: str = "all", sequences: Iterable[str] | None = None) -> None:
        if split not in SPLITS:
            raise ValueError(f"otb: unknown split {split!r}; expected one of {sorted(SPLITS)}")
        super().__init__(root, split)
        self._folders = SPLITS[split]
        self._requested = None if sequences is None else list(sequences)
        self._targets: dict[str, tuple[str, Path]] = {}   # name -> (folder, gt file)
        self._aliases: dict[str, str] = {}

    def _folder_targets(self, folder: str) -> list[tuple[str, Path, str]]:
        """(canonical name, gt file, pytracking alias) of each target of one folder."""
        d = self.root / folder
        try:
            with os.scandir(d) as it:
                files = sorted(e.name for e in it if _GT_FILE.match(e.name))
        except FileNotFoundError:
            raise FileNotFoundError(f"{d}: OTB sequence folder not found") from None
        gts = [d / f for f in files if not _is_empty(d / f)]
        if not gts:
            raise FileNotFoundError(f"{d}: no non-empty groundtruth*.txt file")
        out = []
        for k, gt in enumerate(gts, 1):
            name = folder if len(gts) == 1 else f"{folder}.{k}"
            m = _FILE_NUMBER.search(gt.name)
            alias = f"{folder}_{m.group(1)}" if m else folder
            out.append((name, gt, alias))
        return out

    def _list_names(self) -> list[str]:
        folders = self._folders
        if self._requested is not None:
            wanted_folders = {re.split(r"[._]\d+$", n)[0].lower() for n in self._requested}
            folders = tuple(f for f in self._folders if f.lower() in wanted_folders)
        names = []
        for folder in sorted(folders):
            for name, gt, alias in self._folder_targets(folder):
                self._targets[name] = (folder, gt)
                for a in (name, alias):
                    self._aliases[a.lower()] = name
                names.append(name)
        if self._requested is not None:
            resolved = [self._aliases.get(n.lower()) for n in self._requested]
            unknown = [n for n, r in zip(self._requested, resolved) if r is None]
            if unknown:
                raise KeyError(f"otb/{self.split}: unknown sequences {unknown[:5]}")
            names = resolved
        return names

    def canonical_name(self, name: str) -> str:
        """The got10k-toolkit name of `name` or of one of its aliases; KeyError if unknown."""
        _ = self.names
        try:
            return self._aliases[name.lower()]
        except KeyError:
            raise KeyError(f"otb/{self.split}: no sequence named {name!r} under {self.root}") from None

    def __getitem__(self, key: int | str) -> Sequence:
        if isinstance(key, str):
            key = self.canonical_name(key)
        return super().__getitem__(key)

    def select(self, names: Seq[str]) -> SubsetDataset:
        return super().select([self.canonical_name(n) for n in names])

    def _load(self, name: str) -> Sequence:
        if not self._targets:
            _ = self.names
        folder, gt = self._targets[name]
        img = self.root / folder / "img"
        frames = list_frames(img)
        if folder in FRAME_RANGES:
            first, last = FRAME_RANGES[folder]
            frames = frames_in_range(frames, first, last)
            if not frames:
                raise AnnotationError(f"{img}: no frame numbered {first}..{last}")
        boxes = read_boxes(gt)
        check_count(img, len(frames), gt, len(boxes))
        return Sequence(name=name, frames=tuple(frames), boxes=boxes, visible=box_is_valid(boxes),
                        category=None, meta={"split": self.split, "box_origin": 1, "folder": folder})

