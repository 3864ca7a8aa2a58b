"""The training loss of every SGD-trained method: the mean over trials of each trial's nmse.

``RateRNNMethod.fit`` and the Avalanche criterion (``avalanche_bridge.NMSELoss``) both use
these two functions, so that motifbench's own strategies and Avalanche's are trained on the
same loss, like for like.
"""

from __future__ import annotations

import torch


def nmse_weights(target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Weights (B, T, d_out) such that ``nmse_loss`` is the mean over the B trials of each trial's
    mean((y - y*)^2) / var(y*) over the entries where ``mask`` (B, T, d_out) is 1. ``target``
    (B, T, d_out) is 0 where the mask is 0; its variance is taken in float64."""
    dims = (1, 2)
    count = mask.sum(dim=dims, keepdim=True)
    target64, mask64, count64 = target.double(), mask.double(), count.double()
    mean = (target64 * mask64).sum(dim=dims, keepdim=True) / count64
    var = (((target64 - mean) * mask64) ** 2).sum(dim=dims, keepdim=True) / count64
    return mask / (var.to(target.dtype) * count)


def nmse_loss(y: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """The mean per-trial nmse of outputs ``y`` (B, T, d_out) against ``target`` with ``nmse_weights``."""
    return ((y - target) ** 2 * weights).sum() / len(y)
