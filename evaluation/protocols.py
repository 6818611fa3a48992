"""Evaluation protocol profiles: the official toolkits' rules as declarative frozen dataclasses.

Four profiles, each reproducing one toolkit number for number (rules and sources in
``shared/docs/evaluation_protocols.md`` (the project brief); the ids G, P, L, T below are its source ids):

* ``got10k-toolkit`` (G, PyPI ``got10k`` 0.1.3 / GitHub master): three variants,
  ``got10k-toolkit/got10k`` (``ExperimentGOT10k.report``), ``/otb`` (``ExperimentOTB.report``),
  ``/lasot`` (master ``ExperimentLaSOT.report``).
* ``lasot-official`` (L, the LaSOT MATLAB toolkit: ``calc_seq_err_robust.m``, ``eval_tracker.m``,
  ``plot_draw_save.m``).
* ``pytracking`` (P, ``pytracking/analysis/extract_results.py`` + ``plot_results.py``): variants
  ``/otb``, ``/lasot``, ``/got10k``.
* ``trackingnet-devkit`` (T, ``metrics.py:evaluate`` at 967661d, the evaluation server's code).

A profile name plus a benchmark resolves to one `Protocol` (`get_protocol`); the metric code
(`evaluation.scoring`) never looks at data-set names, every quirk is a field here.

Order in which `evaluation.scoring` applies the fields, per sequence and run:

1. length check (pred rows == GT rows, else ValueError: no toolkit's silent truncation/padding);
2. ``round_boxes`` (T: ``np.round``, half to even, on all 8 coordinates);
3. ``raise_on_invalid_pred`` / ``raise_on_gt_nan`` (P raises on NaN or negative predicted size,
   and on NaN ground truth);
4. ``carry_forward`` (L: NaN / w<=0 / h<=0 rows, P: w==0 or h==0 rows, take the previous row,
   sequentially, frames 1.., only where the GT row has no NaN);
5. ``frame0`` (``"gt"``: prediction of frame 0 := GT; ``"drop"``: frame 0 not scored at all);
6. ``bound_to_image`` (G GOT-10k: `metrics.bound_boxes_got10k` on both boxes);
7. per-frame IoU (``iou_eps``, ``iou_clip``), centre error, normalized centre error
   (``norm_min_size``);
8. ``gt_valid`` decides which frames have invalid GT; those get ``invalid_gt`` (per metric:
   ``"score"`` normally, ``"fail"`` no threshold passed, ``"success"`` every threshold passed,
   ``"drop"`` removed from frames *and* denominator). Then frames with ``visible == False`` get
   ``absent`` (it overrides ``invalid_gt``);
9. curves: ``value OP threshold`` counted over kept frames, divided by kept frames
   (+ ``denominator_eps``), ``aggregation`` ``"frames"`` (pool all frames of all runs and
   sequences: G GOT-10k) or ``"sequences"`` (per-sequence curves, then their mean; runs of one
   sequence are pooled first, which equals averaging run curves); ``drop_empty_curves`` (L) drops
   sequences whose curve sums to <= eps before averaging;
10. scores: ``"mean"`` of the curve, ``"trapz"`` (trapezoid over ``linspace(0, 1, T)``), or the
    value at ``score_index``; ``ao`` is the mean IoU of kept frames (frame-pooled when
    ``aggregation == "frames"``; a NaN IoU makes AO NaN, as in G); ``sr`` reads the success curve.

Visibility comes from ``Sequence.visible`` (GOT-10k: the loader's ``cover > 0`` / not absent;
LaSOT: not ``full_occlusion`` and not ``out_of_view``). G's GOT-10k rule uses ``cover > 0`` only;
on the official data ``absence = 1`` implies ``cover = 0``, so the masks agree.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from evaluation.metrics import EPS, OPERATORS

OUTCOMES = ("score", "fail", "success", "drop")
GT_VALID_RULES = ("any", "no_nan", "size_positive", "all_positive")
CARRY_FORWARD_RULES = ("none", "invalid", "zero_size")


@dataclass(frozen=True)
class FrameRule:
    """What a class of frames counts as, per metric: one of `OUTCOMES`."""

    iou: str = "score"
    center: str = "score"
    norm_center: str = "score"

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            if getattr(self, f.name) not in OUTCOMES:
                raise ValueError(f"FrameRule.{f.name}={getattr(self, f.name)!r}; expected one of {OUTCOMES}")


SCORE = FrameRule()
FAIL = FrameRule("fail", "fail", "fail")
DROP = FrameRule("drop", "drop", "drop")


@dataclass(frozen=True)
class CurveSpec:
    """One threshold curve and how its headline score is read off it.

    Attributes:
        thresholds: ascending threshold values, the toolkit's exact float array.
        op: ``">"`` / ``">="`` (IoU) or ``"<="`` (errors): a frame passes t if ``value OP t``.
        score: ``"mean"`` (mean over the curve's points), ``"trapz"`` (trapezoid over
            ``linspace(0, 1, T)``), ``"index"`` (``curve[score_index]``) or None (no score).
        score_index: position read when ``score == "index"``.
    """

    thresholds: tuple[float, ...]
    op: str
    score: str | None = "mean"
    score_index: int | None = None

    def __post_init__(self) -> None:
        t = np.asarray(self.thresholds, dtype=np.float64)
        if t.ndim != 1 or t.size == 0 or np.any(np.diff(t) < 0) or not np.all(np.isfinite(t)):
            raise ValueError("CurveSpec.thresholds must be a non-empty ascending finite sequence")
        if self.op not in OPERATORS:
            raise ValueError(f"CurveSpec.op={self.op!r}; expected one of {OPERATORS}")
        if self.score not in (None, "mean", "trapz", "index"):
            raise ValueError(f"CurveSpec.score={self.score!r}; expected None, 'mean', 'trapz' or 'index'")
        if self.score == "index" and (self.score_index is None or not 0 <= self.score_index < t.size):
            raise ValueError(f"CurveSpec.score_index={self.score_index} must index the {t.size} thresholds")

    @property
    def array(self) -> np.ndarray:
        """(T,) float64 thresholds."""
        return np.asarray(self.thresholds, dtype=np.float64)


def _thr(values: np.ndarray) -> tuple[float, ...]:
    return tuple(float(v) for v in np.asarray(values, dtype=np.float64))


@dataclass(frozen=True)
class Protocol:
    """A complete scoring rule set (see the module docstring for the order they apply in)."""

    name: str
    source: str
    frame0: str = "gt"                       # "gt" | "drop" | "keep"
    round_boxes: bool = False                # np.round all coordinates first (T)
    raise_on_invalid_pred: bool = False      # NaN or negative w/h in a prediction -> error (P)
    raise_on_gt_nan: bool = False            # NaN in the ground truth -> error (P)
    carry_forward: str = "none"              # "none" | "invalid" (L) | "zero_size" (P)
    bound_to_image: bool = False             # G GOT-10k image-bound clipping
    iou_eps: float = 0.0
    iou_clip: bool = False
    norm_min_size: float | None = None       # G: 1.0 (max(1, wh_gt)); others raw size
    gt_valid: str = "any"                    # which GT rows are valid, see GT_VALID_RULES
    invalid_gt: FrameRule = SCORE
    absent: FrameRule = SCORE
    success: CurveSpec = field(default_factory=lambda: CurveSpec(_thr(np.linspace(0, 1, 21)), ">"))
    precision: CurveSpec | None = None
    norm_precision: CurveSpec | None = None
    aggregation: str = "sequences"           # "frames" | "sequences"
    drop_empty_curves: bool = False          # L: drop sequences whose curve sums to <= eps
    denominator_eps: float = 0.0             # L: count / (n + eps)
    curve_dtype: str = "float64"             # P stores per-sequence curves as float32
    ao: bool = False                         # report AO (mean IoU over kept frames)
    sr: tuple[tuple[str, int], ...] = ()     # (name, success-curve index), e.g. ("sr50", 50)
    fps: str = "sequences"                   # "frames": mean(1/t) pooled; "sequences": per-seq then mean of non-zero

    def __post_init__(self) -> None:
        checks = {
            "frame0": ("gt", "drop", "keep"),
            "carry_forward": CARRY_FORWARD_RULES,
            "gt_valid": GT_VALID_RULES,
            "aggregation": ("frames", "sequences"),
            "curve_dtype": ("float64", "float32"),
            "fps": ("frames", "sequences"),
        }
        for key, allowed in checks.items():
            if getattr(self, key) not in allowed:
                raise ValueError(f"Protocol {self.name!r}: {key}={getattr(self, key)!r}; expected one of {allowed}")
        for name, idx in self.sr:
            if not 0 <= idx < len(self.success.thresholds):
                raise ValueError(f"Protocol {self.name!r}: sr {name!r} index {idx} outside the success curve")
        if self.iou_eps < 0 or self.denominator_eps < 0:
            raise ValueError(f"Protocol {self.name!r}: eps values must be >= 0")

    @property
    def profile(self) -> str:
        """The profile (family) name, e.g. ``got10k-toolkit``."""
        return self.name.split("/")[0]

    def describe(self) -> dict:
        """Plain-data description (JSON-serialisable) for reports."""
        d = dataclasses.asdict(self)
        for key in ("success", "precision", "norm_precision"):
            if d[key] is not None:
                d[key]["thresholds"] = [float(v) for v in d[key]["thresholds"]]
        return d


# ---------------------------------------------------------------------------------------------
# The profiles. Threshold arrays are the toolkits' own float values.
# ---------------------------------------------------------------------------------------------

_G_SUCCESS_21 = CurveSpec(_thr(np.linspace(0, 1, 21)), ">", "mean")
_G_PRECISION = CurveSpec(_thr(np.arange(0, 51)), "<=", "index", 20)

GOT10K_TOOLKIT_GOT10K = Protocol(
    name="got10k-toolkit/got10k",
    source="got10k toolkit ExperimentGOT10k.report / _evaluate (PyPI 0.1.3 == master 956e728)",
    frame0="drop",
    bound_to_image=True,
    iou_eps=EPS,
    iou_clip=True,
    norm_min_size=1.0,
    absent=DROP,  # only frames with cover > 0 are scored
    success=CurveSpec(_thr(np.linspace(0, 1, 101)), ">", None),
    aggregation="frames",
    ao=True,
    sr=(("sr50", 50), ("sr75", 75)),  # SR = mean(iou > 0.5) == curve[50]; SR0.75 = curve[75]
    fps="frames",
)

GOT10K_TOOLKIT_OTB = Protocol(
    name="got10k-toolkit/otb",
    source="got10k toolkit ExperimentOTB.report / _calc_curves (PyPI 0.1.3 == master 956e728)",
    frame0="gt",
    iou_eps=EPS,
    iou_clip=True,
    norm_min_size=1.0,
    success=_G_SUCCESS_21,
    precision=_G_PRECISION,
    sr=(("sr50", 10),),  # success_rate = succ_curve[nbins_iou // 2]
)

GOT10K_TOOLKIT_LASOT = dataclasses.replace(
    GOT10K_TOOLKIT_OTB,
    name="got10k-toolkit/lasot",
    source="got10k toolkit (GitHub master 956e728) ExperimentLaSOT.report / _calc_metrics / _calc_curves",
    gt_valid="no_nan",  # rows whose GT has a NaN are removed (also from the denominator)
    invalid_gt=DROP,
    norm_precision=CurveSpec(_thr(np.linspace(0, 0.5, 51)), "<=", "mean"),  # mean over [0, 0.5]
)

LASOT_OFFICIAL = Protocol(
    name="lasot-official",
    source="LaSOT_Evaluation_Toolkit 95bf38a: calc_seq_err_robust.m, eval_tracker.m, plot_draw_save.m",
    frame0="gt",
    carry_forward="invalid",
    gt_valid="all_positive",
    invalid_gt=FrameRule(iou="fail", center="success", norm_center="success"),  # err = -1
    absent=FAIL,  # removed from the arrays but counted in len_all
    # 0:0.05:1 (Octave computes base + i*inc, element-wise equal to linspace(0, 1, 21))
    success=CurveSpec(_thr(np.arange(21) * 0.05), ">", "mean"),
    precision=CurveSpec(_thr(np.arange(0, 51)), "<=", "index", 20),  # 0:50, bb(21)
    norm_precision=CurveSpec(_thr(np.arange(0, 51) / 100.0), "<=", "index", 20),  # (0:50)/100, bb(21)
    drop_empty_curves=True,
    denominator_eps=EPS,
)

PYTRACKING_OTB = Protocol(
    name="pytracking/otb",
    source="pytracking 7eb9e74 analysis/extract_results.py calc_seq_err_robust, plot_results.py",
    frame0="gt",
    raise_on_invalid_pred=True,
    raise_on_gt_nan=True,
    carry_forward="zero_size",
    # The protocols doc reads P's validity as all(gt > 0); pytracking@b6d984d's code checks only
    # w > 0 and h > 0: use dataclasses.replace(p, gt_valid="size_positive") for that reading.
    gt_valid="all_positive",
    invalid_gt=FrameRule(iou="fail", center="fail", norm_center="success"),  # -1, inf, -1
    # P uses torch.arange(0, 1.05, 0.05); its vectorized CPU kernel can give 0.6500000000000001
    # and 0.7500000000000001 (SIMD-width dependent); the doc's linspace values are used here.
    success=CurveSpec(_thr(np.linspace(0, 1, 21)), ">", "mean"),
    precision=CurveSpec(_thr(np.arange(0, 51)), "<=", "index", 20),
    norm_precision=CurveSpec(_thr(np.arange(0, 51) / 100.0), "<=", "index", 20),
    curve_dtype="float32",
    sr=(("sr50", 10), ("sr75", 15)),  # OP50, OP75
)

PYTRACKING_LASOT = dataclasses.replace(
    PYTRACKING_OTB,
    name="pytracking/lasot",
    absent=FAIL,  # ~target_visible: IoU -1, centre and normalized errors inf
)

PYTRACKING_GOT10K = dataclasses.replace(PYTRACKING_OTB, name="pytracking/got10k")

TRACKINGNET_DEVKIT = Protocol(
    name="trackingnet-devkit",
    source="TrackingNet-devkit 967661d metrics.py:evaluate (the evaluation server's code)",
    frame0="gt",
    round_boxes=True,
    success=CurveSpec(_thr(np.linspace(0, 1, 21)), ">=", "trapz"),
    precision=CurveSpec(_thr(np.linspace(0, 50, 21)), "<=", "trapz"),  # an AUC over 0..50 px
    norm_precision=CurveSpec(_thr(np.linspace(0, 0.5, 21)), "<=", "trapz"),
)

PROTOCOLS: dict[str, Protocol] = {
    p.name: p
    for p in (
        GOT10K_TOOLKIT_GOT10K, GOT10K_TOOLKIT_OTB, GOT10K_TOOLKIT_LASOT, LASOT_OFFICIAL,
        PYTRACKING_OTB, PYTRACKING_LASOT, PYTRACKING_GOT10K, TRACKINGNET_DEVKIT,
    )
}

PROFILES = ("got10k-toolkit", "lasot-official", "pytracking", "trackingnet-devkit")

#: the documented default profile of each benchmark
DEFAULT_PROFILE = {
    "got10k": "got10k-toolkit",
    "lasot": "lasot-official",
    "otb": "got10k-toolkit",
    "trackingnet": "trackingnet-devkit",
    "synthetic": "got10k-toolkit",   # GOT-10k layout and labels: AO / SR like GOT-10k val
    "folder": "got10k-toolkit",      # generic OPE data: the OTB variant (choice, not a toolkit rule)
}

#: which variant of a multi-variant profile a benchmark uses (data layout and labels it resembles)
BENCHMARK_STYLE = {
    "got10k": "got10k",
    "synthetic": "got10k",
    "lasot": "lasot",
    "otb": "otb",
    "trackingnet": "otb",   # G's ExperimentTrackingNet inherits ExperimentOTB.report
    "folder": "otb",
}


def get_protocol(name: str | None, benchmark: str) -> Protocol:
    """Resolve a profile name (or a full variant name) for a benchmark.

    Args:
        name: ``None`` (the benchmark's default profile), a profile in `PROFILES`, or a variant
            in `PROTOCOLS` such as ``"got10k-toolkit/lasot"``.
        benchmark: ``got10k``, ``lasot``, ``otb``, ``trackingnet``, ``synthetic`` or ``folder``.
    Raises:
        KeyError: unknown benchmark or profile, naming the known ones.
    """
    if benchmark not in BENCHMARK_STYLE:
        raise KeyError(f"unknown benchmark {benchmark!r}; known: {sorted(BENCHMARK_STYLE)}")
    if name is None:
        name = DEFAULT_PROFILE[benchmark]
    if name in PROTOCOLS:
        return PROTOCOLS[name]
    if name not in PROFILES:
        raise KeyError(f"unknown protocol {name!r}; known profiles: {PROFILES}, variants: {sorted(PROTOCOLS)}")
    variant = f"{name}/{BENCHMARK_STYLE[benchmark]}"
    return PROTOCOLS.get(variant, PROTOCOLS.get(name))
