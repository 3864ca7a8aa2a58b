"""ann_prep: a preparatory input and a start state per motif, trained with the production."""

import pytest
import torch

from motifbench.baselines.ann_prep import ANNPrep
from motifbench.evaluator import Evaluator
from motifbench.method import HyperparameterError

FAST = dict(n_hidden=24, repertoire=2, pretrain_iterations=20, max_iterations=10)


def learned(smoke, **hyperparams) -> ANNPrep:
    method = ANNPrep(**{**FAST, **hyperparams})
    method.setup(Evaluator(method, smoke, 0).info, seed=0)
    method.learn(smoke.motifs[0])
    return method


def prepared_distance(method: ANNPrep, n_prep: int) -> float:
    """Mean squared distance to motif 0's start state after ``n_prep`` preparatory steps from random states."""
    states = torch.randn(32, method.hp.n_hidden, generator=torch.Generator().manual_seed(5)) * 2
    _, end = method.generate(torch.zeros(32, dtype=torch.long), states, n_prep, 0)
    return float((end - method.motif_params.starts[0].detach()).pow(2).mean())


def test_the_preparatory_period_is_cued_by_the_motifs_preparatory_input(smoke):
    method = learned(smoke)
    ids, start = torch.zeros(2, dtype=torch.long), method.rest_state(2)
    with_prep, _ = method.generate(ids, start, 10, 5)
    without_prep, _ = method.generate(ids, start, 0, 5)
    with torch.no_grad():
        method.motif_params.prep_inputs[0].add_(1.0)
    assert not torch.equal(method.generate(ids, start, 10, 5)[0], with_prep)
    assert torch.equal(method.generate(ids, start, 0, 5)[0], without_prep)


def test_learning_brings_the_preparation_to_the_start_state(smoke):
    method = ANNPrep(**{**FAST, "max_iterations": 60})
    method.setup(Evaluator(method, smoke, 0).info, seed=0)
    before = prepared_distance(method, 50)
    method.learn(smoke.motifs[0])
    assert prepared_distance(method, 50) < 0.5 * before


def test_the_preparation_term_is_weighted(smoke):
    method = learned(smoke, prep_weight=0.0)
    _, preparation = method.training_trials(torch.zeros(4, dtype=torch.long), 5)
    assert preparation.item() == 0.0
    method = learned(smoke)
    _, preparation = method.training_trials(torch.zeros(4, dtype=torch.long), 5)
    assert preparation.item() > 0.0


def test_a_reversed_preparation_range_is_refused_when_the_settings_are_made():
    with pytest.raises(HyperparameterError, match="prep_tau_range"):
        ANNPrep(**FAST, prep_tau_range=(20.0, 2.0))

