"""Online elastic weight consolidation on the shared rate RNN.

Kirkpatrick et al. 2017, PNAS 114:3521, "Overcoming catastrophic forgetting in neural
networks"; online form of Schwarz et al. 2018, ICML, "Progress & compress".

After motif k is learned, with theta_k its weights and F_k a diagonal Fisher:

    F* <- decay * F* + F_k,     theta* <- theta_k,
    loss(motif k+1) = nmse + (ewc_lambda / 2) * sum_i F*_i (theta_i - theta*_i)^2

The Fisher suits a regression loss: it is the diagonal of the Gauss-Newton matrix of the
training loss (mean nmse), F_i = E_trials[ sum_{t,o} (dy_{t,o}/dtheta_i)^2 ] / (T d_out var(y*)),
estimated per trial (batch of 1) as (eps . dy/dtheta)^2 with eps ~ N(0, I) over the T x d_out
outputs, which is unbiased for it. Unlike the squared gradient of the batch-mean loss
(Avalanche's EWCPlugin), it does not vanish once a motif is fit, because it does not depend
on the residual. Trials start from the same random initial states as training.

Hyperparameters: those of ``RateRNNHyperparams`` (``rate_rnn.py``, with ``max_iterations``
800 and the plateau test on at any nmse, ``plateau_nmse`` 0 and ``plateau_gain`` 0.05: the
penalty holds the training nmse up)
plus ``ewc_lambda``, ``decay`` and ``fisher_trials``. On smooth10-v1 (seed 0) lambda = 30
learned better but forgot more (plasticity 0.92, forgetting 0.35), lambda = 1000 the reverse
(0.60, 0.07); 100 keeps plasticity above 0.9 with forgetting near 0.1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from motifbench.baselines.rate_rnn import (
    HELD_UP_PLATEAU_GAIN,
    RateRNNHyperparams,
    RateRNNMethod,
    plateau_gain_setting,
    plateau_nmse_setting,
)
from motifbench.method import MethodCard, StreamInfo, hyperparameter
from motifbench.streams import Motif


@dataclass(frozen=True)
class EWCHyperparams(RateRNNHyperparams):
    ewc_lambda: float = hyperparameter(100.0, "strength of the penalty (the Fisher is per nmse unit)", low=0)
    max_iterations: int = hyperparameter(
        800, "Adam steps per motif at most (the penalty keeps the loss above fit_nmse: most motifs use them all)", low=0
    )
    decay: float = hyperparameter(1.0, "online EWC: F* <- decay F* + F_k", low=0, high=1)
    fisher_trials: int = hyperparameter(32, "trials (batch of 1 each) in each motif's Fisher estimate", low=1)
    plateau_gain: float = plateau_gain_setting(HELD_UP_PLATEAU_GAIN)
    plateau_nmse: float = plateau_nmse_setting(0.0)


class EWC(RateRNNMethod):
    card = MethodCard(
        name="ewc",
        version="1",
        citation="Kirkpatrick et al. 2017, PNAS 114:3521; online form: Schwarz et al. 2018, ICML",
    )
    Hyperparams = EWCHyperparams

    def setup(self, info: StreamInfo, seed: int, device: str = "cpu") -> None:
        super().setup(info, seed, device)
        self.fisher: dict[str, torch.Tensor] = {}
        self.anchor: dict[str, torch.Tensor] = {}
        self.fisher_log: list[dict[str, float]] = []

    def learn(self, motif: Motif) -> None:
        self.fit([motif])
        if self.hp.ewc_lambda == 0:
            return
        new = self.gauss_newton_fisher(motif)
        self.fisher = {n: self.hp.decay * self.fisher[n] + f if self.fisher else f for n, f in new.items()}
        self.anchor = {n: p.detach().clone() for n, p in self.model.named_parameters()}
        self.fisher_log.append({f"mean_F_{n}": float(f.mean()) for n, f in new.items()})

    def penalty(self) -> torch.Tensor | None:
        if not self.fisher:
            return None
        total = sum(
            (self.fisher[n] * (p - self.anchor[n]) ** 2).sum() for n, p in self.model.named_parameters()
        )
        return 0.5 * self.hp.ewc_lambda * total

    def gauss_newton_fisher(self, motif: Motif) -> dict[str, torch.Tensor]:
        """Diagonal Gauss-Newton Fisher of the nmse loss on ``motif``, per parameter name."""
        params = dict(self.model.named_parameters())
        fisher = {n: torch.zeros_like(p) for n, p in params.items()}
        scale = 1.0 / math.sqrt(motif.target.size * float(motif.target.var(dtype="float64")))
        ids = torch.tensor([motif.motif_id], device=self.device)
        for _ in range(self.hp.fisher_trials):
            y, _ = self.forward(self.random_states(1), ids, self.info.n_prep, motif.n_steps)
            eps = torch.randn(y.shape, generator=self.generator).to(self.device)
            grads = torch.autograd.grad((eps * y).sum() * scale, list(params.values()), allow_unused=True)
            for n, g in zip(params, grads):
                if g is not None:
                    fisher[n] += g.detach() ** 2
        return {n: f / self.hp.fisher_trials for n, f in fisher.items()}

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "fisher": dict(self.fisher), "anchor": dict(self.anchor)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.fisher, self.anchor = dict(state["fisher"]), dict(state["anchor"])

    def diagnostics(self) -> dict[str, Any]:
        return {**super().diagnostics(), "fisher": self.fisher_log}
