"""Fixtures for the CIA tests: a stand-in for `datasets.processing`'s CIA batch (docs/INTERFACES.md)."""


import pytest
import torch

from trackers.common.box_ops import box_convert, box_iou


def fake_cia_batch(cfg, num_seq: int = 2, generator: torch.Generator | None = None, num_videos: int | None = None,
                   image_size: int | None = None) -> dict:
    """A random but well-formed CIA batch for `cfg` (a CIAConfig).

    Targets are boxes of 1/factor of the crop side around the crop centre plus jitter; labels are
    DiMP Gaussians peaking at score cell ``centre / 16``; proposals jitter the test box with their
    true 2 IoU - 1 (or random KL densities).
    """
    g = generator or torch.Generator().manual_seed(0)
    d = cfg.data
    s = image_size or d.image_size
    ntr, nte, p = d.num_train, d.num_test, d.num_proposals
    nf = ntr + nte
    side = s / d.search_factor
    wh = side * torch.exp(0.2 * torch.randn(nf, num_seq, 2, generator=g))
    ctr = s / 2 + side * 0.3 * torch.randn(nf, num_seq, 2, generator=g)
    boxes = torch.cat([ctr - wh / 2, wh], dim=-1)                                  # (Nf, B, 4) xywh
    fsz = s // 16 + 1 - cfg.model.filter_size % 2
    sigma = d.output_sigma_factor / d.search_factor * (s // 16)
    cells = torch.arange(fsz, dtype=torch.float32)
    c = ctr / 16                                                                   # score-cell centre (x, y)
    gy = torch.exp(-0.5 * ((cells - c[..., 1:2]) / sigma) ** 2)
    gx = torch.exp(-0.5 * ((cells - c[..., 0:1]) / sigma) ** 2)
    label = gy[..., :, None] * gx[..., None, :]                                    # (Nf, B, F+1, F+1)
    test_boxes = boxes[ntr:]
    jit = 0.1 * torch.randn(nte, num_seq, p, 4, generator=g) * torch.cat([wh[ntr:], wh[ntr:]], -1)[:, :, None]
    proposals = test_boxes[:, :, None] + jit
    proposals[..., 2:] = proposals[..., 2:].clamp(min=2.0)
    iou = box_iou(box_convert(proposals, "xywh", "xyxy"),
                  box_convert(test_boxes[:, :, None].expand_as(proposals), "xywh", "xyxy"), aligned=True)
    nv = num_videos or num_seq
    batch = {
        "train_images": torch.randn(ntr, num_seq, 3, s, s, generator=g),
        "test_images": torch.randn(nte, num_seq, 3, s, s, generator=g),
        "train_boxes": boxes[:ntr].contiguous(),
        "test_boxes": test_boxes.contiguous(),
        "train_label": label[:ntr].contiguous(),
        "test_label": label[ntr:].contiguous(),
        "test_proposals": proposals,
        "proposal_iou": 2 * iou - 1,
        "proposal_density": torch.rand(nte, num_seq, p, generator=g) + 0.1,
        "gt_density": torch.rand(nte, num_seq, p, generator=g),
        "category": torch.tensor([(i * 7) % 70 if i % 3 else -1 for i in range(num_seq)], dtype=torch.int64),
        "video_id": torch.arange(num_seq, dtype=torch.int64) % nv,
    }
    return batch


@pytest.fixture
def make_batch():
    return fake_cia_batch


@pytest.fixture(autouse=True)
def _single_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)



