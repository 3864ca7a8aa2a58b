"""The ``motifbench`` command: ``run`` learns streams with methods and writes records; ``ls`` lists.

Exit status: 0 success, 1 a run failed (the others still ran and kept their records; the
failure is recorded), 2 bad input (nothing was run or written). Each run executes in a
worker process with a time and a memory limit (``worker.py``).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from . import registry
from .method import HyperparameterError, Method, parse_hyperparameter, setting_names
from .regress import TargetsError
from .results import RecordError

SUMMARY_COLUMNS = [
    "final_r2",
    "plasticity",
    "forgetting",
    "interference",
    "transition_success",
    "sequence_success",
]


class UsageError(Exception):
    """Bad command-line input; reported in one line with exit status 2."""


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


def parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UsageError(f"--seeds {text!r}: expected comma-separated integers such as 0,1,2") from None
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise UsageError(f"--seeds {text!r}: expected distinct non-negative integers")
    return seeds


def parse_sets(items: Sequence[str], methods: dict[str, type[Method]]) -> tuple[dict[str, Any], dict[str, dict]]:
    """``--set`` items -> (evaluator overrides, overrides per method name).

    ``eval.KEY=V`` sets the evaluator, ``METHOD.KEY=V`` one method, ``KEY=V`` every selected
    method that has KEY."""
    from .evaluator import EvalConfig

    eval_overrides: dict[str, Any] = {}
    per_method: dict[str, dict[str, Any]] = {name: {} for name in methods}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--set {item!r}: expected KEY=VALUE")
        target, _, field = key.rpartition(".")
        if target == "eval":
            eval_overrides[field] = _parse_field(EvalConfig, "eval", field, value)
            continue
        if target and target not in methods:
            raise UsageError(f"--set {item!r}: method {target!r} is not among those run ({', '.join(methods)})")
        targets = [target] if target else [n for n, cls in methods.items() if field in setting_names(cls.Hyperparams)]
        if not targets:
            raise UsageError(f"--set {item!r}: no selected method has a hyperparameter {field!r}")
        for name in targets:
            per_method[name][field] = _parse_field(methods[name].Hyperparams, name, field, value)
    return eval_overrides, per_method


def _parse_field(settings_type: type, owner: str, field: str, value: str) -> Any:
    if field not in (names := setting_names(settings_type)):
        raise UsageError(f"--set: {owner} has no setting {field!r} (it has: {', '.join(names) or 'none'})")
    try:
        return parse_hyperparameter(settings_type, field, value)
    except HyperparameterError as error:
        raise UsageError(f"--set {owner}: {error}") from None


def check_device(device: str) -> None:
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: torch sees no CUDA device on this machine")


def command_run(args: argparse.Namespace) -> int:
    spec = registry.get_stream(args.stream)  # before the slow imports, so a typo is reported at once
    check_execution_options(args)

    from .evaluator import EvalConfig
    from .results import record_path

    names = list(registry.METHODS) if args.method == "all" else [n for n in args.method.split(",") if n]
    if not names or len(set(names)) != len(names):
        raise UsageError(f"--method {args.method!r}: expected distinct method names, comma-separated")
    methods = {name: registry.get_method(name) for name in names}
    seeds = parse_seeds(args.seeds)
    eval_overrides, per_method = parse_sets(args.set, methods)
    check_device(args.device)
    try:
        config = EvalConfig(**eval_overrides)
        for name, cls in methods.items():
            cls(**per_method[name])  # validates before anything runs
    except HyperparameterError as error:
        raise UsageError(f"--set: {error}") from None

    out = Path(args.out)
    runs = []
    for name in names:
        overrides = {**per_method[name], **{f"eval.{k}": v for k, v in eval_overrides.items()}}
        for seed in seeds:
            path = record_path(out, spec.name, methods[name].card.name, seed, overrides)
            if is_to_run(path, args):
                runs.append((name, seed, overrides, path))

    from .worker import Job

    jobs = [
        Job(spec.name, name, seed, path, per_method[name], overrides, config, args.device, args.threads, args.force,
            show_progress=args.jobs == 1)
        for name, seed, overrides, path in runs
    ]
    done, failures = execute(jobs, args)
    if done:
        print(results_table([row for _, row in done]))
    return 1 if failures else 0


def is_to_run(path: Path, args: argparse.Namespace) -> bool:
    """Whether the run that writes ``path`` goes ahead: an existing record is replaced with
    ``--force``, kept with ``--resume`` (False), and otherwise a UsageError."""
    if not path.exists():
        return True
    if getattr(args, "resume", False):
        print(f"kept {path}", file=sys.stderr)
        return False
    if args.force:
        return True
    resume = " or --resume to keep it" if hasattr(args, "resume") else ""
    raise UsageError(f"record {path} exists; pass --force to replace it{resume}")


def execute(jobs: list[Any], args: argparse.Namespace) -> tuple[list[tuple[Any, dict[str, Any]]], int]:
    """Runs ``jobs`` (worker.Job) under the command's limits, ``args.jobs`` at a time: (job, its
    summary row) for those that completed, and how many failed (each leaves a failed record
    and one line on stderr)."""
    from .results import write_failed_record
    from .worker import Limits, run_all

    done, failures = [], 0
    for job, (row, reason) in run_all(jobs, Limits(time_s=args.time_limit, memory_mb=args.memory_limit), args.jobs):
        if row is None:  # the method is untrusted code: record why, keep the other runs
            label = registry.get_method(job.method).card.name
            failed = write_failed_record(job.path, job.stream, label, job.seed, job.overrides, reason)
            print(f"error: {job.stream} {label} seed {job.seed}: {reason} (see {failed})", file=sys.stderr)
            failures += 1
            continue
        print(f"wrote {job.path}", file=sys.stderr)
        done.append((job, row))
    return done, failures


def results_table(rows: list[dict[str, Any]]) -> str:
    """One row per method: mean +- s.e.m. over its seeds of the summary scores, and the time per run."""
    from .leaderboard import aggregate, as_text

    columns = SUMMARY_COLUMNS + ["time_s"]
    return as_text(aggregate(rows, columns), columns)


def command_leaderboard(args: argparse.Namespace) -> int:
    from . import leaderboard

    results, out = Path(args.results), Path(args.out)
    if args.check:
        stale = leaderboard.differences(results, out)
        if stale:
            print(f"error: leaderboard tables differ from the records in {results}: "
                  f"{', '.join(str(out / name) for name in stale)}; run motifbench leaderboard", file=sys.stderr)
            return 1
        print(f"leaderboard tables in {out} match the records in {results}")
        return 0
    for path in leaderboard.write(results, out, figures=not args.no_figures):
        print(f"wrote {path}", file=sys.stderr)
    return 0


def command_regress(args: argparse.Namespace) -> int:
    import tempfile

    from . import regress
    from .leaderboard import read_record
    from .results import record_path
    from .worker import Job

    check_execution_options(args)
    check_device(args.device)
    every_target = regress.read_targets(Path(args.targets))
    targets = regress.in_tier(every_target, args.tier)
    if args.method:
        targets = [t for t in targets if t.method in args.method.split(",")]
    if not targets:
        only = f" and method {args.method!r}" if args.method else ""
        raise UsageError(f"{args.targets} has no targets for tier {args.tier!r}{only}")
    runs = regress.runs(targets)
    try:
        labels = {method: registry.get_method(method).card.name for _, method, _ in runs}
    except registry.UnknownNameError as error:
        raise UsageError(f"{args.targets}: {error} (name methods as --method does: "
                         "a registered name or package.module:Class)") from None
    scores: dict[tuple[str, str, int], dict[str, Any]] = {}
    if args.from_records:
        for stream, method, seed in runs:
            path = record_path(Path(args.from_records), stream, labels[method], seed, {})
            if path.exists():
                scores[stream, method, seed] = read_record(path)["metrics"]
            else:
                print(f"warning: no record {path}", file=sys.stderr)
    else:
        out = Path(args.out or tempfile.mkdtemp(prefix="motifbench-regress-"))
        jobs = []
        for stream, method, seed in runs:
            path = record_path(out, stream, labels[method], seed, {})
            if is_to_run(path, args):
                jobs.append(Job(stream, method, seed, path, device=args.device, threads=args.threads,
                                force=args.force, show_progress=args.jobs == 1))
        for job, row in execute(jobs, args)[0]:
            scores[job.stream, job.method, job.seed] = row
        print(f"records in {out}", file=sys.stderr)
    verdicts = regress.judge(targets, scores)
    print(regress.report(verdicts))
    if args.update:
        regress.write_targets(Path(args.targets), regress.updated(every_target, verdicts))
        measured = sum(1 for v in verdicts if not math.isnan(v.measured))
        print(f"updated {measured} targets in {args.targets}; kept {len(verdicts) - measured} that have no score",
              file=sys.stderr)
        return 0
    failed = [v for v in verdicts if not v.passed]
    if failed:
        names = ", ".join(f"{v.target.method} {v.target.metric} on {v.target.stream}" for v in failed)
        print(f"error: {len(failed)} of {len(verdicts)} targets missed: {names}", file=sys.stderr)
        return 1
    print(f"all {len(verdicts)} {args.tier} targets met", file=sys.stderr)
    return 0


def command_check(args: argparse.Namespace) -> int:
    from . import conformance
    from .worker import Limits, isolated

    check_execution_options(args)
    cls = registry.get_method(args.method)
    per_method = parse_sets(args.set, {args.method: cls})[1][args.method]
    check_device(args.device)
    try:
        cls(**per_method)
    except HyperparameterError as error:
        raise UsageError(f"--set: {error}") from None
    job = conformance.CheckJob(args.method, per_method, args.device)
    checks, reason = isolated(conformance.run_checks, job, Limits(args.time_limit, args.memory_limit), args.threads)
    if checks is None:
        print(f"error: checking {args.method}: {reason}", file=sys.stderr)
        return 1
    print(conformance.report(checks))
    failed = [check.name for check in checks if not check.passed]
    if failed:
        print(f"error: {cls.card.name} failed {len(failed)} of {len(checks)} checks: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"{cls.card.name} passed all {len(checks)} checks", file=sys.stderr)
    return 0


def command_ls(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    if args.what == "streams":
        rows = [(s.name, s.tier, s.n_motifs, s.description) for s in registry.STREAMS.values()]
        print(tabulate(rows, headers=["stream", "tier", "motifs", "description"], tablefmt="github"))
    elif args.what == "metrics":
        rows = [(m.name, "higher" if m.higher_is_better else "lower", m.description) for m in registry.METRICS.values()]
        print(tabulate(rows, headers=["metric", "better", "description"], tablefmt="github"))
    else:
        rows = []
        for name in registry.METHODS:
            cls = registry.get_method(name)
            hyper = ", ".join(f"{f.name}={f.default}" for f in dataclasses.fields(cls.Hyperparams))
            rows.append((name, cls.card.citation, hyper or "-"))
        print(tabulate(rows, headers=["method", "citation", "hyperparameters (defaults)"], tablefmt="github"))
    return 0


def add_execution_options(parser: argparse.ArgumentParser, parallel: bool = True) -> None:
    """Where and how runs execute: device, threads, parallel workers (if ``parallel``) and limits."""
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads of torch and of numpy/scipy (default 1: small networks run fastest so)")
    if parallel:
        parser.add_argument("-j", "--jobs", type=int, default=1,
                            help="runs at once, each in its own worker process (default 1)")
    parser.add_argument("--time-limit", type=float, default=3600.0, metavar="S",
                        help="seconds one run may take before it is stopped (default 3600; 0: none)")
    parser.add_argument("--memory-limit", type=float, default=8192.0, metavar="MB",
                        help="megabytes one run may allocate (default 8192; 0: none)")


def check_execution_options(args: argparse.Namespace) -> None:
    for option, count in (("--threads", args.threads), ("-j/--jobs", getattr(args, "jobs", 1))):
        if count < 1:
            raise UsageError(f"{option} {count}: expected at least 1")
    for option, value in (("--time-limit", args.time_limit), ("--memory-limit", args.memory_limit)):
        if not value >= 0:
            raise UsageError(f"{option} {value}: expected a non-negative number (0: no limit)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="motifbench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="learn a stream with methods, write one record per seed, print a table")
    run.add_argument("--stream", required=True, help="a registered stream (motifbench ls streams)")
    run.add_argument("--method", required=True, help="METHOD[,METHOD...], 'all', or package.module:Class")
    run.add_argument("--seeds", default="0", help="comma-separated seeds (default 0)")
    run.add_argument("--out", default="results", help="records go to OUT/STREAM/METHOD/ (default ./results)")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="hyperparameter: KEY=V (every method that has it), METHOD.KEY=V, or eval.KEY=V")
    existing = run.add_mutually_exclusive_group()
    existing.add_argument("--force", action="store_true", help="replace existing records")
    existing.add_argument("--resume", action="store_true", help="keep existing records and run only the missing ones")
    add_execution_options(run)
    run.set_defaults(handler=command_run)
    board = sub.add_parser("leaderboard", help="build the leaderboard tables from run records")
    board.add_argument("--results", default="leaderboard/results", help="records folder (default leaderboard/results)")
    board.add_argument("--out", default="leaderboard", help="where the tables go (default leaderboard)")
    board.add_argument("--check", action="store_true", help="exit 1 if the tables differ from what the records give")
    board.add_argument("--no-figures", action="store_true", help="write the tables and the page, not the figures")
    board.set_defaults(handler=command_leaderboard)
    check = sub.add_parser("check", help="the conformance checks every method must pass, as a pass/fail table")
    check.add_argument("-m", "--method", required=True, help="a registered method or package.module:Class")
    check.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="hyperparameter: KEY=V")
    add_execution_options(check, parallel=False)
    check.set_defaults(handler=command_check)
    regress_ = sub.add_parser("regress", help="re-run the runs of a targets file and fail on any score worse than its target")
    regress_.add_argument("--tier", default="smoke", choices=["smoke", "standard", "scale"],
                          help="the targets whose stream is in this tier (default smoke)")
    regress_.add_argument("--targets", default="leaderboard/targets.csv", help="default leaderboard/targets.csv")
    regress_.add_argument("--out", help="where the re-runs' records go (default: a new temporary folder)")
    regress_.add_argument("--force", action="store_true", help="replace existing records in --out")
    regress_.add_argument("--from-records", metavar="DIR",
                          help="judge the records under DIR (RESULTS/STREAM/METHOD/seedN.json) instead of re-running")
    regress_.add_argument("--method", help="only the targets of these methods (comma-separated, as in the file)")
    regress_.add_argument("--update", action="store_true",
                          help="write the measured scores into the targets file as its new targets (tolerances kept)")
    add_execution_options(regress_)
    regress_.set_defaults(handler=command_regress)
    ls = sub.add_parser("ls", help="list registered streams, methods or metrics")
    ls.add_argument("what", choices=["streams", "methods", "metrics"])
    ls.set_defaults(handler=command_ls)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (UsageError, registry.UnknownNameError, RecordError, TargetsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; records already written are kept", file=sys.stderr)
        return 130
