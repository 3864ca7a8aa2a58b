"""Thalamocortical motif control: a linear cortex, one low-rank thalamic loop per motif, and a
shared preparatory loop.

Logiaco, Abbott & Escola 2021, Cell Reports 35:109090, "Thalamic control of cortical dynamics
in a model of flexible motor sequencing"; Logiaco & Escola 2020, arXiv:2006.13332.

The maths, with time in units of tau (x: cortical rates (N,), y = W x: output (d_out,)):

- Motif k:  dx/dt = (J0 - I) x + U_k V_k x.  J0 (N, N) is random and fixed; U_k (N, r) is
  random and V_k (r, N) is the motif's learned loop, whose r thalamic units are silent
  outside motif k (so learning motif k changes nothing that other motifs use).
- Preparation for motif k:  dx/dt = (J_p - I) x + b_k,  J_p = J0 + U_p V_p,
  b_k = (I - J_p) x0_k, so x(t) = x0_k + e^{(J_p - I) t} (x(0) - x0_k) for any x(0).
- Learning motif k (no gradient descent on outputs):
  1. Fit the target as damped complex modes, y(t) ~ sum_m Re(c_m e^{gamma_m t}), by
     variable projection (amplitudes by least squares, eigenvalues by bounded least squares).
  2. Place mu_m = 1 + gamma_m among the eigenvalues of J0 + U_k V_k. Its eigenvector must be
     x_m = (mu_m I - J0)^-1 U_k a_m; pick a_m (min-norm) so that W x_m = c_m / 2, then
     V_k x_m = a_m (and its conjugate) is linear in V_k: a ridge least-squares solve.
  3. Start state in closed form: x0_k = argmin |O_k x0 - y|^2 + lambda |x0|^2, where O_k stacks
     W e^{A_k t_i} at the sample times (ridge least squares on the actual dynamics).
- The preparatory loop (U_p, V_p), rank a fraction of N, is trained once before any motif
  to make activity decay fast: L-BFGS on tr(P) / N, where (J_p - I) P + P (J_p - I)^T + I = 0
  (P = integral of e^{At} e^{A^T t} dt), with exact gradient 2 Q P / N from the dual
  Lyapunov solution Q.

Dynamics are linear and simulated with exact one-step propagators expm(A dt). The
preparation time is the evaluator's (``--set eval.prep_tau=...``); the method obeys any.

The placement ridge (``v_ridge``) trades exact eigenvalues for a small, well-conditioned loop:
without it, V and x0 grow large, and a start state that the preparation has not quite reached
is amplified. The start-state fit absorbs the placement error. Modes faster than
``max_frequency`` lie far from J0's spectrum and cannot be placed well; the default suits the
20-tau motifs of the v1 streams (the 5-tau motifs of smoke-v1 need about 5 rad per tau).
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import scipy.linalg
import scipy.optimize
import torch

from motifbench.method import (
    HyperparameterError,
    Method,
    MethodCard,
    Settings,
    StreamInfo,
    damaged_weights,
    hyperparameter,
    ordered_pair,
    state_noise,
)
from motifbench.streams import Motif

BLOCK = 16  # rows per propagator product: a fixed shape makes each row's rounding independent of the batch
AMPLITUDE_RIDGE = 1e-4  # ridge of the mode amplitudes in the mode fit (targets are scaled to unit peak)
LOWEST_FREQUENCY = 0.03  # rad per tau: every mode oscillates, so its eigenvalues form a conjugate pair
UNSTABLE = 1e10  # loss of a preparatory loop whose dynamics are not stable
DEFAULT_LOOP_RANK = 4  # thalamic units per motif loop unless the output has more dimensions


@dataclass(frozen=True)
class ThalamocorticalHyperparams(Settings):
    n_cortex: int = hyperparameter(500, "cortical units N", low=1)
    gain: float = hyperparameter(0.9, "std of the random cortical weights J0 times sqrt(N)", low=0)
    loop_rank: int = hyperparameter(
        0, f"thalamic units r of each motif's loop, at least the output dimension (0: max({DEFAULT_LOOP_RANK}, d_out))",
        low=0,
    )
    n_modes: int = hyperparameter(5, "damped oscillatory modes per motif (each places a conjugate pair)", low=1)
    max_frequency: float = hyperparameter(2.0, "largest angular frequency of a mode, rad per tau", low=0.1)
    decay_range: tuple[float, ...] = hyperparameter((0.01, 1.0), "slowest and fastest decay of a mode, per tau", low=0)
    fit_restarts: int = hyperparameter(12, "random starts of the mode fit", low=1)
    v_ridge: float = hyperparameter(1e-6, "ridge of the eigenvalue placement, relative to |X|^2", low=0)
    x0_ridge: float = hyperparameter(1e-3, "ridge lambda of the start-state least squares", low=0)
    prep_fraction: float = hyperparameter(
        0.1, "preparatory thalamic units as a fraction of N (0: no loop, J0 alone)", low=0, high=1
    )
    prep_iterations: int = hyperparameter(100, "L-BFGS iterations of the preparatory loop at most", low=0)

    def check(self) -> None:
        ordered_pair("decay_range", self.decay_range, strict=True)


@dataclass
class MotifLoop:
    """What learning one motif adds: its loop U (N, r), V (r, N), its start state x0 (N,) and
    its preparatory input b = (I - J_p) x0 (N,)."""

    motif_id: int
    U: np.ndarray
    V: np.ndarray
    x0: np.ndarray
    prep_input: np.ndarray


class Thalamocortical(Method):
    card = MethodCard(
        name="thalamocortical",
        version="1",
        citation="Logiaco, Abbott & Escola 2021, Cell Reports 35:109090; Logiaco & Escola 2020, arXiv:2006.13332",
        uses_sgd=False,
    )
    Hyperparams = ThalamocorticalHyperparams

    def check_stream(self, info: StreamInfo) -> None:
        if 0 < self.hp.loop_rank < info.d_out:
            raise HyperparameterError(f"loop_rank={self.hp.loop_rank} is below the output dimension {info.d_out} "
                                      f"(0 picks max({DEFAULT_LOOP_RANK}, d_out))")

    def setup(self, info: StreamInfo, seed: int, device: str = "cpu") -> None:
        """Draws J0 and W, then trains the preparatory loop."""
        hp = self.hp
        self.check_stream(info)
        self.info, self.device = info, torch.device(device)
        self.loop_rank = hp.loop_rank or max(DEFAULT_LOOP_RANK, info.d_out)
        self.dt = info.dt / info.tau
        self.rng = np.random.default_rng([seed, 4099])
        N = hp.n_cortex
        self.J0 = self.rng.normal(0.0, hp.gain / math.sqrt(N), (N, N))
        self.W = self.rng.normal(0.0, 1.0 / math.sqrt(N), (info.d_out, N))
        self.prep_U, self.prep_V, self.prep_log = fit_preparatory_loop(
            self.J0, round(hp.prep_fraction * N), hp.prep_iterations, self.rng
        )
        self.loops: list[MotifLoop] = []
        self.learn_log: list[dict[str, Any]] = []
        self._refresh()

    def learn(self, motif: Motif) -> None:
        hp, N = self.hp, self.hp.n_cortex
        tic = time.perf_counter()
        gammas, amplitudes, fit_r2 = fit_modes(
            motif.target, self.dt, hp.n_modes, hp.decay_range, hp.max_frequency, hp.fit_restarts, self.rng
        )
        fit_time = time.perf_counter() - tic
        U = self.rng.normal(0.0, 1.0, (N, self.loop_rank))
        V = place_eigenvalues(self.J0, U, self.W, gammas, amplitudes, hp.v_ridge)
        A = self.J0 + U @ V - np.eye(N)
        propagator = scipy.linalg.expm(A * self.dt)
        x0 = start_state(propagator, self.W, motif.target, hp.x0_ridge)
        loop = MotifLoop(motif.motif_id, U, V, x0, x0 - self.prep_matrix @ x0)
        self.loops.append(loop)
        self._compile(loop, propagator)
        self._stack()
        place_time = time.perf_counter() - tic - fit_time
        eigenvalues = np.linalg.eigvals(A)
        self.learn_log.append(
            {
                "mode_fit_r2": fit_r2,
                "mode_fit_s": fit_time,
                "place_s": place_time,
                "placement_error": float(max(np.abs(eigenvalues - g).min() for g in gammas)),
                "max_real_eigenvalue": float(eigenvalues.real.max()),
                "v_norm": float(np.linalg.norm(V, 2)),
                "x0_norm": float(np.linalg.norm(x0)),
            }
        )

    def _refresh(self) -> None:
        """Recompute every propagator from the current weights (after setup, damage or load)."""
        N = self.hp.n_cortex
        self.prep_matrix = self.J0 + self.prep_U @ self.prep_V  # J_p (N, N)
        self.prep_propagator = scipy.linalg.expm((self.prep_matrix - np.eye(N)) * self.dt)
        self.prep_step = self._tensor(self.prep_propagator.T)
        self.compiled: list[tuple[torch.Tensor, torch.Tensor]] = []
        for loop in self.loops:
            self._compile(loop, scipy.linalg.expm((self.J0 + loop.U @ loop.V - np.eye(N)) * self.dt))
        self._stack()

    def _compile(self, loop: MotifLoop, propagator: np.ndarray) -> None:
        """Adds a motif's one-step propagator (transposed, to act on row states) and its
        preparatory offset (x <- x P_p^T + offset holds the preparation's fixed point). Each
        motif's are computed alone, so adding a motif leaves the others' bit-identical."""
        fixed_point = np.linalg.solve(np.eye(self.hp.n_cortex) - self.prep_matrix, loop.prep_input)  # x0 if undamaged
        offset = fixed_point - self.prep_propagator @ fixed_point
        self.compiled.append((self._tensor(propagator.T), self._tensor(offset)))

    def _stack(self) -> None:
        """What ``generate`` indexes: ``slots`` (motif id -> index), ``steps`` (K, N, N) and
        ``prep_offsets`` (K, N), stacked once from the compiled motifs."""
        self.slots = {loop.motif_id: i for i, loop in enumerate(self.loops)}
        if self.compiled:  # with none, generate refuses every id before it needs them
            steps, offsets = zip(*self.compiled)
            self.steps, self.prep_offsets = torch.stack(steps), torch.stack(offsets)

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.ascontiguousarray(array), dtype=torch.float64, device=self.device)

    def rest_state(self, batch: int) -> torch.Tensor:
        return torch.zeros(batch, self.hp.n_cortex, dtype=torch.float64, device=self.device)

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
        """Rows are laid out in blocks of BLOCK rows of one motif each (zero-padded), so every
        product has the same shape and a row's result never depends on the other rows."""
        unknown = sorted(set(ids.tolist()) - set(self.slots))
        if unknown:
            raise ValueError(f"motif {unknown[0]} has not been learned")
        slots = np.array([self.slots[i] for i in ids.tolist()], dtype=np.int64)
        position, block_slots = _block_layout(slots)
        where = torch.as_tensor(position, device=self.device)
        x = torch.zeros(len(block_slots) * BLOCK, self.hp.n_cortex, dtype=torch.float64, device=self.device)
        x[where] = state.to(self.device, torch.float64)
        block_slots_t = torch.as_tensor(block_slots, device=self.device)
        prep_steps = self.prep_step.expand(len(block_slots), -1, -1)
        motif_steps = self.steps[block_slots_t]
        offsets = self.prep_offsets[block_slots_t].repeat_interleave(BLOCK, dim=0)
        readout = torch.as_tensor(self.W, device=self.device)
        outputs = []
        for t in range(n_prep + n_steps):
            producing = t >= n_prep
            x = torch.bmm(x.view(-1, BLOCK, x.shape[1]), motif_steps if producing else prep_steps).view(x.shape)
            if not producing:
                x = x + offsets
            if noise_std > 0:
                x[where] += state_noise(x[where], noise_std, self.dt, generator)
            if producing:
                outputs.append((x.unsqueeze(1) * readout).sum(dim=-1))  # (rows, d_out), row by row
        y = torch.stack(outputs, dim=1)[where] if outputs else x.new_zeros(len(slots), 0, self.info.d_out)
        return y, x[where]

    def state_dict(self) -> dict[str, Any]:
        return copy.deepcopy(
            {"J0": self.J0, "W": self.W, "prep_U": self.prep_U, "prep_V": self.prep_V, "loops": self.loops}
        )

    def load_state_dict(self, state: dict[str, Any]) -> None:
        state = copy.deepcopy(state)
        self.J0, self.W, self.prep_U, self.prep_V = state["J0"], state["W"], state["prep_U"], state["prep_V"]
        self.loops = state["loops"]
        self._refresh()

    def damage(self, fraction: float, generator: torch.Generator, mode: str = "random") -> None:
        """Remove (zero) ``fraction`` of the cortical weights J0, chosen by ``mode``
        (``damaged_weights``); loops and inputs stay."""
        removed = damaged_weights(torch.from_numpy(self.J0), fraction, mode, generator).numpy()
        self.J0 = np.where(removed, 0.0, self.J0)
        self._refresh()

    def recurrent_matrix(self) -> np.ndarray:
        """J0 (N, N), fixed and random: dx/dt = (J0 - I) x + ... (the motifs' loops are in diagnostics)."""
        return self.J0.copy()

    def parameter_count(self) -> int:
        """Learned numbers: the preparatory loop, and each learned motif's V_k and x0_k."""
        per_motif = sum(loop.V.size + loop.x0.size for loop in self.loops)
        return self.prep_U.size + self.prep_V.size + per_motif

    def diagnostics(self) -> dict[str, Any]:
        return {"loop_rank": self.loop_rank, "preparatory_loop": self.prep_log, "motifs": self.learn_log}


def _block_layout(slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows grouped by slot into zero-padded blocks of BLOCK rows: each row's position (B,) in
    the padded layout, and each block's slot (n_blocks,)."""
    position = np.empty(len(slots), dtype=np.int64)
    block_slots: list[int] = []
    for slot in np.unique(slots):
        rows = np.flatnonzero(slots == slot)
        first_block = len(block_slots)
        block_slots += [int(slot)] * -(-len(rows) // BLOCK)
        position[rows] = first_block * BLOCK + np.arange(len(rows))
    return position, np.array(block_slots, dtype=np.int64)


def fit_modes(
    target: np.ndarray,
    dt: float,
    n_modes: int,
    decay_range: tuple[float, ...],
    max_frequency: float,
    restarts: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Fit ``target`` (T, d) sampled at t_i = (i + 1) dt (in tau) as sum_m Re(c_m e^{gamma_m t}).

    Variable projection: for given eigenvalues the amplitudes are a ridge least-squares
    solve, and the eigenvalues (decay in ``decay_range``, frequency in [LOWEST_FREQUENCY, max_frequency])
    are refined by bounded least squares from ``restarts`` random starts.
    Returns gammas (M,) complex, amplitudes c (M, d) complex, and the fit's r2."""
    T = len(target)
    t = dt * np.arange(1, T + 1)

    def basis(theta: np.ndarray) -> np.ndarray:
        decay, frequency = theta[:n_modes], theta[n_modes:]
        envelope = np.exp(-np.outer(t, decay))
        return np.hstack([envelope * np.cos(np.outer(t, frequency)), envelope * np.sin(np.outer(t, frequency))])

    def amplitudes(phi: np.ndarray) -> np.ndarray:
        return np.linalg.solve(phi.T @ phi + AMPLITUDE_RIDGE * np.eye(phi.shape[1]), phi.T @ target)

    def residual(theta: np.ndarray) -> np.ndarray:
        phi = basis(theta)
        coefficients = amplitudes(phi)
        return np.concatenate([(phi @ coefficients - target).ravel(), math.sqrt(AMPLITUDE_RIDGE) * coefficients.ravel()])

    lower = np.r_[np.full(n_modes, decay_range[0]), np.full(n_modes, LOWEST_FREQUENCY)]
    upper = np.r_[np.full(n_modes, decay_range[1]), np.full(n_modes, max_frequency)]
    best = None
    for _ in range(restarts):
        start = rng.uniform(lower, upper)
        result = scipy.optimize.least_squares(residual, start, bounds=(lower, upper))
        if best is None or result.cost < best.cost:
            best = result
    phi = basis(best.x)
    coefficients = amplitudes(phi)
    r2 = 1.0 - float(((phi @ coefficients - target) ** 2).mean() / target.var())
    gammas = -best.x[:n_modes] + 1j * best.x[n_modes:]
    return gammas, coefficients[:n_modes] - 1j * coefficients[n_modes:], r2


def place_eigenvalues(
    J0: np.ndarray, U: np.ndarray, W: np.ndarray, gammas: np.ndarray, amplitudes: np.ndarray, ridge: float
) -> np.ndarray:
    """V (r, N) such that J0 + U V has eigenvalues 1 + gammas (and conjugates) whose
    eigenvectors x_m read out W x_m = amplitudes[m] / 2.

    x_m = (mu_m I - J0)^-1 U a_m; a_m is the min-norm solution of W x_m = c_m / 2; V solves
    V [Re x, Im x] = [Re a, Im a] by ridge least squares (ridge relative to |X|_2^2)."""
    N = len(J0)
    xs, as_ = [], []
    for gamma, c in zip(gammas, amplitudes):
        Z = np.linalg.solve((1.0 + gamma) * np.eye(N) - J0, U)  # (N, r)
        a = np.linalg.pinv(W @ Z) @ (c / 2.0)
        xs += [(Z @ a).real, (Z @ a).imag]
        as_ += [a.real, a.imag]
    X, A = np.stack(xs, axis=1), np.stack(as_, axis=1)  # (N, 2M), (r, 2M)
    gram = X.T @ X
    shift = ridge * np.linalg.eigvalsh(gram).max()
    return A @ np.linalg.solve(gram + shift * np.eye(len(gram)), X.T)


def start_state(step: np.ndarray, W: np.ndarray, target: np.ndarray, ridge: float) -> np.ndarray:
    """x0 (N,) minimising sum_i |W step^(i+1) x0 - target[i]|^2 + ridge |x0|^2 (closed form)."""
    rows, readout = [], W
    for _ in range(len(target)):
        readout = readout @ step
        rows.append(readout)
    O = np.concatenate(rows)  # (T d, N), row i d + j = output j at sample i
    y = target.reshape(-1)
    return O.T @ np.linalg.solve(O @ O.T + ridge * np.eye(len(O)), y)


def preparatory_loss(J0: np.ndarray, rank: int) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    """The preparatory loop's loss and its gradient, as functions of theta = [U_p, V_p]
    flattened ((N, rank) then (rank, N)): tr(P) / N for A = J0 + U_p V_p - I, where
    A P + P A^T + I = 0, the mean squared size over all times of e^{At} applied to random unit
    deviations; UNSTABLE if A is not stable. One real Schur form serves P and its dual Q."""
    N = len(J0)
    identity = np.eye(N)

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        U, V = theta[: N * rank].reshape(N, rank), theta[N * rank :].reshape(rank, N)
        T, Z = scipy.linalg.schur(J0 + U @ V - identity)
        Y, scale, _ = scipy.linalg.lapack.dtrsyl(T, T, -identity, tranb="T")
        P = Z @ (Y / scale) @ Z.T
        try:
            np.linalg.cholesky(P)  # P is positive definite exactly when A is stable
        except np.linalg.LinAlgError:
            return UNSTABLE, np.zeros_like(theta)
        Y, scale, _ = scipy.linalg.lapack.dtrsyl(T, T, -identity, trana="T")
        Q = Z @ (Y / scale) @ Z.T
        G = 2.0 * Q @ P / N
        return float(np.trace(P)) / N, np.concatenate([(G @ V.T).ravel(), (U.T @ G).ravel()])

    return loss


def fit_preparatory_loop(
    J0: np.ndarray, rank: int, iterations: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """U_p (N, rank), V_p (rank, N) minimising ``preparatory_loss`` by L-BFGS, from a random
    U_p and V_p = 0 (J0 alone)."""
    N = len(J0)
    loss = preparatory_loss(J0, rank)
    tic = time.perf_counter()
    theta0 = np.concatenate([rng.normal(0.0, 1.0 / math.sqrt(N), N * rank), np.zeros(rank * N)])
    initial = loss(theta0)[0]
    if rank == 0 or iterations == 0:
        theta, final, used = theta0, initial, 0
    else:
        result = scipy.optimize.minimize(loss, theta0, jac=True, method="L-BFGS-B", options={"maxiter": iterations})
        theta, final, used = result.x, float(result.fun), int(result.nit)
    log = {"rank": rank, "loss_initial": initial, "loss_final": final, "iterations": used, "s": time.perf_counter() - tic}
    return theta[: N * rank].reshape(N, rank), theta[N * rank :].reshape(rank, N), log
