"""Score regression (motifbench.regress, `motifbench regress`): a re-run fails a target only when
its mean over the target's seeds is worse by more than max(FLOOR, K combined standard errors);
a shift within the seed-to-seed spread passes, a real degradation fails, and the committed
smoke targets catch a deliberately degraded method."""

import math
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from motifbench import cli, regress
from motifbench.regress import FLOOR, K, Target, TargetsError

HERE = Path(__file__).parent
COMMITTED = HERE.parents[1] / "leaderboard" / "targets.csv"
HEADER = ",".join(regress.COLUMNS) + "\n"


def target(metric="final_r2", mean=0.8, sem=0.01, seeds=(0, 1, 2)):
    return Target("smoke-v1", "m", metric, seeds, mean, sem)


def scores(metric, *values):
    return {("smoke-v1", "m", seed): {metric: value} for seed, value in enumerate(values)}


@pytest.mark.parametrize(
    "metric, values, passed",
    [
        ("final_r2", (0.8, 0.8, 0.8), True),
        ("final_r2", (0.79, 0.79, 0.79), True),  # worse by 0.01: within the floor
        ("final_r2", (0.75, 0.75, 0.75), False),  # worse by 0.05 > max(0.02, 4 x 0.01)
        ("final_r2", (0.5, 0.8, 0.8), False),  # worse by 0.1: a wider spread buys no allowance
        ("final_r2", (0.78, 0.79, 0.8), True),  # worse by 0.01, narrower spread: within the floor
        ("final_r2", (1.0, 1.0, 1.0), True),  # better never fails
        ("forgetting", (0.83, 0.83, 0.83), True),  # lower is better: worse means higher
        ("forgetting", (0.9, 0.9, 0.9), False),
        ("forgetting", (0.1, 0.1, 0.1), True),
    ],
)
def test_only_a_mean_worse_than_the_allowance_fails(metric, values, passed):
    (verdict,) = regress.judge([target(metric)], scores(metric, *values))
    assert verdict.passed is passed
    assert verdict.measured == pytest.approx(sum(values) / 3)
    rerun_sem = min(0.01, np.std(values, ddof=1) / math.sqrt(3))
    assert verdict.allowed == pytest.approx(max(FLOOR, K * math.hypot(0.01, rerun_sem)))
    assert (verdict.note == "") is passed


def test_a_failed_run_or_a_nan_score_fails_its_target():
    (missing,) = regress.judge([target()], scores("final_r2", 0.9, 0.9))  # seed 2 did not complete
    (nan,) = regress.judge([target()], scores("final_r2", 0.9, 0.9, math.nan))
    assert not missing.passed and not nan.passed and "failed" in missing.note


def test_a_target_at_the_worst_possible_score_cannot_fail():
    assert target("transition_success", mean=0.0, sem=0.0).cannot_fail()
    assert target("transition_success", mean=0.1, sem=0.03).cannot_fail()  # 0.1 - 4 x 0.03 < 0
    assert not target("transition_success", mean=0.5, sem=0.03).cannot_fail()
    assert not target("forgetting", mean=0.0, sem=0.0).cannot_fail()  # forgetting can still rise
    assert target("final_r2", mean=-0.99, sem=0.0).cannot_fail()  # r2 is clipped at -1


def test_runs_are_the_distinct_stream_method_seed_triples():
    targets = [target("final_r2"), target("forgetting"), target(seeds=(2, 3))]
    assert regress.runs(targets) == [("smoke-v1", "m", s) for s in (0, 1, 2, 3)]


def test_update_sets_measured_means_and_standard_errors(tmp_path):
    path = tmp_path / "targets.csv"
    targets = [target(), target("forgetting", 0.2, 0.05)]
    regress.write_targets(path, targets)
    assert regress.read_targets(path) == targets
    verdicts = regress.judge(targets[:1], scores("final_r2", 0.5, 0.6, 0.7))
    regress.write_targets(path, regress.updated(targets, verdicts))
    assert regress.read_targets(path) == [target(mean=0.6, sem=round(0.1 / math.sqrt(3), 4)), targets[1]]


def test_update_drops_a_judged_row_that_the_new_scores_leave_unable_to_fail():
    judged = [target("final_r2"), target("transition_success", 0.5, 0.03)]
    unjudged = target("transition_success", 0.0, 0.0, seeds=(5, 6))  # cannot fail, but not measured now
    measured = {("smoke-v1", "m", seed): {"final_r2": 0.8, "transition_success": value}
                for seed, value in enumerate((0.0, 0.1, 0.0))}
    verdicts = regress.judge(judged, measured)
    # transition_success 0.033 +- 0.033: 4 sem reach 0, the worst score
    assert regress.updated([*judged, unjudged], verdicts) == [target("final_r2", 0.8, 0.0), unjudged]


@pytest.mark.parametrize(
    "text, words",
    [
        ("stream,method,metric,target,tolerance,seeds\n", "expected the columns"),
        (HEADER + 'smoke-v1,zero,final_r3,"0,1",2,0.5,0.1\n', "line 2: unknown metric 'final_r3'"),
        (HEADER + 'smoke-v2,zero,final_r2,"0,1",2,0.5,0.1\n', "line 2: unknown stream 'smoke-v2'"),
        (HEADER + 'smoke-v1,zero,final_r2,"0,1",2,0.5,-1\n', "sem '-1' a finite number >= 0"),
        (HEADER + 'smoke-v1,zero,final_r2,"0,1",2,high,0.1\n', "line 2: could not convert"),
        (HEADER + 'smoke-v1,zero,final_r2,0;1,2,0.5,0.1\n', "line 2: seeds '0;1': expected comma-separated"),
        (HEADER + 'smoke-v1,zero,final_r2,"0,1_0",2,0.5,0.1\n', "seeds '0,1_0'"),
        (HEADER + 'smoke-v1,zero,final_r2,"0,9999999999",2,0.5,0.1\n', "distinct integers from 0 to 4294967295"),
        (HEADER + 'smoke-v1,zero,transition_success,"0,1",2,5,0.1\n', "in [0, 1] (the range of transition_success)"),
        (HEADER + 'smoke-v1,zero,final_r2,"0,1",2,0.5\n', "line 2: expected 7 fields, got 6"),
        (HEADER + 'smoke-v1,zero,final_r2,"0,1",2,0.5,0.1,extra\n', "line 2: expected 7 fields, got 8"),
        (HEADER + '\n\nsmoke-v1,zero,final_r2,"0,1",2,0.5,0.1\nsmoke-v1,zero,final_r2,"0,1",2,0.5,0.1\n',
         "line 5: a second row for smoke-v1 zero final_r2"),
        (HEADER + 'smoke-v1,zero,final_r2,"' + ",".join(map(str, range(40000))) + '",40000,0.5,0.1\n',
         "field larger than field limit"),
        (HEADER + 'smoke-v1,zero,final_r2,"0,1",3,0.5,0.1\n', "line 2: n=3 must be the number of seeds (2)"),
        (HEADER + "smoke-v1,zero,final_r2,0,1,0.5,0.1\n", "at least 2, so that the target has a standard error"),
        (b"\xff\xfe", "codec can't decode"),  # not UTF-8 text
        (b"", "expected the columns"),
    ],
)
def test_a_bad_targets_file_is_one_line_naming_file_and_line(tmp_path, text, words):
    path = tmp_path / "targets.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(TargetsError, match="targets file .*targets.csv") as error:
        regress.read_targets(path)
    assert words in str(error.value) and "\n" not in str(error.value)


def test_the_committed_targets_cover_every_registered_method_and_can_all_fail():
    from motifbench import registry

    committed = regress.read_targets(COMMITTED)
    standard = regress.in_tier(committed, "standard")
    for stream in ("smooth10-v1", "steps10-v1"):
        assert {t.method for t in standard if t.stream == stream} == set(registry.METHODS)
    smoke = regress.in_tier(committed, "smoke")
    # SGD-trained methods land elsewhere on another build: five seeds; the others barely move
    assert smoke and all(t.n >= (5 if registry.get_method(t.method).card.uses_sgd else 3) for t in smoke)
    assert [t for t in committed if t.cannot_fail()] == []


# ----------------------------------------------------------------------------------------------
# a cross-build shift inside seed noise passes; a degradation fails; what absolute tolerances did
# ----------------------------------------------------------------------------------------------

# Per-seed scores on smoke-v1, seeds 0-4, measured on this repository's 2-core machine (torch
# 2.14.1) with `motifbench run --stream smoke-v1 --method finetune,ewc,context_gating --seeds
# 0,1,2,3,4`, beside the absolute rule's target (seed 0 alone) and tolerance of the targets file
# before this rule: metric -> (per-seed scores, old target, old tolerance).
MEASURED = {
    ("finetune", "final_r2"): ((0.0626, 0.2442, 0.404, 0.1976, 0.4451), 0.0626, 0.05),
    ("finetune", "forgetting"): ((1.3924, 1.1143, 0.8761, 1.1757, 0.8158), 1.3924, 0.05),
    ("ewc", "final_r2"): ((0.5129, 0.4049, 0.8472, 0.9739, 0.7537), 0.5129, 0.05),
    ("ewc", "forgetting"): ((0.7003, 0.8502, 0.1881, 0.0168, 0.3361), 0.7003, 0.05),
    ("context_gating", "final_r2"): ((0.3133, 0.2125, 0.6711, 0.3224, 0.685), 0.3133, 0.05),
    ("context_gating", "forgetting"): ((1.0157, 1.1685, 0.4787, 0.9997, 0.4587), 1.0157, 0.05),
}
BUILDS = 4000  # simulated other builds per target


def measured_target(method, metric):
    """The statistical target the measured seeds give, and their seed-to-seed std."""
    values = MEASURED[method, metric][0]
    mean, sem = regress.mean_and_sem(list(values))
    return Target("smoke-v1", method, metric, tuple(range(len(values))), mean, sem), sem * math.sqrt(len(values))


def other_builds(rng, mean, sd, n):
    """(BUILDS, n) per-seed scores of other builds: each seed's training is chaotic, so on another
    build it lands like a fresh draw from the seed-to-seed distribution (the worst case)."""
    return rng.normal(mean, sd, size=(BUILDS, n))


def statistical_failures(target, per_seed):
    """Fraction of builds (rows of ``per_seed``) that fail ``target`` under the statistical rule."""
    means = per_seed.mean(axis=1)
    sems = per_seed.std(axis=1, ddof=1) / math.sqrt(per_seed.shape[1])
    allowed = np.maximum(FLOOR, K * np.hypot(target.sem, np.minimum(sems, target.sem)))
    return float(np.mean(np.array([target.worse_by(m) for m in means]) > allowed))


@pytest.mark.parametrize("method, metric", list(MEASURED))
def test_a_cross_build_shift_inside_seed_noise_passes_where_absolute_tolerances_failed(method, metric):
    """Targets made on one build and checked on another, each seed landing anywhere in the
    measured spread on both: the statistical rule fails fewer than 1% of such pairs of builds.
    The absolute rule (one seed against a fixed tolerance) failed at least a fifth of them:
    the false alarms that stopped CI on another machine."""
    rng = np.random.default_rng(11)
    stat, sd = measured_target(method, metric)
    made, checked = other_builds(rng, stat.mean, sd, stat.n), other_builds(rng, stat.mean, sd, stat.n)
    false_alarms = 0
    for build, other in zip(made, checked):
        mean, sem = regress.mean_and_sem(list(build))
        (verdict,) = regress.judge([replace(stat, mean=mean, sem=sem)],
                                   {("smoke-v1", method, seed): {metric: v} for seed, v in enumerate(other)})
        false_alarms += not verdict.passed
    assert false_alarms / BUILDS < 0.01

    tolerance = MEASURED[method, metric][2]
    absolute = [Target("smoke-v1", method, metric, (0,), build[0], 0.0).worse_by(other[0]) > tolerance
                for build, other in zip(made, checked)]
    assert np.mean(absolute) > 0.2


def test_the_issue_s_cross_machine_finetune_scores_pass_the_statistical_rule():
    """On another machine finetune's seed 0 scored final_r2 -0.063 (target 0.063, tolerance 0.05)
    and forgetting 1.574 (target 1.392): two false alarms under the absolute rule. The same change
    of seed 0 within a 5-seed statistical target passes."""
    for metric, there in (("final_r2", -0.063), ("forgetting", 1.574)):
        values, here, tolerance = MEASURED["finetune", metric]
        assert Target("smoke-v1", "finetune", metric, (0,), here, 0.0).worse_by(there) > tolerance
        stat, _ = measured_target("finetune", metric)
        (verdict,) = regress.judge([stat], {("smoke-v1", "finetune", seed): {metric: there if seed == 0 else v}
                                            for seed, v in enumerate(values)})
        assert verdict.passed


@pytest.mark.parametrize("method, metric", list(MEASURED) + [("finetune", "plasticity"), ("ewc", "plasticity"),
                                                             ("thalamocortical", "final_r2"), ("gpm", "final_r2")])
def test_a_real_degradation_fails_the_statistical_rule(method, metric):
    """A degradation a user would care about: the metric worse by 0.1 (a tenth of r2's range above
    0) or by six combined standard errors, whichever is more, with the same spread. The statistical
    rule fails it in at least 95% of simulated builds (measured spreads, or the committed ones)."""
    rng = np.random.default_rng(12)
    if (method, metric) in MEASURED:
        stat, sd = measured_target(method, metric)
    else:
        (stat,) = [t for t in regress.in_tier(regress.read_targets(COMMITTED), "smoke")
                   if t.method == method and t.metric == metric]
        sd = stat.sem * math.sqrt(stat.n)
    drop = max(0.1, 6 * math.sqrt(2) * stat.sem)
    worse_mean = stat.mean - drop if regress.registry.METRICS[metric].higher_is_better else stat.mean + drop
    assert statistical_failures(stat, other_builds(rng, worse_mean, sd, stat.n)) >= 0.95


# ----------------------------------------------------------------------------------------------
# the command
# ----------------------------------------------------------------------------------------------


@pytest.fixture
def toy_path(monkeypatch):
    """``toy_methods:Class`` importable here and in the spawned workers."""
    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))


def committed_rows(method, metric=""):
    lines = COMMITTED.read_text().splitlines()
    return [line for line in lines[1:] if line.startswith(f"smoke-v1,{method},{metric}")]


def test_regress_fails_for_a_degraded_method(tmp_path, capsys, toy_path):
    rows = committed_rows("finetune", "plasticity")
    assert rows
    degraded = tmp_path / "degraded.csv"
    degraded.write_text(HEADER + "\n".join(row.replace(",finetune,", ",toy_methods:DegradedFinetune,") for row in rows) + "\n")
    assert cli.main(["regress", "--targets", str(degraded), "--out", str(tmp_path / "b"), "-j", "2"]) == 1
    out, err = capsys.readouterr()
    assert "FAIL: worse than the target" in out
    assert err.strip().splitlines()[-1].startswith("error: ")
    assert "toy_methods:DegradedFinetune plasticity on smoke-v1" in err


def test_from_records_judges_existing_records_and_update_touches_only_the_chosen_method(tmp_path, capsys):
    records = tmp_path / "records"
    assert cli.main(["run", "--stream", "smoke-v1", "--method", "zero", "--seeds", "0,1", "--out", str(records)]) == 0
    path = tmp_path / "targets.csv"
    path.write_text(HEADER + 'smoke-v1,zero,final_r2,"0,1",2,0.9,0.01\nsmoke-v1,finetune,final_r2,"0,1",2,0.5,0.1\n'
                    'smoke-v1,zero,transition_success,"0,1",2,0.5,0.01\n')
    judge = ["regress", "--targets", str(path), "--from-records", str(records), "--method", "zero"]
    capsys.readouterr()
    assert cli.main(judge) == 1
    assert cli.main([*judge, "--update"]) == 0
    err = capsys.readouterr().err
    assert "updated 1 targets" in err  # zero's transition_success, now 0 +- 0, can no longer fail
    assert "dropped 1 targets that the new scores leave unable to fail: smoke-v1 zero transition_success" in err
    assert cli.main(judge) == 0
    zero, finetune = regress.read_targets(path)
    assert zero.mean < 0.05 and zero.sem > 0 and finetune.mean == 0.5  # zero's measured score; finetune's kept


def test_resume_judges_the_records_already_in_out(tmp_path, capsys):
    records = tmp_path / "records"
    assert cli.main(["run", "--stream", "smoke-v1", "--method", "zero", "--seeds", "0,1", "--out", str(records)]) == 0
    path = tmp_path / "targets.csv"
    path.write_text(HEADER + 'smoke-v1,zero,forgetting,"0,1",2,0.0,0.0\nsmoke-v1,zero,transition_success,"0,1",2,0.0,0.0\n')
    capsys.readouterr()
    assert cli.main(["regress", "--targets", str(path), "--out", str(records), "--resume"]) == 0
    out, err = capsys.readouterr()
    assert err.count("kept ") == 2 and "wrote" not in err
    assert "pass (cannot fail)" in out and "1 of 2 targets cannot fail" in err


def test_a_method_the_targets_name_that_cannot_be_loaded_is_one_line(tmp_path, capsys):
    path = tmp_path / "targets.csv"
    path.write_text(HEADER + 'smoke-v1,my_esn,final_r2,"0,1",2,0.9,0.05\n')
    assert cli.main(["regress", "--targets", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "unknown method 'my_esn'" in err and "package.module:Class" in err


def test_update_keeps_a_target_whose_run_is_missing_and_exits_1(tmp_path, capsys):
    path = tmp_path / "targets.csv"
    text = HEADER + 'smoke-v1,zero,final_r2,"0,1",2,0.9000,0.0100\n'
    path.write_text(text)
    code = cli.main(["regress", "--targets", str(path), "--from-records", str(tmp_path / "none"), "--update"])
    assert code == 1 and "kept 1 targets as they were" in capsys.readouterr().err
    assert path.read_text() == text


def test_update_writes_through_a_link_to_the_targets_file(tmp_path, capsys):
    records = tmp_path / "records"
    assert cli.main(["run", "--stream", "smoke-v1", "--method", "zero", "--seeds", "0,1", "--out", str(records)]) == 0
    real, link = tmp_path / "real.csv", tmp_path / "link.csv"
    real.write_text(HEADER + 'smoke-v1,zero,final_r2,"0,1",2,0.9000,0.0100\n')
    link.symlink_to(real)
    assert cli.main(["regress", "--targets", str(link), "--from-records", str(records), "--update"]) == 0
    assert link.is_symlink() and regress.read_targets(real)[0].mean < 0.05


def test_a_method_without_targets_in_the_tier_is_a_usage_error(capsys):
    assert cli.main(["regress", "--targets", str(COMMITTED), "--method", "zero,nosuch"]) == 2
    assert "no targets for tier 'smoke' and method 'nosuch'" in capsys.readouterr().err
