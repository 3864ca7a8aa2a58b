"""Run orchestration: which runs to make, each behind the request boundary, and what they left.

``plan`` turns (stream, method, seeds, settings) into jobs, skipping or refusing runs whose
record exists; ``execute`` runs the jobs ``RunOptions.jobs`` at a time and leaves a failed
record with a one-line reason for each run that failed. ``evaluate`` runs one job: the
evaluator, the stream and the record in this process, the method in a method process of its
own (``remote.RemoteMethod``) under the options' time and memory limits, ended before the
record is written. Nothing here reads command-line arguments: ``cli.py`` builds a ``RunOptions``.
"""

from __future__ import annotations

import math
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from .worker import Limits, close_all, one_line

if TYPE_CHECKING:  # the evaluator imports torch: only runs need it
    from .evaluator import EvalConfig
    from .sources import StreamSource


def default_config() -> EvalConfig:
    from .evaluator import EvalConfig

    return EvalConfig()


class UsageError(Exception):
    """Bad input from the user (a command line, options); reported in one line with exit status 2."""


MAX_SEED = 2**32 - 1  # the evaluator seeds torch with seed * 1_000_003 + purpose: it must fit in 64 bits


def parse_seeds(text: str) -> tuple[int, ...]:
    """Seeds written as "0,1,2" -> (0, 1, 2): distinct integers in [0, MAX_SEED], in ASCII
    digits; a ValueError otherwise."""
    parts = [part.strip() for part in text.split(",")]
    if not text.strip() or not all(re.fullmatch(r"[0-9]{1,10}", part) for part in parts):
        raise ValueError(f"seeds {text!r}: expected comma-separated integers such as 0,1,2")
    seeds = tuple(int(part) for part in parts)
    if max(seeds) > MAX_SEED or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds {text!r}: expected distinct integers from 0 to {MAX_SEED}")
    return seeds


@dataclass(frozen=True)
class RunOptions:
    """Where and how runs execute: device, CPU threads per run, runs at once, the limits of one
    run (s, MB; 0: none), and what to do with an existing record (``force``: replace it,
    ``resume``: keep it and skip the run; neither: refuse)."""

    device: str = "cpu"
    threads: int = 1
    jobs: int = 1
    time_limit: float = 3600.0
    memory_limit: float = 8192.0
    force: bool = False
    resume: bool = False

    def __post_init__(self) -> None:
        for option, count in (("--threads", self.threads), ("-j/--jobs", self.jobs)):
            if count < 1:
                raise UsageError(f"{option} {count}: expected at least 1")
        for option, value in (("--time-limit", self.time_limit), ("--memory-limit", self.memory_limit)):
            if not (value >= 0 and math.isfinite(value)):
                raise UsageError(f"{option} {value}: expected a finite non-negative number (0: no limit)")
        if self.force and self.resume:
            raise UsageError("--force and --resume exclude each other")
        if self.device not in ("cpu", "cuda"):
            raise UsageError(f"--device {self.device!r}: expected cpu or cuda")

    @property
    def limits(self) -> Limits:
        return Limits(time_s=self.time_limit, memory_mb=self.memory_limit)

    def check_device(self) -> None:
        """A UsageError if the device is cuda and torch sees none (imports torch)."""
        import torch

        if self.device == "cuda" and not torch.cuda.is_available():
            raise UsageError("--device cuda: torch sees no CUDA device on this machine")


@dataclass(frozen=True)
class Job:
    """One (stream, method, seed) run."""

    source: StreamSource
    method: str  # a registered name or package.module:Class
    seed: int
    path: Path
    hyperparams: dict[str, Any] = field(default_factory=dict)
    overrides: dict[str, Any] = field(default_factory=dict)
    config: EvalConfig = field(default_factory=default_config)
    device: str = "cpu"
    threads: int = 1
    force: bool = False
    show_progress: bool = True  # a status line on stderr (off when runs go in parallel)

    @property
    def stream(self) -> str:
        """The stream's name, which its records go under."""
        return self.source.name


class Progress:
    """One status line on stderr, rewritten in place on a terminal, one line per phase otherwise
    (nothing if not ``shown``)."""

    def __init__(self, label: str, shown: bool = True):
        self.label, self.start, self.shown = label, time.perf_counter(), shown
        self.tty = sys.stderr.isatty()

    def __call__(self, message: str) -> None:
        if not self.shown:
            return
        line = f"[{self.label}] {message}  ({time.perf_counter() - self.start:.1f} s)"
        sys.stderr.write(f"\r\033[K{line}" if self.tty else line + "\n")
        sys.stderr.flush()

    def done(self) -> None:
        if self.shown and self.tty:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def plan(
    source: StreamSource,
    method: str,
    seeds: Sequence[int],
    out: Path,
    options: RunOptions,
    hyperparams: dict[str, Any] | None = None,
    eval_overrides: dict[str, Any] | None = None,
) -> list[Job]:
    """The jobs that run ``method`` on the stream of ``source`` with each seed and write records
    under ``out``; a seed whose record exists is skipped (``options.resume``), re-run
    (``options.force``) or a UsageError."""
    from . import registry
    from .evaluator import EvalConfig
    from .results import record_path

    hyperparams, eval_overrides = hyperparams or {}, eval_overrides or {}
    label = registry.method_label(method)
    overrides = run_overrides(hyperparams, eval_overrides)
    config = EvalConfig(**eval_overrides)
    jobs = []
    for seed in seeds:
        path = record_path(out, source.name, label, seed, overrides)
        action = to_do(path, options)
        if action:
            jobs.append(Job(source, method, seed, path, hyperparams, overrides, config, options.device, options.threads,
                            force=options.force or action == "replace", show_progress=options.jobs == 1))
    return jobs


def run_overrides(hyperparams: dict[str, Any], eval_overrides: dict[str, Any]) -> dict[str, Any]:
    """What a record says was set on the command line, and what its file name's tag is made of:
    the hyperparameters, and the evaluator's settings as ``eval.KEY``."""
    return {**hyperparams, **{f"eval.{key}": value for key, value in eval_overrides.items()}}


def to_do(path: Path, options: RunOptions) -> str | None:
    """What to do about the run that writes ``path``: "write" a missing record, "replace" an
    existing one (``force``, or ``resume`` finding it unreadable: it says so), or None: keep it
    (``resume``; a stale failed record of the run is removed). Otherwise an existing record is a
    UsageError."""
    from .results import RecordError, failed_record_path, read_record

    if not path.exists():
        return "write"
    if options.force:
        return "replace"
    if not options.resume:
        raise UsageError(f"record {path} exists; pass --force to replace it or --resume to keep it")
    try:
        read_record(path)
    except RecordError as error:
        print(f"{error}; running it again", file=sys.stderr)
        return "replace"
    failed_record_path(path).unlink(missing_ok=True)
    print(f"kept {path}", file=sys.stderr)
    return None


def use_threads(threads: int) -> None:
    """The CPU threads of this process's torch and BLAS: the evaluator's own arithmetic (noise,
    errors) then rounds as it did when it ran beside the method, so records stay bit-identical."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    threadpool_limits(threads)


def execute(jobs: list[Job], options: RunOptions) -> tuple[list[tuple[Job, dict[str, Any]]], int]:
    """Runs ``jobs`` under the options' limits, ``options.jobs`` at a time: (job, its summary
    row) for those that completed, and how many failed (each leaves a failed record and one
    line on stderr)."""
    from . import registry
    from .metrics import tape_recorder_reason
    from .results import write_failed_record

    use_threads(options.threads)
    done, failures = [], 0
    for job, (row, reason) in run_all(jobs, options.limits, options.jobs):
        if reason == LOST_RACE:
            print(f"kept {job.path}: {LOST_RACE}", file=sys.stderr)
            continue
        if row is None:  # the method is untrusted code: record why, keep the other runs
            label = registry.method_label(job.method)
            failed = write_failed_record(job.path, job.stream, label, job.seed, job.overrides, reason)
            print(f"error: {job.stream} {label} seed {job.seed}: {reason} (see {failed})", file=sys.stderr)
            failures += 1
            continue
        print(f"wrote {job.path}", file=sys.stderr)
        reason = tape_recorder_reason(row)
        if reason:
            print(f"warning: {job.stream} {row['method']} seed {job.seed} is a tape recorder: {reason}; "
                  "the leaderboard lists it apart, unranked", file=sys.stderr)
        done.append((job, row))
    return done, failures


def run_all(jobs: list[Job], limits: Limits, parallel: int = 1) -> Iterator[tuple[Job, tuple[dict[str, Any] | None, str | None]]]:
    """Runs every job, ``parallel`` at a time; yields (job, ``run``'s result) in the order of
    ``jobs``, each as soon as it and those before it are done."""
    pool = ThreadPoolExecutor(max_workers=parallel)  # threads that each drive one method process
    try:
        for job, future in [(job, pool.submit(run, job, limits)) for job in jobs]:
            yield job, future.result()
    finally:  # on an interrupt: start no more runs, and end the method processes of those running
        pool.shutdown(wait=False, cancel_futures=True)
        close_all()
        pool.shutdown()


LOST_RACE = "another process wrote this record first"


def run(job: Job, limits: Limits) -> tuple[dict[str, Any] | None, str | None]:
    """Runs ``job``: (its summary row, None), or (None, a one-line reason; ``LOST_RACE`` if
    another process wrote the record while it ran)."""
    from .results import RecordExists

    try:
        return evaluate(job, limits), None
    except RecordExists:
        return None, LOST_RACE
    except Exception as error:  # the method's failures, and any the evaluator found
        return None, one_line(error)


def evaluate(job: Job, limits: Limits) -> dict[str, Any]:
    """Evaluates ``job``'s method, served by a method process that ends before the record is
    written; writes the record and returns the run's summary row."""
    from .evaluator import Evaluator
    from .remote import RemoteMethod
    from .results import build_record, method_provenance, write_record

    stream = job.source.build(job.seed)
    with RemoteMethod(job.method, job.hyperparams, limits, job.threads, job.device) as method:
        progress = Progress(f"{job.stream} {method.label} seed {job.seed}", shown=job.show_progress)
        evaluation = Evaluator(method, stream, job.seed, job.config, job.device, progress).run()
        progress.done()
    provenance = method_provenance(job.method)
    record = build_record(stream, job.source.origin, method, job.seed, job.device, job.config, job.overrides,
                          evaluation, provenance)
    write_record(job.path, record, force=job.force)
    return {"method": method.label, "seed": job.seed, **evaluation.metrics, "time_s": evaluation.timings["total"]}


SUMMARY_COLUMNS = [
    "final_r2",
    "plasticity",
    "forgetting",
    "interference",
    "transition_success",
    "sequence_success",
]


def results_table(rows: list[dict[str, Any]]) -> str:
    """One row per method: mean +- s.e.m. over its seeds of the summary scores, and the time per run."""
    from .tables import aggregate, as_text

    columns = SUMMARY_COLUMNS + ["time_s"]
    return as_text(aggregate(rows, columns), columns)
