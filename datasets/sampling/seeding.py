"""Per-sample random generators: one `numpy.random.Generator` per (base seed, epoch, index).

Every random draw of the data pipeline (data set, video, frames, jitter, augmentation,
proposals) comes from the generator of the item being built; global random state (``random``,
``np.random``, torch) is never touched. The seed is a function of

* ``base_seed``: the run's seed (``cfg.train.seed`` / ``--seed``);
* ``epoch``;
* ``index``: the **global** item index inside the epoch. The rank and the loader worker enter
  through the index: `datasets.sampling.order.EpochGroupOrder` hands rank ``r`` of ``W`` the
  indices of its slice of each global batch, and any worker may build any index.

Choice (documented deviation from "seed = f(seed, epoch, rank, worker, index)"): the rank and the
worker id are deliberately *not* mixed in separately. Different ranks and workers still get
different streams (they build different indices), and in exchange the data of optimizer step
``s`` is the same whatever the number of workers or processes: 2 processes with batch B see
exactly the samples 1 process with batch 2B sees (the distributed test relies on it), and a run
resumed with a different ``--workers`` continues on the same samples.
"""
from __future__ import annotations

import numpy as np

#: a constant mixed into every seed so that pipeline streams differ from other uses of the seed
_DOMAIN = 0x7A3C_5E11


def sample_rng(base_seed: int, epoch: int, index: int) -> np.random.Generator:
    """The generator of item `index` of `epoch` (PCG64 seeded through `numpy.random.SeedSequence`).

    Raises:
        ValueError: a negative seed, epoch or index.
    """
    for name, v in (("base_seed", base_seed), ("epoch", epoch), ("index", index)):
        if int(v) < 0:
            raise ValueError(f"{name}={v} must be >= 0")
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([_DOMAIN, int(base_seed), int(epoch), int(index)])))
