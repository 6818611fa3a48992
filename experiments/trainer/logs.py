"""Training log: a CSV of averaged losses and learning rates, and a PNG of the curves.

Rows are kept in memory and the whole file is rewritten atomically (`datasets.fileio`) at each
epoch end and just before each checkpoint, so ``log.csv`` holds every row up to the latest
checkpoint (a crash between the two writes leaves it ahead, never behind); on resume the rows
after the checkpoint's step are dropped.
"""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from datasets.fileio import atomic_write, atomic_write_text

FIXED = ("epoch", "step", "time_s")


class CSVLog:
    """Rows of ``epoch, step, time_s, lr/<group>..., <stat>...`` (columns are the union seen)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.rows: list[dict[str, float]] = []

    def load(self, max_step: int) -> None:
        """Read an existing log, keeping rows with ``step <= max_step`` (resume)."""
        if not self.path.is_file():
            return
        with open(self.path, newline="") as f:
            reader = csv.DictReader(f)
            for lineno, row in enumerate(reader, start=2):
                try:
                    parsed = {k: float(v) for k, v in row.items() if v not in ("", None)}
                except ValueError as e:
                    raise ValueError(f"{self.path}:{lineno}: not a number in {row!r} ({e})") from None
                if parsed.get("step", math.inf) <= max_step:
                    self.rows.append(parsed)

    def append(self, row: dict[str, float]) -> None:
        self.rows.append(dict(row))

    def columns(self) -> list[str]:
        cols = {k for r in self.rows for k in r}
        lrs = sorted(k for k in cols if k.startswith("lr/"))
        rest = sorted(cols - set(FIXED) - set(lrs))
        return [c for c in FIXED if c in cols] + lrs + rest

    def write(self) -> Path:
        buf = io.StringIO()
        cols = self.columns()
        w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        for r in self.rows:
            w.writerow({c: (repr(r[c]) if c in r else "") for c in cols})
        return atomic_write_text(self.path, buf.getvalue())


def plot_log(log: CSVLog, path: str | Path, title: str = "") -> Path | None:
    """Loss curves (every logged quantity except lr/, data/ and timing, symlog y) and the learning
    rates against the step, in one PNG (matplotlib Agg, written atomically). Two fixed panels keep
    it cheap enough to redraw every epoch. Returns None when there is nothing to plot yet.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = log.columns()
    losses = [c for c in cols if c not in FIXED and not c.startswith(("lr/", "data/"))]
    lrs = [c for c in cols if c.startswith("lr/")]
    if not log.rows or not losses:
        return None

    def series(key: str) -> tuple[list[float], list[float]]:
        pts = [(r["step"], r[key]) for r in log.rows if key in r and "step" in r]
        return [p[0] for p in pts], [p[1] for p in pts]

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [2, 1]})
    marker = "o" if len(log.rows) < 30 else None          # short runs: make single points visible
    for key in losses:
        ax1.plot(*series(key), lw=1.0, label=key, marker=marker, ms=3)
    ax1.set_yscale("symlog", linthresh=1e-3)
    ax1.set_xlabel("step")
    ax1.set_title("losses (symlog)")
    ax1.legend(fontsize=7, ncol=2)
    ax1.grid(alpha=0.3)
    for key in lrs:
        ax2.plot(*series(key), lw=1.0, label=key[3:], marker=marker, ms=3)
    ax2.set_yscale("log")
    ax2.set_xlabel("step")
    ax2.set_title("learning rate")
    if lrs:
        ax2.legend(fontsize=7)
    ax2.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.13, top=0.86, wspace=0.18)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return atomic_write(path, lambda f: f.write(buf.getvalue()))
