"""Does ``torch.compile`` pay off for training the shared rate RNN? Its time per iteration and
its compile time, against motifbench's hand-written recurrence, side by side in one run.

What it measures, for one training iteration's forward and backward pass (N = 128, batch 16,
50 preparatory + 100 production steps, d_out 1, one thread, the sizes of a steps10-v1 motif):

(a) eager: ``RateRNN.run`` (the recurrence as one autograd node, ``_EulerRates``, with its
    hand-written backward), then the mean squared error and ``backward()``;
(b) compiled: the same Euler step written out, h <- (1 - a) h + a (tanh(h) W^T + d),
    y = W_out tanh(h), looped over the steps inside ``torch.compile`` (Inductor; its backward
    derived by AOTAutograd), then the same loss and ``backward()``.

Each variant runs in its own process: (b) twice, with an empty Inductor cache
(``TORCHINDUCTOR_CACHE_DIR``, a new temporary folder: the cold compile a run pays the first
time) and again with the cache that the first one left (the warm compile of every later run
on that machine). A process reports its first call (with the compile) and the best of
``--repeats`` rounds of ``--iterations`` iterations. The processes run one after another:
eager, compiled (cold), eager again, compiled (warm), so that a change of machine load shows
as a difference between the two eager rows.

Run from the repository root (about 3 minutes on a 2-core machine; Inductor needs a C++
compiler):

    .venv/bin/python scripts/compiled_step.py

Options: ``--iterations N`` (default 20), ``--repeats R`` (default 5), ``--out PATH``. The
table is printed and written, with the command, date, torch version and nproc, to
``scripts/results/compiled_step.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "compiled_step.md"
N_HIDDEN, BATCH, N_PREP, N_STEPS, ALPHA = 128, 16, 50, 100, 0.2


def measure(variant: str, iterations: int, repeats: int) -> dict[str, float]:
    """In this process: the first call's seconds and the best round's ms per iteration."""
    import torch

    from motifbench.baselines.rate_rnn import RateRNN

    torch.set_num_threads(1)
    generator = torch.Generator().manual_seed(0)
    model = RateRNN(N_HIDDEN, 1, 1, 1.2, ALPHA, generator)
    h0 = torch.randn(BATCH, N_HIDDEN, generator=generator)
    cue = torch.randn(BATCH, N_HIDDEN, generator=generator)
    target = torch.randn(BATCH, N_STEPS, 1, generator=generator)

    def written_out(h, W, prep_drive, go_drive, W_out):
        r, outputs = torch.tanh(h), []
        for t in range(N_PREP + N_STEPS):
            h = (1 - ALPHA) * h + ALPHA * (r @ W.T + (prep_drive if t < N_PREP else go_drive))
            r = torch.tanh(h)
            if t >= N_PREP:
                outputs.append(r @ W_out.T)
        return torch.stack(outputs, dim=1)

    if variant == "eager":
        def output():
            return model.run(h0, cue, N_PREP, N_STEPS)[0]
    else:
        compiled = torch.compile(written_out)

        def output():
            drive = cue + model.b
            return compiled(h0, model.W, drive, drive + model.W_in[:, -1], model.W_out)

    def iteration():
        model.zero_grad()
        ((output() - target) ** 2).mean().backward()

    tic = time.perf_counter()
    iteration()
    first = time.perf_counter() - tic
    best = float("inf")
    for _ in range(repeats):
        tic = time.perf_counter()
        for _ in range(iterations):
            iteration()
        best = min(best, (time.perf_counter() - tic) / iterations)
    return {"first_s": first, "ms_per_iteration": 1000 * best}


def run_worker(variant: str, cache: str, iterations: int, repeats: int) -> dict[str, float]:
    environment = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": cache}
    command = [sys.executable, __file__, "--worker", variant, "--iterations", str(iterations),
               "--repeats", str(repeats)]
    done = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{variant} worker failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--worker", choices=("eager", "compiled"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.iterations < 1 or args.repeats < 1:
        parser.error("--iterations and --repeats must be at least 1")
    if args.worker:
        print(json.dumps(measure(args.worker, args.iterations, args.repeats)))
        return
    with tempfile.TemporaryDirectory() as cache:
        rows = [
            ("eager (RateRNN.run, hand-written backward)", run_worker("eager", cache, args.iterations, args.repeats)),
            ("compiled, empty cache", run_worker("compiled", cache, args.iterations, args.repeats)),
            ("eager, again", run_worker("eager", cache, args.iterations, args.repeats)),
            ("compiled, warm cache", run_worker("compiled", cache, args.iterations, args.repeats)),
        ]
    import torch
    from tabulate import tabulate

    table = tabulate(
        [(name, f"{r['first_s']:.1f}", f"{r['ms_per_iteration']:.2f}") for name, r in rows],
        headers=["variant", "first call, s (compile included)", "ms per iteration (best round)"],
        tablefmt="github",
    )
    command = shlex.join([".venv/bin/python", "scripts/compiled_step.py", *sys.argv[1:]])
    text = (
        "# torch.compile against the hand-written recurrence\n\n"
        f"`{command}` on {datetime.date.today()}: torch {torch.__version__}, Python {platform.python_version()}, "
        f"nproc {os.cpu_count()}, one thread; N = {N_HIDDEN}, batch {BATCH}, {N_PREP} + {N_STEPS} steps; "
        f"best of {args.repeats} rounds of {args.iterations} iterations (forward and backward).\n\n{table}\n"
    )
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
