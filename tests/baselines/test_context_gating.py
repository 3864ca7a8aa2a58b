"""XdG: one fixed random mask per motif silences the other units at every step."""

import torch

from motifbench.baselines.context_gating import ContextGating
from motifbench.evaluator import Evaluator


def setup(smoke, **hp) -> ContextGating:
    method = ContextGating(n_hidden=40, **hp)
    method.setup(Evaluator(method, smoke, 0).info, seed=0)
    return method


def test_masks_are_fixed_random_and_of_the_right_size(smoke):
    method = setup(smoke, active=0.25)
    assert method.masks.shape == (len(smoke.motifs), 40)
    assert (method.masks.sum(dim=1) == 10).all()
    assert not torch.equal(method.masks[0], method.masks[1])
    torch.testing.assert_close(setup(smoke, active=0.25).masks, method.masks)  # same seed, same masks


def test_silenced_units_stay_at_zero_from_any_start(smoke):
    method = setup(smoke, active=0.25)
    ids = torch.tensor([0, 1, 2, 1])
    start = torch.randn(4, 40)  # not gated: the first gate must silence it
    y, end = method.generate(ids, start, n_prep=3, n_steps=5)
    silenced = method.masks[ids] == 0
    assert (end[silenced] == 0).all() and (end[~silenced] != 0).all()


def test_learning_a_motif_leaves_the_weights_of_units_it_never_uses(smoke):
    method = setup(smoke, active=0.25, max_iterations=3)
    before = method.model.W.detach().clone()
    method.learn(smoke.motifs[0])
    off = method.masks[0] == 0
    changed = method.model.W.detach() != before
    assert not changed[:, off].any()  # no outgoing weight of a silenced unit moves
    assert changed[:, ~off].any()
