"""``python -m experiments.evaluate BENCHMARK RESULTS_DIR [RESULTS_DIR ...]``: score raw results.

Thin CLI over `evaluation.report.evaluate_trackers` (tracker name = results folder name). Prints
a Markdown table (ours + the papers' published rows) and optionally writes the JSON, plots and
tables. Third-party results in another box convention: ``--box-format xyxy --one-based``.
"""
from __future__ import annotations

import argparse
import sys

from evaluation.protocols import BENCHMARK_STYLE, PROFILES, PROTOCOLS


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m experiments.evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("benchmark", choices=sorted(BENCHMARK_STYLE))
    p.add_argument("results_dirs", nargs="+", metavar="RESULTS_DIR", help="one folder per tracker")
    p.add_argument("--data-root", default=None, help="benchmark root (else $<BENCHMARK>_ROOT)")
    p.add_argument("--split", default=None, help="split to score (default: the loader's)")
    p.add_argument("--protocol", default=None, choices=sorted(set(PROFILES) | set(PROTOCOLS)),
                   help="protocol profile or variant (default: the benchmark's documented default)")
    p.add_argument("--json", default=None, metavar="FILE", help="write the full results as JSON")
    p.add_argument("--plots", default=None, metavar="DIR", help="write success/precision plots (PNG + PDF)")
    p.add_argument("--tables", default=None, metavar="DIR", help="write CSV + Markdown tables")
    p.add_argument("--box-format", choices=("xywh", "xyxy"), default="xywh", help="box convention of the files")
    p.add_argument("--one-based", action="store_true", help="boxes use 1-based (MATLAB) pixel coordinates")
    p.add_argument("--inclusive", action="store_true", help="xyxy corners are inclusive pixel indices")
    p.add_argument("--no-published", action="store_true", help="omit the papers' published rows")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from evaluation.report import evaluate_trackers
    from evaluation.reports import drop_empty_columns, to_markdown, tracker_table
    from evaluation.results import BoxAdapter

    try:
        adapter = BoxAdapter(fmt=args.box_format, one_based=args.one_based, inclusive=args.inclusive)
        ev = evaluate_trackers(
            args.benchmark, args.results_dirs, data_root=args.data_root, split=args.split,
            protocol=args.protocol, json_path=args.json, plots_dir=args.plots, tables_dir=args.tables,
            adapter=adapter,
        )
    except (ValueError, KeyError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{ev['benchmark']} ({ev['split'] or 'default split'}), {ev['sequences']} sequences, protocol {ev['protocol']}")
    print(to_markdown(drop_empty_columns(tracker_table(ev, published=not args.no_published))))
    for name, t in ev["trackers"].items():
        for w in t["warnings"]:
            print(f"warning: {name}: {w}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
