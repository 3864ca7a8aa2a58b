"""The local learning rules beside BPTT (``finetune``), from a folder of board records.

For each stream and each of ``finetune``, ``rflo``, ``eprop``, ``node_perturbation`` and
``weight_perturbation`` (default settings, every seed found): plasticity, forgetting and
transition_success (mean ± s.e.m. over seeds), updates per motif (training iterations,
``diagnostics.training``, averaged over the learned motifs) and milliseconds per update (the
seconds of ``learn``, ``timings.learn``, over the iterations), with its ratio to ``finetune``'s.
The board's runs ran side by side in one command (``-j 2``, one thread each), so the times are
comparable with each other, not with another machine's.

    .venv/bin/python scripts/local_rules_table.py [leaderboard/results] [--out scripts/results/local_rules.md]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from tabulate import tabulate

from board_cost import iterations, records  # scripts/ is on sys.path when a script runs
from motifbench.results import RecordError

METHODS = ("finetune", "rflo", "eprop", "node_perturbation", "weight_perturbation")
SCORES = ("plasticity", "forgetting", "transition_success")


def mean_sem(values: list[float]) -> str:
    sem = np.std(values, ddof=1) / np.sqrt(len(values)) if len(values) > 1 else 0.0
    return f"{np.mean(values):.3f} ± {sem:.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, nargs="?", default=Path("leaderboard/results"))
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "local_rules.md")
    args = parser.parse_args(argv)
    try:
        runs = records(args.results)
    except RecordError as error:
        print(f"local_rules_table: {error}", file=sys.stderr)
        return 2
    lines = ["# Local learning rules beside BPTT (finetune)", "",
             f"Command: `.venv/bin/python scripts/local_rules_table.py {args.results}`, from the board's records "
             "(default settings). Scores: mean ± s.e.m. over seeds; updates: training iterations per learned motif; "
             "ms/update: seconds of learn over iterations, and its ratio to finetune's.", ""]
    for stream in sorted({stream for stream, _, _ in runs}):
        rows, finetune_ms = [], None
        for method in METHODS:
            found = [record for (s, m, _), record in sorted(runs.items()) if s == stream and m == method]
            if not found:
                continue
            updates = sum(iterations(record) for record in found)
            motifs = sum(len(record["diagnostics"]["training"]) for record in found)
            ms = 1000 * sum(sum(record["timings"]["learn"]) for record in found) / updates
            finetune_ms = ms if method == "finetune" else finetune_ms
            ratio = f"{ms / finetune_ms:.2f}" if finetune_ms else "-"
            seeds = ",".join(str(record["seed"]) for record in found)
            rows.append([method, seeds, *(mean_sem([record["metrics"][score] for record in found]) for score in SCORES),
                         f"{updates / motifs:.0f}", f"{ms:.1f}", ratio])
        if rows:
            lines += [f"## {stream}", "", tabulate(rows, headers=["method", "seeds", *SCORES, "updates per motif",
                                                                 "ms/update", "vs finetune"], tablefmt="github"), ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
