"""Run records (motifbench.results): JSON that round-trips (NaN -> null, numpy -> plain), atomic
writes that never lose an existing record, and the fields docs/design.md promises in every record.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest

import motifbench
import motifbench.baselines.zero
from motifbench.baselines.finetune import Finetune
from motifbench.baselines.zero import Zero
from motifbench.evaluator import EvalConfig, Evaluator, damage_curve
from motifbench.method import DAMAGE_MODES
from motifbench.metrics import METRICS
from motifbench.sources import resolve
from motifbench.results import (
    SCHEMA_VERSION,
    SCORES_SINCE,
    RecordError,
    RunResult,
    build_record,
    checkout,
    mean_transition_nmse,
    method_provenance,
    read_record,
    record_path,
    write_failed_record,
    write_record,
)

SMALL = EvalConfig(n_sequences=3, sequence_length=3, transition_repeats=2)
K = 3




def run_record(stream, method, seed=0, config=SMALL, overrides=None):
    evaluation = Evaluator(method, stream, seed, config).run()
    provenance = method_provenance(f"{type(method).__module__}:{type(method).__qualname__}")
    origin = resolve(stream.name).origin
    return evaluation, build_record(stream, origin, method, seed, "cpu", config, overrides or {}, evaluation, provenance)


@pytest.fixture(scope="module")
def zero_record(smoke):
    return run_record(smoke, Zero())


def synthetic_record(**changes) -> RunResult:
    """A record whose fields hold numpy types, NaN and infinities."""
    fields = dict(
        schema_version=SCHEMA_VERSION,
        package_version="0.0-test",
        git_sha=None,
        dirty_files=[],
        provenance={"method": "toy_methods:Toy", "source_sha256": "0" * 64},
        stream={"name": "smoke-v1", "seed": np.int64(0), "content_hash": "abc", "n_motifs": 2, "tier": "smoke"},
        method={"name": "toy", "hyperparameters": {"lr": np.float32(0.5), "sizes": (1, 2)}},
        overrides={},
        seed=0,
        device="cpu",
        eval_config={"theta": 0.1, "noise_levels": (0.0, 0.1)},
        metrics={"final_r2": np.float64(0.25), "isolated": np.bool_(True), "forgetting": float("nan")},
        R=np.array([[0.5, np.nan], [0.25, 0.75]]),
        transition_matrix=np.array([[np.nan, 0.1], [np.inf, np.nan]]),
        rest_nmse=np.array([0.75, 0.25], dtype=np.float32),
        traces={"ids": [0], "produced": [np.zeros((2, 1), dtype=np.float32)]},
        sequences={"ids": np.array([[0, 1]], dtype=np.int64), "nmse": np.array([[0.0, -np.inf]])},
        curves={"final_r2_vs_noise": {"x": [0.0, 0.1], "y": [np.float64(0.5), np.nan]}},
        timings={"learn": [np.float64(0.01), 0.02]},
        parameter_counts=[np.int64(10), None],
        diagnostics={np.int64(3): np.uint8(7)},
        spectrum=None,
        environment={"python": "3"},
    )
    fields.update(changes)
    return RunResult(**fields)


def temporary_files(folder):
    return [p for p in folder.rglob("*") if p.name.startswith(".tmp") or ".tmp" in p.name]


# ----------------------------------------------------------------------------------------------
# JSON
# ----------------------------------------------------------------------------------------------


def test_to_json_turns_nan_into_null_and_numpy_into_plain_python():
    text = synthetic_record().to_json()
    assert "NaN" not in text and "Infinity" not in text
    data = json.loads(text)
    assert data["R"] == [[0.5, None], [0.25, 0.75]]
    assert data["transition_matrix"] == [[None, 0.1], [None, None]]
    assert data["rest_nmse"] == [0.75, 0.25]
    assert data["traces"] == {"ids": [0], "produced": [[[0.0], [0.0]]]}
    assert data["sequences"] == {"ids": [[0, 1]], "nmse": [[0.0, None]]}
    assert data["metrics"] == {"final_r2": 0.25, "isolated": True, "forgetting": None}
    assert data["method"]["hyperparameters"] == {"lr": 0.5, "sizes": [1, 2]}
    assert data["eval_config"]["noise_levels"] == [0.0, 0.1]
    assert data["curves"]["final_r2_vs_noise"]["y"] == [0.5, None]
    assert data["parameter_counts"] == [10, None]
    assert data["diagnostics"] == {"3": 7}
    assert type(data["metrics"]["isolated"]) is bool
    assert type(data["stream"]["seed"]) is int
    assert type(data["sequences"]["ids"][0][0]) is int
    # a second round trip changes nothing
    assert json.loads(json.dumps(data)) == data


def test_to_json_turns_a_zero_dimensional_array_into_a_number():
    data = json.loads(synthetic_record(diagnostics={"loss": np.asarray(0.5)}).to_json())
    assert data["diagnostics"] == {"loss": 0.5}


def test_record_path_names_overrides_stably(tmp_path):
    assert record_path(tmp_path, "smoke-v1", "zero", 3, {}) == tmp_path / "smoke-v1" / "zero" / "seed3.json"
    a = record_path(tmp_path, "smoke-v1", "finetune", 0, {"lr": 0.01, "eval.theta": 0.2})
    b = record_path(tmp_path, "smoke-v1", "finetune", 0, {"eval.theta": 0.2, "lr": 0.01})
    c = record_path(tmp_path, "smoke-v1", "finetune", 0, {"lr": 0.02, "eval.theta": 0.2})
    assert a == b != c
    assert re.fullmatch(r"seed0-[0-9a-f]{8}\.json", a.name)


def test_mean_transition_nmse_averages_repeats_and_leaves_the_diagonal_nan():
    nmse = np.full((2, 2, 3), np.nan)
    nmse[0, 1] = [0.1, 0.2, 0.6]
    nmse[1, 0] = [1.0, 2.0, 3.0]
    matrix = mean_transition_nmse(nmse)
    np.testing.assert_allclose(matrix, [[np.nan, 0.3], [2.0, np.nan]])


# ----------------------------------------------------------------------------------------------
# writing
# ----------------------------------------------------------------------------------------------


def test_write_record_refuses_an_existing_file_and_replaces_it_with_force(tmp_path, zero_record):
    _, record = zero_record
    path = tmp_path / "smoke-v1" / "zero" / "seed0.json"
    write_record(path, record)  # creates the folders
    assert json.loads(path.read_text()) == json.loads(record.to_json())
    assert temporary_files(tmp_path) == []

    path.write_bytes(b'{"old": true}\n')
    other = dataclasses.replace(record, seed=7)
    with pytest.raises(RecordError, match="exists"):
        write_record(path, other)
    assert path.read_bytes() == b'{"old": true}\n'
    assert temporary_files(tmp_path) == []
    assert sorted(p.name for p in path.parent.iterdir()) == ["seed0.json"]

    write_record(path, other, force=True)
    assert json.loads(path.read_text())["seed"] == 7
    assert temporary_files(tmp_path) == []
    assert sorted(p.name for p in path.parent.iterdir()) == ["seed0.json"]


def test_write_record_leaves_no_temporary_file_when_serialising_fails(tmp_path):
    path = tmp_path / "r.json"
    bad = synthetic_record(diagnostics={"tensor": object()})
    with pytest.raises(TypeError):
        write_record(path, bad)
    assert not path.exists()
    assert temporary_files(tmp_path) == []


# ----------------------------------------------------------------------------------------------
# what a real record holds
# ----------------------------------------------------------------------------------------------


def test_zero_record_holds_every_promised_field(smoke, zero_record):
    evaluation, record = zero_record
    data = json.loads(record.to_json())
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["package_version"] == motifbench.__version__
    assert data["stream"]["name"] == "smoke-v1"
    assert data["stream"]["seed"] == 0
    assert data["stream"]["n_motifs"] == K
    assert data["stream"]["content_hash"] == smoke.content_hash
    assert re.fullmatch(r"[0-9a-f]{16}", data["stream"]["content_hash"])
    card = dataclasses.asdict(Zero.card)
    assert {k: data["method"][k] for k in card} == card
    assert data["method"]["hyperparameters"] == {}
    assert data["seed"] == 0
    assert data["device"] == "cpu"
    assert data["eval_config"] == json.loads(json.dumps(dataclasses.asdict(SMALL)))
    # R: the zero method's r2 on and below the diagonal, null above
    for k in range(K):
        for j in range(K):
            if j <= k:
                assert data["R"][k][j] == pytest.approx(evaluation.R[k, j])
            else:
                assert data["R"][k][j] is None
    # transition matrix: the mean over repeats, null on the diagonal
    assert len(data["transition_matrix"]) == K
    for a in range(K):
        for b in range(K):
            value = data["transition_matrix"][a][b]
            if a == b:
                assert value is None
            else:
                assert value == pytest.approx(evaluation.transition_nmse[a, b].mean())
    assert set(data["metrics"]) >= {"final_r2", "plasticity", "forgetting", "bwt", "interference", "isolated",
                                     "transition_success", "transition_success_abs",
                                     "unseen_transition_success", "sequence_success"}
    assert data["metrics"]["isolated"] is True
    assert data["metrics"]["final_r2"] == pytest.approx(evaluation.metrics["final_r2"])
    assert len(data["rest_nmse"]) == K
    assert data["traces"]["ids"] == [0, 1, 2]
    assert np.array(data["traces"]["produced"]).shape == (3, smoke.motifs[0].n_steps, smoke.d_out)
    assert data["metrics"]["state_dependence"] == 0.0  # zero ignores its state: a tape recorder
    assert np.array(data["sequences"]["ids"]).shape == (SMALL.n_sequences, SMALL.sequence_length)
    timings = data["timings"]
    assert set(timings) >= {"setup", "learn", "test", "transitions", "sequences", "robustness", "total"}
    assert len(timings["learn"]) == K
    assert all(t >= 0 for t in timings["learn"]) and timings["total"] >= timings["test"]
    assert data["parameter_counts"] == [0, 0, 0]
    assert set(data["environment"]) >= {"python", "numpy", "torch"}
    assert "git_sha" in data and "overrides" in data and "curves" in data and "diagnostics" in data
    assert data["provenance"]["method"] == "motifbench.baselines.zero:Zero"
    source = Path(motifbench.baselines.zero.__file__).read_bytes()
    assert data["provenance"]["source_sha256"] == hashlib.sha256(source).hexdigest()
    assert isinstance(data["dirty_files"], list)
    assert data["git_sha"] is None or data["git_sha"].endswith("-dirty") == bool(data["dirty_files"])


# ----------------------------------------------------------------------------------------------
# the one reader
# ----------------------------------------------------------------------------------------------


def test_read_record_returns_what_write_record_wrote(tmp_path, zero_record):
    path = tmp_path / "seed0.json"
    write_record(path, zero_record[1])
    assert read_record(path) == json.loads(zero_record[1].to_json())


@pytest.mark.parametrize(
    "text, words",
    [
        ("{not json", "unreadable or corrupt (JSONDecodeError"),
        ("[1, 2]", "not a JSON object"),
        ('{"schema_version": 99, "metrics": {}}', "schema_version 99; this motifbench reads 4"),
        ('{"metrics": {}}', "schema_version None"),
        ('{"schema_version": 4, "method": {"name": "m"}, "stream": {"name": "s"}, "seed": 0}', "KeyError: 'metrics'"),
        ('{"schema_version": 4, "method": {"name": "m"}, "stream": {"name": "s"}, "seed": 0, "metrics": 1}',
         "metrics is not an object"),
    ],
)
def test_read_record_refuses_a_corrupt_record_or_an_unknown_schema_in_one_line(tmp_path, text, words):
    path = tmp_path / "seed0.json"
    path.write_text(text)
    with pytest.raises(RecordError) as error:
        read_record(path)
    assert str(path) in str(error.value) and words in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda r: r["stream"].update(name="../../escape"), "stream name '../../escape' is not a plain name"),
        (lambda r: r["method"].update(name=""), "method name '' is not a plain name"),
        (lambda r: r.update(seed=1.5), "seed 1.5 is not a non-negative integer"),
        (lambda r: r["metrics"].update(final_r2="0.9"), "metric final_r2 is '0.9', not a number"),
        (lambda r: r["metrics"].pop("sequence_success"), "KeyError: 'sequence_success'"),
    ],
)
def test_read_record_refuses_unsafe_names_and_scores_that_are_not_numbers(tmp_path, zero_record, change, words):
    record = json.loads(zero_record[1].to_json())
    change(record)
    path = tmp_path / "seed0.json"
    path.write_text(json.dumps(record))
    with pytest.raises(RecordError) as error:
        read_record(path)
    assert words in str(error.value)


def test_read_record_refuses_a_deeply_nested_file_in_one_line(tmp_path):
    path = tmp_path / "seed0.json"
    path.write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(RecordError, match="unreadable or corrupt"):
        read_record(path)


def test_a_located_record_must_be_where_its_stream_method_seed_and_settings_put_it(tmp_path, zero_record):
    right = record_path(tmp_path, "smoke-v1", "zero", 0, {})
    write_record(right, zero_record[1])
    assert read_record(right, located=True)["seed"] == 0
    for wrong in (record_path(tmp_path, "smoke-v1", "zero", 1, {}), record_path(tmp_path, "steps10-v1", "zero", 0, {}),
                  record_path(tmp_path, "smoke-v1", "finetune", 0, {}),
                  record_path(tmp_path, "smoke-v1", "zero", 0, {"lr": 0.1})):
        wrong.parent.mkdir(parents=True, exist_ok=True)
        wrong.write_bytes(right.read_bytes())
        with pytest.raises(RecordError, match="which belongs at"):
            read_record(wrong, located=True)


def test_read_record_reads_a_failed_record_only_when_asked(tmp_path):
    failed = write_failed_record(tmp_path / "seed0.json", "smoke-v1", "toy", 0, {}, "it crashed")
    assert read_record(failed, failed=True)["reason"] == "it crashed"
    with pytest.raises(RecordError, match="metrics"):
        read_record(failed)


def test_the_committed_leaderboard_records_are_all_readable():
    results = Path(__file__).parents[2] / "leaderboard" / "results"
    paths = list(results.glob("*/*/seed*.json"))
    assert paths and all(read_record(path)["stream"]["name"] == path.parts[-3] for path in paths)


def test_provenance_names_an_outside_class_and_hashes_its_file_without_importing_it(monkeypatch, tmp_path):
    package = tmp_path / "submitted"
    package.mkdir()
    (package / "__init__.py").write_text("raise SystemExit('the package was imported')\n")
    (package / "method.py").write_text("raise SystemExit('the module was imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    provenance = method_provenance("submitted.method:Method")  # running either file would exit
    assert provenance == {"method": "submitted.method:Method",
                          "source_sha256": hashlib.sha256((package / "method.py").read_bytes()).hexdigest()}
    assert method_provenance("finetune") == {
        "method": "motifbench.baselines.finetune:Finetune",
        "source_sha256": hashlib.sha256(Path(sys.modules[Finetune.__module__].__file__).read_bytes()).hexdigest()}
    assert method_provenance("no_such_package.module:Method")["source_sha256"] == "unknown"


def test_finetune_record_R_is_lower_triangular(smoke):
    evaluation, record = run_record(smoke, Finetune(max_iterations=30, n_hidden=32), overrides={"n_hidden": 32})
    data = json.loads(record.to_json())
    R = data["R"]
    assert len(R) == K and all(len(row) == K for row in R)
    for k in range(K):
        for j in range(K):
            if j <= k:
                assert isinstance(R[k][j], float) and math.isfinite(R[k][j])
                assert R[k][j] == evaluation.R[k, j]
            else:
                assert R[k][j] is None
    assert data["overrides"] == {"n_hidden": 32}
    assert data["method"]["name"] == "finetune" and data["method"]["uses_sgd"] is True
    assert data["method"]["hyperparameters"]["max_iterations"] == 30
    assert data["parameter_counts"] == [32 * 32 + 32 * (K + 1) + 32 + 32] * K
    assert len(data["diagnostics"]["training"]) == K
    assert all(1 <= t["iterations"] <= 30 for t in data["diagnostics"]["training"])
    for mode in DAMAGE_MODES:  # schema 6: a curve per damage mode, and the recurrent matrix's spectrum
        assert len(data["curves"][damage_curve(mode)]["y"]) == len(data["eval_config"]["damage_fractions"])
    assert data["spectrum"]["n"] == 32 and len(data["spectrum"]["eigenvalues"]) == 32


def test_a_checkout_whose_status_cannot_be_read_is_not_called_clean(tmp_path, monkeypatch):
    """A git that answers rev-parse but fails status: the record says dirty, not clean."""
    fake = tmp_path / "bin" / "git"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\nif [ "$1" = rev-parse ]; then echo 0123abcd; exit 0; fi\nexit 1\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    state = checkout()
    assert state["git_sha"] == "0123abcd-dirty"
    assert state["dirty_files"] == ["(git status failed: the changes are unknown)"]


# ----------------------------------------------------------------------------------------------
# schema 5: the stream's songs, the branch and disruption scores; schema-4 records still read
# ----------------------------------------------------------------------------------------------

NEW_IN_5 = SCORES_SINCE[5]
COMMITTED_RECORD = Path(__file__).parents[2] / "leaderboard" / "results" / "smooth10-v1" / "finetune" / "seed0.json"


@pytest.fixture(scope="module")
def birdsong_record():
    """(stream, record) of zero on birdsong-v1 (seed 0), under a small evaluation."""
    stream = resolve("birdsong-v1").build(0)
    config = EvalConfig(n_sequences=2, sequence_length=2, transition_repeats=1)
    return stream, run_record(stream, Zero(), config=config)[1]


def test_a_schema_5_record_of_songs_round_trips_with_the_streams_songs(tmp_path, birdsong_record):
    stream, record = birdsong_record
    path = record_path(tmp_path, "birdsong-v1", "zero", 0, {})
    write_record(path, record)
    data = read_record(path, located=True)
    assert data == json.loads(record.to_json())
    assert data["schema_version"] == SCHEMA_VERSION >= 5
    assert data["stream"]["songs"] == stream.songs and len(stream.songs) == 4
    assert all(type(data["metrics"][name]) is float for name in NEW_IN_5)


def test_a_record_of_a_stream_without_songs_has_no_songs_and_null_branch_scores(zero_record):
    data = json.loads(zero_record[1].to_json())
    assert data["stream"]["songs"] == []
    assert data["metrics"]["branch_success"] is None and data["metrics"]["nonbranch_success"] is None
    assert type(data["metrics"]["disruption_r2"]) is float


def test_a_committed_schema_4_record_reads_with_the_scores_new_in_5_as_null(tmp_path):
    original = json.loads(COMMITTED_RECORD.read_text())
    assert original["schema_version"] == 4
    assert set(NEW_IN_5) == set(METRICS) - set(original["metrics"])  # exactly what schema 4 lacks
    copy = tmp_path / "smooth10-v1" / "finetune" / "seed0.json"
    copy.parent.mkdir(parents=True)
    copy.write_bytes(COMMITTED_RECORD.read_bytes())
    scores = read_record(copy, located=True)["metrics"]
    assert {name: scores[name] for name in NEW_IN_5} == dict.fromkeys(NEW_IN_5)
    assert {name: value for name, value in scores.items() if name not in NEW_IN_5} == original["metrics"]


@pytest.mark.parametrize("name", NEW_IN_5)
def test_a_schema_5_record_without_a_score_new_in_5_is_corrupt(tmp_path, birdsong_record, name):
    record = json.loads(birdsong_record[1].to_json())
    del record["metrics"][name]
    path = tmp_path / "seed0.json"
    path.write_text(json.dumps(record))
    with pytest.raises(RecordError) as error:
        read_record(path)
    message = str(error.value)
    assert "corrupt" in message and repr(name) in message and "\n" not in message
