"""Training data for a run: ``--data`` entries -> data sets with ratios -> per-epoch loaders.

* Each ``--data NAME[:SPLIT][=ROOT]`` is loaded with ``datasets.loaders.get_dataset``; a missing
  ROOT comes from the data set's environment variable (`datasets.roots`). The split defaults to
  the benchmark's training split (`TRAIN_SPLITS`).
* Ratios come from the preset's ``cfg.train.dataset_ratios``; a data set the preset does not
  list (e.g. ``synthetic``) gets ratio 1.0 (logged); listed data sets that were not given are
  simply not used.
* Loaders: `datasets.sampling.EpochGroupOrder` decides which items this rank builds, so the
  samples of step s do not depend on the worker count, and a resumed epoch starts at its step.
  Each loader has its own torch Generator, so building loaders never consumes the global torch
  RNG (exact resume).
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Iterable

import numpy as np
import torch
from torch.utils.data import DataLoader

from datasets.sampling import DatasetMixture, EpochGroupOrder, GroupCollate, GroupedSampleDataset
from datasets.sequence import SequenceDataset
from experiments.trainer.settings import DataSpec

log = logging.getLogger(__name__)

#: benchmark -> split used for training when ``--data`` names none
TRAIN_SPLITS = {"got10k": "train", "lasot": "train", "trackingnet": "train", "coco": "train", "synthetic": "train"}


def load_sources(specs: Iterable[DataSpec], ratios: Iterable[tuple[str, float]]) -> list[tuple[str, SequenceDataset, float]]:
    """``(name, dataset, ratio)`` for each ``--data`` entry.

    Raises:
        ValueError: no entry, a name given twice, or an unknown split. KeyError: unknown benchmark.
        DatasetNotFoundError: a root is unset or missing (the message names the flag and variable).
    """
    from datasets.loaders import get_dataset

    specs = list(specs)
    if not specs:
        raise ValueError("no training data: pass at least one --data NAME[=ROOT] (e.g. --data synthetic=DIR)")
    names = [s.name for s in specs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"--data given more than once for {dupes}")
    ratio = dict(ratios)
    out = []
    for s in specs:
        ds = get_dataset(s.name, root=s.root, split=s.split or TRAIN_SPLITS.get(s.name), flag=f"--data {s.name}=DIR")
        if s.name not in ratio:
            log.info("data set %r is not in the preset's dataset_ratios; using ratio 1.0", s.name)
        out.append((s.name, ds, float(ratio.get(s.name, 1.0))))
    return out


def _worker_init(worker_id: int) -> None:
    """Loader workers: one torch / OpenCV thread each (the processes already run in parallel)."""
    import cv2

    torch.set_num_threads(1)
    cv2.setNumThreads(1)


def loader_factory(
    dataset: GroupedSampleDataset,
    groups_per_step: int,
    steps_per_epoch: int,
    rank: int,
    world_size: int,
    workers: int,
    seed: int,
    pin_memory: bool = False,
) -> Callable[[int, int], DataLoader]:
    """``(epoch, start_step) -> DataLoader`` yielding this rank's batches of that epoch."""
    collate = GroupCollate(dataset.processing)

    def make(epoch: int, start_step: int) -> DataLoader:
        order = EpochGroupOrder(epoch, steps_per_epoch, groups_per_step, rank, world_size, start_step)
        gen = torch.Generator()
        gen.manual_seed(int(np.random.SeedSequence([seed, epoch, rank]).generate_state(1)[0]))
        return DataLoader(
            dataset, batch_size=groups_per_step, sampler=order, collate_fn=collate, num_workers=workers,
            drop_last=True, pin_memory=pin_memory, worker_init_fn=_worker_init if workers else None,
            generator=gen, persistent_workers=False,
        )

    return make


def build_mixture(sources: list[tuple[str, SequenceDataset, float]], processing: Any) -> DatasetMixture:
    return DatasetMixture(sources, processing.frame_sampling())
