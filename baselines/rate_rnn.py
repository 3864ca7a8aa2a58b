"""The continuous-time rate RNN that every ANN baseline shares, and the method base that trains it.

Dynamics (Euler step of tau dh/dt = -h + W tanh(h) + W_in u + b, alpha = dt/tau):

    h <- h + alpha * (-h + W tanh(h) + W_in u + b),        y = W_out tanh(h)

h is the state (B, N). The input u has K + 1 channels: a one-hot cue of the motif id, on during
the preparatory period and the production, and a "go" channel that is 1 during production.
Training is Adam on BPTT of the mean nmse of the production, from random initial states
h0 ~ N(0, s^2) with s ~ U(0, init_state_std) per trial (so the rest state h = 0 is among them),
through the preparatory period of the stream's default length. Training stops once the mean
training nmse of the last ``patience`` iterations is at most ``fit_nmse``, or after
``max_iterations``.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from motifbench.losses import nmse_loss, nmse_weights
from motifbench.method import Method, Settings, StreamInfo, hyperparameter, state_noise
from motifbench.streams import Motif


class RateRNN(nn.Module):
    """W (N, N), W_in (N, K + 1): K cue columns then the go column, b (N,), W_out (d_out, N);
    ``alpha`` = dt / tau."""

    def __init__(self, n_hidden: int, n_motifs: int, d_out: int, gain: float, alpha: float, generator: torch.Generator):
        super().__init__()
        self.n_motifs = n_motifs
        self.alpha = alpha
        n = n_hidden
        self.W = nn.Parameter(torch.randn(n, n, generator=generator) * (gain / math.sqrt(n)))
        self.W_in = nn.Parameter(torch.randn(n, n_motifs + 1, generator=generator))
        self.b = nn.Parameter(torch.zeros(n))
        self.W_out = nn.Parameter(torch.randn(d_out, n, generator=generator) / math.sqrt(n))

    def forward(
        self,
        h: torch.Tensor,
        ids: torch.Tensor,
        n_prep: int,
        n_steps: int,
        noise_std: float = 0.0,
        generator: torch.Generator | None = None,
        gates: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """h (B, N), ids (B,) -> y (B, n_steps, d_out), h at the end (B, N), cued by W_in's columns."""
        return self.run(h, self.W_in[:, ids].T, n_prep, n_steps, noise_std, generator, gates)

    def run(
        self,
        h: torch.Tensor,
        cue: torch.Tensor,
        n_prep: int,
        n_steps: int,
        noise_std: float = 0.0,
        generator: torch.Generator | None = None,
        gates: torch.Tensor | None = None,
        low_rank: tuple[torch.Tensor, torch.Tensor] | None = None,
        prep_cue: torch.Tensor | None = None,
        rates_out: list[torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The dynamics for given input vectors ``cue`` (B, N); the go input is W_in's last column.

        ``gates`` (B, N), if given, multiplies the state at the start and after every step
        (units gated to 0 are silent: their rate is 0). ``low_rank`` = (U, V), each (B, N, r),
        adds U_b V_b^T to row b's recurrent weights. ``prep_cue`` (B, N), if given, replaces
        ``cue`` during the preparatory period. ``rates_out``, if given, receives the rates
        (B, N) after every step, preparation included."""
        a = self.alpha
        if gates is not None:
            h = h * gates
        cue = a * (cue + self.b)  # (B, N), the input drive times alpha
        go = cue + a * self.W_in[:, -1]
        if prep_cue is not None:
            cue = a * (prep_cue + self.b)
        scaled_W = a * self.W.T
        r = torch.tanh(h)
        rates = []
        for t in range(n_prep + n_steps):
            # h <- (1 - a) h + a (W r + drive), fused into two operations
            h = torch.add(torch.addmm(cue if t < n_prep else go, r, scaled_W), h, alpha=1 - a)
            if low_rank is not None:
                U, V = low_rank
                h = h + a * torch.bmm(torch.bmm(r.unsqueeze(1), V), U.transpose(1, 2)).squeeze(1)
            if noise_std > 0:
                h = h + state_noise(h, noise_std, a, generator)
            if gates is not None:
                h = h * gates
            r = torch.tanh(h)
            if rates_out is not None:
                rates_out.append(r)
            if t >= n_prep:
                rates.append(r)
        if not rates:
            return h.new_zeros(h.shape[0], 0, self.W_out.shape[0]), h
        return torch.stack(rates, dim=1) @ self.W_out.T, h


@dataclass(frozen=True)
class RateRNNHyperparams(Settings):
    n_hidden: int = hyperparameter(128, "hidden units N", low=1)
    gain: float = hyperparameter(1.2, "spectral scale of the initial W (std gain / sqrt(N))", low=0)
    lr: float = hyperparameter(3e-3, "Adam learning rate", low=0)
    batch_size: int = hyperparameter(16, "trials per motif in each iteration", low=1)
    max_iterations: int = hyperparameter(1500, "Adam steps per learned motif at most", low=0)
    fit_nmse: float = hyperparameter(0.01, "early stopping: training nmse at which a motif counts as fit", low=0)
    patience: int = hyperparameter(5, "early stopping: iterations averaged for the fit test", low=1)
    init_state_std: float = hyperparameter(1.0, "largest std of the random initial states", low=0)
    grad_clip: float = hyperparameter(1.0, "gradient norm clip (0: none)", low=0)


class RateRNNMethod(Method):
    """Everything of the protocol for the shared rate RNN; subclasses decide what ``learn`` trains."""

    Hyperparams = RateRNNHyperparams

    def setup(self, info: StreamInfo, seed: int, device: str = "cpu") -> None:
        self.info = info
        self.device = torch.device(device)
        self.generator = torch.Generator().manual_seed(seed)
        self.model = self.make_model(info.n_motifs).to(self.device)
        self.training_log: list[dict[str, float]] = []

    def rest_state(self, batch: int) -> torch.Tensor:
        return torch.zeros(batch, self.hp.n_hidden, device=self.device)

    def make_model(self, n_cues: int) -> RateRNN:
        """The network, with ``n_cues`` cue columns in W_in (one per motif) besides the go column."""
        info = self.info
        return RateRNN(self.hp.n_hidden, n_cues, info.d_out, self.hp.gain, info.dt / info.tau, self.generator)

    def forward(
        self,
        h: torch.Tensor,
        ids: torch.Tensor,
        n_prep: int,
        n_steps: int,
        noise_std: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The dynamics used by both ``fit`` and ``generate``; subclasses that change them override this."""
        return self.model(h, ids, n_prep, n_steps, noise_std, generator)

    def trainable_parameters(self, motifs: Sequence[Motif]) -> list[nn.Parameter]:
        """What ``fit`` trains on ``motifs``: every weight of the network unless a subclass says otherwise."""
        return list(self.model.parameters())

    def training_trials(self, motif_ids: torch.Tensor, n_steps: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One iteration's trials (B = len(motif_ids)): the outputs (B, n_steps, d_out) that the
        training nmse scores, and a loss term of the method's own that counts toward the fit
        (None: none). Here: from random initial states through the default preparatory period."""
        y, _ = self.forward(self.random_states(len(motif_ids)), motif_ids, self.info.n_prep, n_steps)
        return y, None

    def take_step(self, optimizer: torch.optim.Optimizer) -> None:
        """One optimizer step; methods that edit the step (projections) override this."""
        optimizer.step()

    def penalty(self) -> torch.Tensor | None:
        """A regulariser added to the training loss (None: none)."""
        return None

    @torch.no_grad()
    def generate(
        self,
        ids: torch.Tensor,
        state: torch.Tensor,
        n_prep: int,
        n_steps: int,
        noise_std: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.forward(state.to(self.device), ids.to(self.device), n_prep, n_steps, noise_std, generator)

    def fit(self, motifs: Sequence[Motif], max_iterations: int | None = None, lr: float | None = None) -> None:
        """Adam on BPTT over ``motifs`` (all in every batch) until fit or out of iterations
        (``max_iterations`` and ``lr`` default to the hyperparameters)."""
        hp = self.hp
        max_iterations = hp.max_iterations if max_iterations is None else max_iterations
        trainable = self.trainable_parameters(motifs)
        ids = torch.arange(len(motifs), device=self.device).repeat_interleave(hp.batch_size)
        motif_ids = torch.tensor([m.motif_id for m in motifs], device=self.device)[ids]
        n_steps = max(m.n_steps for m in motifs)
        target, mask = _padded_targets(motifs, n_steps, self.device)
        target, weights = target[ids], nmse_weights(target, mask)[ids]
        optimizer = torch.optim.Adam(trainable, lr=hp.lr if lr is None else lr)
        recent: list[float] = []
        iterations = 0
        while iterations < max_iterations:
            iterations += 1
            y, auxiliary = self.training_trials(motif_ids, n_steps)
            loss = nmse_loss(y, target, weights)
            if auxiliary is not None:
                loss = loss + auxiliary
            penalty = self.penalty()
            optimizer.zero_grad()
            (loss if penalty is None else loss + penalty).backward()
            if hp.grad_clip > 0:
                nn.utils.clip_grad_norm_(trainable, hp.grad_clip)
            self.take_step(optimizer)
            recent = (recent + [loss.item()])[-hp.patience :]
            if len(recent) == hp.patience and np.mean(recent) <= hp.fit_nmse:
                break
        self.training_log.append({"iterations": iterations, "train_nmse": float(np.mean(recent)) if recent else None})

    def diagnostics(self) -> dict[str, Any]:
        return {"training": self.training_log}

    def random_states(self, batch: int) -> torch.Tensor:
        """Training's initial states (B, N): h0 ~ N(0, s^2), s ~ U(0, init_state_std) per trial."""
        scale = torch.rand(batch, 1, generator=self.generator) * self.hp.init_state_std
        return (torch.randn(batch, self.hp.n_hidden, generator=self.generator) * scale).to(self.device)

    def state_dict(self) -> dict[str, Any]:
        return {"model": copy.deepcopy(self.model.state_dict())}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])

    @torch.no_grad()
    def damage(self, fraction: float, generator: torch.Generator) -> None:
        """Remove (zero) a random ``fraction`` of the recurrent weights W."""
        keep = torch.rand(self.model.W.shape, generator=generator) >= fraction
        self.model.W.mul_(keep.to(self.device))

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.model.parameters() if p.requires_grad)


def _padded_targets(motifs: Sequence[Motif], n_steps: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Targets zero-padded to n_steps and their masks: (M, n_steps, d_out) each."""
    d_out = motifs[0].target.shape[1]
    target = torch.zeros(len(motifs), n_steps, d_out)
    mask = torch.zeros(len(motifs), n_steps, d_out)
    for i, m in enumerate(motifs):
        target[i, : m.n_steps] = torch.from_numpy(m.target.copy())
        mask[i, : m.n_steps] = 1.0
    return target.to(device), mask.to(device)
