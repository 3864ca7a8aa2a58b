"""zero, finetune and joint through the evaluator on smoke-v1: each does what it is for."""


from motifbench.baselines.finetune import Finetune
from motifbench.baselines.joint import Joint
from motifbench.baselines.zero import Zero
from motifbench.evaluator import EvalConfig, Evaluator

SMALL = EvalConfig(n_sequences=4, sequence_length=3, transition_repeats=1, prep_sweep_tau=(10.0,))
LEARNS = dict(n_hidden=64, max_iterations=400)


def evaluate(method, stream):
    return Evaluator(method, stream, 0, SMALL).run().metrics


def test_zero_is_the_floor(smoke):
    scores = evaluate(Zero(), smoke)
    assert scores["final_r2"] <= 0.0 and scores["isolated"]
    assert scores["transition_success"] == 0.0 and scores["sequence_success"] == 0.0


def test_finetune_learns_each_motif_and_is_not_isolated(smoke):
    scores = evaluate(Finetune(**LEARNS), smoke)
    assert scores["plasticity"] >= 0.9
    assert not scores["isolated"]


def test_joint_keeps_every_motif(smoke):
    assert Joint.card.stores_past_data and not Finetune.card.stores_past_data
    scores = evaluate(Joint(**LEARNS), smoke)
    assert scores["final_r2"] >= 0.9
    assert scores["forgetting"] <= 0.05
