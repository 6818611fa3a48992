"""The 70 known categories (LaSOT classes) and the mapping of other data sets' class names.

Data files shipped with the package: ``lasot_classes.json`` (sorted class names; the index is the
category id used in training batches) and ``category_name_map.json`` (explicit synonyms, and
``null`` for look-alikes that must stay unlabelled). Matching rule, in order:

1. normalise the name: lower case, ``_``/``-`` -> space, collapse spaces;
2. an entry of the map decides (a class name, or null -> -1);
3. else the name equals a LaSOT class ignoring case and spaces (``"Electric Fan"`` -> electricfan);
4. else -1 (unknown: ignored by the category loss).
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import numpy as np

_HERE = Path(__file__).resolve().parent
CLASSES_FILE = _HERE / "lasot_classes.json"
NAME_MAP_FILE = _HERE / "category_name_map.json"


def _read_json(path: Path, key: str):
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: category data file missing from the package") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}:{e.lineno}: invalid JSON ({e.msg})") from None
    if key not in doc:
        raise KeyError(f"{path}: missing top-level key {key!r}")
    return doc[key]


@lru_cache(maxsize=None)
def lasot_classes() -> tuple[str, ...]:
    """The 70 LaSOT class names, sorted; position = category id."""
    names = tuple(_read_json(CLASSES_FILE, "classes"))
    if list(names) != sorted(names) or len(set(names)) != len(names):
        raise ValueError(f"{CLASSES_FILE}: class list must be sorted and unique")
    return names


def _normalise(name: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[_\-]", " ", name.strip().lower()))


@lru_cache(maxsize=None)
def _lookup() -> tuple[dict[str, int], dict[str, int]]:
    classes = lasot_classes()
    compact = {c.lower().replace(" ", ""): i for i, c in enumerate(classes)}
    table: dict[str, int] = {}
    for raw, target in _read_json(NAME_MAP_FILE, "map").items():
        if target is not None and target not in classes:
            raise KeyError(f"{NAME_MAP_FILE}: entry {raw!r} maps to {target!r}, not a LaSOT class")
        table[_normalise(raw)] = -1 if target is None else classes.index(target)
    return table, compact


def category_index(name: str | None) -> int:
    """Category id of a class name from any data set, -1 when unknown (see module docstring)."""
    if name is None:
        return -1
    norm = _normalise(str(name))
    table, compact = _lookup()
    if norm in table:
        return table[norm]
    return compact.get(norm.replace(" ", ""), -1)


def category_indices(names: Iterable[str | None]) -> np.ndarray:
    """Vectorised `category_index`: (N,) int64."""
    return np.array([category_index(n) for n in names], dtype=np.int64)
