"""Score regression (motifbench.regress, `motifbench regress`): a score fails only when it is
worse than its target by more than its tolerance; the committed smoke targets catch a
deliberately degraded method."""

import math
import os
from pathlib import Path

import pytest

from motifbench import cli, regress
from motifbench.regress import Target, TargetsError

HERE = Path(__file__).parent
COMMITTED = HERE.parents[1] / "leaderboard" / "targets.csv"
HEADER = "stream,method,metric,target,tolerance,seeds\n"


def target(metric="final_r2", value=0.8, tolerance=0.05, seeds=(0, 1)):
    return Target("smoke-v1", "m", metric, value, tolerance, seeds)


def scores(metric, *values):
    return {("smoke-v1", "m", seed): {metric: value} for seed, value in enumerate(values)}


@pytest.mark.parametrize(
    "metric, values, passed",
    [
        ("final_r2", (0.8, 0.8), True),
        ("final_r2", (0.76, 0.76), True),  # worse, but within the tolerance
        ("final_r2", (0.7, 0.8), False),  # mean 0.75: worse by 0.05 + a rounding
        ("final_r2", (1.0, 1.0), True),  # better never fails
        ("forgetting", (0.84, 0.84), True),  # lower is better: worse means higher
        ("forgetting", (0.9, 0.9), False),
        ("forgetting", (0.1, 0.1), True),
    ],
)
def test_only_a_score_worse_than_target_by_more_than_tolerance_fails(metric, values, passed):
    (verdict,) = regress.judge([target(metric)], scores(metric, *values))
    assert verdict.passed is passed
    assert verdict.measured == pytest.approx(sum(values) / 2)
    assert (verdict.note == "") is passed


def test_a_failed_run_or_a_nan_score_fails_its_target():
    (missing,) = regress.judge([target()], scores("final_r2", 0.9))  # seed 1 did not complete
    (nan,) = regress.judge([target()], scores("final_r2", 0.9, math.nan))
    assert not missing.passed and not nan.passed and "failed" in missing.note


def test_runs_are_the_distinct_stream_method_seed_triples():
    targets = [target("final_r2"), target("forgetting"), target(seeds=(2,))]
    assert regress.runs(targets) == [("smoke-v1", "m", 0), ("smoke-v1", "m", 1), ("smoke-v1", "m", 2)]


def test_update_sets_measured_targets_and_keeps_tolerances(tmp_path):
    path = tmp_path / "targets.csv"
    targets = [target(), target("forgetting", 0.2, 0.1)]
    regress.write_targets(path, targets)
    assert regress.read_targets(path) == targets
    verdicts = regress.judge(targets[:1], scores("final_r2", 0.5, 0.6))
    regress.write_targets(path, regress.updated(targets, verdicts))
    assert regress.read_targets(path) == [target(value=0.55), targets[1]]


@pytest.mark.parametrize(
    "text, words",
    [
        ("stream,method,metric\n", "expected the columns"),
        (HEADER + "smoke-v1,zero,final_r3,0.5,0.1,0\n", "line 2: unknown metric 'final_r3'"),
        (HEADER + "smoke-v2,zero,final_r2,0.5,0.1,0\n", "line 2: unknown stream 'smoke-v2'"),
        (HEADER + "smoke-v1,zero,final_r2,0.5,-1,0\n", "line 2: target '0.5' must be a number and tolerance '-1' >= 0"),
        (HEADER + "smoke-v1,zero,final_r2,high,0.1,0\n", "line 2: could not convert"),
        (HEADER + "smoke-v1,zero,final_r2,0.5,0.1,0;1\n", "line 2: invalid literal"),
    ],
)
def test_a_bad_targets_file_is_one_line_naming_file_and_line(tmp_path, text, words):
    path = tmp_path / "targets.csv"
    path.write_text(text)
    with pytest.raises(TargetsError, match="targets file .*targets.csv") as error:
        regress.read_targets(path)
    assert words in str(error.value) and "\n" not in str(error.value)


def test_the_committed_targets_cover_every_registered_method_in_the_standard_tier():
    from motifbench import registry

    standard = regress.in_tier(regress.read_targets(COMMITTED), "standard")
    for stream in ("smooth10-v1", "steps10-v1"):
        assert {t.method for t in standard if t.stream == stream} == set(registry.METHODS)
    assert regress.in_tier(regress.read_targets(COMMITTED), "smoke")


@pytest.fixture
def toy_path(monkeypatch):
    """``toy_methods:Class`` importable here and in the spawned workers."""
    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))


def committed_rows(method):
    lines = COMMITTED.read_text().splitlines()
    return [line for line in lines[1:] if line.startswith(f"smoke-v1,{method},")]


def test_regress_passes_on_the_committed_targets_and_fails_for_a_degraded_method(tmp_path, capsys, toy_path):
    zero = tmp_path / "zero.csv"
    zero.write_text(HEADER + "\n".join(committed_rows("zero")) + "\n")
    assert cli.main(["regress", "--targets", str(zero), "--out", str(tmp_path / "a")]) == 0
    assert "targets met" in capsys.readouterr().err

    rows = committed_rows("finetune")
    assert rows
    degraded = tmp_path / "degraded.csv"
    degraded.write_text(HEADER + "\n".join(row.replace(",finetune,", ",toy_methods:DegradedFinetune,") for row in rows) + "\n")
    assert cli.main(["regress", "--targets", str(degraded), "--out", str(tmp_path / "b")]) == 1
    out, err = capsys.readouterr()
    assert "FAIL: worse than the target" in out
    assert err.strip().splitlines()[-1].startswith("error: ")
    assert "toy_methods:DegradedFinetune plasticity on smoke-v1" in err


def test_from_records_judges_existing_records_and_update_touches_only_the_chosen_method(tmp_path, capsys):
    records = tmp_path / "records"
    assert cli.main(["run", "--stream", "smoke-v1", "--method", "zero", "--out", str(records)]) == 0
    path = tmp_path / "targets.csv"
    path.write_text(HEADER + "smoke-v1,zero,final_r2,0.9,0.05,0\nsmoke-v1,finetune,final_r2,0.5,0.05,0\n")
    judge = ["regress", "--targets", str(path), "--from-records", str(records), "--method", "zero"]
    capsys.readouterr()
    assert cli.main(judge) == 1
    assert cli.main([*judge, "--update"]) == 0
    assert "updated 1 targets" in capsys.readouterr().err
    assert cli.main(judge) == 0
    zero, finetune = regress.read_targets(path)
    assert zero.target < 0.05 and finetune.target == 0.5  # zero's measured score; finetune's kept


def test_a_method_the_targets_name_that_cannot_be_loaded_is_one_line(tmp_path, capsys):
    path = tmp_path / "targets.csv"
    path.write_text(HEADER + "smoke-v1,my_esn,final_r2,0.9,0.05,0\n")
    assert cli.main(["regress", "--targets", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "unknown method 'my_esn'" in err and "package.module:Class" in err
