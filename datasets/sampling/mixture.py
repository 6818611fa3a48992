"""Mixing training data sets by ratio and drawing trainable videos from them.

A `DatasetMixture` holds named `SequenceDataset` objects with sampling weights (the preset's
``cfg.train.dataset_ratios``, e.g. LaSOT : GOT-10k : COCO : TrackingNet = 1 : 1 : 1 : 1 for
OSTrack). A draw picks a data set with probability proportional to its ratio, then a sequence
uniformly inside it; sequences failing `datasets.sampling.frames.is_trainable` are skipped
(remembered per process, counted, logged once at INFO level) and another sequence of the same
data set is drawn, so the ratios hold exactly (OSTrack's sampler does the same).

Video ids: sequence ``j`` of data set ``d`` (in the order given) gets ``offset[d] + j`` with
``offset`` the running total of data-set lengths, so ids are unique across data sets and stable for
a given list of data sets (``video_id`` equal <=> same source video).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from datasets.sampling.frames import FrameSamplingConfig, is_trainable, usable_frames
from datasets.sequence import Sequence, SequenceDataset

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DrawnVideo:
    """A trainable video drawn from the mixture."""

    video_id: int
    dataset: str
    sequence: Sequence
    usable: np.ndarray            # (N,) bool, from `usable_frames`


class DatasetMixture:
    """Named data sets with ratios; draws trainable videos with a caller-supplied generator.

    Args:
        sources: ``(name, dataset, ratio)`` triples; ratios > 0 (relative weights).
        frames: the frame-sampling rules (they define which videos are trainable).
        max_draws: draws before giving up on finding a trainable video (ValueError).
    """

    def __init__(
        self,
        sources: list[tuple[str, SequenceDataset, float]],
        frames: FrameSamplingConfig,
        max_draws: int = 1000,
    ) -> None:
        if not sources:
            raise ValueError("no training data set given")
        names = [s[0] for s in sources]
        if len(set(names)) != len(names):
            raise ValueError(f"data set names must be unique, got {names}")
        for name, ds, ratio in sources:
            if not ratio > 0:
                raise ValueError(f"data set {name!r}: ratio {ratio} must be > 0")
            if len(ds) == 0:
                raise ValueError(f"data set {name!r} ({ds!r}) has no sequences")
        self.names = names
        self.datasets = [s[1] for s in sources]
        ratios = np.array([float(s[2]) for s in sources])
        self.probs = ratios / ratios.sum()
        self.offsets = np.concatenate([[0], np.cumsum([len(d) for d in self.datasets])]).astype(np.int64)
        self.frames = frames
        self.max_draws = int(max_draws)
        self._skipped: set[tuple[int, int]] = set()
        #: videos skipped by the trainability rule since construction (this process)
        self.num_skipped = 0

    @property
    def num_videos(self) -> int:
        return int(self.offsets[-1])

    def draw(self, rng: np.random.Generator) -> DrawnVideo:
        """A trainable video: the data set by ratio, then sequences uniformly inside it until one
        is trainable (the data set is kept, as OSTrack does, so the ratios hold exactly).

        Raises:
            ValueError: `max_draws` draws in the chosen data set found no trainable video.
        """
        d = int(rng.choice(len(self.datasets), p=self.probs))
        ds = self.datasets[d]
        for _ in range(self.max_draws):
            j = int(rng.integers(len(ds)))
            if (d, j) in self._skipped:
                continue
            seq = ds[j]
            if not is_trainable(seq.boxes, seq.visible, self.frames):
                self._skipped.add((d, j))
                self.num_skipped += 1
                log.info(
                    "skipping %s/%s: %d frames, %d usable (needs >= %d frames and > %d usable)",
                    self.names[d], seq.name, len(seq), int(usable_frames(seq.boxes, seq.visible).sum()),
                    self.frames.min_length, self.frames.min_visible_factor * self.frames.num_frames,
                )
                continue
            return DrawnVideo(
                video_id=int(self.offsets[d] + j), dataset=self.names[d], sequence=seq,
                usable=usable_frames(seq.boxes, seq.visible),
            )
        raise ValueError(
            f"no trainable video found in {self.max_draws} draws from data set {self.names[d]!r} "
            f"(videos need >= {self.frames.min_length} frames and > "
            f"{self.frames.min_visible_factor * self.frames.num_frames} visible frames)"
        )
