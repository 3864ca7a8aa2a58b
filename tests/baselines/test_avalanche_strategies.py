"""The five Avalanche strategies through motifbench's evaluator on smoke-v1 (tiny settings)."""

import math

import numpy as np
import pytest

pytest.importorskip("avalanche")

from motifbench.baselines import avalanche_strategies as A
from motifbench.baselines.finetune import Finetune
from motifbench.baselines.zero import Zero
from motifbench.evaluator import EvalConfig, Evaluator

SMALL = EvalConfig(n_sequences=2, sequence_length=2, transition_repeats=1, prep_sweep_tau=(10.0,))
TINY = {"n_hidden": 24, "trials_per_motif": 32, "train_epochs": 20, "lr": 1e-2}  # 40 iterations per motif
STRATEGIES = {
    "avalanche_naive": A.AvalancheNaive,
    "avalanche_ewc": A.AvalancheEWC,
    "avalanche_si": A.AvalancheSI,
    "avalanche_lwf": A.AvalancheLwF,
    "avalanche_replay": A.AvalancheReplay,
}


def evaluate(cls, stream, **hyperparams):
    settings = {key: value for key, value in {**TINY, **hyperparams}.items() if value is not None}
    return Evaluator(cls(**settings), stream, 0, SMALL).run()


@pytest.fixture(scope="module")
def runs(smoke):
    return {name: evaluate(cls, smoke) for name, cls in STRATEGIES.items()}


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_runs_with_finite_scores_and_a_card(runs, name):
    cls = STRATEGIES[name]
    assert cls.card.name == name and "Lomonaco et al. 2021" in cls.card.citation
    assert cls.card.stores_past_data == (name == "avalanche_replay")
    evaluation = runs[name]
    for metric in ("final_r2", "plasticity", "forgetting", "transition_success", "sequence_success"):
        assert math.isfinite(float(evaluation.metrics[metric])), metric
    assert np.isfinite(evaluation.R[np.tril_indices(3)]).all()
    log = evaluation.diagnostics["training"]
    assert len(log) == 3 and all(entry["iterations"] == 40 for entry in log)
    assert evaluation.diagnostics["avalanche"]["version"]
    assert not evaluation.diagnostics["avalanche"]["strategy"].startswith("Avalanche")


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_deterministic_under_a_seed(runs, smoke, name):
    again = evaluate(STRATEGIES[name], smoke)
    np.testing.assert_array_equal(again.R, runs[name].R)
    np.testing.assert_array_equal(again.transition_nmse, runs[name].transition_nmse)


def test_naive_learns(runs, smoke):
    floor = Evaluator(Zero(), smoke, 0, SMALL).run().metrics["plasticity"]
    assert floor <= 0
    assert runs["avalanche_naive"].metrics["plasticity"] >= floor + 0.5


def test_first_motif_is_trained_exactly_as_fit_trains_it(runs, smoke):
    """Same initial states, Adam steps, clipping and loss: Avalanche's loop reproduces ``fit``
    (later motifs differ: Avalanche keeps Adam's state across experiences, fit starts afresh)."""
    reference = evaluate(Finetune, smoke, max_iterations=40, trials_per_motif=None, train_epochs=None)
    assert runs["avalanche_naive"].R[0, 0] == pytest.approx(reference.R[0, 0], abs=1e-6)


def test_ewc_records_avalanches_fisher_and_penalises(runs):
    diagnostics = runs["avalanche_ewc"].diagnostics
    names = ["mean_F_W", "mean_F_W_in", "mean_F_W_out", "mean_F_b"]
    assert [sorted(entry) for entry in diagnostics["fisher"]] == [names] * 3
    assert all(value >= 0 for entry in diagnostics["fisher"] for value in entry.values())
    assert diagnostics["training"][0]["mean_penalty"] == 0
    assert diagnostics["training"][2]["mean_penalty"] > 0
    assert not np.array_equal(runs["avalanche_ewc"].R, runs["avalanche_naive"].R)


def test_lwf_penalty_is_zero_on_regression_outputs(runs):
    """As its docstring says: Avalanche's LwF distils a soft-max over one time step, so it is Naive."""
    assert all(entry["mean_penalty"] == 0 for entry in runs["avalanche_lwf"].diagnostics["training"])
    np.testing.assert_array_equal(runs["avalanche_lwf"].R, runs["avalanche_naive"].R)


def test_si_needs_its_snapshots_copied(runs, smoke):
    """Stock avalanche 0.6.0 SI aliases its weight snapshots on CPU: zero importance, zero penalty."""
    omega = runs["avalanche_si"].diagnostics["omega"]
    assert omega[0]["fraction_at_cap"] > 0
    assert runs["avalanche_si"].diagnostics["training"][1]["mean_penalty"] != 0
    stock = evaluate(A.AvalancheSI, smoke, si_copy_snapshots=False)
    assert all(value == 0 for entry in stock.diagnostics["omega"] for value in entry.values())
    np.testing.assert_array_equal(stock.R, runs["avalanche_naive"].R)


def test_replay_keeps_old_motifs_better_than_naive(runs):
    assert runs["avalanche_replay"].metrics["forgetting"] < runs["avalanche_naive"].metrics["forgetting"]


def test_strategy_gets_only_the_current_experience(smoke):
    method = A.AvalancheNaive(**TINY)
    method.setup(Evaluator(method, smoke, 0, SMALL).info, seed=0)
    seen = []
    train = method.strategy.train
    method.strategy.train = lambda experience, **kwargs: seen.append(experience) or train(experience, **kwargs)
    for motif in smoke.motifs[:2]:
        method.learn(motif)
    assert [e.current_experience for e in seen] == [0, 1]
    assert [set(e.dataset.targets.uniques) for e in seen] == [{0}, {1}]
    with pytest.raises(ValueError, match="stream order"):
        method.learn(smoke.motifs[0])
