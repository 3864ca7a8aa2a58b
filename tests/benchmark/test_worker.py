"""Runs execute in worker processes with time and memory limits; failures are recorded."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from motifbench.evaluator import EvalConfig
from motifbench.runner import Job, run
from motifbench.sources import resolve
from motifbench.worker import Limits

HERE = Path(__file__).parent
QUICK = EvalConfig(n_sequences=1, sequence_length=2, transition_repeats=1, prep_sweep_tau=(10.0,))


@pytest.fixture
def toy_path(monkeypatch):
    """Make ``toy_methods:Class`` importable here and in the spawned workers."""
    monkeypatch.syspath_prepend(str(HERE))


def test_a_good_run_returns_its_row_and_writes_its_record(tmp_path):
    path = tmp_path / "seed0.json"
    row, reason = run(Job(resolve("smoke-v1"), "zero", 0, path, config=QUICK), Limits(time_s=120))
    assert reason is None and row["method"] == "zero" and row["seed"] == 0
    assert json.loads(path.read_text())["metrics"]["final_r2"] == row["final_r2"]


@pytest.mark.parametrize(
    "method, limits, words",
    [
        ("toy_methods:SleepsForever", Limits(time_s=8), "timed out after 8 s"),
        ("toy_methods:AllocatesWithoutBound", Limits(time_s=120, memory_mb=300), "exceeded its memory limit of 300 MB"),
        ("toy_methods:Dies", Limits(time_s=120), "the method process died during learn (exit code 3)"),
        ("toy_methods:NaNOutput", Limits(time_s=120), "NaN"),
    ],
)
def test_a_bad_run_ends_with_a_one_line_reason_and_writes_nothing(method, limits, words, tmp_path, toy_path):
    path = tmp_path / "seed0.json"
    row, reason = run(Job(resolve("smoke-v1"), method, 0, path, config=QUICK), limits)
    assert row is None and words in reason and "\n" not in reason
    assert not path.exists()


def test_bad_runs_fail_with_records_while_a_concurrent_good_run_keeps_its_record(tmp_path):
    """Two `motifbench run` processes share one results folder: one runs a method that sleeps
    forever, one that allocates without bound and one that returns NaN; the other runs zero."""
    script = Path(sys.executable).parent / "motifbench"
    if not script.exists():
        pytest.skip(f"no console script at {script}")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    out = tmp_path / "results"
    bad = "toy_methods:SleepsForever,toy_methods:AllocatesWithoutBound,toy_methods:NaNOutput"
    commands = {
        "bad": ["run", "--stream", "smoke-v1", "--method", bad, "--time-limit", "15", "--memory-limit", "300"],
        "good": ["run", "--stream", "smoke-v1", "--method", "zero"],
    }
    processes = {
        name: subprocess.Popen([str(script), *args, "--out", str(out)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
        for name, args in commands.items()
    }
    results = {name: (process.wait(timeout=300), process.stderr.read()) for name, process in processes.items()}

    code, err = results["good"]
    assert code == 0, err
    assert json.loads((out / "smoke-v1/zero/seed0.json").read_text())["method"]["name"] == "zero"

    code, err = results["bad"]
    assert code == 1
    reasons = {
        name: json.loads((out / "smoke-v1" / f"toy_methods.{name}" / "seed0.failed.json").read_text())["reason"]
        for name in ("SleepsForever", "AllocatesWithoutBound", "NaNOutput")
    }
    assert reasons["SleepsForever"] == "method toy_methods.SleepsForever: timed out after 15 s"
    assert "exceeded its memory limit of 300 MB" in reasons["AllocatesWithoutBound"]
    assert "NaN" in reasons["NaNOutput"]
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 3 and all("seed0.failed.json" in line for line in errors)
    assert sorted(p.name for p in out.rglob("*.json")) == ["seed0.failed.json"] * 3 + ["seed0.json"]
