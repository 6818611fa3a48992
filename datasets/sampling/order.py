"""Which item indices each process draws at each optimizer step (a torch ``Sampler``).

One optimizer step consumes ``G * W`` items (groups), ``G`` per process, ``W`` processes. Global
item index of group ``j`` of rank ``r`` at step ``s``: ``s * W * G + r * G + j``. The union over
ranks of step ``s`` is therefore the batch a single process with ``W * G`` groups sees at step
``s`` (seeds depend on the global index only, `datasets.sampling.seeding`).
"""
from __future__ import annotations

from typing import Iterator

from torch.utils.data import Sampler


class EpochGroupOrder(Sampler):
    """Yields ``(epoch, global_index)`` keys for one rank, steps ``start_step .. steps - 1``.

    Use with ``DataLoader(batch_size=groups_per_step, drop_last=True)``: batch ``k`` of the
    loader is then optimizer step ``start_step + k`` of this rank.

    Args:
        epoch: the epoch (enters the item seeds).
        steps: optimizer steps per epoch.
        groups_per_step: groups (videos) per step on this rank (batch_size / P).
        rank, world_size: this process and the number of processes.
        start_step: first step to yield (resuming in the middle of an epoch).
    """

    def __init__(self, epoch: int, steps: int, groups_per_step: int, rank: int = 0,
                 world_size: int = 1, start_step: int = 0) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} must be in [0, world_size={world_size})")
        if groups_per_step < 1 or steps < 0 or not 0 <= start_step <= max(steps, 0):
            raise ValueError(f"invalid order: steps={steps}, groups_per_step={groups_per_step}, start_step={start_step}")
        self.epoch, self.steps, self.groups = int(epoch), int(steps), int(groups_per_step)
        self.rank, self.world, self.start = int(rank), int(world_size), int(start_step)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        g, w, r = self.groups, self.world, self.rank
        for s in range(self.start, self.steps):
            base = s * w * g + r * g
            for j in range(g):
                yield (self.epoch, base + j)

    def __len__(self) -> int:
        return (self.steps - self.start) * self.groups
