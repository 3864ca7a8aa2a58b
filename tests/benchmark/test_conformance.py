"""`motifbench check`: each conformance check catches the fault it names, and a method defined
outside the package (tests/benchmark/submitted_methods.py) is checked, run and ranked as
``module:Class`` without editing motifbench."""

import os
from pathlib import Path

import pytest

from motifbench import cli
from motifbench.conformance import CheckJob, run_checks

HERE = Path(__file__).parent


@pytest.fixture
def outside_methods(monkeypatch):
    """``toy_methods:Class`` and ``submitted_methods:Class`` importable here and in workers."""
    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))


def results(method):
    checks = run_checks(CheckJob(method, {}), cap_memory=lambda: None)
    return {check.name: check for check in checks}


@pytest.mark.parametrize(
    "toy, failing",
    [
        ("ChangesOnGenerate", {"generate leaves learned state unchanged"}),
        ("Unseeded", {"same seed, same scores", "state round-trip"}),  # a fresh instance draws anew
        ("ForgetsOnLoad", {"state round-trip"}),
        ("WritesIntoState", {"inputs read-only"}),
    ],
)
def test_each_check_catches_its_fault(toy, failing, outside_methods):
    checks = results(f"toy_methods:{toy}")
    # the toys output constants: none learns, and none uses its state
    failing |= {"learns better than zero", "uses its start state"}
    assert {name for name, check in checks.items() if not check.passed} == failing
    assert all(checks[name].detail for name in failing)


def test_a_crashing_method_fails_the_first_check_and_stops_there(outside_methods):
    checks = results("toy_methods:NaNOutput")
    assert list(checks) == ["outputs: shapes, finite, no crash"]
    assert "NaN" in checks["outputs: shapes, finite, no crash"].detail


def test_a_method_outside_the_package_is_checked_run_and_ranked(tmp_path, capsys, outside_methods):
    echo, parrot = "submitted_methods:EchoStateNetwork", "submitted_methods:Parrot"
    assert cli.main(["check", "-m", echo]) == 0
    table = capsys.readouterr().out
    assert table.count("| pass ") == 7 and "FAIL" not in table

    assert cli.main(["check", "-m", parrot]) == 1
    out, err = capsys.readouterr()
    assert "| uses its start state" in out and "tape recorder" in out
    assert err.strip() == "error: parrot failed 1 of 7 checks: uses its start state"

    records, board = tmp_path / "results", tmp_path / "board"
    assert cli.main(["run", "--stream", "smoke-v1", "--method", f"{echo},{parrot}", "--out", str(records)]) == 0
    assert cli.main(["leaderboard", "--results", str(records), "--out", str(board), "--no-figures"]) == 0
    ranked, apart = (board / "smoke-v1.md").read_text().split("## Tape recorders")
    assert "| echo_state_network " in ranked and "parrot" not in ranked
    assert "| parrot " in apart
