"""Avalanche's strategies training the shared rate RNN, scored by motifbench's evaluator.

Avalanche: Lomonaco et al. 2021, CVPR Workshops (CLVision), "Avalanche: an end-to-end library
for continual learning" (avalanche-lib 0.6.0). One adapter, ``AvalancheStrategy``, runs an
Avalanche ``SupervisedTemplate`` strategy on the same ``RateRNN`` that motifbench's own
baselines train (``rate_rnn.py``); the subclasses differ only in which Avalanche strategy class
they build and its arguments:

==================  ==========================================  ==================================
method              Avalanche class                             its arguments here
==================  ==========================================  ==================================
avalanche_naive     ``training.Naive``                          (none)
avalanche_ewc       ``training.EWC`` (``EWCPlugin``)            ewc_lambda, mode=ewc_mode,
                                                                decay_factor (online mode only)
avalanche_si        ``SupervisedTemplate`` + a                  si_lambda, eps=si_eps
                    ``SynapticIntelligencePlugin`` subclass
                    that copies its weight snapshots (what
                    ``training.SynapticIntelligence`` builds,
                    but it works on CPU; see ``AvalancheSI``)
avalanche_lwf       ``training.LwF`` (``LwFPlugin``)            alpha=lwf_alpha,
                                                                temperature=lwf_temperature
avalanche_replay    ``training.Replay`` (``ReplayPlugin``)      mem_size
==================  ==========================================  ==================================

Every strategy gets: ``model`` = a wrapper whose ``forward(x)`` takes a mini-batch of motif ids,
draws the trials' random initial states with the method's ``random_states`` (seeded generator),
runs the preparatory period (``info.n_prep`` steps, cued) and returns the production output
(B, T, d_out); ``criterion`` = ``NMSELoss`` (mean nmse, the loss of ``RateRNNMethod.fit``);
``optimizer`` = ``Adam(lr)``, created once (Avalanche keeps its state across experiences);
``train_mb_size`` = batch_size, ``train_epochs``, ``device``, ``evaluator`` = a silent
``EvaluationPlugin()`` (no metrics, no loggers), ``eval_every=-1``; and one extra plugin that
applies motifbench's training rules inside Avalanche's loop: gradient-norm clipping
(``grad_clip``, after backward, so it also clips the strategy's penalty gradient, as ``fit``
does) and ``fit``'s ``TrainingSchedule``, fed the training nmse without the strategy's penalty:
it lowers the optimizer's learning rate on plateaus (back to ``lr`` at each experience) and
stops an experience once fit, on the last plateau or after ``max_iterations``. Without them an
experience is ``train_epochs`` passes over its ``trials_per_motif`` trials, i.e.
``train_epochs * ceil(trials_per_motif / batch_size)`` iterations.

``learn(motif k)`` gives the strategy experience k, and only it, of an Avalanche benchmark built
by ``motifbench.avalanche_bridge`` from the motifs seen so far (their datasets are kept only so
that the experience has index k, which Avalanche's replay buffer groups by; like every
Avalanche experience it links back to its stream through ``origin_stream``, which none of these
strategies reads). The experience's trials are alike; each draws its own random initial state.
The mini-batch that a forward pass sees twice (LwF's teacher runs on ``strategy.mb_x`` after
the student did) gets the same initial states both times, and a deep copy of the wrapper (LwF's
teacher) shares the state source instead of copying the method.

Determinism: the initial states come from the method's generator (seeded in ``setup``); the
Avalanche data loader's shuffling and the replay buffer's sampling use torch's global random
generator, which ``learn`` seeds from (seed, k) inside ``torch.random.fork_rng`` (CPU only) and
restores afterwards, as it does Python's and NumPy's. So a seed fixes R exactly.

``import avalanche`` takes seconds: it happens in ``setup``, never when this module is imported
(``motifbench ls methods`` imports it).

Hyperparameters: those of ``RateRNNHyperparams`` (``rate_rnn.py``; ``avalanche_si``, whose
penalty holds the training nmse up, has the plateau test on at any nmse, ``plateau_nmse`` 0 and
``plateau_gain`` 0.05) plus ``trials_per_motif``, ``train_epochs`` and each strategy's own (see
its ``Hyperparams``). ``avalanche_ewc`` has the plateau test off: its importances are squared
batch gradients, which shrink as a motif is fit better, so with the test's learning-rate decays
it fit each motif of steps10-v1 better (plasticity 0.955 against 0.884, seeds 0-2) but forgot far more
(final_r2 -0.32 against 0.41); stopping at the first plateau without them
(``lr_decays`` 0) cut its iterations by two thirds but stopped too early (plasticity 0.70).
"""

from __future__ import annotations

import contextlib
import math
import random
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from motifbench.avalanche_bridge import NMSELoss, benchmark_from_motif_datasets, motif_dataset, quiet
from motifbench.baselines.rate_rnn import (
    HELD_UP_PLATEAU_GAIN,
    RateRNNHyperparams,
    RateRNNMethod,
    TrainingSchedule,
    plateau_gain_setting,
    plateau_nmse_setting,
    plateau_window_setting,
    set_learning_rate,
)
from motifbench.method import MethodCard, StreamInfo, hyperparameter
from motifbench.streams import Motif

AVALANCHE = "Lomonaco et al. 2021, CVPR Workshops, Avalanche: an end-to-end library for continual learning"


@dataclass(frozen=True)
class AvalancheHyperparams(RateRNNHyperparams):
    trials_per_motif: int = hyperparameter(
        160, "trials in each motif's Avalanche experience (alike but for their random initial states)", low=1
    )
    train_epochs: int = hyperparameter(
        150,
        "Avalanche epochs per motif (passes over trials_per_motif; fit's training schedule stops earlier)",
        low=1,
    )


class _StateSource:
    """Draws the training trials' initial states with the method's ``random_states``.

    A second forward pass of the same mini-batch tensor gets the same states (LwF's teacher runs
    on ``strategy.mb_x`` right after the student). Deep copies share it (``copy.deepcopy`` of the
    wrapper, as LwF makes, must not copy the method and its generator)."""

    def __init__(self, method: RateRNNMethod):
        self.method = method
        self.clear()

    def clear(self) -> None:
        self._x: torch.Tensor | None = None
        self._h0: torch.Tensor | None = None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if x is not self._x or self._h0 is None:
            self._x, self._h0 = x, self.method.random_states(len(x))
        return self._h0

    def __deepcopy__(self, memo: dict) -> _StateSource:
        return self


class ProductionModel(nn.Module):
    """What Avalanche trains: ``forward(ids)`` (B,) -> production output (B, n_steps, d_out) of
    ``rnn`` (the method's RateRNN, shared, not copied) from random initial states after ``n_prep``
    preparatory steps."""

    def __init__(self, rnn: nn.Module, states: _StateSource, n_prep: int, n_steps: int):
        super().__init__()
        self.rnn = rnn
        self.states = states
        self.n_prep, self.n_steps = n_prep, n_steps

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        h0 = self.states(ids)  # keyed by the mini-batch tensor itself
        y, _ = self.rnn(h0, ids.reshape(-1), self.n_prep, self.n_steps)
        return y


@contextlib.contextmanager
def _seeded_global_rngs(seed: int) -> Iterator[None]:
    """Seeds torch's CPU, Python's and NumPy's global generators; restores them on exit."""
    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(seed)
            random.seed(seed)
            np.random.seed(seed % 2**32)
            yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)


def _training_rules_plugin(method: AvalancheStrategy, criterion: NMSELoss) -> Any:
    """An Avalanche plugin applying motifbench's training rules (see the module docstring) and
    logging each experience's iterations, final training nmse and mean penalty."""
    with quiet():
        from avalanche.training.plugins import SupervisedPlugin

    hp = method.hp

    class TrainingRules(SupervisedPlugin):
        def before_training_exp(self, strategy: Any, **kwargs: Any) -> None:
            self.schedule = TrainingSchedule.from_hyperparams(hp)
            self.penalties: list[float] = []
            set_learning_rate(strategy.optimizer, hp.lr)
            if self.schedule.done:
                strategy.stop_training()

        def after_backward(self, strategy: Any, **kwargs: Any) -> None:
            if hp.grad_clip > 0:
                nn.utils.clip_grad_norm_(strategy.model.parameters(), hp.grad_clip)

        def after_training_iteration(self, strategy: Any, **kwargs: Any) -> None:
            data_loss = criterion.last
            self.schedule.add(data_loss)
            self.penalties.append(float(strategy.loss.detach().sum()) - data_loss)
            set_learning_rate(strategy.optimizer, hp.lr * self.schedule.lr_scale)
            if self.schedule.done:
                strategy.stop_training()

        def after_training_exp(self, strategy: Any, **kwargs: Any) -> None:
            mean_penalty = float(np.mean(self.penalties)) if self.penalties else None
            method.training_log.append({**self.schedule.summary(), "mean_penalty": mean_penalty})

    return TrainingRules()


class AvalancheStrategy(RateRNNMethod):
    """Runs an Avalanche strategy (``make_strategy``) on the shared RateRNN; see the module docstring."""

    Hyperparams: ClassVar[type] = AvalancheHyperparams

    def setup(self, info: StreamInfo, seed: int, device: str = "cpu") -> None:
        super().setup(info, seed, device)
        self.seed = seed
        self.n_steps = max(info.motif_steps)
        self.datasets: list[Any] = []  # the seen motifs' experiences: only to give experience k its index
        self.warnings: list[str] = []
        self.states = _StateSource(self)
        self.criterion = NMSELoss()
        self.wrapper = ProductionModel(self.model, self.states, info.n_prep, self.n_steps)
        with quiet():
            import avalanche
            import avalanche.training
            from avalanche.training.plugins import EvaluationPlugin

            self.avalanche_version = avalanche.__version__
            self.strategy = self.make_strategy(
                avalanche.training,
                model=self.wrapper,
                optimizer=torch.optim.Adam(self.wrapper.parameters(), lr=self.hp.lr),
                criterion=self.criterion,
                train_mb_size=self.hp.batch_size,
                train_epochs=self.hp.train_epochs,
                eval_mb_size=self.hp.batch_size,
                device=self.device,
                plugins=[_training_rules_plugin(self, self.criterion)],
                evaluator=EvaluationPlugin(),
                eval_every=-1,
            )

    def make_strategy(self, training: Any, **common: Any) -> Any:
        """The Avalanche strategy: ``training`` is the ``avalanche.training`` module, ``common`` the
        arguments every strategy gets (model, optimizer, criterion, sizes, device, plugins, ...)."""
        raise NotImplementedError

    def strategy_arguments(self) -> dict[str, Any]:
        """The strategy's own arguments as passed to its Avalanche class (recorded in diagnostics)."""
        return {}

    def learn(self, motif: Motif) -> None:
        k = len(self.datasets)
        if motif.motif_id != k:
            raise ValueError(f"motif ids must follow the stream order: expected {k}, got {motif.motif_id}")
        self.datasets.append(motif_dataset(motif, self.hp.trials_per_motif, self.n_steps))
        experience = benchmark_from_motif_datasets(self.datasets).train_stream[k]
        with warnings.catch_warnings(record=True) as caught, _seeded_global_rngs(self.seed * 1_000_003 + k):
            warnings.simplefilter("always")
            self.strategy.train(experience, eval_streams=[], num_workers=0)
        self.states.clear()
        for warning in caught:
            text = f"{warning.category.__name__}: {warning.message}"[:300]
            if text not in self.warnings:
                self.warnings.append(text)
        self.after_experience(k)

    def after_experience(self, k: int) -> None:
        """Called after the strategy trained on experience k (diagnostics)."""

    def diagnostics(self) -> dict[str, Any]:
        return {
            **super().diagnostics(),
            "avalanche": {
                "version": self.avalanche_version,
                "strategy": type(self.strategy).__name__,
                "arguments": self.strategy_arguments(),
                "iterations_per_epoch": math.ceil(self.hp.trials_per_motif / self.hp.batch_size),
            },
            "warnings": self.warnings,
        }


def _plugin(strategy: Any, class_name: str) -> Any:
    """The strategy's plugin whose class name contains ``class_name`` (subclasses included)."""
    return next(p for p in strategy.plugins if class_name in type(p).__name__)


def _short(name: str) -> str:
    return name.removeprefix("rnn.")


# ------------------------------------------------------------------------------------ naive


class AvalancheNaive(AvalancheStrategy):
    """Avalanche's ``Naive`` strategy: plain fine-tuning on each new motif (the forgetting
    reference). It trains the first motif exactly as ``finetune`` does (same initial states,
    Adam steps, clipping and stopping, when trials_per_motif is a multiple of batch_size); later
    motifs differ only in that Avalanche keeps Adam's state across experiences."""

    card = MethodCard(
        name="avalanche_naive",
        version="1",
        citation=f"fine-tuning (Kirkpatrick et al. 2017, PNAS 114:3521, baseline); Avalanche Naive: {AVALANCHE}",
    )

    def make_strategy(self, training: Any, **common: Any) -> Any:
        return training.Naive(**common)


# -------------------------------------------------------------------------------------- EWC


@dataclass(frozen=True)
class AvalancheEWCHyperparams(AvalancheHyperparams):
    ewc_lambda: float = hyperparameter(
        1000.0, "Avalanche's ewc_lambda: the penalty is ewc_lambda * sum F (theta - theta*)^2 (no 1/2)", low=0
    )
    ewc_mode: str = hyperparameter(
        "separate", "Avalanche's mode: 'separate' (one penalty per past motif) or 'online' (one, decayed)",
        choices=("separate", "online"),
    )
    decay_factor: float = hyperparameter(1.0, "online mode: F <- decay_factor F_old + F_new", low=0, high=1)
    plateau_window: int = plateau_window_setting(0)


class AvalancheEWC(AvalancheStrategy):
    """Avalanche's ``EWC`` strategy (``EWCPlugin``; Kirkpatrick et al. 2017).

    After each motif the plugin computes its importances with one extra pass over the motif's
    trials in mini-batches of ``batch_size``: F = mean over mini-batches of the squared gradient of
    the mini-batch-mean loss (our nmse), the "empirical Fisher" at the batch level. On a motif
    that is fit well the gradient of the mean loss is near zero, so F is near zero too and the
    penalty protects little (motifbench's ``ewc`` uses a per-trial Gauss-Newton Fisher for this
    reason). ``diagnostics()["fisher"]`` holds, per motif, ``mean_F_<param>``: the mean of the
    importance that the plugin stored for that experience (mode 'separate': that motif's own F,
    comparable with ``ewc``'s ``diagnostics()["fisher"]``; mode 'online': the decayed sum).
    Measured on smooth10-v1 seed 0 (defaults): after motif 0, where the weights are bit-identical
    to ``ewc``'s (both train it exactly as ``fit`` does), mean F of W is 3.1e-6 here against
    7.9e-3 for ``ewc``'s Gauss-Newton Fisher (2500 times smaller); over the ten motifs it ranges
    3e-6 to 1.5e-3 (mean 4.6e-4) against 7.9e-3 to 3.0e-2 (mean 1.9e-2), and for W_out 0.025
    against 2.1 on average. Note also the penalty's missing 1/2: ewc_lambda = 1000 here weighs F
    20 times more than ``ewc``'s default lambda = 100 does."""

    card = MethodCard(
        name="avalanche_ewc",
        version="1",
        citation=f"Kirkpatrick et al. 2017, PNAS 114:3521 (EWC); Avalanche EWC: {AVALANCHE}",
    )
    Hyperparams = AvalancheEWCHyperparams

    def setup(self, info: StreamInfo, seed: int, device: str = "cpu") -> None:
        self.fisher_log: list[dict[str, float]] = []
        super().setup(info, seed, device)

    def strategy_arguments(self) -> dict[str, Any]:
        decay_factor = self.hp.decay_factor if self.hp.ewc_mode == "online" else None
        return {"ewc_lambda": self.hp.ewc_lambda, "mode": self.hp.ewc_mode, "decay_factor": decay_factor}

    def make_strategy(self, training: Any, **common: Any) -> Any:
        return training.EWC(**self.strategy_arguments(), **common)

    def after_experience(self, k: int) -> None:
        importances = _plugin(self.strategy, "EWCPlugin").importances[k]
        self.fisher_log.append({f"mean_F_{_short(n)}": float(imp.data.mean()) for n, imp in importances.items()})

    def diagnostics(self) -> dict[str, Any]:
        return {**super().diagnostics(), "fisher": self.fisher_log}


# --------------------------------------------------------------------------------------- SI


@dataclass(frozen=True)
class AvalancheSIHyperparams(AvalancheHyperparams):
    si_lambda: float = hyperparameter(
        1000.0, "Avalanche's si_lambda: the penalty is (si_lambda / 2) sum Omega (theta - theta*)^2", low=0
    )
    si_eps: float = hyperparameter(1e-7, "Avalanche's eps: damping of Omega = -path / (delta theta^2 + eps)", low=0)
    si_copy_snapshots: bool = hyperparameter(
        True, "copy the plugin's weight snapshots (avalanche 0.6.0 on CPU aliases them: False reproduces that)"
    )
    plateau_gain: float = plateau_gain_setting(HELD_UP_PLATEAU_GAIN)
    plateau_nmse: float = plateau_nmse_setting(0.0)


def _copying_si_plugin(si_lambda: float, eps: float) -> Any:
    """Avalanche's ``SynapticIntelligencePlugin`` whose weight snapshots are copies.

    In avalanche 0.6.0, ``SynapticIntelligencePlugin.extract_weights`` stores
    ``param.detach().cpu().flatten()``: on CPU that is a view of the live weights, so the
    snapshot before each step (``old_theta``) and the anchor (``ewc_data[0]``) follow the weights:
    the path integral grad * (theta_new - theta_old) is 0, so Omega is 0, and the penalty
    (theta - anchor)^2 is 0 as well. On CUDA ``.cpu()`` copies and the plugin works. This
    subclass clones the two snapshots right after the plugin takes them; nothing else changes."""
    with quiet():
        from avalanche.training.plugins import SynapticIntelligencePlugin

    class CopyingSynapticIntelligencePlugin(SynapticIntelligencePlugin):
        def before_training_exp(self, strategy: Any, **kwargs: Any) -> None:
            super().before_training_exp(strategy, **kwargs)
            for anchor in self.ewc_data[0].values():
                anchor.data = anchor.data.clone()

        def before_training_iteration(self, strategy: Any, **kwargs: Any) -> None:
            super().before_training_iteration(strategy, **kwargs)
            for old in self.syn_data["old_theta"].values():
                old.data = old.data.clone()

    return CopyingSynapticIntelligencePlugin(si_lambda=si_lambda, eps=eps)


class AvalancheSI(AvalancheStrategy):
    """Avalanche's synaptic intelligence (Zenke, Poole & Ganguli 2017): a ``SupervisedTemplate``
    with its ``SynapticIntelligencePlugin`` (exactly what ``training.SynapticIntelligence``
    builds), the plugin's weight snapshots copied (``si_copy_snapshots``; see
    ``_copying_si_plugin``: in avalanche 0.6.0 on CPU they alias the weights and SI is then
    exactly Naive).

    Per iteration the plugin accumulates grad * (theta_new - theta_old) (the gradient after the
    clip, penalty included); after each motif, Omega += -path / ((theta - theta_start)^2 + eps),
    then Avalanche clamps Omega at most 0.001 (hard-coded; Omega may be negative). The penalty
    (si_lambda / 2) sum Omega (theta - theta*)^2 anchors at the weights after the last motif.
    ``diagnostics()["omega"]`` holds, per motif, ``mean_Omega_<param>`` and the fraction of
    weights at the 0.001 cap.

    On our task the cap decides everything: with eps = 1e-7 the raw Omega is far above 0.001 for
    nearly every weight that moved, so Omega = 0.001 almost uniformly (92 % of the weights after
    motif 0 of smooth10-v1 seed 0, 99.9 % after motif 9; the rest are the cue columns of motifs
    not yet learned) and the penalty is a plain L2 pull to the last weights, si_lambda * 0.0005 *
    |theta - theta*|^2. The path integral also includes the penalty's own gradient, so it can
    drive Omega negative (seen with lr 1e-2 and N = 24), which the one-sided clamp keeps."""

    card = MethodCard(
        name="avalanche_si",
        version="1",
        citation="Zenke, Poole & Ganguli 2017, ICML (synaptic intelligence); "
        f"Avalanche SynapticIntelligence: {AVALANCHE}",
    )
    Hyperparams = AvalancheSIHyperparams

    def setup(self, info: StreamInfo, seed: int, device: str = "cpu") -> None:
        self.omega_log: list[dict[str, float]] = []
        super().setup(info, seed, device)

    def strategy_arguments(self) -> dict[str, Any]:
        return {"si_lambda": self.hp.si_lambda, "eps": self.hp.si_eps, "copy_snapshots": self.hp.si_copy_snapshots}

    def make_strategy(self, training: Any, **common: Any) -> Any:
        if not self.hp.si_copy_snapshots:
            return training.SynapticIntelligence(si_lambda=self.hp.si_lambda, eps=self.hp.si_eps, **common)
        from avalanche.training.templates import SupervisedTemplate

        # what training.SynapticIntelligence does, with the copying plugin instead of the stock one
        common["plugins"] = [*common["plugins"], _copying_si_plugin(self.hp.si_lambda, self.hp.si_eps)]
        return SupervisedTemplate(**common)

    def after_experience(self, k: int) -> None:
        omega = _plugin(self.strategy, "SynapticIntelligencePlugin").ewc_data[1]
        entry = {f"mean_Omega_{_short(n)}": float(o.data.mean()) for n, o in omega.items()}
        values = torch.cat([o.data.flatten() for o in omega.values()])
        entry["fraction_at_cap"] = float((values >= 0.001).float().mean())
        self.omega_log.append(entry)

    def diagnostics(self) -> dict[str, Any]:
        return {**super().diagnostics(), "omega": self.omega_log}


# -------------------------------------------------------------------------------------- LwF


@dataclass(frozen=True)
class AvalancheLwFHyperparams(AvalancheHyperparams):
    lwf_alpha: float = hyperparameter(1.0, "Avalanche's alpha: weight of the distillation penalty", low=0)
    lwf_temperature: float = hyperparameter(2.0, "Avalanche's temperature of the distillation soft-max", low=0)


class AvalancheLwF(AvalancheStrategy):
    """Avalanche's ``LwF`` strategy (``LwFPlugin``; Li & Hoiem 2017), which on our outputs adds a
    penalty that is exactly zero: avalanche_lwf trains exactly as avalanche_naive does.

    What the installed version (0.6.0) computes: after each experience it keeps a copy of the
    model (the teacher) and records, per task label, the "classes seen": the unique ``targets``
    of the experience's dataset (for us the motif id; our task label is the motif id too). In
    training, for a model that is not a ``MultiTaskModule``, it distils only task 0's entry:
    KL(softmax(teacher[:, au] / T) || softmax(student[:, au] / T)) over dimension 1, ``au`` being
    task 0's classes = {0}. On a (B, T, d_out) output, dimension 1 is time, so this picks time
    step 0 alone and takes a soft-max over that single entry: both distributions are 1 and the
    KL is 0, for every batch and motif (``diagnostics()["training"][k]["mean_penalty"]`` records
    0.0). Had all motifs task label 0, ``au`` would be {0, ..., k-1}: a soft-max over the first k
    time steps of the output on the *current* motif's cue, at temperature T, which is no more
    meaningful for a regression output. A regression LwF would distil outputs with an MSE, and
    here on the old motifs' cues rather than the new one (the one readout must change on the new
    cue); Avalanche 0.6.0 has no such option. The teacher gets the same trials (initial states)
    as the student."""

    card = MethodCard(
        name="avalanche_lwf",
        version="1",
        citation=f"Li & Hoiem 2017, IEEE TPAMI 40:2935 (learning without forgetting); Avalanche LwF: {AVALANCHE}",
    )
    Hyperparams = AvalancheLwFHyperparams

    def strategy_arguments(self) -> dict[str, Any]:
        return {"alpha": self.hp.lwf_alpha, "temperature": self.hp.lwf_temperature}

    def make_strategy(self, training: Any, **common: Any) -> Any:
        return training.LwF(**self.strategy_arguments(), **common)


# ----------------------------------------------------------------------------------- replay


@dataclass(frozen=True)
class AvalancheReplayHyperparams(AvalancheHyperparams):
    mem_size: int = hyperparameter(
        200, "Avalanche's mem_size: stored trials, split evenly over the motifs seen (ExperienceBalancedBuffer)", low=1
    )


class AvalancheReplay(AvalancheStrategy):
    """Avalanche's ``Replay`` strategy (``ReplayPlugin`` with its default
    ``ExperienceBalancedBuffer(mem_size, adaptive_size=True)``): after each motif, mem_size / k
    stored trials per seen motif; from the second motif on, every mini-batch is batch_size current
    trials plus batch_size trials drawn from the memory (``ReplayDataLoader``). It stores past
    targets, so it is not a continual learner in motifbench's strict sense."""

    card = MethodCard(
        name="avalanche_replay",
        version="1",
        citation="experience replay (Chaudhry et al. 2019, arXiv:1902.10486, tiny episodic memories); "
        f"Avalanche Replay: {AVALANCHE}",
        stores_past_data=True,
    )
    Hyperparams = AvalancheReplayHyperparams

    def strategy_arguments(self) -> dict[str, Any]:
        return {"mem_size": self.hp.mem_size}

    def make_strategy(self, training: Any, **common: Any) -> Any:
        return training.Replay(**self.strategy_arguments(), **common)
