"""``python -m experiments.profile TRACKER``: model-only and end-to-end speed of one tracker preset.

    python -m experiments.profile hctrack --threads 2 --frames 30
    python -m experiments.profile cia18 --device cuda --precision bf16 --json cia18_gpu.json
    python -m experiments.profile hctrack --weights runs/hctrack/release.pt

Prints the model-only latency (network forward of one frame, crop already on the device) and the
end-to-end ``track()`` latency on a 640x480 synthetic video (batch 1, after warm-up, median over
``--frames``), their FPS, the FLOPs per frame and the ratio to the compute floor (FLOPs / measured
2048^3 matmul FLOP/s), with the hardware (CPU model, GPU name), threads, precision and library
versions. Random weights unless ``--weights`` (a release file of the preset) is given.
See `experiments.profiling` for what exactly is timed and counted.
"""
from __future__ import annotations

import argparse
import json
import sys

from datasets.fileio import atomic_write_text


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m experiments.profile", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("tracker", metavar="TRACKER", help="preset name, e.g. hctrack, cia18, hctrack-tiny")
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N (default cpu)")
    p.add_argument("--threads", type=int, default=2, help="CPU threads (torch + OpenCV), default 2")
    p.add_argument("--frames", type=int, default=30, help="timed frames (median), default 30")
    p.add_argument("--warmup", type=int, default=5, help="untimed frames first, default 5")
    p.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "fp16"), help="network autocast")
    p.add_argument("--compile", action="store_true", help="torch.compile the network")
    p.add_argument("--no-flops", action="store_true", help="skip FLOP counting (faster)")
    p.add_argument("--clock", default="wall", choices=("wall", "cpu"),
                   help="wall time, or process CPU time (CPU only; load-independent with --threads 1)")
    p.add_argument("--matmul-size", type=int, default=2048, help="n of the n^3 matmul defining the floor (2048)")
    p.add_argument("--weights", default=None, metavar="FILE", help="release weights of the preset (default random)")
    p.add_argument("--top-ops", type=int, default=0, metavar="N",
                   help="also print the torch.profiler table of the N most expensive ops of track()")
    p.add_argument("--json", default=None, metavar="FILE", help="also write the full result as JSON")
    return p


def load_weights(preset: str, path: str):
    """The preset's model with the release weights of `path` (strict load; CheckpointError = ValueError)."""
    from experiments.trainer.release import load_release
    from trackers.registry import family_api, get_config

    cfg = get_config(preset)
    model = family_api(cfg).build_model(cfg)
    load_release(path, preset, model)
    return model


def report(result, info: dict) -> str:
    """Human-readable summary of a `ProfileResult`."""
    s, c = result.summary(), result.config
    hw = info.get("gpu") or info["cpu"]
    lines = [
        f"{c['preset']} on {c['device']} ({hw}; CPU {info['cpu']}, {c['threads']} threads, {c['clock']} clock), "
        f"precision {c['precision']}{', compiled' if c['compile'] else ''}, batch 1",
        f"torch {info['torch']}, python {info['python']}, numpy {info['numpy']}, OpenCV {info['opencv']}; "
        f"1-min load average {info['load_average_1min']}",
        f"matmul {c['matmul_size']}^3 ({c['precision']}, timed next to each call): "
        f"{s['model']['matmul_gflop_per_s']:.1f} GFLOP/s (model pass), {s['track']['matmul_gflop_per_s']:.1f} (track pass)",
    ]
    for key, label in (("model", "model only"), ("track", "track() end-to-end")):
        m = s[key]
        gf = "" if m["gflop"] is None else f", {m['gflop']:.2f} GFLOP/frame, {m['ratio']:.2f} x compute floor"
        lines.append(f"{label:>20}: {m['median_ms']:8.2f} ms median ({m['min_ms']:.2f} min) = {m['fps']:7.1f} FPS{gf}")
    if result.compile_seconds is not None:
        lines.append(f"compile + first call: {result.compile_seconds:.1f} s")
    if set(result.track_flags) - {"ok"}:
        lines.append(f"track flags: {result.track_flags}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from experiments.profiling import ProfileConfig, machine_info, profile_preset, top_ops

    try:
        pc = ProfileConfig(args.tracker, device=args.device, threads=args.threads, frames=args.frames,
                           warmup=args.warmup, precision=args.precision, compile=args.compile,
                           count_flops=not args.no_flops, matmul_size=args.matmul_size,
                           clock=args.clock)
        model = load_weights(args.tracker, args.weights) if args.weights else None
        result = profile_preset(pc, model=model)
    except (ValueError, KeyError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    info = machine_info(args.device)
    print(report(result, info))
    if args.top_ops:
        print()
        print(top_ops(pc, rows=args.top_ops))
    if args.json:
        atomic_write_text(args.json, json.dumps({"machine": info, **result.to_json()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
