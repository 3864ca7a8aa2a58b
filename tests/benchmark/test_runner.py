"""Run orchestration (motifbench.runner): options are checked when made, and ``plan`` keeps,
replaces or refuses existing records as the options say."""

import json

import pytest

from motifbench.metrics import METRICS
from motifbench.results import failed_record_path
from motifbench.runner import RunOptions, UsageError, plan
from motifbench.sources import resolve

VALID_RECORD = {"schema_version": 4, "stream": {"name": "smoke-v1", "theta": 0.1}, "seed": 0,
                "method": {"name": "finetune", "stores_past_data": False, "uses_sgd": True},
                "metrics": {name: None for name in METRICS}, "parameter_counts": [None], "timings": {"learn": [1.0]}}


@pytest.mark.parametrize(
    "options, words",
    [
        (dict(threads=0), "--threads 0: expected at least 1"),
        (dict(jobs=0), "-j/--jobs 0: expected at least 1"),
        (dict(time_limit=-1.0), "--time-limit -1.0"),
        (dict(memory_limit=float("nan")), "--memory-limit nan"),
        (dict(force=True, resume=True), "--force and --resume exclude each other"),
        (dict(device="tpu"), "--device 'tpu'"),
    ],
)
def test_bad_options_are_a_usage_error_when_made(options, words):
    with pytest.raises(UsageError) as error:
        RunOptions(**options)
    assert words in str(error.value)


def test_plan_names_records_by_settings_and_skips_refuses_or_replaces_existing_ones(tmp_path, capsys):
    jobs = plan(resolve("smoke-v1"), "finetune", [0, 1], tmp_path, RunOptions(jobs=2), {"lr": 0.01}, {"theta": 0.2})
    assert [job.seed for job in jobs] == [0, 1]
    assert all(not job.show_progress and job.config.theta == 0.2 for job in jobs)
    assert jobs[0].overrides == {"lr": 0.01, "eval.theta": 0.2}
    assert jobs[0].path.parent == tmp_path / "smoke-v1" / "finetune" and jobs[0].path.name.startswith("seed0-")
    jobs[0].path.parent.mkdir(parents=True)
    jobs[0].path.write_text("{}")
    with pytest.raises(UsageError, match="exists; pass --force to replace it or --resume to keep it"):
        plan(resolve("smoke-v1"), "finetune", [0, 1], tmp_path, RunOptions(), {"lr": 0.01}, {"theta": 0.2})
    resumed = plan(resolve("smoke-v1"), "finetune", [0, 1], tmp_path, RunOptions(resume=True), {"lr": 0.01}, {"theta": 0.2})
    # a record that cannot be read is missing to --resume, which says so and replaces it
    assert [(job.seed, job.force) for job in resumed] == [(0, True), (1, False)]
    assert "running it again" in capsys.readouterr().err
    jobs[0].path.write_text(json.dumps(VALID_RECORD))
    failed_record_path(jobs[0].path).write_text("{}")  # stale: the record now exists
    resumed = plan(resolve("smoke-v1"), "finetune", [0, 1], tmp_path, RunOptions(resume=True), {"lr": 0.01}, {"theta": 0.2})
    assert [job.seed for job in resumed] == [1] and "kept" in capsys.readouterr().err
    assert not failed_record_path(jobs[0].path).exists()
    forced = plan(resolve("smoke-v1"), "finetune", [0, 1], tmp_path, RunOptions(force=True), {"lr": 0.01}, {"theta": 0.2})
    assert [job.seed for job in forced] == [0, 1] and all(job.force for job in forced)


def test_a_record_another_process_wrote_first_is_kept_and_is_no_failure(tmp_path, capsys, monkeypatch):
    from motifbench import runner
    from motifbench.results import RecordExists

    def loses_the_race(job, limits):
        job.path.parent.mkdir(parents=True, exist_ok=True)
        job.path.write_text(json.dumps(VALID_RECORD))  # the other process's record
        raise RecordExists(f"record {job.path} exists; pass --force to replace it")

    monkeypatch.setattr(runner, "evaluate", loses_the_race)
    jobs = plan(resolve("smoke-v1"), "finetune", [0], tmp_path, RunOptions())
    done, failures = runner.execute(jobs, RunOptions())
    assert (done, failures) == ([], 0)
    assert f"kept {jobs[0].path}: another process wrote this record first" in capsys.readouterr().err
    assert json.loads(jobs[0].path.read_text()) == VALID_RECORD and not failed_record_path(jobs[0].path).exists()
