"""The evaluator (motifbench.evaluator) against docs/design.md: the R matrix, batched transitions
that really start from a's end state, sequences, misbehaving methods, determinism and the
robustness curves.

Cheap methods (``zero`` and the toys of ``toy_methods.py``) are used wherever training is not
the point; ``finetune`` runs small (30 Adam steps, 32 units) on ``smoke-v1``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from motifbench.baselines.finetune import Finetune
from motifbench.baselines.zero import Zero
from motifbench import metrics
from motifbench.evaluator import EvalConfig, Evaluator
from motifbench.method import MethodError
from motifbench.streams import Motif, Stream


def _load_toy_methods():
    if "toy_methods" not in sys.modules:
        spec = importlib.util.spec_from_file_location("toy_methods", Path(__file__).with_name("toy_methods.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules["toy_methods"] = module
        spec.loader.exec_module(module)
    return sys.modules["toy_methods"]


toys = _load_toy_methods()

SMALL = EvalConfig(n_sequences=3, sequence_length=3, transition_repeats=2)
FINETUNE_SMALL = dict(max_iterations=30, n_hidden=32)
K = 3  # motifs in smoke-v1




def targets_of(stream):
    return [m.target for m in stream.motifs]


def count_generate(method):
    """Wrap ``method.generate``; returns the list that records every call's sizes."""
    calls = []
    original = method.generate

    def generate(ids, state, n_prep, n_steps, noise_std=0.0, generator=None):
        calls.append({"batch": len(ids), "n_prep": n_prep, "n_steps": n_steps, "ids": ids.tolist()})
        return original(ids, state, n_prep, n_steps, noise_std, generator)

    method.generate = generate
    return calls


def mixed_length_stream():
    """Three 1-D motifs of lengths 25, 30, 25 (two distinct lengths)."""
    rng = np.random.default_rng(5)
    motifs = tuple(Motif(k, rng.normal(size=(n, 1))) for k, n in enumerate((25, 30, 25)))
    return Stream("mixed-test", 0, motifs, "test stream", "tests", "smoke")


@pytest.fixture(scope="module")
def finetune_run(smoke):
    """(method, evaluator, evaluation) of a small finetune run, shared by the tests that only read it."""
    method = Finetune(**FINETUNE_SMALL)
    evaluator = Evaluator(method, smoke, 0, SMALL)
    return method, evaluator, evaluator.run()


@pytest.fixture(scope="module")
def zero_run(smoke):
    evaluator = Evaluator(Zero(), smoke, 0, SMALL)
    return evaluator, evaluator.run()


def assert_state_dicts_equal(a, b):
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], dict):
            assert_state_dicts_equal(a[key], b[key])
        elif isinstance(a[key], torch.Tensor):
            assert torch.equal(a[key], b[key]), key
        else:
            assert a[key] == b[key], key


# ----------------------------------------------------------------------------------------------
# shapes of what one run measures
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("run", ["zero_run", "finetune_run"])
def test_R_is_filled_on_and_below_the_diagonal_and_nan_above(run, request):
    evaluation = request.getfixturevalue(run)[-1]
    R = evaluation.R
    assert R.shape == (K, K)
    below = np.tril(np.ones((K, K), dtype=bool))
    assert np.isfinite(R[below]).all()
    assert np.isnan(R[~below]).all()
    np.testing.assert_array_equal(evaluation.rest_nmse, 1.0 - R[K - 1])
    assert evaluation.output_change.shape == (K,)
    assert len(evaluation.parameter_counts) == K
    assert len(evaluation.timings["learn"]) == K


def test_zero_method_scores_its_closed_form(zero_run, smoke):
    # zero outputs 0: nmse = mean(t^2) / var(t) for every motif, at every stage of the stream
    _, evaluation = zero_run
    expected = np.array([np.mean(t.astype(np.float64) ** 2) / np.var(t.astype(np.float64)) for t in targets_of(smoke)])
    for k in range(K):
        np.testing.assert_allclose(evaluation.R[k, : k + 1], 1.0 - expected[: k + 1], rtol=1e-12)
    assert evaluation.parameter_counts == [0, 0, 0]


@pytest.mark.parametrize("run", ["zero_run", "finetune_run"])
def test_transition_nmse_is_nan_exactly_on_the_diagonal(run, request):
    evaluation = request.getfixturevalue(run)[-1]
    nmse = evaluation.transition_nmse
    assert nmse.shape == (K, K, SMALL.transition_repeats)
    diagonal = np.eye(K, dtype=bool)
    assert np.isnan(nmse[diagonal]).all()
    assert np.isfinite(nmse[~diagonal]).all()


def test_sequences_have_shape_S_L_and_never_repeat_a_motif(smoke):
    config = EvalConfig(n_sequences=40, sequence_length=8, transition_repeats=1)
    evaluation = Evaluator(Zero(), smoke, 3, config).run()
    ids, nmse = evaluation.sequence_ids, evaluation.sequence_nmse
    assert ids.shape == nmse.shape == (40, 8)
    assert ids.min() >= 0 and ids.max() < K
    assert (ids[:, 1:] != ids[:, :-1]).all()
    assert set(ids.ravel().tolist()) == {0, 1, 2}
    assert set(ids[:, 0].tolist()) == {0, 1, 2}  # the first motif is drawn among all K
    other = Evaluator(Zero(), smoke, 4, config).run()
    assert not np.array_equal(other.sequence_ids, ids)  # drawn from the seed


# ----------------------------------------------------------------------------------------------
# batching: the K(K-1) x repeats transitions are one call per preparation length
# ----------------------------------------------------------------------------------------------


def sweep_preps(config, stream):
    motif = stream.motifs[0]
    return {int(round(p * motif.tau / motif.dt)) for p in set(config.prep_sweep_tau) | {config.prep_tau}}


def test_transition_test_is_one_generate_call_per_preparation_length(smoke):
    method = Zero()
    calls = count_generate(method)
    Evaluator(method, smoke, 0, SMALL).run()
    rows = K * (K - 1) * SMALL.transition_repeats  # 12; no other call of this run has 12 rows
    transition_calls = [c for c in calls if c["batch"] == rows]
    preps = sweep_preps(SMALL, smoke)
    assert len(preps) == 6
    assert len(transition_calls) == len(preps)
    assert {c["n_prep"] for c in transition_calls} == preps
    # the whole run is a handful of calls, not one per pair or per row (2 each: the state, the
    # pause-and-resume and the disruption probes)
    assert len(calls) <= K + len(preps) + SMALL.sequence_length + len(SMALL.noise_levels) + 6


def test_transitions_call_generate_once_with_all_ordered_pairs(zero_run):
    evaluator, _ = zero_run
    _, ends = evaluator.produce(np.arange(K), evaluator.method.rest_state(K), evaluator.n_prep)
    calls = count_generate(evaluator.method)
    try:
        evaluator.transitions(ends, 7)
    finally:
        del evaluator.method.generate
    assert len(calls) == 1
    (call,) = calls
    assert call["batch"] == K * (K - 1) * SMALL.transition_repeats and call["n_prep"] == 7
    # every b != a, each `repeats` times
    assert sorted(call["ids"]) == sorted([b for a in range(K) for b in range(K) if a != b] * SMALL.transition_repeats)


def test_motifs_of_two_lengths_take_two_calls_per_preparation_length():
    stream = mixed_length_stream()
    method = toys.Oracle(targets_of(stream))
    calls = count_generate(method)
    evaluation = Evaluator(method, stream, 0, SMALL).run()
    repeats = SMALL.transition_repeats
    transition_calls = [c for c in calls if c["batch"] in (4 * repeats, 2 * repeats)]
    # b in {0, 2} (25 steps): 4 pairs; b = 1 (30 steps): 2 pairs
    by_prep = {}
    for c in transition_calls:
        by_prep.setdefault(c["n_prep"], []).append((c["batch"], c["n_steps"]))
    assert set(by_prep) == sweep_preps(SMALL, stream)
    for shapes in by_prep.values():
        assert sorted(shapes) == [(2 * repeats, 30), (4 * repeats, 25)]
    # rows are put back in the right places: the oracle is perfect everywhere
    np.testing.assert_array_equal(evaluation.R[np.tril_indices(K)], 1.0)
    off = ~np.eye(K, dtype=bool)
    np.testing.assert_array_equal(evaluation.transition_nmse[off], 0.0)
    np.testing.assert_array_equal(evaluation.sequence_nmse, 0.0)


def test_batch_limit_splits_calls_and_gives_identical_results():
    stream = mixed_length_stream()
    config = EvalConfig(n_sequences=5, sequence_length=3, transition_repeats=2, transition_noise=0.0)
    results = {}
    for limit in (2, 4096):
        method = toys.Memory(targets_of(stream))
        calls = count_generate(method)
        results[limit] = Evaluator(method, stream, 0, EvalConfig(**{**vars(config), "batch_limit": limit})).run()
        results[limit].calls = calls
    small, large = results[2], results[4096]
    assert max(c["batch"] for c in small.calls) == 2
    assert max(c["batch"] for c in large.calls) > 2
    assert len(small.calls) > len(large.calls) + 10
    # per preparation length: 8 rows of 25 steps -> 4 chunks, 4 rows of 30 steps -> 2 chunks;
    # the state probe (also no preparation) adds one call per length from each of its 2 starts,
    # the pause-and-resume probe one per length of its resumed halves (2 rows of 13, 1 of 15), the
    # disruption probe one per chunk of its 2 x 2 x 5 rows of 13 and 1 x 2 x 5 rows of 15 steps
    no_prep_calls = [c for c in small.calls if c["n_prep"] == 0]
    assert len(no_prep_calls) == 6 + 4 + 2 + 10 + 5
    for name in ("R", "transition_nmse", "sequence_ids", "sequence_nmse", "rest_nmse", "output_change", "probe_change",
                 "resume_change", "disruption_trial_r2", "recovery_trial_tau"):
        np.testing.assert_array_equal(getattr(small, name), getattr(large, name), err_msg=name)
    np.testing.assert_equal(small.metrics, large.metrics)  # NaN equals NaN (no songs)
    assert small.curves == large.curves


def test_batch_limit_gives_the_same_scores_for_finetune(finetune_run):
    method, evaluator, _ = finetune_run
    _, ends = evaluator.produce(np.arange(K), method.rest_state(K), evaluator.n_prep)
    reference = evaluator.final_r2(), evaluator.transitions(ends, 10), evaluator.sequences()
    chunked = Evaluator(method, evaluator.stream, 0, EvalConfig(**{**vars(SMALL), "batch_limit": 1}))
    calls = count_generate(method)
    try:
        result = chunked.final_r2(), chunked.transitions(ends, 10), chunked.sequences()
    finally:
        del method.generate  # back to the class's generate
    assert len(calls) == K + K * (K - 1) * SMALL.transition_repeats + SMALL.n_sequences * SMALL.sequence_length
    assert {c["batch"] for c in calls} == {1}
    # float32 matrix products may round differently with the batch size: equal to ~1e-6
    assert result[0] == pytest.approx(reference[0], rel=1e-6, abs=1e-6)
    np.testing.assert_allclose(result[1], reference[1], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(result[2][0], reference[2][0])
    np.testing.assert_allclose(result[2][1], reference[2][1], rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------------------------
# toy methods whose scores are known in advance
# ----------------------------------------------------------------------------------------------


def test_oracle_scores_perfectly(smoke):
    evaluation = Evaluator(toys.Oracle(targets_of(smoke)), smoke, 0, SMALL).run()
    np.testing.assert_array_equal(evaluation.R[np.tril_indices(K)], 1.0)
    m = evaluation.metrics
    assert m["final_r2"] == 1.0
    assert m["plasticity"] == 1.0
    assert m["forgetting"] == 0.0
    assert m["interference"] == 0.0
    assert m["transition_success"] == 1.0
    assert m["transition_success_abs"] == 1.0
    assert m["unseen_transition_success"] == 1.0
    assert m["sequence_success"] == 1.0
    assert m["isolated"] is True


def test_method_correct_only_from_rest_fails_every_transition(smoke):
    """Transitions and sequences start from a's end state, not from the rest state."""
    evaluation = Evaluator(toys.RestOnly(targets_of(smoke)), smoke, 0, SMALL).run()
    m = evaluation.metrics
    assert m["final_r2"] == 1.0
    assert m["forgetting"] == 0.0
    assert m["isolated"] is True
    assert m["transition_success"] == 0.0
    assert m["transition_success_abs"] == 0.0
    assert m["sequence_success"] == 0.0
    # the first motif of each sequence starts from rest: produced; every later one is not
    assert (evaluation.sequence_nmse[:, 0] == 0.0).all()
    assert (evaluation.sequence_nmse[:, 1:] > 1.0).all()


def test_a_tape_recorder_is_flagged_by_either_probe_and_a_state_driven_method_by_neither(smoke, finetune_run):
    oracle = Evaluator(toys.Oracle(targets_of(smoke)), smoke, 0, SMALL).run().metrics
    assert oracle["state_dependence"] == 0.0 and metrics.is_tape_recorder(oracle)
    # Memory's output moves by offset * state; the probe starts it from the next motif's end state
    memory = Evaluator(toys.Memory(targets_of(smoke), 0.1), smoke, 0, SMALL).run()
    assert memory.probe_change == pytest.approx(
        [0.1 * ((k + 1) % K + 1) / t.std() for k, t in enumerate(targets_of(smoke))], rel=0.2
    )
    # ... but it is a tape with a state term: paused and resumed, it plays its tape from the start
    assert memory.metrics["resumption_error"] > 0.5 and metrics.is_tape_recorder(memory.metrics)
    _, _, finetune = finetune_run
    assert finetune.metrics["state_dependence"] > 1e-3 and finetune.metrics["resumption_error"] < 1e-5
    assert not metrics.is_tape_recorder(finetune.metrics)


def test_transition_starts_from_the_end_state_of_a(smoke):
    """Memory's error on b reveals the state it started from: (a + 1) * offset on every sample."""
    offset = 0.1
    config = EvalConfig(n_sequences=4, sequence_length=4, transition_repeats=2, transition_noise=0.0)
    evaluation = Evaluator(toys.Memory(targets_of(smoke), offset), smoke, 0, config).run()
    var = [np.var(t.astype(np.float64)) for t in targets_of(smoke)]
    for a in range(K):
        for b in range(K):
            if a != b:
                expected = ((a + 1) * offset) ** 2 / var[b]
                np.testing.assert_allclose(evaluation.transition_nmse[a, b], expected, rtol=1e-4)
    # sequences: motif i starts where motif i - 1 ended; the first from rest
    ids, nmse = evaluation.sequence_ids, evaluation.sequence_nmse
    np.testing.assert_allclose(nmse[:, 0], 0.0, atol=1e-12)
    for s in range(ids.shape[0]):
        for i in range(1, ids.shape[1]):
            expected = ((ids[s, i - 1] + 1) * offset) ** 2 / var[ids[s, i]]
            np.testing.assert_allclose(nmse[s, i], expected, rtol=1e-4)


def test_transition_start_states_are_perturbed_per_repeat(smoke):
    config = EvalConfig(n_sequences=1, sequence_length=2, transition_repeats=3, transition_noise=0.05)
    evaluation = Evaluator(toys.Memory(targets_of(smoke)), smoke, 0, config).run()
    nmse = evaluation.transition_nmse
    off = ~np.eye(K, dtype=bool)
    assert (np.ptp(nmse[off], axis=-1) > 0).all()  # the repeats differ
    again = Evaluator(toys.Memory(targets_of(smoke)), smoke, 0, config).run()
    np.testing.assert_array_equal(again.transition_nmse, nmse)  # the noise is fixed by the seed


# ----------------------------------------------------------------------------------------------
# isolation
# ----------------------------------------------------------------------------------------------


def test_zero_is_isolated(zero_run):
    _, evaluation = zero_run
    assert evaluation.metrics["isolated"] is True
    np.testing.assert_array_equal(evaluation.output_change, 0.0)


def test_finetune_is_not_isolated(finetune_run):
    evaluation = finetune_run[-1]
    assert evaluation.metrics["isolated"] is False
    assert evaluation.output_change[0] == 0.0  # nothing old when the first motif is learned
    assert (evaluation.output_change[1:] > 0).all()


# ----------------------------------------------------------------------------------------------
# determinism
# ----------------------------------------------------------------------------------------------


def test_same_seed_same_results_different_seed_different_R(smoke, finetune_run):
    _, _, first = finetune_run
    again = Evaluator(Finetune(**FINETUNE_SMALL), smoke, 0, SMALL).run()
    np.testing.assert_array_equal(again.R, first.R)
    np.testing.assert_array_equal(again.transition_nmse, first.transition_nmse)
    np.testing.assert_array_equal(again.sequence_nmse, first.sequence_nmse)
    np.testing.assert_equal(again.metrics, first.metrics)  # NaN equals NaN (no songs)
    assert again.curves == first.curves
    other = Evaluator(Finetune(**FINETUNE_SMALL), smoke, 1, SMALL).run()
    assert not np.allclose(other.R[np.tril_indices(K)], first.R[np.tril_indices(K)])


# ----------------------------------------------------------------------------------------------
# misbehaving methods
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "toy, pattern",
    [
        ("Crashing", r"learn.*RuntimeError.*deliberate failure in learn"),
        ("GenerateRaises", r"generate.*ValueError.*deliberate failure in generate"),
        ("NaNOutput", r"generate.*NaN"),
        ("WrongOutputShape", r"generate.*outputs of shape \(3, 24, 1\), expected \(3, 25, 1\)"),
        ("WrongStateShape", r"generate.*state of shape \(3, 3\), expected \(3, 2\)"),
        ("WrongRestShape", r"rest_state\(3\).*\(4, 2\)"),
    ],
)
def test_misbehaving_method_raises_a_one_line_method_error(toy, pattern, smoke):
    method = getattr(toys, toy)()
    with pytest.raises(MethodError, match=pattern) as info:
        Evaluator(method, smoke, 0, SMALL).run()
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"method {method.card.name}: ")


def test_generate_returning_no_pair_raises_method_error(smoke):
    with pytest.raises(MethodError, match="not_a_pair"):
        Evaluator(toys.NotAPair(), smoke, 0, SMALL).run()


def test_parameter_count_raising_raises_method_error(smoke):
    with pytest.raises(MethodError, match="parameter_count"):
        Evaluator(toys.ParameterCountRaises(), smoke, 0, SMALL).run()


# ----------------------------------------------------------------------------------------------
# testing does not change what was learned; damage and noise curves
# ----------------------------------------------------------------------------------------------


def test_testing_leaves_the_learned_state_unchanged(finetune_run):
    method, evaluator, _ = finetune_run
    before = method.state_dict()
    evaluator.final_r2()
    evaluator.final_r2(noise_std=0.1, generator=torch.Generator().manual_seed(0))
    _, ends = evaluator.produce(np.arange(K), method.rest_state(K), evaluator.n_prep)
    evaluator.transitions(ends, evaluator.n_prep)
    evaluator.sequences()
    assert_state_dicts_equal(method.state_dict(), before)


def test_damage_curve_present_for_finetune_absent_for_zero(finetune_run, zero_run):
    _, _, evaluation = finetune_run
    curve = evaluation.curves["final_r2_vs_damage"]
    assert curve["x"] == list(SMALL.damage_fractions)
    assert len(curve["y"]) == len(SMALL.damage_fractions)
    assert SMALL.damage_fractions[0] == 0.0
    assert curve["y"][0] == pytest.approx(evaluation.metrics["final_r2"], abs=1e-12)
    assert curve["y"][-1] != pytest.approx(curve["y"][0], abs=1e-6)  # 20% of W removed matters
    assert "final_r2_vs_damage" not in zero_run[1].curves


def test_damage_restores_the_method_afterwards(finetune_run):
    method, evaluator, _ = finetune_run
    before_state = method.state_dict()
    before = evaluator.final_r2()
    damaged = evaluator.damaged_final_r2(0.3)
    assert damaged != pytest.approx(before, abs=1e-6)
    assert evaluator.final_r2() == before
    assert_state_dicts_equal(method.state_dict(), before_state)


def test_process_noise_changes_final_r2_and_is_reproducible(finetune_run):
    _, evaluator, evaluation = finetune_run
    clean = evaluator.final_r2()
    noisy = evaluator.final_r2(noise_std=0.1, generator=torch.Generator().manual_seed(11))
    noisy_again = evaluator.final_r2(noise_std=0.1, generator=torch.Generator().manual_seed(11))
    assert noisy != pytest.approx(clean, abs=1e-6)
    assert noisy == noisy_again
    curve = evaluation.curves["final_r2_vs_noise"]
    assert curve["x"] == list(SMALL.noise_levels)
    assert curve["y"][0] == pytest.approx(clean, abs=1e-12)
    assert curve["y"][SMALL.noise_levels.index(0.1)] != pytest.approx(clean, abs=1e-6)


def test_transition_sweep_curve_covers_every_preparation_time(zero_run):
    _, evaluation = zero_run
    curve = evaluation.curves["transition_success_vs_prep_tau"]
    assert curve["x"] == list(SMALL.prep_sweep_tau)
    assert len(curve["y"]) == len(SMALL.prep_sweep_tau)
    # zero never produces a motif: its transitions all fail
    assert curve["y"] == [0.0] * len(SMALL.prep_sweep_tau)


# ----------------------------------------------------------------------------------------------
# songs: syllables after a branch point and after the others
# ----------------------------------------------------------------------------------------------

SONG_CONFIG = EvalConfig(n_sequences=2, sequence_length=2, transition_repeats=1)


@pytest.fixture(scope="module")
def birdsong():
    """The birdsong-v1 stream with seed 0 (4 songs of 10 syllables of 15 steps, 3-D)."""
    from motifbench.registry import STREAMS

    return STREAMS["birdsong-v1"].build(0)


def song_labels(stream: Stream) -> list[list[str]]:
    return [[segment.label for segment in motif.segments] for motif in stream.motifs]


def sung_wrong_without_history(labels: list[str]) -> np.ndarray:
    """(n - 1,) for syllables 1..n-1: whether the syllable that first followed the one before it
    is another syllable (what Memoryless gets wrong)."""
    first_successor: dict[str, str] = {}
    for before, after in zip(labels, labels[1:]):
        first_successor.setdefault(before, after)
    return np.array([first_successor[before] != after for before, after in zip(labels, labels[1:])])


def test_a_singer_without_history_fails_only_syllables_after_branch_points(birdsong):
    from motifbench.streams import after_branch

    evaluation = Evaluator(toys.Memoryless(), birdsong, 0, SONG_CONFIG).run()
    wrong = np.concatenate([sung_wrong_without_history(labels) for labels in song_labels(birdsong)])
    after = np.concatenate([after_branch(labels)[1:] for labels in song_labels(birdsong)])
    np.testing.assert_array_equal(evaluation.segment_after_branch, after)  # every syllable but each song's first
    np.testing.assert_array_equal(evaluation.segment_nmse == 0.0, ~wrong)
    assert (evaluation.segment_nmse[wrong] > birdsong.theta).all()  # another syllable is far off
    m = evaluation.metrics
    assert m["nonbranch_success"] == 1.0
    assert m["branch_success"] == pytest.approx(1.0 - wrong.sum() / after.sum())
    assert m["branch_success"] < m["nonbranch_success"]


def test_an_oracle_sings_every_syllable_and_correlates_perfectly(birdsong):
    evaluation = Evaluator(toys.Oracle(targets_of(birdsong)), birdsong, 0, SONG_CONFIG).run()
    m = evaluation.metrics
    assert m["branch_success"] == 1.0 and m["nonbranch_success"] == 1.0
    assert m["channel_correlation"] == pytest.approx(birdsong.d_out)  # 3 channels, each correlation 1
    assert len(evaluation.segment_nmse) == sum(len(motif.segments) - 1 for motif in birdsong.motifs)


def test_a_stream_without_songs_has_no_branch_scores(smoke):
    evaluation = Evaluator(toys.Memoryless(), smoke, 0, SMALL).run()
    assert evaluation.segment_nmse.shape == evaluation.segment_after_branch.shape == (0,)
    assert np.isnan(evaluation.metrics["branch_success"]) and np.isnan(evaluation.metrics["nonbranch_success"])
    assert evaluation.metrics["final_r2"] == 1.0  # without segments, Memoryless produces the target
    assert evaluation.metrics["channel_correlation"] == pytest.approx(1.0)


# ----------------------------------------------------------------------------------------------
# disruption: a state hit half-way through a motif
# ----------------------------------------------------------------------------------------------

CYCLING = ("Attracting", "NeverRecovers")


@pytest.mark.parametrize("toy", CYCLING)
def test_the_cycling_toys_produce_every_motif_from_rest_and_end_at_rest(toy, smoke):
    method = getattr(toys, toy)(targets_of(smoke))
    evaluator = Evaluator(method, smoke, 0, SMALL)
    method.setup(evaluator.info, 0)
    rest = method.rest_state(K)
    outputs, ends = evaluator.produce(np.arange(K), rest, evaluator.n_prep)
    for y, target in zip(outputs, targets_of(smoke)):
        np.testing.assert_allclose(y, target, atol=1e-6)
    torch.testing.assert_close(ends, rest, atol=1e-9, rtol=0)


@pytest.mark.parametrize("toy, decay", [("Attracting", 0.3), ("NeverRecovers", 1.0)])
def test_an_offset_in_the_cycling_toys_state_decays_by_their_factor(toy, decay, smoke):
    method = getattr(toys, toy)(targets_of(smoke))
    method.setup(Evaluator(method, smoke, 0, SMALL).info, 0)
    start = method.rest_state(1)
    start[0, 2] = 0.5
    y, end = method.generate(torch.tensor([0]), start, 0, 4)
    offset = y[0, :, 0].double() - torch.tensor(targets_of(smoke)[0][:4, 0], dtype=torch.float64)
    torch.testing.assert_close(offset, 0.5 * decay ** torch.arange(4.0, dtype=torch.float64), atol=1e-6, rtol=0)
    assert float(end[0, 2]) == pytest.approx(0.5 * decay**4)


@pytest.fixture(scope="module")
def disruption_runs(smoke):
    """Attracting's and NeverRecovers' evaluations on smoke-v1 under SMALL."""
    return {toy: Evaluator(getattr(toys, toy)(targets_of(smoke)), smoke, 0, SMALL).run() for toy in CYCLING}


def test_a_disruption_that_dies_out_scores_better_than_one_that_stays(disruption_runs):
    attracting, never = (disruption_runs[toy].metrics for toy in CYCLING)
    assert attracting["disruption_r2"] > never["disruption_r2"]
    assert attracting["recovery_tau"] < never["recovery_tau"]


def test_a_disruption_that_stays_takes_about_the_rest_of_the_motif_to_recover(disruption_runs, smoke):
    motif = smoke.motifs[0]  # every smoke motif has 25 steps
    remaining_tau = (motif.n_steps - np.round(SMALL.disruption_at * motif.n_steps)) * motif.dt / motif.tau
    trials = disruption_runs["NeverRecovers"].recovery_trial_tau
    assert trials.shape == (K, SMALL.transition_repeats)
    assert trials.max() == pytest.approx(remaining_tau)  # never: the whole rest
    assert np.median(trials) == pytest.approx(remaining_tau)
    assert disruption_runs["NeverRecovers"].metrics["recovery_tau"] >= 0.75 * remaining_tau


def test_the_disruption_curves_start_undisturbed_and_fall_with_strength(disruption_runs):
    curves = disruption_runs["Attracting"].curves
    strengths = [0.0, *SMALL.disruption_strengths[1:]]
    assert sorted(set(strengths)) == strengths and SMALL.disruption_strength in strengths
    r2, recovery = curves["disruption_r2_vs_strength"], curves["recovery_tau_vs_strength"]
    assert r2["x"] == recovery["x"] == strengths
    assert r2["y"][0] == pytest.approx(1.0) and recovery["y"][0] == 0.0  # strength 0: its own course
    assert r2["y"][0] >= r2["y"][-1] and r2["y"][-1] < 1.0
    for run in disruption_runs.values():  # the headline scores are the curves' points at their strength
        at = run.curves["disruption_r2_vs_strength"]["x"].index(SMALL.disruption_strength)
        assert run.curves["disruption_r2_vs_strength"]["y"][at] == pytest.approx(run.metrics["disruption_r2"])
        assert run.curves["recovery_tau_vs_strength"]["y"][at] == pytest.approx(run.metrics["recovery_tau"])


def test_the_disruption_curves_add_zero_and_the_headline_strength_sorted(smoke):
    config = EvalConfig(**{**vars(SMALL), "disruption_strengths": (1.0, 0.25), "disruption_strength": 0.75})
    evaluation = Evaluator(toys.Attracting(targets_of(smoke)), smoke, 0, config).run()
    for name in ("disruption_r2_vs_strength", "recovery_tau_vs_strength"):
        assert evaluation.curves[name]["x"] == [0.0, 0.25, 0.75, 1.0]
        assert len(evaluation.curves[name]["y"]) == 4
    assert evaluation.curves["recovery_tau_vs_strength"]["y"][2] == pytest.approx(evaluation.metrics["recovery_tau"])


def probe_disruption_calls(method, stream, config):
    """The generate calls of one ``probe_disruption`` (after setup), and its (r2, recovery)."""
    evaluator = Evaluator(method, stream, 0, config)
    method.setup(evaluator.info, 0)
    calls = count_generate(method)
    return calls, evaluator.probe_disruption(), evaluator


@pytest.mark.parametrize("batch_limit", [4096, 7])
def test_disrupted_continuations_are_one_call_per_remaining_length_and_chunk(batch_limit):
    stream = mixed_length_stream()  # lengths 25, 30, 25
    config = EvalConfig(**{**vars(SMALL), "batch_limit": batch_limit})
    calls, (r2, recovery), evaluator = probe_disruption_calls(toys.Attracting(targets_of(stream)), stream, config)
    S, repeats = len(evaluator.disruption_strengths()), SMALL.transition_repeats
    assert r2.shape == recovery.shape == (K, S, repeats)
    halfway = {i: c["n_steps"] for c in calls if c["n_prep"] == evaluator.n_prep for i in c["ids"]}
    continued = [c for c in calls if c["n_prep"] == 0]
    # every row continues its motif from where it was disrupted to its end
    assert all(halfway[i] + c["n_steps"] == stream.motifs[i].n_steps for c in continued for i in c["ids"])
    rows = {}
    for c in continued:
        assert c["batch"] <= batch_limit
        rows[c["n_steps"]] = rows.get(c["n_steps"], 0) + c["batch"]
    # motifs 0 and 2 share a remaining length: 2 x S x repeats rows; motif 1 its own
    assert sorted(rows.values()) == [S * repeats, 2 * S * repeats]
    assert len(continued) == sum(-(-n // batch_limit) for n in rows.values())
    reference = probe_disruption_calls(toys.Attracting(targets_of(stream)), stream, SMALL)[1]
    # the same scores however the rows are chunked (up to the last bit of a vectorised cos)
    np.testing.assert_allclose(r2, reference[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(recovery, reference[1], rtol=0, atol=1e-12)
