"""Orthogonal weight updates with one projector: Duncker et al. 2020, OWM and GPM.

Duncker, Driscoll, Shenoy, Sahani & Sussillo 2020, NeurIPS, "Organizing recurrent network
dynamics by task-computation to enable continual learning"; Zeng, Chen, Cui & Yu 2019,
Nat. Mach. Intell. 1:364, "Continual learning of context-dependent processing in neural
networks" (OWM); Saha, Garg & Roy 2021, ICLR, "Gradient projection memory for continual
learning" (GPM).

The shared rate RNN (``baselines/rate_rnn.py``) learns each motif as ``finetune`` does, but
every optimizer step (Adam's, not the raw gradient) of a weight block is projected:

    recurrent kernel  A = [W, W_in, b]  (N, N + n_motifs + 2), acting on z = [r; u; 1]:  dA <- L dA R
    readout           W_out  (d_out, N), acting on the rates r:                          dW_out <- L dW_out R

R (right) keeps the step away from the presynaptic activity of the motifs learned before,
L (left, ``duncker`` only) away from the drives A z, or outputs, they used. After learning a
motif the method records its activity on ``activity_trials`` trials (random initial states,
preparation and production) and updates every projector P of a space (all start at I):

- ``duncker`` (soft): S = running mean over motifs of the uncentred covariance of the
  recorded vectors; P = (S / alpha + I)^-1. Left and right.
- ``owm`` (soft, recursive): for each trial-mean vector x of a time step,
  P <- P - P x x^T P / (alpha + x^T P x), so that P = (I + sum_x x x^T / alpha)^-1. Right only.
- ``gpm`` (hard): a basis M of the recorded vectors, extended after each motif by the fewest
  left singular vectors of their part outside M that bring the energy kept to
  ``gpm_threshold``; P = I - M M^T. Right only.

Hyperparameters: those of ``RateRNNHyperparams`` (``rate_rnn.py``) plus ``mode``, ``alpha``,
``gpm_threshold`` and ``activity_trials``. The projection holds the training nmse up, so the
plateau test is on at any nmse (``plateau_nmse`` 0, ``plateau_gain`` 0.05) for ``duncker``
and ``owm``, which ran every motif of steps10-v1 to the cap without it; ``gpm``, whose motifs
mostly reach ``fit_nmse``, has plain training's settings (below nmse 0.1, ``plateau_gain`` 0.1).
"""

from __future__ import annotations

import copy
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

MODES = ("duncker", "owm", "gpm")


def mode_setting(default: str) -> str:
    """The ``mode`` hyperparameter with its default for one of the three methods."""
    return hyperparameter(default, "projection rule: duncker (soft, both sides), owm (recursive) or gpm (hard)",
                          choices=MODES)


@dataclass(frozen=True)
class OrthogonalHyperparams(RateRNNHyperparams):
    mode: str = mode_setting("duncker")
    alpha: float = hyperparameter(1e-3, "duncker and owm: variance below which a direction stays free", low=1e-12)
    gpm_threshold: float = hyperparameter(0.97, "gpm: fraction of the activity's energy its basis keeps", low=0, high=1)
    activity_trials: int = hyperparameter(64, "trials recorded after each motif to update the projectors", low=1)
    plateau_gain: float = plateau_gain_setting(HELD_UP_PLATEAU_GAIN)
    plateau_nmse: float = plateau_nmse_setting(0.0)


class Projector:
    """The projection P (n, n) of one side of a weight step, built from the activity recorded
    in that space; starts at the identity."""

    def __init__(self, n: int, mode: str, alpha: float, threshold: float, device: torch.device):
        self.mode, self.alpha, self.threshold = mode, alpha, threshold
        self.matrix = torch.eye(n, dtype=torch.float64, device=device)
        self.covariance = torch.zeros(n, n, dtype=torch.float64, device=device)  # duncker
        self.basis = torch.zeros(n, 0, dtype=torch.float64, device=device)  # gpm
        self.motifs = 0

    def add(self, activity: torch.Tensor) -> None:
        """Accumulate one motif's recorded activity (trials, steps, n) and update P."""
        vectors = activity.reshape(-1, activity.shape[-1]).to(torch.float64)
        identity = torch.eye(len(self.matrix), dtype=torch.float64, device=self.matrix.device)
        if self.mode == "duncker":
            covariance = vectors.T @ vectors / len(vectors)
            self.covariance = (self.motifs * self.covariance + covariance) / (self.motifs + 1)
            self.matrix = torch.linalg.inv(self.covariance / self.alpha + identity)
        elif self.mode == "owm":
            for x in activity.to(torch.float64).mean(dim=0):  # one trial-mean vector per time step
                Px = self.matrix @ x
                self.matrix = self.matrix - torch.outer(Px, Px) / (self.alpha + x @ Px)
        else:
            self.basis = extend_basis(self.basis, vectors.T, self.threshold)
            self.matrix = identity - self.basis @ self.basis.T
        self.motifs += 1


def extend_basis(basis: torch.Tensor, R: torch.Tensor, threshold: float) -> torch.Tensor:
    """GPM's basis update: ``basis`` (n, k) orthonormal, ``R`` (n, m) new representations.
    Adds the fewest left singular vectors of R's part outside the basis such that the
    energy of R inside the new basis is at least ``threshold`` of its total."""
    target = threshold * R.pow(2).sum()
    outside = R - basis @ (basis.T @ R)
    inside = R.pow(2).sum() - outside.pow(2).sum()
    if inside >= target:
        return basis
    U, S, _ = torch.linalg.svd(outside, full_matrices=False)
    kept = inside + torch.cumsum(S.pow(2), dim=0)
    needed = min(int(torch.searchsorted(kept, target)) + 1, len(S), len(R) - basis.shape[1])
    return torch.cat([basis, U[:, :needed]], dim=1)


class Orthogonal(RateRNNMethod):
    card = MethodCard(
        name="orthogonal",
        version="1",
        citation="Duncker et al. 2020, NeurIPS (soft projection); Zeng et al. 2019, Nat. Mach. Intell. 1:364 (OWM); "
        "Saha, Garg & Roy 2021, ICLR (GPM)",
    )
    Hyperparams = OrthogonalHyperparams

    def setup(self, info: StreamInfo, seed: int, device: str = "cpu") -> None:
        super().setup(info, seed, device)
        hp, N = self.hp, self.hp.n_hidden
        make = lambda n, mode: Projector(n, mode, hp.alpha, hp.gpm_threshold, self.device)
        self.kernel_right = make(N + info.n_motifs + 2, hp.mode)
        self.readout_right = make(N, hp.mode)
        two_sided = hp.mode == "duncker"
        self.kernel_left = make(N, "duncker") if two_sided else None
        self.readout_left = make(info.d_out, "duncker") if two_sided else None

    def learn(self, motif: Motif) -> None:
        self.fit([motif])
        self.record(motif)

    def projectors(self) -> dict[str, Projector]:
        sides = {"kernel_right": self.kernel_right, "readout_right": self.readout_right,
                 "kernel_left": self.kernel_left, "readout_left": self.readout_left}
        return {name: projector for name, projector in sides.items() if projector is not None}

    def state_dict(self) -> dict[str, Any]:
        projectors = {name: dict(vars(projector)) for name, projector in self.projectors().items()}
        return {**super().state_dict(), "projectors": copy.deepcopy(projectors)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        for name, projector in self.projectors().items():
            vars(projector).update(copy.deepcopy(state["projectors"][name]))

    def kernel(self) -> torch.Tensor:
        """The recurrent kernel A = [W, W_in, b] (N, N + n_motifs + 2)."""
        model = self.model
        return torch.cat([model.W, model.W_in, model.b[:, None]], dim=1)

    @torch.no_grad()
    def record(self, motif: Motif) -> None:
        """Runs ``activity_trials`` trials of ``motif`` and adds their activity to the projectors."""
        n_prep, n_steps, trials = self.info.n_prep, motif.n_steps, self.hp.activity_trials
        h0 = self.random_states(trials)
        ids = torch.full((trials,), motif.motif_id, device=self.device)
        rates, _ = self.model.rates(h0, self.model.W_in[:, ids].T, n_prep, n_steps)  # (S, trials, N)
        # (trials, S, N): r before each step
        presynaptic = torch.cat([torch.tanh(h0)[None], rates[:-1]]).transpose(0, 1)
        produced = rates[n_prep:].transpose(0, 1)  # (trials, n_steps, N)
        inputs = torch.zeros(trials, n_prep + n_steps, self.info.n_motifs + 2, device=self.device)
        inputs[:, :, motif.motif_id] = 1.0  # the cue, on throughout
        inputs[:, n_prep:, self.info.n_motifs] = 1.0  # go, during production
        inputs[:, :, -1] = 1.0  # the bias's input
        z = torch.cat([presynaptic, inputs], dim=2)
        self.kernel_right.add(z)
        self.readout_right.add(produced)
        if self.kernel_left is not None:
            self.kernel_left.add(z @ self.kernel().T)
            self.readout_left.add(produced @ self.model.W_out.T)

    def take_step(self, optimizer: torch.optim.Optimizer) -> None:
        """Adam's step, then its projection on both sides of each weight block."""
        model = self.model
        kernel_before, readout_before = self.kernel().detach().clone(), model.W_out.detach().clone()
        optimizer.step()
        with torch.no_grad():
            kernel = kernel_before + project(self.kernel().detach() - kernel_before, self.kernel_left, self.kernel_right)
            N, K = model.W.shape[0], model.W_in.shape[1]
            model.W.copy_(kernel[:, :N])
            model.W_in.copy_(kernel[:, N : N + K])
            model.b.copy_(kernel[:, -1])
            model.W_out.copy_(readout_before + project(model.W_out - readout_before, self.readout_left, self.readout_right))


def project(step: torch.Tensor, left: Projector | None, right: Projector) -> torch.Tensor:
    """L step R (float32 in, float32 out; the projectors are float64)."""
    projected = step.to(torch.float64) @ right.matrix
    if left is not None:
        projected = left.matrix @ projected
    return projected.to(step.dtype)


@dataclass(frozen=True)
class OWMHyperparams(OrthogonalHyperparams):
    mode: str = mode_setting("owm")


@dataclass(frozen=True)
class GPMHyperparams(OrthogonalHyperparams):
    mode: str = mode_setting("gpm")
    plateau_gain: float = plateau_gain_setting(RateRNNHyperparams.plateau_gain)
    plateau_nmse: float = plateau_nmse_setting(RateRNNHyperparams.plateau_nmse)


class OWM(Orthogonal):
    """``orthogonal`` with mode ``owm``."""

    card = MethodCard(name="owm", version="1", citation="Zeng, Chen, Cui & Yu 2019, Nat. Mach. Intell. 1:364 (OWM)")
    Hyperparams = OWMHyperparams


class GPM(Orthogonal):
    """``orthogonal`` with mode ``gpm``."""

    card = MethodCard(name="gpm", version="1", citation="Saha, Garg & Roy 2021, ICLR (GPM)")
    Hyperparams = GPMHyperparams
