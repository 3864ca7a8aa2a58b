"""Scores: pure functions on arrays, each registered with whether higher is better.

Conventions (the contract in docs/design.md, "Scores"):
- ``nmse(y, y*) = mean((y - y*)^2) / var(y*)`` per trial, ``r2 = 1 - nmse``.
- ``R`` is (K, K): ``R[k, j]`` is the r2 of motif j after learning motifs 0..k (NaN above the
  diagonal). Every score built from R clips it below at -1 first, so one diverging motif
  cannot swamp a mean.
- A motif is *produced* when ``nmse <= theta``, the stream's success threshold (the main
  score, ``sequence_success``, and ``transition_success_abs``). The secondary
  transition-robustness scores use a relative rule: after a transition, produced when
  ``nmse <= max(theta, min(2 * rest_nmse, relative_cap))`` where ``rest_nmse`` is its error
  from the rest state after the whole stream (a transition is not blamed for a poor fit,
  but a motif that is not learned at all is never produced).
- A score over an empty set (K = 1 has no old motifs and no transitions) is NaN.

The parameter names of a registered metric name the arrays it reads from the evaluator
(see ``compute_metrics``).
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

R_FLOOR = -1.0
TAPE_RECORDER_LIMIT = 1e-6  # state_dependence at or below it: the output ignores the state
RESUMPTION_LIMIT = 0.1  # resumption_error above it: paused and resumed, a motif is not continued


@dataclass(frozen=True)
class MetricSpec:
    """A registered score: its direction, what it means, the range it can take, and its function."""

    name: str
    higher_is_better: bool
    description: str
    fn: Callable[..., float]
    low: float = -math.inf
    high: float = math.inf


METRICS: dict[str, MetricSpec] = {}
FRACTION = (0.0, 1.0)  # the range of a success rate
R_RANGE = (R_FLOOR, 1.0)  # the range of a clipped r2
DROP_RANGE = (R_FLOOR - 1.0, 1.0 - R_FLOOR)  # the range of a difference of two clipped r2


def metric(higher_is_better: bool, bounds: tuple[float, float] = (-math.inf, math.inf)) -> Callable[[Callable[..., float]], Callable[..., float]]:
    """Register a scalar score that takes values in ``bounds`` (inclusive); its docstring's first
    line is its description."""

    def register(fn: Callable[..., float]) -> Callable[..., float]:
        description = (fn.__doc__ or "").strip().splitlines()[0]
        METRICS[fn.__name__] = MetricSpec(fn.__name__, higher_is_better, description, fn, *bounds)
        return fn

    return register


def compute_metrics(arrays: dict[str, object]) -> dict[str, float | bool]:
    """Every registered score, each called with the arrays its parameters name."""
    scores = {}
    for spec in METRICS.values():
        params = inspect.signature(spec.fn).parameters
        scores[spec.name] = spec.fn(**{name: arrays[name] for name in params})
    return scores


def nmse(y: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Normalised mean squared error per trial: y, target (..., T, d_out) -> (...)."""
    y = np.asarray(y, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    return ((y - target) ** 2).mean(axis=(-2, -1)) / target.var(axis=(-2, -1))


def r2(y: np.ndarray, target: np.ndarray) -> np.ndarray:
    """1 - nmse per trial: y, target (..., T, d_out) -> (...)."""
    return 1.0 - nmse(y, target)


def _mean(values: np.ndarray) -> float:
    return float(np.mean(values)) if np.size(values) else float("nan")


def _clipped(R: np.ndarray) -> np.ndarray:
    return np.maximum(np.asarray(R, dtype=np.float64), R_FLOOR)


@metric(higher_is_better=True, bounds=R_RANGE)
def final_r2(R: np.ndarray) -> float:
    """Mean r2 over all motifs after the whole stream."""
    return _mean(_clipped(R)[-1])


@metric(higher_is_better=True, bounds=R_RANGE)
def plasticity(R: np.ndarray) -> float:
    """Mean r2 of each motif right after learning it."""
    return _mean(np.diag(_clipped(R)))


@metric(higher_is_better=False, bounds=DROP_RANGE)
def forgetting(R: np.ndarray) -> float:
    """Mean over old motifs of (best r2 before the last motif - final r2)."""
    R = _clipped(R)
    K = R.shape[0]
    return _mean([np.max(R[j : K - 1, j]) - R[K - 1, j] for j in range(K - 1)])


@metric(higher_is_better=True, bounds=DROP_RANGE)
def bwt(R: np.ndarray) -> float:
    """Backward transfer: mean over old motifs of (final r2 - r2 right after learning)."""
    R = _clipped(R)
    K = R.shape[0]
    return _mean([R[K - 1, j] - R[j, j] for j in range(K - 1)])


@metric(higher_is_better=False, bounds=(0.0, DROP_RANGE[1]))
def interference(R: np.ndarray) -> float:
    """Mean drop of an old motif's r2 caused by learning the next motif."""
    R = _clipped(R)
    K = R.shape[0]
    return _mean([max(0.0, R[k - 1, j] - R[k, j]) for k in range(1, K) for j in range(k)])


@metric(higher_is_better=True, bounds=(0.0, math.inf))
def state_dependence(probe_change: np.ndarray) -> float:
    """Largest change of a motif's output when started from another state (0: a tape recorder).

    probe_change (K,): rms change of motif k's output, with no preparation, between starting
    from rest and from another motif's perturbed end state, over the std of motif k's target."""
    return float(np.max(probe_change, initial=0.0))


@metric(higher_is_better=False, bounds=(0.0, math.inf))
def resumption_error(resume_change: np.ndarray) -> float:
    """Largest error of a motif resumed from the state it was paused in (0: its state holds its future).

    resume_change (K,): rms difference between motif k produced from rest for the first half
    of its steps, then resumed from the state reached with no preparation, and motif k produced
    whole, over the std of its target."""
    return float(np.max(resume_change, initial=0.0))


def tape_recorder_reason(scores: dict[str, float | bool]) -> str | None:
    """Why a run is a tape recorder, or None: its output ignored the state it was started from
    (``state_dependence`` at or below ``TAPE_RECORDER_LIMIT``), or a motif paused and resumed
    from its own state was not continued (``resumption_error`` above ``RESUMPTION_LIMIT``). A
    score missing from a record does not flag it."""
    ignored, resumed = scores.get("state_dependence"), scores.get("resumption_error")
    if ignored is not None and ignored <= TAPE_RECORDER_LIMIT:
        return (f"its output ignores the state it starts from "
                f"(state_dependence {ignored:.2g} <= {TAPE_RECORDER_LIMIT:g})")
    if resumed is not None and resumed > RESUMPTION_LIMIT:
        return (f"paused mid-motif and resumed from its own state, it does not continue the motif "
                f"(resumption_error {resumed:.2g} > {RESUMPTION_LIMIT:g})")
    return None


def is_tape_recorder(scores: dict[str, float | bool]) -> bool:
    """Whether ``tape_recorder_reason`` flags the run."""
    return tape_recorder_reason(scores) is not None


@metric(higher_is_better=True, bounds=FRACTION)
def isolated(output_change: np.ndarray) -> bool:
    """True when learning never changed any old motif's output (max abs change == 0)."""
    return bool(np.max(np.abs(output_change), initial=0.0) == 0.0)


def produced_threshold(rest_nmse: np.ndarray, theta: float, relative_cap: float) -> np.ndarray:
    """Largest nmse at which a motif counts as produced after a transition: (K,) -> (K,)."""
    return np.maximum(theta, np.minimum(2.0 * np.asarray(rest_nmse, dtype=np.float64), relative_cap))


def _pair_success(transition_nmse: np.ndarray, limit_b: np.ndarray, pairs: np.ndarray) -> float:
    """Fraction of (a, b, repeat) trials over the (K, K) boolean ``pairs`` with nmse <= limit_b[b]."""
    success = transition_nmse <= np.asarray(limit_b)[None, :, None]
    return _mean(success[pairs])


def _off_diagonal(K: int) -> np.ndarray:
    return ~np.eye(K, dtype=bool)


@metric(higher_is_better=True, bounds=FRACTION)
def transition_success(transition_nmse: np.ndarray, rest_nmse: np.ndarray, theta: float, relative_cap: float) -> float:
    """Fraction of transitions a -> b (a != b, all repeats) in which b is produced (relative rule).

    transition_nmse (K, K, repeats): nmse of motif b started from motif a's end state."""
    K = transition_nmse.shape[0]
    return _pair_success(transition_nmse, produced_threshold(rest_nmse, theta, relative_cap), _off_diagonal(K))


@metric(higher_is_better=True, bounds=FRACTION)
def transition_success_abs(transition_nmse: np.ndarray, theta: float) -> float:
    """Fraction of transitions a -> b (a != b) in which b reaches nmse <= theta."""
    K = transition_nmse.shape[0]
    return _pair_success(transition_nmse, np.full(K, theta), _off_diagonal(K))


@metric(higher_is_better=True, bounds=FRACTION)
def unseen_transition_success(
    transition_nmse: np.ndarray, rest_nmse: np.ndarray, theta: float, relative_cap: float
) -> float:
    """Transition success over pairs a -> b where a was learned after b (never trained in order)."""
    K = transition_nmse.shape[0]
    a_after_b = np.tril(np.ones((K, K), dtype=bool), k=-1)
    return _pair_success(transition_nmse, produced_threshold(rest_nmse, theta, relative_cap), a_after_b)


def segment_nmse(y: np.ndarray, target: np.ndarray, bounds: list[tuple[int, int]]) -> np.ndarray:
    """Per segment (start, stop) of a motif: mean squared error over its samples and channels,
    over the variance of the whole motif's target. y, target (T, d_out) -> (n_segments,)."""
    y, target = np.asarray(y, dtype=np.float64), np.asarray(target, dtype=np.float64)
    return np.array([((y[a:b] - target[a:b]) ** 2).mean() for a, b in bounds]) / target.var()


def _branch_success(segment_nmse: np.ndarray, segment_after_branch: np.ndarray, theta: float, branch: bool) -> float:
    return _mean(np.asarray(segment_nmse)[np.asarray(segment_after_branch) == branch] <= theta)


@metric(higher_is_better=True, bounds=FRACTION)
def branch_success(segment_nmse: np.ndarray, segment_after_branch: np.ndarray, theta: float) -> float:
    """Fraction of a song's syllables after an ambiguous predecessor produced within theta (from rest).

    segment_nmse (n,): each syllable segment's nmse (``segment_nmse``) in the songs produced from
    rest after the whole stream; segment_after_branch (n,): whether the syllable before it has
    another occurrence with a different successor. NaN for a stream without songs."""
    return _branch_success(segment_nmse, segment_after_branch, theta, True)


@metric(higher_is_better=True, bounds=FRACTION)
def nonbranch_success(segment_nmse: np.ndarray, segment_after_branch: np.ndarray, theta: float) -> float:
    """Fraction of a song's syllables after an unambiguous predecessor produced within theta (from rest).

    As ``branch_success``, over the other syllables (not the first of a song)."""
    return _branch_success(segment_nmse, segment_after_branch, theta, False)


def summed_correlation(y: np.ndarray, target: np.ndarray) -> float:
    """Sum over channels of the Pearson correlation between y and target, (T, d_out) each; a
    channel that is constant in either contributes 0. d_out is perfect (ELiSe's score)."""
    y, target = np.asarray(y, dtype=np.float64), np.asarray(target, dtype=np.float64)
    y, target = y - y.mean(axis=0), target - target.mean(axis=0)
    norms = np.sqrt((y ** 2).sum(axis=0) * (target ** 2).sum(axis=0))
    return float(np.sum(np.divide((y * target).sum(axis=0), norms, out=np.zeros(y.shape[1]), where=norms > 0)))


@metric(higher_is_better=True)
def channel_correlation(motif_correlation: np.ndarray) -> float:
    """Mean over motifs (from rest, after the whole stream) of the per-channel correlation summed over channels.

    motif_correlation (K,): ``summed_correlation`` of each motif; d_out is perfect."""
    return _mean(motif_correlation)


def shifted_error(y: np.ndarray, reference: np.ndarray, start: int, max_shift: int, variance: float) -> np.ndarray:
    """The error of ``y`` (n, d_out), meant to be ``reference`` (T, d_out) from sample ``start``
    on, at the shift s in [-max_shift, max_shift] that fits it best (the smallest |s| of equal
    fits): per sample the squared error over channels, over ``variance``, against
    reference[start + t + s] (indices clipped to the reference). (n,)."""
    y, reference = np.asarray(y, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    t = start + np.arange(len(y))
    shifts = sorted(range(-max_shift, max_shift + 1), key=abs)
    errors = [((y - reference[np.clip(t + s, 0, len(reference) - 1)]) ** 2).mean(axis=1) / variance for s in shifts]
    return min(errors, key=lambda error: error.mean())


def recovery_steps(errors: np.ndarray, theta: float, window: int) -> int:
    """Steps until ``errors`` (n,) stays within theta: the first t from which the mean error of
    every window of ``window`` samples is <= theta; n when the last window is above it (never)."""
    errors = np.asarray(errors, dtype=np.float64)
    window = max(1, min(window, len(errors)))
    means = np.convolve(errors, np.ones(window) / window, mode="valid")  # window starting at t
    above = np.flatnonzero(means > theta)
    if not len(above):
        return 0
    return len(errors) if above[-1] == len(means) - 1 else int(above[-1]) + 1


@metric(higher_is_better=True, bounds=R_RANGE)
def disruption_r2(disruption_trial_r2: np.ndarray) -> float:
    """Mean r2 of the rest of a motif after its state was disrupted half-way (best shift within 1 tau).

    disruption_trial_r2 (K, repeats): 1 - the mean ``shifted_error`` against the target of the
    motif's remaining steps, produced with no preparation from its state at the disruption plus
    Gaussian noise of ``disruption_strength`` x the state's rms; clipped below at -1."""
    return _mean(np.maximum(disruption_trial_r2, R_FLOOR))


@metric(higher_is_better=False, bounds=(0.0, math.inf))
def recovery_tau(recovery_trial_tau: np.ndarray) -> float:
    """Mean time, in tau, until a disrupted motif's output is back within theta of its undisturbed course (never: the rest of the motif).

    recovery_trial_tau (K, repeats): ``recovery_steps`` x dt / tau of each disrupted trial, its
    errors the ``shifted_error`` against the same motif continued from the undisturbed state."""
    return _mean(recovery_trial_tau)


@metric(higher_is_better=True, bounds=FRACTION)
def sequence_success(sequence_nmse: np.ndarray, theta: float) -> float:
    """Fraction of random sequences in which every motif reaches nmse <= theta: the main score.

    sequence_nmse (S, L): the nmse of the i-th motif of sequence s; theta: the stream's success
    threshold (no relative rule: a poor fit is never produced)."""
    if np.size(sequence_nmse) == 0:
        return float("nan")
    return _mean(np.all(np.asarray(sequence_nmse) <= theta, axis=1))


FULL_SPECTRUM_SIZE = 512  # a record keeps every eigenvalue of a recurrent matrix up to this size


def spectrum_summary(matrix: np.ndarray) -> dict[str, object]:
    """What a record keeps of a recurrent matrix W (N, N) of the form tau dx/dt = -x + W f(x),
    f'(0) = 1 (so the rest state's Jacobian is (W - I) / tau): ``n``; ``leading``, the
    eigenvalue of W with the largest real part, as [re, im] (of a complex pair, the one with
    im > 0); ``unstable``, the count with real part above 1 (Re > 0 of the Jacobian: modes that
    grow at rest); ``outside_unit_circle``, the count with |lambda| > 1 (the discrete-time
    criterion of Jarne & Laje); ``spectral_radius``; and ``eigenvalues`` [[re, im], ...] sorted
    by real part then imaginary part, descending, for N <= ``FULL_SPECTRUM_SIZE`` (else None).
    Values are rounded to 6 decimals."""
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] == 0:
        raise ValueError(f"a recurrent matrix must be square, not of shape {matrix.shape}")
    if not np.all(np.isfinite(matrix)):
        raise ValueError("a recurrent matrix must be finite")
    eigenvalues = np.linalg.eigvals(matrix)
    eigenvalues = eigenvalues[np.lexsort((-eigenvalues.imag, -eigenvalues.real))]
    pairs = np.round(np.stack([eigenvalues.real, eigenvalues.imag], axis=1), 6) + 0.0  # + 0.0: no -0.0
    return {
        "n": int(matrix.shape[0]),
        "leading": pairs[0].tolist(),
        "unstable": int(np.sum(eigenvalues.real > 1.0)),
        "outside_unit_circle": int(np.sum(np.abs(eigenvalues) > 1.0)),
        "spectral_radius": round(float(np.abs(eigenvalues).max()), 6),
        "eigenvalues": pairs.tolist() if len(pairs) <= FULL_SPECTRUM_SIZE else None,
    }
