"""Throughput of the training-sample pipeline from decoded frames (processing only, no decoding).

Frames are rendered once and kept in memory; the loader's frame reader is a dictionary lookup,
so the figures measure sampling + cropping + augmentation + labels + collate (normalization),
i.e. everything the training data path does after JPEG decoding. Two pipelines:

* HCTrack full size (OSTrack processing, 128 px template x2 + 256 px search, P = 3 per video);
* CIA18 (DiMP processing, 3 train + 3 test crops of 288 px, 8 IoU-Net proposals per test crop).

Run::

    python benchmarks/pipeline.py [--batches 20] [--workers 0 2] [--frame-size 1280x720] [--profile]

Prints a Markdown table (samples/s; crops/s) for each pipeline and worker count; ``workers = 0``
runs in the main process with one torch / OpenCV thread (one core).
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import platform
import pstats
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from datasets.processing import build_processing  # noqa: E402
from datasets.processing.config import DiMPProcessingConfig, OSTrackProcessingConfig  # noqa: E402
from datasets.sampling import DatasetMixture, EpochGroupOrder, GroupCollate, GroupedSampleDataset  # noqa: E402
from datasets.sequence import Sequence, SequenceDataset  # noqa: E402


class MemoryDataset(SequenceDataset):
    """Videos whose frames live in a dict (path -> RGB array)."""

    benchmark = "memory"

    def __init__(self, seqs: list[Sequence]) -> None:
        super().__init__("/memory", "train")
        self._seqs = {s.name: s for s in seqs}

    def _list_names(self) -> list[str]:
        return list(self._seqs)

    def _load(self, name: str) -> Sequence:
        return self._seqs[name]


class DictReader:
    def __init__(self, frames: dict) -> None:
        self.frames = frames

    def __call__(self, path) -> np.ndarray:
        return self.frames[str(path)]


def make_videos(n_videos: int, n_frames: int, width: int, height: int, seed: int = 0):
    """Textured frames with a moving box target; returns (sequences, frame dict)."""
    rng = np.random.default_rng(seed)
    frames, seqs = {}, []
    base = cv2.resize(rng.integers(0, 255, (height // 8, width // 8, 3), dtype=np.uint8), (width, height))
    for v in range(n_videos):
        paths, boxes = [], []
        for i in range(n_frames):
            img = np.roll(base, 7 * i + 31 * v, axis=1).copy()
            w, h = 80 + 20 * v, 60 + 10 * v
            x, y = 200 + 15 * i + 40 * v, 150 + 8 * i
            img[y:y + h, x:x + w] = (240, 80, 40)
            p = f"/memory/v{v}/{i:04d}.jpg"
            frames[p] = img
            paths.append(p)
            boxes.append([x, y, w, h])
        seqs.append(Sequence(f"v{v}", tuple(paths), np.array(boxes, float), np.ones(n_frames, bool)))
    return seqs, frames


def measure(cfg, p_per_video: int, batch: int, batches: int, workers: int, seqs, frames, profile: bool = False):
    proc = build_processing(cfg)
    mix = DatasetMixture([("memory", MemoryDataset(seqs), 1.0)], proc.frame_sampling())
    ds = GroupedSampleDataset(mix, proc, base_seed=0, samples_per_video=p_per_video, frame_reader=DictReader(frames))
    groups = batch // p_per_video
    loader = DataLoader(ds, batch_size=groups, sampler=EpochGroupOrder(0, batches + 2, groups),
                        collate_fn=GroupCollate(proc), num_workers=workers, drop_last=True,
                        persistent_workers=False, prefetch_factor=4 if workers else None,
                        worker_init_fn=(lambda _: (torch.set_num_threads(1), cv2.setNumThreads(1))) if workers else None)
    it = iter(loader)
    next(it), next(it)                                    # warm-up (workers started, caches hot)
    prof = cProfile.Profile() if profile and workers == 0 else None
    t = time.perf_counter()
    if prof:
        prof.enable()
    n = 0
    for b in it:
        n += b["video_id"].shape[0]
    if prof:
        prof.disable()
    dt = time.perf_counter() - t
    if prof:
        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(14)
        print(s.getvalue())
    return n / dt


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    ap.add_argument("--frame-size", default="1280x720")
    ap.add_argument("--profile", action="store_true", help="cProfile the 1-core runs")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    w, h = (int(v) for v in args.frame_size.split("x"))
    seqs, frames = make_videos(4, 24, w, h)
    pipelines = [
        ("HCTrack full (OSTrack, 128+128+256 px)", OSTrackProcessingConfig(), 3, 33, 3),
        ("CIA18 (DiMP, 3+3 x 288 px, IoU-Net)", DiMPProcessingConfig(), 1, 26, 6),
    ]
    print(f"# pipeline throughput, frames {w}x{h} in memory, {os.cpu_count()} CPUs, "
          f"{platform.processor() or platform.machine()}, torch {torch.__version__}, OpenCV {cv2.__version__}\n")
    print("| pipeline | workers | samples/s | crops/s |")
    print("|---|---|---|---|")
    for name, cfg, p, batch, crops in pipelines:
        for workers in args.workers:
            sps = measure(cfg, p, batch, args.batches, workers, seqs, frames, args.profile)
            label = "0 (1 core)" if workers == 0 else str(workers)
            print(f"| {name} | {label} | {sps:.0f} | {sps * crops:.0f} |", flush=True)


if __name__ == "__main__":
    main()
