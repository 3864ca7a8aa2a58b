"""The ``motifbench`` command (motifbench.cli): runs write records and print a table; bad input
exits 2 with one line on stderr and writes nothing; a failing method exits 1 without costing
the other methods their records.

``main([...])`` is called in-process (``--out`` under tmp_path); one test runs the installed
console script for its exit codes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from motifbench import registry
from motifbench.cli import main

HERE = Path(__file__).parent
SMALL_EVAL = ["--set", "eval.n_sequences=3", "--set", "eval.sequence_length=3", "--set", "eval.transition_repeats=2"]


@pytest.fixture
def toy_path(monkeypatch):
    """Make ``toy_methods:Class`` importable from sys.path, freshly."""
    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.delitem(sys.modules, "toy_methods", raising=False)


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0]


# ----------------------------------------------------------------------------------------------
# a good run
# ----------------------------------------------------------------------------------------------


def test_run_zero_two_seeds_writes_two_records_and_prints_a_table(tmp_path, capsys):
    code, out, err = run(capsys, "run", "--stream", "smoke-v1", "--method", "zero", "--seeds", "0,1",
                         "--out", str(tmp_path))
    assert code == 0, err
    assert files_under(tmp_path) == ["smoke-v1/zero/seed0.json", "smoke-v1/zero/seed1.json"]
    records = [json.loads((tmp_path / f"smoke-v1/zero/seed{s}.json").read_text()) for s in (0, 1)]
    assert [r["seed"] for r in records] == [0, 1]
    assert [r["stream"]["seed"] for r in records] == [0, 1]
    assert records[0]["stream"]["content_hash"] != records[1]["stream"]["content_hash"]
    assert all(r["method"]["name"] == "zero" and r["overrides"] == {} for r in records)
    # the table: a header with the summary scores and one row for zero over both seeds
    lines = out.strip().splitlines()
    assert "final_r2" in lines[0] and "sequence_success" in lines[0] and "time_s" in lines[0]
    rows = [line for line in lines if line.startswith("| zero")]
    assert len(rows) == 1 and "0,1" in rows[0] and "±" in rows[0]
    assert err.count("wrote ") == 2


# ----------------------------------------------------------------------------------------------
# bad input: exit 2, one line, nothing written
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stream, method, hint",
    [
        ("smoke-v2", "zero", "did you mean 'smoke-v1'"),
        ("smoth10-v1", "zero", "did you mean 'smooth10-v1'"),
        ("smoke-v1", "zer0", "did you mean 'zero'"),
        ("smoke-v1", "finetun", "did you mean 'finetune'"),
        ("smoke-v1", "zero,fintune", "did you mean 'finetune'"),
    ],
)
def test_unknown_stream_or_method_suggests_the_near_miss(stream, method, hint, tmp_path, capsys):
    out_dir = tmp_path / "out"
    code, out, err = run(capsys, "run", "--stream", stream, "--method", method, "--out", str(out_dir))
    assert code == 2
    line = one_line_error(err)
    assert hint in line
    assert out == ""
    assert not out_dir.exists()


def test_unloadable_method_path_is_a_usage_error(tmp_path, capsys, toy_path):
    out_dir = tmp_path / "out"
    code, _, err = run(capsys, "run", "--stream", "smoke-v1", "--method", "toy_methods:NoSuchClass",
                       "--out", str(out_dir))
    assert code == 2
    assert "toy_methods:NoSuchClass" in one_line_error(err)
    assert not out_dir.exists()


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--seeds", "a,b"], ["--seeds", "'a,b'"]),
        (["--seeds", "-1"], ["--seeds", "'-1'"]),
        (["--seeds", "0,0"], ["--seeds", "distinct"]),
        (["--method", "zero,zero"], ["--method", "distinct"]),
        (["--set", "no_such_key=1"], ["no_such_key"]),
        (["--set", "lr=abc"], ["lr", "'abc'", "float"]),
        (["--set", "lr=-1"], ["lr", "outside"]),
        (["--set", "n_hidden=2.5"], ["n_hidden", "int"]),
        (["--set", "max_iterations=-3"], ["max_iterations", "outside"]),
        (["--set", "eval.theta=abc"], ["theta", "float"]),
        (["--set", "eval.theta=-0.5"], ["theta", "outside"]),
        (["--set", "eval.damage_fractions=0.1,2"], ["damage_fractions", "outside"]),
        (["--set", "eval.unknown=1"], ["eval", "unknown"]),
        (["--set", "joint.lr=0.1"], ["joint", "not among"]),
        (["--set", "lr"], ["KEY=VALUE"]),
        (["--device", "cuda", "--set", "zero.lr=0.1"], ["zero", "lr"]),
        (["-j", "0"], ["-j/--jobs", "at least 1"]),
        (["--method", "gpm", "--set", "mode=svd"], ["mode='svd'", "expected one of duncker, owm, gpm"]),
        (["--method", "ann_prep", "--set", "prep_tau_range=20,2"], ["prep_tau_range", "low <= high"]),
        (["--method", "thalamocortical", "--set", "decay_range=1,0.01"], ["decay_range", "low < high"]),
        (["--set", "eval.prep_tau=inf"], ["prep_tau", "not a finite number"]),
        (["--method", "ann_prep", "--set", "prep_tau_range=1,inf"], ["prep_tau_range", "not a finite number"]),
        (["--time-limit", "inf"], ["--time-limit inf", "finite"]),
        (["--memory-limit", "inf"], ["--memory-limit inf", "finite"]),
        (["--seeds", "99999999999"], ["--seeds", "'99999999999'"]),
        (["--seeds", "0,1_0"], ["--seeds", "'0,1_0'"]),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(extra, words, tmp_path, capsys):
    out_dir = tmp_path / "out"
    args = ["run", "--stream", "smoke-v1", "--method", "zero,finetune", "--out", str(out_dir)]
    if "--method" in extra:
        args = args[:3] + args[5:]
    code, out, err = run(capsys, *args, *extra)
    assert code == 2
    line = one_line_error(err)
    for word in words:
        assert word in line
    assert out == ""
    assert not out_dir.exists()


@pytest.mark.parametrize(
    "method, words",
    [
        ("finetune,motifbench.baselines.finetune:Finetune", "two methods would write their records under the name "
                                                            "'finetune'"),
        ("_private.module:Method", "expected a registered name or package.module:Class"),
        ("../../x:Y", "expected a registered name or package.module:Class"),
    ],
)
def test_methods_whose_records_would_collide_or_escape_are_refused(method, words, tmp_path, capsys, toy_path):
    out_dir = tmp_path / "deep" / "out"
    code, _, err = run(capsys, "run", "--stream", "smoke-v1", "--method", method, "--out", str(out_dir))
    assert code == 2
    assert words in one_line_error(err)
    assert not (tmp_path / "deep").exists()


def test_an_outside_method_s_records_go_under_its_import_path_whatever_its_card_says(tmp_path, capsys, toy_path):
    """Cards named like a registered method ("zero") or like a path ("../../escaped") name no folder."""
    code, _, err = run(capsys, "run", "--stream", "smoke-v1", "--method", "toy_methods:ZeroAgain,toy_methods:EscapingName",
                       "--out", str(tmp_path / "out"), *SMALL_EVAL)
    assert code == 0, err
    assert [Path(f).parent.as_posix() for f in files_under(tmp_path)] == ["out/smoke-v1/toy_methods.EscapingName",
                                                                          "out/smoke-v1/toy_methods.ZeroAgain"]
    record = json.loads(next((tmp_path / "out/smoke-v1/toy_methods.ZeroAgain").glob("seed0*.json")).read_text())
    assert record["method"]["name"] == "toy_methods.ZeroAgain"
    assert record["provenance"]["method"] == "toy_methods:ZeroAgain"


def test_check_takes_no_evaluator_settings(capsys):
    code, _, err = run(capsys, "check", "-m", "zero", "--set", "eval.theta=1")
    assert code == 2
    assert "check runs the default evaluation" in one_line_error(err)


def test_a_setting_that_does_not_fit_the_stream_is_a_usage_error(tmp_path, capsys):
    """thalamocortical's loop_rank 1 is enough for smoke-v1's one output, not smooth10-v1's two."""
    out_dir = tmp_path / "out"
    code, _, err = run(capsys, "run", "--stream", "smooth10-v1", "--method", "thalamocortical", "--set",
                       "loop_rank=1", "--out", str(out_dir))
    assert code == 2
    assert "loop_rank=1 is below the output dimension 2" in one_line_error(err)
    assert not out_dir.exists()


def test_set_key_that_no_selected_method_has_is_an_error(tmp_path, capsys):
    out_dir = tmp_path / "out"
    code, _, err = run(capsys, "run", "--stream", "smoke-v1", "--method", "zero", "--set", "lr=0.1",
                       "--out", str(out_dir))
    assert code == 2
    assert "no selected method has a hyperparameter 'lr'" in one_line_error(err)
    assert not out_dir.exists()


def test_nan_setting_is_rejected(tmp_path, capsys):
    out_dir = tmp_path / "out"
    code, _, err = run(capsys, "run", "--stream", "smoke-v1", "--method", "zero", "--set", "eval.theta=nan",
                       "--out", str(out_dir), *SMALL_EVAL)
    assert code == 2
    assert not out_dir.exists()


def test_bad_threads_is_a_usage_error(tmp_path, capsys):
    out_dir = tmp_path / "out"
    code, _, err = run(capsys, "run", "--stream", "smoke-v1", "--method", "zero", "--threads", "0",
                       "--out", str(out_dir))
    assert code == 2
    one_line_error(err)
    assert not out_dir.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_device_cuda_without_cuda_exits_2(tmp_path, capsys):
    out_dir = tmp_path / "out"
    code, out, err = run(capsys, "run", "--stream", "smoke-v1", "--method", "zero", "--device", "cuda",
                         "--out", str(out_dir))
    assert code == 2
    line = one_line_error(err)
    assert "--device cuda" in line and "CUDA" in line
    assert not out_dir.exists()


# ----------------------------------------------------------------------------------------------
# existing records
# ----------------------------------------------------------------------------------------------


def test_existing_record_is_kept_unless_force(tmp_path, capsys):
    args = ["run", "--stream", "smoke-v1", "--method", "zero", "--out", str(tmp_path), *SMALL_EVAL]
    assert run(capsys, *args)[0] == 0
    (path,) = [tmp_path / name for name in files_under(tmp_path)]
    original = path.read_bytes()
    inode = path.stat().st_ino

    code, out, err = run(capsys, *args)
    assert code == 2
    line = one_line_error(err)
    assert "exists" in line and "--force" in line
    assert path.read_bytes() == original and path.stat().st_ino == inode

    code, _, err = run(capsys, *args, "--force")
    assert code == 0, err
    assert path.stat().st_ino != inode  # a new file took its place
    assert json.loads(path.read_text())["method"]["name"] == "zero"
    assert files_under(tmp_path) == [str(path.relative_to(tmp_path))]  # no temporary files


def test_resume_keeps_existing_records_and_runs_the_missing_ones_in_parallel(tmp_path, capsys):
    args = ["run", "--stream", "smoke-v1", "--method", "zero", "--out", str(tmp_path), *SMALL_EVAL]
    assert run(capsys, *args)[0] == 0
    (first,) = [tmp_path / name for name in files_under(tmp_path)]
    inode = first.stat().st_ino
    code, out, err = run(capsys, *args, "--seeds", "0,1,2", "--resume", "-j", "2")
    assert code == 0, err
    assert f"kept {first}" in err and err.count("wrote ") == 2
    assert first.stat().st_ino == inode
    assert [name.rsplit("/", 1)[-1][:5] for name in files_under(tmp_path)] == ["seed0", "seed1", "seed2"]
    assert "| zero     | 1,2 " in out  # the table holds the runs made now
    with pytest.raises(SystemExit, match="2"):  # argparse refuses both
        main([*args, "--resume", "--force"])


# ----------------------------------------------------------------------------------------------
# a failing method
# ----------------------------------------------------------------------------------------------


def test_crashing_method_exits_1_and_the_others_keep_their_records(tmp_path, capsys, toy_path):
    code, out, err = run(capsys, "run", "--stream", "smoke-v1", "--method", "toy_methods:Crashing,zero",
                         "--out", str(tmp_path))
    assert code == 1
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "toy_methods.Crashing" in errors[0] and "deliberate failure in learn" in errors[0]
    # nothing partial, nothing temporary; the failure is recorded beside where the record would be
    assert files_under(tmp_path) == ["smoke-v1/toy_methods.Crashing/seed0.failed.json", "smoke-v1/zero/seed0.json"]
    failed = json.loads((tmp_path / "smoke-v1/toy_methods.Crashing/seed0.failed.json").read_text())
    assert failed["status"] == "failed" and "deliberate failure in learn" in failed["reason"]
    assert json.loads((tmp_path / "smoke-v1/zero/seed0.json").read_text())["method"]["name"] == "zero"
    assert "| zero" in out and "Crashing" not in out


def test_method_with_unserialisable_diagnostics_does_not_stop_the_others(tmp_path, capsys, toy_path):
    code, _, err = run(capsys, "run", "--stream", "smoke-v1", "--method", "toy_methods:BadDiagnostics,zero",
                       "--out", str(tmp_path))
    assert code == 1
    assert "toy_methods.BadDiagnostics" in err and "Traceback" not in err
    assert files_under(tmp_path) == ["smoke-v1/toy_methods.BadDiagnostics/seed0.failed.json", "smoke-v1/zero/seed0.json"]


# ----------------------------------------------------------------------------------------------
# ls
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "what, names",
    [("streams", registry.STREAMS), ("methods", registry.METHODS), ("metrics", registry.METRICS)],
)
def test_ls_lists_every_registered_name(what, names, capsys):
    code, out, err = run(capsys, "ls", what)
    assert code == 0, err
    first_column = {line.split("|")[1].strip() for line in out.strip().splitlines()[2:]}
    assert first_column == set(names)
    assert len(names) >= 3


# ----------------------------------------------------------------------------------------------
# --set
# ----------------------------------------------------------------------------------------------


def test_set_applies_to_every_selected_method_that_has_it_and_is_recorded(tmp_path, capsys, toy_path):
    code, _, err = run(
        capsys, "run", "--stream", "smoke-v1", "--method", "zero,finetune,toy_methods:WithLr",
        "--set", "lr=0.02", "--set", "finetune.max_iterations=5", "--set", "n_hidden=8",
        "--out", str(tmp_path), *SMALL_EVAL,
    )
    assert code == 0, err
    files = files_under(tmp_path)
    assert len(files) == 3
    records = {json.loads((tmp_path / f).read_text())["method"]["name"]: json.loads((tmp_path / f).read_text())
               for f in files}
    evals = {"eval.n_sequences": 3, "eval.sequence_length": 3, "eval.transition_repeats": 2}
    assert records["finetune"]["overrides"] == {"lr": 0.02, "max_iterations": 5, "n_hidden": 8, **evals}
    assert records["finetune"]["method"]["hyperparameters"]["lr"] == 0.02
    assert records["finetune"]["method"]["hyperparameters"]["n_hidden"] == 8
    assert records["finetune"]["method"]["hyperparameters"]["max_iterations"] == 5
    assert records["finetune"]["method"]["hyperparameters"]["batch_size"] == 16  # untouched default
    assert records["toy_methods.WithLr"]["overrides"] == {"lr": 0.02, **evals}
    assert records["toy_methods.WithLr"]["method"]["hyperparameters"] == {"lr": 0.02}
    assert records["zero"]["overrides"] == evals
    assert records["zero"]["method"]["hyperparameters"] == {}
    for record in records.values():
        assert record["eval_config"]["n_sequences"] == 3
        assert record["eval_config"]["transition_repeats"] == 2
    # the overridden runs do not take the default runs' file names
    assert "smoke-v1/finetune/seed0.json" not in files


def test_eval_setting_is_recorded_and_changes_the_file_name(tmp_path, capsys):
    base = ["run", "--stream", "smoke-v1", "--method", "zero", "--out", str(tmp_path)]
    assert run(capsys, *base)[0] == 0
    default = tmp_path / "smoke-v1/zero/seed0.json"
    default_bytes = default.read_bytes()
    code, _, err = run(capsys, *base, "--set", "eval.theta=0.2")
    assert code == 0, err  # no collision with the default run
    files = files_under(tmp_path)
    assert len(files) == 2 and "smoke-v1/zero/seed0.json" in files
    (other,) = [tmp_path / f for f in files if f != "smoke-v1/zero/seed0.json"]
    assert other.name.startswith("seed0-") and other.suffix == ".json"
    record = json.loads(other.read_text())
    assert record["eval_config"]["theta"] == 0.2
    assert record["overrides"] == {"eval.theta": 0.2}
    assert json.loads(default_bytes)["eval_config"]["theta"] == 0.0  # 0: the stream's own
    assert json.loads(default_bytes)["stream"]["theta"] == 0.1
    assert json.loads(default_bytes)["overrides"] == {}
    assert default.read_bytes() == default_bytes


# ----------------------------------------------------------------------------------------------
# the installed console script
# ----------------------------------------------------------------------------------------------


def test_console_script_exit_codes(tmp_path):
    script = Path(sys.executable).parent / "motifbench"
    if not script.exists():
        pytest.skip(f"no console script at {script}")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    commands = {
        "ls": ["ls", "streams"],
        "bad": ["run", "--stream", "smoke-v2", "--method", "zero", "--out", str(tmp_path / "bad")],
        "failed": ["run", "--stream", "smoke-v1", "--method", "toy_methods:Crashing", "--out", str(tmp_path / "x")],
    }
    as_module = ["run", "--stream", "smoke-v1", "--method", "zero", "--out", str(tmp_path / "m"), *SMALL_EVAL]
    # started together: each one imports torch, which takes seconds
    processes = {
        name: subprocess.Popen([str(script), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env, cwd=tmp_path)
        for name, args in commands.items()
    }
    processes["module"] = subprocess.Popen([sys.executable, "-m", "motifbench", *as_module], stdout=subprocess.PIPE,
                                           stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    results = {}
    for name, process in processes.items():
        out, err = process.communicate(timeout=120)
        results[name] = (process.returncode, out, err)

    code, out, err = results["ls"]
    assert code == 0, err
    assert "smoke-v1" in out

    code, out, err = results["bad"]
    assert code == 2
    assert err.strip().splitlines() == ["error: unknown stream 'smoke-v2'; did you mean 'smoke-v1'?"]
    assert not (tmp_path / "bad").exists()

    code, out, err = results["failed"]
    assert code == 1, err
    assert "toy_methods.Crashing" in err and "Traceback" not in err
    assert files_under(tmp_path / "x") == ["smoke-v1/toy_methods.Crashing/seed0.failed.json"]

    code, out, err = results["module"]  # python -m motifbench; its spawned worker must not run main again
    assert code == 0, err
    assert "| zero" in out and err.count("wrote ") == 1
    assert len(list((tmp_path / "m" / "smoke-v1" / "zero").glob("seed0-*.json"))) == 1


@pytest.mark.parametrize("command", ["run", "regress"])
def test_an_out_folder_that_cannot_be_written_is_a_usage_error_before_anything_runs(command, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("kept\n")
    args = (["run", "--stream", "smoke-v1", "--method", "zero"] if command == "run" else ["regress", "--method", "zero"])
    code, out, err = run(capsys, *args, "--out", str(blocker / "results"))
    assert code == 2 and out == ""
    assert f"--out {blocker / 'results'}: {blocker} is not a folder" in one_line_error(err)
    assert blocker.read_text() == "kept\n" and files_under(tmp_path) == ["a_file"]
