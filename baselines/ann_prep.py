"""The additive ANN with a trained preparatory phase: the thalamocortical model's insight
transferred to an ANN.

Logiaco & Escola 2020, arXiv:2006.13332, "Thalamocortical motor circuit insights for more
robust hierarchical control of complex sequences" (their ANN with a preparatory period).

As ``ann_additive`` (``ann_additive.py``): a shared rate RNN pre-trained on the method's own
repertoire, then frozen, and per motif k its own production input c_k. Each motif also owns
a preparatory input p_k (N,) and a start state s_k (N,). The preparatory period is cued
with p_k alone, the production with c_k plus the go input:

    prep:        h <- h + alpha (-h + W tanh(h) + p_k + b)
    production:  h <- h + alpha (-h + W tanh(h) + c_k + W_go + b),     y = W_out tanh(h)

Every training iteration scores two things together (c_k, p_k and s_k are trained jointly):

- production: the nmse of the motif produced from s_k, perturbed by Gaussian noise of std
  ``start_noise`` times rms(s_k);
- preparation: from random initial states, after a preparatory period drawn uniformly from
  ``prep_tau_range`` (in tau), the mean squared distance of h from s_k, times ``prep_weight``.

So the preparation learns to bring any state to the motif's start state and hold it there,
for preparation times across the range, and production learns to start from there. The
pre-training trains the shared weights with the same two terms. Early stopping (``fit_nmse``)
and the training log's ``train_nmse`` count both terms.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from motifbench.baselines.ann_additive import ANNAdditive, ANNAdditiveHyperparams
from motifbench.method import MethodCard, StreamInfo, hyperparameter, ordered_pair, relative_noise


@dataclass(frozen=True)
class ANNPrepHyperparams(ANNAdditiveHyperparams):
    prep_tau_range: tuple[float, ...] = hyperparameter(
        (2.0, 20.0), "shortest and longest preparatory period of a training trial, in tau", low=0
    )
    prep_weight: float = hyperparameter(1.0, "weight of the preparation's squared distance to the start state", low=0)
    start_noise: float = hyperparameter(0.1, "std of the training start state's perturbation, relative to its rms", low=0)
    init_state_std: float = hyperparameter(2.0, "largest std of the random states the preparation starts from", low=0)

    def check(self) -> None:
        ordered_pair("prep_tau_range", self.prep_tau_range)


class ANNPrep(ANNAdditive):
    card = MethodCard(
        name="ann_prep",
        version="1",
        citation="Logiaco & Escola 2020, arXiv:2006.13332 (ANN with a preparatory period)",
    )
    Hyperparams = ANNPrepHyperparams

    def setup(self, info: StreamInfo, seed: int, device: str = "cpu") -> None:
        shortest, longest = self.hp.prep_tau_range
        self.prep_steps = (info.steps(shortest), info.steps(longest))
        super().setup(info, seed, device)

    def make_motif_params(self, total: int) -> nn.Module:
        """Adds ``prep_inputs[k]`` (N,), drawn like the inputs, and ``starts[k]`` (N,), zero."""
        module = super().make_motif_params(total)
        n = self.hp.n_hidden
        module.prep_inputs = nn.ParameterList(
            nn.Parameter(torch.randn(n, generator=self.generator)) for _ in range(total)
        )
        module.starts = nn.ParameterList(nn.Parameter(torch.zeros(n)) for _ in range(total))
        return module

    def own_parameters(self, motif_id: int) -> list[nn.Parameter]:
        params = self.motif_params
        return [params.inputs[motif_id], params.prep_inputs[motif_id], params.starts[motif_id]]

    def prep_cue(self, ids: torch.Tensor) -> torch.Tensor:
        return torch.stack(list(self.motif_params.prep_inputs))[ids]

    def training_trials(self, motif_ids: torch.Tensor, n_steps: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Production from the perturbed start states, and the preparation's distance to them."""
        starts = torch.stack(list(self.motif_params.starts))[motif_ids]  # (B, N)
        noise = relative_noise(starts, self.hp.start_noise, self.generator)
        y, _ = self.forward(starts + noise, motif_ids, 0, n_steps)
        shortest, longest = self.prep_steps
        n_prep = int(torch.randint(shortest, longest + 1, (1,), generator=self.generator))
        _, prepared = self.forward(self.random_states(len(motif_ids)), motif_ids, n_prep, 0)
        return y, self.hp.prep_weight * (prepared - starts).pow(2).mean()
