"""Leaderboard tables: built from records alone, ranked, deterministic, and checked."""

import json

import pytest

from motifbench import cli, leaderboard
from motifbench.results import RecordError

SCORES = dict(transition_success=0.5, unseen_transition_success=0.5, plasticity=0.9, forgetting=0.1, interference=0.0)


def write_records(root, stream="smoke-v1"):
    """Three methods, two seeds each; ``good`` chains best, ``tuned`` is ``good`` with a setting."""
    entries = [("good", {}, [0.9, 0.7]), ("poor", {}, [0.1, 0.3]), ("good", {"lr": 0.1}, [0.4, 0.4])]
    for name, overrides, sequence_scores in entries:
        for seed, sequence in enumerate(sequence_scores):
            tag = "-x" if overrides else ""
            path = root / stream / name / f"seed{seed}{tag}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            metrics = dict(SCORES, sequence_success=sequence, final_r2=0.5 + seed / 10)
            record = {"method": {"name": name}, "stream": {"name": stream}, "seed": seed, "overrides": overrides,
                      "metrics": metrics}
            path.write_text(json.dumps(record))


def test_tables_rank_by_sequence_success_with_mean_and_sem(tmp_path):
    write_records(tmp_path / "results")
    files = leaderboard.build(tmp_path / "results")
    assert sorted(files) == ["smoke-v1.csv", "smoke-v1.md"]
    rows = [line for line in files["smoke-v1.md"].splitlines() if line.startswith("| ") and "method" not in line]
    assert [row.split("|")[1].strip() for row in rows] == ["good", "good [lr=0.1]", "poor"]
    assert "| 0,1     | 0.800 ± 0.100" in rows[0]
    csv_lines = files["smoke-v1.csv"].splitlines()
    assert csv_lines[1].startswith('good,"0,1",0.800000,0.100000,')


def test_output_depends_on_the_records_alone(tmp_path):
    write_records(tmp_path / "a")
    write_records(tmp_path / "b")
    assert leaderboard.build(tmp_path / "a") == leaderboard.build(tmp_path / "b")


def test_check_passes_on_generated_tables_and_fails_after_a_hand_edit(tmp_path, capsys):
    write_records(tmp_path / "results")
    args = ["leaderboard", "--results", str(tmp_path / "results"), "--out", str(tmp_path / "board")]
    assert cli.main(args) == 0
    assert cli.main(args + ["--check"]) == 0
    table = tmp_path / "board" / "smoke-v1.md"
    table.write_text(table.read_text().replace("0.800", "0.900"))
    assert cli.main(args + ["--check"]) == 1
    assert "smoke-v1.md" in capsys.readouterr().err


def test_check_fails_when_a_table_is_missing_or_a_record_is_added(tmp_path):
    write_records(tmp_path / "results")
    args = ["leaderboard", "--results", str(tmp_path / "results"), "--out", str(tmp_path / "board")]
    assert cli.main(args) == 0
    write_records(tmp_path / "results", stream="other-v1")
    assert cli.main(args + ["--check"]) == 1


def test_a_corrupt_record_is_named_in_one_line(tmp_path, capsys):
    write_records(tmp_path / "results")
    bad = tmp_path / "results" / "smoke-v1" / "poor" / "seed1.json"
    bad.write_text("{not json")
    with pytest.raises(RecordError, match="seed1.json"):
        leaderboard.build(tmp_path / "results")
    assert cli.main(["leaderboard", "--results", str(tmp_path / "results"), "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: record ") and "\n" not in err


def test_no_records_is_an_error(tmp_path):
    assert cli.main(["leaderboard", "--results", str(tmp_path / "none"), "--out", str(tmp_path / "b")]) == 2


def test_failed_runs_are_listed_apart_not_ranked(tmp_path):
    write_records(tmp_path / "results")
    failed = tmp_path / "results" / "smoke-v1" / "hang" / "seed0.failed.json"
    failed.parent.mkdir(parents=True)
    failed.write_text(json.dumps({"status": "failed", "reason": "timed out after 5 s", "method": {"name": "hang"},
                                  "stream": {"name": "smoke-v1"}, "seed": 0, "overrides": {}}))
    files = leaderboard.build(tmp_path / "results")
    table, failures = files["smoke-v1.md"].split("## Failed runs")
    assert "hang" not in table and "hang" not in files["smoke-v1.csv"]
    assert failures.strip() == "- hang, seed 0: timed out after 5 s"
