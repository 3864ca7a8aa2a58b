"""ELiSe on Für Elise (``elise-v1``): the summed per-channel correlation of the free run for a few
settings, and the time a training cycle takes.

Each setting trains ``elise`` on the song from rest, then runs it freely from rest (the stream's
preparation, then the song), as the evaluator's ``channel_correlation`` does; 13 is perfect.
The paper's code has 50 latent neurons and learning rates of 1e-3 and 1e-2 per ms (visible to
visible, otherwise); the method's defaults are 100 and 3 times those rates. One thread, as the
runner gives each run; a cycle is the preparation (50 steps) and the song (125 steps).

    .venv/bin/python scripts/elise_song.py [--seeds 0] [--cycles 3000] [--out scripts/results/elise_song.md]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from motifbench.evaluator import EvalConfig, stream_info
from motifbench.methods.elise import Elise
from motifbench.metrics import summed_correlation
from motifbench.registry import get_stream

SETTINGS = {  # name -> hyperparameters besides cycles
    "defaults": {},
    "reservoir mode": {"mode": "reservoir"},
    "the paper's learning rates": {"eta": 1e-2, "eta_visible": 1e-3},
    "50 latent neurons (the paper's)": {"n_latent": 50},
    "200 latent neurons": {"n_latent": 200},
    "cue nudging 0.3": {"cue_nudging": 0.3},
}


def correlation(hyperparams: dict, seed: int) -> tuple[float, float]:
    """(summed correlation of the free run after learning, ms per training cycle)."""
    stream = get_stream("elise-v1").build(0)
    song = stream.motifs[0]
    info = stream_info(stream, EvalConfig())
    method = Elise(**hyperparams)
    method.setup(info, seed)
    method.learn(song)
    y, _ = method.generate(torch.tensor([0]), method.rest_state(1), info.n_prep, song.n_steps)
    return summed_correlation(y[0].numpy(), song.target), method.diagnostics()["motifs"][0]["ms_per_cycle"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--cycles", type=int, default=3000)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "elise_song.md")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    for name, hyperparams in SETTINGS.items():
        results = [correlation({**hyperparams, "cycles": args.cycles}, seed) for seed in seeds]
        scores = ", ".join(f"{score:.2f}" for score, _ in results)
        cycle_ms = sum(ms for _, ms in results) / len(results)
        rows.append(f"| {name} | {scores} | {cycle_ms:.1f} | {cycle_ms * args.cycles / 1e3:.0f} |")
        print(rows[-1], file=sys.stderr)
    lines = [
        "# ELiSe on elise-v1: free-run correlation and the cost of a training cycle",
        "",
        f"Command: `.venv/bin/python scripts/elise_song.py --seeds {args.seeds} --cycles {args.cycles}`, "
        "one thread. Correlation: per-channel Pearson correlation of the free run from rest with the "
        f"score, summed over the 13 channels (13 is perfect), after {args.cycles} training cycles; "
        "seeds in the order given.",
        "",
        "| setting | summed correlation | ms per cycle | learning s |",
        "|---|---|---|---|",
        *rows,
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
