"""Motif-specific input vectors on a frozen, pre-trained rate RNN (the additive ANN).

Logiaco & Escola 2020, arXiv:2006.13332, "Thalamocortical motor circuit insights for more
robust hierarchical control of complex sequences" (their ANN with motif-specific inputs).

Before the stream, the shared network (W, b, W_out and the go input) is trained, with Adam
by BPTT from random initial states, on a repertoire of ``repertoire`` smooth motifs that the
method draws itself from its own seed (never the stream's motifs), then frozen. Each stream
motif k then trains only its own input vector c_k (N,), from random initial states:

    h <- h + alpha (-h + W tanh(h) + c_k + W_go go + b),      y = W_out tanh(h)

Nothing shared changes after the pre-training, so learning motif k cannot change another
motif's output: the method is isolated by construction.

Hyperparameters: those of ``RateRNNHyperparams`` (``rate_rnn.py``; they govern the
pre-training, and each motif's training but for its learning rate ``motif_lr`` and
``max_iterations`` 500) plus ``repertoire``, ``pretrain_iterations`` and ``motif_lr``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from motifbench.baselines.rate_rnn import RateRNN, RateRNNHyperparams, RateRNNMethod
from motifbench.method import MethodCard, StreamInfo, hyperparameter
from motifbench.streams import Motif, smooth_trajectory


@dataclass(frozen=True)
class ANNAdditiveHyperparams(RateRNNHyperparams):
    repertoire: int = hyperparameter(3, "motifs of the method's own repertoire the shared network is pre-trained on", low=1)
    pretrain_iterations: int = hyperparameter(3000, "Adam steps of the pre-training at most (learning rate lr)", low=0)
    motif_lr: float = hyperparameter(0.03, "Adam learning rate of a motif's own parameters", low=0)
    max_iterations: int = hyperparameter(500, "Adam steps per learned motif at most", low=0)


class ANNAdditive(RateRNNMethod):
    card = MethodCard(
        name="ann_additive",
        version="1",
        citation="Logiaco & Escola 2020, arXiv:2006.13332 (ANN with motif-specific inputs)",
    )
    Hyperparams = ANNAdditiveHyperparams

    def setup(self, info: StreamInfo, seed: int, device: str = "cpu") -> None:
        """Builds the network with one input vector per stream motif and per repertoire motif
        (ids K .. K + repertoire - 1), then pre-trains the shared weights on the repertoire."""
        super().setup(info, seed, device)
        self.learned: list[int] = []
        total = info.n_motifs + self.hp.repertoire
        self.motif_params = self.make_motif_params(total).to(self.device)
        rng = np.random.default_rng([seed, 7919])  # the method's own draw, not the stream's
        n_steps = max(info.motif_steps)
        repertoire = [
            Motif(info.n_motifs + r, smooth_trajectory(rng, n_steps, info.d_out), info.dt, info.tau)
            for r in range(self.hp.repertoire)
        ]
        self.pretraining = True
        self.fit(repertoire, max_iterations=self.hp.pretrain_iterations)
        self.pretraining = False
        self.model.requires_grad_(False)  # frozen: training a motif computes no gradient for it

    def make_model(self, n_cues: int) -> RateRNN:
        """The shared network needs only its go column: the cues are the motifs' own vectors."""
        return super().make_model(0)

    def make_motif_params(self, total: int) -> nn.Module:
        """Per-motif parameters: ``inputs[k]`` (N,), drawn like the columns of W_in."""
        module = nn.Module()
        module.inputs = nn.ParameterList(
            nn.Parameter(torch.randn(self.hp.n_hidden, generator=self.generator)) for _ in range(total)
        )
        return module

    def own_parameters(self, motif_id: int) -> list[nn.Parameter]:
        return [self.motif_params.inputs[motif_id]]

    def trainable_parameters(self, motifs: Sequence[Motif]) -> list[nn.Parameter]:
        own = [p for m in motifs for p in self.own_parameters(m.motif_id)]
        return list(self.model.parameters()) + own if self.pretraining else own

    def forward(
        self,
        h: torch.Tensor,
        ids: torch.Tensor,
        n_prep: int,
        n_steps: int,
        noise_std: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        cue = torch.stack(list(self.motif_params.inputs))[ids]
        return self.model.run(
            h, cue, n_prep, n_steps, noise_std, generator, low_rank=self.low_rank(ids), prep_cue=self.prep_cue(ids)
        )

    def low_rank(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Per-row change of the recurrent weights (U, V), each (B, N, rank): none here."""
        return None

    def prep_cue(self, ids: torch.Tensor) -> torch.Tensor | None:
        """Per-row input of the preparatory period (B, N): None, the motif's own input vector."""
        return None

    def learn(self, motif: Motif) -> None:
        self.fit([motif], lr=self.hp.motif_lr)
        self.learned.append(motif.motif_id)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "motif_params": copy.deepcopy(self.motif_params.state_dict())}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.motif_params.load_state_dict(state["motif_params"])

    def parameter_count(self) -> int:
        """The frozen shared network plus the own parameters of the motifs learned so far."""
        own = sum(p.numel() for k in self.learned for p in self.own_parameters(k))
        return sum(p.numel() for p in self.model.parameters()) + own
