"""DiMP's training-sample memory for the online filter updates.

Holds up to `capacity` classification-feature maps with their target boxes and weights (summing
to 1). The first `num_init` slots keep the initial (augmented) samples and are never replaced.
Each update (learning rate ``lr``) decays all weights by ``1 - lr`` and gives the new sample ``lr``
(exponentially more weight to recent frames); when the memory is full the non-initial sample with
the smallest weight is replaced. The initial samples keep at least ``init_min_weight`` of the total
(the other weights are rescaled to ``1 - init_min_weight`` when needed).
"""
from __future__ import annotations

import torch
from torch import Tensor


class SampleMemory:
    def __init__(self, capacity: int, init_min_weight: float = 0.25) -> None:
        self.capacity = capacity
        self.init_min_weight = init_min_weight
        self.feats: Tensor | None = None     # (capacity, C, H, W)
        self.boxes: Tensor | None = None     # (capacity, 4) xywh in each sample's crop pixels
        self.weights: Tensor | None = None   # (capacity,), 0 for empty slots
        self.num_init = 0
        self.num_stored = 0

    def initialize(self, feats: Tensor, boxes: Tensor) -> None:
        """Store the initial samples (K, C, H, W), (K, 4) with equal weights 1/K."""
        k = feats.shape[0]
        if k > self.capacity - 1:
            raise ValueError(f"{k} initial samples do not fit a memory of {self.capacity} (needs one free slot)")
        self.feats = feats.new_zeros((self.capacity, *feats.shape[1:]))
        self.boxes = boxes.new_zeros((self.capacity, 4))
        self.weights = feats.new_zeros(self.capacity)
        self.feats[:k], self.boxes[:k] = feats, boxes
        self.weights[:k] = 1.0 / k
        self.num_init = self.num_stored = k

    def update(self, feat: Tensor, box: Tensor, lr: float) -> int:
        """Insert one sample (C, H, W), (4,) with learning rate `lr`; returns the slot used."""
        if self.weights is None:
            raise ValueError("SampleMemory.update called before initialize")
        if self.num_stored < self.capacity:
            slot = self.num_stored
            self.num_stored += 1
        else:
            slot = self.num_init + int(torch.argmin(self.weights[self.num_init:]))
        w = self.weights * (1.0 - lr)
        w[slot] = lr
        w = w / w.sum()
        init_sum = w[: self.num_init].sum()
        if init_sum < self.init_min_weight:
            rest = w[self.num_init:]
            w[: self.num_init] *= self.init_min_weight / init_sum
            w[self.num_init:] = rest * (1.0 - self.init_min_weight) / rest.sum()
        self.weights = w
        self.feats[slot], self.boxes[slot] = feat, box
        return slot

    def stored(self) -> tuple[Tensor, Tensor, Tensor]:
        """(feats (n, C, H, W), boxes (n, 4), weights (n,)) of the n stored samples."""
        n = self.num_stored
        return self.feats[:n], self.boxes[:n], self.weights[:n]
