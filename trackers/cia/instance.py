"""CIA's instance-aware module (paper Sec. 3.2): video-level momentum contrast and angle modulation.

* ``mlp_q`` (`InstanceMLP`): Conv3x3(C -> C) - ReLU - Conv1x1(C -> C). On the PrRoI-pooled 3x3 target
  region of layer3 it runs without padding (-> one C-dim vector, normalised into the query ``q``);
  densely (padding 1) it gives the instance map the instance encoder uses.
* Momentum encoder (`MomentumEncoder`): copies of the backbone and of ``mlp_q`` (``mlp_k``), never
  trained by gradients, updated after each optimizer step by Eq. 2::

      B_k <- eta B_k + (1 - eta) B_q,      M_k <- eta M_k + (1 - eta) M_q      (eta = 0.999)

  Parameters only; their BatchNorm statistics follow their own forward passes (as in MoCo).
* Instance encoder (`AngleModulation`, Eq. 4-5): at every position ``i`` of the layer3 map X::

      u_i   = normalize(mlp(X)_i)                (mlp = mlp_q's weights, output detached)
      y_i   = proj(u)_i                          (proj: Conv1x1 - ReLU - Conv1x1, C -> C)
      x^_i  = alpha x_i / |x_i|,   y^_i = y_i / |y_i|                                (Eq. 4)
      z_i   = |x_i| (x^_i + y^_i) / |x^_i + y^_i|                                   (Eq. 5)

  so each feature keeps its norm and its direction is rotated toward the instance embedding
  ``y^_i``; the learned ``alpha = exp(a)`` (a = 0 at init) sets the strength (smaller alpha, larger
  rotation).

Choices where the paper is silent (documented, see reference_trackers.md C.3-C.4, C.11):

* "mlp is copied from mlp_q": we **share** mlp_q's weights and stop the gradient at its output
  (``u`` is detached). That is exactly "a copy of mlp_q made at every step": the discriminative
  loss does not train mlp_q (only InfoNCE-V does), and at test time the copy is mlp_q itself.
* ``proj`` acts on the normalised, detached mlp output (as the released code); Eq. 4's
  normalisation is then applied to ``proj``'s output (the release leaves it unnormalised).
* Key crops are the query crops (no second augmentation) and negatives come from the current
  batch only (no queue), as in the release. Without momentum (the paper's Fig. 6 ablation) the
  keys are computed by the query encoder itself, with gradients through both sides (MoCo's
  "end-to-end" variant).
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from trackers.common.prroi_pool import prroi_pool2d


class InstanceMLP(nn.Module):
    """mlp_q / mlp_k: Conv3x3(C -> C, bias) - ReLU - Conv1x1(C -> C, bias)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, kernel_size=3, padding=0)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=1)

    def forward(self, x: Tensor, dense: bool = False) -> Tensor:
        """x (N, C, H, W) -> (N, C, H', W'); ``dense`` pads the 3x3 conv (H' = H), else H' = H - 2."""
        x = F.conv2d(x, self.conv1.weight, self.conv1.bias, padding=1 if dense else 0)
        return self.conv2(self.relu(x))


def embed_targets(layer3: Tensor, rois_xyxy: Tensor, mlp: InstanceMLP, pool_size: int = 3,
                  feature_stride: int = 16) -> Tensor:
    """q (or k) vectors: PrRoIPool the target on layer3, run the mlp unpadded, L2-normalise.

    Args:
        layer3: (N, C, H, W); rois_xyxy: (N, 4) crop pixels.
    Returns:
        (N, C') unit vectors (C' = C; the spatial output of the mlp, (pool_size - 2)^2 cells, is
        averaged when pool_size > 3).
    """
    pooled = prroi_pool2d(layer3, rois_xyxy[:, None], pool_size, 1.0 / feature_stride)[:, 0]
    return F.normalize(mlp(pooled, dense=False).mean(dim=(-2, -1)), dim=1)


class MomentumEncoder(nn.Module):
    """Momentum backbone + ``mlp_k`` (Eq. 2). Built as copies of the query side, frozen to gradients."""

    def __init__(self, backbone: nn.Module, mlp_q: InstanceMLP, momentum: float = 0.999) -> None:
        super().__init__()
        self.backbone = copy.deepcopy(backbone)
        self.mlp = copy.deepcopy(mlp_q)
        self.momentum = momentum
        for p in self.parameters():
            p.requires_grad_(False)

    def _pairs(self, backbone_q: nn.Module, mlp_q: nn.Module):
        qs = list(backbone_q.parameters()) + list(mlp_q.parameters())
        ks = list(self.backbone.parameters()) + list(self.mlp.parameters())
        if len(qs) != len(ks):
            raise ValueError(f"momentum encoder has {len(ks)} parameters, the query side {len(qs)}")
        return zip(ks, qs)

    @torch.no_grad()
    def update(self, backbone_q: nn.Module, mlp_q: nn.Module) -> None:
        """Eq. 2: ``k <- eta k + (1 - eta) q`` for every parameter."""
        for pk, pq in self._pairs(backbone_q, mlp_q):
            pk.mul_(self.momentum).add_(pq.detach(), alpha=1.0 - self.momentum)

    @torch.no_grad()
    def sync(self, backbone_q: nn.Module, mlp_q: nn.Module) -> None:
        """Copy the query side (parameters and buffers), e.g. after loading pretrained weights."""
        self.backbone.load_state_dict(backbone_q.state_dict())
        self.mlp.load_state_dict(mlp_q.state_dict())

    def extra_repr(self) -> str:
        return f"momentum={self.momentum}"


def angle_modulation(x: Tensor, y: Tensor, alpha: Tensor, eps: float = 1e-12) -> Tensor:
    """Eq. 4-5 per position: ``|x| * normalize(alpha x / |x| + y / |y|)`` over channels.

    Args:
        x: (N, C, H, W) backbone features; y: (N, C, H, W) instance embedding map;
        alpha: scalar > 0.
    Returns:
        (N, C, H, W) with ``|z_i| = |x_i|`` at every position.
    """
    norm = x.norm(dim=1, keepdim=True).clamp(min=eps)
    x_hat = alpha * x / norm
    y_hat = F.normalize(y, dim=1, eps=eps)
    return norm * F.normalize(x_hat + y_hat, dim=1, eps=eps)


class AngleModulation(nn.Module):
    """The instance encoder: projector + learned alpha (see module docstring)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.proj = nn.Sequential(nn.Conv2d(channels, channels, 1), nn.ReLU(inplace=True),
                                  nn.Conv2d(channels, channels, 1))
        for m in self.proj:
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
        self.log_alpha = nn.Parameter(torch.zeros(()))

    @property
    def alpha(self) -> Tensor:
        return self.log_alpha.exp()

    def forward(self, x: Tensor, mlp_out: Tensor) -> Tensor:
        """x: (N, C, H, W) layer3; mlp_out: (N, C, H, W) dense mlp_q output -> (N, C, H, W)."""
        u = F.normalize(mlp_out.detach(), dim=1)
        return angle_modulation(x, self.proj(u), self.alpha)
