"""Transition success against preparation time, per stream and method, from run records.

Every record holds ``curves["transition_success_vs_prep_tau"]``: the fraction of transitions
a -> b in which b is produced when the network prepares for ``x`` tau before b starts (the
evaluator's ``prep_sweep_tau``). This script reads the default-setting records
``RESULTS/STREAM/METHOD/seedN.json`` (records with overrides, ``seedN-<hash>.json``, are
skipped) and prints one Markdown table: a row per (stream, method) in the order given, with
the seeds read, ``final_r2`` and the success at each preparation time, as mean ± s.e.m. over
seeds.

Run after the runs it reads, from the repository root:

    .venv/bin/motifbench run --stream smooth10-v1 --method thalamocortical,ann_additive,ann_prep \\
        --seeds 0,1,2 --out results
    .venv/bin/motifbench run --stream steps10-v1 --method thalamocortical,ann_additive,ann_prep \\
        --seeds 0,1,2 --out results
    .venv/bin/python benchmarks/prep_sweep.py --results results --streams smooth10-v1,steps10-v1 \\
        --methods thalamocortical,ann_additive,ann_prep
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
from tabulate import tabulate

CURVE = "transition_success_vs_prep_tau"
RECORD_NAME = re.compile(r"seed(\d+)\.json")


def mean_sem(values: list[float | None], digits: int) -> str:
    """'mean ± sem' over seeds (sem 0 for one seed); null values (NaN in the run) stay NaN."""
    array = np.array([np.nan if v is None else v for v in values], dtype=float)
    sem = array.std(ddof=1) / np.sqrt(len(array)) if len(array) > 1 else 0.0
    return f"{array.mean():.{digits}f} ± {sem:.{digits}f}"


def read_records(folder: Path) -> dict[int, dict[str, Any]]:
    """Seed -> record, for the files named exactly seedN.json in ``folder``."""
    matches = [(RECORD_NAME.fullmatch(path.name), path) for path in folder.glob("seed*.json")]
    records = {int(m.group(1)): json.loads(path.read_text()) for m, path in matches if m}
    if not records:
        raise SystemExit(f"error: no records seedN.json under {folder}")
    return dict(sorted(records.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("results"), help="results folder (default: results)")
    parser.add_argument("--streams", default="smooth10-v1,steps10-v1", help="comma-separated stream names")
    parser.add_argument("--methods", default="thalamocortical,ann_additive,ann_prep", help="comma-separated methods")
    args = parser.parse_args()
    streams = [name for name in args.streams.split(",") if name]
    methods = [name for name in args.methods.split(",") if name]
    if not streams or not methods:
        raise SystemExit("error: --streams and --methods need at least one name each")

    x: list[float] | None = None  # prep times of the first record read; every other must agree
    x_source = ""
    rows = []
    for stream in streams:
        for method in methods:
            folder = args.results / stream / method
            records = read_records(folder)
            curves = [record["curves"][CURVE] for record in records.values()]
            for seed, curve in zip(records, curves):
                if x is None:
                    x, x_source = curve["x"], f"{folder}/seed{seed}.json"
                elif curve["x"] != x:
                    here = f"{folder}/seed{seed}.json"
                    raise SystemExit(f"error: prep times differ: {x} in {x_source}, {curve['x']} in {here}")
            seeds = ",".join(map(str, records))
            final_r2 = mean_sem([record["metrics"]["final_r2"] for record in records.values()], 3)
            success = [mean_sem([curve["y"][i] for curve in curves], 2) for i in range(len(x))]
            rows.append([stream, method, seeds, final_r2, *success])
    headers = ["stream", "method", "seeds", "final_r2", *(f"{prep:g} tau" for prep in x)]
    print(tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True))


if __name__ == "__main__":
    main()
