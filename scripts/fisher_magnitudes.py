"""Fisher magnitudes that motifbench's ``ewc`` and Avalanche's ``avalanche_ewc`` record.

Both record, per learned motif, ``diagnostics["fisher"][k]["mean_F_<param>"]``: the mean over a
weight matrix of the diagonal Fisher computed after motif k (``ewc``: per-trial Gauss-Newton;
``avalanche_ewc``: Avalanche's squared gradient of the mini-batch-mean loss). This script reads
the default-setting records (``seedN.json``) of a results folder and prints, per method and parameter, the mean over motifs and
seeds, and the smallest and largest per-motif value.

Run after the runs it reads, from the repository root:

    .venv/bin/motifbench run --stream smooth10-v1 --method ewc,avalanche_ewc --seeds 0,1,2 --out results
    .venv/bin/python scripts/fisher_magnitudes.py results/smooth10-v1
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from tabulate import tabulate

from motifbench.results import read_record
from motifbench.results import default_records

METHODS = ("ewc", "avalanche_ewc")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a results folder of one stream, e.g. results/smooth10-v1")
    args = parser.parse_args()
    rows = []
    for method in METHODS:
        records = default_records(args.folder / method)
        if not records:
            raise SystemExit(f"error: no records of {method} under {args.folder / method}")
        per_motif = [entry for path in records for entry in read_record(path)["diagnostics"]["fisher"]]
        for key in per_motif[0]:
            values = np.array([entry[key] for entry in per_motif])
            rows.append([method, key.removeprefix("mean_F_"), len(records), values.mean(), values.min(), values.max()])
    headers = ["method", "parameter", "records", "mean F", "min over motifs", "max over motifs"]
    print(tabulate(rows, headers=headers, tablefmt="github", floatfmt=".3g"))


if __name__ == "__main__":
    main()
