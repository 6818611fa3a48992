"""CIA (DiMP-style) training samples: ``num_train`` train and ``num_test`` test crops of one video.

Per sample (`DiMPProcessing.__call__`, numpy, one generator):

1. rolls: joint grayscale, joint flip, per-crop flip (final flip = joint XOR per-crop),
   brightness per crop (§B.6: DiMP18 gray 0.05 + brightness 0.2; SuperDiMP adds flips);
2. per frame: jitter (train: ``train_*_jitter``, test: ``test_*_jitter``), crop of side
   ``image_size`` at ``search_factor`` with the config's border (replicate for DiMP18/CIA18),
   ground truth mapped into crop pixels; all-padding windows raise `InvalidSample`;
3. test-frame proposals around the final (flipped) box: IoU-Net (`perturb_boxes`, target
   ``2 IoU - 1``) or KL (`sample_box_gmm`, densities) by ``box_regression``.

Per batch (`DiMPProcessing.collate`): (frames, batch, ...) layout, normalization, DiMP Gaussian
labels for train and test boxes, category indices from the injected ``category_index``. The
output is exactly the CIA table of ``docs/INTERFACES.md``; only the keys of the configured
``box_regression`` are present (``proposal_iou`` for "iou", the two densities for "kl").

Categories: the data layer cannot import trackers, so the category-name -> LaSOT class index map
is injected as ``category_index`` (a picklable module-level function, e.g. the CIA family's
``category_index``); without it every category is -1 (unknown).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from datasets.processing.augment import brightness_factors, finish_crop
from datasets.processing.config import DiMPProcessingConfig
from datasets.processing.crops import CropSpec, crop_frames
from datasets.processing.labels import dimp_gaussian_label, perturb_boxes, sample_box_gmm
from datasets.processing.normalize import normalize_crops
from datasets.sampling.frames import FrameSamplingConfig


def unknown_category(name: str | None) -> int:
    """The default category map: every name is unknown (-1)."""
    return -1


class DiMPProcessing:
    """Callable turning ``num_train + num_test`` decoded frames into one CIA sample, plus collate.

    Args:
        cfg: the preset's ``data`` config.
        category_index: category name -> index into the 70 LaSOT classes, -1 if unknown.
    """

    def __init__(self, cfg: DiMPProcessingConfig, category_index: Callable[[str | None], int] = unknown_category) -> None:
        self.cfg = cfg
        self.category_index = category_index
        train = CropSpec(cfg.image_size, cfg.search_factor, cfg.train_center_jitter, cfg.train_scale_jitter, cfg.border, 0.0)
        test = CropSpec(cfg.image_size, cfg.search_factor, cfg.test_center_jitter, cfg.test_scale_jitter, cfg.border, 0.0)
        self.specs = [train] * cfg.num_train + [test] * cfg.num_test

    def frame_sampling(self) -> FrameSamplingConfig:
        return FrameSamplingConfig(num_before=self.cfg.num_train, num_after=self.cfg.num_test,
                                   max_gap=self.cfg.max_gap, image_min_box_side=self.cfg.image_min_box_side)

    def __call__(self, images: list[np.ndarray], boxes: np.ndarray, rng: np.random.Generator) -> dict:
        """One sample.

        Args:
            images: ``num_train`` train frames then ``num_test`` test frames, (H_i, W_i, 3) uint8.
            boxes: (num_train + num_test, 4) ground-truth xywh boxes in image pixels.
        Returns:
            dict: ``train_images`` / ``test_images``: lists of (S, S, 3) uint8 crops ((S, S) luma
            after grayscale), ``brightness`` (Ntr+Nte,) factors (applied by the collate),
            ``train_boxes`` / ``test_boxes`` (N, 4) float32
            crop pixels; ``test_proposals`` (Nte, P, 4) float32 and ``proposal_iou`` (Nte, P) or
            ``proposal_density`` / ``gt_density`` (Nte, P) float32.
        Raises:
            InvalidSample: a crop window is all padding.
        """
        cfg = self.cfg
        ntr, nte = cfg.num_train, cfg.num_test
        n = ntr + nte
        if len(images) != n or np.shape(boxes) != (n, 4):
            raise ValueError(f"DiMP sample needs {n} frames and ({n}, 4) boxes, got {len(images)} and {np.shape(boxes)}")
        gray = bool(rng.random() < cfg.grayscale_prob)
        flips = (rng.random() < cfg.flip_prob) ^ (rng.random(n) < cfg.crop_flip_prob)
        bright = brightness_factors(rng, cfg.brightness_jitter, n)
        crops, in_crop = crop_frames(images, boxes, self.specs, rng)
        size = float(cfg.image_size)
        in_crop[flips, 0] = size - in_crop[flips, 0] - in_crop[flips, 2]
        done = [finish_crop(crops[k], gray, bool(flips[k])) for k in range(n)]
        out = {
            "train_images": done[:ntr], "test_images": done[ntr:], "brightness": bright,
            "train_boxes": in_crop[:ntr].astype(np.float32), "test_boxes": in_crop[ntr:].astype(np.float32),
        }
        if cfg.box_regression == "iou":
            props, iou = perturb_boxes(in_crop[ntr:], cfg.num_proposals, cfg.proposal_sigmas, cfg.proposal_min_iou, rng)
            out["test_proposals"] = props.astype(np.float32)
            out["proposal_iou"] = (2.0 * iou - 1.0).astype(np.float32)
        else:
            props, pd, gd = sample_box_gmm(in_crop[ntr:], cfg.kl_proposal_sigma, cfg.kl_gt_sigma, cfg.num_proposals, rng)
            out["test_proposals"] = props.astype(np.float32)
            out["proposal_density"] = pd.astype(np.float32)
            out["gt_density"] = gd.astype(np.float32)
        return out

    def _label(self, boxes: np.ndarray) -> torch.Tensor:
        cfg = self.cfg
        return torch.from_numpy(dimp_gaussian_label(
            boxes, cfg.image_size, cfg.stride, cfg.output_sigma_factor / cfg.search_factor, cfg.label_kernel_size,
        ))

    def collate(self, samples: list[dict]) -> dict:
        """Stack B samples into the CIA batch (``docs/INTERFACES.md``), frames first.

        Each sample also needs ``video_id`` (int) and ``category_name`` (str or None).
        """
        if not samples:
            raise ValueError("cannot collate an empty list of samples")
        cfg = self.cfg
        b = len(samples)
        s = cfg.image_size
        batch: dict = {}
        bright = np.stack([x["brightness"] for x in samples], axis=1)          # (Ntr+Nte, B)
        for key, sl in (("train", slice(0, cfg.num_train)), ("test", slice(cfg.num_train, None))):
            n = len(samples[0][key + "_images"])
            crops = [x[key + "_images"][k] for k in range(n) for x in samples]  # frame-major
            batch[key + "_images"] = normalize_crops(crops, bright[sl].reshape(-1)).view(n, b, 3, s, s)
            boxes = np.stack([x[key + "_boxes"] for x in samples], axis=1)     # (N, B, 4)
            batch[key + "_boxes"] = torch.from_numpy(boxes)
            batch[key + "_label"] = self._label(boxes)
        for key in ("test_proposals", "proposal_iou", "proposal_density", "gt_density"):
            if key in samples[0]:
                batch[key] = torch.from_numpy(np.stack([x[key] for x in samples], axis=1))
        batch["category"] = torch.tensor(
            [int(self.category_index(x.get("category_name"))) for x in samples], dtype=torch.int64)
        batch["video_id"] = torch.tensor([int(x["video_id"]) for x in samples], dtype=torch.int64)
        return batch
