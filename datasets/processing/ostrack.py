"""HCTrack (OSTrack-style) training samples: static template, dynamic template, search crop.

Per sample (`OSTrackProcessing.__call__`, numpy, one generator):

1. rolls: joint grayscale (``grayscale_prob``), joint flip (``flip_prob``), one flip per crop
   (``crop_flip_prob``; the final flip of a crop is joint XOR per-crop, as OSTrack applies both),
   brightness per crop ``U[1 - b, 1 + b]``;
2. per frame: jitter the box (templates: ``template_*_jitter``, search: ``search_*_jitter``),
   crop with `datasets.geometry` (zero padding), map the ground-truth box into the crop;
   a window that is all padding raises `InvalidSample` (the loader redraws);
3. grayscale and flips are applied to the uint8 crops (flipping a crop and its box is the same
   as flipping the frame, and cheaper); a flipped box is ``x -> S - x - w``.

Per batch (`OSTrackProcessing.collate`): brightness + normalization + layout in one table pass per
plane (`normalize_crops`), the heatmap labels of all search boxes at once, boxes and video ids.
The output is exactly the HCTrack table of ``docs/INTERFACES.md``.
"""
from __future__ import annotations

import numpy as np
import torch

from datasets.processing.augment import brightness_factors, finish_crop
from datasets.processing.config import OSTrackProcessingConfig
from datasets.processing.crops import CropSpec, crop_frames
from datasets.processing.labels import ostrack_heatmap
from datasets.processing.normalize import normalize_crops
from datasets.sampling.frames import FrameSamplingConfig

#: crop roles in frame order: (batch key, uses template or search settings)
ROLES = ("template", "dynamic_template", "search")


class OSTrackProcessing:
    """Callable turning 3 decoded frames into one HCTrack sample, plus its batch collate.

    Args:
        cfg: the preset's ``data`` config.
    """

    def __init__(self, cfg: OSTrackProcessingConfig) -> None:
        self.cfg = cfg
        template = CropSpec(cfg.template_size, cfg.template_factor, cfg.template_center_jitter,
                            cfg.template_scale_jitter, "constant", cfg.border_value)
        search = CropSpec(cfg.search_size, cfg.search_factor, cfg.search_center_jitter,
                          cfg.search_scale_jitter, "constant", cfg.border_value)
        self.specs = [template, template, search]
        self._sizes = np.array([cfg.template_size, cfg.template_size, cfg.search_size], dtype=np.float64)

    def frame_sampling(self) -> FrameSamplingConfig:
        """2 frames before (static, dynamic template) and 1 after (search), OSTrack gap rules."""
        return FrameSamplingConfig(num_before=2, num_after=1, max_gap=self.cfg.max_gap,
                                   image_min_box_side=self.cfg.image_min_box_side)

    def __call__(self, images: list[np.ndarray], boxes: np.ndarray, rng: np.random.Generator) -> dict:
        """One sample.

        Args:
            images: 3 frames (H_i, W_i, 3) uint8 RGB: static template, dynamic template, search.
            boxes: (3, 4) ground-truth xywh boxes in image pixels.
            rng: the item's generator.
        Returns:
            dict: ``template``, ``dynamic_template`` (Tz, Tz, 3) uint8, ``search`` (Sx, Sx, 3) uint8
            (or (S, S) luma after grayscale), ``<role>_box`` (4,) float32 crop pixels,
            ``brightness`` (3,) per-crop factors (applied by the collate).
        Raises:
            InvalidSample: a crop window is all padding (``role`` = frame position).
        """
        cfg = self.cfg
        if len(images) != 3 or np.shape(boxes) != (3, 4):
            raise ValueError(f"OSTrack sample needs 3 frames and (3, 4) boxes, got {len(images)} and {np.shape(boxes)}")
        gray = bool(rng.random() < cfg.grayscale_prob)
        flips = (rng.random() < cfg.flip_prob) ^ (rng.random(3) < cfg.crop_flip_prob)
        bright = brightness_factors(rng, cfg.brightness_jitter, 3)
        crops, in_crop = crop_frames(images, boxes, self.specs, rng)
        sizes = self._sizes
        in_crop[flips, 0] = sizes[flips] - in_crop[flips, 0] - in_crop[flips, 2]
        in_crop = in_crop.astype(np.float32)
        out: dict = {"brightness": bright}
        for k, role in enumerate(ROLES):
            out[role] = finish_crop(crops[k], gray, bool(flips[k]))
            out[role + "_box"] = in_crop[k]
        return out

    def collate(self, samples: list[dict]) -> dict:
        """Stack B samples into the HCTrack batch (``docs/INTERFACES.md``).

        Each sample also needs ``video_id`` (int) (added by the sample loader).
        Returns:
            template, dynamic_template (B, 3, Tz, Tz) / search (B, 3, Sx, Sx) float32 normalized;
            <role>_box (B, 4) float32; search_heatmap (B, F, F) float32; video_id (B,) int64.
        """
        if not samples:
            raise ValueError("cannot collate an empty list of samples")
        batch: dict = {}
        bright = np.stack([s["brightness"] for s in samples])                  # (B, 3)
        for k, role in enumerate(ROLES):
            batch[role] = normalize_crops([s[role] for s in samples], bright[:, k])
            batch[role + "_box"] = torch.from_numpy(np.stack([s[role + "_box"] for s in samples]))
        batch["search_heatmap"] = torch.from_numpy(
            ostrack_heatmap(batch["search_box"].numpy(), self.cfg.search_size, self.cfg.stride)
        )
        batch["video_id"] = torch.tensor([int(s["video_id"]) for s in samples], dtype=torch.int64)
        return batch
