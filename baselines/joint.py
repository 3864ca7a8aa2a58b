"""Joint training: the upper bound. Each experience retrains the shared rate RNN on every motif
seen so far (it stores past data, so it is not continual learning).

The usual multitask upper bound of continual-learning comparisons (e.g. van de Ven, Tuytelaars
& Tolias 2022, Nat. Mach. Intell. 4:1185, "Three types of incremental learning").
Hyperparameters: those of ``RateRNNHyperparams`` (see ``rate_rnn.py``); ``batch_size`` trials
of every seen motif go into each iteration, and training continues from the current weights.
"""

from __future__ import annotations

from motifbench.baselines.rate_rnn import RateRNNMethod
from motifbench.method import MethodCard, StreamInfo
from motifbench.streams import Motif


class Joint(RateRNNMethod):
    card = MethodCard(
        name="joint",
        version="1",
        citation="van de Ven, Tuytelaars & Tolias 2022, Nat. Mach. Intell. 4:1185 (joint upper bound)",
        stores_past_data=True,
    )

    def setup(self, info: StreamInfo, seed: int, device: str = "cpu") -> None:
        super().setup(info, seed, device)
        self.seen: list[Motif] = []

    def learn(self, motif: Motif) -> None:
        self.seen.append(motif)
        self.fit(self.seen)
