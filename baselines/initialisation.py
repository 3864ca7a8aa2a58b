"""Initial recurrent weights W (N, N) of the rate RNN: ``gaussian``, ``orthogonal`` and ``qpta``.

The network (``rate_rnn.py``) is tau dh/dt = -h + W tanh(h) + W_in u + b, simulated by Euler steps
h <- h + alpha (-h + W tanh(h) + W_in u + b) with alpha = dt / tau (0.2 on every registered stream).
Below, time is in units of tau and frequencies are in rad per tau.

- ``gaussian``: W_ij ~ N(0, gain^2 / N), the rate RNN's draw from the start, bit for bit and
  consuming the generator the same way; its spectrum fills the disc of radius ``gain``.
- ``orthogonal``: gain Q with Q Haar-random orthogonal (QR of a Gaussian, columns' signs fixed by
  diag R), as Keras' ``orthogonal`` that Jarne & Laje (arXiv:1906.01094) compare with a random
  normal of sd 1/sqrt(N): every eigenvalue has modulus ``gain``.
- ``qpta``: the continuous-time analogue, derived below, of the quasi-periodic toroidal attractor
  initialisation of Park, Ságodi & Sokół 2023, "Persistent learning signals and working memory
  without continuous attractors", arXiv:2308.12585.

The paper's initialisation (discrete time)
------------------------------------------
For the map x <- tanh(W x), W is block diagonal with N/2 scaled rotations alpha_k R(theta_k).
Each block is linearly unstable at 0 (|lambda| = alpha_k > 1, past a Neimark-Sacker bifurcation)
and the saturation of tanh bounds it, so each block has an invariant circle; the product of the
N/2 circles is an invariant torus, on which the motion is quasi-periodic when the rotation numbers
are incommensurate. (alpha_k, theta_k) are drawn where the 2-D map has an invariant circle rather
than phase-locked orbits: theta_k avoids neighbourhoods of 0, pi/2 and pi, alpha_k in (1.001, 10].

The analogue for this network (continuous time, u = 0, b = 0)
--------------------------------------------------------------
1. Linearisation. At h = 0, dh/dt = J h with J = W - I ((W - I) / tau in seconds). A 2x2 block
   W_k = a I + w R90, R90 = [[0, -1], [1, 0]], has eigenvalues a +- i w, so J has
   (a - 1) +- i w: as a crosses 1 the pair crosses the imaginary axis at +- i w, a Hopf
   bifurcation. Just past it: a_k = 1 + eps_k with a small growth rate eps_k > 0.
2. Normal form. With tanh(x) = x - x^3/3 + O(x^5) per unit and h = r (cos phi, sin phi),
       dr/dt   = eps r - (r^3 / 12) (3 a + a cos 4phi + w sin 4phi),
       dphi/dt = w (1 - r^2 / 4) - (r^2 / 12) (w cos 4phi - a sin 4phi).
   Averaged over phi, dr/dt = eps r - (a / 4) r^3: the cubic coefficient -a/4 is negative, so the
   Hopf bifurcation is supercritical and each block has a stable limit cycle of radius
       r_k = 2 sqrt(eps_k / a_k)          (about 2 sqrt(eps_k); tanh's +2x^5/15 adds 1-7 % here),
   grown into at rate eps_k and relaxed onto at rate 2 eps_k, with angular frequency
       Omega_k = w_k (1 - r_k^2 / 4) = w_k / a_k   (w_k at onset; period 2 pi a_k / w_k).
3. Anisotropy. tanh acts per unit, so the flow has the square's symmetry, not the circle's: the
   4phi terms. Where their amplitude (r^2 / 12) sqrt(w^2 + a^2) exceeds the mean dphi/dt, the
   circle carries equilibria (saddle-nodes) instead of a cycle; at r = r_k that is where
   w < eps sqrt(w^2 + a^2) / 3, about eps / 3 (0.037 at eps = 0.1; simulated, the cycle
   disappears between w = 0.035 and 0.04). This is the only locking an autonomous 2-D flow has;
   the frequencies below stay at least 8 times above it.
4. The simulated Euler map. Its Jacobian at 0 is I + alpha J, with multipliers
   mu = 1 + alpha (eps +- i w), |mu|^2 = (1 + alpha eps)^2 + alpha^2 w^2 > 1: the map is past its
   Neimark-Sacker bifurcation too, and further than the flow past Hopf, since forward Euler
   undamps rotations (its threshold is eps = (sqrt(1 - alpha^2 w^2) - 1) / alpha, about
   -alpha w^2 / 2, and its growth per tau ln|mu| / alpha is about eps + alpha w^2 / 2). Averaging
   each step as in 2. gives its circle,
       r^2 = (4 eps + 2 alpha (eps^2 + w^2)) / (a + alpha (a eps + w^2))    (4 eps / a at alpha = 0),
   about 10 % below a simulation at alpha = 0.2, w = 1 but 20-25 % below at w = 2, where
   alpha w^2 / 2 = 0.4 exceeds eps: at alpha = 0.2 the fast blocks' simulated circles are large
   (r 1.2 to 1.4, tanh saturated) while the slow blocks' stay near the flow's. Its rotation per
   step, arg mu = atan(alpha w / (1 + alpha eps)), is 0.06 to 0.41 rad at alpha = 0.2 (15 to 100
   steps a turn), and below 2 pi / 5 for every alpha <= 1: away from the strong resonances
   (0, pi/2, 2 pi/3, pi) where the circle breaks up; a nearby 2 pi p/q has q >= 15, whose Arnold
   tongue is thin (width O(r^(q-2)) near the bifurcation). For small alpha the map follows the
   flow, whose own condition is 3.
5. All blocks. W is block diagonal in the unit basis and tanh acts per unit, so the blocks do not
   interact: the product of their cycles is an invariant torus of dimension N/2, on which a
   trajectory is quasi-periodic if the cycle frequencies Omega_k are rationally independent and
   periodic on a smaller torus if not. Independent continuous draws are independent almost
   surely; the rule below also keeps every pair off the low-order ratios p:q with p + q <= 5
   (1:1, 3:2, 2:1, 3:1, 4:1), so that once training couples the blocks they do not start in the
   widest resonances.

The basis is not rotated, as in the paper: a random basis Q W Q^T has the same spectrum, but
tanh(Q x) != Q tanh(x), so the cubic term would couple every block to every other and 2., 3. and
5. would no longer hold. Each unit then starts with one partner; W_in and W_out are dense, so every
unit is still driven and read out.

The rule
--------
- Growth rates: eps_k ~ U(GROWTH_BAND) = U(0.02, 0.1) per tau: radii 0.28 to 0.60, growth times
  1/eps 10 to 50 tau; a_k = 1 + eps_k. Whereas the paper's alpha_k reach 10 (tanh saturated), these
  blocks start just past the bifurcation, with small cycles on which tanh is nearly linear.
- Cycle frequencies: Omega_k log-uniform on FREQUENCY_BAND = (0.3, 2.0) rad per tau (periods 3.1 to
  21 tau: a birdsong syllable lasts 3 tau, a smooth10 motif 20 tau), rejection-sampled one at a
  time: a candidate is kept if |ln(Omega / Omega_j)| is at least delta_M from ln r for every kept
  Omega_j and r in RESONANT_RATIOS, with delta_M = ln(2 / 0.3) / (36 M) for M blocks (8.2e-4 at
  N = 128). A kept frequency excludes at most 9 intervals of width 2 delta_M, so at least half the
  band stays open and each candidate is kept with probability over 1/2. The margin is exact for the
  leading-order Omega_k = w_k / a_k; the next order moves cycle frequencies by O(eps^2). Any margin
  must shrink as 1/M: of M frequencies in a band of log width L, two lie within L / (M - 1) (1:1).
- w_k = a_k Omega_k (0.31 to 2.2 rad per tau), block k on units 2k and 2k + 1.
- Odd N: the last unit has no recurrent weight (W_NN = 0), a plain leaky unit with the stable real
  eigenvalue -1 of J.
- ``gain`` is not used: the Hopf condition (a_k just above 1) sets the blocks' scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

INITIALISATIONS = ("gaussian", "orthogonal", "qpta")
GROWTH_BAND = (0.02, 0.1)  # eps_k = a_k - 1, per tau
FREQUENCY_BAND = (0.3, 2.0)  # limit-cycle angular frequency Omega_k, rad per tau
RESONANT_RATIOS = (1.0, 1.5, 2.0, 3.0, 4.0)  # p:q with p + q <= 5: 1:1, 3:2, 2:1, 3:1, 4:1


def growth_rates(n_blocks: int, generator: torch.Generator) -> torch.Tensor:
    """eps_k (n_blocks,) float64, uniform on GROWTH_BAND, per tau."""
    low, high = GROWTH_BAND
    return low + (high - low) * torch.rand(n_blocks, generator=generator, dtype=torch.float64)


def resonance_tolerance(n_blocks: int) -> float:
    """delta_M: the least distance, in log ratio, between any two cycle frequencies' ratio and a
    ratio in RESONANT_RATIOS."""
    low, high = FREQUENCY_BAND
    return math.log(high / low) / (36 * max(n_blocks, 1))


def distance_to_resonance(log_ratios: torch.Tensor) -> torch.Tensor:
    """(...,) -> (...,): the distance of each log frequency ratio ln(Omega_i / Omega_j) from the
    nearest +-ln r, r in RESONANT_RATIOS."""
    resonant = torch.log(torch.tensor(RESONANT_RATIOS, dtype=log_ratios.dtype))
    return (log_ratios.abs().unsqueeze(-1) - resonant).abs().amin(-1)


def resonance_margin(frequencies: torch.Tensor) -> float:
    """min over pairs i < j of ``distance_to_resonance``(ln(Omega_i / Omega_j)) for frequencies
    (M,); inf for M < 2."""
    logs = frequencies.double().log()
    i, j = torch.triu_indices(len(logs), len(logs), offset=1)
    return distance_to_resonance(logs[i] - logs[j]).min().item() if len(i) else math.inf


def cycle_frequencies(n_blocks: int, generator: torch.Generator) -> torch.Tensor:
    """Omega_k (n_blocks,) float64 in rad per tau: log-uniform on FREQUENCY_BAND, rejection-sampled
    so that ``resonance_margin`` >= ``resonance_tolerance``(n_blocks)."""
    low, high = (math.log(f) for f in FREQUENCY_BAND)
    tolerance = resonance_tolerance(n_blocks)
    kept = torch.empty(n_blocks, dtype=torch.float64)  # log Omega
    n_kept = 0
    while n_kept < n_blocks:
        candidate = low + (high - low) * torch.rand((), generator=generator, dtype=torch.float64)
        if n_kept == 0 or distance_to_resonance(candidate - kept[:n_kept]).min() >= tolerance:
            kept[n_kept] = candidate
            n_kept += 1
    return kept.exp()


@dataclass(frozen=True)
class HopfBlocks:
    """M blocks a_k I + w_k R90 of W: ``growth`` eps_k = a_k - 1 (M,) per tau and ``frequency``
    w_k (M,) rad per tau, the imaginary parts of W's eigenvalues; float64."""

    growth: torch.Tensor
    frequency: torch.Tensor

    @property
    def eigenvalues(self) -> torch.Tensor:
        """a_k + i w_k (M,) complex128; W also has their conjugates."""
        return torch.complex(1 + self.growth, self.frequency)

    @property
    def cycle_frequency(self) -> torch.Tensor:
        """Omega_k = w_k / a_k (M,), rad per tau: the limit cycle's angular frequency."""
        return self.frequency / (1 + self.growth)

    def cycle_radius(self, alpha: float = 0.0) -> torch.Tensor:
        """(M,): the limit cycle's radius to leading order, of the flow (alpha = 0) or of the Euler
        map at step alpha = dt / tau."""
        eps, w, a = self.growth, self.frequency, 1 + self.growth
        return ((4 * eps + 2 * alpha * (eps**2 + w**2)) / (a + alpha * (a * eps + w**2))).sqrt()

    def euler_multipliers(self, alpha: float) -> torch.Tensor:
        """1 + alpha (eps_k + i w_k) (M,) complex128: the Euler map's multipliers at h = 0 (and
        their conjugates)."""
        return 1 + alpha * (self.eigenvalues - 1)

    def matrix(self, n: int) -> torch.Tensor:
        """W (n, n) float32, n = 2 M or 2 M + 1: block k on units 2k, 2k + 1, zero elsewhere."""
        if n // 2 != len(self.growth):
            raise ValueError(f"{len(self.growth)} blocks do not fill {n} units")
        first = 2 * torch.arange(len(self.growth))  # the block's first unit
        W = torch.zeros(n, n, dtype=torch.float64)
        W[first, first] = W[first + 1, first + 1] = 1 + self.growth
        W[first + 1, first] = self.frequency
        W[first, first + 1] = -self.frequency
        return W.float()


def hopf_blocks(n_blocks: int, generator: torch.Generator) -> HopfBlocks:
    """The qpta blocks: growth rates, then cycle frequencies, from ``generator``; w_k = a_k Omega_k."""
    growth = growth_rates(n_blocks, generator)
    return HopfBlocks(growth, (1 + growth) * cycle_frequencies(n_blocks, generator))


def haar_orthogonal(n: int, generator: torch.Generator) -> torch.Tensor:
    """Q (n, n) float64, Haar-distributed: QR of a Gaussian with the columns' signs set by diag R."""
    q, r = torch.linalg.qr(torch.randn(n, n, generator=generator, dtype=torch.float64))
    return q * torch.diagonal(r).sign()


def recurrent_weights(init: str, n: int, gain: float, generator: torch.Generator) -> torch.Tensor:
    """The initial W (n, n) float32 by the initialisation ``init`` in INITIALISATIONS, drawn from
    ``generator``; ``gain`` scales ``gaussian`` (std gain / sqrt(n)) and ``orthogonal`` (|eigenvalues|
    = gain) and is not used by ``qpta``."""
    if init == "gaussian":
        return torch.randn(n, n, generator=generator) * (gain / math.sqrt(n))
    if init == "orthogonal":
        return (gain * haar_orthogonal(n, generator)).float()
    if init == "qpta":
        return hopf_blocks(n // 2, generator).matrix(n)
    raise ValueError(f"unknown initialisation {init!r}; known: {', '.join(INITIALISATIONS)}")
