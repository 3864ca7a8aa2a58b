"""The orthogonal-update family: one projector for duncker, owm and gpm."""

import pytest
import torch

from motifbench.evaluator import EvalConfig, Evaluator
from motifbench.method import HyperparameterError
from motifbench.methods.orthogonal import GPM, OWM, Orthogonal, Projector, extend_basis

SMALL = EvalConfig(n_sequences=2, sequence_length=2, transition_repeats=1, prep_sweep_tau=(10.0,))


def activity(seed: int, trials: int = 3, steps: int = 7, n: int = 6) -> torch.Tensor:
    return torch.randn(trials, steps, n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_owm_recursion_equals_its_closed_form():
    """P = (I + sum_x x x^T / alpha)^-1 over the trial-mean vectors of every step, two motifs."""
    projector = Projector(6, "owm", alpha=0.5, threshold=0.0, device=torch.device("cpu"))
    first, second = activity(0), activity(1)
    projector.add(first)
    projector.add(second)
    means = torch.cat([first.mean(dim=0), second.mean(dim=0)])
    expected = torch.linalg.inv(torch.eye(6, dtype=torch.float64) + means.T @ means / 0.5)
    torch.testing.assert_close(projector.matrix, expected, rtol=1e-9, atol=1e-9)


def test_duncker_projects_with_the_running_mean_covariance():
    projector = Projector(6, "duncker", alpha=1e-3, threshold=0.0, device=torch.device("cpu"))
    first, second = activity(0).reshape(-1, 6), activity(1).reshape(-1, 6)
    projector.add(activity(0))
    projector.add(activity(1))
    covariance = (first.T @ first / len(first) + second.T @ second / len(second)) / 2
    expected = torch.linalg.inv(covariance / 1e-3 + torch.eye(6, dtype=torch.float64))
    torch.testing.assert_close(projector.matrix, expected)


def test_gpm_basis_is_orthonormal_and_keeps_the_threshold_energy_with_the_fewest_vectors():
    R = activity(2, trials=1, steps=40, n=12)[0].T * torch.linspace(3.0, 0.1, 12, dtype=torch.float64)[:, None]
    empty = torch.zeros(12, 0, dtype=torch.float64)
    basis = extend_basis(empty, R, 0.9)
    torch.testing.assert_close(basis.T @ basis, torch.eye(basis.shape[1], dtype=torch.float64))
    kept = lambda M: float((M.T @ R).pow(2).sum() / R.pow(2).sum())
    assert kept(basis) >= 0.9 > kept(basis[:, :-1])
    more = extend_basis(basis, activity(3, trials=1, steps=40, n=12)[0].T, 0.9)
    assert torch.equal(more[:, : basis.shape[1]], basis)
    assert extend_basis(more, R, 0.9).shape == more.shape  # R is already kept


class FixedStep:
    """An optimizer stand-in whose step adds the same random change to every weight."""

    def __init__(self, model: torch.nn.Module, size: float):
        generator = torch.Generator().manual_seed(9)
        self.changes = [(p, size * torch.randn(p.shape, generator=generator)) for p in model.parameters()]

    @torch.no_grad()
    def step(self) -> None:
        for parameter, change in self.changes:
            parameter.add_(change)


def test_a_hard_projection_leaves_the_recorded_motif_unchanged_to_first_order(smoke):
    """After GPM's projection built from motif 0's recorded trial, a small random step of every
    weight block changes motif 0's output, from the same initial state, by far less than the
    same step does without the projection."""
    method = GPM(n_hidden=128, max_iterations=5, activity_trials=1, gpm_threshold=1.0)
    method.setup(Evaluator(method, smoke, 0).info, seed=0)
    motif = smoke.motifs[0]
    method.fit([motif])
    before_recording = method.generator.get_state()
    method.record(motif)
    method.generator.set_state(before_recording)
    h0 = method.random_states(1)  # the recorded trial's initial state
    model, ids = method.model, torch.tensor([motif.motif_id])

    def output() -> torch.Tensor:
        with torch.no_grad():
            return model.run(h0, model.W_in[:, ids].T, method.info.n_prep, motif.n_steps)[0]

    weights = {name: p.detach().clone() for name, p in model.named_parameters()}
    baseline, step = output(), FixedStep(model, 1e-3)
    method.take_step(step)  # the step, projected
    projected_change = (output() - baseline).abs().max()
    model.load_state_dict(weights)
    step.step()  # the same step, unprojected
    raw_change = (output() - baseline).abs().max()
    assert raw_change > 1e-3
    assert projected_change < 1e-3 * raw_change


@pytest.mark.parametrize("cls", [Orthogonal, OWM, GPM])
def test_every_mode_learns_and_protects_old_motifs(cls, smoke):
    evaluation = Evaluator(cls(), smoke, 0, SMALL).run()
    assert evaluation.metrics["plasticity"] > 0.8
    assert evaluation.metrics["forgetting"] < 0.1


def test_aliases_fix_the_mode_and_a_bad_mode_is_refused():
    assert (Orthogonal().hp.mode, OWM().hp.mode, GPM().hp.mode) == ("duncker", "owm", "gpm")
    with pytest.raises(HyperparameterError, match="mode='svd'"):
        Orthogonal(mode="svd")


def test_only_duncker_projects_on_both_sides(smoke):
    for cls, two_sided in [(Orthogonal, True), (OWM, False), (GPM, False)]:
        method = cls(n_hidden=8)
        method.setup(Evaluator(method, smoke, 0).info, seed=0)
        assert (method.kernel_left is not None) == two_sided
        assert method.kernel_right.matrix.shape == (8 + len(smoke.motifs) + 2,) * 2


def test_state_dict_round_trips_the_projectors(smoke):
    method = Orthogonal(n_hidden=16, max_iterations=3)
    method.setup(Evaluator(method, smoke, 0).info, seed=0)
    method.learn(smoke.motifs[0])
    snapshot = method.state_dict()
    kept = method.kernel_left.matrix.clone()
    method.learn(smoke.motifs[1])
    assert not torch.equal(method.kernel_left.matrix, kept)
    method.load_state_dict(snapshot)
    assert torch.equal(method.kernel_left.matrix, kept)
    assert method.kernel_right.motifs == 1
