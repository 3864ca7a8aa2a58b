"""How long learning one motif takes with ``thalamocortical`` against ``ann_additive``.

Both methods (default hyperparameters) get ``method.setup(evaluator.info, seed)``, with
``evaluator = Evaluator(method, stream, seed)``. Each setup (thalamocortical trains its shared
preparatory loop, ann_additive pre-trains its shared network) is a one-off cost, timed alone in
its own column. The motifs are then learned interleaved (motif k with thalamocortical, then with
ann_additive, then k + 1) so that machine load hits both alike; each ``learn`` is timed with
``time.perf_counter`` (wall) and ``time.process_time`` (CPU). ``--threads`` caps torch's threads
and numpy's and scipy's BLAS threads (thalamocortical learns with scipy), as under
``motifbench run``. The last column, ``metrics.final_r2`` of the learned motifs produced from rest by
``Evaluator.produce``, shows that both learned. Ratio: ann_additive / thalamocortical mean learn time.

Run from the repository root (``--motifs N``: only the first N motifs):

    .venv/bin/python scripts/learn_speed.py --out scripts/results/learn_speed.md
"""

from __future__ import annotations

import argparse
import datetime
import os
import shlex
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tabulate import tabulate
from threadpoolctl import threadpool_limits

from motifbench import metrics
from motifbench.evaluator import Evaluator
from motifbench.registry import get_method, get_stream

METHODS = ("thalamocortical", "ann_additive")


def learned_r2(evaluator: Evaluator, n: int) -> float:
    """final_r2 over motifs 0..n-1, each produced from rest with the evaluator's preparation."""
    ids = np.arange(n)
    outputs, _ = evaluator.produce(ids, evaluator.method.rest_state(n), evaluator.n_prep)
    return metrics.final_r2(np.array([[metrics.r2(y, evaluator.targets[i]) for y, i in zip(outputs, ids)]]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stream", default="smooth10-v1", help="stream name (default smooth10-v1)")
    parser.add_argument("--seed", type=int, default=0, help="stream and method seed (default 0)")
    parser.add_argument("--motifs", type=int, default=None, help="learn only the first N motifs (default all)")
    parser.add_argument("--threads", type=int, default=1, help="torch and BLAS threads (default 1, as `motifbench run`)")
    parser.add_argument("--out", type=Path, default=None, help="also write the table to this Markdown file")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    limits = threadpool_limits(args.threads)  # numpy's and scipy's BLAS, for the whole run
    started = datetime.datetime.now().astimezone()

    stream = get_stream(args.stream).build(args.seed)
    motifs = stream.motifs[: args.motifs]
    if args.motifs is not None and args.motifs < 1:
        parser.error("--motifs must be at least 1")
    evaluators = {name: Evaluator(get_method(name)(), stream, args.seed) for name in METHODS}
    setup_s: dict[str, float] = {}
    for name, evaluator in evaluators.items():
        tic = time.perf_counter()
        evaluator.method.setup(evaluator.info, args.seed)
        setup_s[name] = time.perf_counter() - tic
        print(f"{name}: setup {setup_s[name]:.2f} s", flush=True)

    wall: dict[str, list[float]] = {name: [] for name in METHODS}
    cpu: dict[str, list[float]] = {name: [] for name in METHODS}
    for k, motif in enumerate(motifs):
        for name, evaluator in evaluators.items():  # interleaved: both methods learn motif k in turn
            tic, cpu_tic = time.perf_counter(), time.process_time()
            evaluator.method.learn(motif)
            wall[name].append(time.perf_counter() - tic)
            cpu[name].append(time.process_time() - cpu_tic)
            print(f"motif {k + 1}/{len(motifs)}: {name} learn {wall[name][-1]:.2f} s", flush=True)

    rows = [
        [name, f"{setup_s[name]:.2f}", f"{statistics.fmean(wall[name]):.3f}", f"{min(wall[name]):.3f}",
         f"{max(wall[name]):.3f}", f"{sum(wall[name]):.2f}", f"{statistics.fmean(cpu[name]):.3f}",
         f"{learned_r2(evaluator, len(motifs)):.3f}"]
        for name, evaluator in evaluators.items()
    ]
    headers = ["method", "setup s", "mean learn s / motif", "min learn s", "max learn s", "total learn s",
               "mean learn CPU s / motif", "final_r2 of learned motifs"]
    table = tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)
    ratio = statistics.fmean(wall["ann_additive"]) / statistics.fmean(wall["thalamocortical"])
    summary = (f"Learning a motif with thalamocortical is {'faster' if ratio > 1 else 'NOT faster'}: mean learn time "
               f"ann_additive / thalamocortical = **{ratio:.2f}x**.")
    print(f"\n{table}\n\n{summary}")
    if args.out is not None:
        command = shlex.join([".venv/bin/python", "scripts/learn_speed.py", *(sys.argv[1:] if argv is None else argv)])
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        header = [
            "# Learning speed: thalamocortical vs ann_additive\n",
            "Written by `scripts/learn_speed.py`; do not edit by hand.\n",
            f"- command: `{command}` (from the repository root)",
            f"- date: {started.isoformat(timespec='seconds')}; torch {torch.__version__}; threads {args.threads}; nproc {os.cpu_count()}; load average at the end {load}",
            f"- stream `{args.stream}` seed {args.seed}: {len(motifs)} of {len(stream.motifs)} motifs, learned "
            + "interleaved; default hyperparameters; wall s but for the CPU column; setup is not in the learn times\n",
        ]
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join([*header, table, "", summary, ""]))
        print(f"written to {args.out}")
    limits.restore_original_limits()


if __name__ == "__main__":
    main()
