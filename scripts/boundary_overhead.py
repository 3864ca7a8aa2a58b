"""What the request boundary costs: a method evaluated in-process vs behind ``RemoteMethod``.

What it measures, on stream ``smooth10-v1`` seed 0 under the default ``EvalConfig``, for each
method of ``--methods`` (default ``zero``, ``thalamocortical``, ``finetune``, default settings):

(a) in-process: ``Evaluator(registry.get_method(m)(), stream, 0).run()``, the method object in
    this process, as the evaluator ran methods before the boundary; only ``.run()`` is timed.
(b) behind the boundary: ``with RemoteMethod(m, {}, Limits(time_s=0, memory_mb=8192), threads=1)
    as method: Evaluator(method, stream, 0).run()``, as ``motifbench run`` does it (method process
    started by ``worker.MethodProcess``, under bubblewrap where this machine allows it). Timed
    separately: the start-up (constructing ``RemoteMethod``: starting the process, importing
    torch and the method there, ``load`` and ``configure``), ``.run()``, and the close.

(a) and (b) alternate, ``--repeats`` rounds (default 2), the order of the two ways flipped from
one method and one round to the next so that neither always runs first; the tables give
medians. Reported per method: the ``.run()`` wall time both ways, their ratio boundary /
in-process, the start-up, the round trips (calls over the wire during ``.run()``, counted by
wrapping ``method.endpoint.call``; ``load`` and ``configure`` at start-up are two more), the
bytes sent and received during ``.run()`` (counted by wrapping ``motifbench.wire.encode`` and
the channel's reads for the duration of the run; nothing in the package is edited), and
the CPU seconds of ``.run()`` both ways (this process's ``time.process_time()``, plus, behind
the boundary, the method process's user + system time read from /proc: on a busy machine a
steadier measure than wall time), and whether the scores are the same: every field of the
``Evaluation`` (metrics, R, all nmse arrays, final outputs, curves, parameter counts,
diagnostics as JSON; not the timings, nor wall-clock durations among the diagnostics, keys
``s`` or ``*_s``) must be bit-identical between all runs of a method, both ways. A second table breaks each way down
into the evaluator's phases (``evaluation.timings``: setup, learn summed over motifs, per-motif
test, transitions, sequences, robustness, total), and a third splits the time by protocol
call (the in-process method's calls timed by wrapping its bound methods the same way), so one
can see where the overhead lands: in the calls that move arrays (``generate``,
``rest_state``, ``state_dict``), not in ``learn``.

The parent uses one torch thread (``torch.set_num_threads`` and ``threadpool_limits``, as
``motifbench run`` does), and the method process gets ``threads=1``; ``--threads`` changes both.
The methods' modules are imported before ``threadpool_limits``, which limits only the libraries
already loaded: ``thalamocortical`` brings scipy's own OpenBLAS, which would otherwise run
with one thread per core in-process (the method process has ``OMP_NUM_THREADS``), be slower
on a busy machine, and give other floating-point results.

Run from the repository root (about 10 minutes on a quiet 2-core machine with the defaults;
``finetune`` takes 1-2 min per run, ``thalamocortical`` about 1 min):

    .venv/bin/python scripts/boundary_overhead.py

Options: ``--methods zero,finetune``, ``--repeats R`` (default 2), ``--memory-limit MB``
(default 8192 as ``motifbench run``; 0: none), ``--threads T`` (default 1), ``--out PATH``.
The tables are printed and written, with the command, date, torch version, nproc, load and
whether the method process was sandboxed, to ``scripts/results/boundary_overhead.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
from tabulate import tabulate
from threadpoolctl import threadpool_info, threadpool_limits

import motifbench.wire as wire
from motifbench import registry
from motifbench.evaluator import EvalConfig, Evaluation, Evaluator
from motifbench.remote import RemoteMethod
from motifbench.results import _jsonable
from motifbench.worker import Limits, sandbox_problem
from run_info import command_line, git_commit, nproc  # scripts/ is on sys.path when a script runs

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "scripts" / "results" / "boundary_overhead.md"
STREAM, SEED = "smooth10-v1", 0
DEFAULT_METHODS = ("zero", "thalamocortical", "finetune")
PHASES = ("setup", "learn", "test", "transitions", "sequences", "robustness", "total")
# The Method protocol's calls, as the evaluator makes them; the in-process method's are timed under these names.
CALLS = ("setup", "learn", "parameter_count", "rest_state", "generate", "state_dict", "damage", "load_state_dict",
         "diagnostics")


class CallLog:
    """Calls counted and timed by name."""

    def __init__(self) -> None:
        self.count: dict[str, int] = defaultdict(int)
        self.seconds: dict[str, float] = defaultdict(float)

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def logged(*args: Any, **kwargs: Any) -> Any:
            tic = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - tic
                self.count[name] += 1

        return logged

    @property
    def total(self) -> int:
        return sum(self.count.values())


def log_in_process(method: Any) -> CallLog:
    """Times the protocol calls of an in-process method (instance attributes shadow the class's)."""
    log = CallLog()
    for name in CALLS:
        if hasattr(method, name):
            setattr(method, name, log.wrap(name, getattr(method, name)))
    return log


def log_remote(method: RemoteMethod) -> CallLog:
    """Counts and times the round trips of a RemoteMethod by the call's name on the wire."""
    log = CallLog()
    call = method.endpoint.call

    def logged(name: str, *args: Any, **kwargs: Any) -> Any:
        return log.wrap(name, call)(name, *args, **kwargs)

    method.endpoint.call = logged
    return log


@contextlib.contextmanager
def count_bytes(method: RemoteMethod) -> Iterator[dict[str, int]]:
    """Bytes written to (every message ``wire.encode`` makes in this process: only this method
    process's channel is in use) and read from the method process while the block runs."""
    counts = {"sent": 0, "received": 0}
    encode, channel = wire.encode, method.endpoint.process.channel
    read = channel._read

    def counting_encode(*args: Any, **kwargs: Any) -> list[bytes]:
        buffers = encode(*args, **kwargs)
        counts["sent"] += sum(len(b) for b in buffers)
        return buffers

    def counting_read(count: int, deadline: float | None) -> bytes:
        counts["received"] += count
        return read(count, deadline)

    wire.encode, channel._read = counting_encode, counting_read
    try:
        yield counts
    finally:
        wire.encode = encode
        del channel._read


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by process ``pid`` and its live descendants
    (bwrap and the method process under it), from /proc; 0 where /proc is missing."""
    total, pids = 0, [pid]
    while pids:
        current = pids.pop()
        try:
            with open(f"/proc/{current}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat(5))
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    pids.extend(int(child) for child in children.read().split())
        except (OSError, ValueError):
            continue
    return total / os.sysconf("SC_CLK_TCK")


def blas_threads() -> str:
    """The thread pools this process has loaded and their sizes (threadpoolctl)."""
    return ", ".join(f"{Path(pool['filepath']).name} {pool['num_threads']}" for pool in threadpool_info())


def phases(evaluation: Evaluation) -> dict[str, float]:
    t = evaluation.timings
    return {name: float(sum(t[name])) if name == "learn" else float(t[name]) for name in PHASES}


def run_in_process(name: str, stream: Any) -> dict[str, Any]:
    method = registry.get_method(name)()
    log = log_in_process(method)
    evaluator = Evaluator(method, stream, SEED, EvalConfig())
    tic, cpu = time.perf_counter(), time.process_time()
    evaluation = evaluator.run()
    run_s, cpu_s = time.perf_counter() - tic, time.process_time() - cpu
    return {"run": run_s, "cpu": cpu_s, "evaluation": evaluation, "phases": phases(evaluation), "log": log}


def run_boundary(name: str, stream: Any, limits: Limits, threads: int) -> dict[str, Any]:
    tic = time.perf_counter()
    method = RemoteMethod(name, {}, limits, threads=threads, device="cpu")
    with method:
        startup_s = time.perf_counter() - tic
        sandboxed = method.endpoint.process.sandboxed
        log = log_remote(method)
        evaluator = Evaluator(method, stream, SEED, EvalConfig())
        pid = method.endpoint.process.process.pid
        with count_bytes(method) as counts:
            tic, cpu, method_cpu = time.perf_counter(), time.process_time(), tree_cpu(pid)
            evaluation = evaluator.run()
            run_s, cpu_s = time.perf_counter() - tic, time.process_time() - cpu
            method_cpu_s = tree_cpu(pid) - method_cpu
        tic = time.perf_counter()
    close_s = time.perf_counter() - tic
    return {"run": run_s, "cpu": cpu_s, "method_cpu": method_cpu_s, "startup": startup_s, "close": close_s, "evaluation": evaluation,
            "phases": phases(evaluation), "log": log, "sent": counts["sent"], "received": counts["received"],
            "sandboxed": sandboxed}


def is_seconds(key: str) -> bool:
    """Whether a diagnostics key names a wall-clock duration (``s``, ``*_s``, as ``thalamocortical``'s
    ``mode_fit_s``, ``place_s`` and ``s``): those differ from run to run and are not compared."""
    return key == "s" or key.endswith("_s")


def without_seconds(value: Any, found: set[str]) -> Any:
    """JSON ``value`` without the keys ``is_seconds`` picks out (their names added to ``found``)."""
    if isinstance(value, dict):
        found.update(key for key in value if is_seconds(key))
        return {key: without_seconds(v, found) for key, v in value.items() if not is_seconds(key)}
    if isinstance(value, list):
        return [without_seconds(v, found) for v in value]
    return value


def scores(evaluation: Evaluation, seconds_keys: set[str] | None = None) -> dict[str, Any]:
    """Everything an Evaluation holds but its timings (and the durations among its diagnostics,
    whose names are added to ``seconds_keys``), as arrays or JSON text to compare exactly."""
    diagnostics = without_seconds(_jsonable(evaluation.diagnostics), set() if seconds_keys is None else seconds_keys)
    return {
        "metrics": json.dumps(_jsonable(evaluation.metrics), sort_keys=True),
        "R": evaluation.R,
        "output_change": evaluation.output_change,
        "rest_nmse": evaluation.rest_nmse,
        "final_outputs": evaluation.final_outputs,
        "probe_change": evaluation.probe_change,
        "transition_nmse": evaluation.transition_nmse,
        "sequence_ids": evaluation.sequence_ids,
        "sequence_nmse": evaluation.sequence_nmse,
        "curves": json.dumps(_jsonable(evaluation.curves), sort_keys=True),
        "parameter_counts": json.dumps(_jsonable(evaluation.parameter_counts)),
        "diagnostics": json.dumps(diagnostics, sort_keys=True),
    }


def differences(a: Evaluation, b: Evaluation, seconds_keys: set[str]) -> list[str]:
    """The fields in which two evaluations are not bit-identical (NaN equal to NaN)."""
    different = []
    for (key, x), y in zip(scores(a, seconds_keys).items(), scores(b, seconds_keys).values()):
        if isinstance(x, str):
            same = x == y
        elif isinstance(x, list):
            same = len(x) == len(y) and all(np.array_equal(u, v, equal_nan=True) for u, v in zip(x, y))
        else:
            same = x.shape == y.shape and np.array_equal(x, y, equal_nan=x.dtype.kind == "f")
        if not same:
            different.append(key)
    return different








def load_average() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "unknown"


def med(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def times(runs: list[dict[str, Any]], key: str) -> str:
    return ", ".join(f"{run[key]:.2f}" for run in runs)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default=",".join(DEFAULT_METHODS),
                        help=f"comma-separated registered methods (default {','.join(DEFAULT_METHODS)})")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each way per method (default 2)")
    parser.add_argument("--memory-limit", type=float, default=8192.0, metavar="MB",
                        help="the method process's memory limit (default 8192, as motifbench run; 0: none)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads, here and in the method process (default 1)")
    parser.add_argument("--out", type=Path, default=RESULT, help=f"Markdown file to write (default {RESULT.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    methods = [name.strip() for name in args.methods.split(",") if name.strip()]
    for name in methods:
        if name not in registry.METHODS:
            parser.error(f"unknown method {name!r}; registered: {', '.join(registry.METHODS)}")
    if args.repeats < 1 or args.threads < 1:
        parser.error("--repeats and --threads must be at least 1")
    sys.stdout.reconfigure(line_buffering=True)

    torch.set_num_threads(args.threads)  # the evaluator's own arithmetic, as motifbench run sets it
    # The method classes are imported before the BLAS pools are limited: threadpoolctl limits only the
    # libraries loaded when it is called, and a method may bring its own (scipy ships a second
    # OpenBLAS). The method process gets OMP_NUM_THREADS, which every OpenBLAS it loads obeys, so
    # this makes the in-process way compute with the same thread counts as the method process.
    for name in methods:
        registry.get_method(name)
    threadpool_limits(args.threads)
    pools_before = blas_threads()
    limits = Limits(time_s=0.0, memory_mb=args.memory_limit)
    started = datetime.datetime.now().astimezone()
    load_before = load_average()
    sandbox = sandbox_problem()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} torch threads, nproc {nproc()}; method process "
          f"{'sandboxed by bwrap' if sandbox is None else f'not sandboxed ({sandbox})'}", flush=True)
    stream = registry.get_stream(STREAM).build(SEED)

    runs: dict[str, dict[str, list[dict[str, Any]]]] = {m: {"in": [], "boundary": []} for m in methods}
    for repeat in range(args.repeats):
        for index, name in enumerate(methods):
            ways = ("in", "boundary") if (repeat + index) % 2 == 0 else ("boundary", "in")
            for way in ways:
                if way == "in":
                    result = run_in_process(name, stream)
                    extra = ""
                else:
                    result = run_boundary(name, stream, limits, args.threads)
                    extra = (f", method process CPU {result['method_cpu']:.2f} s, start-up {result['startup']:.2f} s, close {result['close']:.2f} s, "
                             f"{result['log'].total} round trips, {result['sent'] / 1e6:.1f} MB sent, "
                             f"{result['received'] / 1e6:.1f} MB received")
                runs[name][way].append(result)
                print(f"  round {repeat + 1}: {name:16} {way:8} run {result['run']:7.2f} s "
                      f"(parent CPU {result['cpu']:.2f} s){extra}", flush=True)

    # Same seed, same scores: every run of a method, both ways, against its first in-process run.
    same: dict[str, list[str]] = {}
    seconds_keys: dict[str, set[str]] = {}
    for name in methods:
        reference = runs[name]["in"][0]["evaluation"]
        fields: set[str] = set()
        seconds_keys[name] = set()
        for way in ("in", "boundary"):
            for result in runs[name][way]:
                fields.update(differences(reference, result["evaluation"], seconds_keys[name]))
        same[name] = sorted(fields)

    # Table 1: the headline per method.
    summary = []
    for name in methods:
        a, b = runs[name]["in"], runs[name]["boundary"]
        trips = {result["log"].total for result in b}
        overhead = med(b, "run") - med(a, "run")
        summary.append([
            name,
            f"{med(a, 'run'):.2f}",
            f"{med(b, 'run'):.2f}",
            f"{med(b, 'run') / med(a, 'run'):.2f}x",
            f"{overhead:+.2f}",
            f"{med(b, 'startup'):.2f}",
            "/".join(map(str, sorted(trips))),
            f"{1e3 * overhead / max(trips):+.2f}",
            f"{med(b, 'sent') / 1e6:.1f} / {med(b, 'received') / 1e6:.1f}",
            f"{med(a, 'cpu'):.2f}",
            f"{med(b, 'cpu'):.2f} + {med(b, 'method_cpu'):.2f}",
            f"{(med(b, 'cpu') + med(b, 'method_cpu')) / med(a, 'cpu'):.2f}x",
            "yes" if not same[name] else "NO: " + ", ".join(same[name]),
        ])
    summary_table = tabulate(summary, headers=[
        "method", "in-process run s", "boundary run s", "ratio", "overhead s", "start-up s", "round trips",
        "overhead ms / round trip", "MB sent / received", "CPU s in-process",
        "CPU s boundary (trusted + method process)", "CPU ratio", "same scores",
    ], tablefmt="github", disable_numparse=True)

    # Table 2: the evaluator's phases, medians, both ways and their difference.
    phase_rows = []
    for name in methods:
        medians = {way: {p: statistics.median(r["phases"][p] for r in runs[name][way]) for p in PHASES}
                   for way in ("in", "boundary")}
        phase_rows.append([name, "in-process", *(f"{medians['in'][p]:.2f}" for p in PHASES)])
        phase_rows.append([name, "boundary", *(f"{medians['boundary'][p]:.2f}" for p in PHASES)])
        phase_rows.append([name, "difference", *(f"{medians['boundary'][p] - medians['in'][p]:+.2f}" for p in PHASES)])
    phase_table = tabulate(phase_rows, headers=["method", "way", "setup", "learn (sum)", "test (per motif)",
                                                "transitions", "sequences", "robustness", "total"],
                           tablefmt="github", disable_numparse=True)

    # Table 3: time by protocol call, medians over the runs.
    call_rows = []
    for name in methods:
        a, b = runs[name]["in"], runs[name]["boundary"]
        for call in CALLS:
            count = b[0]["log"].count.get(call, 0)
            if not count:
                continue
            t_in = statistics.median(r["log"].seconds[call] for r in a)
            t_b = statistics.median(r["log"].seconds[call] for r in b)
            call_rows.append([name, call, count, a[0]["log"].count.get(call, 0), f"{t_in:.3f}", f"{t_b:.3f}",
                              f"{t_b - t_in:+.3f}", f"{1e3 * (t_b - t_in) / count:+.2f}"])
    call_table = tabulate(call_rows, headers=["method", "call", "round trips", "in-process calls", "in-process s",
                                              "boundary s", "difference s", "difference ms / call"],
                          tablefmt="github", disable_numparse=True)

    total = (datetime.datetime.now().astimezone() - started).total_seconds()
    pools_after = blas_threads()
    print()
    print(summary_table)
    print()
    print(phase_table)
    print()
    print(call_table)

    notes = []
    for name in methods:
        a, b = runs[name]["in"], runs[name]["boundary"]
        notes.append(
            f"- `{name}`: in-process run {times(a, 'run')} s; boundary run "
            f"{times(b, 'run')} s, start-up {times(b, 'startup')} s, "
            f"close {times(b, 'close')} s; round trips by call: "
            + ", ".join(f"{call} {count}" for call, count in b[0]["log"].count.items())
            + (f"; durations in its diagnostics, not compared: {', '.join(sorted(seconds_keys[name]))}"
               if seconds_keys[name] else "")
        )
    sandboxed = {r["sandboxed"] for m in methods for r in runs[m]["boundary"]}
    document = "\n".join([
        "# The request boundary's cost: in-process vs `RemoteMethod`",
        "",
        "Written by `scripts/boundary_overhead.py`; do not edit by hand.",
        "",
        f"- command: `{command_line()}` (from the repository root), at commit {git_commit()}",
        f"- date: {started.isoformat(timespec='seconds')}; the whole script took {total:.0f} s",
        f"- torch {torch.__version__} ({torch.get_num_threads()} threads here, threads={args.threads} in the method "
        f"process), numpy {np.__version__}, Python {platform.python_version()} on {platform.machine()}, device cpu",
        f"- nproc: {nproc()}; load average (1, 5, 15 min) {load_before} at the start, {load_average()} at the end",
        f"- thread pools of this process (threadpoolctl) after importing the methods: {pools_before}; "
        f"at the end: {pools_after}",
        f"- method process: {'sandboxed by bwrap' if sandboxed == {True} else 'not sandboxed (' + str(sandbox) + ')'}; "
        f"`Limits(time_s=0, memory_mb={args.memory_limit:g})`",
        f"- stream `{STREAM}` seed {SEED}, default `EvalConfig`, default settings of each method; {args.repeats} "
        "runs of each way per method, alternating (the way that goes first flips from one method and one round to "
        "the next); medians",
        "",
        "In-process: `Evaluator(registry.get_method(m)(), stream, 0).run()`; boundary: `Evaluator(method, stream, "
        "0).run()` inside `with RemoteMethod(m, {}, limits, threads) as method`. \"run s\" is `.run()` alone; "
        "start-up (constructing `RemoteMethod`: process start, imports, `load`, `configure`) is apart. Round trips "
        "are the calls over the wire during `.run()` (start-up adds `load` and `configure`); overhead per round "
        "trip = (boundary run - in-process run) / round trips. MB are 10^6 bytes of messages during `.run()`. "
        "CPU: `time.process_time()` of this process during `.run()`, and behind the boundary also the user + "
        "system CPU of the method process (and bwrap) from /proc; less noisy than wall time on a busy machine. \"same scores\": every field of the `Evaluation` "
        "but the timings (and wall-clock durations among the diagnostics, keys `s` or `*_s`, listed below) is "
        "bit-identical in all runs of the method, both ways. CPU ratio = (trusted + method process CPU) / "
        "in-process CPU of `.run()`.",
        "",
        summary_table,
        "",
        "Evaluator phases (`evaluation.timings`, s, medians): learn is summed over the motifs, test is the "
        "per-motif tests during the stream summed; total is from `setup` to the end of robustness.",
        "",
        phase_table,
        "",
        "By protocol call (s summed over a run, medians; the in-process method's bound methods wrapped in a timer, "
        "the boundary's `method.endpoint.call`):",
        "",
        call_table,
        "",
        *notes,
        "",
    ])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(document)
    print(f"\nwrote {args.out} (the whole script took {total:.0f} s)")


if __name__ == "__main__":
    main()
