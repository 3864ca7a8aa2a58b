"""Motif-specific input vectors and low-rank recurrent changes on a frozen, pre-trained rate RNN
(the multiplicative ANN).

Logiaco & Escola 2020, arXiv:2006.13332, "Thalamocortical motor circuit insights for more
robust hierarchical control of complex sequences" (their ANN with motif-specific inputs and
motif-specific multiplicative, low-rank changes of the recurrent weights).

As ``ann_additive`` (a shared network pre-trained on the method's own repertoire, then
frozen), but each motif k trains its input vector c_k and a rank-``rank`` change of the
recurrent weights, used only while motif k is cued:

    h <- h + alpha (-h + (W + U_k V_k^T) tanh(h) + c_k + W_go go + b),      y = W_out tanh(h)

U_k, V_k are (N, rank); V_k starts at 0, so a new motif starts from the shared dynamics.
Isolated by construction.

Hyperparameters: those of ``ANNAdditiveHyperparams`` (``ann_additive.py``, with ``motif_lr``
3e-3) plus ``rank``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from motifbench.baselines.ann_additive import ANNAdditive, ANNAdditiveHyperparams
from motifbench.method import MethodCard, hyperparameter


@dataclass(frozen=True)
class ANNMultiplicativeHyperparams(ANNAdditiveHyperparams):
    rank: int = hyperparameter(4, "rank of each motif's change of the recurrent weights", low=1)
    motif_lr: float = hyperparameter(3e-3, "Adam learning rate of a motif's own parameters", low=0)


class ANNMultiplicative(ANNAdditive):
    card = MethodCard(
        name="ann_multiplicative",
        version="1",
        citation="Logiaco & Escola 2020, arXiv:2006.13332 (ANN with motif-specific low-rank recurrent changes)",
    )
    Hyperparams = ANNMultiplicativeHyperparams

    def make_motif_params(self, total: int) -> nn.Module:
        """Per motif: ``inputs[k]`` (N,), ``U[k]`` (N, rank) ~ N(0, 1/N), ``V[k]`` (N, rank) = 0."""
        module = super().make_motif_params(total)
        n, rank = self.hp.n_hidden, self.hp.rank
        module.U = nn.ParameterList(
            nn.Parameter(torch.randn(n, rank, generator=self.generator) / math.sqrt(n)) for _ in range(total)
        )
        module.V = nn.ParameterList(nn.Parameter(torch.zeros(n, rank)) for _ in range(total))
        return module

    def own_parameters(self, motif_id: int) -> list[nn.Parameter]:
        params = self.motif_params
        return [params.inputs[motif_id], params.U[motif_id], params.V[motif_id]]

    def low_rank(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(U, V) per row, each (B, N, rank). In training (gradients on) with every row the same
        motif, each (N, rank): one change of W serves the whole batch (no per-row products).
        Generation keeps the per-row form, whose rows do not depend on what else is in the batch,
        so an old motif's output stays the same bit for bit."""
        params = self.motif_params
        if torch.is_grad_enabled() and len(ids) and bool((ids == ids[0]).all()):
            k = int(ids[0])
            return params.U[k], params.V[k]
        return torch.stack(list(params.U))[ids], torch.stack(list(params.V))[ids]
