"""The ``motifbench`` command (also ``python -m motifbench``): ``run`` learns streams with methods
and writes records, ``leaderboard`` builds the tables, ``check`` runs the conformance checks,
``regress`` judges score targets, ``ls`` lists.

Exit status: 0 success, 1 a run, check or target failed (the other runs still ran and kept
their records; the failure is recorded), 2 bad input (nothing was run or written). This
module only reads the command line: ``runner.py`` plans and executes the runs, each method in a
method process of its own with a time and a memory limit (``remote.py``, ``worker.py``).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any, Sequence

from . import registry
from .conformance import CHECK_STREAM
from .method import HyperparameterError, MethodError, parse_hyperparameter, setting_names
from .regress import TargetsError
from .results import RecordError
from .runner import RunOptions, UsageError, parse_seeds
from .sources import StreamError, StreamSource, resolve
from .sweep import DEFAULT_SCORES
from .streams import Stream


def seeds_option(text: str) -> tuple[int, ...]:
    """``--seeds`` as a tuple of seeds, or a UsageError."""
    try:
        return parse_seeds(text)
    except ValueError as error:
        raise UsageError(f"--seeds: {error}") from None


def parse_sets(items: Sequence[str], settings: dict[str, list[str]]) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """``--set`` items -> (evaluator overrides, typed; the texts set for each method).

    ``eval.KEY=V`` sets the evaluator, ``METHOD.KEY=V`` one method, ``KEY=V`` every selected
    method that has KEY; ``settings`` names each selected method's settings."""
    from .evaluator import EvalConfig

    eval_overrides: dict[str, Any] = {}
    per_method: dict[str, dict[str, str]] = {name: {} for name in settings}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--set {item!r}: expected KEY=VALUE")
        target, _, field = key.rpartition(".")
        if target == "eval":
            if field not in (names := setting_names(EvalConfig)):
                raise UsageError(f"--set: eval has no setting {field!r} (it has: {', '.join(names)})")
            try:
                eval_overrides[field] = parse_hyperparameter(EvalConfig, field, value)
            except HyperparameterError as error:
                raise UsageError(f"--set eval: {error}") from None
            continue
        if target and target not in settings:
            raise UsageError(f"--set {item!r}: method {target!r} is not among those run ({', '.join(settings)})")
        if target and field not in settings[target]:
            raise UsageError(f"--set: {target} has no setting {field!r} "
                             f"(it has: {', '.join(settings[target]) or 'none'})")
        targets = [target] if target else [name for name, names in settings.items() if field in names]
        if not targets:
            raise UsageError(f"--set {item!r}: no selected method has a hyperparameter {field!r}")
        for name in targets:
            per_method[name][field] = value
    return eval_overrides, per_method


def stream_source(ref: str, seeds: Sequence[int]) -> StreamSource:
    """The stream ``ref`` names, made for every seed now: before any method runs, bad data
    stops the command with one line."""
    source = resolve(ref)
    for seed in seeds:
        source.build(seed)
    return source


def method_settings(stream: Stream, names: list[str], items: Sequence[str], options: RunOptions,
                    evaluator_settings: bool = True) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The evaluator's and every method's ``--set`` values, checked (each setting, the rules
    across them and against the stream) before anything runs, a method from outside in a
    method process of its own (``remote.Catalogue``): a bad value, or a method that cannot
    even be loaded, is a UsageError."""
    from .evaluator import EvalConfig, stream_info
    from .remote import Catalogue

    try:
        with Catalogue(names, options.limits, options.threads) as catalogue:
            eval_overrides, texts = parse_sets(items, {name: catalogue.setting_names(name) for name in names})
            if eval_overrides and not evaluator_settings:
                raise UsageError("--set eval.*: check runs the default evaluation, so it takes no evaluator settings")
            info = stream_info(stream, EvalConfig(**eval_overrides))
            return eval_overrides, {name: catalogue.parse(name, texts[name], info) for name in names}
    except HyperparameterError as error:
        raise UsageError(f"--set: {error}") from None
    except MethodError as error:
        raise UsageError(str(error)) from None


def writable_folder(out: Path, option: str = "--out") -> Path:
    """``out`` if it is a folder this process can write in, or could create (nothing is made
    here); else a UsageError."""
    import os

    existing = next(path for path in (out.absolute(), *out.absolute().parents) if path.exists() or path == path.parent)
    if not existing.is_dir():
        raise UsageError(f"{option} {out}: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {out}: this process cannot write in {existing}")
    return out


def selected_methods(text: str) -> list[str]:
    """``--method``: 'all' or distinct comma-separated methods that write under distinct names."""
    names = list(registry.all_methods()) if text == "all" else [n for n in text.split(",") if n]
    if not names or len(set(names)) != len(names):
        raise UsageError(f"--method {text!r}: expected distinct method names, comma-separated")
    labels = [registry.method_label(name) for name in names]
    if len(set(labels)) != len(labels):
        twice = next(label for label in labels if labels.count(label) > 1)
        raise UsageError(f"--method {text!r}: two methods would write their records under the name {twice!r}")
    return names


def command_run(args: argparse.Namespace) -> int:
    from .runner import execute, plan, results_table

    seeds = seeds_option(args.seeds)
    source = stream_source(args.stream, seeds)  # before the slow imports, so a typo is reported at once
    options = run_options(args)
    names = selected_methods(args.method)
    out = writable_folder(Path(args.out))
    eval_overrides, per_method = method_settings(source.build(seeds[0]), names, args.set, options)
    options.check_device()
    jobs = [job for name in names for job in plan(source, name, seeds, out, options, per_method[name], eval_overrides)]
    done, failures = execute(jobs, options)
    if done:
        print(results_table([row for _, row in done]))
    return 1 if failures else 0


def grid_option(text: str) -> tuple[str, tuple[str, ...]]:
    """``--grid KEY=v1,v2,...`` -> (KEY, the distinct values as given), or a UsageError."""
    key, sep, values = text.partition("=")
    swept = tuple(value.strip() for value in values.split(","))
    if not sep or not key.strip() or not all(swept) or len(set(swept)) != len(swept):
        raise UsageError(f"--grid {text!r}: expected KEY=v1,v2,... with distinct, non-empty values")
    return key.strip(), swept


def command_sweep(args: argparse.Namespace) -> int:
    from .metrics import METRICS
    from .results import record_path, write_text
    from .runner import execute, plan, run_overrides
    from .streams import STREAM_FAMILIES
    from .sweep import SweepSpec, swept_number, write_sweep

    seeds = seeds_option(args.seeds)
    key, values = grid_option(args.grid)
    scores = tuple(score for score in args.scores.split(",") if score)
    unknown = [score for score in scores if score not in METRICS]
    if not scores or unknown:
        raise UsageError(f"--scores {args.scores!r}: unknown score {unknown[0] if unknown else ''!r} "
                         f"(motifbench ls metrics lists them)")
    target, _, field = key.rpartition(".")
    if target == "stream":  # a family's setting: each value is a member stream
        setting, members = STREAM_FAMILIES.get(args.stream, (None, {}))
        if setting is None:
            raise UsageError(f"--grid {key}: {args.stream} is not a stream family "
                             f"(families: {', '.join(f'{name} ({s})' for name, (s, _) in STREAM_FAMILIES.items())})")
        if field != setting:
            raise UsageError(f"--grid {key}: the family {args.stream} has the setting {setting!r}")
        numbers = {value: (swept_number((value,)) or [math.nan])[0] for value in values}
        missing = [value for value in values if numbers[value] not in members]
        if missing:
            raise UsageError(f"--grid {key}: {args.stream} has no member with {setting}={missing[0]} "
                             f"(it has {', '.join(f'{v:g}' for v in members)})")
        sources = {value: stream_source(members[numbers[value]], seeds) for value in values}
    else:
        source = stream_source(args.stream, seeds)
        sources = {value: source for value in values}
    options = run_options(args)
    names = selected_methods(args.method)
    out = writable_folder(Path(args.out))
    sweeps = writable_folder(Path(args.sweep_out), "--sweep-out")
    options.check_device()
    jobs, records = [], {registry.method_label(name): {} for name in names}
    for value in values:
        items = args.set + ([] if target == "stream" else [f"{key}={value}"])
        eval_overrides, per_method = method_settings(sources[value].build(seeds[0]), names, items, options)
        for name in names:
            if target not in ("stream", "eval") and field not in per_method[name]:
                raise UsageError(f"--grid {key}: method {name} would not change across the sweep (it has no "
                                 f"setting {field!r}, or the key names another method)")
            label = registry.method_label(name)
            overrides = run_overrides(per_method[name], eval_overrides)
            records[label][value] = [str(record_path(out, sources[value].name, label, seed, overrides).relative_to(out))
                                     for seed in seeds]
            jobs += plan(sources[value], name, seeds, out, options, per_method[name], eval_overrides)
    spec = SweepSpec(args.stream, tuple(records), key, values, seeds, tuple(args.set), records)
    _, failures = execute(jobs, options)
    write_text(sweeps / f"{spec.name}.json", spec.to_json(), force=True)
    for path in write_sweep(spec, out, sweeps, scores):
        print(f"wrote {path}", file=sys.stderr)
    print((sweeps / f"{spec.name}.md").read_text())
    return 1 if failures else 0


def run_options(args: argparse.Namespace) -> RunOptions:
    """The command's execution options (a UsageError if one is bad)."""
    return RunOptions(device=args.device, threads=args.threads, jobs=getattr(args, "jobs", 1),
                      time_limit=args.time_limit, memory_limit=args.memory_limit,
                      force=getattr(args, "force", False), resume=getattr(args, "resume", False))


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
    from .results import read_record, record_path
    from .runner import execute, plan

    options = run_options(args)
    options.check_device()
    every_target = regress.read_targets(Path(args.targets))
    targets = regress.in_tier(every_target, args.tier)
    if args.method:
        chosen = [name.strip() for name in args.method.split(",")]
        missing = [name for name in chosen if name not in {t.method for t in targets}]
        if missing:
            raise UsageError(f"{args.targets} has no targets for tier {args.tier!r} and method {missing[0]!r}")
        targets = [t for t in targets if t.method in chosen]
    if not targets:
        raise UsageError(f"{args.targets} has no targets for tier {args.tier!r}")
    runs = regress.runs(targets)
    try:
        labels = {method: registry.method_label(method) for _, method, _ in runs}
    except registry.UnknownNameError as error:
        raise UsageError(f"{args.targets}: {error} (name methods as --method does: "
                         "a registered name or package.module:Class)") from None
    sources = {ref: stream_source(ref, sorted({seed for stream, _, seed in runs if stream == ref}))
               for ref in dict.fromkeys(stream for stream, _, _ in runs)}
    folder = Path(args.from_records or args.out or tempfile.mkdtemp(prefix="motifbench-regress-"))
    if not args.from_records:
        writable_folder(folder)
        execute([job for stream, method, seed in runs for job in plan(sources[stream], method, [seed], folder, options)],
                options)
        print(f"records in {folder}", file=sys.stderr)
    scores: dict[tuple[str, str, int], dict[str, Any]] = {}
    for stream, method, seed in runs:
        path = record_path(folder, sources[stream].name, labels[method], seed, {})
        if path.exists():
            scores[stream, method, seed] = read_record(path, located=True)["metrics"]
        elif args.from_records:
            print(f"warning: no record {path}", file=sys.stderr)
    verdicts = regress.judge(targets, scores)
    print(regress.report(verdicts))
    unfailable = [v for v in verdicts if v.target.cannot_fail()]
    if unfailable:
        print(f"note: {len(unfailable)} of {len(verdicts)} targets cannot fail (their worst possible score is within "
              f"the allowance): {', '.join(f'{v.target.method} {v.target.metric}' for v in unfailable)}", file=sys.stderr)
    if args.update:
        kept = regress.updated(every_target, verdicts)
        regress.write_targets(Path(args.targets), kept)
        unmeasured = sum(1 for v in verdicts if math.isnan(v.measured))
        kept_rows = {(t.stream, t.method, t.metric, t.seeds) for t in kept}
        dropped = [t for t in every_target if (t.stream, t.method, t.metric, t.seeds) not in kept_rows]
        print(f"updated {len(verdicts) - unmeasured - len(dropped)} targets in {args.targets}", file=sys.stderr)
        if dropped:
            print(f"dropped {len(dropped)} targets that the new scores leave unable to fail: "
                  f"{', '.join(f'{t.stream} {t.method} {t.metric}' for t in dropped)}", file=sys.stderr)
        if unmeasured:
            print(f"error: kept {unmeasured} targets as they were: a run failed or is missing", file=sys.stderr)
        return 1 if unmeasured else 0
    failed = [v for v in verdicts if not v.passed]
    if failed:
        names = ", ".join(f"{v.target.method} {v.target.metric} on {v.target.stream}" for v in failed)
        print(f"error: {len(failed)} of {len(verdicts)} targets missed: {names}", file=sys.stderr)
        return 1
    print(f"all {len(verdicts)} {args.tier} targets met (allowed: max({regress.FLOOR:g}, "
          f"{regress.K:g} x combined standard error))", file=sys.stderr)
    return 0


def command_check(args: argparse.Namespace) -> int:
    from . import conformance
    from .runner import use_threads

    options = run_options(args)
    label = registry.method_label(args.method)
    source = stream_source(args.stream, [conformance.CHECK_SEED])
    _, per_method = method_settings(source.build(conformance.CHECK_SEED), [args.method], args.set, options,
                                    evaluator_settings=False)
    options.check_device()
    job = conformance.CheckJob(args.method, per_method[args.method], options.device, stream=args.stream)
    use_threads(options.threads)
    checks = conformance.run_checks(job, options.limits, options.threads)
    print(conformance.report(checks))
    failed = [check.name for check in checks if not check.passed]
    if failed:
        print(f"error: {label} failed {len(failed)} of {len(checks)} checks: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"{label} passed all {len(checks)} checks", file=sys.stderr)
    return 0


def command_ls(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    if args.what == "streams":
        sources = [resolve(name) for name in [*registry.STREAMS, *registry.plugins("stream")]]
        rows = [(s.name, s.tier, s.n_motifs, s.kind, s.description) for s in sources]
        print(tabulate(rows, headers=["stream", "tier", "motifs", "from", "description"], tablefmt="github"))
    elif args.what == "metrics":
        rows = [(m.name, "higher" if m.higher_is_better else "lower", m.description) for m in registry.METRICS.values()]
        print(tabulate(rows, headers=["metric", "better", "description"], tablefmt="github"))
    else:
        from .remote import Catalogue

        rows = []
        with Catalogue(list(registry.all_methods()), RunOptions().limits) as catalogue:
            for name, description in catalogue.descriptions.items():
                hyper = ", ".join(f"{f['name']}={_default(f['default'])}" + (f" (one of {'/'.join(f['choices'])})"
                                                                              if f.get("choices") else "")
                                  for f in description["fields"])
                rows.append((name, description["card"]["citation"], hyper or "-"))
        print(tabulate(rows, headers=["method", "citation", "hyperparameters (defaults)"], tablefmt="github"))
    return 0


def _default(value: Any) -> str:
    """A default as ``ls methods`` shows it: a list as a tuple, as --set writes it."""
    return str(tuple(value)) if isinstance(value, list) else str(value)


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


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """What ``run`` and ``sweep`` share: methods, seeds, records folder, settings, what to do with
    existing records, and the execution options."""
    parser.add_argument("--method", required=True, help="METHOD[,METHOD...], 'all', or package.module:Class")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds (default 0)")
    parser.add_argument("--out", default="results", help="records go to OUT/STREAM/METHOD/ (default ./results)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="hyperparameter: KEY=V (every method that has it), METHOD.KEY=V, or eval.KEY=V")
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument("--force", action="store_true", help="replace existing records")
    existing.add_argument("--resume", action="store_true", help="keep existing records and run only the missing ones")
    add_execution_options(parser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="motifbench", description="Learn streams of motifs with methods, build the leaderboard, check a method's "
        "conformance and judge score targets. Exit status: 0 success, 1 a run, check or target failed, 2 bad input.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="learn a stream with methods, write one record per seed, print a table")
    run.add_argument("--stream", required=True, help="a registered or plugin stream (motifbench ls streams), "
                     "package.module:attr, or a stream file")
    add_run_options(run)
    run.set_defaults(handler=command_run)
    sweep = sub.add_parser("sweep", help="run methods at each value of one setting; a table and a figure of scores "
                           "against it")
    sweep.add_argument("--stream", required=True, help="as run's --stream; a stream family for --grid stream.KEY")
    sweep.add_argument("--grid", required=True, metavar="KEY=v1,v2,...",
                       help="the swept setting: a hyperparameter (KEY or METHOD.KEY), eval.KEY, or stream.KEY of a "
                            "stream family")
    sweep.add_argument("--scores", default=",".join(DEFAULT_SCORES), help="comma-separated scores to tabulate and "
                       f"draw (default {','.join(DEFAULT_SCORES)})")
    sweep.add_argument("--sweep-out", default="sweeps",
                       help="the sweep's NAME.json, NAME.md, NAME.csv and NAME.png go here (default ./sweeps)")
    add_run_options(sweep)
    sweep.set_defaults(handler=command_sweep)
    board = sub.add_parser("leaderboard", help="build the leaderboard tables from run records")
    board.add_argument("--results", default="leaderboard/results", help="records folder (default leaderboard/results)")
    board.add_argument("--out", default="leaderboard", help="where the tables go (default leaderboard)")
    board.add_argument("--check", action="store_true", help="exit 1 if the tables differ from what the records give")
    board.add_argument("--no-figures", action="store_true", help="write the tables and the page, not the figures")
    board.set_defaults(handler=command_leaderboard)
    check = sub.add_parser("check", help="the conformance checks every method must pass, as a pass/fail table")
    check.add_argument("-m", "--method", required=True, help="a registered method or package.module:Class")
    check.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="hyperparameter: KEY=V")
    check.add_argument("--stream", default=CHECK_STREAM,
                       help="the stream the checks learn (default smoke-v1): as run's --stream")
    add_execution_options(check, parallel=False)
    check.set_defaults(handler=command_check)
    regress_ = sub.add_parser("regress", help="re-run the runs of a targets file and fail on any score worse than its target")
    regress_.add_argument("--tier", default="smoke", choices=["smoke", "standard", "scale"],
                          help="the targets whose stream is in this tier (default smoke)")
    regress_.add_argument("--targets", default="leaderboard/targets.csv", help="default leaderboard/targets.csv")
    regress_.add_argument("--out", help="where the re-runs' records go (default: a new temporary folder)")
    existing = regress_.add_mutually_exclusive_group()
    existing.add_argument("--force", action="store_true", help="replace existing records in --out")
    existing.add_argument("--resume", action="store_true", help="judge existing records in --out; run only the missing ones")
    regress_.add_argument("--from-records", metavar="DIR",
                          help="judge the records under DIR (RESULTS/STREAM/METHOD/seedN.json) instead of re-running")
    regress_.add_argument("--method", help="only the targets of these methods (comma-separated, as in the file)")
    regress_.add_argument("--update", action="store_true",
                          help="write the measured means and standard errors into the targets file as its new targets "
                               "(dropping rows they leave unable to fail)")
    add_execution_options(regress_)
    regress_.set_defaults(handler=command_regress)
    ls = sub.add_parser("ls", help="list the streams, methods (motifbench's and installed plugins') or metrics")
    ls.add_argument("what", choices=["streams", "methods", "metrics"])
    ls.set_defaults(handler=command_ls)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (UsageError, registry.UnknownNameError, RecordError, TargetsError, StreamError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; records already written are kept", file=sys.stderr)
        return 130
