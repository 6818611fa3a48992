"""Which frames of one video make a training sample (pure functions of a visibility mask).

Causal mode (OSTrack ``DATA.SAMPLER_MODE = causal``, pytracking's DiMP sampler; reference notes
§A.5 / §B.5), with ``Nb`` frames "before" (templates / DiMP train frames) and ``Na`` frames
"after" (search / DiMP test frames):

1. a *base* frame ``i`` is a usable frame in ``[Nb - 1, N - Na)``;
2. the ``Nb - 1`` other before-frames are drawn, with replacement, from the usable frames in
   ``[i - gap, i)``;
3. the ``Na`` after-frames are drawn, with replacement, from the usable frames in ``(i, i + gap)``;
4. ``gap`` starts at ``max_gap``; if no base frame admits both draws it grows by ``gap_increase``
   (5) and the draw is repeated.

Only *usable* frames are ever returned: ``visible`` and with a finite box of positive size.

Deviation from the reference, for determinism and speed: OSTrack draws a base frame, then
retries with a larger gap on failure; here the base frame is drawn uniformly among the base frames
that are *feasible* at the current gap (computed with cumulative sums, no retry loop), which
removes the retry loop and its unbounded cost. Both return only usable frames.

HCTrack's two templates are the before-frames sorted by time: the earliest is the static template,
the later one the dynamic template (STARK's extra template, §A.9: in tracking the static template
is the first frame and the dynamic one a recent frame, both before the search frame).

One-frame sequences (image data sets such as COCO) return frame 0 for every slot: template and
search are the same image, made different by the processing's jitter.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from datasets.geometry import box_is_valid


@dataclass(frozen=True)
class FrameSamplingConfig:
    """How many frames a sample takes from one video and how far apart they may be.

    Attributes:
        num_before: frames before the base frame, base included (2 for HCTrack: static and
            dynamic template; 3 for DiMP: train frames).
        num_after: frames after the base frame (1 search frame; 3 DiMP test frames).
        max_gap: initial window, in frames, on each side of the base frame.
        gap_increase: growth of the window when no base frame is feasible (OSTrack: 5).
        min_length: videos shorter than this are skipped (OSTrack / pytracking: 20).
        min_visible_factor: videos need more than ``min_visible_factor * (num_before + num_after)``
            usable frames (OSTrack / pytracking: 2).
        image_min_box_side: one-frame sequences (images) need both box sides > this many pixels
            (OSTrack's COCO loader: 50; pytracking: 0).
    """

    num_before: int
    num_after: int
    max_gap: int
    gap_increase: int = 5
    min_length: int = 20
    min_visible_factor: int = 2
    image_min_box_side: float = 0.0

    def __post_init__(self) -> None:
        if self.num_before < 1 or self.num_after < 1:
            raise ValueError(f"num_before ({self.num_before}) and num_after ({self.num_after}) must be >= 1")
        if self.max_gap < 1 or self.gap_increase < 1:
            raise ValueError(f"max_gap ({self.max_gap}) and gap_increase ({self.gap_increase}) must be >= 1")

    @property
    def num_frames(self) -> int:
        return self.num_before + self.num_after


def usable_frames(boxes: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """(N,) bool: the frame is visible and its (N, 4) xywh box is finite with w, h > 0."""
    return np.asarray(visible, dtype=bool) & box_is_valid(boxes)


def is_trainable(boxes: np.ndarray, visible: np.ndarray, cfg: FrameSamplingConfig) -> bool:
    """The skip rule. A one-frame sequence (an image) is trainable when its frame is usable and
    both box sides exceed ``cfg.image_min_box_side``. A video is trainable when it has at least
    ``cfg.min_length`` frames and more than ``cfg.min_visible_factor * cfg.num_frames`` usable
    frames (OSTrack / pytracking: length >= 20 and > 2 * (templates + searches) visible frames).
    """
    usable = usable_frames(boxes, visible)
    if usable.shape[0] == 1:
        b = np.asarray(boxes, dtype=np.float64)[0]
        return bool(usable[0] and b[2] > cfg.image_min_box_side and b[3] > cfg.image_min_box_side)
    return bool(usable.shape[0] >= cfg.min_length and usable.sum() > cfg.min_visible_factor * cfg.num_frames)


def _window_counts(prefix: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Usable frames in ``[lo, hi)`` for arrays of bounds (clipped to the video)."""
    n = prefix.shape[0] - 1
    lo = np.clip(lo, 0, n)
    hi = np.clip(hi, 0, n)
    return np.where(hi > lo, prefix[hi] - prefix[lo], 0)


class CausalFrames:
    """Causal frame draws from one video; the feasible base frames are computed once per video
    (the sample loader draws P samples and possibly redraws from the same video).

    Args:
        usable: (N,) bool mask from `usable_frames`.
        cfg: frame counts and gaps.
    Raises:
        ValueError: no base frame is feasible even with a window covering the whole video (the
            sequence should have failed `is_trainable`).
    """

    def __init__(self, usable: np.ndarray, cfg: FrameSamplingConfig) -> None:
        self.usable = np.asarray(usable, dtype=bool)
        self.cfg = cfg
        n = self.usable.shape[0]
        if n == 1:
            if not self.usable[0]:
                raise ValueError("the only frame of this one-frame sequence is not usable")
            self.feasible, self.gap = np.zeros(1, np.int64), 1
            return
        prefix = np.concatenate([[0], np.cumsum(self.usable)])
        base = np.arange(n)
        base_ok = self.usable & (base >= cfg.num_before - 1) & (base < n - cfg.num_after)
        gap = cfg.max_gap
        while True:
            before_ok = (cfg.num_before == 1) | (_window_counts(prefix, base - gap, base) > 0)
            after_ok = _window_counts(prefix, base + 1, base + gap) > 0
            feasible = np.flatnonzero(base_ok & before_ok & after_ok)
            if feasible.size:
                break
            if gap > n:
                raise ValueError(
                    f"no feasible base frame: {int(self.usable.sum())} usable frames of {n} cannot give "
                    f"{cfg.num_before} before + {cfg.num_after} after frames"
                )
            gap += cfg.gap_increase
        self.feasible, self.gap = feasible, gap

    def draw(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(before_ids (num_before,), after_ids (num_after,)) int64, each sorted ascending; every
        id is a usable frame; ``max(before_ids) < min(after_ids)`` for videos."""
        cfg, usable, gap = self.cfg, self.usable, self.gap
        n = usable.shape[0]
        if n == 1:
            return np.zeros(cfg.num_before, np.int64), np.zeros(cfg.num_after, np.int64)
        b = int(self.feasible[rng.integers(self.feasible.size)])
        lo = max(b - gap, 0)
        after_pool = np.flatnonzero(usable[b + 1:min(b + gap, n)]) + (b + 1)
        before = np.empty(cfg.num_before, np.int64)
        before[0] = b
        if cfg.num_before > 1:
            before_pool = np.flatnonzero(usable[lo:b]) + lo
            before[1:] = before_pool[rng.integers(before_pool.size, size=cfg.num_before - 1)]
        before.sort()
        after = np.sort(after_pool[rng.integers(after_pool.size, size=cfg.num_after)])
        return before, after


def causal_frame_ids(
    usable: np.ndarray, cfg: FrameSamplingConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Draw one sample's frames in causal mode (see the module docstring); `CausalFrames` once.

    Returns:
        (before_ids (num_before,), after_ids (num_after,)) int64, each sorted ascending; every id
        is a usable frame; ``max(before_ids) < min(after_ids)`` for videos.
    Raises:
        ValueError: no feasible base frame (see `CausalFrames`).
    """
    return CausalFrames(usable, cfg).draw(rng)
