"""Training crops of one sample: jitter the boxes, check the windows, resample once per frame.

The crop is `datasets.geometry.crop_image` with a `datasets.geometry.CropTransform`, the same
function and transform the online trackers use. `sample_windows` builds the transforms of all
frames of a sample at once (vectorized): ``crop_transform(window, factor, size)`` of each
jittered window, then `datasets.geometry.snap_transform` (whole-pixel window bounds, as OSTrack's
``sample_target`` rounds its crops; at most half a pixel on top of the jitter), so that
``crop_image(..., resize_if_aligned=True)`` resamples with one ``cv2.resize`` instead of a
``cv2.warpAffine`` (2-3x faster, benchmarks/RESULTS.md). Ground-truth boxes are mapped with the
snapped transform, so boxes and pixels agree exactly.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from datasets.geometry import CropTransform, crop_image, padding_fraction
from datasets.processing.augment import jitter_boxes


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


def sample_windows(boxes_xywh: np.ndarray, specs: list[CropSpec], rng: np.random.Generator
                   ) -> tuple[list[CropTransform], np.ndarray]:
    """Jittered, whole-pixel crop windows of every frame of a sample, and the ground truth in each crop.

    Args:
        boxes_xywh: (N, 4) ground-truth boxes in image pixels, one per frame.
        specs: N crop specs.
    Returns:
        N transforms, and (N, 4) float64 ground-truth boxes in crop pixels.
    """
    b = np.asarray(boxes_xywh, dtype=np.float64).reshape(-1, 4)
    win = jitter_boxes(b, [s.center_jitter for s in specs], [s.scale_jitter for s in specs], rng)
    out = np.array([s.out_size for s in specs], dtype=np.float64)
    side = np.sqrt(win[:, 2] * win[:, 3]) * np.array([s.area_factor for s in specs])
    scale = out / side
    c = win[:, :2] + win[:, 2:4] / 2
    # snap to whole pixels (vectorized `snap_transform`): side rounded, top-left corner rounded
    side_i = np.maximum(1.0, np.rint(side))
    c = np.rint(c - side_i[:, None] / 2) + side_i[:, None] / 2
    scale = out / side_i
    ts = [CropTransform(cx=float(c[k, 0]), cy=float(c[k, 1]), scale=float(scale[k]), out_size=int(out[k]))
          for k in range(b.shape[0])]
    in_crop = np.concatenate([(b[:, :2] - c) * scale[:, None] + out[:, None] / 2, b[:, 2:4] * scale[:, None]], axis=1)
    return ts, in_crop


def crop_frames(images: list[np.ndarray], boxes_xywh: np.ndarray, specs: list[CropSpec], rng: np.random.Generator
                ) -> tuple[list[np.ndarray], np.ndarray]:
    """Crop every frame of a sample around its jittered box (one OpenCV resample each).

    Returns:
        crops: N arrays (out_size, out_size, 3) uint8; boxes: (N, 4) float64 ground truth in crop pixels.
    Raises:
        InvalidSample: a crop window lies entirely outside its image (all padding); ``role`` = frame.
    """
    ts, in_crop = sample_windows(boxes_xywh, specs, rng)
    crops = []
    for k, (img, t, spec) in enumerate(zip(images, ts, specs)):
        if padding_fraction(t, img.shape[:2]) >= 1.0:
            raise InvalidSample(
                f"crop window centre ({t.cx:.1f}, {t.cy:.1f}) side {t.window_side:.1f} lies entirely outside "
                f"the {img.shape[1]}x{img.shape[0]} image (all padding)", k,
            )
        crops.append(crop_image(img, t, spec.border, spec.border_value, resize_if_aligned=True))
    return crops, in_crop
