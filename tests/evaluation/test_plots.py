"""evaluation.plots: files written (PNG + PDF), legend sorted by score with the score in brackets."""
from __future__ import annotations

import numpy as np
import pytest

from evaluation import plots


def fake_evaluation(with_attributes=True):
    x = np.linspace(0, 1, 21)
    tr = {}
    for name, q in (("weak", 0.3), ("strong", 0.7), ("mid", 0.5)):
        tr[name] = {
            "auc": q, "precision": q + 0.1, "norm_precision": None, "ao": None,
            "curves": {"success": {"thresholds": x.tolist(), "values": np.clip(1 - x / (2 * q), 0, 1).tolist()},
                       "precision": {"thresholds": list(range(51)), "values": np.linspace(0, q + 0.1, 51).tolist()}},
        }
    ev = {"benchmark": "lasot", "protocol": "lasot-official", "trackers": tr, "attributes": {}}
    if with_attributes:
        ev["attributes"] = {
            a: {"sequences": 3, "trackers": {n: {"auc": t["auc"], "curve": t["curves"]["success"]["values"]}
                                             for n, t in tr.items()}}
            for a in ("FOC", "custom")
        }
    return ev


def test_legend_sorted_by_score_lasot_style():
    plt = plots._pyplot()
    fig, ax = plt.subplots()
    x = np.linspace(0, 1, 5)
    plots._draw(ax, [("b", x, x, 0.2), ("a", x, x, 0.9), ("c", x, x, None), ("d", x, x, 0.5)], "success", 8)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    plt.close(fig)
    assert labels == ["[0.900] a", "[0.500] d", "[0.200] b", "c"]


@pytest.mark.slow  # matplotlib renders 3 figures x (PNG + PDF): ~3 s, up to ~9 s on a loaded 2-core machine
def test_plot_evaluation_writes_png_and_pdf(tmp_path):
    paths = plots.plot_evaluation(fake_evaluation(), tmp_path)
    names = sorted(p.name for p in paths)
    assert names == sorted(f"{k}.{e}" for k in ("success", "precision", "success_attributes") for e in ("png", "pdf"))
    for p in paths:
        head = p.read_bytes()[:8]
        assert head.startswith(b"\x89PNG") if p.suffix == ".png" else head.startswith(b"%PDF")
    assert not list(tmp_path.glob("*.tmp-*"))


def test_plot_errors():
    with pytest.raises(ValueError, match="unknown plot kind"):
        plots.plot_curves([("a", np.zeros(2), np.zeros(2), None)], "iou", "t", "x")
    with pytest.raises(ValueError, match="no attribute data"):
        plots.plot_attributes(fake_evaluation(with_attributes=False), "x")
