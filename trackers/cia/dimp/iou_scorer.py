"""IoU-Net scores and their exact box gradients for tracking-time box refinement, without autograd.

DiMP refines its box by gradient ascent on the IoU-Net output (`trackers.cia.box_refinement`): per
frame 5 (cia18) or 10 (cia50) forward + backward passes of the predictor over 10 candidate boxes.
Through autograd each pass is ~250 small operations (PrRoIPool's bin weights, two linear blocks,
BatchNorm, their backward nodes), and on the CPU the refinement cost more than half the network
forward. `IoUBoxScorer` computes the same values and gradients directly:

* the two `LinearBlock`s' eval-mode BatchNorm is folded into their linear layers once (the CIA
  tracker builds a scorer per sequence: the network does not change while tracking), so a block
  is one GEMM and a ReLU;
* PrRoIPool runs on the window of the feature map that the boxes can reach
  (`trackers.common.prroi_pool.prroi_pool_with_context`, exact) and its box gradient is the
  closed form of `prroi_pool_boxes_grad` (chain rule through the separable bin integrals);
* the gradient of the score w.r.t. the pooled features is ``(w_pred * 1[z > 0]) @ W``: one GEMM.

Same numbers as autograd through `IoUNet.predict_iou_modulated` (tested to float32 rounding, and
to 1e-10 in float64). Inference only: the head must be in eval mode, and nothing here builds a
graph.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from trackers.common import packed_linear
from trackers.common.fused_conv import bn_affine
from trackers.common.prroi_pool import (box_bounds, prroi_pool_boxes_grad, prroi_pool_with_context, support_range,
                                        support_window)

#: (bins, spatial scale) of the two levels of the test branch (ATOM: 5x5 @ 1/8, 3x3 @ 1/16)
LEVELS = ((5, 1.0 / 8), (3, 1.0 / 16))


def _fold(block: nn.Module) -> tuple[Tensor, Tensor]:
    """`LinearBlock` (Linear -> BatchNorm1d eval -> ReLU) -> (W, b) of the linear with the BN folded in."""
    gain, shift = bn_affine(block.bn)
    return (block.linear.weight * gain[:, None]).detach().contiguous(), (block.linear.bias * gain + shift).detach()


class IoUBoxScorer:
    """Scores and box gradients of candidate boxes (see module docstring).

    Holds a reference to the last maps it pooled from (their reusable windows).

    Args:
        head: the `IoUNet` / `KLIoUNet` (eval mode). Its linear blocks are folded here, once: build a
            new scorer after changing the head's weights.
        crop: pool from the reachable window of each map only (exact; one small host read per
            level and call). The CIA tracker uses it on CPU, where it cuts the pooling work ~10x.
    """

    WINDOW_MARGIN = 2   # samples added per side to a cut window, so the next ascent steps can reuse it

    def __init__(self, head: nn.Module, crop: bool = True) -> None:
        if head.training:
            raise ValueError("IoUBoxScorer needs the IoU head in eval mode (BatchNorm running statistics)")
        with torch.no_grad():
            self.blocks = (_fold(head.fc_l2), _fold(head.fc_l3))
            w_pred = head.iou_predictor.weight[0].detach()
            n2 = self.blocks[0][0].shape[0]
            self.w_pred = (w_pred[:n2].contiguous(), w_pred[n2:].contiguous())
            self.b_pred = float(head.iou_predictor.bias[0])
        # CPU float32: the block GEMMs (10 rows x 6400 / 2304 -> 256) and their transposes (the
        # gradient, 256 -> 6400 / 2304) through oneDNN with the weights reordered once (0.36 vs
        # 0.74 ms for the 6400-wide forward on the 2-core machine)
        on_cpu = all(w.device.type == "cpu" and w.dtype == torch.float32 for w, _ in self.blocks)
        pack = packed_linear.PackedLinear.from_tensors
        self.packed = (tuple((pack(w, b), pack(w.t().contiguous())) for w, b in self.blocks)
                       if on_cpu and packed_linear.supported() else None)
        self.crop = crop
        self._windows: dict[int, tuple] = {}   # level -> (map, modulation, origin, n, window): see _window

    def _window(self, level: int, fmap: Tensor, modulation: Tensor | None, bounds: list[float] | None
                ) -> tuple[Tensor, tuple[int, int]]:
        """The (modulated) map of one level to pool from, as a (C, n, n) tensor and its origin.

        With `bounds` (crop mode): a square window of `fmap` (1, C, S, S) holding every sample that
        boxes within `bounds` reach. The boxes of an ascent move little from step to step, so a
        window cut with a margin of `WINDOW_MARGIN` samples is kept and reused while the boxes stay
        inside it (and the map and the modulation are the same tensor objects). Without: the whole
        map, also kept. The modulation (channel weights) is applied to the window only.
        """
        size = fmap.shape[-1]
        cached = self._windows.get(level)
        if cached is not None and cached[0] is fmap and cached[1] is modulation:
            _, _, (x0, y0), n, window = cached
            if bounds is None:
                return window, (x0, y0)
            nx, ny = support_range(bounds[0], bounds[2], size), support_range(bounds[1], bounds[3], size)
            if x0 <= nx[0] and nx[1] <= x0 + n and y0 <= ny[0] and ny[1] <= y0 + n:
                return window, (x0, y0)
        x0, y0, n = (0, 0, size) if bounds is None else support_window(bounds, size, self.WINDOW_MARGIN)
        window = fmap[0, :, y0:y0 + n, x0:x0 + n]
        window = (window * modulation.reshape(-1, 1, 1) if modulation is not None else window).contiguous()
        self._windows[level] = (fmap, modulation, (x0, y0), n, window)
        return window, (x0, y0)

    @torch.inference_mode()
    def __call__(self, feat: tuple[Tensor, Tensor], boxes_xywh: Tensor, need_grad: bool = True,
                 modulation: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor | None]:
        """Score boxes of one image.

        Args:
            feat: the IoU-Net test features of ONE image, two (1, C_k, H_k, W_k) maps: already
                modulated (the head's `modulate` output), or raw with `modulation` given.
            boxes_xywh: (K, 4) in crop pixels.
            need_grad: also return the gradient.
            modulation: the reference modulation, two (1, C_k, 1, 1) vectors, multiplied into the
                pooled windows only (the same values as `modulate` on the whole maps).
        Returns:
            (scores (K,), d score / d box (K, 4) or None), in the maps' dtype.
        """
        if feat[0].shape[0] != 1 or feat[1].shape[0] != 1:
            raise ValueError(f"IoUBoxScorer scores boxes of one image, got batches {feat[0].shape[0]}, {feat[1].shape[0]}")
        boxes = boxes_xywh.to(feat[0].dtype)
        xyxy = torch.cat([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], dim=1)
        bounds = box_bounds(xyxy) if self.crop else None          # crop pixels, one host read for both levels
        mods = modulation if modulation is not None else (None, None)
        score = None
        grad = None
        for level, (fmap, (weight, bias), w_pred, (bins, scale)) in enumerate(zip(feat, self.blocks, self.w_pred, LEVELS)):
            window, origin = self._window(level, fmap, mods[level],
                                          None if bounds is None else [b * scale for b in bounds])
            pooled, ctx = prroi_pool_with_context(window, xyxy * scale, bins, origin)        # (K, C, P, P)
            packed = self.packed[level] if self.packed is not None and pooled.dtype == torch.float32 else None
            z = packed[0](pooled.flatten(1)) if packed else torch.addmm(bias, pooled.flatten(1), weight.t())  # (K, D)
            s = torch.relu(z) @ w_pred
            score = s if score is None else score + s
            if need_grad:
                dz = (z > 0) * w_pred                                                           # (K, D)
                d_pooled = packed[1](dz) if packed else dz @ weight                             # (K, C P P)
                g = prroi_pool_boxes_grad(ctx, d_pooled.view_as(pooled)) * scale
                grad = g if grad is None else grad + g
        score = score + self.b_pred
        if need_grad:  # xyxy -> xywh: x2 = x + w
            grad = torch.cat([grad[:, :2] + grad[:, 2:], grad[:, 2:]], dim=1)
        return score, grad
