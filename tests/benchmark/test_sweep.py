"""``motifbench sweep`` (motifbench.sweep): normal records per swept value, a table and a figure
from the records alone, ``--resume``, one-line refusals of bad grids, and the leaderboard's
committed sweeps."""

from __future__ import annotations

import json

import pytest
import torch

from motifbench import leaderboard
from motifbench.cli import main
from motifbench.sweep import read_sweep, sweep_table

CHEAP = ["--set", "max_iterations=5", "--set", "eval.n_sequences=2", "--set", "eval.sequence_length=2",
         "--set", "eval.transition_repeats=1", "--set", "eval.prep_sweep_tau=10"]
NAME = "smoke-v1--n_hidden--finetune+ewc--" + "+".join(CHEAP[1::2])


def sweep(tmp_path, *extra: str) -> int:
    threads = torch.get_num_threads()  # a run sets torch's thread count for the whole process
    try:
        return main(["sweep", "--stream", "smoke-v1", "--method", "finetune,ewc", "--grid", "n_hidden=4,8",
                     "--seeds", "0,1", "--out", str(tmp_path / "results"), "--sweep-out", str(tmp_path / "sweeps"),
                     *CHEAP, *extra])
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep")
    assert sweep(folder) == 0
    return folder


def test_a_sweep_writes_a_record_per_method_value_and_seed_and_its_table(swept):
    spec = read_sweep(swept / "sweeps" / f"{NAME}.json")
    assert (spec.stream, spec.methods, spec.key, spec.values, spec.seeds) == (
        "smoke-v1", ("finetune", "ewc"), "n_hidden", ("4", "8"), (0, 1))
    paths = {path.relative_to(swept / "results").as_posix() for path in (swept / "results").rglob("seed*.json")}
    listed = {path for method in spec.records.values() for value in method.values() for path in value}
    assert paths == listed and len(paths) == 8  # 2 methods x 2 values x 2 seeds, each with its override tag
    for method, values in spec.records.items():
        for value, records in values.items():
            for seed, path in zip((0, 1), records):
                record = json.loads((swept / "results" / path).read_text())
                assert (record["method"]["name"], record["seed"]) == (method, seed)
                assert record["overrides"]["n_hidden"] == int(value) == record["method"]["hyperparameters"]["n_hidden"]
    table = sweep_table(spec, swept / "results")
    assert [(row["method"], row["value"], row["seeds"]) for row in table] == [
        ("finetune", "4", "0,1"), ("finetune", "8", "0,1"), ("ewc", "4", "0,1"), ("ewc", "8", "0,1")]
    markdown = (swept / "sweeps" / f"{NAME}.md").read_text()
    assert "| finetune | 4 " in markdown and "final_r2" in markdown
    csv = (swept / "sweeps" / f"{NAME}.csv").read_text().splitlines()
    assert csv[0].startswith("method,value,seeds,final_r2,final_r2_sem") and len(csv) == 5
    for figure in (f"{NAME}.png", f"{NAME}-spectra.png"):
        assert (swept / "sweeps" / figure).read_bytes()[:4] == b"\x89PNG"


def test_resume_runs_only_the_missing_records(swept, tmp_path, capsys):
    import shutil

    shutil.copytree(swept, tmp_path, dirs_exist_ok=True)
    spec = read_sweep(tmp_path / "sweeps" / f"{NAME}.json")
    gone = tmp_path / "results" / spec.records["ewc"]["8"][1]
    kept = {path: path.stat().st_mtime_ns for path in (tmp_path / "results").rglob("seed*.json") if path != gone}
    gone.unlink()
    capsys.readouterr()
    assert sweep(tmp_path, "--resume") == 0
    assert gone.exists() and {path: path.stat().st_mtime_ns for path in kept} == kept
    assert capsys.readouterr().err.count("kept ") == 7


@pytest.mark.parametrize("change, words", [
    ({"--grid": "n_hidden"}, "--grid 'n_hidden': expected KEY=v1,v2"),
    ({"--grid": "n_hidden=4,4"}, "distinct"),
    ({"--grid": "n_hidden=4,x"}, "n_hidden='x': expected int"),
    ({"--grid": "rank=1,2"}, "no selected method has a hyperparameter 'rank'"),
    ({"--grid": "ewc.ewc_lambda=1,2"}, "method finetune would not change across the sweep"),
    ({"--grid": "stream.gap_tau=2,5"}, "smoke-v1 is not a stream family"),
    ({"--scores": "final_r2,speed"}, "unknown score 'speed'"),
])
def test_a_bad_grid_is_refused_in_one_line_and_nothing_is_written(change, words, tmp_path, capsys):
    options = {"--stream": "smoke-v1", "--method": "finetune,ewc", "--grid": "n_hidden=4,8", "--seeds": "0",
               "--out": str(tmp_path / "results"), "--sweep-out": str(tmp_path / "sweeps"), **change}
    assert main(["sweep", *(item for pair in options.items() for item in pair)]) == 2
    error = capsys.readouterr().err.strip()
    assert words in error and "\n" not in error
    assert not list(tmp_path.rglob("*.json"))


@pytest.mark.parametrize("gaps, lacking", [("2,3", "3"), ("2,three", "three")])
def test_a_family_member_the_family_lacks_is_refused_by_its_value(gaps, lacking, tmp_path, capsys):
    assert main(["sweep", "--stream", "memgap-v1", "--method", "finetune", "--grid", f"stream.gap_tau={gaps}",
                 "--out", str(tmp_path)]) == 2
    assert f"memgap-v1 has no member with gap_tau={lacking} (it has 2, 5, 10, 20, 40)" in capsys.readouterr().err


def test_the_leaderboard_rebuilds_committed_sweeps_and_checks_them(swept, tmp_path, capsys):
    import shutil

    shutil.copytree(swept / "results", tmp_path / "results")  # a board of these runs, and their sweep:
    shutil.copytree(swept / "results", tmp_path / "board" / "sweeps" / "results")
    shutil.copy(swept / "sweeps" / f"{NAME}.json", tmp_path / "board" / "sweeps")
    board = ["leaderboard", "--results", str(tmp_path / "results"), "--out", str(tmp_path / "board")]
    assert main(board) == 0
    sweeps = tmp_path / "board" / "sweeps"
    assert (sweeps / f"{NAME}.md").read_text() == (swept / "sweeps" / f"{NAME}.md").read_text()
    assert (sweeps / f"{NAME}.png").exists() and (sweeps / f"{NAME}-spectra.png").exists()
    page = (tmp_path / "board" / "index.html").read_text()
    assert f'src="sweeps/{NAME}.png"' in page and f'src="sweeps/{NAME}-spectra.png"' in page
    assert "n_hidden on smoke-v1" in page
    assert main([*board, "--check"]) == 0
    (sweeps / f"{NAME}.csv").write_text("edited\n")
    assert main([*board, "--check"]) == 1
    (sweeps / f"{NAME}.json").write_text("{not json")
    capsys.readouterr()
    assert main(board) == 2
    error = capsys.readouterr().err.strip()
    assert f"sweep {sweeps / NAME}.json is unreadable or corrupt" in error and "\n" not in error


def test_without_sweeps_the_page_has_no_sweep_section(swept):
    assert "Sweeps" not in leaderboard.build(swept / "results")["index.html"]
