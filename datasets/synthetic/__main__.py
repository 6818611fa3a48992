"""``python -m datasets.synthetic OUT_DIR --sequences N --seed S [--frames F] [--split train|val|both]``"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from datasets.synthetic.generate import (
    DEFAULT_FRAMES,
    DEFAULT_TRAIN_SEQUENCES,
    DEFAULT_VAL_SEQUENCES,
    SyntheticConfig,
    generate_synthetic,
)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m datasets.synthetic", description=__doc__)
    p.add_argument("out_dir", type=Path, help="folder to create (GOT-10k layout)")
    p.add_argument("--sequences", type=int, default=None,
                   help=f"sequences per split (default: train {DEFAULT_TRAIN_SEQUENCES}, val {DEFAULT_VAL_SEQUENCES})")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--frames", type=int, default=DEFAULT_FRAMES, help="frames per sequence")
    p.add_argument("--split", choices=("train", "val", "both"), default="both")
    p.add_argument("--width", type=int, default=320)
    p.add_argument("--height", type=int, default=240)
    p.add_argument("--overwrite", action="store_true", help="replace an existing OUT_DIR")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    a = p.parse_args(argv)
    if a.sequences is not None and a.sequences < 0:
        p.error(f"--sequences {a.sequences} must be >= 0")
    splits = ("train", "val") if a.split == "both" else (a.split,)
    try:
        cfg = SyntheticConfig(
            seed=a.seed,
            train_sequences=DEFAULT_TRAIN_SEQUENCES if a.sequences is None else a.sequences,
            val_sequences=DEFAULT_VAL_SEQUENCES if a.sequences is None else a.sequences,
            frames=a.frames, width=a.width, height=a.height, splits=splits,
        )
    except ValueError as e:
        p.error(str(e))
    t0 = time.perf_counter()
    try:
        root = generate_synthetic(a.out_dir, cfg, overwrite=a.overwrite, progress=not a.quiet)
    except FileExistsError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    n = sum(cfg.count(s) for s in splits)
    print(f"wrote {n} sequences x {cfg.frames} frames to {root} in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
