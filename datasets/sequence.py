"""The `Sequence` model every loader produces, and the lazy data-set interface.

Boxes are float64 ``x, y, w, h`` in pixels with ``(x, y)`` the top-left corner, continuous
coordinates (pixel ``i`` covers ``[i, i+1)``). Unknown boxes (GOT-10k/TrackingNet test frames
after the first, absent targets annotated as NaN) are NaN rows. ``visible`` is the per-frame
target-present mask the loader derived from the benchmark's own labels (absence/occlusion files)
or, where those are missing, from the boxes (finite with positive size).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence as Seq

import numpy as np


@dataclass(frozen=True)
class Sequence:
    """One annotated video.

    Attributes:
        name: unique name inside its data set (e.g. ``GOT-10k_Val_000001``, ``airplane-1``).
        frames: absolute paths of the frames, in temporal order, length N.
        boxes: (N, 4) float64 xywh in pixels; NaN rows where unknown.
        visible: (N,) bool, target present in the frame.
        category: object class name, or None.
        attributes: per-sequence attribute flags (e.g. LaSOT/OTB attributes), name -> bool,
            or per-frame arrays under the same mapping when the benchmark has them per frame.
        meta: free-form extra information (resolution, split, ...), plain values only.
    """

    name: str
    frames: tuple[Path, ...]
    boxes: np.ndarray
    visible: np.ndarray
    category: str | None = None
    attributes: Mapping[str, object] = field(default_factory=dict)
    meta: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        boxes = np.asarray(self.boxes, dtype=np.float64)
        visible = np.asarray(self.visible, dtype=bool)
        if boxes.ndim != 2 or boxes.shape[1] != 4:
            raise ValueError(f"sequence {self.name!r}: boxes must be (N, 4), got {boxes.shape}")
        if len(self.frames) == 0:
            raise ValueError(f"sequence {self.name!r}: no frames")
        if boxes.shape[0] != len(self.frames):
            raise ValueError(
                f"sequence {self.name!r}: {boxes.shape[0]} boxes for {len(self.frames)} frames"
            )
        if visible.shape != (len(self.frames),):
            raise ValueError(
                f"sequence {self.name!r}: visible has shape {visible.shape}, "
                f"expected ({len(self.frames)},)"
            )
        object.__setattr__(self, "frames", tuple(Path(p) for p in self.frames))
        object.__setattr__(self, "boxes", boxes)
        object.__setattr__(self, "visible", visible)

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def init_box(self) -> np.ndarray:
        """(4,) float64 xywh box of the first frame."""
        return self.boxes[0]


class SequenceDataset:
    """A lazily loaded benchmark split: lists names cheaply, builds a `Sequence` on demand.

    Subclasses (one per benchmark) implement `_list_names` and `_load`. Indexing by position or
    by name both work; iteration yields `Sequence` objects in listing order.
    """

    #: short benchmark name, e.g. "got10k"
    benchmark: str = "custom"

    def __init__(self, root: str | Path, split: str) -> None:
        self.root = Path(root)
        self.split = split
        self._names: list[str] | None = None

    # -- to implement -------------------------------------------------------------------
    def _list_names(self) -> list[str]:
        raise NotImplementedError

    def _load(self, name: str) -> Sequence:
        raise NotImplementedError

    # -- public ---------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        if self._names is None:
            self._names = list(self._list_names())
        return self._names

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, key: int | str) -> Sequence:
        if isinstance(key, (int, np.integer)):
            return self._load(self.names[int(key)])
        if key not in self._name_set():
            raise KeyError(f"{self.benchmark}/{self.split}: no sequence named {key!r} under {self.root}")
        return self._load(key)

    def _name_set(self) -> set[str]:
        if not hasattr(self, "_names_set_cache") or len(self._names_set_cache) != len(self.names):
            self._names_set_cache = set(self.names)
        return self._names_set_cache

    def __iter__(self) -> Iterator[Sequence]:
        for name in self.names:
            yield self._load(name)

    def select(self, names: Seq[str]) -> "SubsetDataset":
        """A view restricted to `names` (order kept), each checked to exist."""
        missing = [n for n in names if n not in self._name_set()]
        if missing:
            raise KeyError(f"{self.benchmark}/{self.split}: unknown sequences {missing[:5]}")
        return SubsetDataset(self, list(names))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={str(self.root)!r}, split={self.split!r}, n={len(self)})"


class SubsetDataset(SequenceDataset):
    """A named subset of another data set."""

    def __init__(self, parent: SequenceDataset, names: list[str]) -> None:
        super().__init__(parent.root, parent.split)
        self.benchmark = parent.benchmark
        self._parent = parent
        self._names = names

    def _list_names(self) -> list[str]:
        return list(self._names or [])

    def _load(self, name: str) -> Sequence:
        return self._parent._load(name)


def visible_from_boxes(boxes: np.ndarray) -> np.ndarray:
    """(N,) bool: box finite with positive width and height (the fallback visibility rule)."""
    b = np.asarray(boxes, dtype=np.float64)
    return np.isfinite(b).all(axis=1) & (b[:, 2] > 0) & (b[:, 3] > 0)
