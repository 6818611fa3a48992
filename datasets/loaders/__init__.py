"""Benchmark loaders: `get_dataset(benchmark, root, split)` -> a lazy `SequenceDataset`.

| benchmark     | module        | default split | splits                                       |
|---------------|---------------|---------------|----------------------------------------------|
| ``got10k``    | `got10k`      | ``val``       | train, val, test                             |
| ``lasot``     | `lasot`       | ``test``      | train (1,120), test (280), all               |
| ``trackingnet``| `trackingnet`| ``test``      | train (TRAIN_0..11 present), test, TRAIN_k   |
| ``otb``       | `otb`         | ``all``       | all (= tb100), tb50, otb2013                 |
| ``coco``      | `coco`        | ``train``     | train, val (2017)                            |
| ``folder``    | `folder`      | ``all``       | all                                          |
| ``synthetic`` | `got10k`      | ``val``       | train, val (GOT-10k layout, `datasets.synthetic`) |

``root=None`` reads the benchmark's environment variable (`datasets.roots.ENV_VARS`, e.g.
``GOT10K_ROOT``); the error names both ``--data-root`` and the variable. The generic ``folder``
format has no variable: its root must be given. Every loader lists names cheaply and builds a
`datasets.sequence.Sequence` only when one is indexed; every annotation error names the file and
line (`annotations`).
"""
from __future__ import annotations

import importlib
from pathlib import Path

from datasets.roots import DatasetNotFoundError, resolve_root
from datasets.sequence import SequenceDataset

#: benchmark -> (module, class)
LOADERS = {
    "got10k": ("datasets.loaders.got10k", "GOT10kDataset"),
    "lasot": ("datasets.loaders.lasot", "LaSOTDataset"),
    "trackingnet": ("datasets.loaders.trackingnet", "TrackingNetDataset"),
    "otb": ("datasets.loaders.otb", "OTBDataset"),
    "coco": ("datasets.loaders.coco", "COCODataset"),
    "folder": ("datasets.loaders.folder", "FolderDataset"),
    "synthetic": ("datasets.loaders.got10k", "SyntheticDataset"),
}
DEFAULT_SPLITS = {
    "got10k": "val", "lasot": "test", "trackingnet": "test", "otb": "all",
    "coco": "train", "folder": "all", "synthetic": "val",
}
BENCHMARKS = tuple(LOADERS)


def dataset_class(benchmark: str) -> type[SequenceDataset]:
    """The `SequenceDataset` subclass of `benchmark` (KeyError naming the known ones)."""
    if benchmark not in LOADERS:
        raise KeyError(f"unknown benchmark {benchmark!r}; known: {sorted(LOADERS)}")
    module, cls = LOADERS[benchmark]
    return getattr(importlib.import_module(module), cls)


def get_dataset(benchmark: str, root: str | Path | None = None, split: str | None = None,
                flag: str = "--data-root", **kwargs: object) -> SequenceDataset:
    """Open one split of a benchmark.

    Args:
        benchmark: one of `BENCHMARKS`.
        root: the data set's root folder; None reads the benchmark's environment variable.
        split: None for the benchmark's default (`DEFAULT_SPLITS`).
        flag: the CLI flag named in "no root" errors.
        **kwargs: loader options (e.g. ``sequences=`` for lasot/otb, ``use_cache=`` for
            trackingnet/coco).

    Raises:
        KeyError: unknown benchmark.
        DatasetNotFoundError: no root given and the variable is unset, or the folder is missing.
        ValueError: unknown split.
    """
    cls = dataset_class(benchmark)
    if benchmark == "folder":
        if root is None:
            raise DatasetNotFoundError(f"folder: no data root given. Pass {flag} DIR (the generic "
                                       "folder format has no environment variable).")
        path = Path(root).expanduser()
        if not path.is_dir():
            raise DatasetNotFoundError(f"folder: data root {str(path)!r} (from {flag}) does not exist or is not a folder.")
    else:
        path = resolve_root(benchmark, root, flag=flag)
    return cls(path, DEFAULT_SPLITS[benchmark] if split is None else split, **kwargs)


__all__ = ["BENCHMARKS", "DEFAULT_SPLITS", "LOADERS", "dataset_class", "get_dataset"]
