"""The lower bound: a method that always outputs 0 and learns nothing.

Its r2 is -mean(y*)^2 / var(y*) <= 0 on every motif, the floor any method must beat
(the chance level of the regression scores defined in docs/design.md).
"""

from __future__ import annotations

from typing import Any

import torch

from motifbench.method import Method, MethodCard, StreamInfo
from motifbench.streams import Motif


class Zero(Method):
    card = MethodCard(name="zero", version="1", citation="motifbench lower bound (outputs 0)", uses_sgd=False)

    def setup(self, info: StreamInfo, seed: int, device: str = "cpu") -> None:
        self.info = info
        self.device = torch.device(device)

    def learn(self, motif: Motif) -> None:
        """Learns nothing."""

    def rest_state(self, batch: int) -> torch.Tensor:
        return torch.zeros(batch, 1, device=self.device)

    def generate(
        self,
        ids: torch.Tensor,
        state: torch.Tensor,
        n_prep: int,
        n_steps: int,
        noise_std: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.zeros(len(ids), n_steps, self.info.d_out, device=self.device), state

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Nothing to load."""

    def parameter_count(self) -> int:
        return 0
