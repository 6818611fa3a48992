"""The online CIA tracker: DiMP inference on CIA's instance- and category-aware features.

As the paper's testing section says, the contrastive branch and the category classification head
are not used online; the instance encoder (with mlp_q's weights) and the category encoder (with
the fixed, learned category atoms) stay in the feature path of the target classifier.

Per sequence (DiMP, pytracking's parameters in `CIATrackerParams`):

* ``initialize``: crop the first frame (``datasets.geometry.crop_transform`` / ``crop_image``, the
  training crop, border replicate), expand it into 13 augmented samples + 2 dropout copies of the
  identity features, learn the filter (model initializer + `net_opt_iter` steepest-descent
  steps), store the samples in the memory, compute the IoU-Net modulation from the identity crop.
* ``track``: crop around the previous box, score with the filter, localise (distractor-aware), refine
  the box with the IoU-Net (all candidates batched), then add the frame to the memory and update
  the filter (every `train_skipping` frames, or at once on hard negatives).

Speed: the model is prepared by `trackers.common.inference.prepare_for_inference` (eval mode in
place; on CPU channels-last conv weights and no per-frame page faults); ``precision`` ("bf16" /
"fp16") runs the feature networks (backbone, instance/category modules, classification and
IoU-Net test features) under autocast and ``compile`` wraps them in ``torch.compile``; the filter
optimisation, localisation and IoU-Net box ascent always run in float32. Per frame the host reads
the score map once (finiteness checked there), the candidate boxes are jittered on the host and
refined in one batch on IoU features computed once per frame, and the result comes back in one
transfer. The box ascent takes the IoU-Net's scores and box gradients in closed form
(`trackers.cia.dimp.iou_scorer.IoUBoxScorer`: folded BatchNorm, pooling from the reachable window
of the map on CPU, the reference modulation applied to that window only, no autograd), the same
values as autograd through the predictor.

Coordinates: continuous image pixels, ``xywh`` boxes, centres ``x + w/2`` (no (y, x) state).
Score cell ``m`` of the (S/16 + 1)-sided map sits at crop pixel ``16 m`` (even filter).
Scores are the raw filter response; the reported confidence is the peak clipped to [0, 1].
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn

from datasets.geometry import box_is_valid, crop_image, crop_transform
from datasets.processing.config import IMAGENET_MEAN, IMAGENET_STD
from trackers.base import TrackResult
from trackers.cia.box_refinement import jittered_boxes, optimize_boxes, select_box
from trackers.cia.config import CIATrackerParams
from trackers.cia.dimp.filter_ops import apply_filter
from trackers.cia.dimp.iou_scorer import IoUBoxScorer
from trackers.cia.init_augmentation import augmented_samples, init_augmentations
from trackers.cia.localization import localize
from trackers.cia.model import FEATURE_STRIDE
from trackers.cia.sample_memory import SampleMemory
from trackers.common.inference import prepare_for_inference

_AMP_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


class CIATracker:
    """``initialize(image, box_xywh)`` then ``track(image) -> TrackResult`` (see module docstring)."""

    def __init__(self, model: nn.Module, params: CIATrackerParams, name: str = "cia", device: str = "cpu") -> None:
        self.name = name
        self.params = params
        self.device = torch.device(device)
        self.net = prepare_for_inference(model, self.device)
        self.mean = torch.tensor(IMAGENET_MEAN, device=self.device).reshape(1, 3, 1, 1)
        self.std = torch.tensor(IMAGENET_STD, device=self.device).reshape(1, 3, 1, 1)
        self._state: dict | None = None
        self._amp_dtype = _AMP_DTYPES[params.precision]
        head = self.net.box_head
        compile_ = torch.compile if params.compile else (lambda fn: fn)
        self._feature_fn = compile_(self._feature_networks)
        self._iou_feature_fn = compile_(head.get_iou_feat)
        self._scorer: IoUBoxScorer | None = None                  # built per sequence (initialize)

    # -- helpers ---------------------------------------------------------------------------------
    def _to_tensor(self, crops: np.ndarray) -> Tensor:
        """(K, S, S, 3) uint8 -> (K, 3, S, S) float32 ImageNet-normalised."""
        x = torch.from_numpy(np.ascontiguousarray(crops)).to(self.device).permute(0, 3, 1, 2).float() / 255.0
        return (x - self.mean) / self.std

    @staticmethod
    def _check_image(image: np.ndarray) -> None:
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            shape = getattr(image, "shape", None)
            raise ValueError(f"image must be an (H, W, 3) uint8 RGB array, got {shape} {getattr(image, 'dtype', type(image))}")

    def _feature_networks(self, images: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        feats = self.net.extract(images)
        return feats["layer2"], feats["layer3"], self.net.classification_features(feats["layer3"])

    def _run(self, fn, *args: Tensor) -> tuple[Tensor, ...]:
        """``fn(*args)`` under the configured autocast; floating outputs returned as float32."""
        if self._amp_dtype is None:
            return fn(*args)
        with torch.autocast(self.device.type, dtype=self._amp_dtype):
            out = fn(*args)
        return tuple(t.float() for t in out)

    def _features(self, images: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(K, 3, S, S) -> layer2, layer3, classification features (float32)."""
        return self._run(self._feature_fn, images)

    def _iou_features(self, l2: Tensor, l3: Tensor) -> tuple[Tensor, Tensor]:
        """IoU-Net test-branch features of layer2, layer3 (float32)."""
        return self._run(self._iou_feature_fn, l2, l3)

    # -- public API ----------------------------------------------------------------------------
    @torch.no_grad()
    def initialize(self, image: np.ndarray, box_xywh: np.ndarray) -> None:
        """Start a sequence. Raises ValueError for a bad image, an init box with NaN / zero size, or
        one with no overlap with the image (a box partly outside is used as given, as in DiMP)."""
        self._check_image(image)
        box = np.asarray(box_xywh, dtype=np.float64).reshape(-1)
        if box.shape != (4,) or not box_is_valid(box):
            raise ValueError(f"init box {np.asarray(box_xywh).tolist()} is invalid: needs finite x, y, w, h with w, h > 0")
        h_img, w_img = image.shape[:2]
        if box[0] >= w_img or box[1] >= h_img or box[0] + box[2] <= 0 or box[1] + box[3] <= 0:
            raise ValueError(f"init box {box.tolist()} lies outside the {w_img}x{h_img} image")
        p = self.params
        rng = np.random.default_rng(p.seed)
        gen = torch.Generator().manual_seed(p.seed)
        s = p.image_sample_size
        t = crop_transform(box, p.search_area_scale, s)
        box_crop = t.box_to_crop(box)
        augs = init_augmentations(p, s, rng)
        crops, boxes = augmented_samples(image, t, box_crop, augs, p.augmentation_expansion_factor, p.border)
        x = self._to_tensor(crops)
        l2, l3, clf = self._features(x)                                          # (K, C, H, W) each
        boxes_t = torch.from_numpy(boxes).float().to(self.device)
        if p.use_augmentation and p.aug_dropout[0] > 0:
            n_drop, prob = p.aug_dropout
            drop = torch.cat([_dropout2d(clf[:1], prob, gen) for _ in range(n_drop)])
            clf = torch.cat([clf, drop])
            boxes_t = torch.cat([boxes_t, boxes_t[:1].expand(n_drop, 4)])
        tc = self.net.target_classifier
        filt, _, _ = tc.get_filter(clf[:, None], boxes_t[:, None], num_iter=p.net_opt_iter)
        memory = SampleMemory(p.sample_memory_size, p.init_samples_minimum_weight)
        memory.initialize(clf, boxes_t)
        modulation = self.net.box_head.get_modulation(l2[:1], l3[:1], boxes_t[:1])
        # the box ascent's scorer: folds the head's current weights, so built per sequence
        self._scorer = IoUBoxScorer(self.net.box_head, crop=self.device.type == "cpu")
        self._state = {
            "center": np.array([box[0] + box[2] / 2, box[1] + box[3] / 2]), "size": box[2:].copy(),
            "base_size": box[2:].copy(), "image_hw": image.shape[:2], "filter": filt, "memory": memory,
            "modulation": modulation, "frame": 1, "box": box.copy(), "gen": gen,
        }

    @torch.no_grad()
    def track(self, image: np.ndarray) -> TrackResult:
        """Track one frame; a NaN/degenerate result repeats the previous box with flag "fallback"."""
        if self._state is None:
            raise ValueError("track() called before initialize()")
        self._check_image(image)
        st, p = self._state, self.params
        st["frame"] += 1
        st["image_hw"] = image.shape[:2]
        prev_box = st["box"]
        try:
            box, score, flag, sample = self._step(image)
        except FloatingPointError:
            box = None
        if box is None or not box_is_valid(box):
            return TrackResult(prev_box.copy(), 0.0, "fallback")
        st["box"] = box
        st["center"] = box[:2] + box[2:] / 2
        st["size"] = box[2:].copy()
        if p.update_classifier and flag not in ("not_found", "uncertain") and sample is not None:
            self._update_classifier(*sample, flag)
        return TrackResult(box.copy(), float(np.clip(score, 0.0, 1.0)))

    # -- one frame -------------------------------------------------------------------------------
    def _step(self, image: np.ndarray):
        st, p = self._state, self.params
        s = p.image_sample_size
        t = crop_transform(np.concatenate([st["center"] - st["size"] / 2, st["size"]]), p.search_area_scale, s)
        x = self._to_tensor(crop_image(image, t, border=p.border)[None])
        l2, l3, clf = self._features(x)
        scores = apply_filter(clf[None], st["filter"])[0, 0].double().cpu()           # (Ho, Wo), one sync
        if not bool(torch.isfinite(scores).all()):
            raise FloatingPointError("non-finite score map")
        size_cells = torch.from_numpy(st["size"][::-1] * t.scale / FEATURE_STRIDE)
        prev_crop = np.array([(st["center"][1] - t.cy) * t.scale + s / 2, (st["center"][0] - t.cx) * t.scale + s / 2])
        prev_cells = torch.from_numpy(prev_crop / FEATURE_STRIDE)
        peak, flag, score = localize(scores, size_cells, prev_cells, p)
        center_crop = peak.numpy()[::-1] * FEATURE_STRIDE                            # (x, y) crop pixels
        size_crop = st["size"] * t.scale
        if flag == "not_found":
            new_box_crop = np.concatenate([prev_crop[::-1] - size_crop / 2, size_crop])
        else:
            new_box_crop = np.concatenate([center_crop - size_crop / 2, size_crop])
            if p.use_iou_net and (flag != "uncertain" or p.update_scale_when_uncertain):
                refined = self._refine(l2, l3, new_box_crop)
                if refined is not None:
                    new_box_crop = refined
        box = self._constrain(t.box_to_image(new_box_crop))
        sample = (clf[0], torch.from_numpy(t.box_to_crop(box)).float().to(self.device))
        return box, score, flag, sample

    def _refine(self, l2: Tensor, l3: Tensor, box_crop: np.ndarray) -> np.ndarray | None:
        p, st = self.params, self._state
        feat = self._iou_features(l2, l3)          # modulated by the scorer, on the pooled windows only
        init = torch.from_numpy(box_crop).float()
        cands = jittered_boxes(init, p.num_init_random_boxes, p.box_jitter_pos, p.box_jitter_sz, st["gen"])

        def value_and_grad(b: Tensor) -> tuple[Tensor, Tensor]:
            return self._scorer(feat, b, modulation=st["modulation"])

        boxes, scores = optimize_boxes(value_and_grad, cands.to(self.device), p.box_refinement_iter,
                                       p.box_refinement_step_length, p.box_refinement_step_decay, p.box_refinement_space)
        result = torch.cat([boxes, scores[:, None]], dim=1).cpu().double()          # one transfer
        chosen = select_box(result[:, :4], result[:, 4], p.iounet_k, p.maximal_aspect_ratio)
        return None if chosen is None else chosen[0].numpy()

    def _constrain(self, box: np.ndarray) -> np.ndarray:
        """Scale bounds and the target-inside rule (>= `target_inside_ratio` of the box in the image)."""
        p, st = self.params, self._state
        h_img, w_img = st["image_hw"]
        base = st["base_size"]
        size = box[2:].copy()
        scale = math.sqrt(size[0] * size[1] / (base[0] * base[1]))
        lo = min(1.0, max(p.min_target_size / base[0], p.min_target_size / base[1]))
        hi = max(1.0, min(w_img / base[0], h_img / base[1]))
        if scale < lo or scale > hi:
            size = size * (min(max(scale, lo), hi) / scale)
        center = box[:2] + box[2:] / 2
        off = (p.target_inside_ratio - 0.5) * size
        center = np.minimum(np.maximum(center, off), np.array([w_img, h_img]) - off)
        return np.concatenate([center - size / 2, size])

    def _update_classifier(self, feat: Tensor, box_crop: Tensor, flag: str) -> None:
        p, st = self.params, self._state
        hard = flag == "hard_negative"
        lr = p.hard_negative_learning_rate if hard else p.learning_rate
        st["memory"].update(feat, box_crop, lr)
        if hard:
            iters = p.net_opt_hn_iter
        elif (st["frame"] - 1) % p.train_skipping == 0:
            iters = p.net_opt_update_iter
        else:
            return
        feats, boxes, weights = st["memory"].stored()
        opt = self.net.target_classifier.optimizer
        filt, _, _ = opt(st["filter"], feats[:, None], boxes[:, None], num_iter=iters, sample_weight=weights)
        if bool(torch.isfinite(filt).all()):
            st["filter"] = filt


def _dropout2d(x: Tensor, prob: float, gen: torch.Generator) -> Tensor:
    """Channel dropout with an explicit generator (F.dropout2d has none): (1, C, H, W) -> same."""
    keep = (torch.rand(x.shape[0], x.shape[1], 1, 1, generator=gen) >= prob).to(x.dtype).to(x.device)
    return x * keep / (1.0 - prob)


