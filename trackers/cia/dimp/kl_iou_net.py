"""The probabilistic IoU-Net of PrDiMP / SuperDiMP (Danelljan et al., CVPR 2020).

Same network as ATOM's `IoUNet`, but its output ``s(b)`` for a box ``b`` is read as an
unnormalised log-density of the target box, ``p(b | x) = exp(s(b)) / Z``, and trained by the
KL divergence to a Gaussian label density around the ground truth (`losses.kl_regression_loss`,
Monte-Carlo estimate over proposals drawn from a known density). At tracking time the box is
refined by gradient ascent on ``s`` in relative box coordinates (SuperDiMP).
"""
from __future__ import annotations

from trackers.cia.dimp.iou_net import IoUNet


class KLIoUNet(IoUNet):
    """`IoUNet` whose output is a log-density score (cia50). Constructor as `IoUNet`."""

    output_kind = "log_density"

