"""Online EWC: the sampled Gauss-Newton Fisher is the exact one, and the penalty anchors the weights."""

import numpy as np
import pytest
import torch

from motifbench.baselines.ewc import EWC
from motifbench.evaluator import EvalConfig, Evaluator
from motifbench.streams import Motif, Stream


def tiny_stream() -> Stream:
    t = np.linspace(0, 1, 4)
    motifs = (Motif(0, np.sin(3 * t)[:, None]), Motif(1, np.cos(2 * t)[:, None]))
    return Stream("tiny-v1", 0, motifs, "test", "none", "smoke")


def setup_ewc(stream, n_hidden=4, **hp) -> EWC:
    method = EWC(n_hidden=n_hidden, **hp)
    method.setup(Evaluator(method, stream, 0, EvalConfig(prep_tau=1.0)).info, seed=0)  # 5 prep steps
    return method


def exact_gauss_newton(method: EWC, motif: Motif) -> dict[str, torch.Tensor]:
    """sum_{t,o} (dy_{t,o}/dtheta)^2 / (T d var) by one backward pass per output, from the rest state."""
    params = dict(method.model.named_parameters())
    y, _ = method.forward(method.rest_state(1), torch.tensor([motif.motif_id]), method.info.n_prep, motif.n_steps)
    exact = {n: torch.zeros_like(p) for n, p in params.items()}
    for index in np.ndindex(*y.shape[1:]):
        grads = torch.autograd.grad(y[(0, *index)], list(params.values()), retain_graph=True, allow_unused=True)
        for n, g in zip(params, grads):
            if g is not None:
                exact[n] += g**2
    norm = motif.target.size * float(motif.target.var(dtype=np.float64))
    return {n: f / norm for n, f in exact.items()}


def test_sampled_fisher_is_the_gauss_newton_diagonal():
    stream = tiny_stream()
    # init_state_std = 0: every trial starts at rest, so the estimate averages over eps alone
    method = setup_ewc(stream, init_state_std=0.0, fisher_trials=1500)
    motif = stream.motifs[0]
    sampled = method.gauss_newton_fisher(motif)
    exact = exact_gauss_newton(method, motif)
    for name in ("W", "W_out", "b"):
        torch.testing.assert_close(sampled[name], exact[name], rtol=0.2, atol=1e-3 * float(exact[name].max()))
    assert float(exact["W"].sum()) > 0


def test_fisher_does_not_vanish_when_the_motif_is_fit():
    """The Gauss-Newton Fisher does not depend on the residual, unlike the empirical Fisher."""
    stream = tiny_stream()
    method = setup_ewc(stream, n_hidden=32, max_iterations=500, lr=1e-2, fisher_trials=16)
    before = method.gauss_newton_fisher(stream.motifs[0])
    method.fit([stream.motifs[0]])
    after = method.gauss_newton_fisher(stream.motifs[0])
    assert method.training_log[-1]["train_nmse"] < 0.05
    assert float(after["W"].sum()) > 0.1 * float(before["W"].sum())


def test_online_fisher_accumulates_with_decay_and_the_penalty_anchors():
    stream = tiny_stream()
    method = setup_ewc(stream, max_iterations=3, fisher_trials=4, decay=0.5, ewc_lambda=2.0)
    assert method.penalty() is None
    method.learn(stream.motifs[0])
    first = {n: f.clone() for n, f in method.fisher.items()}
    assert float(method.penalty().detach()) == 0.0  # at the anchor
    method.learn(stream.motifs[1])
    with torch.no_grad():
        method.model.W.add_(0.1)
        expected = 0.5 * 2.0 * float((method.fisher["W"] * 0.1**2).sum())
    assert float(method.penalty().detach()) == pytest.approx(expected, rel=1e-4)
    assert all(float((method.fisher[n] - 0.5 * first[n]).min()) >= 0 for n in first)


def test_lambda_zero_skips_the_fisher():
    stream = tiny_stream()
    method = setup_ewc(stream, max_iterations=2, ewc_lambda=0.0)
    method.learn(stream.motifs[0])
    assert method.penalty() is None and method.diagnostics()["fisher"] == []
