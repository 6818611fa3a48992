"""evaluation.reports: tables in percent, published rows labelled with paper and table."""
from __future__ import annotations

import numpy as np
import pandas as pd

from evaluation import reports


def test_published_numbers_from_both_papers():
    got = reports.published_table("got10k")
    hc = got[(got.tracker == "HCTrack_256") & (got.source == "published: HCTrack Table 1")].iloc[0]
    assert (hc.ao, hc.sr50, hc.sr75, hc.fps) == (73.6, 84.2, 69.7, 163.0)
    cia = got[(got.tracker == "CIA50") & (got.source == "published: CIA Table 5")].iloc[0]
    assert (cia.ao, cia.sr50, cia.sr75) == (67.9, 79.0, 60.3) and np.isnan(cia.fps)
    tn = reports.published_table("trackingnet")
    row = tn[(tn.tracker == "CIA18")].iloc[0]
    assert (row.auc, row.norm_precision, row.precision) == (74.5, 80.7, 69.5)
    ocean = tn[tn.tracker == "Ocean"].iloc[0]  # '-' in the paper
    assert np.isnan(ocean.auc) and np.isnan(ocean.fps)
    otb = reports.published_table("otb")
    assert otb[(otb.tracker == "CIA50") & (otb.source == "published: CIA Table 4")].auc.item() == 71.3
    assert reports.published_table("lasot").auc.max() == 66.2
    assert len(reports.published_table("synthetic")) == 0


def test_tables_percent_markdown_and_files(tmp_path):
    ev = {
        "benchmark": "got10k", "split": "val", "protocol": "got10k-toolkit/got10k",
        "trackers": {"mine": {"auc": None, "precision": None, "norm_precision": None, "ao": 0.5123, "sr50": 0.6,
                              "sr75": 0.25, "fps": 31.0,
                              "sequences": {"s1": {"ao": 0.5, "sr50": 0.6, "sr75": None, "fps": None, "length": 10, "runs": 1}}}},
    }
    df = reports.tracker_table(ev)
    mine = df.iloc[0]
    assert mine.tracker == "mine" and mine.source == "ours (got10k-toolkit/got10k)" and mine.ao == 51.23
    assert len(df) == 1 + 18 + 12  # ours + HCTrack Table 1 + CIA Table 5
    trimmed = reports.drop_empty_columns(df)
    assert "auc" not in trimmed.columns and "ao" in trimmed.columns
    md = reports.to_markdown(pd.DataFrame({"a": ["x|y"], "b": [np.nan], "c": [1.25]}), decimals=1)
    assert md.splitlines() == ["| a | b | c |", "|---|---:|---:|", "| x\\|y | - | 1.2 |"]
    paths = reports.write_tables(ev, tmp_path)
    assert sorted(p.name for p in paths) == ["sequences.csv", "sequences.md", "trackers.csv", "trackers.md"]
    seq = pd.read_csv(tmp_path / "sequences.csv")
    assert seq.loc[0, "ao"] == 50.0 and seq.loc[0, "length"] == 10
