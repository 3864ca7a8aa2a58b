"""The shared rate RNN: its fused step is the formula, its hand-written backward is the gradient, its
training schedule decays and stops when it should, and the method helpers keep their promises."""

import math

import numpy as np
import pytest
import torch

from motifbench.baselines.finetune import Finetune
from motifbench.baselines.initialisation import INITIALISATIONS, recurrent_weights
from motifbench.baselines.rate_rnn import RateRNN, TrainingSchedule, _EulerRates
from motifbench.evaluator import Evaluator
from motifbench.method import HyperparameterError, damaged_weights


def reference_run(model: RateRNN, h, ids, n_prep, n_steps):
    """h <- h + alpha (-h + W tanh(h) + W_in u + b), y = W_out tanh(h), written as the formula."""
    K = model.n_motifs
    outputs = []
    for t in range(n_prep + n_steps):
        u = torch.zeros(len(ids), K + 1)
        u[torch.arange(len(ids)), ids] = 1.0
        u[:, K] = 0.0 if t < n_prep else 1.0
        h = h + model.alpha * (-h + torch.tanh(h) @ model.W.T + u @ model.W_in.T + model.b)
        if t >= n_prep:
            outputs.append(torch.tanh(h) @ model.W_out.T)
    return torch.stack(outputs, dim=1), h


def test_fused_step_is_the_formula():
    model = RateRNN(16, 3, 2, gain=1.5, alpha=0.2, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        model.b.normal_()
        h0, ids = torch.randn(4, 16), torch.tensor([0, 2, 1, 2])
        y, h = model(h0, ids, n_prep=5, n_steps=7)
        y_ref, h_ref = reference_run(model, h0, ids, 5, 7)
    assert y.shape == (4, 7, 2)
    torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(h, h_ref, rtol=1e-5, atol=1e-6)



@pytest.mark.parametrize("low_rank", [False, True])
@pytest.mark.parametrize("gated", [False, True])
@pytest.mark.parametrize("n_prep", [0, 2, 6])
@pytest.mark.parametrize("frozen_W", [False, True])
@pytest.mark.parametrize("n_out", [6, 3])
def test_backward_is_the_gradient(low_rank, gated, n_prep, frozen_W, n_out):
    """The hand-written BPTT against finite differences (float64), for every input it differentiates
    (with W frozen, as the ANNs' shared network is, it skips W's gradient), with the rates of every
    step or of the last 3 alone as its output."""
    g = torch.Generator().manual_seed(0)
    B, N, rank = 3, 5, 2

    def leaf(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64).requires_grad_()

    h0, W, prep_drive, go_drive = leaf(B, N), leaf(N, N), leaf(B, N), leaf(B, N)
    U, V = leaf(B, N, rank), leaf(B, N, rank)
    gates = (torch.rand(B, N, generator=g) > 0.3).double() if gated else None
    W.requires_grad_(not frozen_W)
    input_noise = torch.randn(6, B, N, generator=g, dtype=torch.float64)  # no gradient: a constant

    def rates(h0, W, prep_drive, go_drive, U, V):
        return _EulerRates.apply(h0, W, prep_drive, go_drive, U if low_rank else None, V if low_rank else None,
                                 gates, 0.3, n_prep, 6, n_out, 0.0, None, input_noise)

    assert torch.autograd.gradcheck(rates, (h0, W, prep_drive, go_drive, U, V))

def test_input_noise_is_added_to_the_units_input():
    """Input noise constant over the steps is the same as a drive shifted by it."""
    model = RateRNN(8, 2, 1, gain=1.0, alpha=0.2, generator=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(1)
    h0, cue, shift = torch.randn(3, 8, generator=g), torch.randn(3, 8, generator=g), torch.randn(3, 8, generator=g)
    with torch.no_grad():
        noisy, _ = model.rates(h0, cue, 4, 5, input_noise=shift.expand(9, 3, 8))
        shifted, _ = model.rates(h0, cue + shift, 4, 5)
    torch.testing.assert_close(noisy, shifted)


def test_zero_steps_give_an_empty_output():
    model = RateRNN(8, 2, 1, gain=1.0, alpha=0.2, generator=torch.Generator().manual_seed(0))
    y, _ = model(torch.zeros(3, 8), torch.tensor([0, 1, 0]), n_prep=4, n_steps=0)
    assert y.shape == (3, 0, 1)


@pytest.fixture()
def method(smoke):
    method = Finetune(n_hidden=24, max_iterations=5)
    method.setup(Evaluator(method, smoke, 0).info, seed=0)
    return method


def test_parameter_count_counts_every_weight(method, smoke):
    N, K, d = 24, len(smoke.motifs), smoke.d_out
    assert method.parameter_count() == N * N + N * (K + 1) + N + d * N


def test_damage_removes_the_fraction_and_state_dict_restores(method):
    before = method.state_dict()
    method.damage(0.25, torch.Generator().manual_seed(1))
    W = method.model.W.detach()
    removed = float((W == 0).float().mean())
    assert removed == pytest.approx(0.25, abs=0.06)
    torch.testing.assert_close(W[W != 0], before["model"]["W"][W != 0])
    method.load_state_dict(before)
    torch.testing.assert_close(method.model.W.detach(), before["model"]["W"])


@pytest.mark.parametrize("mode", ["magnitude", "positive", "negative"])
def test_each_damage_mode_zeroes_the_weights_it_names(method, mode):
    """What ``damaged_weights`` picks (tested in tests/benchmark/test_method.py) is what goes."""
    W = method.model.W.detach().clone()
    method.damage(0.1, torch.Generator(), mode)
    expected = W.masked_fill(damaged_weights(W, 0.1, mode, torch.Generator()), 0.0)
    assert torch.equal(method.model.W.detach(), expected) and (expected == 0).sum() == round(0.1 * W.numel())


@pytest.mark.parametrize("init", INITIALISATIONS)
def test_the_base_class_builds_w_by_the_initialisation_it_is_given(init, smoke):
    """The base class builds W by ``init`` (the rules of each are tested in test_initialisation.py)."""
    method = Finetune(n_hidden=10, init=init)
    method.setup(Evaluator(method, smoke, 0).info, seed=4)
    W = method.model.W.detach()
    assert torch.equal(W, recurrent_weights(init, 10, method.hp.gain, torch.Generator().manual_seed(4)))
    assert np.allclose(method.recurrent_matrix(), W.double().numpy())


def test_generate_does_not_change_the_weights(method):
    before = method.state_dict()
    method.generate(torch.tensor([0, 1]), method.rest_state(2), 10, 20, noise_std=0.1,
                    generator=torch.Generator().manual_seed(0))
    for name, value in method.state_dict()["model"].items():
        torch.testing.assert_close(value, before["model"][name])


def test_process_noise_scales_with_the_state():
    model = RateRNN(32, 1, 1, gain=1.0, alpha=0.2, generator=torch.Generator().manual_seed(0))
    h0, ids = torch.randn(64, 32), torch.zeros(64, dtype=torch.long)
    with torch.no_grad():
        _, quiet = model(h0, ids, 0, 1)
        _, noisy = model(h0, ids, 0, 1, noise_std=0.5, generator=torch.Generator().manual_seed(0))
    ratio = ((noisy - quiet).pow(2).mean(1).sqrt() / quiet.pow(2).mean(1).sqrt()).mean()
    assert float(ratio) == pytest.approx(0.5 * math.sqrt(0.2), rel=0.15)


@pytest.mark.parametrize("bad", [dict(n_hidden=0), dict(lr=-1.0), dict(batch_size=0), dict(unknown=1)])
def test_bad_hyperparameters_are_refused(bad):
    with pytest.raises(HyperparameterError):
        Finetune(**bad)


def test_training_log_records_iterations(method, smoke):
    method.learn(smoke.motifs[0])
    log = method.diagnostics()["training"]
    assert log[0]["iterations"] == 5 and np.isfinite(log[0]["train_nmse"])


def schedule(**changes):
    settings = dict(fit_nmse=0.01, patience=3, plateau_window=8, plateau_gain=0.1, plateau_nmse=1.0, lr_decay=0.5,
                    lr_decays=0, max_iterations=200)
    return TrainingSchedule(**{**settings, **changes})


def feed(schedule, losses):
    for loss in losses:
        schedule.add(loss)
        if schedule.done:
            break
    return schedule


def test_schedule_stops_when_fit():
    fitted = feed(schedule(), [0.5 * 0.5**i for i in range(100)])
    assert fitted.reason == "fit" and fitted.train_nmse <= 0.01
    assert len(fitted.losses) == 8  # 0.5**7 .. 0.5**9 average 0.0073; 0.5**6 .. 0.5**8 average 0.0146


PLATEAU = [1.0, 1.0, 0.6, 0.6, 0.5, 0.5, 0.4, 0.4] + [0.39] * 100  # blocks of 2: 1.0, 0.6, 0.5, 0.4, 0.39 ...


def test_schedule_stops_on_a_plateau():
    # at 14 losses the best of the last 4 blocks (0.39) is 13% below the best before (0.45);
    # at 16 it is 2.5% below (0.4)
    plateau = feed(schedule(), PLATEAU)
    assert plateau.reason == "plateau" and len(plateau.losses) == 16


def test_a_stall_above_plateau_nmse_is_no_plateau():
    stalled = feed(schedule(plateau_nmse=0.3, max_iterations=100), PLATEAU)
    assert stalled.reason == "cap" and stalled.lr_scale == 1.0


def test_plateau_nmse_0_sets_no_limit():
    high = [10 * loss for loss in PLATEAU]  # the same plateau at nmse 3.9
    assert feed(schedule(plateau_nmse=1.0, max_iterations=100), high).reason == "cap"
    assert feed(schedule(plateau_nmse=0.0), high).reason == "plateau"


def test_a_spike_is_no_plateau():
    falling = [0.9**i for i in range(40)]
    falling[20:22] = [50.0, 50.0]  # a whole block of spike: its median is high, the window's best is not
    assert not feed(schedule(), falling).done


def test_plateaus_lower_the_learning_rate_before_they_stop():
    decaying, scales = schedule(lr_decays=2), []
    for loss in PLATEAU:
        decaying.add(loss)
        scales.append(decaying.lr_scale)
        if decaying.done:
            break
    # decays at the first plateau (16 losses) and at the second (26: the test starts afresh and
    # needs 5 blocks), and stops at the third (36)
    assert scales == [1.0] * 15 + [0.5] * 10 + [0.25] * 11
    summary = decaying.summary()
    assert summary == {"iterations": 36, "train_nmse": pytest.approx(0.39), "lr_decays": 2, "stopped": "plateau"}


def test_schedule_cap_and_plateau_test_off():
    capped = feed(schedule(plateau_window=0), [0.5] * 300)
    assert capped.reason == "cap" and len(capped.losses) == 200 and capped.lr_scale == 1.0
    assert schedule(max_iterations=0).done
