"""DiMP's initial-frame augmentation: the first frame's crop is expanded into 13 image samples
(identity, 4 relative shifts, a horizontal flip, 3 blurs, 4 rotations; every non-identity one with a
small random shift), each made with one OpenCV warp from a single expanded crop.

The expanded crop is the ordinary crop window (``datasets.geometry.crop_transform``) grown by
`expansion` at the same scale, so that shifted / rotated samples see real image content instead of
padding. Target boxes follow the shifts and the flip; rotations and blurs keep the box (as DiMP).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from datasets.geometry import CropTransform, crop_image


@dataclass(frozen=True)
class Augmentation:
    shift: tuple[float, float] = (0.0, 0.0)   # output pixels (x, y)
    flip: bool = False
    blur: tuple[float, float] | None = None   # Gaussian sigma (x, y) in crop pixels
    rotation: float = 0.0                      # degrees, counter-clockwise, about the crop centre


def init_augmentations(params, out_size: int, rng: np.random.Generator) -> list[Augmentation]:
    """The augmentation list of `params` (a CIATrackerParams); identity first."""
    def rand_shift() -> tuple[float, float]:
        s = (rng.random(2) - 0.5) * out_size * params.random_shift_factor
        return float(s[0]), float(s[1])

    augs = [Augmentation()]
    if not params.use_augmentation:
        return augs
    augs += [Augmentation(shift=(sx * out_size / 2, sy * out_size / 2)) for sx, sy in params.aug_relative_shifts]
    if params.aug_flip:
        augs.append(Augmentation(shift=rand_shift(), flip=True))
    augs += [Augmentation(shift=rand_shift(), blur=tuple(b)) for b in params.aug_blurs]
    augs += [Augmentation(shift=rand_shift(), rotation=float(r)) for r in params.aug_rotations]
    return augs


def _affine(aug: Augmentation, in_size: int, out_size: int) -> np.ndarray:
    """2x3 OpenCV matrix (pixel-index coordinates) mapping the expanded crop to the output sample."""
    th = np.deg2rad(aug.rotation)
    lin = np.array([[np.cos(th), np.sin(th)], [-np.sin(th), np.cos(th)]])   # CCW on screen (y down)
    if aug.flip:
        lin = lin @ np.diag([-1.0, 1.0])
    # continuous coords: out = lin (p - in/2) + out/2 + shift; pixel index = continuous - 0.5
    t = lin @ (np.array([0.5, 0.5]) - in_size / 2.0) + out_size / 2.0 + np.asarray(aug.shift) - 0.5
    return np.concatenate([lin, t[:, None]], axis=1)


def augmented_samples(image: np.ndarray, transform: CropTransform, box_crop_xywh: np.ndarray,
                      augs: list[Augmentation], expansion: float, border: str = "replicate"
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Make the augmented image samples.

    Args:
        image: (H, W, 3) uint8 frame.
        transform: the crop (window, scale, out_size S) of the identity sample.
        box_crop_xywh: (4,) target box in the identity sample's crop pixels.
        augs: from `init_augmentations`.
        expansion: side of the expanded crop / S.
    Returns:
        samples (K, S, S, 3) uint8 and their target boxes (K, 4) xywh in sample pixels.
    """
    s = transform.out_size
    e = int(round(s * expansion / 2.0)) * 2
    big = crop_image(image, CropTransform(transform.cx, transform.cy, transform.scale, e), border=border)
    mode = cv2.BORDER_REPLICATE if border == "replicate" else cv2.BORDER_CONSTANT
    samples, boxes = [], []
    b = np.asarray(box_crop_xywh, dtype=np.float64)
    for aug in augs:
        src = big
        if aug.blur is not None:
            src = cv2.GaussianBlur(big, (0, 0), sigmaX=aug.blur[0], sigmaY=aug.blur[1], borderType=cv2.BORDER_REPLICATE)
        samples.append(cv2.warpAffine(src, _affine(aug, e, s), (s, s), flags=cv2.INTER_LINEAR, borderMode=mode))
        x = s - b[0] - b[2] if aug.flip else b[0]
        boxes.append([x + aug.shift[0], b[1] + aug.shift[1], b[2], b[3]])
    return np.stack(samples), np.asarray(boxes, dtype=np.float64)
