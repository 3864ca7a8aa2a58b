"""Murray 2019's Fig. 2 task (eLife 8:e43299; the notebook RFLO_Example.ipynb): RFLO and BPTT
on the same network, with the gradients of motifbench's ``rflo`` and ``finetune`` methods.

The task, as in the notebook: N = 50 units, one output, tau = 10 steps, no input, every trial
100 steps (one period T) from the same initial state (all rates 0.1), target
sin(2 pi t/T) + 0.5 sin(4 pi t/T) + 0.25 sin(8 pi t/T), loss 0.5 mean((y - y*)^2), 10^4 trials,
plain gradient descent at the end of each trial, learning rates (input, recurrent, output) =
(0, 0.03, 0.03), initial W of gain 1.5, random feedback B ~ N(0, 1/n_out). The network is
motifbench's (``RateRNN``: the nonlinearity inside the recurrence, see ``methods/traces.py``),
and W_out starts N(0, 1/N) where the notebook draws 0.1 U(-1, 1)/sqrt(N).

    .venv/bin/python scripts/murray_fig2.py [--seeds 0,1,2] [--trials 10000] [--out scripts/results/murray_fig2.md]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import torch

from motifbench.baselines.finetune import Finetune
from motifbench.method import StreamInfo
from motifbench.methods.traces import RFLO

N, PERIOD, TAU_STEPS, LR = 50, 100, 10, 0.03
NOTEBOOK = {"rflo": 1.5e-4, "bptt": 2.3e-4}  # final 0.5 MSE after 10^4 trials, one seed


def murray_target() -> torch.Tensor:
    """y*(t) at t = 1 .. T, (1, T, 1)."""
    t = torch.arange(1, PERIOD + 1, dtype=torch.float64) / PERIOD
    y = torch.sin(2 * math.pi * t) + 0.5 * torch.sin(4 * math.pi * t) + 0.25 * torch.sin(8 * math.pi * t)
    return y.float().reshape(1, PERIOD, 1)


def from_rates_of_one_tenth(method_class: type) -> type:
    """``method_class`` whose trials start where the notebook's do: every rate 0.1."""

    class FixedStart(method_class):
        def random_states(self, batch: int) -> torch.Tensor:
            return torch.full((batch, self.hp.n_hidden), math.atanh(0.1))

    return FixedStart


def train(rule: str, seed: int, trials: int) -> list[float]:
    """The 0.5 MSE of every trial of ``rule`` ("rflo" or "bptt") from ``seed``."""
    method = from_rates_of_one_tenth(RFLO if rule == "rflo" else Finetune)(n_hidden=N, gain=1.5, init_state_std=0.0)
    method.setup(StreamInfo(1, 1, dt=1.0, tau=float(TAU_STEPS), motif_steps=(PERIOD,), n_prep=0), seed)
    model = method.model
    with torch.no_grad():
        model.W_in.zero_()  # no input, as in the notebook; W_in and b stay 0 (input learning rate 0)
        model.b.zero_()
        if rule == "rflo":
            method.feedback = torch.randn(1, N, generator=method.generator)  # B ~ N(0, 1/n_out)
    target = murray_target()
    weights = torch.full_like(target, 1 / (2 * PERIOD))  # loss = sum (y - y*)^2 / (2T) = 0.5 MSE
    ids = torch.zeros(1, dtype=torch.long)
    losses = []
    for _ in range(trials):
        model.zero_grad()
        losses.append(method.training_gradients(ids, target, weights))
        with torch.no_grad():
            for weight in (model.W, model.W_out):
                weight -= LR * weight.grad
    return losses


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "murray_fig2.md")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    seeds = [int(s) for s in args.seeds.split(",")]
    finals: dict[str, list[float]] = {"rflo": [], "bptt": []}
    rows = []
    for seed in seeds:
        for rule in finals:
            losses = train(rule, seed, args.trials)
            final = float(np.mean(losses[-100:]))
            finals[rule].append(final)
            rows.append(f"| {rule} | {seed} | {losses[0]:.3g} | {losses[len(losses) // 10]:.3g} | {final:.3g} |")
            print(rows[-1], file=sys.stderr)
    lines = [
        "# Murray 2019, Fig. 2 task: RFLO against BPTT on the same network",
        "",
        f"Command: `.venv/bin/python scripts/murray_fig2.py --seeds {args.seeds} --trials {args.trials}`.",
        f"0.5 MSE of the first trial, of trial {args.trials // 10 + 1}, and the mean of the last 100 "
        f"trials of {args.trials}.",
        "",
        "| rule | seed | first | at 10% | final |",
        "|---|---|---|---|---|",
        *rows,
        "",
        "| rule | final 0.5 MSE, median over seeds (range) | the notebook (one seed) |",
        "|---|---|---|",
        *(f"| {rule} | {np.median(v):.3g} ({min(v):.3g}-{max(v):.3g}) | {NOTEBOOK[rule]:.2g} |"
          for rule, v in finals.items()),
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
