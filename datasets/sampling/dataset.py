"""The training-sample source: mixture -> video -> frames -> decode -> processing, per item.

An item is a *group*: ``P`` samples (``cfg.train.videos_per_batch_pairs``) from one video, made
with the item's own generator (`datasets.sampling.seeding.sample_rng`). The collate flattens the
groups, so the ``P`` samples of a video are consecutive in the batch and share ``video_id``
(the contrastive positives of HCTrack and CIA).

Redraws (never silent): a sample is redrawn from the same video when

* a crop window is all padding (`datasets.processing.crops.InvalidSample`), or
* a frame cannot be decoded (`datasets.frames.FrameError`, message names the file);

each event increments a counter (``redraw_padding`` / ``redraw_corrupt``) and logs a warning with
the data set, sequence and frame. After ``max_redraws`` failed draws of one sample the whole group
moves to another video (``group_redraws``); after ``max_videos`` such moves a ValueError is
raised. Videos skipped by the trainability rule are counted in ``skipped_videos``. The counters
travel with the batch as ``batch["data_stats"]`` (plain ints summed over the batch's items), so
the trainer can add them up across loader workers.
"""
from __future__ import annotations

import logging
from typing import Callable, Protocol

import numpy as np
from torch.utils.data import Dataset

from datasets.frames import FrameError, read_frame
from datasets.processing.crops import InvalidSample
from datasets.sampling.frames import CausalFrames, FrameSamplingConfig
from datasets.sampling.mixture import DatasetMixture, DrawnVideo
from datasets.sampling.seeding import sample_rng

log = logging.getLogger(__name__)

STAT_KEYS = ("redraw_padding", "redraw_corrupt", "group_redraws", "skipped_videos")


class Processing(Protocol):
    """What a tracker family's processing offers (`OSTrackProcessing`, `DiMPProcessing`)."""

    def frame_sampling(self) -> FrameSamplingConfig: ...

    def __call__(self, images: list[np.ndarray], boxes: np.ndarray, rng: np.random.Generator) -> dict: ...

    def collate(self, samples: list[dict]) -> dict: ...


class GroupedSampleDataset(Dataset):
    """Map-style dataset of groups, keyed by ``(epoch, global_index)`` (`EpochGroupOrder`).

    The item space is unbounded (no ``__len__``): `EpochGroupOrder` defines what an epoch draws.

    Args:
        mixture: the training data sets.
        processing: crops and labels of the tracker family.
        base_seed: the run's seed.
        samples_per_video: P, samples per group.
        frame_reader: path -> (H, W, 3) uint8 RGB (default `datasets.frames.read_frame`).
        max_redraws: draws of one sample before the group moves to another video.
        max_videos: videos tried for one group before giving up (ValueError).
    """

    def __init__(
        self,
        mixture: DatasetMixture,
        processing: Processing,
        base_seed: int,
        samples_per_video: int,
        frame_reader: Callable[[object], np.ndarray] = read_frame,
        max_redraws: int = 10,
        max_videos: int = 20,
    ) -> None:
        if samples_per_video < 1:
            raise ValueError(f"samples_per_video={samples_per_video} must be >= 1")
        self.mixture = mixture
        self.processing = processing
        self.frames_cfg = processing.frame_sampling()
        if mixture.frames != self.frames_cfg:
            raise ValueError(f"mixture frame rules {mixture.frames} differ from the processing's {self.frames_cfg}")
        self.base_seed = int(base_seed)
        self.samples_per_video = int(samples_per_video)
        self.frame_reader = frame_reader
        self.max_redraws = int(max_redraws)
        self.max_videos = int(max_videos)

    def __getitem__(self, key: tuple[int, int]) -> dict:
        """``{"samples": [P sample dicts], "stats": {counter: int}}`` for item ``(epoch, index)``.

        Each sample dict is the processing's output plus ``video_id``, ``category_name``,
        ``dataset``, ``sequence`` and ``frame_ids`` (the source frames, for debugging).
        """
        epoch, index = key
        rng = sample_rng(self.base_seed, epoch, index)
        stats = dict.fromkeys(STAT_KEYS, 0)
        skipped_before = self.mixture.num_skipped
        for _ in range(self.max_videos):
            video = self.mixture.draw(rng)
            cache: dict = {}                     # frame index -> image, "frames" -> CausalFrames
            samples = []
            for _p in range(self.samples_per_video):
                sample = self._sample(video, rng, stats, cache)
                if sample is None:
                    break
                samples.append(sample)
            else:
                stats["skipped_videos"] = self.mixture.num_skipped - skipped_before
                return {"samples": samples, "stats": stats}
            stats["group_redraws"] += 1
            log.warning("item %s: %d draws of a sample from %s/%s failed; drawing another video",
                        key, self.max_redraws, video.dataset, video.sequence.name)
        raise ValueError(f"item {key}: no usable sample after trying {self.max_videos} videos (see the warnings above)")

    def _sample(self, video: DrawnVideo, rng: np.random.Generator, stats: dict, cache: dict) -> dict | None:
        """One sample of `video` (None after `max_redraws` failures). `cache` lives for the group."""
        seq = video.sequence
        if "frames" not in cache:
            cache["frames"] = CausalFrames(video.usable, self.frames_cfg)
        for _ in range(self.max_redraws):
            before, after = cache["frames"].draw(rng)
            ids = np.concatenate([before, after])
            try:
                images = [self._frame(seq.frames, int(i), cache) for i in ids]
            except FrameError as e:
                stats["redraw_corrupt"] += 1
                log.warning("redrawing a sample of %s/%s: corrupt frame: %s", video.dataset, seq.name, e)
                continue
            try:
                out = self.processing(images, seq.boxes[ids], rng)
            except InvalidSample as e:
                stats["redraw_padding"] += 1
                log.warning("redrawing a sample of %s/%s (frame %d): %s",
                            video.dataset, seq.name, int(ids[e.role]), e)
                continue
            out.update(video_id=video.video_id, category_name=seq.category, dataset=video.dataset,
                       sequence=seq.name, frame_ids=ids)
            return out
        return None

    def _frame(self, paths: tuple, i: int, cache: dict) -> np.ndarray:
        if i not in cache:
            cache[i] = self.frame_reader(paths[i])
        return cache[i]


class GroupCollate:
    """DataLoader ``collate_fn``: flatten groups in order, collate with the processing, sum stats."""

    def __init__(self, processing: Processing) -> None:
        self.processing = processing

    def __call__(self, groups: list[dict]) -> dict:
        samples = [s for g in groups for s in g["samples"]]
        batch = self.processing.collate(samples)
        batch["data_stats"] = {k: int(sum(g["stats"][k] for g in groups)) for k in STAT_KEYS}
        return batch
