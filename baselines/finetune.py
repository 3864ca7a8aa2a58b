"""Naive fine-tuning: the shared rate RNN trained on each new motif with nothing to protect old ones.

The forgetting reference of continual learning (e.g. Kirkpatrick et al. 2017, PNAS 114:3521,
"Overcoming catastrophic forgetting in neural networks", where plain SGD is the baseline).
Hyperparameters: those of ``RateRNNHyperparams`` (see ``rate_rnn.py``).
"""

from __future__ import annotations

from motifbench.baselines.rate_rnn import RateRNNMethod
from motifbench.method import MethodCard
from motifbench.streams import Motif


class Finetune(RateRNNMethod):
    card = MethodCard(
        name="finetune",
        version="1",
        citation="Kirkpatrick et al. 2017, PNAS 114:3521 (fine-tuning baseline)",
    )

    def learn(self, motif: Motif) -> None:
        self.fit([motif])
