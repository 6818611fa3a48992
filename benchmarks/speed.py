"""Per-frame latency of every tracker preset against its compute floor (batch 1, random weights).

For each preset: the network forward of one frame alone ("model") and the whole ``track()`` step
on a 640x480 frame ("track"), after warm-up, median over ``--frames`` frames; the FLOPs of both
(``torch.utils.flop_counter``, multiply-add = 2 FLOPs) and the measured FLOP/s of a 2048^3 matmul
in the same dtype on the same device, timed next to every call in the same run, so every latency is
also a ratio to its compute floor (FLOPs / matmul FLOP/s). The same is measured for a compute proxy
of OSTrack-256 (`benchmarks/ostrack_proxy.py`), the frame-rate baseline of HCTrack's target. The details of what is timed
are in `experiments.profiling` (shared with ``python -m experiments.profile``).

Run from the repository root (no install needed)::

    PYTHONPATH=. python benchmarks/speed.py                      # CPU, 2 threads, all presets
    PYTHONPATH=. python benchmarks/speed.py --device cuda --json benchmarks/results/speed_cuda.json
    PYTHONPATH=. python benchmarks/speed.py --presets hctrack cia18 --frames 50 --threads 1

Prints a Markdown table and writes JSON (default ``benchmarks/results/speed_<device>.json``).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python benchmarks/speed.py` without PYTHONPATH
    sys.path.insert(0, str(ROOT))

DEFAULT_PRESETS = ("hctrack", "cia18", "cia50", "hctrack-tiny", "cia-tiny")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads (torch + OpenCV)")
    ap.add_argument("--presets", nargs="+", default=list(DEFAULT_PRESETS))
    ap.add_argument("--frames", type=int, default=30, help="timed frames per measurement (median)")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--precision", nargs="+", default=["fp32"], choices=("fp32", "bf16", "fp16"),
                    help="one or more; each preset is run in each")
    ap.add_argument("--compile", action="store_true", help="torch.compile the networks")
    ap.add_argument("--no-flops", action="store_true", help="skip FLOP counting")
    ap.add_argument("--clock", default="wall", choices=("wall", "cpu"),
                    help="wall time, or process CPU time (CPU only; load-independent with --threads 1)")
    ap.add_argument("--no-ostrack-proxy", action="store_true",
                    help="skip the OSTrack-256 compute proxy (benchmarks/ostrack_proxy.py) baseline")
    ap.add_argument("--json", default=None, help="output file (default benchmarks/results/speed_<device>.json)")
    return ap.parse_args(argv)


def profile_ostrack_proxy(device: str, frames: int, warmup: int, clock: str) -> dict:
    """Model-only latency of the OSTrack-256 proxy (fp32), paired with the matmul like the presets."""
    import numpy as np
    import torch

    from benchmarks.ostrack_proxy import REFERENCE, OSTrackProxy
    from experiments.profiling import count_flops, matmul_call, time_interleaved
    from trackers.common.inference import prepare_for_inference

    torch.manual_seed(0)
    proxy = OSTrackProxy()
    # every speed-up HCTrack gets, the proxy gets too (conservative baseline): folded head convs and
    # linears packed for its 64 + 256 token rows
    model = prepare_for_inference(proxy, device, linear_rows=proxy.nz + proxy.feat ** 2)
    x = torch.randn(1, 3, 256, 256, device=device).contiguous(memory_format=torch.channels_last)
    mm, mm_flops = matmul_call(device)

    @torch.inference_mode()
    def step():
        return model(x)

    mm_s, t = time_interleaved([mm, step], device, frames, warmup, clock)
    flops = count_flops(step)
    ratio = float(np.median(t / mm_s)) * mm_flops / flops
    med = float(np.median(t))
    # the official tracker with candidate elimination, from the reference ratios (same floor)
    ce_track_s = med / ratio * REFERENCE["ratio_track_ce"] * REFERENCE["gflop_ce"] / (flops / 1e9)
    # ... or scaled from the proxy as measured here (its efficiency instead of the reference's 1.29)
    ce_track_s_proxy = med * (REFERENCE["gflop_ce"] * REFERENCE["ratio_track_ce"]) / (
        REFERENCE["gflop_no_ce"] * REFERENCE["ratio_no_ce"])
    return {"gflop": flops / 1e9, "median_ms": med * 1e3, "min_ms": float(t.min()) * 1e3, "ratio": ratio,
            "matmul_gflop_per_s": mm_flops / float(np.median(mm_s)) / 1e9,
            "est_ostrack_ce_track_ms": ce_track_s * 1e3, "est_ostrack_ce_track_fps": 1.0 / ce_track_s,
            "est_ostrack_ce_track_fps_from_proxy": 1.0 / ce_track_s_proxy}


def fps_ratio_vs_ostrack(track: dict, proxy: dict) -> tuple[float, float]:
    """HCTrack FPS / OSTrack-256 (with CE) FPS on the same machine, from time = ratio x FLOPs / rate.

    The matmul rate cancels, so window-to-window load changes do not enter. Returns (with OSTrack's
    reference track ratio 1.52 x 45.3 GFLOP, with the proxy's measured ratio scaled to CE by the
    reference ratios).
    """
    from benchmarks.ostrack_proxy import REFERENCE

    hc = track["ratio"] * track["gflop"]
    ost_ref = REFERENCE["ratio_track_ce"] * REFERENCE["gflop_ce"]
    ost_proxy = proxy["ratio"] * proxy["gflop"] * ost_ref / (REFERENCE["ratio_no_ce"] * REFERENCE["gflop_no_ce"])
    return ost_ref / hc, ost_proxy / hc


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch

    from datasets.fileio import atomic_write_text
    from experiments.profiling import (TABLE_HEADER, ProfileConfig, machine_info, matmul_rate, profile_preset,
                                       set_threads, table_row)

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print(f"error: --device {args.device} but torch.cuda.is_available() is False", file=sys.stderr)
        return 2
    set_threads(args.threads)
    info_start = machine_info(args.device)
    rate_fp32 = matmul_rate(args.device)
    print(f"# speed: {info_start.get('gpu') or info_start['cpu']} ({args.device}), CPU {info_start['cpu']}, "
          f"{args.threads} threads, {args.clock} clock, torch {info_start['torch']}, load {info_start['load_average_1min']}")
    print(f"# matmul 2048^3 fp32: {rate_fp32 / 1e9:.1f} GFLOP/s\n")
    print(TABLE_HEADER, flush=True)
    results = []
    t_start = time.perf_counter()
    for precision in args.precision:
        for preset in args.presets:
            pc = ProfileConfig(preset, device=args.device, threads=args.threads, frames=args.frames,
                               warmup=args.warmup, precision=precision, compile=args.compile,
                               count_flops=not args.no_flops, clock=args.clock)
            try:
                r = profile_preset(pc)
            except ValueError as e:  # e.g. a precision switch the family lacks
                print(f"| `{preset}` | skipped: {e} |", flush=True)
                continue
            results.append(r)
            print(table_row(r), flush=True)
    proxy = None
    if not args.no_ostrack_proxy:
        proxy = profile_ostrack_proxy(args.device, args.frames, args.warmup, args.clock)
        print(f"\n# OSTrack-256 proxy (no candidate elimination, fp32): {proxy['gflop']:.1f} GFLOP, "
              f"{proxy['median_ms']:.1f} ms median ({proxy['min_ms']:.1f} min) = {proxy['ratio']:.2f} x floor; "
              f"official OSTrack-256 track() with CE estimated at {proxy['est_ostrack_ce_track_ms']:.1f} ms "
              f"({proxy['est_ostrack_ce_track_fps']:.2f} FPS) from the reference ratios")
        for r in results:
            if r.config["preset"] == "hctrack" and r.track_flops:
                ref, prox = fps_ratio_vs_ostrack(r.summary()["track"], proxy)
                proxy.setdefault("hctrack_fps_ratio", {})[r.config["precision"]] = {"reference": ref, "proxy": prox}
                print(f"# hctrack ({r.config['precision']}) frame rate / OSTrack-256's, from the floor ratios "
                      f"(load-independent): {ref:.2f} (OSTrack at its reference 1.52 x), {prox:.2f} (proxy as measured here)")
    info_end = machine_info(args.device)
    rate_end = matmul_rate(args.device)
    print(f"\n# matmul 2048^3 fp32 at the end: {rate_end / 1e9:.1f} GFLOP/s; load {info_end['load_average_1min']}; "
          f"{time.perf_counter() - t_start:.0f} s")
    out = Path(args.json) if args.json else ROOT / "benchmarks" / "results" / f"speed_{args.device.split(':')[0]}.json"
    payload = {
        "machine": info_start, "load_average_1min_end": info_end["load_average_1min"],
        "matmul_fp32_flops_per_s": {"start": rate_fp32, "end": rate_end},
        "args": vars(args), "results": [r.to_json() for r in results], "ostrack_proxy": proxy,
    }
    atomic_write_text(out, json.dumps(payload, indent=1))
    print(f"# wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
