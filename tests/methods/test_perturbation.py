"""Node and weight perturbation: averaged over many trials, each estimate is BPTT's gradient."""

import pytest
import torch

from motifbench.baselines.finetune import Finetune
from motifbench.baselines.rate_rnn import _padded_targets
from motifbench.evaluator import Evaluator
from motifbench.losses import nmse_weights
from motifbench.method import HyperparameterError
from motifbench.methods.perturbation import NodePerturbation, WeightPerturbation


@pytest.mark.parametrize("rule", [NodePerturbation, WeightPerturbation], ids=lambda rule: rule.card.name)
def test_the_mean_estimate_is_the_gradient(rule, smoke):
    """From rest (so every trial is the same clean trial), the mean of 10,000 trials' estimates
    points along BPTT's gradient (cosine > 0.98) with its length (within 10%), for every weight
    a trial uses; the readout's delta rule is the gradient itself."""
    hyperparams = dict(n_hidden=8, init_state_std=0.0)
    method, bptt = rule(**hyperparams, batch_size=1000), Finetune(**hyperparams)
    for m in (method, bptt):
        m.setup(Evaluator(m, smoke, 0).info, seed=0)
    bptt.model.load_state_dict(method.model.state_dict())
    motif = smoke.motifs[0]
    target, mask = _padded_targets([motif], motif.n_steps, torch.device("cpu"))
    weights = nmse_weights(target, mask)
    bptt.training_gradients(torch.tensor([0]), target, weights)
    ids = torch.zeros(1000, dtype=torch.long)
    estimate = {name: torch.zeros_like(p) for name, p in method.model.named_parameters()}
    for _ in range(10):
        method.training_gradients(ids, target.expand(1000, -1, -1), weights.expand(1000, -1, -1))
        for name, p in method.model.named_parameters():
            estimate[name] += p.grad / 10
    used = [0, -1]  # the cue's column of W_in and the go column
    for (name, p) in bptt.model.named_parameters():
        a, b = (estimate[name][:, used], p.grad[:, used]) if name == "W_in" else (estimate[name], p.grad)
        cosine = torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0)
        assert cosine > 0.98 and abs(a.norm() / b.norm() - 1) < 0.1, name
    assert torch.all(estimate["W_in"][:, 1:-1] == 0)  # the other cues carry no input: no change


def test_a_zero_perturbation_is_refused():
    with pytest.raises(HyperparameterError, match="perturbation_std"):
        NodePerturbation(perturbation_std=0.0)
