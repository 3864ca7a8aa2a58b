"""Initial recurrent weights: ``gaussian`` is today's draw bit for bit, ``orthogonal`` is gain times an
orthogonal matrix, and ``qpta`` is block diagonal with the derived spectrum, frequencies and limit cycles."""

import math

import numpy as np
import pytest
import torch

from motifbench.baselines.initialisation import (
    FREQUENCY_BAND,
    GROWTH_BAND,
    INITIALISATIONS,
    HopfBlocks,
    distance_to_resonance,
    hopf_blocks,
    recurrent_weights,
    resonance_margin,
    resonance_tolerance,
)
from motifbench.baselines.rate_rnn import RateRNN

ALPHA = 0.2  # dt / tau on every registered stream


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def corner_blocks() -> HopfBlocks:
    """The corners of the (eps, Omega) bands and their middle, with w = a Omega."""
    growth = torch.tensor([GROWTH_BAND[0], GROWTH_BAND[0], GROWTH_BAND[1], GROWTH_BAND[1], 0.05], dtype=torch.float64)
    cycle = torch.tensor([FREQUENCY_BAND[0], FREQUENCY_BAND[1]] * 2 + [1.0], dtype=torch.float64)
    return HopfBlocks(growth, (1 + growth) * cycle)


def block_params(W: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """a_k, w_k (M,) float64 read off the diagonal blocks of W (n, n)."""
    first = 2 * torch.arange(len(W) // 2)
    return W[first, first].double(), W[first + 1, first].double()


def by_imaginary_part(values: torch.Tensor) -> torch.Tensor:
    """Complex values (K,) sorted by imaginary part (distinct here: the w_k differ)."""
    return values[values.imag.argsort()]


def radius_and_phase(states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """states (T, 2M) -> radius and unwrapped phase (T, M) of each block."""
    x, y = states[:, 0::2], states[:, 1::2]
    return np.hypot(x, y), np.unwrap(np.arctan2(y, x), axis=0)


def test_gaussian_is_todays_draw_and_consumes_the_generator_alike():
    n, gain = 37, 1.2
    drawn, today = seeded(3), seeded(3)
    W = recurrent_weights("gaussian", n, gain, drawn)
    assert W.dtype == torch.float32
    assert torch.equal(W, torch.randn(n, n, generator=today) * (gain / math.sqrt(n)))
    assert torch.equal(torch.rand(5, generator=drawn), torch.rand(5, generator=today))
    model = RateRNN(n, 3, 2, gain, ALPHA, seeded(3))  # the records' W
    assert torch.equal(model.W.detach(), recurrent_weights("gaussian", n, gain, seeded(3)))


@pytest.mark.parametrize("n", [2, 33, 64])
def test_orthogonal_is_gain_times_an_orthogonal_matrix(n):
    gain = 1.2
    W = recurrent_weights("orthogonal", n, gain, seeded(0))
    assert W.dtype == torch.float32 and W.shape == (n, n)
    W64 = W.double()
    torch.testing.assert_close(W64 @ W64.T, gain**2 * torch.eye(n, dtype=torch.float64), atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.linalg.eigvals(W64).abs(), torch.full((n,), gain, dtype=torch.float64))
    assert not torch.equal(W, recurrent_weights("orthogonal", n, gain, seeded(1)))


def test_orthogonal_has_both_signs_as_haar_does():
    """O(1) is {-1, 1}, each with probability 1/2 under the Haar measure: QR's signs alone would give one."""
    signs = {recurrent_weights("orthogonal", 1, 1.0, seeded(seed)).item() for seed in range(20)}
    assert signs == {-1.0, 1.0}


@pytest.mark.parametrize("n, seed", [(128, 0), (128, 1), (9, 2), (2, 3), (400, 4)])
def test_qpta_is_block_diagonal_with_the_claimed_spectrum_and_bands(n, seed):
    W = recurrent_weights("qpta", n, 1.2, seeded(seed))
    blocks = hopf_blocks(n // 2, seeded(seed))
    assert W.dtype == torch.float32 and torch.equal(W, blocks.matrix(n))
    a, w = block_params(W)
    first = 2 * torch.arange(n // 2)
    off_blocks = torch.ones(n, n, dtype=torch.bool)
    for row, col in [(0, 0), (0, 1), (1, 0), (1, 1)]:
        off_blocks[first + row, first + col] = False
    assert (W[off_blocks] == 0).all()
    assert torch.equal(W[first + 1, first + 1].double(), a) and torch.equal(W[first, first + 1].double(), -w)
    torch.testing.assert_close(a, 1 + blocks.growth, atol=1e-6, rtol=0)
    torch.testing.assert_close(w, blocks.frequency, atol=1e-6, rtol=0)

    leaky = [torch.zeros(1, dtype=torch.complex128)] if n % 2 else []
    claimed = torch.cat([blocks.eigenvalues, blocks.eigenvalues.conj()] + leaky)
    torch.testing.assert_close(by_imaginary_part(torch.linalg.eigvals(W.double())), by_imaginary_part(claimed),
                               atol=1e-5, rtol=0)

    assert ((a > 1) & (a <= 1 + GROWTH_BAND[1] + 1e-6)).all()
    cycle = w / a
    assert ((cycle >= FREQUENCY_BAND[0] - 1e-6) & (cycle <= FREQUENCY_BAND[1] + 1e-6)).all()
    assert resonance_margin(cycle) >= resonance_tolerance(n // 2) - 1e-6

    identity = torch.eye(n, dtype=torch.float64)
    euler = torch.linalg.eigvals(identity + ALPHA * (W.double() - identity))  # the simulated step's Jacobian at 0
    rotating = euler[euler.imag > 0]
    assert len(rotating) == n // 2 and (rotating.abs() > 1).all()
    assert (rotating.angle() < 2 * math.pi / 5).all()  # rotation per step away from the strong resonances
    torch.testing.assert_close(rotating.abs().sort().values, blocks.euler_multipliers(ALPHA).abs().sort().values,
                               atol=1e-5, rtol=0)


def test_qpta_ignores_gain_and_odd_n_leaves_a_leaky_unit():
    assert torch.equal(recurrent_weights("qpta", 7, 0.5, seeded(0)), recurrent_weights("qpta", 7, 2.0, seeded(0)))
    W = recurrent_weights("qpta", 7, 1.2, seeded(0))
    assert (W[6] == 0).all() and (W[:, 6] == 0).all()
    assert torch.equal(W[:6, :6], hopf_blocks(3, seeded(0)).matrix(6))
    for init in INITIALISATIONS:
        assert recurrent_weights(init, 1, 1.2, seeded(0)).shape == (1, 1)


def test_resonance_distance_and_margin():
    log_ratios = torch.tensor([0.0, math.log(2), -math.log(1.5), 0.1, math.log(4) + 0.01], dtype=torch.float64)
    expected = torch.tensor([0.0, 0.0, 0.0, 0.1, 0.01], dtype=torch.float64)
    torch.testing.assert_close(distance_to_resonance(log_ratios), expected)
    assert resonance_margin(torch.tensor([0.5, 0.7])) == pytest.approx(math.log(1.5 / 1.4))  # nearest 3:2
    assert resonance_margin(torch.tensor([0.5, 0.7, 1.0])) == pytest.approx(0.0)  # 1.0 : 0.5 is 2:1
    assert resonance_margin(torch.tensor([0.5])) == math.inf


def rk4_flow(W: np.ndarray, h: np.ndarray, dt: float, n_steps: int) -> np.ndarray:
    """States (n_steps, n) of dh/dt = -h + W tanh(h), time in tau, by classical Runge-Kutta."""
    def f(x):
        return -x + W @ np.tanh(x)

    states = np.empty((n_steps, len(h)))
    for t in range(n_steps):
        k1 = f(h)
        k2 = f(h + dt / 2 * k1)
        k3 = f(h + dt / 2 * k2)
        h = h + dt / 6 * (k1 + 2 * k2 + 2 * k3 + f(h + dt * k3))
        states[t] = h
    return states


def test_each_block_flows_to_the_derived_limit_cycle():
    blocks = corner_blocks()
    W = blocks.matrix(2 * len(blocks.growth)).double().numpy()
    r0, dt, duration, window = 0.01, 0.05, 420.0, 45.0  # tau; the window holds 2 of the slowest periods
    h0 = np.tile([r0, 0.0], len(blocks.growth))
    radius, phase = radius_and_phase(rk4_flow(W, h0, dt, int(duration / dt)))
    last, before = slice(-int(window / dt), None), slice(-2 * int(window / dt), -int(window / dt))
    amplitude = radius[last].mean(0)
    assert (radius[int(1 / dt)] > r0).all() and (amplitude > 20 * r0).all()  # grows away from 0
    np.testing.assert_allclose(radius[before].mean(0), amplitude, rtol=0.01)  # and has settled
    np.testing.assert_allclose(amplitude, blocks.cycle_radius().numpy(), rtol=0.1)  # 1-7 % above: tanh's x^5
    period = 2 * math.pi * window / (phase[-1] - phase[-int(window / dt)])
    np.testing.assert_allclose(period, 2 * math.pi / blocks.cycle_frequency.numpy(), rtol=0.03)
    assert period[-1] == pytest.approx(2 * math.pi / blocks.frequency[-1].item(), rel=0.1)  # eps = 0.05: 2 pi / w


def test_the_euler_map_at_alpha_keeps_rotating_on_a_circle():
    blocks = corner_blocks()
    W = blocks.matrix(2 * len(blocks.growth)).double().numpy()
    h, n_steps, tail = np.tile([0.01, 0.0], len(blocks.growth)), 4000, 500
    states = np.empty((n_steps, len(h)))
    for t in range(n_steps):
        h = h + ALPHA * (-h + W @ np.tanh(h))
        states[t] = h
    radius, phase = radius_and_phase(states)
    assert (np.diff(phase[-tail:], axis=0) > 0).all()  # no step stands still: not locked
    np.testing.assert_allclose(radius[-tail:].mean(0), radius[-2 * tail : -tail].mean(0), rtol=0.01)
    assert (radius[-tail:].min(0) > blocks.cycle_radius().numpy()).all()  # further past its bifurcation than the flow
    assert radius[-tail:, -1].mean() == pytest.approx(blocks.cycle_radius(ALPHA)[-1].item(), rel=0.15)  # w = 1.05


def test_unknown_initialisation_is_refused():
    with pytest.raises(ValueError, match=r"unknown initialisation 'xavier'; known: gaussian, orthogonal, qpta"):
        recurrent_weights("xavier", 4, 1.2, seeded(0))
