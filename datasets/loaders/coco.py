"""COCO 2017 as a tracking data set: every non-crowd object is a one-frame sequence.

Layout::

    ROOT/annotations/instances_train2017.json   (and instances_val2017.json)
    ROOT/train2017/<file_name>.jpg               (and val2017/)

The JSON (hundreds of MB for train) is parsed once into a compact index of arrays (annotation
ids, boxes, image and category indexes) cached as ``.npz`` (see `datasets.loaders.cache`), keyed
by the JSON's path, size and mtime. Sequence names are the annotation ids as decimal strings
(``"1768"``); ``category`` is the category name, ``meta`` holds ``image_id``, ``ann_id`` and
``category_id``. COCO boxes are already continuous 0-based ``x, y, w, h``. Objects whose box has
no area are kept with ``visible = False`` (the loader does not filter; samplers skip them).
Splits: ``train`` (default) and ``val``; ``version`` selects the year (``"2017"``).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from datasets.geometry import box_is_valid
from datasets.loaders import cache
from datasets.loaders.annotations import AnnotationError
from datasets.sequence import Sequence, SequenceDataset


def _column(items: list, key: str, where: str, dtype: object) -> np.ndarray:
    """np.array of ``item[key]`` over `items`; a missing key is a KeyError naming the entry."""
    try:
        return np.array([it[key] for it in items], dtype=dtype)
    except (KeyError, TypeError):
        k = next(i for i, it in enumerate(items) if not isinstance(it, dict) or key not in it)
        raise KeyError(f"{where}[{k}]: missing key {key!r}") from None


def _lookup(ref: np.ndarray, query: np.ndarray, what: str, path: Path, ann_id: np.ndarray) -> np.ndarray:
    """Row of each `query` id in `ref` (vectorized searchsorted); an unknown id is an error."""
    if len(query) == 0:
        return np.zeros(0, np.int64)
    if len(ref) == 0:
        raise AnnotationError(f"{path}: annotation {ann_id[0]}: unknown {what} {query[0]}")
    order = np.argsort(ref, kind="stable")
    pos = np.clip(np.searchsorted(ref, query, sorter=order), 0, len(ref) - 1)
    rows = order[pos]
    miss = ref[rows] != query
    if miss.any():
        k = int(np.flatnonzero(miss)[0])
        raise AnnotationError(f"{path}: annotation {ann_id[k]}: unknown {what} {query[k]}")
    return rows.astype(np.int64)


def build_index(ann_path: Path) -> dict[str, np.ndarray]:
    """Parse an ``instances_*.json`` into arrays (non-crowd objects only, sorted by annotation id).

    Returns ann_id (N,) int64, box (N, 4) float64, image (N,) int64 index into image_file /
    image_id, category (N,) int64 index into category_name / category_id.
    """
    try:
        data = json.loads(ann_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{ann_path}: COCO annotation file not found") from None
    except json.JSONDecodeError as e:
        raise AnnotationError(f"{ann_path}:{e.lineno}: invalid JSON ({e.msg})") from None
    if not isinstance(data, dict):
        raise AnnotationError(f"{ann_path}:1: expected a JSON object with images/annotations/categories")
    for key in ("images", "annotations", "categories"):
        if key not in data:
            raise KeyError(f"{ann_path}: missing key {key!r}")
    images, cats = data["images"], data["categories"]
    where = f"{ann_path}: "
    image_id = _column(images, "id", where + "images", np.int64)
    image_file = _column(images, "file_name", where + "images", str)
    cat_id = _column(cats, "id", where + "categories", np.int64)
    cat_name = _column(cats, "name", where + "categories", str)

    keep = [a for a in data["annotations"] if isinstance(a, dict) and not a.get("iscrowd", 0)]
    ann_id = _column(keep, "id", where + "annotations (non-crowd)", np.int64)
    try:
        box = np.array([a["bbox"] for a in keep] or np.zeros((0, 4)), np.float64)
        if box.shape != (len(keep), 4):
            raise ValueError("bbox")
    except (KeyError, ValueError, TypeError):
        bad = next(a.get("id") for a in keep
                   if not isinstance(a.get("bbox"), list) or len(a["bbox"]) != 4)
        raise AnnotationError(f"{ann_path}: annotation {bad}: bbox must be [x, y, w, h]") from None
    img_of = _column(keep, "image_id", where + "annotations (non-crowd)", np.int64)
    cat_of = _column(keep, "category_id", where + "annotations (non-crowd)", np.int64)

    img_idx = _lookup(image_id, img_of, "image_id", ann_path, ann_id)
    cat_idx = _lookup(cat_id, cat_of, "category_id", ann_path, ann_id)
    order = np.argsort(ann_id, kind="stable")
    if len(ann_id) and np.any(np.diff(ann_id[order]) == 0):
        dup = ann_id[order][np.flatnonzero(np.diff(ann_id[order]) == 0)[0]]
        raise AnnotationError(f"{ann_path}: duplicate annotation id {dup}")
    return {
        "ann_id": ann_id[order], "box": box[order], "image": img_idx[order].astype(np.int64),
        "category": cat_idx[order].astype(np.int64), "image_id": image_id, "image_file": image_file,
        "category_id": cat_id, "category_name": cat_name,
    }


class COCODataset(SequenceDataset):
    """COCO objects under `root` as one-frame sequences."""

    benchmark = "coco"
    splits = ("train", "val")

    def __init__(self, root: str | Path, split: str = "train", version: str = "2017", use_cache: bool = True) -> None:
        if split not in self.splits:
            raise ValueError(f"coco: unknown split {split!r}; expected one of {self.splits}")
        super().__init__(root, split)
        self.version = version
        self.use_cache = use_cache
        self.ann_path = self.root / "annotations" / f"instances_{split}{version}.json"
        self.image_dir = self.root / f"{split}{version}"
        self._idx: dict[str, np.ndarray] | None = None

    @property
    def index(self) -> dict[str, np.ndarray]:
        """The compact annotation index (built from the JSON once, then cached)."""
        if self._idx is None:
            try:
                st = self.ann_path.stat()
            except FileNotFoundError:
                raise FileNotFoundError(f"{self.ann_path}: COCO annotation file not found") from None
            stamp = f"{st.st_size}:{st.st_mtime_ns}"
            path = cache.cache_path("coco-index", self.ann_path, "npz")
            idx = cache.load_npz(path, stamp) if self.use_cache else None
            if idx is None:
                idx = build_index(self.ann_path)
                if self.use_cache:
                    cache.save_npz(path, stamp, **idx)
            self._idx = idx
        return self._idx

    def _list_names(self) -> list[str]:
        return self.index["ann_id"].astype(str).tolist()

    def _row(self, name: str) -> int:
        ids = self.index["ann_id"]
        try:
            ann = int(name)
        except ValueError:
            raise KeyError(f"coco/{self.split}: no sequence named {name!r} (names are annotation ids)") from None
        i = int(np.searchsorted(ids, ann))
        if i >= len(ids) or ids[i] != ann:
            raise KeyError(f"coco/{self.split}: no non-crowd annotation with id {ann} in {self.ann_path}")
        return i

    def __getitem__(self, key: int | str) -> Sequence:
        if isinstance(key, str):  # O(log N) lookup instead of a set of 860k names
            return self._load(key)
        return super().__getitem__(key)

    def _load(self, name: str) -> Sequence:
        idx = self.index
        i = self._row(name)
        box = idx["box"][i:i + 1]
        img, cat = int(idx["image"][i]), int(idx["category"][i])
        return Sequence(
            name=name, frames=(self.image_dir / str(idx["image_file"][img]),), boxes=box,
            visible=box_is_valid(box), category=str(idx["category_name"][cat]),
            meta={"split": self.split, "image_id": int(idx["image_id"][img]), "ann_id": int(idx["ann_id"][i]),
                  "category_id": int(idx["category_id"][cat])},
        )
