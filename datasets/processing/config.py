"""Typed configs of the two processing pipelines (values: OSTrack / pytracking DiMP defaults)."""
from __future__ import annotations

from dataclasses import dataclass

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class OSTrackProcessingConfig:
    """HCTrack (OSTrack-style) sample: static template, dynamic template, search crop.

    Sizes in pixels; factors are crop side / sqrt(target area).
    """

    template_size: int = 128
    template_factor: float = 2.0
    search_size: int = 256
    search_factor: float = 4.0
    stride: int = 16                      # pixels per score-map cell
    template_center_jitter: float = 0.0
    template_scale_jitter: float = 0.0
    search_center_jitter: float = 3.0
    search_scale_jitter: float = 0.25
    max_gap: int = 200                    # frames between template and search (causal sampling)
    grayscale_prob: float = 0.05          # joint, whole sample
    brightness_jitter: float = 0.2        # per crop, factor U[1-b, 1+b]
    flip_prob: float = 0.5                # joint horizontal flip of all frames of a sample
    border_value: float = 0.0             # zero padding (OSTrack)
    # -- added by the training pipeline (backward compatible) --
    crop_flip_prob: float = 0.5           # per-crop horizontal flip, rolled per crop (OSTrack RandomHorizontalFlip_Norm)
    image_min_box_side: float = 50.0      # one-frame (COCO) samples need both box sides > this (OSTrack COCO loader)

    def __post_init__(self) -> None:
        for n in ("template_size", "search_size", "stride"):
            if getattr(self, n) <= 0:
                raise ValueError(f"{n}={getattr(self, n)} must be > 0")
        if self.search_size % self.stride or self.template_size % self.stride:
            raise ValueError(
                f"template_size ({self.template_size}) and search_size ({self.search_size}) "
                f"must be multiples of stride ({self.stride})"
            )
        if self.template_factor <= 0 or self.search_factor <= 0:
            raise ValueError("area factors must be > 0")

    @property
    def feat_size(self) -> int:
        """Side of the search score map (search_size / stride)."""
        return self.search_size // self.stride


@dataclass(frozen=True)
class DiMPProcessingConfig:
    """CIA (DiMP-style) sample: `num_train` train crops and `num_test` test crops of one video."""

    image_size: int = 288                 # crop side in pixels (288 cia18, 352 cia50)
    search_factor: float = 5.0            # 5.0 cia18, 6.0 cia50
    stride: int = 16                      # feature stride of layer3
    num_train: int = 3
    num_test: int = 3
    max_gap: int = 30                     # 30 cia18, 200 cia50
    train_center_jitter: float = 3.0
    train_scale_jitter: float = 0.25
    test_center_jitter: float = 4.5       # 4.5 cia18, 5.5 cia50
    test_scale_jitter: float = 0.5
    output_sigma_factor: float = 0.25     # label sigma = output_sigma_factor / search_factor * feat side
    label_kernel_size: int = 4            # filter size: even kernel -> label of side feat+1
    border: str = "replicate"             # "replicate" (DiMP18/CIA18) or "constant"
    grayscale_prob: float = 0.05
    brightness_jitter: float = 0.2
    flip_prob: float = 0.0                # 0 for DiMP18, 0.5 for SuperDiMP/CIA50
    box_regression: str = "iou"           # "iou" (ATOM IoU-Net, cia18) or "kl" (cia50)
    num_proposals: int = 8                # 8 for IoU-Net, 128 for KL
    proposal_sigmas: tuple[float, ...] = (0.01, 0.05, 0.1, 0.2, 0.3)   # IoU-Net perturbation
    kl_proposal_sigma: tuple[tuple[float, float], ...] = ((0.05, 0.05), (0.5, 0.5))
    kl_gt_sigma: tuple[float, float] = (0.05, 0.05)
    # -- added by the training pipeline (backward compatible) --
    crop_flip_prob: float = 0.0           # per-crop horizontal flip (0 DiMP18; 0.5 SuperDiMP/CIA50)
    proposal_min_iou: float = 0.1         # IoU-Net proposals are redrawn until IoU > this (ATOM)
    image_min_box_side: float = 0.0       # one-frame (COCO) samples need both box sides > this (pytracking: 0)

    def __post_init__(self) -> None:
        if self.image_size % self.stride:
            raise ValueError(f"image_size ({self.image_size}) must be a multiple of stride ({self.stride})")
        if self.border not in ("replicate", "constant"):
            raise ValueError(f"border={self.border!r} must be 'replicate' or 'constant'")
        if self.box_regression not in ("iou", "kl"):
            raise ValueError(f"box_regression={self.box_regression!r} must be 'iou' or 'kl'")
        if self.num_train < 1 or self.num_test < 1:
            raise ValueError("num_train and num_test must be >= 1")

    @property
    def feat_size(self) -> int:
        return self.image_size // self.stride
