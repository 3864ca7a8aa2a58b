"""How much the evaluator's batched transition test saves over one ``generate`` call per pair.

What it measures, on the streams ``smooth10-v1`` (K = 10) and ``smooth50-v1`` (K = 50):

(a) batched: ``Evaluator(method, stream, 0).transitions(ends, n_prep)`` under the default
    ``EvalConfig`` (3 repeats), i.e. all K(K-1) x repeats ordered transitions a -> b in one
    ``generate`` call per motif length and chunk of at most ``batch_limit`` rows;
(b) per pair: the same work with one ``method.generate`` call of batch 1 per ordered pair
    a != b and repeat: the same perturbed start state (drawn exactly as ``transitions`` draws
    it), the same ``n_prep`` and ``n_steps``, the output converted and checked as the evaluator
    does, and the same nmse. (a) and (b) must agree (``np.allclose``, rtol 1e-4) or the script
    stops with an error.

The method is ``finetune`` (``motifbench.baselines.finetune.Finetune``) after ``setup(info,
seed=0)``, not trained: the cost of its ``generate`` (Euler steps of a dense rate RNN) depends
on the batch size, the network size and the number of steps, not on the weights, so an
untrained network times the same as a trained one and the script needs no training (learning
50 motifs takes many minutes). The end states ``ends`` are those of every motif produced from
rest: ``evaluator.produce(np.arange(K), method.rest_state(K), evaluator.n_prep)``.

Generate calls are counted by wrapping ``method.generate`` in a counter. Times are
``time.perf_counter`` wall-clock seconds with one torch thread (``--threads``), as ``motifbench run``; each timing
is repeated and the median reported (K = 10: batched 5x, per pair 3x; K = 50: batched 3x, per
pair once). If the per-pair loop at K = 50 would take longer than ``--per-pair-budget`` seconds
(estimated from the K = 10 loop), a fixed random subset of ordered pairs (all repeats of each;
the first pairs of a permutation drawn with seed 0) is timed and the time extrapolated linearly
to all pairs; the script says so. ``--full`` times every pair.

Run from the repository root:

    .venv/bin/python scripts/transition_batching.py

It prints a Markdown table and writes it, with the command, date, torch version and ``nproc``,
to ``scripts/results/transition_batching.md``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from tabulate import tabulate

from motifbench import metrics
from motifbench.baselines.finetune import Finetune
from motifbench.evaluator import EvalConfig, Evaluator
from motifbench.registry import STREAMS
from run_info import command_line, git_commit, nproc  # scripts/ is on sys.path when a script runs

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "scripts" / "results" / "transition_batching.md"
STREAM_NAMES = ("smooth10-v1", "smooth50-v1")
SEED = 0
RTOL, ATOL = 1e-4, 1e-6
# (batched repetitions, per-pair repetitions) by K; the median of the repetitions is reported.
REPEATS = {10: (5, 3), 50: (3, 1)}
DEFAULT_REPEATS = (3, 1)


class CallCounter:
    """Wraps a callable and counts its calls."""

    def __init__(self, fn: Callable[..., Any]):
        self.fn, self.calls = fn, 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.fn(*args, **kwargs)


def per_pair_transitions(evaluator: Evaluator, ends: torch.Tensor, n_prep: int, rows: np.ndarray | None) -> np.ndarray:
    """(K, K, repeats) nmse like ``Evaluator.transitions``, but one ``evaluator.produce`` call (one
    batch-1 ``generate`` call, with the evaluator's checks) per row, i.e. per ordered pair and repeat;
    only ``rows`` (indices into the row order of ``transitions``) if given, the others stay NaN."""
    K, repeats = evaluator.info.n_motifs, evaluator.config.transition_repeats
    a, b, start = evaluator.transition_starts(ends)
    nmse = np.full((K, K, repeats), np.nan)
    for i in range(len(a)) if rows is None else rows:
        outputs, _ = evaluator.produce(b[i : i + 1], start[i : i + 1], n_prep)
        nmse[a[i], b[i], i % repeats] = metrics.nmse(outputs[0], evaluator.targets[b[i]])
    return nmse


def subset_rows(K: int, repeats: int, n_pairs: int) -> np.ndarray:
    """Rows of the first ``n_pairs`` ordered pairs of a fixed permutation (seed 0), all repeats of each."""
    pairs = np.sort(np.random.default_rng(0).permutation(K * (K - 1))[:n_pairs])
    return (pairs[:, None] * repeats + np.arange(repeats)[None, :]).ravel()


def timed(fn: Callable[[], Any], counter: CallCounter) -> tuple[float, int, Any]:
    counter.calls = 0
    tic = time.perf_counter()
    result = fn()
    return time.perf_counter() - tic, counter.calls, result


def bench_stream(name: str, args: argparse.Namespace, per_call_estimate: float | None) -> dict[str, Any]:
    stream = STREAMS[name].build(SEED)
    method = Finetune()
    evaluator = Evaluator(method, stream, SEED, EvalConfig())
    method.setup(evaluator.info, seed=SEED)  # untrained: generate costs the same whatever the weights
    counter = CallCounter(method.generate)
    method.generate = counter  # the evaluator calls self.method.generate, so it goes through the counter
    K, repeats, n_prep = evaluator.info.n_motifs, evaluator.config.transition_repeats, evaluator.n_prep
    n_rows = K * (K - 1) * repeats
    batched_reps, per_pair_reps = REPEATS.get(K, DEFAULT_REPEATS)

    _, ends = evaluator.produce(np.arange(K), method.rest_state(K), n_prep)

    # Which rows the per-pair loop runs: all, or a fixed subset when the whole loop would be too long.
    rows = None
    if not args.full and per_call_estimate is not None and per_call_estimate * n_rows > args.per_pair_budget:
        n_pairs = max(1, min(K * (K - 1), int(args.per_pair_budget / (per_call_estimate * repeats))))
        rows = subset_rows(K, repeats, n_pairs)
        print(
            f"  {name}: the per-pair loop would take about {per_call_estimate * n_rows:.0f} s "
            f"(> --per-pair-budget {args.per_pair_budget:.0f} s); timing a fixed random subset of "
            f"{n_pairs} of {K * (K - 1)} ordered pairs ({len(rows)} of {n_rows} calls) and extrapolating linearly",
            flush=True,
        )

    # Warm-up (not timed): one batched test and a few per-pair calls.
    print(f"  {name}: warm-up", flush=True)
    evaluator.transitions(ends, n_prep)
    per_pair_transitions(evaluator, ends, n_prep, np.arange(min(5, n_rows)))

    batched_times, batched_calls, reference = [], None, None
    for rep in range(batched_reps):
        seconds, calls, nmse = timed(lambda: evaluator.transitions(ends, n_prep), counter)
        batched_times.append(seconds)
        print(f"  {name}: batched    rep {rep + 1}/{batched_reps}: {seconds:8.3f} s, {calls} generate calls", flush=True)
        if reference is None:
            reference, batched_calls = nmse, calls
        elif calls != batched_calls or not np.array_equal(nmse, reference, equal_nan=True):
            raise SystemExit(f"FAIL {name}: the batched transition test is not reproducible between repetitions")

    per_pair_times, per_pair_calls, mismatch = [], None, 0.0
    for rep in range(per_pair_reps):
        seconds, calls, nmse = timed(lambda: per_pair_transitions(evaluator, ends, n_prep, rows), counter)
        per_pair_times.append(seconds)
        print(f"  {name}: per pair   rep {rep + 1}/{per_pair_reps}: {seconds:8.3f} s, {calls} generate calls", flush=True)
        per_pair_calls = calls
        checked = ~np.isnan(nmse)
        expected_checked = np.zeros(n_rows, dtype=bool)
        expected_checked[np.arange(n_rows) if rows is None else rows] = True
        off_diagonal = ~np.eye(K, dtype=bool)
        if not np.array_equal(checked[off_diagonal].ravel(), expected_checked) or checked[~off_diagonal].any():
            raise SystemExit(f"FAIL {name}: the per-pair loop filled other entries than it should")
        if not np.isnan(reference[~off_diagonal]).all() or np.isnan(reference[off_diagonal]).any():
            raise SystemExit(f"FAIL {name}: the batched nmse has NaN where it should not (or none on a == b)")
        if not np.allclose(nmse[checked], reference[checked], rtol=RTOL, atol=ATOL):
            worst = np.max(np.abs(nmse[checked] - reference[checked]) / np.maximum(np.abs(reference[checked]), ATOL))
            raise SystemExit(
                f"FAIL {name}: batched and per-pair nmse differ (largest relative difference {worst:.3g}, rtol {RTOL})"
            )
        mismatch = max(mismatch, float(np.max(np.abs(nmse[checked] - reference[checked]) / np.abs(reference[checked]))))

    timed_calls = n_rows if rows is None else len(rows)
    per_pair_measured = statistics.median(per_pair_times)
    per_pair_seconds = per_pair_measured * n_rows / timed_calls
    batched_seconds = statistics.median(batched_times)
    return {
        "stream": name,
        "K": K,
        "n_rows": n_rows,
        "repeats": repeats,
        "n_prep": n_prep,
        "n_steps": sorted(set(evaluator.info.motif_steps)),
        "batch_limit": evaluator.config.batch_limit,
        "batched_calls": batched_calls,
        "per_pair_calls": per_pair_calls,
        "timed_calls": timed_calls,
        "extrapolated": rows is not None,
        "batched_times": batched_times,
        "per_pair_times": per_pair_times,
        "batched_s": batched_seconds,
        "per_pair_s": per_pair_seconds,
        "per_call_s": per_pair_measured / timed_calls,
        "speedup": per_pair_seconds / batched_seconds,
        "max_rel_diff": mismatch,
    }


def table(results: list[dict[str, Any]]) -> str:
    rows = []
    for r in results:
        calls = f"{r['n_rows']}" if not r["extrapolated"] else f"{r['n_rows']} (timed {r['timed_calls']})"
        per_pair = f"{r['per_pair_s']:.2f}" + (" (extrapolated)" if r["extrapolated"] else "")
        rows.append(
            [r["stream"], r["K"], r["n_rows"], r["batched_calls"], calls, f"{r['batched_s']:.3f}", per_pair, f"{r['speedup']:.1f}x"]
        )
    headers = [
        "stream",
        "K",
        "transitions (K(K-1) x repeats)",
        "generate calls, batched",
        "generate calls, per pair",
        "batched s",
        "per-pair s",
        "speed-up (per-pair / batched)",
    ]
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)








def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--per-pair-budget",
        type=float,
        default=180.0,
        help="seconds the per-pair loop at K = 50 may take; beyond it a fixed subset of pairs is timed (default 180)",
    )
    parser.add_argument("--full", action="store_true", help="time the per-pair loop over every pair, however long")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1, as motifbench run)")
    parser.add_argument("--out", type=Path, default=RESULT, help=f"Markdown file to write (default {RESULT.relative_to(ROOT)})")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    started = datetime.datetime.now().astimezone()
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(f"torch {torch.__version__}, {torch.get_num_threads()} torch threads, nproc {nproc()}", flush=True)
    results: list[dict[str, Any]] = []
    per_call_estimate = None
    for name in STREAM_NAMES:
        print(f"{name}:", flush=True)
        result = bench_stream(name, args, per_call_estimate)
        results.append(result)
        per_call_estimate = result["per_call_s"]
    load_after = os.getloadavg() if hasattr(os, "getloadavg") else None
    total = (datetime.datetime.now().astimezone() - started).total_seconds()

    text = table(results)
    print()
    print(text)

    notes = []
    for r in results:
        notes.append(
            f"- `{r['stream']}`: n_prep {r['n_prep']} + n_steps {', '.join(map(str, r['n_steps']))} Euler steps per row, "
            f"batch_limit {r['batch_limit']}; batched times {', '.join(f'{t:.3f}' for t in r['batched_times'])} s "
            f"(median {r['batched_s']:.3f}); per-pair times {', '.join(f'{t:.2f}' for t in r['per_pair_times'])} s "
            f"for {r['timed_calls']} calls ({1000 * r['per_call_s']:.1f} ms per call); "
            f"largest relative nmse difference batched vs per pair {r['max_rel_diff']:.2g} (rtol {RTOL:g})."
        )
        if r["extrapolated"]:
            notes.append(
                f"  The per-pair loop was timed on a fixed random subset of {r['timed_calls'] // r['repeats']} ordered "
                f"pairs (all {r['repeats']} repeats each, {r['timed_calls']} of {r['n_rows']} calls) and extrapolated linearly to all "
                f"{r['n_rows']} (every call has the same batch size and length, so the cost per call is constant)."
            )
    load = (
        f"load average (1, 5, 15 min) {', '.join(f'{x:.2f}' for x in load_before)} at the start, "
        f"{', '.join(f'{x:.2f}' for x in load_after)} at the end"
        if load_before and load_after
        else "load average unknown"
    )
    document = "\n".join(
        [
            "# Batched transition test vs one generate call per pair",
            "",
            "Written by `scripts/transition_batching.py`; do not edit by hand.",
            "",
            f"- command: `{command_line()}` (from the repository root), at commit {git_commit()}",
            f"- date: {started.isoformat(timespec='seconds')}; the whole script took {total:.0f} s",
            f"- torch {torch.__version__} ({torch.get_num_threads()} threads, as `motifbench run` by default), numpy {np.__version__}, "
            f"Python {platform.python_version()}, device cpu",
            f"- nproc: {nproc()}; {load}",
            "",
            "Method: `finetune` after `setup(info, seed=0)`, untrained. The cost of `generate` (Euler steps of a "
            "dense rate RNN) depends on the batch size, network size and number of steps, not on the weights, so "
            "an untrained network times like a trained one. Evaluator seed 0, default `EvalConfig` (3 repeats per "
            "ordered pair, transition noise 0.05, prep 10 tau). Batched = `Evaluator.transitions(ends, n_prep)`; "
            "per pair = one `method.generate` call with a batch of 1 per ordered pair and repeat, from the same "
            "perturbed start state, computing the same nmse (checked with `np.allclose`, rtol 1e-4). Times are "
            "wall-clock medians of the repetitions listed below.",
            "",
            text,
            "",
            *notes,
            "",
        ]
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(document)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
