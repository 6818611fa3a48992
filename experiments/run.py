"""``python -m experiments.run TRACKERS BENCHMARK``: track a benchmark, score it, plot, report.

    python -m experiments.run hctrack-tiny,cia-tiny synthetic
    python -m experiments.run cia50 lasot --data-root /data/lasot --weights runs/cia50/release.pt
    python -m experiments.run hctrack got10k --split test --weights hctrack=runs/hctrack/release.pt

TRACKERS is one preset or a comma-separated list; BENCHMARK is got10k, lasot, trackingnet, otb or
synthetic (generated on first use). Results, report.json / report.md, tables and plots go to
OUT/<benchmark>/ (OUT = --out, default ./runs); a rerun resumes (finished sequences are kept).
GOT-10k and TrackingNet test splits (no public ground truth) are packed for the servers instead.
Thin CLI over `experiments.benchmark_run.run_benchmark`. Exit codes: 0 done, 1 some sequences
failed (see failures.json), 2 bad input (missing data set or weights, unknown names), 130
interrupted (rerun the same command to resume).
"""
from __future__ import annotations

import argparse
import logging
import sys


def _sequences(text: str) -> int | tuple[str, ...]:
    text = text.strip()
    if text.isdigit():
        n = int(text)
        if n < 1:
            raise argparse.ArgumentTypeError(f"--sequences {text}: must be >= 1")
        return n
    names = tuple(s.strip() for s in text.split(",") if s.strip())
    if not names:
        raise argparse.ArgumentTypeError(f"--sequences {text!r}: expected N or NAME[,NAME...]")
    return names


def _positive(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"{v} must be >= 1")
    return v


def build_parser() -> argparse.ArgumentParser:
    from evaluation.protocols import PROFILES, PROTOCOLS
    from experiments.benchmark_run import RUN_BENCHMARKS

    p = argparse.ArgumentParser(prog="python -m experiments.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("trackers", metavar="TRACKERS", help="preset or comma-separated presets, e.g. hctrack-tiny,cia-tiny")
    p.add_argument("benchmark", metavar="BENCHMARK", choices=RUN_BENCHMARKS, help=" | ".join(RUN_BENCHMARKS))
    p.add_argument("--data-root", default=None, metavar="DIR",
                   help="benchmark root (else $GOT10K_ROOT / $LASOT_ROOT / $TRACKINGNET_ROOT / $OTB_ROOT; "
                        "synthetic: $SYNTHETIC_ROOT or the cache folder)")
    p.add_argument("--split", default=None, help="split (default: got10k val, lasot test, trackingnet test, otb all, synthetic val)")
    p.add_argument("--weights", action="append", default=[], metavar="FILE | NAME=FILE",
                   help="release weights (repeatable; NAME=FILE with several trackers; pytracking:FILE for "
                        "official DiMP weights in a CIA preset). Default: the shipped weights of the tiny presets")
    p.add_argument("--out", default="runs", metavar="DIR", help="output root (default ./runs)")
    p.add_argument("--sequences", type=_sequences, default=None, metavar="N|NAME,...",
                   help="only the first N sequences, or the named ones")
    p.add_argument("--runs", type=_positive, default=1, metavar="R", help="runs per sequence (default 1)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--threads", type=_positive, default=None, metavar="N", help="torch / OpenCV threads")
    p.add_argument("--protocol", default=None, choices=sorted(PROFILES + tuple(PROTOCOLS)),
                   help="protocol profile or variant (default: the benchmark's)")
    p.add_argument("--save-video", action="store_true", help="write OUT/<benchmark>/videos/<tracker>/<seq>.mp4")
    p.add_argument("--random-init", action="store_true",
                   help="run without weights (profiling only: the scores are meaningless)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    from evaluation.runner import TrackingFailedError
    from experiments.benchmark_run import RunConfig, run_benchmark
    from experiments.tracker_weights import parse_weights_args

    trackers = tuple(t.strip() for t in args.trackers.split(",") if t.strip())
    try:
        weights = parse_weights_args(args.weights, trackers)
        cfg = RunConfig(
            trackers=trackers, benchmark=args.benchmark, data_root=args.data_root, split=args.split,
            weights=tuple(weights.items()), out=args.out, sequences=args.sequences, runs=args.runs,
            device=args.device, threads=args.threads, protocol=args.protocol, save_video=args.save_video,
            random_init=args.random_init, progress=not args.no_progress,
        )
        outcome = run_benchmark(cfg)
    except TrackingFailedError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyError as e:
        print(f"error: {e.args[0] if e.args else e}", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError, FileExistsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: rerun the same command to resume (finished sequences are kept)", file=sys.stderr)
        return 130
    for w in outcome.warnings:
        print(f"warning: {w}", file=sys.stderr)
    print(outcome.text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
