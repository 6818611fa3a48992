"""Train a tracker preset.

    python -m experiments.train TRACKER --data got10k=ROOT --data lasot[=ROOT] ... \
        [--epochs N] [--batch-size B] [--samples-per-epoch S] [--workers W] [--resume [CKPT]] \
        [--out DIR] [--seed S] [--set a.b=v ...] [--device cpu|cuda]

The same command under ``torchrun --nproc_per_node N -m experiments.train ...`` trains with
DistributedDataParallel (``--batch-size`` is per process; the learning rate is scaled linearly to
the effective batch). A ``--data NAME`` without ``=ROOT`` reads the data set's environment
variable (e.g. ``GOT10K_ROOT``). Example, CPU-sized::

    python -m datasets.synthetic /tmp/synth --sequences 40
    python -m experiments.train hctrack-tiny --data synthetic=/tmp/synth --epochs 1 --samples-per-epoch 64

Writes into ``--out`` (default ``runs/<preset>``): config.json, last.pt, log.csv, loss.png and
release.pt (the weights ``experiments.run`` loads).
"""
from __future__ import annotations

import argparse
import logging
import sys

from experiments.trainer import DataSpec, RunSettings, train


def _override(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"--set {text!r}: expected KEY=VALUE (e.g. train.lr=1e-4)")
    return key.strip(), value


def _data(text: str) -> DataSpec:
    try:
        return DataSpec.parse(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m experiments.train", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("tracker", help="preset name, e.g. hctrack, hctrack-tiny, cia18, cia50, cia-tiny")
    p.add_argument("--data", action="append", type=_data, default=[], metavar="NAME[:SPLIT][=ROOT]",
                   help="training data set (repeatable); ROOT defaults to the environment variable")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int, help="samples per process per step")
    p.add_argument("--samples-per-epoch", type=int)
    p.add_argument("--workers", type=int, default=0, help="data-loader worker processes (default 0)")
    p.add_argument("--resume", nargs="?", const="auto", default=None, metavar="CKPT",
                   help="continue OUT/last.pt (or the given checkpoint)")
    p.add_argument("--out", help="run directory (default runs/<preset>)")
    p.add_argument("--seed", type=int)
    p.add_argument("--set", dest="overrides", action="append", type=_override, default=[], metavar="KEY=VALUE",
                   help="config override, e.g. --set train.lr=1e-4 (repeatable)")
    p.add_argument("--device", choices=("cpu", "cuda"))
    p.add_argument("--checkpoint-every", type=int, default=0, metavar="STEPS",
                   help="also checkpoint every STEPS optimizer steps (default: epoch ends only)")
    p.add_argument("--keep-every", type=int, default=0, metavar="EPOCHS",
                   help="keep epoch_XXXX.pt copies every EPOCHS epochs (default: only last.pt)")
    p.add_argument("--log-every", type=int, default=10, metavar="STEPS")
    p.add_argument("--amp", choices=("auto", "bf16", "fp16", "off"), default="auto")
    p.add_argument("--find-unused-parameters", action="store_true", help="DDP flag for models with unused parameters")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--no-plot", action="store_true", help="do not redraw loss.png every epoch")
    return p


def settings_from_args(args: argparse.Namespace) -> RunSettings:
    return RunSettings(
        preset=args.tracker, data=tuple(args.data), out=args.out or f"runs/{args.tracker}",
        epochs=args.epochs, batch_size=args.batch_size, samples_per_epoch=args.samples_per_epoch,
        seed=args.seed, workers=args.workers, device=args.device, resume=args.resume,
        overrides=tuple(args.overrides), checkpoint_every=args.checkpoint_every, keep_every=args.keep_every,
        log_every=args.log_every, find_unused_parameters=args.find_unused_parameters, amp=args.amp,
        progress=not args.no_progress, plot=not args.no_plot,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    out = train(settings_from_args(args))
    print(f"run directory: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
