"""Scores in motifbench.metrics against small hand-computed examples (docs/design.md, "Scores").

Every expected value is written out as a literal, worked out by hand in the comments, so a
change of formula (axis, clipping, pair set, threshold rule) fails here.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from motifbench import metrics as M

nan = np.nan

# ----------------------------------------------------------------------------------------------
# nmse / r2
# ----------------------------------------------------------------------------------------------

# target 0, 1, 2, 3: mean 1.5, var = (2.25 + 0.25 + 0.25 + 2.25) / 4 = 1.25
TARGET_1D = [[0.0], [1.0], [2.0], [3.0]]
# y differs only in the last sample by 2: mse = 4 / 4 = 1 -> nmse = 1 / 1.25 = 0.8, r2 = 0.2
Y_1D = [[0.0], [1.0], [2.0], [5.0]]


def test_nmse_and_r2_single_trial():
    assert M.nmse(Y_1D, TARGET_1D) == pytest.approx(0.8)
    assert M.r2(Y_1D, TARGET_1D) == pytest.approx(0.2)
    assert np.shape(M.nmse(Y_1D, TARGET_1D)) == ()


def test_nmse_perfect_fit_is_zero_and_mean_prediction_is_one():
    assert M.nmse(TARGET_1D, TARGET_1D) == 0.0
    assert M.r2(TARGET_1D, TARGET_1D) == 1.0
    # predicting the target's mean (1.5) everywhere: mse = var -> nmse = 1, r2 = 0
    assert M.nmse([[1.5]] * 4, TARGET_1D) == pytest.approx(1.0)
    assert M.r2([[1.5]] * 4, TARGET_1D) == pytest.approx(0.0)


def test_nmse_variance_is_taken_over_time_and_output_dims_together():
    # target values 0, 0, 2, 4: mean 1.5, var = (2.25 + 2.25 + 0.25 + 6.25) / 4 = 2.75
    # (per-dimension variances would be 1 and 4)
    target = [[0.0, 0.0], [2.0, 4.0]]
    # error only on the last entry, 1: mse = 1 / 4 = 0.25 -> nmse = 0.25 / 2.75 = 1 / 11
    y = [[0.0, 0.0], [2.0, 3.0]]
    assert M.nmse(y, target) == pytest.approx(1.0 / 11.0)
    assert M.r2(y, target) == pytest.approx(10.0 / 11.0)


def test_nmse_is_normalised_by_the_target_not_by_y():
    # y has a big variance, the target's is 1.25: nmse(y, t) != nmse(t, y)
    y = [[0.0], [10.0], [0.0], [10.0]]
    # errors 0, 9, -2, 7 -> squares 0, 81, 4, 49 -> mse 33.5 -> nmse = 33.5 / 1.25 = 26.8
    assert M.nmse(y, TARGET_1D) == pytest.approx(26.8)
    # the other way round: var(y) = 25 -> 33.5 / 25 = 1.34
    assert M.nmse(TARGET_1D, y) == pytest.approx(1.34)


def test_nmse_is_scale_invariant():
    assert M.nmse(np.array(Y_1D) * 10.0, np.array(TARGET_1D) * 10.0) == pytest.approx(0.8)


def test_nmse_r2_batched_shapes():
    target = np.array([TARGET_1D, TARGET_1D, TARGET_1D])  # (B=3, T=4, d=1)
    y = np.array([TARGET_1D, Y_1D, [[1.5]] * 4])
    out = M.nmse(y, target)
    assert out.shape == (3,)
    assert_allclose(out, [0.0, 0.8, 1.0])
    assert_allclose(M.r2(y, target), [1.0, 0.2, 0.0])


def test_nmse_batched_two_leading_axes():
    target = np.broadcast_to(np.array(TARGET_1D), (2, 3, 4, 1))
    y = np.array(target, copy=True)
    y[1, 2] = Y_1D
    out = M.nmse(y, target)
    assert out.shape == (2, 3)
    assert_allclose(out, [[0, 0, 0], [0, 0, 0.8]], atol=1e-12)


def test_nmse_accepts_float32_and_returns_float64():
    out = M.nmse(np.array(Y_1D, dtype=np.float32), np.array(TARGET_1D, dtype=np.float32))
    assert np.asarray(out).dtype == np.float64
    assert out == pytest.approx(0.8)


# ----------------------------------------------------------------------------------------------
# R-matrix scores
# ----------------------------------------------------------------------------------------------

# R[k, j]: r2 of motif j after learning motifs 0..k; NaN above the diagonal.
R3 = np.array(
    [
        [0.90, nan, nan],
        [0.95, 0.80, nan],
        [0.50, 0.85, 0.60],
    ]
)
# final_r2     = (0.50 + 0.85 + 0.60) / 3                     = 0.65
# plasticity   = (0.90 + 0.80 + 0.60) / 3                     = 2.3 / 3
# forgetting:  j=0: max(0.90, 0.95) - 0.50 = 0.45;  j=1: max(0.80) - 0.85 = -0.05
#              mean = 0.40 / 2                                = 0.20
# bwt:         j=0: 0.50 - 0.90 = -0.40;  j=1: 0.85 - 0.80 = 0.05
#              mean = -0.35 / 2                               = -0.175
# interference: (k=1, j=0) max(0, 0.90 - 0.95) = 0
#               (k=2, j=0) max(0, 0.95 - 0.50) = 0.45
#               (k=2, j=1) max(0, 0.80 - 0.85) = 0
#              mean over the 3 pairs = 0.45 / 3               = 0.15


def test_final_r2_3x3():
    assert M.final_r2(R3) == pytest.approx(0.65)


def test_plasticity_3x3():
    assert M.plasticity(R3) == pytest.approx(0.7666666666666667)


def test_forgetting_3x3_uses_best_r2_before_the_last_motif():
    assert M.forgetting(R3) == pytest.approx(0.20)


def test_bwt_3x3():
    assert M.bwt(R3) == pytest.approx(-0.175)


def test_interference_3x3_averages_over_all_old_pairs_including_zero_drops():
    assert M.interference(R3) == pytest.approx(0.15)


def test_scores_do_not_modify_R():
    R = R3.copy()
    R[2, 0] = -50.0
    before = R.copy()
    for fn in (M.final_r2, M.plasticity, M.forgetting, M.bwt, M.interference):
        fn(R)
    assert_allclose(R, before)


def test_R_is_clipped_at_minus_one_in_every_score():
    # R3 with the final r2 of motif 0 diverged to -50; it must count as -1.
    R = R3.copy()
    R[2, 0] = -50.0
    # final_r2    = (-1 + 0.85 + 0.60) / 3                 = 0.15        (unclipped: -16.18...)
    # forgetting  = ((0.95 - (-1)) + (0.80 - 0.85)) / 2    = 1.90 / 2 = 0.95
    # bwt         = ((-1 - 0.90) + (0.85 - 0.80)) / 2      = -1.85 / 2 = -0.925
    # interference= (0 + (0.95 - (-1)) + 0) / 3            = 1.95 / 3 = 0.65
    # plasticity unchanged                                   = 2.3 / 3
    assert M.final_r2(R) == pytest.approx(0.15)
    assert M.forgetting(R) == pytest.approx(0.95)
    assert M.bwt(R) == pytest.approx(-0.925)
    assert M.interference(R) == pytest.approx(0.65)
    assert M.plasticity(R) == pytest.approx(0.7666666666666667)


def test_R_clipping_on_the_diagonal():
    # motif 0 never learned (r2 -50 right after learning), later 0.5
    R = np.array([[-50.0, nan], [0.5, 0.8]])
    # plasticity = (-1 + 0.8) / 2 = -0.1; bwt = 0.5 - (-1) = 1.5
    # forgetting = max(-1) - 0.5 = -1.5; interference = max(0, -1 - 0.5) = 0; final = 0.65
    assert M.plasticity(R) == pytest.approx(-0.1)
    assert M.bwt(R) == pytest.approx(1.5)
    assert M.forgetting(R) == pytest.approx(-1.5)
    assert M.interference(R) == pytest.approx(0.0)
    assert M.final_r2(R) == pytest.approx(0.65)


def test_R_minus_infinity_counts_as_minus_one():
    # an infinite nmse (output blew up) gives r2 = -inf
    R = np.array([[0.9, nan], [-np.inf, 0.7]])
    assert M.final_r2(R) == pytest.approx(-0.15)  # (-1 + 0.7) / 2
    assert M.interference(R) == pytest.approx(1.9)  # 0.9 - (-1)


def test_R_values_above_minus_one_are_not_clipped():
    R = np.array([[0.9, nan], [-0.999, -0.5]])
    assert M.final_r2(R) == pytest.approx(-0.7495)


def test_single_motif_R():
    R = np.array([[0.7]])
    assert M.final_r2(R) == pytest.approx(0.7)
    assert M.plasticity(R) == pytest.approx(0.7)
    assert math.isnan(M.forgetting(R))
    assert math.isnan(M.bwt(R))
    assert math.isnan(M.interference(R))


def test_single_motif_R_is_clipped_too():
    R = np.array([[-50.0]])
    assert M.final_r2(R) == -1.0
    assert M.plasticity(R) == -1.0


def test_R_scores_return_python_floats():
    for fn in (M.final_r2, M.plasticity, M.forgetting, M.bwt, M.interference):
        assert type(fn(R3)) is float


# ----------------------------------------------------------------------------------------------
# isolated
# ----------------------------------------------------------------------------------------------


def test_isolated_all_zero_changes():
    assert M.isolated(np.zeros(5)) is True


def test_isolated_any_nonzero_change():
    assert M.isolated(np.array([0.0, 0.0, 1e-12, 0.0])) is False
    assert M.isolated(np.array([0.0, 3.0])) is False


def test_isolated_empty_array():
    assert M.isolated(np.array([])) is True


def test_isolated_negative_change_is_a_change():
    assert M.isolated(np.array([-0.5, 0.0])) is False


# ----------------------------------------------------------------------------------------------
# transitions
# ----------------------------------------------------------------------------------------------

THETA = 0.1
CAP = 0.5
# rest_nmse per motif b -> limit max(theta, min(2 rest, cap)):
#   b=0: 0.05 -> max(0.1, min(0.1, 0.5)) = 0.1
#   b=1: 0.15 -> max(0.1, min(0.3, 0.5)) = 0.3   (poorly fit, relative rule helps)
#   b=2: 1.0  -> max(0.1, min(2.0, 0.5)) = 0.5   (not learned: the cap applies)
REST = np.array([0.05, 0.15, 1.0])

# TN[a, b, repeat]: nmse of motif b started from a's end state; NaN on the diagonal.
TN = np.array(
    [
        # a = 0
        [[nan, nan], [0.25, 0.35], [0.90, 0.40]],
        # a = 1
        [[0.05, 0.10], [nan, nan], [0.05, 0.60]],
        # a = 2
        [[0.20, 0.08], [0.25, 0.29], [nan, nan]],
    ]
)
# relative rule (limits 0.1, 0.3, 0.5 by b):
#   0->1: 0.25 yes, 0.35 no        1   (0.25 produced only thanks to rest 0.15)
#   0->2: 0.90 no (cap), 0.40 yes  1
#   1->0: 0.05 yes, 0.10 yes       2   (0.10 <= 0.1: boundary counts)
#   1->2: 0.05 yes, 0.60 no        1
#   2->0: 0.20 no, 0.08 yes        1
#   2->1: 0.25 yes, 0.29 yes       2
#   total 8 of 12 -> 2/3
# absolute rule (nmse <= 0.1):  0 + 0 + 2 + 1 + 1 + 0 = 4 of 12 -> 1/3
# unseen (a > b): 1->0, 2->0, 2->1 -> 2 + 1 + 2 = 5 of 6 -> 5/6


def test_produced_threshold_relative_rule_with_cap():
    assert_allclose(M.produced_threshold(REST, THETA, CAP), [0.1, 0.3, 0.5])
    # theta is a floor even when 2 * rest is below it
    assert_allclose(M.produced_threshold([0.0, 0.01], 0.1, 0.5), [0.1, 0.1])
    # the cap never drops the limit below theta
    assert_allclose(M.produced_threshold([1.0], 0.2, 0.05), [0.2])


def test_transition_success_relative_rule():
    assert M.transition_success(TN, REST, THETA, CAP) == pytest.approx(2 / 3)


def test_transition_success_abs():
    assert M.transition_success_abs(TN, THETA) == pytest.approx(1 / 3)


def test_unseen_transition_success_uses_pairs_with_a_learned_after_b():
    assert M.unseen_transition_success(TN, REST, THETA, CAP) == pytest.approx(5 / 6)


def test_transition_scores_ignore_the_diagonal():
    # a perfect a -> a entry must not change anything (NaN would if counted as a failure)
    tn = TN.copy()
    for a in range(3):
        tn[a, a] = 0.0
    assert M.transition_success(tn, REST, THETA, CAP) == pytest.approx(2 / 3)
    assert M.transition_success_abs(tn, THETA) == pytest.approx(1 / 3)
    assert M.unseen_transition_success(tn, REST, THETA, CAP) == pytest.approx(5 / 6)


def test_poorly_fit_motif_counts_after_transition_relative_rule():
    # motif 1 has rest nmse 0.15: after a transition, 0.25 <= 2 * 0.15 counts (theta 0.1)
    tn = np.array([[[nan], [0.25]], [[0.05], [nan]]])
    rest = np.array([0.05, 0.15])
    assert M.transition_success(tn, rest, 0.1, 0.5) == 1.0
    assert M.transition_success_abs(tn, 0.1) == 0.5  # 0.25 > 0.1
    # 0.31 > 0.3: no longer produced
    tn[0, 1, 0] = 0.31
    assert M.transition_success(tn, rest, 0.1, 0.5) == 0.5


def test_unlearned_motif_never_counts_because_of_the_cap():
    # motif 1 is not learned (rest nmse 1.0); 0.9 <= 2 * 1.0 but the cap 0.5 applies
    tn = np.array([[[nan], [0.9]], [[0.05], [nan]]])
    rest = np.array([0.05, 1.0])
    assert M.transition_success(tn, rest, 0.1, 0.5) == 0.5
    assert M.unseen_transition_success(tn, rest, 0.1, 0.5) == 1.0  # only 1 -> 0 is unseen
    # without the cap it would have counted: the cap is what excludes it
    assert M.transition_success(tn, rest, 0.1, 2.0) == 1.0


def test_limit_is_taken_from_the_target_motif_b_not_from_a():
    tn = np.array([[[nan], [0.25]], [[0.05], [nan]]])
    rest = np.array([0.15, 0.04])  # limits b0: 0.3, b1: 0.1
    # 0 -> 1: 0.25 > 0.1 fail; 1 -> 0: 0.05 <= 0.3 pass  (limits taken by a would pass both)
    assert M.transition_success(tn, rest, 0.1, 0.5) == 0.5
    assert M.unseen_transition_success(tn, rest, 0.1, 0.5) == 1.0  # pair 1 -> 0
    # and the pair set of unseen is a > b: make 0 -> 1 pass and 1 -> 0 fail
    tn = np.array([[[nan], [0.05]], [[0.5], [nan]]])
    assert M.transition_success(tn, rest, 0.1, 0.5) == 0.5
    assert M.unseen_transition_success(tn, rest, 0.1, 0.5) == 0.0


def test_nan_offdiagonal_transition_is_a_failure():
    tn = TN.copy()
    tn[1, 0, 0] = nan  # was a success
    assert M.transition_success(tn, REST, THETA, CAP) == pytest.approx(7 / 12)


def test_transition_scores_single_motif_are_nan():
    tn = np.full((1, 1, 2), nan)
    rest = np.array([0.05])
    assert math.isnan(M.transition_success(tn, rest, THETA, CAP))
    assert math.isnan(M.transition_success_abs(tn, THETA))
    assert math.isnan(M.unseen_transition_success(tn, rest, THETA, CAP))


# ----------------------------------------------------------------------------------------------
# sequences
# ----------------------------------------------------------------------------------------------

SEQ_IDS = np.array([[0, 1], [1, 2], [2, 0]])  # (S=3, L=2)
SEQ_NMSE = np.array(
    [
        [0.08, 0.10],  # both <= theta 0.1 -> produced
        [0.20, 0.05],  # 0.20 > 0.1 -> fails (the relative rule would have let motif 1 pass at 0.3)
        [0.45, 0.12],  # fails
    ]
)


def test_sequence_success_hand_example():
    assert M.sequence_success(SEQ_NMSE, THETA) == pytest.approx(1 / 3)


def test_sequence_success_needs_every_motif_at_the_stream_theta():
    nmse = SEQ_NMSE.copy()
    nmse[2] = 0.1  # now 0.1 <= 0.1: third sequence passes
    assert M.sequence_success(nmse, THETA) == pytest.approx(2 / 3)
    nmse[0, 0] = 0.11  # one motif of the first sequence fails: it no longer counts
    assert M.sequence_success(nmse, THETA) == pytest.approx(1 / 3)
    assert M.sequence_success(nmse, 0.2) == 1.0  # a stream with a looser theta


def test_sequence_success_empty_is_nan():
    empty = np.zeros((0, 10))
    assert math.isnan(M.sequence_success(empty, THETA))


# ----------------------------------------------------------------------------------------------
# registry and compute_metrics
# ----------------------------------------------------------------------------------------------

EXPECTED_DIRECTION = {
    "final_r2": True,
    "plasticity": True,
    "forgetting": False,
    "bwt": True,
    "interference": False,
    "isolated": True,
    "transition_success": True,
    "transition_success_abs": True,
    "unseen_transition_success": True,
    "sequence_success": True,
    "state_dependence": True,
    "resumption_error": False,
    "branch_success": True,
    "nonbranch_success": True,
    "channel_correlation": True,
    "disruption_r2": True,
    "recovery_tau": False,
}


def _arrays() -> dict[str, object]:
    return dict(
        R=R3,
        output_change=np.array([0.0, 0.2, 0.0]),
        transition_nmse=TN,
        rest_nmse=REST,
        theta=THETA,
        relative_cap=CAP,
        sequence_nmse=SEQ_NMSE,
        sequence_ids=SEQ_IDS,
        probe_change=np.array([0.5, 0.0, 0.25]),
        resume_change=np.array([0.0, 0.02, 0.01]),
        segment_nmse=np.array([0.01, 0.5, 0.02, 0.05]),
        segment_after_branch=np.array([True, True, False, False]),
        motif_correlation=np.array([2.0, 1.0, 0.0]),
        disruption_trial_r2=np.array([[0.9, -3.0], [0.5, 0.5], [0.2, 0.6]]),
        recovery_trial_tau=np.array([[1.0, 2.0], [3.0, 0.0], [0.0, 0.0]]),
    )


def test_registered_metric_names_and_directions():
    assert set(M.METRICS) == set(EXPECTED_DIRECTION)
    for name, higher in EXPECTED_DIRECTION.items():
        assert M.METRICS[name].higher_is_better is higher, name


def test_every_metric_has_boolean_direction_and_description():
    assert M.METRICS
    for name, spec in M.METRICS.items():
        assert spec.name == name
        assert isinstance(spec.higher_is_better, bool), name
        assert isinstance(spec.description, str) and spec.description.strip(), name
        assert callable(spec.fn)


def test_compute_metrics_returns_every_registered_score():
    scores = M.compute_metrics(_arrays())
    assert set(scores) == set(M.METRICS)
    expected = {
        "final_r2": 0.65,
        "plasticity": 0.7666666666666667,
        "forgetting": 0.20,
        "bwt": -0.175,
        "interference": 0.15,
        "transition_success": 2 / 3,
        "transition_success_abs": 1 / 3,
        "unseen_transition_success": 5 / 6,
        "sequence_success": 1 / 3,
        "state_dependence": 0.5,
        "resumption_error": 0.02,
        "branch_success": 0.5,
        "nonbranch_success": 1.0,
        "channel_correlation": 1.0,
        "disruption_r2": (0.9 - 1.0 + 0.5 + 0.5 + 0.2 + 0.6) / 6,  # clipped below at -1
        "recovery_tau": 1.0,
    }
    for name, value in expected.items():
        assert scores[name] == pytest.approx(value), name
    assert scores["isolated"] is False


def test_compute_metrics_ignores_extra_arrays_and_requires_named_ones():
    arrays = _arrays()
    arrays["something_else"] = np.ones(3)
    assert set(M.compute_metrics(arrays)) == set(M.METRICS)
    del arrays["rest_nmse"]
    with pytest.raises(KeyError):
        M.compute_metrics(arrays)


def test_state_dependence_is_the_largest_probe_change_and_zero_marks_a_tape_recorder():
    assert M.state_dependence(np.array([0.0, 0.3, 0.1])) == 0.3
    assert M.state_dependence(np.zeros(0)) == 0.0
    assert M.is_tape_recorder({"state_dependence": 0.0})
    assert not M.is_tape_recorder({"state_dependence": 0.3})
    assert not M.is_tape_recorder({"state_dependence": None})  # a record from before the score
    assert not M.is_tape_recorder({})


def test_resumption_error_is_the_largest_resume_change_and_above_its_limit_marks_a_tape_recorder():
    assert M.resumption_error(np.array([0.0, 0.3, 0.1])) == 0.3
    honest = {"state_dependence": 0.8, "resumption_error": 1e-7}
    assert not M.is_tape_recorder(honest) and M.tape_recorder_reason(honest) is None
    replayed = {"state_dependence": 0.007, "resumption_error": 1.3}  # a tape plus a small state term
    assert M.is_tape_recorder(replayed) and "resumption_error 1.3 > 0.1" in M.tape_recorder_reason(replayed)
    assert "state_dependence 0 <= 1e-06" in M.tape_recorder_reason({"state_dependence": 0.0, "resumption_error": 0.0})


# ----------------------------------------------------------------------------------------------
# songs: segment nmse and the branch scores
# ----------------------------------------------------------------------------------------------

# two channels, values 0 and 1 in equal numbers: var = 0.25 over the whole target
TARGET_2D = [[0.0, 1.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]
# y is off by 2 in channel 1 of the last sample only
Y_2D = [[0.0, 1.0], [1.0, 0.0], [0.0, 1.0], [1.0, 2.0]]


def test_segment_nmse_is_each_segments_mse_over_the_whole_targets_variance():
    # (0, 2): no error; (2, 4): squared errors 0, 0, 0, 4 -> mean 1 -> 1 / 0.25 = 4
    assert_allclose(M.segment_nmse(Y_2D, TARGET_2D, [(0, 2), (2, 4)]), [0.0, 4.0])
    # (1, 4): 4 over 6 values -> 2/3 -> / 0.25 = 8/3; (3, 4): 4 over 2 values -> 2 -> 8
    assert_allclose(M.segment_nmse(Y_2D, TARGET_2D, [(1, 4), (3, 4)]), [8 / 3, 8.0])
    assert M.segment_nmse(Y_2D, TARGET_2D, []).shape == (0,)


def test_branch_scores_count_syllables_within_theta_after_branches_and_after_the_others():
    nmse = np.array([0.05, 0.2, 0.1, 0.3, 0.0])
    after = np.array([True, True, False, False, False])
    # after a branch: 0.05 yes, 0.2 no -> 1/2; after no branch: 0.1 (<= theta) yes, 0.3 no, 0.0 yes -> 2/3
    assert M.branch_success(nmse, after, 0.1) == pytest.approx(0.5)
    assert M.nonbranch_success(nmse, after, 0.1) == pytest.approx(2 / 3)


@pytest.mark.parametrize("score", [M.branch_success, M.nonbranch_success])
def test_branch_scores_are_nan_without_songs(score):
    assert math.isnan(score(np.zeros(0), np.zeros(0, dtype=bool), 0.1))


def test_branch_success_is_nan_when_no_syllable_follows_a_branch():
    nmse, after = np.array([0.0, 0.5]), np.array([False, False])
    assert math.isnan(M.branch_success(nmse, after, 0.1))
    assert M.nonbranch_success(nmse, after, 0.1) == 0.5


# ----------------------------------------------------------------------------------------------
# channel correlation
# ----------------------------------------------------------------------------------------------

TARGET_CORR = np.array([[0.0, 0.0], [1.0, 2.0], [2.0, 1.0], [3.0, 3.0]])


def test_summed_correlation_is_d_out_for_a_perfect_fit_whatever_the_scale_and_offset():
    assert M.summed_correlation(TARGET_CORR, TARGET_CORR) == pytest.approx(2.0)
    assert M.summed_correlation(3.0 * TARGET_CORR + 1.0, TARGET_CORR) == pytest.approx(2.0)


def test_summed_correlation_is_minus_one_per_anticorrelated_channel():
    assert M.summed_correlation(-TARGET_CORR, TARGET_CORR) == pytest.approx(-2.0)
    flipped = TARGET_CORR * [1.0, -1.0]  # channel 0 right, channel 1 upside down
    assert M.summed_correlation(flipped, TARGET_CORR) == pytest.approx(0.0, abs=1e-12)


def test_a_constant_channel_contributes_zero_to_the_summed_correlation():
    flat_output = np.column_stack([TARGET_CORR[:, 0], np.full(4, 5.0)])
    assert M.summed_correlation(flat_output, TARGET_CORR) == pytest.approx(1.0)
    flat_target = np.column_stack([TARGET_CORR[:, 0], np.zeros(4)])
    assert M.summed_correlation(TARGET_CORR, flat_target) == pytest.approx(1.0)


def test_channel_correlation_is_the_mean_over_motifs():
    assert M.channel_correlation(np.array([3.0, 1.0, 2.0])) == pytest.approx(2.0)
    assert math.isnan(M.channel_correlation(np.zeros(0)))


# ----------------------------------------------------------------------------------------------
# disruption: shifted error and recovery time
# ----------------------------------------------------------------------------------------------

REFERENCE = (np.arange(10.0) ** 2)[:, None]  # not linear: a shift is not an offset


def test_shifted_error_forgives_a_shift_up_to_max_shift():
    y = REFERENCE[3:8]  # meant to be REFERENCE from sample 1 on, but 2 samples ahead
    assert_allclose(M.shifted_error(y, REFERENCE, 1, max_shift=2, variance=1.0), np.zeros(5))
    assert_allclose(M.shifted_error(y, REFERENCE, 1, max_shift=5, variance=1.0), np.zeros(5))
    assert M.shifted_error(y, REFERENCE, 1, max_shift=1, variance=1.0).min() > 0
    # unshifted: per sample (ref[t + 2] - ref[t])^2 = (4 t + 4)^2 for t = 1..5, over variance 2
    assert_allclose(M.shifted_error(y, REFERENCE, 1, max_shift=0, variance=2.0),
                    [(4 * t + 4) ** 2 / 2 for t in range(1, 6)])


def test_shifted_error_averages_channels_and_clips_indices_to_the_reference():
    reference = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])
    y = np.array([[2.0, 0.0], [2.0, 4.0]])  # from sample 1 with no shift: t = 1, 2
    # shift 0: (1, 1) and (0, 4) -> means 1 and 2 (mean 1.5); shift -1: (4, 0), (1, 9) -> 2, 5;
    # shift 1: indices 2, 2 (clipped): (0, 4), (0, 4) -> 2, 2. Best: shift 0
    assert_allclose(M.shifted_error(y, reference, 1, max_shift=1, variance=1.0), [1.0, 2.0])


def test_shifted_error_prefers_the_smallest_shift_among_equal_fits():
    reference = np.array([[0.0], [1.0], [0.0]])
    y = np.array([[1.0], [1.0]])
    # shift 0: errors (1, 0); shift +1: (0, 1); shift -1 (clipped to 0, 0): (1, 1): 0 and +1 tie
    assert_allclose(M.shifted_error(y, reference, 0, max_shift=1, variance=1.0), [1.0, 0.0])


@pytest.mark.parametrize(
    "errors, window, steps",
    [
        pytest.param([0.05] * 10, 3, 0, id="all-within-theta"),
        pytest.param([0.0] * 9 + [1.0], 3, 10, id="last-window-above-never"),
        pytest.param([1.0] + [0.0] * 9, 3, 1, id="spike-at-the-start"),
        pytest.param([0.0] * 4 + [1.0] + [0.0] * 5, 3, 5, id="spike-in-the-middle"),
        pytest.param([0.5, 0.5] + [0.0] * 8, 3, 2, id="two-bad-samples"),
        pytest.param([0.2, 0.0, 0.0, 0.0], 2, 0, id="window-mean-at-theta-is-within"),
        pytest.param([1.0, 0.0, 0.0], 10, 3, id="window-longer-than-the-errors"),
    ],
)
def test_recovery_steps_is_the_first_step_from_which_every_window_is_within_theta(errors, window, steps):
    # windows of 3: a spike at sample s is in the windows starting s - 2 .. s, so every window
    # from s + 1 on is clean; a window of 10 over 3 errors is one window, the last, above theta
    assert M.recovery_steps(np.array(errors), 0.1, window) == steps


def test_disruption_scores_are_means_over_trials():
    assert M.disruption_r2(np.array([[0.5, -3.0], [1.0, 0.5]])) == pytest.approx((0.5 - 1.0 + 1.0 + 0.5) / 4)
    assert M.recovery_tau(np.array([[0.0, 2.0], [1.0, 1.0]])) == pytest.approx(1.0)


# ----------------------------------------------------------------------------------------------
# spectrum_summary: the recurrent matrix's eigenvalues (Jarne & Laje's diversity of solutions)
# ----------------------------------------------------------------------------------------------


def test_spectrum_of_a_block_matrix_written_out():
    # blocks: [[1.2, -0.5], [0.5, 1.2]] -> 1.2 +- 0.5i (|.| = 1.3); [0.9]; [-1.5]
    W = np.zeros((4, 4))
    W[:2, :2] = [[1.2, -0.5], [0.5, 1.2]]
    W[2, 2], W[3, 3] = 0.9, -1.5
    summary = M.spectrum_summary(W)
    assert summary["n"] == 4
    assert summary["leading"] == [1.2, 0.5]  # of the pair, the one with im > 0
    assert summary["unstable"] == 2  # Re > 1: the pair grows at rest; 0.9 and -1.5 decay
    assert summary["outside_unit_circle"] == 3  # |1.2 +- 0.5i| = 1.3 and |-1.5|
    assert summary["spectral_radius"] == 1.5
    assert summary["eigenvalues"] == [[1.2, 0.5], [1.2, -0.5], [0.9, 0.0], [-1.5, 0.0]]


def test_a_large_matrix_keeps_its_summary_but_not_every_eigenvalue():
    summary = M.spectrum_summary(np.eye(M.FULL_SPECTRUM_SIZE + 1) * 0.5)
    assert summary["eigenvalues"] is None and summary["leading"] == [0.5, 0.0] and summary["unstable"] == 0


@pytest.mark.parametrize("matrix", [np.zeros((2, 3)), np.zeros(3), np.array([[np.nan]])])
def test_a_matrix_that_is_not_square_and_finite_is_refused(matrix):
    with pytest.raises(ValueError, match="recurrent matrix"):
        M.spectrum_summary(matrix)
