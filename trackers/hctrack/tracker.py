"""HCTrack online tracker: cached template branch, search branch per frame, dynamic template.

Per sequence:

* ``initialize``: the first frame's template crop (``template_factor`` x, ``template_size`` px) is
  both T and DT; the template branch runs once and its features (each CSA layer's template
  keys/values, RIP's centre queries) are cached.
* ``track``: search crop (``search_factor`` x, ``search_size`` px) around the previous box, search
  branch + head, Hann window (optional) multiplied into the score map, argmax decoding (on CPU the
  offset and size towers run only around the peak: `CenterHead.predict_peak`), map the box back
  with the crop's own `CropTransform` (the same `datasets.geometry` functions as training), clip
  to the image with ``clip_box_xywh``. The reported score is the max of the raw
  (un-windowed) score map.
* dynamic template: within each run of ``update_interval`` frames the tracker keeps the template
  crop of the highest-scoring frame (cropped around that frame's output box); after the last frame
  of the interval DT becomes that crop (if its score > ``update_min_score``) and the template cache
  is recomputed. T never changes.
* a NaN / non-positive network box repeats the previous box with ``flag="fallback"`` and score 0.

Speed: everything runs under ``torch.inference_mode``; per frame the host waits for the device
once (one transfer of the score and the box); ``inference.precision`` ("bf16" / "fp16") runs the
network under autocast (outputs converted back to float32) and ``inference.compile`` wraps the
search branch in ``torch.compile`` (its first call compiles). `run_network` is the network step
alone (what ``experiments.profile`` times as "model"). The model is prepared with
`trackers.common.inference.prepare_for_inference` (eval mode in place; on CPU channels-last conv
weights, the head's BatchNorm folded into its convolutions, the attention and MLP linears packed
by MKL for the search branch's ``search_grid ** 2`` token rows, and glibc malloc thresholds that
stop per-frame page faults).

Init box: NaN/inf or w, h <= 0 -> ValueError naming the box; a box with no overlap with the image
-> ValueError; a box partly outside the image is clipped to it (``clip_box_xywh``) first.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from datasets.geometry import CropTransform, box_convert, box_is_valid, clip_box_xywh, crop_image, crop_transform
from datasets.processing.config import IMAGENET_MEAN, IMAGENET_STD
from trackers.base import TrackResult
from trackers.common.inference import prepare_for_inference
from trackers.hctrack.config import HCTrackConfig
from trackers.hctrack.head import decode_boxes, hann2d
from trackers.hctrack.hfei import TemplateFeatures


@dataclass
class _SequenceState:
    """Everything that lives for one sequence (reset by ``initialize``)."""

    box: np.ndarray                      # (4,) current xywh box in image pixels
    template: Tensor                     # (1, 3, Tz, Tz) static template T
    dynamic_template: Tensor             # (1, 3, Tz, Tz) current DT
    features: TemplateFeatures           # cache of the template branch for (T, DT)
    frame: int = 0                       # index of the last processed frame (init = 0)
    best_score: float = -1.0             # best score in the running interval
    best_crop: Tensor | None = None      # template crop of that frame
    history: list[int] = field(default_factory=list)  # frames at which DT was replaced


def validate_image(image: np.ndarray) -> None:
    """Raise ValueError unless `image` is an (H, W, 3) uint8 array."""
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        desc = f"{type(image).__name__} {getattr(image, 'shape', '')} {getattr(image, 'dtype', '')}"
        raise ValueError(f"HCTrack expects (H, W, 3) uint8 RGB frames (use datasets.frames.read_frame), got {desc}")


def map_box_back(pred_cxcywh: np.ndarray, transform: CropTransform) -> np.ndarray:
    """Normalised crop box ``(4,)`` cxcywh -> image box xywh (inverse of the training crop)."""
    crop_xywh = box_convert(np.asarray(pred_cxcywh, np.float64) * transform.out_size, "cxcywh", "xywh")
    return transform.box_to_image(crop_xywh)


class HCTrackTracker:
    """Online HCTrack (``initialize`` / ``track``).

    Args:
        cfg: preset config (data sizes/factors and ``inference`` settings are read from it).
        model: an `HCTrackModel` (its contrastive head, if any, is never called).
        device: torch device for the network.
    """

    def __init__(self, cfg: HCTrackConfig, model: nn.Module, device: str | torch.device = "cpu") -> None:
        self.cfg = cfg
        self.name = cfg.name
        self.device = torch.device(device)
        # packed for the per-frame search branch: batch 1 x search_grid^2 tokens
        self.model = prepare_for_inference(model, self.device, linear_rows=cfg.search_grid ** 2)
        self._mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1) * 255.0
        self._std = torch.tensor(IMAGENET_STD, device=self.device).view(1, 3, 1, 1) * 255.0
        self._window = hann2d(cfg.search_grid).to(self.device)
        self._state: _SequenceState | None = None
        inf = cfg.inference
        self._amp_dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[inf.precision]
        # models with `forward_track` decode at the (windowed) peak themselves (HCTrackModel: the offset
        # and size towers only around it, on CPU); others give the full maps, decoded here
        self._peak_decoding = hasattr(self.model, "forward_track")
        fn = self.model.forward_track if self._peak_decoding else self.model.forward_search
        self._search_fn = torch.compile(fn) if inf.compile else fn

    # -- helpers ----------------------------------------------------------------------------
    def _to_tensor(self, crop: np.ndarray) -> Tensor:
        """(S, S, 3) uint8 -> (1, 3, S, S) float32 ImageNet-normalised."""
        t = torch.from_numpy(np.ascontiguousarray(crop)).to(self.device).permute(2, 0, 1)[None].float()
        return (t - self._mean) / self._std

    def _crop(self, image: np.ndarray, box: np.ndarray, factor: float, size: int) -> tuple[Tensor, CropTransform]:
        t = crop_transform(box, factor, size)
        crop = crop_image(image, t, border="constant", border_value=self.cfg.data.border_value)
        return self._to_tensor(crop), t

    def _template_crop(self, image: np.ndarray, box: np.ndarray) -> Tensor:
        d = self.cfg.data
        return self._crop(image, box, d.template_factor, d.template_size)[0]

    def _clip(self, box: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
        return clip_box_xywh(box, hw, min_size=min(self.cfg.inference.clip_min_size, hw[0], hw[1]))

    def _autocast(self):
        enabled = self._amp_dtype is not None
        return torch.autocast(self.device.type, dtype=self._amp_dtype or torch.float32, enabled=enabled)

    @torch.inference_mode()
    def _features(self, template: Tensor, dynamic_template: Tensor) -> TemplateFeatures:
        with self._autocast():
            return self.model.forward_template(template, dynamic_template)

    @torch.inference_mode()
    def run_network(self, search: Tensor) -> dict[str, Tensor]:
        """Search branch + head of a prepared crop ``(1, 3, Sx, Sx)`` with the cached template features.

        Returns ``score_map`` (un-windowed) and ``pred_boxes`` decoded at the argmax of the score map
        times the Hann window (when enabled); floating values are float32 whatever the precision.
        """
        if self._state is None:
            raise ValueError("HCTrack.run_network called before initialize")
        window = self._window if self.cfg.inference.hann_window else None
        with self._autocast():
            if self._peak_decoding:
                out = self._search_fn(search, self._state.features, window)
            else:
                out = self._search_fn(search, self._state.features)
        if self._amp_dtype is not None:
            out = {k: v.float() if v.is_floating_point() else v for k, v in out.items()}
        if not self._peak_decoding:
            score = out["score_map"]
            ranked = score if window is None else score * window
            out = {"score_map": score, "pred_boxes": decode_boxes(ranked, out["offset_map"], out["size_map"])[0]}
        return out

    # -- public -------------------------------------------------------------------------------
    def initialize(self, image: np.ndarray, box_xywh: np.ndarray) -> None:
        """Start a sequence on `image` with the target box ``(x, y, w, h)`` in pixels."""
        validate_image(image)
        box = np.asarray(box_xywh, dtype=np.float64).reshape(-1)
        if box.shape != (4,) or not box_is_valid(box):
            raise ValueError(f"HCTrack.initialize: invalid init box {np.asarray(box_xywh).tolist()} "
                             "(needs finite x, y, w, h with w > 0 and h > 0)")
        h_img, w_img = image.shape[:2]
        x1, y1, x2, y2 = box_convert(box, "xywh", "xyxy")
        if x2 <= 0 or y2 <= 0 or x1 >= w_img or y1 >= h_img:
            raise ValueError(f"HCTrack.initialize: init box {box.tolist()} lies outside the {w_img}x{h_img} image")
        box = clip_box_xywh(box, (h_img, w_img), min_size=min(1.0, h_img, w_img))
        z = self._template_crop(image, box)
        self._state = _SequenceState(box=box, template=z, dynamic_template=z, features=self._features(z, z))

    @torch.inference_mode()
    def track(self, image: np.ndarray) -> TrackResult:
        """Track one frame -> `TrackResult` (box xywh in image pixels, score in [0, 1], flag)."""
        st = self._state
        if st is None:
            raise ValueError("HCTrack.track called before initialize")
        validate_image(image)
        cfg, d = self.cfg, self.cfg.data
        st.frame += 1
        x, transform = self._crop(image, st.box, d.search_factor, d.search_size)
        if not cfg.inference.cache_template:
            st.features = self._features(st.template, st.dynamic_template)
        out = self.run_network(x)
        readout = torch.cat([out["score_map"].amax().reshape(1), out["pred_boxes"][0]]).cpu().double().numpy()  # one sync
        score, pred = float(readout[0]), readout[1:]
        if not (np.isfinite(pred).all() and pred[2] > 0 and pred[3] > 0 and np.isfinite(score)):
            result = TrackResult(st.box.copy(), 0.0, "fallback")
        else:
            st.box = self._clip(map_box_back(pred, transform), image.shape[:2])
            result = TrackResult(st.box.copy(), score)
            self._remember_candidate(image, score)
        self._maybe_update_dynamic_template()
        return result

    # -- dynamic template -----------------------------------------------------------------------
    def _remember_candidate(self, image: np.ndarray, score: float) -> None:
        st = self._state
        if self.cfg.inference.update_interval > 0 and score > st.best_score:
            st.best_score = score
            st.best_crop = self._template_crop(image, st.box)

    def _maybe_update_dynamic_template(self) -> None:
        st, inf = self._state, self.cfg.inference
        if inf.update_interval <= 0 or st.frame % inf.update_interval:
            return
        if st.best_crop is not None and st.best_score > inf.update_min_score:
            st.dynamic_template = st.best_crop
            st.features = self._features(st.template, st.dynamic_template)
            st.history.append(st.frame)
        st.best_score, st.best_crop = -1.0, None
