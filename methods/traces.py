"""RFLO and e-prop: eligibility traces of the presynaptic rates times a feedback of the output
error, on the shared rate RNN. One learner serves both names.

Murray 2019, eLife 8:e43299, "Local online learning in recurrent networks with random
feedback" (RFLO); Bellec, Scherr, Subramoney, Hajek, Salaj, Legenstein & Maass 2020, Nat.
Commun. 11:3625, "A solution to the learning dilemma for recurrent networks of spiking
neurons" (e-prop).

The trace, derived for this network. With alpha = dt/tau, r = tanh(h) and the input u_t (the
cue's one-hot and the go channel, ``rate_rnn.py``):

    h_{t+1,i} = (1 - alpha) h_{t,i} + alpha (sum_j W_ij r_{t,j} + sum_k W_in,ik u_{t,k} + b_i),
    y_t = W_out r_t,    L = sum_t l(y_t)  (the mean nmse over the trials).

The exact gradient is dL/dW_ij = sum_t sum_k [W_out^T dl/dy_t]_k phi'(h_{t,k}) J_{t,kij} with
the influence J_{t,kij} = dh_{t,k}/dW_ij, which obeys

    J_{t+1,kij} = (1 - alpha) J_{t,kij} + alpha delta_ki r_{t,j} + alpha sum_m W_km phi'(h_{t,m}) J_{t,mij}.

RFLO drops the last term, the influence carried through the other units, which is what makes
the rule non-local. What is left is J_{t,kij} = delta_ki p_{t,j} with

    p_{t+1,j} = (1 - alpha) p_{t,j} + alpha r_{t,j},    p_0 = 0,
    dL/dW_ij ~ sum_t [F^T dl/dy_t]_i phi'(h_{t,i}) p_{t,j},    phi'(h) = 1 - r^2,

where the feedback F (d_out, N) stands in for W_out. Murray's network puts the nonlinearity
around the drive, h_{t+1} = (1 - 1/tau) h_t + phi(W h_t + W_in x_{t+1}) / tau, so the slope
phi'(u_i) of the drive enters every step of his trace, p_ij <- (1 - 1/tau) p_ij +
phi'(u_i) h_j / tau: one trace per synapse. Here the drive enters h linearly and the slope
belongs to the readout, phi'(h_{t,i}) at the time of the error, so the trace p_{t,j} is the
same for every postsynaptic unit i: one trace per presynaptic unit, a low-pass of its rate
with the units' time constant. W_in and b have the same form with u_{t,k} and 1 in place of
r_{t,j}: the cue's trace is 1 - (1 - alpha)^t, the go channel's 1 - (1 - alpha)^(t - n_prep)
for t > n_prep. W_out learns by the delta rule (``local_rules.py``). The updates are summed over
each iteration's trials and steps and applied at its end (Murray's ``online_learning=False``).

e-prop for rate units gives the same trace. Its eligibility vector keeps the unit's own
dependence on its past, dh_{t+1,i}/dh_{t,i} = (1 - alpha) + alpha W_ii phi'(h_{t,i}); without
the autapse term (Bellec et al. mask autapses; here W_ii is one of N weights of size
1/sqrt(N), and keeping it would make the trace per synapse again) that is 1 - alpha, and the
eligibility trace phi'(h_{t,i}) p_{t,j} is RFLO's. The two differ only in the feedback F:

- ``symmetric`` (e-prop's default): F = W_out, the current readout;
- ``random``: a fixed random F, which is RFLO; ``eprop`` with ``feedback=random`` runs exactly
  ``rflo``'s rule and, at the same settings, gives the same numbers;
- ``adaptive``: F starts random and gets W_out's every change, and decays by ``feedback_decay``
  per update, so it tracks W_out (Kolen-Pollack style).

Where this port differs from the papers:

- the random F ~ N(0, 1/N), W_out's initial scale (Bellec et al.'s tutorial), where Murray
  draws N(0, 1/n_out); the scale only rescales the learning rate of W, W_in and b, and with
  W_out's it lets one default learning rate serve every feedback;
- Bellec et al.'s readout is a leaky integrator, so they filter the eligibility trace once more
  with its decay; this readout is instantaneous (y_t = W_out r_t), so there is no second filter;
- the updates go through ``fit``: 16 trials an update (RFLO's plasticity on smooth10-v1 was
  0.96, 0.87 and 0.87 on seeds 0-2; 32 trials gave 0.85 and 0.92 on seeds 0 and 2, no
  better), from random initial states through the preparatory period, gradient-norm clipping at 1 and the shared early stopping, where Murray
  trains one trial per update from a fixed initial state;
- Adam applies the update (W, W_in and b at ``lr`` 3e-4, W_out at ``readout_lr`` 1e-2), where
  Murray uses plain gradient descent (``optimizer=sgd``). On smooth10-v1's first motif (seed 0)
  SGD at learning rates 0.03-3 left RFLO near nmse 0.7 after 2,000 updates or diverged, and Adam
  with W_out at W's rate stalled there too; with the faster readout RFLO reached 0.07 in 4,000
  and symmetric e-prop 0.01 in 1,900. ``scripts/murray_fig2.py`` runs Murray's own task with
  his plain gradient descent.

Hyperparameters: those of ``LocalRuleHyperparams`` (``local_rules.py``: ``max_iterations``
4000), and for e-prop ``feedback`` and ``feedback_decay``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from motifbench.method import MethodCard, StreamInfo, hyperparameter
from motifbench.methods.local_rules import LocalRuleHyperparams, LocalRuleMethod


def trace_filter(alpha: float, n_prep: int, n_steps: int) -> torch.Tensor:
    """(n_steps, T), T = n_prep + n_steps: row t - n_prep - 1 maps an input x_s at steps
    s = 0 .. T - 1 to its trace p_t = sum_{s < t} alpha (1 - alpha)^(t - 1 - s) x_s at the
    production's times t = n_prep + 1 .. T."""
    t = torch.arange(n_prep + 1, n_prep + n_steps + 1, dtype=torch.float64)[:, None]
    s = torch.arange(n_prep + n_steps, dtype=torch.float64)[None, :]
    lag = t - 1 - s
    return torch.where(lag >= 0, alpha * (1 - alpha) ** lag.clamp(min=0), 0.0).float()


class RFLO(LocalRuleMethod):
    card = MethodCard(
        name="rflo",
        version="1",
        citation="Murray 2019, eLife 8:e43299 (random feedback local online learning)",
    )

    def setup(self, info: StreamInfo, seed: int, device: str = "cpu") -> None:
        super().setup(info, seed, device)
        n = self.hp.n_hidden
        self.feedback = (torch.randn(info.d_out, n, generator=self.generator) / math.sqrt(n)).to(self.device)

    def feedback_weights(self) -> torch.Tensor:
        """F (d_out, N), which carries the output error to the units: fixed random for RFLO."""
        return self.feedback

    @torch.no_grad()
    def training_gradients(self, motif_ids: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> float:
        n_prep, n_steps = self.info.n_prep, target.shape[1]
        rates = self.rollout(self.random_states(len(motif_ids)), self.model.W_in[:, motif_ids].T, n_steps)
        produced = rates[n_prep + 1 :]
        output_error, nmse = self.output_error(produced, target, weights)
        signal = (output_error @ self.feedback_weights()) * (1 - produced.square())  # (n_steps, B, N)
        traces = trace_filter(self.model.alpha, n_prep, n_steps).to(self.device)
        presynaptic = torch.tensordot(traces, rates[:-1], dims=1)  # p_t (n_steps, B, N)
        recurrent = signal.flatten(0, 1).T @ presynaptic.flatten(0, 1)
        cue = torch.tensordot(traces.sum(dim=1), signal, dims=1)  # the cue is on at every step
        go = torch.tensordot(traces[:, n_prep:].sum(dim=1), signal, dims=1)
        self.set_gradients(motif_ids, recurrent, cue, go, cue.sum(dim=0), output_error, produced)
        return float(nmse.mean())

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "feedback": self.feedback.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.feedback = state["feedback"].clone().to(self.device)


@dataclass(frozen=True)
class EPropHyperparams(LocalRuleHyperparams):
    feedback: str = hyperparameter(
        "symmetric", "what carries the output error back: W_out, a fixed random matrix (RFLO), or an adaptive one",
        choices=("symmetric", "random", "adaptive"),
    )
    feedback_decay: float = hyperparameter(
        0.01, "adaptive feedback: fraction of the feedback weights lost per update", low=0, high=1
    )


class EProp(RFLO):
    card = MethodCard(
        name="eprop",
        version="1",
        citation="Bellec et al. 2020, Nat. Commun. 11:3625 (e-prop, rate units)",
    )
    Hyperparams = EPropHyperparams

    def feedback_weights(self) -> torch.Tensor:
        return self.model.W_out.detach() if self.hp.feedback == "symmetric" else self.feedback

    def take_step(self, optimizer: torch.optim.Optimizer) -> None:
        """The optimiser's step; adaptive feedback then gets W_out's change and decays."""
        if self.hp.feedback != "adaptive":
            optimizer.step()
            return
        before = self.model.W_out.detach().clone()
        optimizer.step()
        self.feedback.mul_(1 - self.hp.feedback_decay).add_(self.model.W_out.detach() - before)
