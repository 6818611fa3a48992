"""Success, precision and normalized-precision plots for N trackers, and attribute-wise success plots.

Drawn with matplotlib's Agg backend from the dict `evaluation.report.evaluate_trackers` returns
(so plots can be re-drawn from a saved JSON), saved as PNG and PDF through `datasets.fileio`
(atomic). Legends are sorted by score, best first, LaSOT / pytracking style ``[0.665] Name``,
the score being the protocol's headline figure for that plot (success: AUC, or AO under the
GOT-10k rule; precision: the protocol's precision score; normalized precision likewise).
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from datasets.fileio import atomic_write_bytes

#: attribute abbreviations of LaSOT (14) and OTB100 (11) -> full names
ATTRIBUTE_NAMES = {
    # LaSOT
    "IV": "Illumination Variation", "POC": "Partial Occlusion", "DEF": "Deformation",
    "MB": "Motion Blur", "CM": "Camera Motion", "ROT": "Rotation", "BC": "Background Clutter",
    "VC": "Viewpoint Change", "SV": "Scale Variation", "FOC": "Full Occlusion", "FM": "Fast Motion",
    "OV": "Out-of-View", "LR": "Low Resolution", "ARC": "Aspect Ratio Change",
    # OTB100 (IV, SV, DEF, MB, FM, OV, BC, LR shared with LaSOT)
    "OCC": "Occlusion", "IPR": "In-Plane Rotation", "OPR": "Out-of-Plane Rotation",
}

_KINDS = {
    # kind: (x label, y label, title word, legend location, score keys in preference order)
    "success": ("Overlap threshold", "Success rate", "Success", "lower left", ("auc", "ao")),
    "precision": ("Location error threshold (pixels)", "Precision", "Precision", "lower right", ("precision",)),
    "norm_precision": (
        "Normalized location error threshold", "Normalized precision", "Normalized precision",
        "lower right", ("norm_precision",),
    ),
}
_STYLES = ("-", "--", "-.", ":")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, stem: str | Path, dpi: int = 150) -> list[Path]:
    """Write `fig` to ``<stem>.png`` and ``<stem>.pdf`` atomically; returns both paths."""
    stem = Path(stem)
    paths = []
    for fmt in ("png", "pdf"):
        buf = io.BytesIO()
        meta = {"CreationDate": None} if fmt == "pdf" else {"Software": None}
        fig.savefig(buf, format=fmt, dpi=dpi, metadata=meta)  # layout done by tight_layout (one draw)
        paths.append(atomic_write_bytes(stem.with_suffix(f".{fmt}"), buf.getvalue()))
    return paths


def _label(name: str, score: float | None) -> str:
    return f"[{score:.3f}] {name}" if score is not None else name


def _draw(ax, entries: list[tuple[str, np.ndarray, np.ndarray, float | None]], kind: str, legend_size: float) -> None:
    """Draw curves on `ax`, best score first (colours and line styles cycle)."""
    xlabel, ylabel, _, loc, _ = _KINDS[kind]
    order = sorted(entries, key=lambda e: (-(e[3] if e[3] is not None else -np.inf), e[0]))
    colors = _pyplot().get_cmap("tab10").colors
    for i, (name, x, y, score) in enumerate(order):
        ax.plot(x, y, _STYLES[(i // len(colors)) % len(_STYLES)], color=colors[i % len(colors)],
                linewidth=2.0, label=_label(name, score))
    ax.set_xlim(float(order[0][1][0]), float(order[0][1][-1]))
    ax.set_ylim(0.0, 1.0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, linestyle=":", linewidth=0.8, color="0.6")
    ax.legend(loc=loc, fontsize=legend_size, framealpha=0.9)


def _score_of(figures: dict, kind: str) -> float | None:
    for key in _KINDS[kind][4]:
        if figures.get(key) is not None:
            return float(figures[key])
    return None


def plot_curves(
    entries: list[tuple[str, np.ndarray, np.ndarray, float | None]],
    kind: str,
    title: str,
    stem: str | Path,
) -> list[Path]:
    """One plot of `kind` (``success`` / ``precision`` / ``norm_precision``).

    Args:
        entries: (tracker name, thresholds (T,), curve (T,), legend score or None) per tracker.
        title: plot title.
        stem: output path without suffix; ``.png`` and ``.pdf`` are written.
    """
    if kind not in _KINDS:
        raise ValueError(f"unknown plot kind {kind!r}; expected one of {tuple(_KINDS)}")
    if not entries:
        raise ValueError("nothing to plot")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 5.0))
    try:
        _draw(ax, entries, kind, legend_size=9)
        ax.set_title(title)
        fig.tight_layout()
        return save_figure(fig, stem)
    finally:
        plt.close(fig)


def plot_evaluation(evaluation: dict, out_dir: str | Path, prefix: str = "") -> list[Path]:
    """All plots of an `evaluate_trackers` result: ``{prefix}success``, ``precision``,
    ``norm_precision`` (those the protocol defines) and ``success_attributes`` (if any)."""
    out_dir = Path(out_dir)
    trackers = evaluation["trackers"]
    bench = evaluation.get("benchmark", "")
    paths: list[Path] = []
    for kind in _KINDS:
        entries = [
            (name, np.asarray(t["curves"][kind]["thresholds"]), np.asarray(t["curves"][kind]["values"], float),
             _score_of(t, kind))
            for name, t in trackers.items() if kind in t.get("curves", {})
        ]
        if not entries:
            continue
        title = f"{_KINDS[kind][2]} plots of OPE on {bench}\n({evaluation.get('protocol', '')})"
        paths += plot_curves(entries, kind, title, out_dir / f"{prefix}{kind}")
    if evaluation.get("attributes"):
        paths += plot_attributes(evaluation, out_dir / f"{prefix}success_attributes")
    return paths


def plot_attributes(evaluation: dict, stem: str | Path, columns: int = 4, dpi: int = 100) -> list[Path]:
    """A grid of success plots, one per attribute (LaSOT: 14, OTB: 11), with the number of
    sequences having it in the panel title."""
    attrs = evaluation.get("attributes") or {}
    if not attrs:
        raise ValueError("the evaluation holds no attribute data")
    names = [a for a in ATTRIBUTE_NAMES if a in attrs] + sorted(a for a in attrs if a not in ATTRIBUTE_NAMES)
    any_tracker = next(iter(evaluation["trackers"].values()))
    x = np.asarray(any_tracker["curves"]["success"]["thresholds"])
    plt = _pyplot()
    rows = int(np.ceil(len(names) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.6 * rows), squeeze=False)
    try:
        for ax, attr in zip(axes.flat, names):
            per = attrs[attr]["trackers"]
            entries = [(n, x, np.asarray(v["curve"], float), _score_of(v, "success")) for n, v in per.items()]
            _draw(ax, entries, "success", legend_size=7)
            ax.set_title(f"{ATTRIBUTE_NAMES.get(attr, attr)} ({attrs[attr]['sequences']})", fontsize=10)
        for ax in list(axes.flat)[len(names):]:
            ax.axis("off")
        fig.suptitle(f"Attribute-wise success plots on {evaluation.get('benchmark', '')} ({evaluation.get('protocol', '')})",
                     fontsize=14)
        fig.tight_layout(rect=(0.0, 0.0, 1.0, 1.0 - 0.25 / (3.6 * rows)))  # leave room for the suptitle
        return save_figure(fig, stem, dpi=dpi)
    finally:
        plt.close(fig)
