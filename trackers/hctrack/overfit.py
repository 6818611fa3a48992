"""Sanity check (not a test): HCTrack overfits one fixed synthetic batch.

    python -m trackers.hctrack.overfit --preset hctrack-tiny --steps 150

Builds a batch in the format of docs/INTERFACES.md (template, dynamic template and search crops
with a textured rectangle on noise, boxes in crop pixels, a Gaussian centre heat map, video ids
grouped by P), trains the model on it with the preset's optimizer groups and prints the losses.
`synthetic_batch` is also used by the tests as a stand-in for ``datasets.processing``.
"""
from __future__ import annotations

import argparse
import time

import torch

from datasets.processing.config import IMAGENET_MEAN, IMAGENET_STD
from trackers.hctrack.config import HCTrackConfig


def _draw(size: int, box: torch.Tensor, colour: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """(3, size, size) image in [0, 1]: noise background + a striped rectangle at xywh `box`."""
    img = torch.rand(3, size, size, generator=g) * 0.6
    ys = torch.arange(size)[:, None] + 0.5
    xs = torch.arange(size)[None, :] + 0.5
    x, y, w, h = box.tolist()
    inside = (xs >= x) & (xs < x + w) & (ys >= y) & (ys < y + h)               # (size, size)
    stripes = 0.75 + 0.25 * torch.sign(torch.sin((xs - x) * 6.28 / max(w / 3, 1.0)))
    obj = colour[:, None, None] * stripes
    return torch.where(inside[None], obj, img)


def _heatmap(box: torch.Tensor, size: int, stride: int, sigma: float = 1.0) -> torch.Tensor:
    """(F, F) Gaussian with peak exactly 1 at the cell containing the box centre."""
    F_ = size // stride
    cx = int((box[0] + box[2] / 2) // stride)
    cy = int((box[1] + box[3] / 2) // stride)
    j = torch.arange(F_, dtype=torch.float32)
    return torch.exp(-((j[None, :] - cx) ** 2 + (j[:, None] - cy) ** 2) / (2 * sigma ** 2))


def synthetic_batch(cfg: HCTrackConfig, batch_size: int, seed: int = 0, pairs_per_video: int | None = None) -> dict:
    """A deterministic HCTrack batch (B = `batch_size`, consecutive groups of P share a video id).

    Each video has its own object colour; the template target is centred with side
    ``template_size / template_factor``, the search target has side ~``search_size / search_factor``
    (x [0.8, 1.25]) at a random position.
    """
    d = cfg.data
    P = pairs_per_video or cfg.train.videos_per_batch_pairs
    g = torch.Generator().manual_seed(seed)
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    out: dict[str, list] = {k: [] for k in ("template", "dynamic_template", "search", "template_box",
                                             "dynamic_template_box", "search_box", "search_heatmap", "video_id")}
    colours = {}
    for i in range(batch_size):
        vid = i // P
        if vid not in colours:
            colours[vid] = torch.rand(3, generator=g) * 0.8 + 0.2
        c = colours[vid]
        for key in ("template", "dynamic_template"):
            side = d.template_size / d.template_factor * float(torch.empty(1).uniform_(0.9, 1.1, generator=g))
            off = (d.template_size - side) / 2
            box = torch.tensor([off, off, side, side])
            out[key].append((_draw(d.template_size, box, c, g) - mean) / std)
            out[key + "_box"].append(box)
        side = d.search_size / d.search_factor * float(torch.empty(1).uniform_(0.8, 1.25, generator=g))
        aspect = float(torch.empty(1).uniform_(0.7, 1.4, generator=g))
        w, h = side * aspect ** 0.5, side / aspect ** 0.5
        x = float(torch.rand(1, generator=g)) * (d.search_size - w)
        y = float(torch.rand(1, generator=g)) * (d.search_size - h)
        box = torch.tensor([x, y, w, h])
        out["search"].append((_draw(d.search_size, box, c, g) - mean) / std)
        out["search_box"].append(box)
        out["search_heatmap"].append(_heatmap(box, d.search_size, d.stride))
        out["video_id"].append(torch.tensor(vid))
    return {k: torch.stack(v).float() if k != "video_id" else torch.stack(v).long() for k, v in out.items()}


def main(argv: list[str] | None = None) -> None:
    from trackers.hctrack.api import build_actor, build_model, param_groups
    from trackers.registry import get_config

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="hctrack-tiny")
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--batch", type=int, default=12)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    torch.manual_seed(0)
    cfg = get_config(args.preset)
    model = build_model(cfg).train()
    actor = build_actor(cfg)
    groups = param_groups(model, cfg)
    if args.lr is not None:
        for grp in groups:
            grp["lr"] = args.lr * grp["lr_mult"]
    opt = torch.optim.AdamW(groups, fused=True)
    batch = synthetic_batch(cfg, args.batch)
    t0 = time.perf_counter()
    for step in range(args.steps + 1):
        loss, stats = actor(model, batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.train.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.train.grad_clip)
        opt.step()
        if step % max(1, args.steps // 10) == 0:
            print(f"step {step:4d}  " + "  ".join(f"{k}={v:.4f}" for k, v in stats.items()), flush=True)
    dt = time.perf_counter() - t0
    print(f"{args.steps + 1} steps of batch {args.batch} in {dt:.1f}s ({(args.steps + 1) * args.batch / dt:.1f} samples/s)")


if __name__ == "__main__":
    main()
