"""RFLO and e-prop: the derived trace is exact where the dropped term vanishes, random e-prop is
RFLO, and adaptive feedback follows the readout."""

import pytest
import torch

from motifbench.baselines.finetune import Finetune
from motifbench.baselines.rate_rnn import _padded_targets
from motifbench.evaluator import Evaluator
from motifbench.losses import nmse_weights
from motifbench.methods.traces import RFLO, EProp, trace_filter


def made(cls, stream, **hyperparams):
    method = cls(**hyperparams)
    method.setup(Evaluator(method, stream, 0).info, seed=0)
    return method


def test_trace_filter_is_the_low_pass_recursion():
    alpha, n_prep, n_steps = 0.2, 3, 4
    inputs = torch.randn(n_prep + n_steps, 5, generator=torch.Generator().manual_seed(0))
    trace, traces = torch.zeros(5), []
    for t in range(n_prep + n_steps):  # p_{t+1} = (1 - alpha) p_t + alpha x_t
        trace = (1 - alpha) * trace + alpha * inputs[t]
        if t + 1 > n_prep:
            traces.append(trace)
    torch.testing.assert_close(trace_filter(alpha, n_prep, n_steps) @ inputs, torch.stack(traces))


def gradients(method, stream, motif_ids):
    """Every weight's .grad after one training iteration on ``motif_ids`` from the stream's motifs."""
    motifs = stream.motifs
    n_steps = max(m.n_steps for m in motifs)
    target, mask = _padded_targets(motifs, n_steps, torch.device("cpu"))
    method.model.zero_grad()
    method.training_gradients(motif_ids, target[motif_ids], nmse_weights(target, mask)[motif_ids])
    return {name: p.grad.clone() for name, p in method.model.named_parameters()}


@pytest.mark.parametrize("recurrent", [False, True], ids=["W = 0", "W random"])
def test_symmetric_eprop_is_bptt_where_the_dropped_term_vanishes(recurrent, smoke):
    """With W = 0 the term that RFLO and e-prop drop, alpha W phi'(h) J, is 0, so symmetric e-prop's
    update is BPTT's gradient to rounding. With W random it is an approximation: the readout's is
    still exact, the others point the same way but differ."""
    eprop, bptt = made(EProp, smoke, n_hidden=16), made(Finetune, smoke, n_hidden=16)
    bptt.model.load_state_dict(eprop.model.state_dict())
    if not recurrent:
        for method in (eprop, bptt):
            method.model.W.data.zero_()
    ids = torch.tensor([0, 0, 1, 2])
    state = eprop.generator.get_state()  # both draw the same initial states
    local = gradients(eprop, smoke, ids)
    bptt.generator.set_state(state)
    exact = gradients(bptt, smoke, ids)
    torch.testing.assert_close(local["W_out"], exact["W_out"], rtol=1e-4, atol=1e-6)
    for name in ("W", "W_in", "b"):
        if recurrent:
            cosine = torch.nn.functional.cosine_similarity(local[name].flatten(), exact[name].flatten(), dim=0)
            assert 0.3 < cosine < 0.999, name
        else:
            torch.testing.assert_close(local[name], exact[name], rtol=1e-4, atol=1e-6)


def test_eprop_with_random_feedback_is_rflo(smoke):
    rflo, eprop = made(RFLO, smoke, n_hidden=16, max_iterations=20), made(EProp, smoke, n_hidden=16,
                                                                           max_iterations=20, feedback="random")
    for method in (rflo, eprop):
        method.learn(smoke.motifs[0])
    for (name, a), b in zip(rflo.model.state_dict().items(), eprop.model.state_dict().values()):
        assert torch.equal(a, b), name


def test_adaptive_feedback_gets_every_change_of_the_readout(smoke):
    """With no decay the feedback moves by exactly W_out's change; with decay it also shrinks."""
    method = made(EProp, smoke, n_hidden=16, max_iterations=30, feedback="adaptive", feedback_decay=0.0)
    feedback, readout = method.feedback.clone(), method.model.W_out.detach().clone()
    method.learn(smoke.motifs[0])
    torch.testing.assert_close(method.feedback - feedback, method.model.W_out.detach() - readout)
    decaying = made(EProp, smoke, n_hidden=16, max_iterations=30, feedback="adaptive", feedback_decay=0.5)
    decaying.learn(smoke.motifs[0])
    assert not torch.allclose(decaying.feedback - feedback, decaying.model.W_out.detach() - readout)


def test_symmetric_feedback_leaves_the_random_matrix_alone(smoke):
    method = made(EProp, smoke, n_hidden=16, max_iterations=10)
    feedback = method.feedback.clone()
    method.learn(smoke.motifs[0])
    assert torch.equal(method.feedback, feedback)
    assert method.hp.feedback == "symmetric"


def test_the_feedback_matrix_is_part_of_the_state(smoke):
    method = made(EProp, smoke, n_hidden=16, max_iterations=10, feedback="adaptive")
    method.learn(smoke.motifs[0])
    state = method.state_dict()
    other = made(EProp, smoke, n_hidden=16, feedback="adaptive")
    other.load_state_dict(state)
    assert torch.equal(other.feedback, method.feedback)
