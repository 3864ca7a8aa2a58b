"""Weight against node perturbation as a motif gets longer (Zuge, Klos & Memmesheimer 2023,
Phys. Rev. X 13, 021006): the updates each needs to reach training nmse 0.1.

The paper's claim: node perturbation's (NP) estimate is noisier the more time steps a trial has
(its perturbation has N x T dimensions), weight perturbation's (WP) is not (N x N weights, of
which the task's effective input dimension matters), so WP matches or beats NP once that
dimension is below the number of steps. Here the input is the cue and the go channel, 2
dimensions, against motifs of 25 to 200 steps.

Each run learns one smooth 2-D motif of T steps (``streams.smooth_trajectory``, seeded) with
motifbench's ``node_perturbation`` or ``weight_perturbation`` at its defaults (N = 128, sigma
1e-3; NP 64 trials an update and Adam at 3e-4, WP 16 and 1e-3) from random initial states
through the 10-tau preparatory period, and stops once the mean training nmse of the last 5
updates is at most 0.1 (no plateau test), or at the cap.

    .venv/bin/python scripts/perturbation_scaling.py [--steps 25,50,100,200] [--seeds 0,1,2] [--cap 4000] [-j 2]
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

from motifbench.method import StreamInfo
from motifbench.methods.perturbation import NodePerturbation, WeightPerturbation
from motifbench.streams import DT, PREP_TAU, TAU, Motif, smooth_trajectory

RULES = {"node_perturbation": NodePerturbation, "weight_perturbation": WeightPerturbation}
TARGET_NMSE, D_OUT = 0.1, 2


def updates_to_target(rule: str, n_steps: int, seed: int, cap: int) -> tuple[int, bool]:
    """Updates ``rule`` took on the seed's motif of ``n_steps``, and whether it reached the target."""
    torch.set_num_threads(1)
    target = smooth_trajectory(np.random.default_rng(seed), n_steps, D_OUT)
    motif = Motif(0, target)
    method = RULES[rule](fit_nmse=TARGET_NMSE, patience=5, plateau_window=0, max_iterations=cap)
    n_prep = int(round(PREP_TAU * TAU / DT))
    method.setup(StreamInfo(1, D_OUT, DT, TAU, (n_steps,), n_prep), seed)
    method.learn(motif)
    log = method.training_log[-1]
    return log["iterations"], log["stopped"] == "fit"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="25,50,100,200")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--cap", type=int, default=4000)
    parser.add_argument("-j", "--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "perturbation_scaling.md")
    args = parser.parse_args(argv)
    steps = [int(s) for s in args.steps.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    jobs = [(rule, n, seed) for n in steps for rule in RULES for seed in seeds]
    with ProcessPoolExecutor(args.jobs) as pool:
        outcomes = dict(zip(jobs, pool.map(updates_to_target, *zip(*jobs), [args.cap] * len(jobs))))
    batch = {rule: cls.Hyperparams().batch_size for rule, cls in RULES.items()}
    rows = []
    for n in steps:
        cells, medians = [], {}
        for rule in RULES:
            runs = [outcomes[(rule, n, seed)] for seed in seeds]
            medians[rule] = float(np.median([updates for updates, _ in runs]))
            shown = ", ".join(f"{updates}" + ("" if reached else "+") for updates, reached in runs)
            cells.append(f"{medians[rule]:.0f} ({shown})")
        ratio = medians["weight_perturbation"] / medians["node_perturbation"]
        trial_ratio = ratio * batch["weight_perturbation"] / batch["node_perturbation"]
        rows.append(f"| {n} | {' | '.join(cells)} | {ratio:.2f} | {trial_ratio:.2f} |")
    lines = [
        "# Weight against node perturbation as the motif gets longer",
        "",
        f"Command: `.venv/bin/python scripts/perturbation_scaling.py --steps {args.steps} --seeds {args.seeds} "
        f"--cap {args.cap}`.",
        f"Updates to reach training nmse {TARGET_NMSE} on one smooth {D_OUT}-D motif, median over seeds "
        f"{args.seeds} (each seed's count; + marks a run stopped at the cap of {args.cap} without reaching it), each "
        f"rule at its defaults: node perturbation {batch['node_perturbation']} trials an update, weight "
        f"perturbation {batch['weight_perturbation']}, each trial run clean and perturbed. WP / NP: the ratio of "
        "the medians, in updates and in trials. Input dimension: 2 (the cue and the go channel).",
        "",
        "| steps | node perturbation | weight perturbation | WP / NP updates | WP / NP trials |",
        "|---|---|---|---|---|",
        *rows,
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
