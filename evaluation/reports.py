"""Result tables: per tracker and per sequence (pandas -> CSV and Markdown), with published rows.

Scores are shown in percent (as in the papers), fps in frames/s. Published reference numbers of
the two papers (HCTrack Table 1; CIA Tables 1, 3, 4, 5) live in ``evaluation/data/published.json``
with the paper and table they come from; `published_table` returns them for a benchmark, and
`tracker_table(..., published=True)` appends them as rows whose ``source`` says
``published: <paper> <table>`` (published numbers come from the official servers or toolkits of
their authors, not from this evaluation).
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from datasets.fileio import atomic_write_text

PUBLISHED_FILE = Path(__file__).parent / "data" / "published.json"
SCORE_COLUMNS = ("auc", "precision", "norm_precision", "ao", "sr50", "sr75")
COLUMNS = ("tracker", "source") + SCORE_COLUMNS + ("fps",)


@lru_cache(maxsize=1)
def load_published() -> dict:
    """The published-numbers table (see the module docstring)."""
    try:
        return json.loads(PUBLISHED_FILE.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{PUBLISHED_FILE}:{e.lineno}: invalid JSON ({e.msg})") from None


def published_table(benchmark: str) -> pd.DataFrame:
    """Published rows for `benchmark` (percent; NaN where the paper gives none), one row per
    tracker and table, with ``source`` = ``published: <paper> <table>``."""
    data = load_published()
    rows = []
    for t in data["tables"]:
        if t["benchmark"] != benchmark:
            continue
        label = f"published: {data['papers'][t['paper']]['short']} {t['table']}"
        for r in t["rows"]:
            row = {"tracker": r["tracker"], "source": label}
            for c in SCORE_COLUMNS + ("fps",):
                row[c] = np.nan if r.get(c) is None else float(r[c])
            rows.append(row)
    return pd.DataFrame(rows, columns=list(COLUMNS))


def tracker_table(evaluation: dict, published: bool = True) -> pd.DataFrame:
    """One row per evaluated tracker (``source`` = ``ours (<protocol>)``), then the published
    rows of the benchmark when `published`. Scores in percent."""
    src = f"ours ({evaluation['protocol']})"
    rows = []
    for name, t in evaluation["trackers"].items():
        row = {"tracker": name, "source": src}
        for c in SCORE_COLUMNS:
            row[c] = np.nan if t.get(c) is None else 100.0 * t[c]
        row["fps"] = np.nan if t.get("fps") is None else float(t["fps"])
        rows.append(row)
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    if published:
        pub = published_table(evaluation["benchmark"])
        if len(pub):
            df = pd.concat([df, pub], ignore_index=True)
    return df


def sequence_table(evaluation: dict) -> pd.DataFrame:
    """One row per (tracker, sequence): the protocol's per-sequence figures (percent), fps,
    length and runs."""
    rows = []
    for name, t in evaluation["trackers"].items():
        for seq, s in t["sequences"].items():
            row = {"tracker": name, "sequence": seq}
            for c in SCORE_COLUMNS:
                row[c] = np.nan if s.get(c) is None else 100.0 * s[c]
            row["fps"] = np.nan if s.get("fps") is None else float(s["fps"])
            row["length"] = s.get("length")
            row["runs"] = s.get("runs")
            rows.append(row)
    return pd.DataFrame(rows, columns=["tracker", "sequence", *SCORE_COLUMNS, "fps", "length", "runs"])


def drop_empty_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Drop score columns that are NaN in every row (figures the protocol does not define)."""
    empty = [c for c in df.columns if c in SCORE_COLUMNS + ("fps",) and df[c].isna().all()]
    return df.drop(columns=empty)


def to_markdown(df: pd.DataFrame, decimals: int = 1) -> str:
    """A GitHub-flavoured Markdown table; floats with `decimals` digits, NaN as ``-``."""
    def cell(v) -> str:
        if isinstance(v, (float, np.floating)):
            return "-" if np.isnan(v) else f"{v:.{decimals}f}"
        return "-" if v is None else str(v).replace("|", "\\|")

    header = "| " + " | ".join(str(c) for c in df.columns) + " |"
    align = "|" + "|".join("---:" if pd.api.types.is_numeric_dtype(df[c]) else "---" for c in df.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([header, align, *body]) + "\n"


def write_tables(evaluation: dict, out_dir: str | Path, published: bool = True) -> list[Path]:
    """Write ``trackers.csv|md`` and ``sequences.csv|md`` into `out_dir` (atomically)."""
    out_dir = Path(out_dir)
    trackers = drop_empty_columns(tracker_table(evaluation, published))
    sequences = drop_empty_columns(sequence_table(evaluation))
    title = f"{evaluation['benchmark']} ({evaluation.get('split') or 'default split'}), protocol {evaluation['protocol']}"
    paths = [
        atomic_write_text(out_dir / "trackers.csv", trackers.to_csv(index=False)),
        atomic_write_text(out_dir / "trackers.md", f"# {title}\n\n" + to_markdown(trackers)),
        atomic_write_text(out_dir / "sequences.csv", sequences.to_csv(index=False)),
        atomic_write_text(out_dir / "sequences.md", f"# Per-sequence results: {title}\n\n" + to_markdown(sequences)),
    ]
    return paths
