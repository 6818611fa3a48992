"""Apply a `Protocol` to one tracker's predictions over a data set: per-frame values, curves, scores.

All sequences and runs are concatenated into flat (F, 4) arrays and every rule is applied to the
whole data set at once; per-sequence curves come from `metrics.segment_pass_counts` (one
``bincount``), so scoring LaSOT (280 sequences, ~690k frames) takes a fraction of a second.
The rules and their order are documented in `evaluation.protocols`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from evaluation import metrics
from evaluation.protocols import CurveSpec, FrameRule, Protocol


@dataclass(frozen=True)
class SequenceData:
    """Everything needed to score one sequence.

    Attributes:
        name: sequence name.
        gt: (N, 4) float64 xywh ground truth (NaN rows where unknown).
        visible: (N,) bool target-present mask.
        pred: (R, N, 4) float64 xywh predictions of R runs (a (N, 4) array is one run).
        image_size: (W, H) in pixels; required when the protocol bounds boxes to the image.
        times: (N, R) per-frame seconds, or None.
    """

    name: str
    gt: np.ndarray
    visible: np.ndarray
    pred: np.ndarray
    image_size: tuple[float, float] | None = None
    times: np.ndarray | None = None

    def __post_init__(self) -> None:
        gt = np.asarray(self.gt, dtype=np.float64)
        pred = np.asarray(self.pred, dtype=np.float64)
        if pred.ndim == 2:
            pred = pred[None]
        vis = np.asarray(self.visible, dtype=bool)
        if gt.ndim != 2 or gt.shape[1] != 4:
            raise ValueError(f"sequence {self.name!r}: gt must be (N, 4), got {gt.shape}")
        if pred.ndim != 3 or pred.shape[2] != 4 or pred.shape[0] < 1:
            raise ValueError(f"sequence {self.name!r}: pred must be (R, N, 4), got {pred.shape}")
        if pred.shape[1] != gt.shape[0]:
            raise ValueError(
                f"sequence {self.name!r}: {pred.shape[1]} predicted boxes for {gt.shape[0]} ground-truth "
                f"frames (results are never truncated or padded; fix or re-run the result file)"
            )
        if vis.shape != (gt.shape[0],):
            raise ValueError(f"sequence {self.name!r}: visible has shape {vis.shape}, expected ({gt.shape[0]},)")
        object.__setattr__(self, "gt", gt)
        object.__setattr__(self, "pred", pred)
        object.__setattr__(self, "visible", vis)
        if self.times is not None:
            t = np.asarray(self.times, dtype=np.float64)
            object.__setattr__(self, "times", t.reshape(t.shape[0], -1) if t.ndim else t.reshape(1, 1))

    @property
    def runs(self) -> int:
        return int(self.pred.shape[0])

    def __len__(self) -> int:
        return int(self.gt.shape[0])


@dataclass(frozen=True)
class CurveCounts:
    """One curve type over all sequences: kept-frame pass counts and denominators.

    Attributes:
        spec: the protocol's curve definition.
        counts: (S, T) int64 frames passing each threshold, runs pooled.
        frames: (S,) int64 kept frames (the denominator before ``denominator_eps``).
    """

    spec: CurveSpec
    counts: np.ndarray
    frames: np.ndarray

    @property
    def thresholds(self) -> np.ndarray:
        return self.spec.array


@dataclass
class TrackerScore:
    """Scores of one tracker under one protocol; `summary` / `sequence_summary` give the figures."""

    protocol: Protocol
    names: list[str]
    lengths: np.ndarray                      # (S,) frames per sequence
    runs: np.ndarray                         # (S,) runs per sequence
    curves: dict[str, CurveCounts]           # "success", "precision", "norm_precision"
    iou_sum: np.ndarray                      # (S,) sum of kept IoUs (NaN-propagating), for AO
    iou_frames: np.ndarray                   # (S,) kept IoU frames
    fps_per_sequence: np.ndarray             # (S,) NaN where no times
    fps_inv_sum: np.ndarray                  # (S,) sum of 1/t over valid times
    fps_count: np.ndarray                    # (S,) number of valid times
    warnings: list[str] = field(default_factory=list)

    # -- curves ---------------------------------------------------------------------------
    def sequence_curves(self, kind: str) -> np.ndarray:
        """(S, T) per-sequence curve (NaN rows where a sequence has no kept frame)."""
        c = self.curves[kind]
        den = c.frames.astype(np.float64) + self.protocol.denominator_eps
        dtype = np.float32 if self.protocol.curve_dtype == "float32" else np.float64
        with np.errstate(divide="ignore", invalid="ignore"):
            if dtype is np.float32:
                cur = c.counts.astype(np.float32) / den.astype(np.float32)[:, None]
            else:
                cur = c.counts / den[:, None]
        cur = cur.astype(np.float64)
        cur[c.frames == 0] = np.nan
        return cur

    def curve(self, kind: str, subset: np.ndarray | None = None) -> np.ndarray | None:
        """(T,) aggregated curve over all sequences (or a boolean `subset` of them); None if the
        protocol has no such curve."""
        if kind not in self.curves:
            return None
        c = self.curves[kind]
        sel = np.ones(len(self.names), bool) if subset is None else np.asarray(subset, bool)
        if self.protocol.aggregation == "frames":
            total = c.frames[sel].sum() + self.protocol.denominator_eps
            return c.counts[sel].sum(axis=0) / total if total > 0 else np.full(c.counts.shape[1], np.nan)
        cur = self.sequence_curves(kind)[sel]
        cur = cur[np.isfinite(cur).all(axis=1)]
        if self.protocol.drop_empty_curves:
            cur = cur[cur.sum(axis=1) > metrics.EPS]
        return np.mean(cur, axis=0) if len(cur) else np.full(c.counts.shape[1], np.nan)

    # -- scores ---------------------------------------------------------------------------
    @staticmethod
    def _score(spec: CurveSpec, curve: np.ndarray | None) -> float | None:
        if curve is None or spec.score is None:
            return None
        if spec.score == "mean":
            return float(np.mean(curve))
        if spec.score == "trapz":
            return metrics.trapezoid_auc(curve)
        return float(curve[spec.score_index])

    def _figures(self, subset: np.ndarray | None, seq: int | None) -> dict:
        out: dict[str, float | None] = {}
        p = self.protocol
        curves = {}
        for kind in ("success", "precision", "norm_precision"):
            if kind in self.curves:
                curves[kind] = self.sequence_curves(kind)[seq] if seq is not None else self.curve(kind, subset)
            else:
                curves[kind] = None
        out["auc"] = self._score(p.success, curves["success"])
        out["precision"] = self._score(p.precision, curves["precision"]) if p.precision else None
        out["norm_precision"] = self._score(p.norm_precision, curves["norm_precision"]) if p.norm_precision else None
        out["ao"] = self._ao(subset, seq) if p.ao else None
        names = dict(p.sr)
        for key in ("sr50", "sr75"):
            out[key] = float(curves["success"][names[key]]) if key in names else None
        out["fps"] = self._fps(subset, seq)
        return out

    def _ao(self, subset: np.ndarray | None, seq: int | None) -> float:
        if seq is not None:
            n = self.iou_frames[seq]
            return float(self.iou_sum[seq] / n) if n else float("nan")
        sel = np.ones(len(self.names), bool) if subset is None else np.asarray(subset, bool)
        if self.protocol.aggregation == "frames":
            n = self.iou_frames[sel].sum()
            return float(self.iou_sum[sel].sum() / n) if n else float("nan")
        with np.errstate(invalid="ignore", divide="ignore"):
            per = self.iou_sum[sel] / self.iou_frames[sel]
        per = per[self.iou_frames[sel] > 0]
        return float(np.mean(per)) if per.size else float("nan")

    def _fps(self, subset: np.ndarray | None, seq: int | None) -> float | None:
        if seq is not None:
            v = self.fps_per_sequence[seq]
            return None if not np.isfinite(v) else float(v)
        sel = np.ones(len(self.names), bool) if subset is None else np.asarray(subset, bool)
        if self.protocol.fps == "frames":
            n = self.fps_count[sel].sum()
            return float(self.fps_inv_sum[sel].sum() / n) if n else None
        speeds = np.nan_to_num(self.fps_per_sequence[sel], nan=0.0)
        nz = np.count_nonzero(speeds)
        return float(np.sum(speeds) / nz) if nz else None

    def summary(self, subset: np.ndarray | None = None) -> dict:
        """Headline figures ``{"auc", "precision", "norm_precision", "ao", "sr50", "sr75", "fps"}``
        (None where the protocol has no such figure; fractions in [0, 1]; fps in frames/s)."""
        return self._figures(subset, None)

    def sequence_summary(self, i: int) -> dict:
        """The same figures for sequence `i` alone, plus ``length`` and ``runs``."""
        d = self._figures(None, i)
        d["length"] = int(self.lengths[i])
        d["runs"] = int(self.runs[i])
        return d


# ---------------------------------------------------------------------------------------------


def _any_nan(b: np.ndarray) -> np.ndarray:
    """(F,) any coordinate NaN (column-wise: faster than a reduction over rows of 4)."""
    return np.isnan(b[:, 0]) | np.isnan(b[:, 1]) | np.isnan(b[:, 2]) | np.isnan(b[:, 3])


def _gt_valid(gt: np.ndarray, rule: str, gt_has_nan: np.ndarray) -> np.ndarray:
    """(F,) bool valid-GT mask under `rule`."""
    if rule == "any":
        return np.ones(len(gt), bool)
    if rule == "no_nan":
        return ~gt_has_nan
    if rule == "size_positive":
        return (gt[:, 2] > 0) & (gt[:, 3] > 0)
    return (gt[:, 0] > 0) & (gt[:, 1] > 0) & (gt[:, 2] > 0) & (gt[:, 3] > 0)


def _apply_rule(
    rule: FrameRule, mask: np.ndarray, values: dict[str, np.ndarray], keep: dict[str, np.ndarray],
    ao_vals: np.ndarray,
) -> None:
    """Give frames in `mask` the outcome `rule` prescribes, per metric (in place)."""
    for metric in ("iou", "center", "norm_center"):
        outcome = getattr(rule, metric)
        if outcome == "score" or not mask.any():
            continue
        if outcome == "drop":
            keep[metric] &= ~mask
            continue
        is_iou = metric == "iou"
        # IoU curves pass with > / >= thresholds in [0, 1]; error curves with <= thresholds >= 0
        passing, failing = (np.inf, -1.0) if is_iou else (-1.0, np.inf)
        values[metric][mask] = passing if outcome == "success" else failing
        if is_iou:
            ao_vals[mask] = 1.0 if outcome == "success" else 0.0


def _flatten(seqs: list[SequenceData], need_size: bool) -> dict[str, np.ndarray]:
    preds, gts, vis, seg, first, wh = [], [], [], [], [], []
    for s, sd in enumerate(seqs):
        r, n = sd.pred.shape[:2]
        preds.append(sd.pred.reshape(r * n, 4))
        gts.append(np.tile(sd.gt, (r, 1)))
        vis.append(np.tile(sd.visible, r))
        seg.append(np.full(r * n, s, dtype=np.int64))
        f = np.zeros(r * n, bool)
        f[::n] = True
        first.append(f)
        if need_size:
            if sd.image_size is None:
                raise ValueError(f"sequence {sd.name!r}: the protocol bounds boxes to the image but no image size is known")
            wh.append(np.tile(np.asarray(sd.image_size, dtype=np.float64).reshape(1, 2), (r * n, 1)))
    out = {
        "pred": np.concatenate(preds), "gt": np.concatenate(gts), "visible": np.concatenate(vis),
        "seg": np.concatenate(seg), "first": np.concatenate(first),
    }
    if need_size:
        out["wh"] = np.concatenate(wh)
    return out


def _frame_location(flat: dict, seqs: list[SequenceData], i: int) -> str:
    s = int(flat["seg"][i])
    offset = int(np.searchsorted(flat["seg"], s, side="left"))
    n = len(seqs[s])
    run, frame = divmod(i - offset, n)
    return f"sequence {seqs[s].name!r} run {run + 1} frame {frame}"


def score_tracker(protocol: Protocol, seqs: list[SequenceData]) -> TrackerScore:
    """Score one tracker's predictions on `seqs` under `protocol`.

    Raises:
        ValueError: length mismatch (raised by `SequenceData`), a missing image size when the
            protocol bounds boxes, or (protocols with ``raise_on_*``) NaN / negative predictions
            or NaN ground truth, naming the sequence, run and frame.
    """
    if not seqs:
        raise ValueError("no sequences to score")
    p = protocol
    flat = _flatten(seqs, p.bound_to_image)
    pred, gt, first, seg = flat["pred"], flat["gt"], flat["first"], flat["seg"]
    n_seq = len(seqs)

    if p.round_boxes:
        pred, gt = np.round(pred), np.round(gt)
    pred_has_nan = _any_nan(pred)
    if p.raise_on_invalid_pred:
        bad = pred_has_nan | (pred[:, 2] < 0) | (pred[:, 3] < 0)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(
                f"{p.name}: {_frame_location(flat, seqs, i)}: predicted box {pred[i].tolist()} has NaN or "
                f"negative size ({int(bad.sum())} such frames); pytracking refuses these results"
            )
    gt_has_nan = _any_nan(gt)
    if p.raise_on_gt_nan and gt_has_nan.any():
        i = int(np.argmax(gt_has_nan))
        raise ValueError(f"{p.name}: {_frame_location(flat, seqs, i)}: ground truth has NaN (pytracking raises)")

    if p.carry_forward != "none":
        if p.carry_forward == "invalid":
            bad = pred_has_nan | (pred[:, 2] <= 0) | (pred[:, 3] <= 0)
        else:
            bad = (pred[:, 2] == 0) | (pred[:, 3] == 0)
        replace = bad & ~gt_has_nan & ~first
        if replace.any():
            pred = pred[metrics.carry_forward_index(replace)]

    keep_all = np.ones(len(pred), bool)
    if p.frame0 == "gt":
        pred = pred.copy()
        pred[first] = gt[first]
    elif p.frame0 == "drop":
        keep_all &= ~first

    if p.bound_to_image:
        pred = metrics.bound_boxes_got10k(pred, flat["wh"][:, 0], flat["wh"][:, 1])
        gt = metrics.bound_boxes_got10k(gt, flat["wh"][:, 0], flat["wh"][:, 1])

    pred, gt = np.asfortranarray(pred), np.asfortranarray(gt)  # contiguous columns: faster per-coordinate math
    values = {"iou": metrics.iou_xywh(pred, gt, eps=p.iou_eps, clip=p.iou_clip)}
    ao_vals = values["iou"].copy()
    if p.precision is not None or p.norm_precision is not None:
        delta = np.asfortranarray(metrics.center_delta(pred, gt))
        if p.precision is not None:
            values["center"] = metrics.center_error(pred, gt, delta=delta)
        if p.norm_precision is not None:
            values["norm_center"] = metrics.normalized_center_error(pred, gt, min_size=p.norm_min_size, delta=delta)
    for key in ("center", "norm_center"):
        values.setdefault(key, np.zeros(len(pred)))
    keep = {k: keep_all.copy() for k in ("iou", "center", "norm_center")}

    _apply_rule(p.invalid_gt, ~_gt_valid(gt, p.gt_valid, gt_has_nan), values, keep, ao_vals)
    _apply_rule(p.absent, ~flat["visible"], values, keep, ao_vals)

    curves: dict[str, CurveCounts] = {}
    for kind, spec, metric in (
        ("success", p.success, "iou"), ("precision", p.precision, "center"),
        ("norm_precision", p.norm_precision, "norm_center"),
    ):
        if spec is None:
            continue
        counts = metrics.segment_pass_counts(values[metric], seg, n_seq, spec.array, spec.op, keep[metric])
        frames = np.bincount(seg[keep[metric]], minlength=n_seq)
        curves[kind] = CurveCounts(spec, counts, frames)

    k = keep["iou"]
    iou_sum = np.bincount(seg[k], weights=ao_vals[k], minlength=n_seq)
    iou_frames = np.bincount(seg[k], minlength=n_seq)

    fps_seq, inv_sum, inv_cnt = _speeds(seqs)
    warnings = [
        f"sequence {seqs[i].name!r}: no frame is scored under {p.name}"
        for i in np.flatnonzero(curves["success"].frames == 0)
    ]
    return TrackerScore(
        protocol=p, names=[s.name for s in seqs], lengths=np.array([len(s) for s in seqs]),
        runs=np.array([s.runs for s in seqs]), curves=curves, iou_sum=iou_sum, iou_frames=iou_frames,
        fps_per_sequence=fps_seq, fps_inv_sum=inv_sum, fps_count=inv_cnt, warnings=warnings,
    )


def _speeds(seqs: list[SequenceData]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per sequence: mean(1/t) over valid times (t > 0, not NaN), the sum of 1/t and the count.

    The got10k toolkit's GOT-10k rule pools ``1/t`` over all frames (use the sums); its OTB rule
    averages per-sequence speeds over sequences with a non-zero speed (use the means).
    """
    n = len(seqs)
    fps, inv_sum, cnt = np.full(n, np.nan), np.zeros(n), np.zeros(n, dtype=np.int64)
    for i, s in enumerate(seqs):
        if s.times is None:
            continue
        t = s.times.reshape(-1)
        t = t[t > 0]  # NaN > 0 is False: NaN dropped too
        if t.size:
            inv = 1.0 / t
            fps[i], inv_sum[i], cnt[i] = float(np.mean(inv)), float(inv.sum()), t.size
    return fps, inv_sum, cnt
