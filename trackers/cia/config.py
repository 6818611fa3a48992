"""CIA configs and presets (``cia18``, ``cia50``, ``cia-tiny``).

Values follow the CIA paper (Pi et al., ECCV 2022) where it is explicit, and pytracking's DiMP18 /
SuperDiMP settings (the paper's base trackers) elsewhere; see docs in each field. Every ablation
of the paper is a switch:

========================  ===============================================================
Table 1 "CC"              ``model.use_category_classification``
Table 1 "CE"              ``model.use_category_encoder``
Table 1 "CL"              ``model.use_contrastive``
Table 1 "IE"              ``model.use_instance_encoder``
Fig. 6 momentum on/off    ``model.use_momentum``
Table 2 "C = 0"           ``model.use_category_classification=False, model.num_categories=0``
                          (the category encoder then reads a free, randomly initialised
                          dictionary of ``model.dictionary_size`` atoms)
========================  ===============================================================
"""
from __future__ import annotations

from dataclasses import dataclass, field

from datasets.processing import DiMPProcessingConfig
from trackers.base import TrainConfig
from trackers.registry import register_preset


@dataclass(frozen=True)
class LossWeights:
    """Weights of the training objective (DiMP's for its terms, CIA release's for the new ones)."""

    iou: float = 1.0              # MSE on 2*IoU-1 (box_regression="iou")
    kl: float = 0.01              # KL box regression (box_regression="kl", SuperDiMP)
    test_clf: float = 100.0       # hinge loss of the final filter iterate
    test_init_clf: float = 100.0  # hinge loss of the initial filter
    test_iter_clf: float = 400.0  # spread evenly over the intermediate iterates
    contrastive: float = 1.0      # InfoNCE-V (Eq. 3)
    category: float = 0.1         # category cross-entropy (CIA release; the paper's Eq. 6 says 1)


@dataclass(frozen=True)
class ModuleLRs:
    """Adam learning rates per module (DiMP18 / CIA18 settings), for `TrainConfig.reference_batch`."""

    backbone: float = 2e-4
    classifier_features: float = 5e-5
    model_initializer: float = 5e-5
    model_optimizer: float = 5e-4
    iou_net: float = 1e-3
    instance: float = 2e-4        # mlp_q, angle-modulation projector and alpha
    category: float = 2e-4        # category classifier, dictionary and category encoder


@dataclass(frozen=True)
class CIAModelConfig:
    """Network architecture and objective of one CIA variant."""

    # -- backbone (layer1..layer3; the category classifier owns a layer4-shaped block) ---------
    backbone_block: str = "basic"                   # "basic" (ResNet-18) | "bottleneck" (ResNet-50)
    backbone_layers: tuple[int, ...] = (2, 2, 2)    # blocks in layer1..layer3
    backbone_widths: tuple[int, ...] = (64, 128, 256)
    frozen_backbone_layers: tuple[str, ...] = ()    # e.g. ("conv1", "bn1", "layer1", "layer2")
    backbone_weights: str | None = None             # torchvision ImageNet state-dict file (optional)
    # -- DiMP target classifier ---------------------------------------------------------------
    filter_size: int = 4                  # cells; even -> score map of side F+1
    optim_iter: int = 5                   # steepest-descent iterations in training
    optim_init_step: float = 0.9          # initial learned step length
    optim_init_reg: float = 0.1           # initial filter_reg (lambda = reg^2)
    optim_min_reg: float = 1e-3           # lambda >= min_reg^2
    num_dist_bins: int = 100
    bin_displacement: float = 0.1         # cells per distance bin
    mask_init_factor: float = 3.0
    clf_feat_blocks: int = 1              # BasicBlocks before the final conv (1 R18, 0 R50)
    clf_feat_dim: int = 256               # classification feature channels (256 R18, 512 R50)
    hinge_threshold: float = 0.05
    # -- box regression (IoU-Net on layer2 + layer3) -------------------------------------------
    box_regression: str = "iou"           # "iou" (ATOM IoU-Net) | "kl" (probabilistic, SuperDiMP)
    iou_pred_dims: tuple[int, int] = (256, 256)
    iou_inter_dims: tuple[int, int] = (256, 256)
    iou_ref_dims: tuple[int, int] = (128, 256)      # reference-branch conv widths (ATOM's)
    iou_test_dim: int = 256                         # first test-branch conv width (ATOM's)
    # -- instance-aware module (Sec. 3.2) ------------------------------------------------------
    use_contrastive: bool = True          # CL: InfoNCE-V on PrRoI-pooled layer3 targets
    use_momentum: bool = True             # keys from the momentum encoder (else from the query encoder)
    momentum: float = 0.999               # eta of Eq. 2
    temperature: float = 0.07             # tau of Eq. 3
    contrastive_pool_size: int = 3        # PrRoIPool bins feeding mlp_q's 3x3 conv (-> 1x1)
    use_instance_encoder: bool = True     # IE: angle modulation of layer3 (Eq. 4-5)
    # -- category-aware module (Sec. 3.3) ------------------------------------------------------
    use_category_classification: bool = True   # CC
    use_category_encoder: bool = True          # CE
    num_categories: int = 70                   # C known categories (the LaSOT classes)
    dictionary_size: int = 70                  # atoms of the free dictionary used when CC is off
    category_block: str = "basic"              # layer4-shaped block of the category classifier
    category_block_layers: int = 2
    category_block_width: int = 512            # planes (out = planes * expansion)
    encoder_layers: int = 3                    # N transformer layers
    encoder_heads: int = 4
    encoder_ffn_dim: int = 2048
    encoder_dropout: float = 0.1
    # -- objective -----------------------------------------------------------------------------
    loss_weights: LossWeights = field(default_factory=LossWeights)
    lrs: ModuleLRs = field(default_factory=ModuleLRs)

    def __post_init__(self) -> None:
        if self.backbone_block not in ("basic", "bottleneck"):
            raise ValueError(f"backbone_block={self.backbone_block!r} must be 'basic' or 'bottleneck'")
        if len(self.backbone_layers) != 3 or len(self.backbone_widths) != 3:
            raise ValueError("backbone_layers and backbone_widths need 3 entries (layer1..layer3)")
        if self.box_regression not in ("iou", "kl"):
            raise ValueError(f"box_regression={self.box_regression!r} must be 'iou' or 'kl'")
        if self.filter_size < 1 or self.optim_iter < 0 or self.num_dist_bins < 2:
            raise ValueError("filter_size >= 1, optim_iter >= 0 and num_dist_bins >= 2 are required")
        if not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"momentum={self.momentum} must be in [0, 1)")
        if self.temperature <= 0:
            raise ValueError(f"temperature={self.temperature} must be > 0")
        if self.use_category_classification and self.num_categories < 1:
            raise ValueError(
                "use_category_classification=True needs num_categories >= 1 (Table 2's C = 0 is "
                "use_category_classification=False, num_categories=0)"
            )
        if self.num_categories < 0 or self.dictionary_size < 1:
            raise ValueError("num_categories >= 0 and dictionary_size >= 1 are required")
        if self.encoder_heads < 1 or self.encoder_layers < 1:
            raise ValueError("encoder_heads and encoder_layers must be >= 1")

    @property
    def layer3_channels(self) -> int:
        return self.backbone_widths[2] * (4 if self.backbone_block == "bottleneck" else 1)

    @property
    def layer2_channels(self) -> int:
        return self.backbone_widths[1] * (4 if self.backbone_block == "bottleneck" else 1)


@dataclass(frozen=True)
class CIATrackerParams:
    """Online tracking parameters (pytracking DiMP18 defaults, §B.7 of reference_trackers.md)."""

    image_sample_size: int = 288          # crop side (px); a multiple of 16
    search_area_scale: float = 5.0        # crop side / sqrt(target area)
    border: str = "replicate"
    # initial augmentation: identity + shifts + flip + blurs + rotations, + dropout copies
    use_augmentation: bool = True
    augmentation_expansion_factor: float = 2.0
    random_shift_factor: float = 1.0 / 3.0
    aug_relative_shifts: tuple[tuple[float, float], ...] = ((0.6, 0.6), (-0.6, 0.6), (0.6, -0.6), (-0.6, -0.6))
    aug_flip: bool = True
    aug_blurs: tuple[tuple[float, float], ...] = ((3.0, 1.0), (1.0, 3.0), (2.0, 2.0))
    aug_rotations: tuple[float, ...] = (10.0, -10.0, 45.0, -45.0)
    aug_dropout: tuple[int, float] = (2, 0.2)    # (copies, drop probability)
    # filter optimisation and memory
    net_opt_iter: int = 10
    net_opt_update_iter: int = 2
    net_opt_hn_iter: int = 1
    sample_memory_size: int = 50
    learning_rate: float = 0.01
    init_samples_minimum_weight: float = 0.25
    train_skipping: int = 20
    update_classifier: bool = True
    # localisation with distractor handling
    advanced_localization: bool = True
    target_not_found_threshold: float = 0.25
    distractor_threshold: float = 0.8
    hard_negative_threshold: float = 0.5
    target_neighborhood_scale: float = 2.2
    displacement_scale: float = 0.8
    hard_negative_learning_rate: float = 0.02
    update_scale_when_uncertain: bool = True
    target_inside_ratio: float = 0.2
    min_target_size: float = 10.0         # px; lower bound of the scale (pytracking: 10 px)
    # IoU-Net refinement
    use_iou_net: bool = True
    num_init_random_boxes: int = 9
    box_jitter_pos: float = 0.1
    box_jitter_sz: float = 0.5
    maximal_aspect_ratio: float = 6.0
    box_refinement_iter: int = 5
    box_refinement_step_length: float = 1.0
    box_refinement_step_decay: float = 1.0
    box_refinement_space: str = "default"  # "default" (DiMP18) | "relative" (SuperDiMP)
    iounet_k: int = 3
    seed: int = 0                         # RNG of augmentation and box jitter (deterministic runs)
    # speed switches (the filter optimisation and the IoU-Net box ascent always run in float32)
    precision: str = "fp32"               # "fp32" | "bf16" | "fp16": autocast of the feature networks
    compile: bool = False                 # torch.compile the feature networks (backbone -> classification and IoU features)

    def __post_init__(self) -> None:
        if self.precision not in ("fp32", "bf16", "fp16"):
            raise ValueError(f"tracker.precision={self.precision!r} must be 'fp32', 'bf16' or 'fp16'")
        if self.image_sample_size % 16:
            raise ValueError(f"image_sample_size={self.image_sample_size} must be a multiple of 16")
        if self.search_area_scale <= 1:
            raise ValueError(f"search_area_scale={self.search_area_scale} must be > 1")
        if self.box_refinement_space not in ("default", "relative"):
            raise ValueError(f"box_refinement_space={self.box_refinement_space!r} must be 'default' or 'relative'")
        if self.border not in ("replicate", "constant"):
            raise ValueError(f"border={self.border!r} must be 'replicate' or 'constant'")
        if self.sample_memory_size < 2:
            raise ValueError("sample_memory_size must be >= 2")


@dataclass(frozen=True)
class CIAConfig:
    """A complete CIA preset: model, training data processing, training schedule, tracking."""

    name: str = "cia18"
    family: str = "cia"
    model: CIAModelConfig = field(default_factory=CIAModelConfig)
    data: DiMPProcessingConfig = field(default_factory=DiMPProcessingConfig)
    train: TrainConfig = field(default_factory=lambda: _train_cia18())
    tracker: CIATrackerParams = field(default_factory=CIATrackerParams)

    def __post_init__(self) -> None:
        if self.family != "cia":
            raise ValueError(f"CIAConfig.family must be 'cia', got {self.family!r}")
        if self.data.box_regression != self.model.box_regression:
            raise ValueError(
                f"data.box_regression={self.data.box_regression!r} != model.box_regression="
                f"{self.model.box_regression!r}"
            )
        if self.data.stride != 16:
            raise ValueError(f"data.stride={self.data.stride}: CIA classifies on layer3 (stride 16)")
        if self.data.label_kernel_size != self.model.filter_size:
            raise ValueError(
                f"data.label_kernel_size={self.data.label_kernel_size} must equal model.filter_size="
                f"{self.model.filter_size} (the label and score maps have the same size)"
            )


def _train_cia18() -> TrainConfig:
    # Paper: Adam, lr decay 0.2 every 15 epochs, 50 epochs, 2000 iterations of 64 sequences.
    return TrainConfig(
        optimizer="adam", lr=2e-4, reference_batch=64, weight_decay=0.0, backbone_lr_mult=1.0,
        epochs=50, samples_per_epoch=128_000, batch_size=64, lr_step_epochs=15, lr_gamma=0.2,
        grad_clip=None, videos_per_batch_pairs=1, amp=False, seed=0,
        dataset_ratios=(("lasot", 0.25), ("got10k", 1.0), ("trackingnet", 1.0), ("coco", 1.0)),
    )


@register_preset("cia18")
def cia18() -> CIAConfig:
    """CIA18: DiMP18 base, ResNet-18, 288 px crops at area factor 5, 18x18 layer3 features.

    Tracking uses the training geometry and DiMP18's parameters; the CIA release tracked CIA18 at
    352 px / factor 6 (SuperDiMP's) although it trained at 288 px / factor 5, a mismatch not copied.
    """
    return CIAConfig(name="cia18")


@register_preset("cia50")
def cia50() -> CIAConfig:
    """CIA50: SuperDiMP base, ResNet-50 (conv1..layer2 frozen), 352 px at factor 6, KL box regression.

    The classifier stays DiMP's (steepest descent + hinge), as in the CIA release's CIA50 actor;
    SuperDiMP's own classifier is PrDiMP's Newton/KL one. Tracking uses SuperDiMP's geometry and
    relative-space box refinement; crops replicate the border (SuperDiMP's "inside_major" crop
    mode is not reproduced: one crop function serves training and tracking).
    """
    model = CIAModelConfig(
        backbone_block="bottleneck", backbone_layers=(3, 4, 6), backbone_widths=(64, 128, 256),
        frozen_backbone_layers=("conv1", "bn1", "layer1", "layer2"),
        clf_feat_blocks=0, clf_feat_dim=512, box_regression="kl",
        category_block="bottleneck", category_block_layers=3, category_block_width=512,
        lrs=ModuleLRs(backbone=2e-5),
    )
    data = DiMPProcessingConfig(
        image_size=352, search_factor=6.0, max_gap=200, test_center_jitter=5.5, flip_prob=0.5,
        box_regression="kl", num_proposals=128,
    )
    train = TrainConfig(
        optimizer="adam", lr=2e-4, reference_batch=20, weight_decay=0.0, backbone_lr_mult=1.0,
        epochs=50, samples_per_epoch=40_000, batch_size=20, lr_step_epochs=15, lr_gamma=0.2,
        grad_clip=None, videos_per_batch_pairs=1, amp=False, seed=0,
        dataset_ratios=(("lasot", 1.0), ("got10k", 1.0), ("trackingnet", 1.0), ("coco", 1.0)),
    )
    tracker = CIATrackerParams(
        image_sample_size=352, search_area_scale=6.0, box_refinement_space="relative",
        box_refinement_iter=10, box_refinement_step_length=2.5e-3, learning_rate=0.0075,
    )
    return CIAConfig(name="cia50", model=model, data=data, train=train, tracker=tracker)


@register_preset("cia-tiny")
def cia_tiny() -> CIAConfig:
    """A CPU-trainable CIA: narrow 1-block-per-stage ResNet (32/64/128 wide), 128 px crops at
    factor 4 (8x8 features), 2 train + 2 test frames, 3 optimizer iterations, small IoU-Net and
    category encoder (2.8 M parameters).

    Every CIA module is on; meant for the synthetic benchmark (320x240 frames, 20-60 px targets).
    """
    model = CIAModelConfig(
        backbone_layers=(1, 1, 1), backbone_widths=(32, 64, 128),
        optim_iter=3, clf_feat_dim=128, iou_pred_dims=(64, 64), iou_inter_dims=(64, 64),
        iou_ref_dims=(32, 64), iou_test_dim=64,
        category_block_layers=1, category_block_width=128, encoder_ffn_dim=256, encoder_heads=4,
        lrs=ModuleLRs(backbone=1e-3, classifier_features=5e-4, model_initializer=5e-4,
                      model_optimizer=1e-3, iou_net=2e-3, instance=1e-3, category=1e-3),
    )
    data = DiMPProcessingConfig(
        image_size=128, search_factor=4.0, num_train=2, num_test=2, max_gap=30, num_proposals=8,
        train_center_jitter=2.0, test_center_jitter=3.0, test_scale_jitter=0.3,
    )
    # ~1.1 s per step of 8 sequences x 4 crops on 2 CPU cores (2 threads) -> 450 steps ~ 9-10 min
    train = TrainConfig(
        optimizer="adam", lr=1e-3, reference_batch=8, weight_decay=0.0, backbone_lr_mult=1.0,
        epochs=9, samples_per_epoch=400, batch_size=8, lr_step_epochs=6, lr_gamma=0.2,
        grad_clip=None, videos_per_batch_pairs=1, amp=False, seed=0,
        dataset_ratios=(("synthetic", 1.0),),
    )
    tracker = CIATrackerParams(
        image_sample_size=128, search_area_scale=4.0, net_opt_iter=5, sample_memory_size=30,
        train_skipping=10, min_target_size=5.0,
    )
    return CIAConfig(name="cia-tiny", model=model, data=data, train=train, tracker=tracker)
