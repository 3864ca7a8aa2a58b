"""Context-dependent gating (XdG) on the shared rate RNN.

Masse, Grant & Freedman 2018, PNAS 115:E10467, "Alleviating catastrophic forgetting using
context-dependent gating and synaptic stabilization".

Each motif k gets a fixed random binary mask g_k over the N hidden units, with a fraction
``active`` of them on. Whenever motif k is cued (training, preparation and production) the
state is multiplied by g_k at the start and after every step, so silenced units have rate 0:

    h <- g_k * (h + alpha (-h + W tanh(h) + W_in u + b)),      y = W_out tanh(h)

Motif k therefore trains (and uses) only the sub-network of its active units; two motifs
share a fraction ``active``^2 of the units on average. As in the paper, gating can be
combined with synaptic stabilisation: ``ewc_lambda`` > 0 adds the online EWC penalty of
``ewc.py`` (off by default, so the baseline is gating alone).

Hyperparameters: those of ``EWCHyperparams`` (``ewc.py``; the plateau test is on at any nmse
as there, since the gating holds the training nmse up too: on steps10-v1 every motif ran to
the cap without it) plus ``active``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from motifbench.baselines.ewc import EWC, EWCHyperparams
from motifbench.method import MethodCard, StreamInfo, hyperparameter


@dataclass(frozen=True)
class ContextGatingHyperparams(EWCHyperparams):
    active: float = hyperparameter(0.5, "fraction of hidden units on for each motif", low=0.01, high=1)
    ewc_lambda: float = hyperparameter(0.0, "strength of the optional online EWC penalty (0: gating alone)", low=0)


class ContextGating(EWC):
    card = MethodCard(
        name="context_gating",
        version="1",
        citation="Masse, Grant & Freedman 2018, PNAS 115:E10467 (XdG)",
    )
    Hyperparams = ContextGatingHyperparams

    def setup(self, info: StreamInfo, seed: int, device: str = "cpu") -> None:
        super().setup(info, seed, device)
        n_active = max(1, round(self.hp.active * self.hp.n_hidden))
        masks = torch.zeros(info.n_motifs, self.hp.n_hidden)
        for k in range(info.n_motifs):
            masks[k, torch.randperm(self.hp.n_hidden, generator=self.generator)[:n_active]] = 1.0
        self.masks = masks.to(self.device)

    def forward(
        self,
        h: torch.Tensor,
        ids: torch.Tensor,
        n_prep: int,
        n_steps: int,
        noise_std: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model(h, ids, n_prep, n_steps, noise_std, generator, gates=self.masks[ids])
