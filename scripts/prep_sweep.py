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
    .venv/bin/python scripts/prep_sweep.py --results results --streams smooth10-v1,steps10-v1 \\
        --methods thalamocortical,ann_additive,ann_prep
"""

from __future__ import annotations

import argparse
from pathlib import Path

from motifbench.tables import aggregate, as_text
from motifbench.results import default_records, read_record

CURVE = "transition_success_vs_prep_tau"
KEYS = ("stream", "method")


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

    rows, prep_times, first = [], None, ""
    for stream in streams:
        for method in methods:
            folder = args.results / stream / method
            paths = default_records(folder)
            if not paths:
                raise SystemExit(f"error: no records seedN.json under {folder}")
            for path in paths:
                record = read_record(path)
                curve = record["curves"][CURVE]
                if prep_times is None:
                    prep_times, first = curve["x"], path
                elif curve["x"] != prep_times:
                    raise SystemExit(f"error: prep times differ: {prep_times} in {first}, {curve['x']} in {path}")
                points = {f"{x:g} tau": y for x, y in zip(curve["x"], curve["y"])}
                rows.append({"stream": stream, "method": method, "seed": record["seed"],
                             "final_r2": record["metrics"]["final_r2"], **points})
    columns = ["final_r2", *(f"{x:g} tau" for x in prep_times)]
    print(as_text(aggregate(rows, columns, KEYS), columns, KEYS))


if __name__ == "__main__":
    main()
