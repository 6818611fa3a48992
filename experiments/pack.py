"""``python -m experiments.pack got10k|trackingnet RESULTS_DIR --out FILE.zip``: server submission zip.

Thin CLI over `evaluation.packing.pack_results`: validates the results (every sequence, one row
per frame, comma-separated, time files for GOT-10k) and writes the exact layout the server
expects. With ``--data-root`` the test split is loaded to check names and frame counts.
"""
from __future__ import annotations

import argparse
import sys

from evaluation.packing import SERVERS


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m experiments.pack", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("server", choices=SERVERS)
    p.add_argument("results_dir", metavar="RESULTS_DIR", help="the tracker's results folder")
    p.add_argument("--out", required=True, metavar="FILE.zip", help="archive to write")
    p.add_argument("--data-root", default=None, help="benchmark root, to check names and frame counts")
    p.add_argument("--split", default="test", help="split to check against (default: test)")
    p.add_argument("--allow-partial", action="store_true", help="pack only the sequences present (trial upload)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from evaluation.packing import pack_results

    try:
        dataset = None
        if args.data_root is not None:
            from datasets.loaders import get_dataset

            dataset = get_dataset(args.server, root=args.data_root, split=args.split)
        rep = pack_results(args.server, args.results_dir, args.out, dataset=dataset, allow_partial=args.allow_partial)
    except (ValueError, KeyError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for w in rep.warnings:
        print(f"warning: {w}", file=sys.stderr)
    print(f"wrote {rep.out}: {rep.sequences} sequences, {rep.runs} run(s), {len(rep.entries)} files ({args.server} layout)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
