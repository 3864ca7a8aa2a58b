"""The continuous-time rate RNN that every ANN baseline shares, and the method base that trains it.

Dynamics (Euler step of tau dh/dt = -h + W tanh(h) + W_in u + b, alpha = dt/tau):

    h <- h + alpha * (-h + W tanh(h) + W_in u + b),        y = W_out tanh(h)

h is the state (B, N). The input u has K + 1 channels: a one-hot cue of the motif id, on during
the preparatory period and the production, and a "go" channel that is 1 during production.
Training is Adam on BPTT of the mean nmse of the production, from random initial states
h0 ~ N(0, s^2) with s ~ U(0, init_state_std) per trial (so the rest state h = 0 is among them),
through the preparatory period of the stream's default length. Training stops
(``TrainingSchedule``) once the mean training nmse of the last ``patience`` iterations is at
most ``fit_nmse``, or after ``max_iterations``; a plateau (the training nmse no longer falls by
``plateau_gain`` over ``plateau_window`` iterations) lowers the learning rate by ``lr_decay``
up to ``lr_decays`` times, and the plateau after that stops training too.

The recurrence runs as one autograd node with a hand-written backward (``_EulerRates``), not
as the dozen autograd nodes per step that the step written out would record.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn
from torch.autograd.function import once_differentiable

from motifbench.baselines.initialisation import INITIALISATIONS, recurrent_weights
from motifbench.losses import nmse_loss, nmse_weights
from motifbench.method import Method, Settings, StreamInfo, damaged_weights, hyperparameter, state_noise
from motifbench.streams import Motif


class _EulerRates(torch.autograd.Function):
    """The whole recurrence as one autograd node, with back-propagation through time written by
    hand: a step is three tensor operations forward and four backward, in place, where autograd
    records and replays a dozen, and the weight gradients are one matrix product after the loop.

    For states h_t (B, N), rates r_t = tanh(h_t), gates g (B, N) or 1, per-row low-rank weights
    U_b, V_b (N, rank) or none, drives d_t (B, N) (the preparatory drive for t < n_prep, then
    the go drive), input noise x_t (B, N) or none, and process noise n_t (drawn from the state;
    no gradient through either noise):

        h_{t+1} = g * ((1 - a) h_t + a (W r_t + U_b V_b^T r_t + d_t + x_t) + n_t),    h_0 <- g * h_0

    ``forward`` returns the rates of the last ``n_out`` steps, r_{T-n_out+1} .. r_T (n_out, B, N),
    and h_T (B, N)."""

    @staticmethod
    def forward(ctx, h0, W, prep_drive, go_drive, U, V, gates, alpha, n_prep, n_total, n_out, noise_std, generator,
                input_noise):
        a = alpha
        scaled_WT = (a * W).T.contiguous()  # row-major: a product with a transposed view is slower
        prep_drive, go_drive = a * prep_drive, a * go_drive
        scaled_U = None if U is None else a * U
        rates = h0.new_empty(n_total + 1, *h0.shape)  # rates[t] = r_t
        r = rates.unbind(0)
        h = h0.clone() if gates is None else h0 * gates  # updated in place below
        torch.tanh(h, out=r[0])
        for t in range(n_total):
            h.addmm_(r[t], scaled_WT, beta=1 - a).add_(prep_drive if t < n_prep else go_drive)
            if U is not None:
                h.add_(torch.bmm(torch.bmm(r[t].unsqueeze(1), V), scaled_U.transpose(1, 2)).squeeze(1))
            if input_noise is not None:
                h.add_(input_noise[t], alpha=a)
            if noise_std > 0:
                h.add_(state_noise(h, noise_std, a, generator))
            if gates is not None:
                h.mul_(gates)
            torch.tanh(h, out=r[t + 1])
        ctx.save_for_backward(rates, W, U, V, gates)
        ctx.alpha, ctx.n_prep = a, n_prep
        return rates[n_total + 1 - n_out :], h

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_rates, grad_h):
        rates, W, U, V, gates = ctx.saved_tensors
        a, n_prep, T = ctx.alpha, ctx.n_prep, len(rates) - 1
        needed = ctx.needs_input_grad  # h0, W, prep_drive, go_drive, U, V, ...
        r = rates.unbind(0)
        scaled_W = a * W
        scaled_U = None if U is None else a * U
        one, slope = torch.ones_like(grad_h), torch.empty_like(grad_h)

        def to_state(grad: torch.Tensor, t: int, later: torch.Tensor, weight: float = 1 - a) -> torch.Tensor:
            """In place, dL/dr_t -> dL/dh_t = (1 - r_t^2) dL/dr_t + ``weight`` ``later``: (1 - a) g dL/dh_{t+1},
            or at t = T the gradient of h_T itself with weight 1."""
            torch.addcmul(one, r[t], r[t], value=-1, out=slope)
            return grad.mul_(slope).add_(later, alpha=weight)

        def through_weights(e: torch.Tensor, into: torch.Tensor | None = None) -> torch.Tensor:
            """a e (W + U_b V_b^T) for e (B, N) = g dL/dh_{t+1}, added to ``into`` in place if given."""
            out = torch.mm(e, scaled_W) if into is None else into.addmm_(e, scaled_W)
            if U is not None:
                out.add_(torch.bmm(torch.bmm(e.unsqueeze(1), scaled_U), V.transpose(1, 2)).squeeze(1))
            return out

        # errors[t - 1] starts as dL/dr_t from the outputs (0 before the last n_out steps) and
        # becomes g * dL/dh_t, t = 1 .. T
        errors = torch.empty_like(rates[1:])
        n_silent = T - len(grad_rates)
        errors[:n_silent].zero_()
        errors[n_silent:].copy_(grad_rates)
        e = errors.unbind(0)
        to_state(e[T - 1], T, grad_h, weight=1.0)
        for t in range(T - 1, -1, -1):
            if gates is not None:
                e[t].mul_(gates)
            if t == 0:
                break
            # dL/dh_t = (1 - a) e_t + (1 - r_t^2) * (dL/dr_t + a e_t (W + U V^T))
            to_state(through_weights(e[t], into=e[t - 1]), t, e[t])
        grad_h0 = None
        if needed[0]:
            grad_h0 = to_state(through_weights(e[0]), 0, e[0])
            if gates is not None:
                grad_h0.mul_(gates)
        presynaptic = rates[:-1]  # r_t, (T, B, N)
        grad_W = torch.mm(errors.flatten(0, 1).T, presynaptic.flatten(0, 1)).mul_(a) if needed[1] else None
        grad_prep = errors[:n_prep].sum(0).mul_(a) if needed[2] else None
        grad_go = errors[n_prep:].sum(0).mul_(a) if needed[3] else None
        grad_U = grad_V = None
        if U is not None:  # per row b: dU_b = a sum_t e_t (r_t^T V_b), dV_b = a sum_t r_t (e_t^T U_b)
            errors_b, presynaptic_b = errors.transpose(0, 1), presynaptic.transpose(0, 1)  # (B, T, N)
            if needed[4]:
                grad_U = torch.bmm(errors_b.transpose(1, 2), torch.bmm(presynaptic_b, V)).mul_(a)
            if needed[5]:
                grad_V = torch.bmm(presynaptic_b.transpose(1, 2), torch.bmm(errors_b, U)).mul_(a)
        return grad_h0, grad_W, grad_prep, grad_go, grad_U, grad_V, None, None, None, None, None, None, None, None


class RateRNN(nn.Module):
    """W (N, N), W_in (N, K + 1): K cue columns then the go column, b (N,), W_out (d_out, N);
    ``alpha`` = dt / tau; W drawn by ``initialisation.recurrent_weights`` (``init``)."""

    def __init__(self, n_hidden: int, n_motifs: int, d_out: int, gain: float, alpha: float, generator: torch.Generator,
                 init: str = "gaussian"):
        super().__init__()
        self.n_motifs = n_motifs
        self.alpha = alpha
        n = n_hidden
        self.W = nn.Parameter(recurrent_weights(init, n, gain, generator))
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

    def run(self, h: torch.Tensor, cue: torch.Tensor, n_prep: int, n_steps: int, *args: Any, **kwargs: Any
            ) -> tuple[torch.Tensor, torch.Tensor]:
        """The output of the production (B, n_steps, d_out) and h at the end (B, N); the further
        arguments are those of ``rates``."""
        rates, h = self.rates(h, cue, n_prep, n_steps, *args, production_only=True, **kwargs)
        return (rates @ self.W_out.T).transpose(0, 1).contiguous(), h

    def rates(
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
        production_only: bool = False,
        input_noise: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The dynamics for given input vectors ``cue`` (B, N); the go input is W_in's last column.
        Returns the rates after every step, preparation included (n_prep + n_steps, B, N), or
        after the production's steps alone (n_steps, B, N) if ``production_only``, and h at the
        end (B, N).

        ``gates`` (B, N), if given, multiplies the state at the start and after every step
        (units gated to 0 are silent: their rate is 0). ``low_rank`` = (U, V), each (B, N, r),
        adds U_b V_b^T to row b's recurrent weights; each (N, r), it adds U V^T to every row's.
        ``prep_cue`` (B, N), if given, replaces ``cue`` during the preparatory period.
        ``input_noise`` (n_prep + n_steps, B, N), if given, is added to the units' input at every
        step (inside the bracket of the Euler step: it is scaled by alpha), with no gradient."""
        n_total = n_prep + n_steps
        n_out = n_steps if production_only else n_total
        if n_total == 0:
            return h.new_zeros(0, *h.shape), h if gates is None else h * gates
        prep_drive = (cue if prep_cue is None else prep_cue) + self.b
        go_drive = cue + self.b + self.W_in[:, -1]
        W, U, V = self.W, None, None
        if low_rank is not None and low_rank[0].ndim == 2:
            W = W + low_rank[0] @ low_rank[1].T
        elif low_rank is not None:
            U, V = low_rank
        return _EulerRates.apply(
            h, W, prep_drive, go_drive, U, V, gates, self.alpha, n_prep, n_total, n_out, noise_std, generator,
            input_noise,
        )


def plateau_window_setting(default: int) -> int:
    """The ``plateau_window`` hyperparameter with its default: 100, but 0 (no plateau test) for
    ``avalanche_ewc``, whose importances shrink as a motif is fit better."""
    return hyperparameter(default, "plateau test: iterations in its window, in 4 blocks (0: no plateau test)", low=0)


def plateau_gain_setting(default: float) -> float:
    """The ``plateau_gain`` hyperparameter with its default: 0.1 for plain training, 0.05 where a
    penalty or constraint holds the training nmse up (``HELD_UP_PLATEAU_GAIN``)."""
    return hyperparameter(
        default, "plateau test: least relative drop of the best block median over a window", low=0, high=1
    )


def plateau_nmse_setting(default: float) -> float:
    """The ``plateau_nmse`` hyperparameter with its default: 0.1 for plain training, whose stall
    above it may yet end, and 0 (at any nmse) where a penalty or constraint holds the training
    nmse up for good (``ewc``, ``context_gating``, ``orthogonal``, ``owm``, ``avalanche_si``)."""
    return hyperparameter(
        default, "plateau test: only once the training nmse is at most this (0: at any nmse)", low=0
    )


HELD_UP_PLATEAU_GAIN = 0.05  # plateau_gain where a penalty or constraint holds the training nmse up


@dataclass(frozen=True)
class RateRNNHyperparams(Settings):
    n_hidden: int = hyperparameter(128, "hidden units N", low=1)
    gain: float = hyperparameter(1.2, "spectral scale of the initial W (gaussian: std gain / sqrt(N); orthogonal: "
                                 "|eigenvalues|; qpta: unused)", low=0)
    init: str = hyperparameter("gaussian", "initial W: gaussian, orthogonal, or qpta (Park et al. 2023: rotation "
                               "blocks just past a Hopf bifurcation; see baselines/initialisation.py)",
                               choices=INITIALISATIONS)
    lr: float = hyperparameter(3e-3, "Adam learning rate", low=0)
    batch_size: int = hyperparameter(16, "trials per motif in each iteration", low=1)
    max_iterations: int = hyperparameter(1500, "Adam steps per learned motif at most", low=0)
    fit_nmse: float = hyperparameter(0.01, "early stopping: training nmse at which a motif counts as fit", low=0)
    patience: int = hyperparameter(5, "early stopping: iterations averaged for the fit test", low=1)
    plateau_window: int = plateau_window_setting(100)
    plateau_gain: float = plateau_gain_setting(0.1)
    plateau_nmse: float = plateau_nmse_setting(0.1)
    lr_decay: float = hyperparameter(0.3, "on a plateau the learning rate is multiplied by this", low=0, high=1)
    lr_decays: int = hyperparameter(2, "plateaus met by lowering the learning rate; the next one stops training", low=0)
    init_state_std: float = hyperparameter(1.0, "largest std of the random initial states", low=0)
    grad_clip: float = hyperparameter(1.0, "gradient norm clip (0: none)", low=0)


@dataclass
class TrainingSchedule:
    """When the training of one motif (or one set of motifs) lowers its learning rate and when it
    stops, fed one iteration's training nmse at a time (``add``).

    The plateau test: every ``plateau_window // 4`` iterations (a block) the median of the block
    is taken (a median, so that a loss spike does not count); training is on a plateau when the
    best block of the last ``plateau_window`` iterations is not ``plateau_gain`` (a fraction)
    below the best block before them, and the last block's median is at most ``plateau_nmse``
    (a stall at a higher nmse, with the motif not yet produced, may yet end: it is no plateau;
    ``plateau_nmse`` 0 sets no such limit).
    On a plateau the learning rate is multiplied by
    ``lr_decay`` (``lr_scale`` is the factor so far) and the test starts afresh, ``lr_decays``
    times; the plateau after that stops training. It stops, with the reason in ``reason``, at
    the first of:

    - ``"fit"``: the mean of the last ``patience`` values is at most ``fit_nmse``;
    - ``"plateau"``: a plateau with no decay left (``plateau_window`` 0: no plateau test);
    - ``"cap"``: ``max_iterations`` values (at once if it is 0)."""

    fit_nmse: float
    patience: int
    plateau_window: int
    plateau_gain: float
    plateau_nmse: float
    lr_decay: float
    lr_decays: int
    max_iterations: int
    losses: list[float] = field(default_factory=list)
    blocks: list[float] = field(default_factory=list)  # block medians since the last decay
    decays: int = 0  # how many times the learning rate was lowered so far
    reason: str | None = None

    def __post_init__(self) -> None:
        if self.max_iterations == 0:
            self.reason = "cap"

    @classmethod
    def from_hyperparams(cls, hp: RateRNNHyperparams, max_iterations: int | None = None) -> TrainingSchedule:
        """The schedule of ``hp``, with its ``max_iterations`` unless one is given."""
        cap = hp.max_iterations if max_iterations is None else max_iterations
        return cls(hp.fit_nmse, hp.patience, hp.plateau_window, hp.plateau_gain, hp.plateau_nmse, hp.lr_decay,
                   hp.lr_decays, cap)

    @property
    def done(self) -> bool:
        return self.reason is not None

    @property
    def train_nmse(self) -> float | None:
        """The mean of the last ``patience`` values (None before the first)."""
        recent = self.losses[-self.patience :]
        return float(np.mean(recent)) if recent else None

    @property
    def lr_scale(self) -> float:
        """The factor of the learning rate now."""
        return self.lr_decay**self.decays

    def add(self, loss: float) -> None:
        """Records one iteration's training nmse: it may stop training or lower ``lr_scale``."""
        self.losses.append(loss)
        if len(self.losses) >= self.patience and self.train_nmse <= self.fit_nmse:
            self.reason = "fit"
        elif self._plateau():
            if self.decays < self.lr_decays:
                self.decays += 1
                self.blocks = []
            else:
                self.reason = "plateau"
        if not self.done and len(self.losses) >= self.max_iterations:
            self.reason = "cap"

    def _plateau(self) -> bool:
        """At the end of a block, records its median in ``blocks``; whether training is now on a
        plateau (see the class docstring). False between block ends and with the test off."""
        block = self.plateau_window // 4
        if block == 0 or len(self.losses) % block:
            return False
        self.blocks.append(float(np.median(self.losses[-block:])))
        before, last = self.blocks[:-4], self.blocks[-4:]
        stalled = bool(before) and min(last) > (1 - self.plateau_gain) * min(before)
        return stalled and (self.plateau_nmse == 0 or self.blocks[-1] <= self.plateau_nmse)

    def summary(self) -> dict[str, Any]:
        """What the training log records: iterations, final training nmse, learning-rate decays
        and why it stopped (None: it was stopped otherwise, e.g. by Avalanche's epochs)."""
        return {"iterations": len(self.losses), "train_nmse": self.train_nmse, "lr_decays": self.decays,
                "stopped": self.reason}


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
        return RateRNN(self.hp.n_hidden, n_cues, info.d_out, self.hp.gain, info.dt / info.tau, self.generator,
                       self.hp.init)

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
        """Trains on ``motifs`` (all in every batch) with ``training_gradients`` and the
        ``make_optimizer`` optimiser (Adam on BPTT here), each group's learning rate lowered and
        training's end decided by the ``TrainingSchedule`` (``max_iterations`` and ``lr`` default to
        the hyperparameters)."""
        hp = self.hp
        trainable = self.trainable_parameters(motifs)
        ids = torch.arange(len(motifs), device=self.device).repeat_interleave(hp.batch_size)
        motif_ids = torch.tensor([m.motif_id for m in motifs], device=self.device)[ids]
        n_steps = max(m.n_steps for m in motifs)
        target, mask = _padded_targets(motifs, n_steps, self.device)
        target, weights = target[ids], nmse_weights(target, mask)[ids]
        optimizer = self.make_optimizer(trainable, hp.lr if lr is None else lr)
        base_lrs = [group["lr"] for group in optimizer.param_groups]
        schedule = TrainingSchedule.from_hyperparams(hp, max_iterations)
        while not schedule.done:
            optimizer.zero_grad()
            loss = self.training_gradients(motif_ids, target, weights)
            if hp.grad_clip > 0:
                nn.utils.clip_grad_norm_(trainable, hp.grad_clip)
            self.take_step(optimizer)
            schedule.add(loss)
            for group, base_lr in zip(optimizer.param_groups, base_lrs):
                group["lr"] = base_lr * schedule.lr_scale
        self.training_log.append(schedule.summary())

    def make_optimizer(self, trainable: list[nn.Parameter], lr: float) -> torch.optim.Optimizer:
        """The optimiser that ``fit`` steps, at learning rate ``lr``: Adam here."""
        return torch.optim.Adam(trainable, lr=lr)

    def training_gradients(self, motif_ids: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> float:
        """One iteration: runs its trials for ``motif_ids`` (B,) against ``target`` (B, T, d_out)
        with ``nmse_weights`` ``weights``, sets the ``.grad`` of what ``fit`` trains, and returns
        the training nmse (mean over trials). Here: BPTT by autograd of the nmse, the method's own
        loss term and its penalty."""
        y, auxiliary = self.training_trials(motif_ids, target.shape[1])
        loss = nmse_loss(y, target, weights)
        if auxiliary is not None:
            loss = loss + auxiliary
        penalty = self.penalty()
        (loss if penalty is None else loss + penalty).backward()
        return loss.item()

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
    def damage(self, fraction: float, generator: torch.Generator, mode: str = "random") -> None:
        """Remove (zero) ``fraction`` of the recurrent weights W, chosen by ``mode`` (``damaged_weights``)."""
        removed = damaged_weights(self.model.W.detach().cpu(), fraction, mode, generator)
        self.model.W.masked_fill_(removed.to(self.device), 0.0)

    def recurrent_matrix(self) -> np.ndarray:
        """W (N, N): tau dh/dt = -h + W tanh(h) + ..."""
        return self.model.W.detach().cpu().double().numpy()

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.model.parameters() if p.requires_grad)


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Sets every parameter group's learning rate (what the training schedule changes)."""
    for group in optimizer.param_groups:
        group["lr"] = lr


def _padded_targets(motifs: Sequence[Motif], n_steps: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Targets zero-padded to n_steps and their masks: (M, n_steps, d_out) each."""
    d_out = motifs[0].target.shape[1]
    target = torch.zeros(len(motifs), n_steps, d_out)
    mask = torch.zeros(len(motifs), n_steps, d_out)
    for i, m in enumerate(motifs):
        target[i, : m.n_steps] = torch.from_numpy(m.target.copy())
        mask[i, : m.n_steps] = 1.0
    return target.to(device), mask.to(device)
