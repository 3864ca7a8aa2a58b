"""thalamocortical: the mode fit, eigenvalue placement, closed-form start states, the
Lyapunov-trained preparatory loop, the method API and a small run through the evaluator.

Everything runs on N = 60 cortical units (``FAST``); the learned method is built once per module.
``max_frequency=5`` because smoke-v1 motifs last 5 tau and hold up to ~4.4 rad/tau (with the
default 2 rad/tau the mode fit reaches only r2 ~0.85-0.93 on them).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import scipy.linalg
import scipy.optimize
import torch

from motifbench import Motif, Stream, metrics
from motifbench.evaluator import EvalConfig, Evaluator
from motifbench.method import HyperparameterError, StreamInfo
from motifbench.methods.thalamocortical import (
    DEFAULT_LOOP_RANK,
    Thalamocortical,
    fit_modes,
    fit_preparatory_loop,
    place_eigenvalues,
    preparatory_loss,
    start_state,
)
from motifbench.streams import smooth_trajectory

FAST = dict(n_cortex=60, prep_fraction=0.1, prep_iterations=20, fit_restarts=2, max_frequency=5.0)
N, RANK = FAST["n_cortex"], DEFAULT_LOOP_RANK  # RANK: the loop rank of a stream of at most 4 outputs
DT = 0.2  # dt / tau of every v1 stream
STEPS_PER_TAU = 5


def random_network(seed: int, d_out: int = 1, n: int = N, rank: int = RANK):
    """J0 (n, n), W (d_out, n) and U (n, rank) drawn as the method draws them."""
    rng = np.random.default_rng(seed)
    J0 = rng.normal(0.0, 0.9 / np.sqrt(n), (n, n))
    W = rng.normal(0.0, 1.0 / np.sqrt(n), (d_out, n))
    U = rng.normal(0.0, 1.0, (n, rank))
    return rng, J0, W, U


def mode_sum(gammas: np.ndarray, amplitudes: np.ndarray, t: np.ndarray) -> np.ndarray:
    """sum_m Re(c_m e^{gamma_m t}): (T, d)."""
    return sum((c[None, :] * np.exp(g * t)[:, None]).real for g, c in zip(gammas, amplitudes))


def nearest(eigenvalues: np.ndarray, gamma: complex) -> int:
    return int(np.argmin(np.abs(eigenvalues - gamma)))


def info_for(stream) -> StreamInfo:
    """The StreamInfo that the evaluator hands to setup."""
    return Evaluator(Thalamocortical(), stream, 0).info


@pytest.fixture(scope="module")
def learned(smoke):
    """A small method that has learned the three smoke-v1 motifs; parameter counts after setup
    and after each motif. Tests that change it work on a deep copy."""
    method = Thalamocortical(**FAST)
    method.setup(info_for(smoke), seed=0)
    counts = [method.parameter_count()]
    for motif in smoke.motifs:
        method.learn(motif)
        counts.append(method.parameter_count())
    return method, counts


# ---------------------------------------------------------------- fit_modes


def test_fit_modes_recovers_two_known_damped_modes():
    """A target made of 2 damped modes (20 tau, like the v1 streams) is fitted to r2 > 0.999
    with its eigenvalues and amplitudes recovered (measured errors ~3e-5 and ~1.4e-4)."""
    true_gammas = np.array([-0.3 + 0.8j, -0.1 + 1.5j])
    true_amplitudes = np.array([[1.0 - 0.5j], [0.4 + 0.7j]])
    target = mode_sum(true_gammas, true_amplitudes, DT * np.arange(1, 101))
    for seed in range(3):
        gammas, amplitudes, r2 = fit_modes(target, DT, 2, (0.01, 1.0), 2.0, 2, np.random.default_rng(seed))
        order = np.argsort(gammas.imag)
        assert r2 > 0.999
        np.testing.assert_allclose(gammas[order], true_gammas, atol=2e-3)
        np.testing.assert_allclose(amplitudes[order], true_amplitudes, atol=5e-3)


def test_fit_modes_respects_bounds_and_reports_its_own_r2(smoke):
    """On a smoke motif: decays in decay_range, frequencies in [0.03, max_frequency], and the
    reported r2 is that of sum Re(c e^{gamma t}) at t = (i + 1) dt (the return convention)."""
    target = smoke.motifs[0].target.astype(np.float64)
    decay_range, max_frequency = (0.05, 0.8), 3.0
    gammas, amplitudes, r2 = fit_modes(target, DT, 4, decay_range, max_frequency, 2, np.random.default_rng(0))
    assert gammas.shape == (4,) and amplitudes.shape == (4, 1)
    assert np.all((-gammas.real >= decay_range[0] - 1e-12) & (-gammas.real <= decay_range[1] + 1e-12))
    assert np.all((gammas.imag >= 0.03 - 1e-12) & (gammas.imag <= max_frequency + 1e-12))
    fitted = mode_sum(gammas, amplitudes, DT * np.arange(1, len(target) + 1))
    assert r2 == pytest.approx(1.0 - metrics.nmse(fitted, target), abs=1e-9)
    assert r2 > 0.5


# ---------------------------------------------------------------- place_eigenvalues


def placement_problem(seed: int = 0, d_out: int = 2, n_modes: int = 3):
    rng, J0, W, U = random_network(seed, d_out)
    gammas = -rng.uniform(0.05, 1.0, n_modes) + 1j * rng.uniform(0.03, 2.0, n_modes)
    amplitudes = rng.normal(size=(n_modes, d_out)) + 1j * rng.normal(size=(n_modes, d_out))
    return J0, W, U, gammas, amplitudes


def placement_errors(J0, U, V, W, gammas, amplitudes):
    """Largest distance of a gamma (and its conjugate) to an eigenvalue of J0 + U V - I, and
    largest relative misfit of W v_m to a multiple of c_m / 2 (v_m: that eigenvector)."""
    eigenvalues, vectors = np.linalg.eig(J0 + U @ V - np.eye(len(J0)))
    distance = max(max(np.abs(eigenvalues - g).min(), np.abs(eigenvalues - g.conj()).min()) for g in gammas)
    misfit = 0.0
    for g, c in zip(gammas, amplitudes):
        wv = W @ vectors[:, nearest(eigenvalues, g)]
        scale = np.vdot(wv, c / 2) / np.vdot(wv, wv)
        misfit = max(misfit, np.linalg.norm(scale * wv - c / 2) / np.linalg.norm(c / 2))
    return distance, misfit


def test_place_eigenvalues_exactly_without_ridge():
    """Ridge 0: every gamma and its conjugate is an eigenvalue of J0 + U V - I (measured ~5e-14),
    and its eigenvector reads out in the direction of c_m (2-D output, so this is a real check)."""
    J0, W, U, gammas, amplitudes = placement_problem()
    unplaced, _ = placement_errors(J0, U, np.zeros((RANK, N)), W, gammas, amplitudes)
    assert unplaced > 0.1  # the check below means something
    V = place_eigenvalues(J0, U, W, gammas, amplitudes, 0.0)
    distance, misfit = placement_errors(J0, U, V, W, gammas, amplitudes)
    assert distance < 1e-9
    assert misfit < 1e-8


def test_placed_modes_reproduce_the_mode_sum():
    """From x0 = sum 2 Re x_m (x_m: placed eigenvectors scaled so W x_m = c_m / 2) the motif's
    dynamics W e^{At} x0 reproduce sum Re(c_m e^{gamma_m t})."""
    J0, W, U, gammas, amplitudes = placement_problem(seed=1)
    V = place_eigenvalues(J0, U, W, gammas, amplitudes, 0.0)
    A = J0 + U @ V - np.eye(N)
    eigenvalues, vectors = np.linalg.eig(A)
    x0 = np.zeros(N)
    for g, c in zip(gammas, amplitudes):
        v = vectors[:, nearest(eigenvalues, g)]
        wv = W @ v
        x0 += 2 * (v * np.vdot(wv, c / 2) / np.vdot(wv, wv)).real
    t = DT * np.arange(1, 26)
    produced = np.stack([W @ scipy.linalg.expm(A * ti) @ x0 for ti in t])
    expected = mode_sum(gammas, amplitudes, t)
    np.testing.assert_allclose(produced, expected, atol=1e-8 * np.abs(expected).max())


def test_place_eigenvalues_with_a_small_ridge_is_close():
    """v_ridge = 1e-6 (the default) moves the placed eigenvalues a little (measured 1.1e-3):
    the ridge is used, and the placement stays far better than no loop (~1)."""
    J0, W, U, gammas, amplitudes = placement_problem()
    V = place_eigenvalues(J0, U, W, gammas, amplitudes, 1e-6)
    distance, _ = placement_errors(J0, U, V, W, gammas, amplitudes)
    assert 1e-9 < distance < 1e-2


# ---------------------------------------------------------------- start_state


def readout(step: np.ndarray, W: np.ndarray, x0: np.ndarray, T: int) -> np.ndarray:
    """W step^(i+1) x0 for i < T: (T, d)."""
    out, x = [], x0
    for _ in range(T):
        x = step @ x
        out.append(W @ x)
    return np.array(out)


@pytest.fixture(scope="module")
def motif_dynamics():
    """A placed motif loop's one-step propagator and readout."""
    J0, W, U, gammas, amplitudes = placement_problem(d_out=1)
    V = place_eigenvalues(J0, U, W, gammas, amplitudes, 0.0)
    return scipy.linalg.expm((J0 + U @ V - np.eye(N)) * DT), W


def test_start_state_reproduces_a_producible_target(motif_dynamics):
    """A target that the dynamics produce from some state is matched from the computed x0
    (measured max error 1.8e-4 with ridge 1e-6, peak 0.46), sample times t_i = (i + 1) dt."""
    step, W = motif_dynamics
    target = readout(step, W, np.random.default_rng(5).normal(size=N), 25)
    x0 = start_state(step, W, target, 1e-6)
    assert np.abs(readout(step, W, x0, 25) - target).max() < 2e-3 * np.abs(target).max()


def test_start_state_is_the_ridge_least_squares_solution(motif_dynamics, smoke):
    """x0 equals argmin |O x0 - y|^2 + lambda |x0|^2 solved independently (augmented lstsq)."""
    step, W = motif_dynamics
    target = smoke.motifs[1].target.astype(np.float64)
    ridge = 1e-3
    x0 = start_state(step, W, target, ridge)
    O = np.concatenate([W @ np.linalg.matrix_power(step, i + 1) for i in range(len(target))])
    system = np.vstack([O, np.sqrt(ridge) * np.eye(N)])
    expected = np.linalg.lstsq(system, np.r_[target.ravel(), np.zeros(N)], rcond=None)[0]
    np.testing.assert_allclose(x0, expected, atol=1e-9 * np.abs(expected).max())


# ---------------------------------------------------------------- fit_preparatory_loop


def lyapunov_loss(A: np.ndarray) -> float:
    """tr(P) / N with A P + P A^T + I = 0, by scipy."""
    return float(np.trace(scipy.linalg.solve_continuous_lyapunov(A, -np.eye(len(A))))) / len(A)


def test_preparatory_loop_lowers_the_lyapunov_loss_and_is_stable():
    """The logged losses are tr(P)/N of J0 - I (initial) and of the returned loop (final, lower),
    and the trained J0 + U V - I is stable (measured 1.09 -> 0.52, max Re -0.55)."""
    rng, J0, _, _ = random_network(1)
    U, V, log = fit_preparatory_loop(J0, 6, 20, rng)
    assert U.shape == (N, 6) and V.shape == (6, N) and log["iterations"] >= 1
    A = J0 + U @ V - np.eye(N)
    assert np.linalg.eigvals(A).real.max() < 0
    assert log["loss_initial"] == pytest.approx(lyapunov_loss(J0 - np.eye(N)), rel=1e-9)
    assert log["loss_final"] == pytest.approx(lyapunov_loss(A), rel=1e-8)
    assert log["loss_final"] < 0.8 * log["loss_initial"]


def test_preparatory_loop_of_rank_zero_is_j0_alone():
    """prep rank 0: no loop, and the loss is that of J0 - I."""
    rng, J0, _, _ = random_network(1)
    U, V, log = fit_preparatory_loop(J0, 0, 20, rng)
    assert U.shape == (N, 0) and V.shape == (0, N)
    assert log["loss_final"] == log["loss_initial"] == pytest.approx(lyapunov_loss(J0 - np.eye(N)), rel=1e-9)


def test_preparatory_loss_gradient_matches_finite_differences():
    """The analytic gradient 2 Q P / N (through U and V) against finite differences on N = 8,
    rank 2 (measured relative error ~3e-7)."""
    n, rank = 8, 2
    _, J0, _, _ = random_network(2, n=n)
    loss = preparatory_loss(J0, rank)
    for seed in range(3):
        theta = np.random.default_rng(seed).normal(0.0, 0.3, 2 * n * rank)
        value, gradient = loss(theta)
        U, V = theta[: n * rank].reshape(n, rank), theta[n * rank :].reshape(rank, n)
        assert value == pytest.approx(lyapunov_loss(J0 + U @ V - np.eye(n)), rel=1e-9)
        numeric = scipy.optimize.approx_fprime(theta, lambda x: loss(x)[0], 1e-7)
        assert np.abs(numeric - gradient).max() < 1e-4 * np.abs(gradient).max()
    assert loss(np.ones(2 * n * rank))[0] >= 1e10  # an unstable loop is rejected


# ---------------------------------------------------------------- the method API


def test_card_and_parameter_count(learned):
    """No SGD; each learned motif adds V (r, N) and x0 (N,) to the count."""
    _, counts = learned
    assert Thalamocortical.card.uses_sgd is False
    prep_rank = round(FAST["prep_fraction"] * N)
    assert counts[0] == 2 * prep_rank * N
    assert np.diff(counts).tolist() == [RANK * N + N] * 3


def test_learning_places_stable_loops(learned):
    """Each motif's loop A_k = J0 + U_k V_k - I is stable and its mode fit is good."""
    method, _ = learned
    for entry in method.learn_log:
        assert entry["max_real_eigenvalue"] < 0
        assert entry["mode_fit_r2"] > 0.99


def test_generate_from_rest_produces_each_motif(learned, smoke):
    """From rest with the default 10 tau preparation every motif is produced (measured r2 > 0.99)."""
    method, _ = learned
    y, end = method.generate(torch.arange(3), method.rest_state(3), 10 * STEPS_PER_TAU, 25)
    assert y.shape == (3, 25, 1) and end.shape == (3, N)
    for k, motif in enumerate(smoke.motifs):
        assert 1.0 - metrics.nmse(y[k].numpy(), motif.target) > 0.98
    np.testing.assert_allclose(y[:, -1].numpy(), end.numpy() @ method.W.T, rtol=1e-12, atol=1e-12)


def test_a_row_is_bit_identical_alone_or_in_a_batch(learned):
    """Rows of mixed motifs (more than one block of 16 for motif 0) give exactly what each row
    gives alone."""
    method, _ = learned
    ids = torch.tensor([0, 1, 2, 0, 0, 2] * 6)
    states = torch.randn(len(ids), N, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    y, end = method.generate(ids, states, 10, 25)
    for b in range(len(ids)):
        y_alone, end_alone = method.generate(ids[b : b + 1], states[b : b + 1], 10, 25)
        assert torch.equal(y_alone[0], y[b]) and torch.equal(end_alone[0], end[b]), f"row {b}"


def test_generate_follows_the_documented_linear_dynamics(learned):
    """Preparation: x(t) = x0 + e^{(J_p - I) t} (x(0) - x0); production: y(t_i) = W e^{A_k t_i} x
    at t_i = (i + 1) dt, A_k = J0 + U_k V_k - I (both computed here with scipy's expm)."""
    method, _ = learned
    ids = torch.tensor([1, 2, 0])
    states = torch.randn(3, N, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    _, prepared = method.generate(ids, states, STEPS_PER_TAU, 0)  # 1 tau: far from converged
    prep_decay = scipy.linalg.expm(method.prep_matrix - np.eye(N))
    y, _ = method.generate(ids, states, 0, 25)
    for b, k in enumerate(ids.tolist()):
        x0 = method.loops[k].x0
        expected = x0 + prep_decay @ (states[b].numpy() - x0)
        np.testing.assert_allclose(prepared[b].numpy(), expected, atol=1e-9 * np.abs(expected).max())
        loop = method.loops[k]
        step = scipy.linalg.expm((method.J0 + loop.U @ loop.V - np.eye(N)) * DT)
        produced = readout(step, method.W, states[b].numpy(), 25)
        np.testing.assert_allclose(y[b].numpy(), produced, atol=1e-9 * np.abs(produced).max())


def test_preparation_then_production_composes(learned):
    """n_prep steps then n_steps equals a preparation-only call followed by a production-only call."""
    method, _ = learned
    ids = torch.tensor([2, 0, 1])
    states = torch.randn(3, N, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    y, end = method.generate(ids, states, 30, 25)
    y_prep, prepared = method.generate(ids, states, 30, 0)
    assert y_prep.shape == (3, 0, 1)
    y2, end2 = method.generate(ids, prepared, 0, 25)
    np.testing.assert_allclose(y2.numpy(), y.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(end2.numpy(), end.numpy(), rtol=1e-12, atol=1e-12)


def test_long_preparation_reaches_the_start_state(learned):
    """40 tau of preparation from random states (norm ~8) ends at the motif's x0 (measured 6e-7);
    without preparation the state is far from it."""
    method, _ = learned
    ids = torch.tensor([0, 1, 2, 1])
    states = torch.randn(4, N, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    x0 = torch.stack([torch.as_tensor(method.loops[int(k)].x0) for k in ids])
    _, prepared = method.generate(ids, states, 40 * STEPS_PER_TAU, 0)
    assert (prepared - x0).norm(dim=1).max() < 1e-4
    assert (states - x0).norm(dim=1).min() > 1.0


def test_generate_does_not_change_what_was_learned(learned):
    """generate (with process noise too) leaves state_dict unchanged."""
    method, _ = learned
    before = method.state_dict()
    ids = torch.tensor([0, 1, 2])
    method.generate(ids, method.rest_state(3), 50, 25)
    method.generate(ids, method.rest_state(3) + 1.0, 5, 25, noise_std=0.1, generator=torch.Generator().manual_seed(3))
    after = method.state_dict()
    for name in ("J0", "W", "prep_U", "prep_V"):
        assert np.array_equal(before[name], after[name]), name
    for old, new in zip(before["loops"], after["loops"]):
        for name in ("U", "V", "x0", "prep_input"):
            assert np.array_equal(getattr(old, name), getattr(new, name)), name


def test_damage_changes_outputs_and_a_snapshot_restores_them(learned):
    """damage(0.2) zeroes ~20% of J0 only and changes the outputs; load_state_dict of a snapshot
    taken before restores the outputs bit-identically."""
    method = copy.deepcopy(learned[0])
    ids, rest = torch.arange(3), method.rest_state(3)
    y, _ = method.generate(ids, rest, 50, 25)
    snapshot = method.state_dict()
    method.damage(0.2, torch.Generator().manual_seed(4))
    assert 0.15 < (method.J0 == 0).mean() < 0.25
    assert np.array_equal(method.W, snapshot["W"]) and np.array_equal(method.loops[0].V, snapshot["loops"][0].V)
    y_damaged, _ = method.generate(ids, rest, 50, 25)
    assert (y_damaged - y).abs().max() > 1e-3
    method.load_state_dict(snapshot)
    assert torch.equal(method.generate(ids, rest, 50, 25)[0], y)


def test_generate_refuses_an_unlearned_motif(learned):
    method, _ = learned
    with pytest.raises(ValueError, match="not been learned"):
        method.generate(torch.tensor([0, 3]), method.rest_state(2), 5, 25)


def test_bad_hyperparameters_are_refused_when_made_or_checked_against_the_stream(smoke):
    """A reversed or degenerate decay_range is refused when the settings are made; loop_rank
    below the output dimension by check_stream (the command line calls it before a run) and
    by setup."""
    two_d = StreamInfo(n_motifs=1, d_out=2, dt=0.002, tau=0.01, motif_steps=(25,), n_prep=50)
    low_rank = Thalamocortical(**{**FAST, "loop_rank": 1, "prep_fraction": 0.0})
    with pytest.raises(HyperparameterError, match="loop_rank"):
        low_rank.check_stream(two_d)
    with pytest.raises(HyperparameterError, match="loop_rank"):
        low_rank.setup(two_d, seed=0)
    low_rank.check_stream(info_for(smoke))  # one output: rank 1 is enough
    for decays in ((1.0, 0.01), (0.5, 0.5)):
        with pytest.raises(HyperparameterError, match="decay_range"):
            Thalamocortical(**{**FAST, "decay_range": decays})


def test_its_defaults_work_for_any_output_dimension():
    """The loop rank follows d_out unless set: a 6-D stream (the recorded gestures' size) is
    learned with the defaults, at rank 6; 1-D and 2-D streams keep rank 4."""
    six_d = Stream("six-d", 0, tuple(Motif(k, smooth_trajectory(np.random.default_rng(k), 30, 6)) for k in range(2)),
                   "", "", "smoke")
    method = Thalamocortical(**FAST)
    method.check_stream(info_for(six_d))
    scores = Evaluator(method, six_d, 0, EvalConfig(n_sequences=2, sequence_length=2, transition_repeats=1)).run()
    assert method.diagnostics()["loop_rank"] == 6 and scores.metrics["final_r2"] > 0.9
    assert all(loop.U.shape == (N, 6) for loop in method.loops)


def test_a_zero_frequency_bound_is_refused():
    with pytest.raises(HyperparameterError, match="max_frequency"):
        Thalamocortical(**{**FAST, "max_frequency": 0.0})


# ---------------------------------------------------------------- through the evaluator


def test_evaluator_on_smoke(smoke):
    """Isolated (no old output changes, no forgetting), final_r2 > 0.9 (measured 0.995), and
    transitions succeed after 20 tau of preparation but not without it (measured 0 -> 1)."""
    config = EvalConfig(n_sequences=2, sequence_length=2, transition_repeats=1, prep_sweep_tau=(0.0, 20.0))
    evaluation = Evaluator(Thalamocortical(**FAST), smoke, 0, config).run()
    scores = evaluation.metrics
    assert scores["isolated"] is True and scores["forgetting"] == 0.0
    assert np.all(evaluation.output_change == 0)
    assert scores["final_r2"] > 0.9
    sweep = evaluation.curves["transition_success_vs_prep_tau"]
    assert sweep["x"] == [0.0, 20.0]
    assert sweep["y"][0] < sweep["y"][-1]
