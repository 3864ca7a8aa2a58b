"""Graceful degradation (Jarne & Laje) and initialisation (Park et al.), from committed sweeps.

For every sweep spec in a folder (``leaderboard/sweeps/*.json``, made by ``motifbench sweep``),
one row per (method, swept value), over the seeds whose record exists: final_r2 and plasticity
(mean ± s.e.m.), Adam iterations per learned motif (``diagnostics.training``; "-" for methods
trained otherwise), and for each damage mode the drop of final_r2 from no damage to each damaged
fraction (``eval.damage_fractions``: 0.05/0.1/0.2 by default), mean over seeds. A larger drop
hurts more, and a drop that grows slowly with the fraction is graceful; the mode with the
largest mean drop at the largest fraction over a sweep's rows is named under its table.

    .venv/bin/python scripts/degradation.py [--sweeps leaderboard/sweeps] [--results leaderboard/sweeps/results]
        [--out scripts/results/degradation.md]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
from tabulate import tabulate

from board_cost import iterations, training_entries  # scripts/ is on sys.path when a script runs
from motifbench.evaluator import damage_curve
from motifbench.method import DAMAGE_MODES
from motifbench.results import RecordError, read_record
from motifbench.sweep import SweepSpec, committed_sweeps


def mean_sem(values: list[float]) -> str:
    if not values:
        return "-"
    sem = np.std(values, ddof=1) / np.sqrt(len(values)) if len(values) > 1 else 0.0
    return f"{np.mean(values):.3f} ± {sem:.3f}"


def damage_drops(record: dict[str, Any], mode: str) -> list[float] | None:
    """final_r2 with nothing removed minus final_r2 at each damaged fraction, by increasing
    fraction (None: the record has no curve of ``mode``)."""
    curve = record["curves"].get(damage_curve(mode))
    if not curve:
        return None
    intact = curve["y"][curve["x"].index(0.0)]
    return [intact - y for x, y in sorted(zip(curve["x"], curve["y"])) if x > 0]


def sweep_rows(spec: SweepSpec, results: Path) -> tuple[list[dict[str, str]], dict[str, list[float]]]:
    """The table rows of one sweep, and every damage drop by mode."""
    rows, drops = [], {mode: [] for mode in DAMAGE_MODES}
    for method in spec.methods:
        for value in spec.values:
            found = [read_record(results / path, located=True) for path in spec.records[method][value]
                     if (results / path).exists()]
            if not found:
                continue
            trained = [r for r in found if training_entries(r)]
            row = {"method": method, spec.key: value, "seeds": ",".join(str(r["seed"]) for r in found),
                   "final_r2": mean_sem([r["metrics"]["final_r2"] for r in found]),
                   "plasticity": mean_sem([r["metrics"]["plasticity"] for r in found]),
                   "iterations per motif": (f"{np.mean([iterations(r) / len(training_entries(r)) for r in trained]):.0f}"
                                            if trained else "-")}
            for mode in DAMAGE_MODES:
                per_seed = [d for d in (damage_drops(r, mode) for r in found) if d is not None]
                means = np.mean(per_seed, axis=0) if per_seed else []
                drops[mode] += [d[-1] for d in per_seed]
                row[f"drop {mode}"] = "/".join(f"{d:.2f}" for d in means) or "-"
            rows.append(row)
    return rows, drops


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweeps", type=Path, default=Path("leaderboard/sweeps"))
    parser.add_argument("--results", type=Path, default=Path("leaderboard/sweeps/results"))
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "degradation.md")
    args = parser.parse_args(argv)
    try:
        specs = committed_sweeps(args.sweeps)
        if not specs:
            raise RecordError(f"no sweep specs in {args.sweeps}")
        tables = [(spec, *sweep_rows(spec, args.results)) for spec in specs]
        if not any(rows for _, rows, _ in tables):
            raise RecordError(f"none of the sweeps' records is under {args.results}")
    except RecordError as error:
        print(f"degradation: {error}", file=sys.stderr)
        return 2
    lines = ["# Degradation and initialisation, from the committed sweeps", "",
             f"Command: `.venv/bin/python scripts/degradation.py --sweeps {args.sweeps} --results {args.results}`. "
             "Scores: mean ± s.e.m. over seeds; iterations: Adam steps per learned motif; drop MODE: final_r2 with "
             "nothing removed minus final_r2 with each fraction removed by that damage mode (0.05/0.1/0.2 unless "
             "the records say otherwise), mean over seeds; final_r2 is clipped at -1, so a drop is at most 2.",
             ""]
    for spec, rows, drops in tables:
        fixed = f" with {', '.join(spec.sets)}" if spec.sets else ""
        table = tabulate(rows, headers="keys", tablefmt="github") if rows else "No records found."
        lines += [f"## {spec.key} on {spec.stream}{fixed}", "", table, ""]
        means = {mode: float(np.mean(values)) for mode, values in drops.items() if values}
        if means:
            worst = max(means, key=means.get)
            lines += [f"Mean drop at the largest fraction over the rows: "
                      f"{', '.join(f'{m} {d:.3f}' for m, d in means.items())}; hurts most: {worst}.", ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
