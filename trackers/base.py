"""The interfaces every tracker family meets at.

Online tracking (used by `evaluation.runner`, which only duck-types it)::

    tracker.initialize(image, box_xywh)      # image: (H, W, 3) uint8 RGB, box: float xywh pixels
    result = tracker.track(image)            # -> TrackResult; unpacks as (box_xywh, score)

Training (used by `experiments.train`): a family module (``trackers.hctrack.api``,
``trackers.cia.api``) exposes

* ``build_model(cfg) -> nn.Module``: the training graph (training-only heads included);
* ``build_actor(cfg) -> Actor``: ``actor(model, batch) -> (loss, stats)`` computes the paper's
  objective from a batch (see ``docs/INTERFACES.md`` for the batch keys), and
  ``actor.after_step(model)`` runs after each optimizer step (CIA's momentum update);
* ``param_groups(model, cfg) -> list[dict]``: optimizer groups with per-module learning rates;
* ``build_tracker(cfg, model, device) -> OnlineTracker``: the inference tracker (training-only
  heads are not called);
* ``TRAINING_ONLY_PREFIXES``: state-dict prefixes of training-only modules, which release
  weights leave out.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np


class TrackResult(NamedTuple):
    """One frame's output. Unpacks as ``box, score = result`` for the first two fields.

    Attributes:
        box_xywh: (4,) float64 box in image pixels.
        score: confidence in [0, 1] (tracker-specific; max of the score map for HCTrack/CIA).
        flag: "" normally; "fallback" when the network output was NaN/degenerate and the previous
            box was repeated (the runner records flagged frames).
    """

    box_xywh: np.ndarray
    score: float
    flag: str = ""

    def __iter__(self):  # unpack as (box, score) for the common interface
        return iter((self.box_xywh, self.score))


@runtime_checkable
class OnlineTracker(Protocol):
    name: str

    def initialize(self, image: np.ndarray, box_xywh: np.ndarray) -> None: ...

    def track(self, image: np.ndarray) -> TrackResult: ...


class Actor(Protocol):
    def __call__(self, model: Any, batch: dict) -> tuple[Any, dict[str, float]]: ...

    def after_step(self, model: Any) -> None: ...


@dataclass(frozen=True)
class TrainConfig:
    """Optimization schedule of a preset (the papers' settings for the full presets).

    The learning rate is given for `reference_batch` samples per optimizer step and scaled
    linearly to the effective batch (batch_size x world size) by the trainer.
    """

    optimizer: str = "adamw"               # "adamw" | "adam"
    lr: float = 2e-4                       # base learning rate at reference_batch
    reference_batch: int = 32              # the batch `lr` was tuned for
    weight_decay: float = 1e-4
    backbone_lr_mult: float = 0.1          # multiplier for parameters named "backbone*"
    epochs: int = 300
    samples_per_epoch: int = 60_000
    batch_size: int = 32                   # per process
    lr_step_epochs: int = 240              # StepLR step size (epochs)
    lr_gamma: float = 0.1
    grad_clip: float | None = 0.1          # max global grad norm, None = off
    videos_per_batch_pairs: int = 3        # P: samples drawn from one video (contrastive positives)
    amp: bool = True                       # autocast on GPU (ignored on CPU)
    seed: int = 0
    dataset_ratios: tuple[tuple[str, float], ...] = (
        ("lasot", 1.0), ("got10k", 1.0), ("coco", 1.0), ("trackingnet", 1.0),
    )

    def __post_init__(self) -> None:
        if self.optimizer not in ("adamw", "adam"):
            raise ValueError(f"optimizer={self.optimizer!r} must be 'adamw' or 'adam'")
        for name in ("lr", "epochs", "samples_per_epoch", "batch_size", "reference_batch"):
            if getattr(self, name) <= 0:
                raise ValueError(f"TrainConfig.{name}={getattr(self, name)} must be > 0")
        if self.batch_size % self.videos_per_batch_pairs:
            raise ValueError(
                f"batch_size={self.batch_size} must be a multiple of "
                f"videos_per_batch_pairs={self.videos_per_batch_pairs}"
            )
