"""What the four local rules share: they learn with autograd switched off, and learn as the
evaluator measures it."""

import pytest
import torch

from motifbench.baselines.finetune import Finetune
from motifbench.evaluator import EvalConfig, Evaluator
from motifbench.methods.perturbation import NodePerturbation, WeightPerturbation
from motifbench.methods.traces import RFLO, EProp

SMALL = EvalConfig(n_sequences=2, sequence_length=2, transition_repeats=1, prep_sweep_tau=(10.0,))
RULES = (RFLO, EProp, NodePerturbation, WeightPerturbation)
QUICK = dict(n_hidden=32, max_iterations=1000)
# 64 units and 1,500 updates a motif, where the perturbation rules still stall on the first motif
# for a while (nmse 0.2-0.5); node perturbation, whose estimate is the noisiest, at a
# higher learning rate than its default, which needs more updates than that on smoke-v1
SMOKE = {RFLO: {}, EProp: {}, NodePerturbation: dict(lr=1e-3), WeightPerturbation: {}}


def rest_nmse(method, motif) -> float:
    ids = torch.tensor([motif.motif_id])
    y, _ = method.generate(ids, method.rest_state(1), method.info.n_prep, motif.n_steps)
    target = torch.from_numpy(motif.target.copy())
    return float((y[0] - target).square().mean() / target.var(unbiased=False))


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.card.name)
def test_learns_with_autograd_switched_off(rule, smoke):
    """``learn`` under ``torch.set_grad_enabled(False)``: a rule that needed autograd would raise
    or not learn; each one cuts the motif's nmse from rest to a small fraction."""
    method = rule(**QUICK)
    method.setup(Evaluator(method, smoke, 0).info, seed=0)
    motif = smoke.motifs[0]
    before = rest_nmse(method, motif)
    with torch.set_grad_enabled(False):
        method.learn(motif)
    assert rest_nmse(method, motif) < 0.2 * before


def test_the_autograd_check_can_fail(smoke):
    """The same check catches a method that learns by back-propagation: finetune cannot learn
    with autograd switched off."""
    method = Finetune(**QUICK)
    method.setup(Evaluator(method, smoke, 0).info, seed=0)
    with torch.set_grad_enabled(False), pytest.raises(RuntimeError, match="does not require grad"):
        method.learn(smoke.motifs[0])


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.card.name)
def test_each_rule_learns_the_motifs_of_smoke(rule, smoke):
    """Plasticity (each motif's r2 right after learning it) well above zero's, which is <= 0."""
    scores = Evaluator(rule(n_hidden=64, max_iterations=1500, **SMOKE[rule]), smoke, 0, SMALL).run().metrics
    assert scores["plasticity"] >= 0.7
