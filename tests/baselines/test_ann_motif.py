"""ann_additive, ann_multiplicative and ann_prep: a frozen pre-trained network, per-motif parameters, isolation."""

import numpy as np
import pytest
import torch

from motifbench.baselines.ann_additive import ANNAdditive
from motifbench.baselines.ann_multiplicative import ANNMultiplicative
from motifbench.baselines.ann_prep import ANNPrep
from motifbench.evaluator import EvalConfig, Evaluator

FAST = dict(n_hidden=24, repertoire=2, pretrain_iterations=20, max_iterations=10)
SMALL = EvalConfig(n_sequences=2, sequence_length=2, transition_repeats=1, prep_sweep_tau=(10.0,))


@pytest.mark.parametrize("cls", [ANNAdditive, ANNMultiplicative, ANNPrep])
def test_isolated_by_construction(cls, smoke):
    evaluation = Evaluator(cls(**FAST), smoke, 0, SMALL).run()
    assert evaluation.metrics["isolated"] is True
    assert evaluation.metrics["forgetting"] == 0.0
    assert np.all(evaluation.output_change == 0)


@pytest.mark.parametrize("cls", [ANNAdditive, ANNMultiplicative, ANNPrep])
def test_learning_trains_only_the_motifs_own_parameters(cls, smoke):
    method = cls(**FAST)
    method.setup(Evaluator(method, smoke, 0).info, seed=0)
    before = method.state_dict()
    method.learn(smoke.motifs[1])
    after = method.state_dict()
    for name, value in before["model"].items():
        assert torch.equal(value, after["model"][name]), f"shared {name} changed"
    changed = {n for n, v in before["motif_params"].items() if not torch.equal(v, after["motif_params"][n])}
    assert changed and all(n.endswith(".1") for n in changed), changed


def test_parameter_count_grows_by_the_motifs_own_parameters(smoke):
    N, rank = 24, 3
    counts = Evaluator(ANNMultiplicative(**FAST, rank=rank), smoke, 0, SMALL).run().parameter_counts
    assert np.diff(counts).tolist() == [N + 2 * N * rank] * (len(smoke.motifs) - 1)
    counts = Evaluator(ANNAdditive(**FAST), smoke, 0, SMALL).run().parameter_counts
    assert np.diff(counts).tolist() == [N] * (len(smoke.motifs) - 1)
    counts = Evaluator(ANNPrep(**FAST), smoke, 0, SMALL).run().parameter_counts
    assert np.diff(counts).tolist() == [3 * N] * (len(smoke.motifs) - 1)


def test_the_repertoire_is_the_methods_own(smoke):
    method = ANNAdditive(**FAST)
    method.setup(Evaluator(method, smoke, 0).info, seed=0)
    pretraining = method.training_log[0]
    assert pretraining["iterations"] >= 1
    assert len(method.motif_params.inputs) == len(smoke.motifs) + FAST["repertoire"]
