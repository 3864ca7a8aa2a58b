"""Node perturbation and weight perturbation on the shared rate RNN.

Zuge, Klos & Memmesheimer 2023, Phys. Rev. X 13, 021006, "Weight versus node perturbation
learning in temporally extended tasks: weight perturbation often performs similarly or better".

Each update runs its B trials twice from the same initial states, batched over rows: clean,
and perturbed. With E_c and E_p a trial's nmse clean and perturbed, and sigma the perturbation's
standard deviation, the trial's estimate of the gradient of its nmse is:

- node perturbation (NP): noise xi_{t,i} ~ N(0, sigma^2), fresh at every step and unit, is
  added to each unit's input (W r_t + W_in u_t + b, inside the Euler step). (E_p - E_c) xi_{t,i}
  / sigma^2 estimates dE/d(input_{t,i}), and each weight of that input gets it times its
  presynaptic quantity, summed over the trial: xi_{t,i} r_{t,j} for W_ij (the perturbed trial's
  rates), xi_{t,i} u_{t,k} for W_in,ik and xi_{t,i} for b_i;
- weight perturbation (WP): noise xi ~ N(0, sigma^2) on every weight of W, of b and of the
  trial's columns of W_in (its cue and the go channel), drawn per trial and held over it; the
  estimate is (E_p - E_c) xi / sigma^2.

The mean of the trials' estimates goes to ``fit``'s optimiser as the gradient; W_out learns by
the delta rule from the clean trials. The perturbed trials only measure: what is produced and
scored is the clean network.

Where this port differs from the paper:

- W_out learns by its exact, local delta rule rather than by perturbation, so that the two
  rules differ only in how the recurrent network learns;
- Adam on the estimate by default (``optimizer``), where the paper steps
  -eta (E_p - E_c) xi / sigma^2 with a learning rate it tunes per rule and task;
- WP perturbs only the weights that a trial uses. The cue columns of other motifs carry no
  input in it, so their estimate would be noise and they would diffuse (the paper's point
  about weights that mediate zero input), eroding the cues of motifs learned before.

Hyperparameters: those of ``LocalRuleHyperparams`` (``local_rules.py``) plus
``perturbation_std`` (sigma, 1e-3), with Adam at ``lr`` 1e-3 for WP; NP at 1e-3 left most
motifs of smooth10-v1 stuck near nmse 1 (plasticity 0.56, seed 0), and at 3e-4 with 16 or 32
trials an update some (0.65; 0.90 and 0.86 on seeds 0 and 1), so NP takes 64 trials an update
at 3e-4 (0.99 on seed 0): its estimate has N x T dimensions per trial, WP's N^2 + 3N.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from motifbench.method import HyperparameterError, MethodCard, hyperparameter
from motifbench.methods.local_rules import LocalRuleHyperparams, LocalRuleMethod


@dataclass(frozen=True)
class PerturbationHyperparams(LocalRuleHyperparams):
    perturbation_std: float = hyperparameter(1e-3, "sigma: standard deviation of the perturbation", low=0)
    lr: float = hyperparameter(1e-3, "learning rate of W, W_in and b", low=0)

    def check(self) -> None:
        if self.perturbation_std == 0:
            raise HyperparameterError("perturbation_std=0: the perturbation must be larger than 0")


class Perturbation(LocalRuleMethod):
    """What NP and WP share: the clean and the perturbed trials, and the update."""

    Hyperparams = PerturbationHyperparams

    @torch.no_grad()
    def training_gradients(self, motif_ids: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> float:
        n_prep, n_steps = self.info.n_prep, target.shape[1]
        h0, cue = self.random_states(len(motif_ids)), self.model.W_in[:, motif_ids].T
        clean = self.rollout(h0, cue, n_steps)
        output_error, clean_nmse = self.output_error(clean[n_prep + 1 :], target, weights)
        perturbed, perturbation = self.perturbed_rollout(h0, cue, n_steps)
        _, perturbed_nmse = self.output_error(perturbed[n_prep + 1 :], target, weights)
        # the loss is the trials' mean nmse, so each trial's estimate counts 1 / B
        error_change = (perturbed_nmse - clean_nmse) / (self.hp.perturbation_std**2 * len(motif_ids))
        recurrent, cue_change, go, bias = self.estimate(error_change, perturbation, perturbed)
        self.set_gradients(motif_ids, recurrent, cue_change, go, bias, output_error, clean[n_prep + 1 :])
        return float(clean_nmse.mean())

    def draw(self, *shape: int) -> torch.Tensor:
        """A perturbation of ``shape``: N(0, sigma^2), drawn on the CPU (the same on every device)."""
        return (torch.randn(shape, generator=self.generator) * self.hp.perturbation_std).to(self.device)

    def perturbed_rollout(self, h0: torch.Tensor, cue: torch.Tensor, n_steps: int) -> tuple[torch.Tensor, Any]:
        """The perturbed trials' rates (T + 1, B, N), T = n_prep + n_steps, and the perturbation drawn."""
        raise NotImplementedError

    def estimate(self, error_change: torch.Tensor, perturbation: Any, perturbed: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """From each trial's ``error_change`` (B,) = (E_p - E_c) / (sigma^2 B), the perturbation
        and the perturbed rates (T + 1, B, N): the gradient estimates for W (N, N), each trial's
        cue column and go column (B, N) and b (N,)."""
        raise NotImplementedError


@dataclass(frozen=True)
class NodePerturbationHyperparams(PerturbationHyperparams):
    batch_size: int = hyperparameter(64, "trials per update (each run clean and perturbed)", low=1)
    lr: float = hyperparameter(3e-4, "learning rate of W, W_in and b", low=0)


class NodePerturbation(Perturbation):
    card = MethodCard(
        name="node_perturbation",
        version="1",
        citation="Zuge, Klos & Memmesheimer 2023, Phys. Rev. X 13, 021006 (node perturbation)",
    )
    Hyperparams = NodePerturbationHyperparams

    def perturbed_rollout(self, h0: torch.Tensor, cue: torch.Tensor, n_steps: int
                          ) -> tuple[torch.Tensor, torch.Tensor]:
        noise = self.draw(self.info.n_prep + n_steps, len(h0), self.hp.n_hidden)  # (T, B, N)
        return self.rollout(h0, cue, n_steps, input_noise=noise), noise

    def estimate(self, error_change: torch.Tensor, perturbation: torch.Tensor, perturbed: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        node = perturbation * error_change[:, None]  # dE/d(input_t), (T, B, N)
        recurrent = node.flatten(0, 1).T @ perturbed[:-1].flatten(0, 1)
        cue = node.sum(dim=0)
        return recurrent, cue, node[self.info.n_prep :].sum(dim=0), cue.sum(dim=0)


class WeightPerturbation(Perturbation):
    card = MethodCard(
        name="weight_perturbation",
        version="1",
        citation="Zuge, Klos & Memmesheimer 2023, Phys. Rev. X 13, 021006 (weight perturbation)",
    )

    def perturbed_rollout(self, h0: torch.Tensor, cue: torch.Tensor, n_steps: int
                          ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        batch, n = h0.shape
        noise = {"W": self.draw(batch, n, n), "cue": self.draw(batch, n), "go": self.draw(batch, n),
                 "b": self.draw(batch, n)}
        prep_cue = cue + noise["cue"] + noise["b"]  # the drive in preparation: cue + b
        identity = torch.eye(n, device=self.device).expand(batch, n, n)
        # W + xi_b per row, as the per-row term U_b V_b^T with U_b = xi_b and V_b = I
        rates = self.rollout(h0, prep_cue + noise["go"], n_steps, prep_cue=prep_cue, low_rank=(noise["W"], identity))
        return rates, noise

    def estimate(self, error_change: torch.Tensor, perturbation: dict[str, torch.Tensor], perturbed: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        noise, per_row = perturbation, error_change[:, None]
        return (torch.einsum("b,bij->ij", error_change, noise["W"]), noise["cue"] * per_row, noise["go"] * per_row,
                (noise["b"] * per_row).sum(dim=0))
