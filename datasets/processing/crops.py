"""One training crop: jitter the box, check the window, warp once (`datasets.geometry`).

The crop itself is `datasets.geometry.crop_transform` + `crop_image`, the same function the online
trackers use, so training and inference crops are identical for the same window.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from datasets.geometry import CropTransform, crop_image, crop_transform, padding_fraction
from datasets.processing.augment import jitter_box


class InvalidSample(ValueError):
    """A drawn sample cannot be used (e.g. a crop window entirely outside the image).

    The sample loader catches exactly this exception, counts it, logs it with the sequence name and
    frame, and redraws; it is never silently ignored.

    Attributes:
        role: position of the offending frame inside the sample (0 = first frame of the sample).
    """

    def __init__(self, message: str, role: int) -> None:
        super().__init__(message)
        self.role = role


@dataclass(frozen=True)
class CropSpec:
    """Window and jitter of one crop role (e.g. "search")."""

    out_size: int
    area_factor: float
    center_jitter: float
    scale_jitter: float
    border: str = "constant"          # "constant" (OSTrack, zeros) | "replicate" (DiMP)
    border_value: float = 0.0


def jittered_crop(
    image: np.ndarray, box_xywh: np.ndarray, spec: CropSpec, rng: np.random.Generator, role: int = 0
) -> tuple[np.ndarray, np.ndarray, CropTransform]:
    """Crop `image` around the jittered `box_xywh` (one ``cv2.warpAffine``).

    Args:
        image: (H, W, 3) uint8 RGB frame.
        box_xywh: (4,) target box in image pixels (the ground truth; the crop is centred on its
            jittered copy).
        role: frame position, reported in `InvalidSample`.
    Returns:
        crop (out_size, out_size, 3) uint8, target box in crop pixels (4,) float64, transform.
    Raises:
        InvalidSample: the crop window lies entirely outside the image (all padding).
    """
    window = jitter_box(box_xywh, spec.center_jitter, spec.scale_jitter, rng)
    t = crop_transform(window, spec.area_factor, spec.out_size)
    if padding_fraction(t, image.shape[:2]) >= 1.0:
        raise InvalidSample(
            f"crop window centre ({t.cx:.1f}, {t.cy:.1f}) side {t.window_side:.1f} lies entirely outside "
            f"the {image.shape[1]}x{image.shape[0]} image (all padding)", role,
        )
    crop = crop_image(image, t, spec.border, spec.border_value)
    return crop, t.box_to_crop(box_xywh), t
