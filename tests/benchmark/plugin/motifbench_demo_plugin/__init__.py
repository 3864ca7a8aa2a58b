"""A plugin for motifbench's tests: the method ``demo_mean`` and the stream ``demo-ramps``.

``MeanOfMotifs`` outputs the mean of the targets it has learned, whatever the motif id and the
state: a weak but honest method that learns. ``RAMPS`` is 3 piecewise-linear 1-D motifs.
"""

from __future__ import annotations

import numpy as np
import torch

from motifbench import Method, MethodCard, Motif, StreamInfo, StreamSpec


class MeanOfMotifs(Method):
    card = MethodCard(name="demo_mean", version="1", citation="motifbench test plugin", uses_sgd=False)

    def setup(self, info: StreamInfo, seed: int, device: str = "cpu") -> None:
        self.info, self.device = info, torch.device(device)
        self.mean = torch.zeros(max(info.motif_steps), info.d_out)
        self.learned = 0

    def learn(self, motif: Motif) -> None:
        target = torch.from_numpy(np.array(motif.target))
        self.learned += 1
        self.mean[: len(target)] += (target - self.mean[: len(target)]) / self.learned

    def rest_state(self, batch: int) -> torch.Tensor:
        return torch.zeros(batch, 1, device=self.device)

    def generate(self, ids: torch.Tensor, state: torch.Tensor, n_prep: int, n_steps: int, noise_std: float = 0.0,
                 generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        return self.mean[:n_steps].expand(len(ids), -1, -1).clone().to(self.device), state

    def state_dict(self) -> dict:
        return {"mean": self.mean.clone(), "learned": self.learned}

    def load_state_dict(self, state: dict) -> None:
        self.mean, self.learned = state["mean"].clone(), state["learned"]


def _ramps(rng: np.random.Generator) -> list[np.ndarray]:
    return [np.interp(np.arange(30), [0, 10, 20, 29], [0, *rng.uniform(-1, 1, 2), 0])[:, None] for _ in range(3)]


RAMPS = StreamSpec("demo-ramps", "3 piecewise-linear 1-D ramps of 6 tau (a plugin's stream)", "smoke", 3, _ramps,
                   citation="motifbench test plugin")
