"""Leaderboard tables: built from records alone, ranked, deterministic, and checked."""

import json
import math
from pathlib import Path

import pytest

from motifbench import cli, leaderboard
from motifbench.baselines.zero import Zero
from motifbench.evaluator import EvalConfig, Evaluator
from motifbench.metrics import METRICS
from motifbench.results import (
    SCHEMA_VERSION,
    RecordError,
    build_record,
    method_provenance,
    record_path,
    write_record,
)
from motifbench.sources import resolve

SCORES = {**{name: 0.0 for name in METRICS}, **dict(transition_success=0.5, unseen_transition_success=0.5,
                                                  plasticity=0.9, forgetting=0.1, interference=0.0)}


def write_records(root, stream="smoke-v1", tape_recorder=False):
    """Three methods, two seeds each; ``good`` chains best, ``tuned`` is ``good`` with a setting;
    with ``tape_recorder``, a fourth, ``parrot``, whose output ignores its start state."""
    entries = [("good", {}, [0.9, 0.7]), ("poor", {}, [0.1, 0.3]), ("good", {"lr": 0.1}, [0.4, 0.4])]
    entries += [("parrot", {}, [1.0, 1.0])] if tape_recorder else []
    for name, overrides, sequence_scores in entries:
        for seed, sequence in enumerate(sequence_scores):
            path = record_path(root, stream, name, seed, overrides)
            path.parent.mkdir(parents=True, exist_ok=True)
            metrics = dict(SCORES, sequence_success=sequence, final_r2=0.5 + seed / 10,
                           state_dependence=0.0 if name == "parrot" else 0.2)
            record = {"schema_version": SCHEMA_VERSION, "seed": seed, "overrides": overrides, "metrics": metrics,
                      "method": {"name": name, "stores_past_data": name == "poor", "uses_sgd": True},
                      "stream": {"name": stream, "theta": 0.1}, "parameter_counts": [100, 100 + 40 * seed],
                      "timings": {"learn": [0.5, 0.7 + seed]}}
            path.write_text(json.dumps(record))


def test_tables_rank_by_sequence_success_with_mean_and_sem(tmp_path):
    write_records(tmp_path / "results")
    files = leaderboard.build(tmp_path / "results")
    assert sorted(files) == ["index.html", "smoke-v1.csv", "smoke-v1.md"]
    rows = [line for line in files["smoke-v1.md"].splitlines() if line.startswith("| ") and "method" not in line]
    assert [row.split("|")[1].strip() for row in rows] == ["good", "good [lr=0.1]", "poor"]
    assert [cell.strip() for cell in rows[0].split("|")[1:5]] == ["good", "no", "yes", "0,1"]  # the card's flags
    assert "| 0.800 ± 0.100 " in rows[0]
    cells = [cell.strip() for cell in rows[0].split("|")[-4:-1]]  # isolated, params_per_motif, learn_s_per_motif
    assert cells == ["0.000 ± 0.000", "20.000 ± 20.000", "0.850 ± 0.250"]
    csv_lines = files["smoke-v1.csv"].splitlines()
    assert csv_lines[1].startswith('good,no,yes,"0,1",0.800000,0.100000,')


def test_output_depends_on_the_records_alone(tmp_path):
    write_records(tmp_path / "a")
    write_records(tmp_path / "b")
    assert leaderboard.build(tmp_path / "a") == leaderboard.build(tmp_path / "b")


def test_check_passes_on_generated_tables_and_fails_after_a_hand_edit(tmp_path, capsys):
    write_records(tmp_path / "results")
    args = ["leaderboard", "--results", str(tmp_path / "results"), "--out", str(tmp_path / "board"), "--no-figures"]
    assert cli.main(args) == 0
    assert cli.main(args + ["--check"]) == 0
    table = tmp_path / "board" / "smoke-v1.md"
    table.write_text(table.read_text().replace("0.800", "0.900"))
    assert cli.main(args + ["--check"]) == 1
    assert "smoke-v1.md" in capsys.readouterr().err


def test_check_fails_when_a_table_is_missing_or_a_record_is_added(tmp_path):
    write_records(tmp_path / "results")
    args = ["leaderboard", "--results", str(tmp_path / "results"), "--out", str(tmp_path / "board"), "--no-figures"]
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
    failed.write_text(json.dumps({"schema_version": SCHEMA_VERSION, "status": "failed", "reason": "timed out after 5 s",
                                  "method": {"name": "hang"},
                                  "stream": {"name": "smoke-v1"}, "seed": 0, "overrides": {}}))
    files = leaderboard.build(tmp_path / "results")
    table, failures = files["smoke-v1.md"].split("## Failed runs")
    assert "| hang " not in table and "hang" not in files["smoke-v1.csv"]
    assert failures.strip() == "- hang, seed 0: timed out after 5 s"


def test_tape_recorders_are_listed_apart_not_ranked(tmp_path):
    write_records(tmp_path / "results", tape_recorder=True)
    files = leaderboard.build(tmp_path / "results")
    ranked, apart = files["smoke-v1.md"].split("## Tape recorders")
    assert "parrot" not in ranked and "| parrot " in apart
    csv_rows = {line.split(",")[0]: line.split(",")[-1] for line in files["smoke-v1.csv"].splitlines()[1:]}
    assert csv_rows["parrot"] == "True" and csv_rows["good"] == "False"


def test_the_page_shows_every_stream_with_its_tables_and_figures(tmp_path):
    write_records(tmp_path / "results", tape_recorder=True)
    write_records(tmp_path / "results", stream="other-v1")
    page = leaderboard.build(tmp_path / "results")["index.html"]
    for stream in ("smoke-v1", "other-v1"):
        assert f'<h2 id="{stream}">' in page and f'src="figures/{stream}-R.png"' in page
    assert page.count("<table>") == 3  # two ranked tables and one of tape recorders
    assert "<td>good [lr=0.1]</td>" in page and "0.800 ± 0.100" in page


def test_a_record_whose_stream_name_would_escape_the_output_folder_writes_nothing(tmp_path, capsys):
    write_records(tmp_path / "results")
    bad = tmp_path / "results" / "smoke-v1" / "good" / "seed0.json"
    record = json.loads(bad.read_text())
    record["stream"]["name"] = "../../escape"
    bad.write_text(json.dumps(record))
    out = tmp_path / "a" / "b" / "out"
    assert cli.main(["leaderboard", "--results", str(tmp_path / "results"), "--out", str(out)]) == 2
    assert "is not a plain name" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()


# ----------------------------------------------------------------------------------------------
# the disruption and song columns: shown only where some record has them
# ----------------------------------------------------------------------------------------------

COMMITTED = Path(__file__).parents[2] / "leaderboard"
SMALL_EVAL = EvalConfig(n_sequences=2, sequence_length=2, transition_repeats=1)
BASIC = leaderboard.LEADERBOARD_COLUMNS


def write_zero_record(root: Path, stream_name: str) -> None:
    """zero's record (seed 0, this schema) on a registered stream, under a small evaluation."""
    source, method = resolve(stream_name), Zero()
    stream = source.build(0)
    evaluation = Evaluator(method, stream, 0, SMALL_EVAL).run()
    record = build_record(stream, source.origin, method, 0, "cpu", SMALL_EVAL, {}, evaluation,
                          method_provenance("motifbench.baselines.zero:Zero"))
    write_record(record_path(root, stream_name, "zero", 0, {}), record)


@pytest.fixture(scope="module")
def schema_5_boards(tmp_path_factory) -> dict[str, leaderboard.StreamBoard]:
    """Boards of zero's records on birdsong-v1 (songs) and smoke-v1 (none), and on smooth10-v1
    beside a committed schema-4 record of finetune."""
    root = tmp_path_factory.mktemp("results")
    for stream_name in ("birdsong-v1", "smoke-v1", "smooth10-v1"):
        write_zero_record(root, stream_name)
    old = root / "smooth10-v1" / "finetune" / "seed0.json"
    old.parent.mkdir(parents=True)
    old.write_bytes((COMMITTED / "results" / "smooth10-v1" / "finetune" / "seed0.json").read_bytes())
    return {board.stream: board for board in leaderboard.collect(root)}


def test_boards_of_the_committed_schema_4_records_have_neither_disruption_nor_song_columns(tmp_path):
    import shutil

    for path in (COMMITTED / "results").glob("*/*/seed*.json"):
        if json.loads(path.read_text())["schema_version"] == 4:
            copy = tmp_path / path.relative_to(COMMITTED / "results")
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, copy)
    boards = leaderboard.collect(tmp_path)
    assert {"smooth10-v1", "steps10-v1"} <= {board.stream for board in boards}
    for board in boards:
        assert board.scores == BASIC
        assert board.columns == BASIC + leaderboard.CONTEXT_COLUMNS
        assert "disruption_r2" not in board.legend() and "branch_success" not in board.legend()


def test_a_board_of_songs_shows_the_disruption_and_song_columns_and_explains_them(schema_5_boards):
    board = schema_5_boards["birdsong-v1"]
    assert board.scores == BASIC + leaderboard.DISRUPTION_COLUMNS + leaderboard.SONG_COLUMNS
    markdown = leaderboard.as_markdown(board)
    header = next(line for line in markdown.splitlines() if line.startswith("| method"))
    assert all(f" {column} " in header for column in board.columns)
    for column in ("branch_success", "nonbranch_success", "channel_correlation", "disruption_r2", "recovery_tau"):
        assert column in board.legend()


def test_a_board_without_songs_shows_the_disruption_columns_alone(schema_5_boards):
    board = schema_5_boards["smoke-v1"]
    assert board.scores == BASIC + leaderboard.DISRUPTION_COLUMNS
    assert "disruption_r2" in board.legend() and "branch_success" not in board.legend()
    assert "branch_success" not in leaderboard.as_markdown(board)


def test_a_board_mixing_schemas_shows_the_disruption_columns_with_nan_for_the_older_record(schema_5_boards):
    board = schema_5_boards["smooth10-v1"]
    assert board.scores == BASIC + leaderboard.DISRUPTION_COLUMNS
    rows = {row["method"]: row for row in board.ranked + board.tape_recorders}
    assert set(rows) == {"finetune", "zero"}
    assert math.isnan(rows["finetune"]["disruption_r2"])  # schema 4 lacks it
    assert math.isfinite(rows["zero"]["disruption_r2"])
