"""The one evaluator: the only loop that drives a method through a stream and tests it.

For each motif k: ``learn``, then test every learned motif j <= k from ``rest_state`` (R[k, j]),
all in one batch of K rows, the same shape every time.
After the stream: every ordered transition a -> b (a's end state, perturbed, is b's start),
random sequences, robustness curves (process noise, connectivity damage, preparation time),
the probes of state dependence and pause-and-resume, and the disruption probe (noise on the
state half-way through each motif, and the recovery from it). Tests are batched: the K(K-1) x repeats transitions take one ``generate`` call per
distinct motif length (split into chunks of at most ``batch_limit`` rows), never one per pair.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from . import metrics
from .method import (Method, MethodError, Settings, StreamInfo, damage_modes, duration_steps, hyperparameter,
                     relative_noise)
from .streams import PREP_TAU, Stream, after_branch


@dataclass(frozen=True)
class EvalConfig(Settings):
    """How runs are scored; recorded in every record and set with ``--set eval.NAME=VALUE``."""

    theta: float = hyperparameter(
        0.0, "nmse at or below which a motif counts as produced (0: the stream's own theta)", low=0
    )
    relative_cap: float = hyperparameter(
        0.5, "after a transition a motif counts as produced at nmse <= max(theta, min(2 nmse_rest, cap))", low=0
    )
    transition_repeats: int = hyperparameter(3, "perturbed repeats of every ordered pair", low=1)
    transition_noise: float = hyperparameter(
        0.05, "std of the start-state perturbation of a transition, relative to the state's rms", low=0
    )
    n_sequences: int = hyperparameter(20, "random sequences", low=0)
    sequence_length: int = hyperparameter(10, "motifs per random sequence", low=1)
    prep_tau: float = hyperparameter(PREP_TAU, "preparatory period of every test, in tau", low=0)
    noise_levels: tuple[float, ...] = hyperparameter(
        (0.0, 0.01, 0.03, 0.1), "process-noise levels of the noise curve (units of generate's noise_std)", low=0
    )
    damage_fractions: tuple[float, ...] = hyperparameter(
        (0.0, 0.05, 0.1, 0.2), "fractions of recurrent weights removed for the damage curve", low=0, high=1
    )
    prep_sweep_tau: tuple[float, ...] = hyperparameter(
        (0.0, 1.0, 2.0, 5.0, 10.0, 20.0), "preparation times of the transition sweep, in tau", low=0
    )
    disruption_at: float = hyperparameter(
        0.5, "fraction of each motif produced before its state is disrupted", low=0.05, high=0.95
    )
    disruption_strength: float = hyperparameter(
        0.5, "std of the disruption's Gaussian noise, relative to the state's rms (the headline scores)", low=0
    )
    disruption_strengths: tuple[float, ...] = hyperparameter(
        (0.0, 0.25, 0.5, 1.0, 2.0), "disruption strengths of the recovery curve", low=0
    )
    phase_tolerance_tau: float = hyperparameter(
        1.0, "largest time shift, in tau, forgiven in scoring a disrupted motif's rest", low=0
    )
    batch_limit: int = hyperparameter(
        4096, "most rows in one generate call (process-noise draws follow the chunks it makes)", low=1
    )


@dataclass
class Evaluation:
    """What one run measured. K motifs, S sequences of length L, ``repeats`` per pair."""

    R: np.ndarray  # (K, K) r2 of motif j after learning 0..k; NaN above the diagonal
    output_change: np.ndarray  # (K,) max |change| of an old motif's output caused by learning k
    rest_nmse: np.ndarray  # (K,) nmse of each motif from rest after the whole stream
    final_outputs: list[np.ndarray]  # (K,) of (T_k, d_out): each motif produced from rest at the end
    probe_change: np.ndarray  # (K,) see ``metrics.state_dependence``
    resume_change: np.ndarray  # (K,) see ``metrics.resumption_error``
    transition_nmse: np.ndarray  # (K, K, repeats) nmse of b started from a's end state; NaN on a == b
    sequence_ids: np.ndarray  # (S, L)
    sequence_nmse: np.ndarray  # (S, L)
    curves: dict[str, dict[str, list[float]]]  # name -> {"x": [...], "y": [...]}
    timings: dict[str, Any]  # s; "learn" is a list per motif
    parameter_counts: list[int | None]  # (K,) trainable numbers after learning each motif
    diagnostics: dict[str, Any]
    segment_nmse: np.ndarray  # (n,) nmse of every syllable segment of the songs produced from rest at the end
    segment_after_branch: np.ndarray  # (n,) bool: the syllable before it is a branch point
    motif_correlation: np.ndarray  # (K,) per-channel correlation, summed, of each motif from rest at the end
    disruption_trial_r2: np.ndarray  # (K, repeats) r2 of a motif's rest after a disruption (headline strength)
    recovery_trial_tau: np.ndarray  # (K, repeats) tau until it is back within theta
    spectrum: dict[str, Any] | None  # ``metrics.spectrum_summary`` of the recurrent matrix after learning; None: none
    metrics: dict[str, float | bool] = field(default_factory=dict)


def damage_curve(mode: str) -> str:
    """The name of the curve of final_r2 against the fraction removed by damage ``mode``."""
    return "final_r2_vs_damage" if mode == "random" else f"final_r2_vs_damage_{mode}"


def stream_info(stream: Stream, config: EvalConfig) -> StreamInfo:
    """What a method's ``setup`` may know of ``stream`` under ``config``."""
    first = stream.motifs[0]
    return StreamInfo(
        n_motifs=len(stream.motifs),
        d_out=stream.d_out,
        dt=first.dt,
        tau=first.tau,
        motif_steps=tuple(m.n_steps for m in stream.motifs),
        n_prep=duration_steps(config.prep_tau, first.tau, first.dt),
    )


class Evaluator:
    """Runs one method through one stream with one seed under one ``EvalConfig``."""

    def __init__(
        self,
        method: Method,
        stream: Stream,
        seed: int,
        config: EvalConfig = EvalConfig(),
        device: str = "cpu",
        progress: Callable[[str], None] = lambda message: None,
    ):
        self.method, self.stream, self.seed, self.config = method, stream, seed, config
        self.device, self.progress = device, progress
        self.name = method.card.name
        self.info = stream_info(stream, config)
        self.n_prep = self.info.n_prep
        self.targets = [m.target for m in stream.motifs]
        self.theta = config.theta or stream.theta  # the success threshold this run scores with

    def _generator(self, purpose: int) -> torch.Generator:
        """A CPU generator per purpose, so each phase's noise is fixed by the seed alone."""
        return torch.Generator().manual_seed(self.seed * 1_000_003 + purpose)

    def _call(self, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except MethodError:
            raise
        except Exception as error:
            raise MethodError(f"method {self.name}: {what} raised {type(error).__name__}: {error}") from error

    def _rest(self, batch: int) -> torch.Tensor:
        state = self._call("rest_state", self.method.rest_state, batch)
        if not isinstance(state, torch.Tensor) or state.ndim != 2 or state.shape[0] != batch:
            shape = tuple(state.shape) if isinstance(state, torch.Tensor) else type(state).__name__
            raise MethodError(f"method {self.name}: rest_state({batch}) returned {shape}, expected ({batch}, n_state)")
        return state

    def produce(
        self,
        ids: np.ndarray,
        start: torch.Tensor,
        n_prep: int,
        noise_std: float = 0.0,
        generator: torch.Generator | None = None,
        lengths: np.ndarray | None = None,
    ) -> tuple[list[np.ndarray], torch.Tensor]:
        """Row b produces motif ids[b] from start[b]: outputs (one (T_b, d_out) array per row)
        and end states (B, n_state). One generate call per length and chunk. ``lengths`` (B,):
        steps to produce per row, if not each motif's whole length."""
        lengths = np.array(self.info.motif_steps)[ids] if lengths is None else lengths
        outputs: list[np.ndarray] = [np.empty(0)] * len(ids)
        ends = torch.empty_like(start)
        for n_steps in np.unique(lengths):
            rows = np.flatnonzero(lengths == n_steps)
            for chunk in np.array_split(rows, -(-len(rows) // self.config.batch_limit)):
                y, end = self._generate(ids[chunk], start[chunk], n_prep, int(n_steps), noise_std, generator)
                for i, row in enumerate(chunk):
                    outputs[row] = y[i]
                ends[torch.as_tensor(chunk, device=ends.device)] = end.to(ends.device, ends.dtype)
        return outputs, ends

    def _generate(
        self, ids: np.ndarray, start: torch.Tensor, n_prep: int, n_steps: int, noise_std: float, generator: Any
    ) -> tuple[np.ndarray, torch.Tensor]:
        batch = len(ids)
        result = self._call(
            "generate", self.method.generate, torch.as_tensor(ids), start, n_prep, n_steps, noise_std, generator
        )
        if not isinstance(result, tuple) or len(result) != 2:
            raise MethodError(f"method {self.name}: generate returned {type(result).__name__}, expected (y, state_end)")
        y, end = result
        expected = (batch, n_steps, self.info.d_out)
        if not isinstance(y, torch.Tensor) or tuple(y.shape) != expected:
            got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
            raise MethodError(f"method {self.name}: generate returned outputs of shape {got}, expected {expected}")
        if not isinstance(end, torch.Tensor) or tuple(end.shape) != tuple(start.shape):
            got = tuple(end.shape) if isinstance(end, torch.Tensor) else type(end).__name__
            raise MethodError(f"method {self.name}: generate returned a state of shape {got}, expected {tuple(start.shape)}")
        y = y.detach().to("cpu", torch.float64).numpy()
        if not np.isfinite(y).all() or not torch.isfinite(end).all():
            raise MethodError(f"method {self.name}: generate returned NaN or infinite values")
        return y, end.detach()

    def _nmse(self, outputs: list[np.ndarray], ids: np.ndarray) -> np.ndarray:
        return np.array([metrics.nmse(y, self.targets[i]) for y, i in zip(outputs, ids)])

    def run(self) -> Evaluation:
        K = self.info.n_motifs
        timings: dict[str, Any] = {"learn": [], "test": 0.0}
        start_time = time.perf_counter()
        self._call("setup", self.method.setup, self.info, self.seed, self.device)
        timings["setup"] = time.perf_counter() - start_time

        R = np.full((K, K), np.nan)
        output_change = np.zeros(K)
        parameter_counts: list[int | None] = []
        previous: list[np.ndarray] = []
        for k, motif in enumerate(self.stream.motifs):
            self.progress(f"learn motif {k + 1}/{K}")
            tic = time.perf_counter()
            self._call(f"learn(motif {k})", self.method.learn, motif)
            timings["learn"].append(time.perf_counter() - tic)
            parameter_counts.append(self._call("parameter_count", self.method.parameter_count))

            tic = time.perf_counter()
            # One batch of the same shape every time (row j is motif j; spare rows repeat learned
            # motifs), so an isolated method's old outputs are bit-identical: floating-point
            # rounding may depend on the batch shape.
            ids = np.arange(K) % (k + 1)
            outputs, ends = self.produce(ids, self._rest(K), self.n_prep)
            outputs = outputs[: k + 1]
            R[k, : k + 1] = 1.0 - self._nmse(outputs, ids[: k + 1])
            output_change[k] = max((np.abs(new - old).max() for new, old in zip(outputs, previous)), default=0.0)
            previous = outputs
            timings["test"] += time.perf_counter() - tic
        rest_nmse = 1.0 - R[K - 1]
        final_outputs = outputs
        spectrum = None
        if hasattr(self.method, "recurrent_matrix"):
            matrix = self._call("recurrent_matrix", self.method.recurrent_matrix)
            spectrum = self._call("recurrent_matrix", metrics.spectrum_summary, matrix)

        tic = time.perf_counter()
        self.progress("transitions")
        sweep = {}
        for prep in sorted(set(self.config.prep_sweep_tau) | {self.config.prep_tau}):
            sweep[prep] = self.transitions(ends, self.info.steps(prep))
        transition_nmse = sweep[self.config.prep_tau]
        timings["transitions"] = time.perf_counter() - tic

        tic = time.perf_counter()
        self.progress("sequences")
        sequence_ids, sequence_nmse = self.sequences()
        timings["sequences"] = time.perf_counter() - tic

        tic = time.perf_counter()
        self.progress("robustness")
        cfg = self.config
        scores = dict(rest_nmse=rest_nmse, theta=self.theta, relative_cap=cfg.relative_cap)
        curves = {
            "transition_success_vs_prep_tau": {
                "x": list(map(float, self.config.prep_sweep_tau)),
                "y": [metrics.transition_success(sweep[p], **scores) for p in self.config.prep_sweep_tau],
            },
            "final_r2_vs_noise": {
                "x": list(map(float, cfg.noise_levels)),
                "y": [self.final_r2(noise_std=level, generator=self._generator(3)) for level in cfg.noise_levels],
            },
        }
        for mode in damage_modes(self.method):
            curves[damage_curve(mode)] = {
                "x": list(map(float, cfg.damage_fractions)),
                "y": [self.damaged_final_r2(fraction, mode) for fraction in cfg.damage_fractions],
            }
        probe_change = self.probe_state_dependence(ends)  # last, so it cannot shift any other draw
        resume_change = self.probe_resumption(final_outputs)  # no random draw
        timings["robustness"] = time.perf_counter() - tic

        tic = time.perf_counter()
        self.progress("disruption")
        disruption_r2, recovery = self.probe_disruption()
        strengths = self.disruption_strengths()
        curves["disruption_r2_vs_strength"] = {"x": strengths, "y": [float(np.mean(disruption_r2[:, i]))
                                                                      for i in range(len(strengths))]}
        curves["recovery_tau_vs_strength"] = {"x": strengths, "y": [float(np.mean(recovery[:, i]))
                                                                     for i in range(len(strengths))]}
        headline = strengths.index(float(cfg.disruption_strength))
        timings["disruption"] = time.perf_counter() - tic
        timings["total"] = time.perf_counter() - start_time

        evaluation = Evaluation(
            R=R,
            output_change=output_change,
            rest_nmse=rest_nmse,
            final_outputs=final_outputs,
            probe_change=probe_change,
            resume_change=resume_change,
            transition_nmse=transition_nmse,
            sequence_ids=sequence_ids,
            sequence_nmse=sequence_nmse,
            curves=curves,
            timings=timings,
            parameter_counts=parameter_counts,
            diagnostics=self._call("diagnostics", self.method.diagnostics),
            **self.song_scores(final_outputs),
            motif_correlation=np.array([metrics.summed_correlation(y, target)
                                        for y, target in zip(final_outputs, self.targets)]),
            disruption_trial_r2=disruption_r2[:, headline],
            recovery_trial_tau=recovery[:, headline],
            spectrum=spectrum,
        )
        evaluation.metrics = metrics.compute_metrics({**vars(evaluation), **scores})
        return evaluation

    def transition_starts(self, ends: torch.Tensor) -> tuple[np.ndarray, np.ndarray, torch.Tensor]:
        """Every transition row, ordered (a, b, repeat) for a != b: ids a (R,), ids b (R,), and
        start states (R, n_state) = a's end state plus Gaussian noise of std
        ``transition_noise * rms(end state)``, the same for every preparation time."""
        K, repeats = self.info.n_motifs, self.config.transition_repeats
        a, b, _ = np.nonzero(~np.eye(K, dtype=bool)[:, :, None] & np.ones((1, 1, repeats), dtype=bool))
        return a, b, self.perturb(ends[torch.as_tensor(a, device=ends.device)], purpose=1)

    def perturb(self, states: torch.Tensor, purpose: int) -> torch.Tensor:
        """(B, n_state) plus Gaussian noise of std ``transition_noise * rms(row)``."""
        return states + relative_noise(states, self.config.transition_noise, self._generator(purpose))

    def transitions(self, ends: torch.Tensor, n_prep: int) -> np.ndarray:
        """(K, K, repeats) nmse of b after starting from a's perturbed end state ``ends[a]``."""
        K, repeats = self.info.n_motifs, self.config.transition_repeats
        a, b, start = self.transition_starts(ends)
        nmse = np.full((K, K, repeats), np.nan)
        if len(a):
            outputs, _ = self.produce(b, start, n_prep)
            nmse[~np.eye(K, dtype=bool)] = self._nmse(outputs, b).reshape(-1, repeats)
        return nmse

    def probe_state_dependence(self, ends: torch.Tensor) -> np.ndarray:
        """(K,) rms change of each motif's output, with no preparation, between starting from
        rest and from the next motif's end state perturbed as in a transition, over the std of
        the motif's target. All zeros: the output ignores the state (a tape recorder)."""
        K = self.info.n_motifs
        ids = np.arange(K)
        others = self.perturb(ends[torch.as_tensor((ids + 1) % K, device=ends.device)], purpose=5)
        from_rest, _ = self.produce(ids, self._rest(K), 0)
        from_other, _ = self.produce(ids, others, 0)
        return np.array([
            np.sqrt(np.mean((a - b) ** 2)) / self.targets[k].std() for k, (a, b) in enumerate(zip(from_rest, from_other))
        ])

    def probe_resumption(self, final_outputs: list[np.ndarray]) -> np.ndarray:
        """(K,) rms difference, over the std of motif k's target, between motif k paused and
        resumed and motif k uninterrupted (``final_outputs``, each from rest). Paused: produced
        from rest for its first T_k // 2 steps; resumed: from the state it reached then, with no
        preparation, for the rest. ~0 when the future depends on the state alone; a tape
        recorder starts its tape again."""
        K = self.info.n_motifs
        ids, lengths = np.arange(K), np.array(self.info.motif_steps)
        _, paused = self.produce(ids, self._rest(K), self.n_prep, lengths=lengths // 2)
        resumed, _ = self.produce(ids, paused, 0, lengths=lengths - lengths // 2)
        return np.array([np.sqrt(np.mean((rest - whole[len(whole) // 2:]) ** 2)) / self.targets[k].std()
                         for k, (rest, whole) in enumerate(zip(resumed, final_outputs))])

    def song_scores(self, final_outputs: list[np.ndarray]) -> dict[str, np.ndarray]:
        """``segment_nmse`` and ``segment_after_branch`` (n,) over every syllable but the first
        of every song, in the motifs produced from rest (``final_outputs``); empty without songs."""
        nmse, after = [np.zeros(0)], [np.zeros(0, dtype=bool)]
        for motif, y in zip(self.stream.motifs, final_outputs):
            if motif.segments:
                bounds = [(segment.start, segment.stop) for segment in motif.segments[1:]]
                nmse.append(metrics.segment_nmse(y, motif.target, bounds))
                after.append(after_branch([segment.label for segment in motif.segments])[1:])
        return {"segment_nmse": np.concatenate(nmse), "segment_after_branch": np.concatenate(after)}

    def disruption_strengths(self) -> list[float]:
        """The recovery curve's strengths, the headline strength and 0 (undisturbed), sorted."""
        return sorted(map(float, {0.0, *self.config.disruption_strengths, self.config.disruption_strength}))

    def probe_disruption(self) -> tuple[np.ndarray, np.ndarray]:
        """(K, S, repeats) r2 and recovery time (tau) of each motif's rest after a disruption,
        for each of the S ``disruption_strengths``.

        Motif k is produced from rest (with preparation) for its first h_k = round(disruption_at
        x T_k) steps. Its state is then disrupted: Gaussian noise of std strength x rms(state),
        one draw per (motif, repeat) scaled by each strength, is added to it. From there it
        continues with no preparation for its remaining T_k - h_k steps, all rows in one batch.
        Each continuation is scored at the best shift within ``phase_tolerance_tau``
        (``metrics.shifted_error``, over the variance of the motif's target): its r2 against the
        target from step h_k, and the time until every window of 1 tau is back within theta of
        the undisturbed continuation (strength 0; ``metrics.recovery_steps``). So recovery
        measures a return to the method's own course, whether or not that course fits."""
        cfg, K, repeats = self.config, self.info.n_motifs, self.config.transition_repeats
        strengths = self.disruption_strengths()
        lengths = np.array(self.info.motif_steps)
        halfway = np.clip(np.round(cfg.disruption_at * lengths).astype(int), 1, lengths - 1)
        ids = np.arange(K)
        _, paused = self.produce(ids, self._rest(K), self.n_prep, lengths=halfway)
        rows = np.repeat(ids, repeats)  # (K * repeats,) motif of each row, repeats together
        at_disruption = paused[torch.as_tensor(rows, device=paused.device)]
        noise = relative_noise(at_disruption, 1.0, self._generator(6))
        starts = torch.cat([at_disruption + strength * noise for strength in strengths])
        all_rows = np.tile(rows, len(strengths))
        outputs, _ = self.produce(all_rows, starts, 0, lengths=(lengths - halfway)[all_rows])
        max_shift, window = self.info.steps(cfg.phase_tolerance_tau), self.info.steps(1.0)
        undisturbed = outputs[: len(rows)]  # strength 0 comes first
        r2, recovery = np.zeros(len(all_rows)), np.zeros(len(all_rows))
        for i, (k, y) in enumerate(zip(all_rows, outputs)):
            variance = float(self.targets[k].var())
            r2[i] = 1.0 - metrics.shifted_error(y, self.targets[k], int(halfway[k]), max_shift, variance).mean()
            errors = metrics.shifted_error(y, undisturbed[i % len(rows)], 0, max_shift, variance)
            recovery[i] = metrics.recovery_steps(errors, self.theta, window) * self.info.dt / self.info.tau
        shape = (len(strengths), K, repeats)
        return r2.reshape(shape).transpose(1, 0, 2), recovery.reshape(shape).transpose(1, 0, 2)

    def sequences(self) -> tuple[np.ndarray, np.ndarray]:
        """(S, L) ids and nmse of random sequences; each motif differs from the one before it.
        With one motif, every sequence replays it L times, each from the end of the one before."""
        K, S, L = self.info.n_motifs, self.config.n_sequences, self.config.sequence_length
        rng = np.random.default_rng([self.seed, 2])
        ids = np.zeros((S, L), dtype=np.int64)
        for i in range(L if K > 1 else 0):  # the first at random, each next among the K - 1 others
            ids[:, i] = rng.integers(0, K, S) if i == 0 else (ids[:, i - 1] + rng.integers(1, K, S)) % K
        nmse = np.zeros((S, L))
        state = self._rest(S)
        for i in range(L):
            outputs, state = self.produce(ids[:, i], state, self.n_prep)
            nmse[:, i] = self._nmse(outputs, ids[:, i])
        return ids, nmse

    def final_r2(self, noise_std: float = 0.0, generator: torch.Generator | None = None) -> float:
        """final_r2 of every motif produced from rest, under process noise."""
        ids = np.arange(self.info.n_motifs)
        outputs, _ = self.produce(ids, self._rest(len(ids)), self.n_prep, noise_std, generator)
        return metrics.final_r2(1.0 - self._nmse(outputs, ids)[None, :])

    def damaged_final_r2(self, fraction: float, mode: str = "random") -> float:
        """final_r2 after removing ``fraction`` of the recurrent weights as damage ``mode`` says
        (``method.damaged_weights``); the method is restored after."""
        snapshot = copy.deepcopy(self._call("state_dict", self.method.state_dict))
        try:
            mode_argument = () if mode == "random" else (mode,)  # a damage without modes serves "random"
            self._call(f"damage({mode})", self.method.damage, fraction, self._generator(4), *mode_argument)
            return self.final_r2()
        finally:
            self._call("load_state_dict", self.method.load_state_dict, snapshot)
