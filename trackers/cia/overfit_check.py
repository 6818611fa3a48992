"""Learning sanity check (not a test): cia-tiny overfits one fixed synthetic batch.

    python -m trackers.cia.overfit_check --steps 60

Builds B sequences of 128 px crops (noise background, one coloured rectangle per video at a
jittered position/size), with DiMP labels, IoU proposals and video ids as in a real CIA batch,
then runs Adam with the preset's per-module learning rates (and the momentum update after every
step) and prints the loss terms at the start and the end.
"""
from __future__ import annotations

import argparse
import time

import torch

from trackers.cia import api
from trackers.common.box_ops import box_convert, box_iou
from trackers.registry import get_config


def synthetic_batch(cfg, num_seq: int = 8, seed: int = 0) -> dict:
    """A fixed, learnable CIA batch: each video's target is a rectangle of its own colour."""
    g = torch.Generator().manual_seed(seed)
    d = cfg.data
    s, ntr, nte, p = d.image_size, d.num_train, d.num_test, d.num_proposals
    nf = ntr + nte
    side = s / d.search_factor
    wh = side * torch.exp(0.25 * torch.randn(nf, num_seq, 2, generator=g))
    ctr = s / 2 + side * 0.5 * (torch.rand(nf, num_seq, 2, generator=g) - 0.5) * 2
    boxes = torch.cat([ctr - wh / 2, wh], -1)
    colours = torch.rand(num_seq, 3, generator=g) * 2 - 1
    img = 0.3 * torch.randn(nf, num_seq, 3, s, s, generator=g)
    ys = torch.arange(s).float() + 0.5
    inside = ((ys[None, None, :, None] >= boxes[..., 1, None, None]) & (ys[None, None, :, None] < (boxes[..., 1] + boxes[..., 3])[..., None, None])
              & (ys[None, None, None, :] >= boxes[..., 0, None, None]) & (ys[None, None, None, :] < (boxes[..., 0] + boxes[..., 2])[..., None, None]))
    img = torch.where(inside[:, :, None], colours[None, :, :, None, None].expand_as(img) * 2, img)
    fsz = s // 16 + 1
    sigma = d.output_sigma_factor / d.search_factor * (s // 16)
    cells = torch.arange(fsz).float()
    c = ctr / 16
    label = (torch.exp(-0.5 * ((cells - c[..., 1:2]) / sigma) ** 2)[..., :, None]
             * torch.exp(-0.5 * ((cells - c[..., 0:1]) / sigma) ** 2)[..., None, :])
    tb = boxes[ntr:]
    props = tb[:, :, None] + 0.15 * torch.randn(nte, num_seq, p, 4, generator=g) * torch.cat([tb[..., 2:], tb[..., 2:]], -1)[:, :, None]
    props[..., 2:] = props[..., 2:].clamp(min=2.0)
    iou = box_iou(box_convert(props, "xywh", "xyxy"), box_convert(tb[:, :, None].expand_as(props), "xywh", "xyxy"), aligned=True)
    return {
        "train_images": img[:ntr], "test_images": img[ntr:], "train_boxes": boxes[:ntr], "test_boxes": tb,
        "train_label": label[:ntr], "test_label": label[ntr:], "test_proposals": props, "proposal_iou": 2 * iou - 1,
        "category": torch.arange(num_seq) % 70, "video_id": torch.arange(num_seq),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="cia-tiny")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--batch", type=int, default=8)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    torch.manual_seed(0)
    cfg = get_config(args.preset)
    model = api.build_model(cfg).train()
    actor = api.build_actor(cfg)
    opt = torch.optim.Adam(api.param_groups(model, cfg))
    batch = synthetic_batch(cfg, args.batch)
    first = None
    t0 = time.time()
    for step in range(args.steps):
        loss, stats = actor(model, batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        actor.after_step(model)
        first = first or stats
        if step % 10 == 0 or step == args.steps - 1:
            print(f"step {step:3d}  " + "  ".join(f"{k.split('/')[-1]}={v:.4f}" for k, v in stats.items()), flush=True)
    print(f"{args.steps} steps in {time.time() - t0:.1f} s")
    for k in first:
        print(f"{k:22s} {first[k]:9.4f} -> {stats.get(k, float('nan')):9.4f}")


if __name__ == "__main__":
    main()
