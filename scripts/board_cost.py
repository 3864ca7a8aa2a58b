"""What a folder of run records cost: core-hours and training iterations per stream and method.

For each (stream, method) of ``RESULTS/STREAM/METHOD/seedN.json`` (default settings only, as
the leaderboard reads them) it sums, over the seeds:

- core-hours: the records' ``timings.total`` (wall seconds from the method's setup to the end
  of the evaluation; runs use one thread, so wall seconds are core-seconds) / 3600;
- iterations: the ``iterations`` of every entry of ``diagnostics.training`` (the SGD methods'
  training log; 0 for the others), and how many of those entries ran to the method's
  ``max_iterations``.

With ``--against OLD`` it prints OLD's core-hours beside them and the ratio, per method and in
total, over the (stream, method, seed) runs that both folders have, e.g. a regenerated board
against the committed one:

    .venv/bin/python scripts/board_cost.py NEW_RESULTS --against leaderboard/results

Run from the repository root. A record that cannot be read is named and exits 2 (nothing is
written: the table is printed only).
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from tabulate import tabulate

from motifbench.results import RecordError, default_records, read_record


def training_entries(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The record's training log, ``diagnostics.training`` (one entry per training phase)."""
    diagnostics = record.get("diagnostics")
    entries = diagnostics.get("training") if isinstance(diagnostics, dict) else None
    return [entry for entry in entries or [] if isinstance(entry, dict)]


def core_hours(record: dict[str, Any]) -> float:
    return float(record["timings"]["total"]) / 3600


def iterations(record: dict[str, Any]) -> int:
    return sum(int(entry.get("iterations") or 0) for entry in training_entries(record))


def at_cap(record: dict[str, Any]) -> tuple[int, int]:
    """(entries whose iterations equal the method's ``max_iterations``, entries); a pre-training
    entry, capped by ``pretrain_iterations`` instead, is never at cap."""
    cap = record["method"].get("hyperparameters", {}).get("max_iterations")
    entries = training_entries(record)
    return sum(1 for entry in entries if cap is not None and entry.get("iterations") == cap), len(entries)


def records(results: Path) -> dict[tuple[str, str, int], dict[str, Any]]:
    """Every default-settings record under ``results``, by (stream, method, seed)."""
    found = {}
    for method_folder in sorted(path for path in results.glob("*/*") if path.is_dir()):
        for path in default_records(method_folder):
            record = read_record(path)
            found[(record["stream"]["name"], record["method"]["name"], record["seed"])] = record
    return found


def costs(runs: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, float]]:
    """Per (stream, method) of ``runs`` (records): runs, core_hours, iterations and at_cap."""
    table: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: dict(runs=0, core_hours=0.0, iterations=0,
                                                                             at_cap=0))
    for record in runs:
        row = table[(record["stream"]["name"], record["method"]["name"])]
        row["runs"] += 1
        row["core_hours"] += core_hours(record)
        row["iterations"] += iterations(record)
        row["at_cap"] += at_cap(record)[0]
    return dict(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="RESULTS/STREAM/METHOD/seedN.json")
    parser.add_argument("--against", type=Path, help="another results folder, e.g. leaderboard/results")
    args = parser.parse_args(argv)
    for folder in (args.results, args.against):
        if folder is not None and not folder.is_dir():
            print(f"board_cost: {folder} is not a folder", file=sys.stderr)
            return 2
    try:
        new_runs = records(args.results)
        old_runs = records(args.against) if args.against else {}
    except RecordError as error:
        print(f"board_cost: {error}", file=sys.stderr)
        return 2
    both = new_runs.keys() & old_runs.keys() if args.against else new_runs.keys()
    new = costs([new_runs[key] for key in sorted(both)])
    old = costs([old_runs[key] for key in sorted(both)]) if args.against else {}
    if not new:
        print(f"board_cost: no records under {args.results}" + (" that OLD has too" if args.against else ""),
              file=sys.stderr)
        return 2
    rows, total_new, total_old = [], 0.0, 0.0
    for key in sorted(new):
        row = new[key]
        line = [*key, row["runs"], f"{row['core_hours']:.3f}", row["iterations"], row["at_cap"]]
        if args.against:
            before = old.get(key, {}).get("core_hours")
            line += ["-", "-"] if before is None else [f"{before:.3f}", f"{row['core_hours'] / before:.2f}x"]
            total_old += before or 0.0
        total_new += row["core_hours"]
        rows.append(line)
    headers = ["stream", "method", "runs", "core-h", "iterations", "at cap"]
    total = ["all", "", sum(row["runs"] for row in new.values()), f"{total_new:.3f}",
             sum(row["iterations"] for row in new.values()), sum(row["at_cap"] for row in new.values())]
    if args.against:
        headers += ["core-h against", "ratio"]
        total += [f"{total_old:.3f}", f"{total_new / total_old:.2f}x" if total_old else "-"]
    print(tabulate([*rows, total], headers=headers, tablefmt="github"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
