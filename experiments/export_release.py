"""``python -m experiments.export_release SRC OUT [--fp16]``: write slim release weights.

SRC is a training checkpoint (``last.pt``) or a release file; OUT leaves out the training-only
modules and, with ``--fp16``, stores floating-point weights as float16 (half the size; loading
casts back to float32). The shipped tiny weights were made this way.
"""
from __future__ import annotations

import argparse

import torch

from experiments.trainer.release import export_release


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src", help="training checkpoint (last.pt) or release file")
    ap.add_argument("out", help="release file to write")
    ap.add_argument("--fp16", action="store_true", help="store floating-point weights as float16")
    args = ap.parse_args(argv)
    export_release(args.src, args.out, dtype=torch.float16 if args.fp16 else None)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
