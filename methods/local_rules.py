"""What the local learning rules share, on the shared rate RNN (``rate_rnn.py``): trials run
without autograd, the readout's delta rule, and the cue weights' update.

The rules of ``traces.py`` (RFLO, Murray 2019; e-prop, Bellec et al. 2020) and
``perturbation.py`` (node and weight perturbation, Zuge, Klos & Memmesheimer 2023) change W,
W_in and b from quantities local in space and time plus a signal of the output error, and
W_out by the delta rule (its exact gradient, which is local: the output error times the
presynaptic rate). None of them calls autograd: ``training_gradients`` runs under
``torch.no_grad`` and writes every weight's ``.grad`` itself. ``fit``'s optimiser (plain SGD or
Adam on the rule's update, a hyperparameter), gradient clipping and ``TrainingSchedule`` then
act as for every other rate-RNN method, and the trials start, as theirs do, from random
initial states and run through the preparatory period.

Only the cued column of W_in and the go column carry input in a trial, so only they (with W,
b and W_out) change; the columns of other motifs' cues keep their weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from motifbench.baselines.rate_rnn import RateRNNHyperparams, RateRNNMethod
from motifbench.method import hyperparameter
from motifbench.streams import Motif


@dataclass(frozen=True)
class LocalRuleHyperparams(RateRNNHyperparams):
    optimizer: str = hyperparameter("adam", "what applies the rule's update", choices=("adam", "sgd"))
    lr: float = hyperparameter(3e-4, "learning rate of W, W_in and b", low=0)
    readout_lr: float = hyperparameter(1e-2, "learning rate of W_out (the delta rule)", low=0)
    max_iterations: int = hyperparameter(4000, "updates per learned motif at most", low=0)


class LocalRuleMethod(RateRNNMethod):
    """A rate-RNN method whose ``training_gradients`` is a local rule (subclasses write it,
    under ``torch.no_grad``, with the helpers below)."""

    Hyperparams = LocalRuleHyperparams

    def learn(self, motif: Motif) -> None:
        self.fit([motif])

    def make_optimizer(self, trainable: list[nn.Parameter], lr: float) -> torch.optim.Optimizer:
        """SGD or Adam: W, W_in and b at ``lr``, W_out at ``readout_lr``."""
        readout = self.model.W_out
        groups = [{"params": [p for p in trainable if p is not readout], "lr": lr},
                  {"params": [readout], "lr": self.hp.readout_lr}]
        return torch.optim.SGD(groups) if self.hp.optimizer == "sgd" else torch.optim.Adam(groups)

    def rollout(self, h0: torch.Tensor, cue: torch.Tensor, n_steps: int, **kwargs) -> torch.Tensor:
        """The rates r_0 .. r_T (T + 1, B, N) of trials from h0 (B, N) with cue vectors ``cue``
        (B, N) through the default preparatory period and ``n_steps`` of production (T =
        n_prep + n_steps); ``kwargs`` go to ``RateRNN.rates``."""
        rates, _ = self.model.rates(h0, cue, self.info.n_prep, n_steps, **kwargs)
        return torch.cat([torch.tanh(h0).unsqueeze(0), rates])

    def output_error(self, produced: torch.Tensor, target: torch.Tensor, weights: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """For the production's rates ``produced`` (n_steps, B, N) and the training loss's
        ``target`` and ``nmse_weights`` (B, n_steps, d_out): the gradient of the training loss
        (the mean nmse over the B trials) with respect to the outputs (n_steps, B, d_out), and
        each trial's nmse (B,)."""
        difference = (produced @ self.model.W_out.T) - target.transpose(0, 1)
        weights = weights.transpose(0, 1)
        nmse = (difference.square() * weights).sum(dim=(0, 2))
        return difference * weights * (2.0 / len(nmse)), nmse

    def set_gradients(
        self,
        motif_ids: torch.Tensor,
        recurrent: torch.Tensor,
        cue: torch.Tensor,
        go: torch.Tensor,
        bias: torch.Tensor,
        output_error: torch.Tensor,
        produced: torch.Tensor,
    ) -> None:
        """Writes the update directions (loss gradients or their estimates) into ``.grad``:
        ``recurrent`` (N, N) for W; ``cue`` and ``go`` (B, N), each trial's for its cue's column
        of W_in and for the go column; ``bias`` (N,) for b; and for W_out the delta rule, the
        sum over steps and trials of ``output_error`` (n_steps, B, d_out) times ``produced``
        (n_steps, B, N)."""
        model = self.model
        model.W.grad = recurrent
        model.W_in.grad = torch.zeros_like(model.W_in).index_add_(1, motif_ids, cue.T)
        model.W_in.grad[:, -1] = go.sum(dim=0)
        model.b.grad = bias
        model.W_out.grad = torch.einsum("tbo,tbn->on", output_error, produced)
