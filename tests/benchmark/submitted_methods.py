"""Methods submitted from outside motifbench (not a test file): the tests check, run and rank
them as ``submitted_methods:Class`` without editing the package, as CONTRIBUTING.md describes.

- ``EchoStateNetwork``: a fixed random reservoir (Jaeger 2001, "The echo state approach to
  analysing and training recurrent neural networks", GMD Report 148). Preparation drives it
  with a one-hot cue of the motif; production lets it run free and reads it out with a
  readout per motif, fit by ridge regression on the trajectory from rest. A real, if simple,
  method: its output depends on the state it starts from.
- ``Parrot``: stores each target and replays it whatever its state: a tape recorder.
- Parrots in disguise, each passing the start-state probe alone (finding 3 of the plugin and
  probes issue): ``WhisperingParrot`` adds ``whisper`` x the tape's rms x the mean of its
  state, from a rest state of ones; ``SmugglingParrot`` also leaves the id of the motif it
  produced in its end state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from motifbench.method import Method, MethodCard, Settings, StreamInfo, hyperparameter
from motifbench.streams import Motif


@dataclass(frozen=True)
class EchoStateHyperparams(Settings):
    n_units: int = hyperparameter(200, "reservoir units", low=1)
    spectral_radius: float = hyperparameter(0.9, "gain of the random recurrent weights (g)", low=0)
    cue_scale: float = hyperparameter(1.0, "std of the cue's input weights", low=0)
    ridge: float = hyperparameter(1e-4, "ridge penalty of the readout fit", low=0)


class EchoStateNetwork(Method):
    card = MethodCard(name="echo_state_network", version="1", citation="Jaeger 2001, GMD Report 148", uses_sgd=False)
    Hyperparams = EchoStateHyperparams

    def setup(self, info: StreamInfo, seed: int, device: str = "cpu") -> None:
        self.info, self.device = info, device
        rng = np.random.default_rng(seed)
        n = self.hp.n_units
        self.weights = self._tensor(rng.normal(0, self.hp.spectral_radius / np.sqrt(n), (n, n)))
        self.cue_weights = self._tensor(rng.normal(0, self.hp.cue_scale, (info.n_motifs, n)))
        self.readouts: dict[int, torch.Tensor] = {}  # motif id -> (n_units, d_out)

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        return torch.tensor(array, dtype=torch.float64, device=self.device)  # a copy: targets are read-only

    def learn(self, motif: Motif) -> None:
        ids = torch.tensor([motif.motif_id])
        states = self._run(ids, self.rest_state(1), self.info.n_prep, motif.n_steps)[0]  # (T, n)
        gram = states.T @ states + self.hp.ridge * torch.eye(self.hp.n_units, dtype=torch.float64, device=self.device)
        self.readouts[motif.motif_id] = torch.linalg.solve(gram, states.T @ self._tensor(motif.target))

    def _run(self, ids: torch.Tensor, state: torch.Tensor, n_prep: int, n_steps: int,
             noise_std: float = 0.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """Cued preparation, then free production: the (B, n_steps, n_units) production states."""
        from motifbench.method import state_noise

        alpha = self.info.dt / self.info.tau
        x = state.to(self.device, torch.float64)
        cue = self.cue_weights[ids.to(self.device)]
        states = []
        for step in range(n_prep + n_steps):
            drive = x @ self.weights.T + (cue if step < n_prep else 0.0)
            x = (1 - alpha) * x + alpha * torch.tanh(drive)
            if noise_std:
                x = x + state_noise(x, noise_std, alpha, generator)
            if step >= n_prep:
                states.append(x)
        return torch.stack(states, dim=1)

    def rest_state(self, batch: int) -> torch.Tensor:
        return torch.zeros(batch, self.hp.n_units, dtype=torch.float64, device=self.device)

    def generate(self, ids, state, n_prep, n_steps, noise_std=0.0, generator=None):
        states = self._run(ids, state, n_prep, n_steps, noise_std, generator)
        readouts = torch.stack([self.readouts[int(i)] for i in ids])  # (B, n_units, d_out)
        return torch.bmm(states, readouts), states[:, -1]

    def state_dict(self) -> dict[str, Any]:
        return {"weights": self.weights, "cue_weights": self.cue_weights, "readouts": dict(self.readouts)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.weights, self.cue_weights = state["weights"], state["cue_weights"]
        self.readouts = dict(state["readouts"])

    def parameter_count(self) -> int:
        return sum(readout.numel() for readout in self.readouts.values())


class Parrot(Method):
    card = MethodCard(name="parrot", version="1", citation="motifbench tests: a tape recorder", uses_sgd=False)

    def setup(self, info: StreamInfo, seed: int, device: str = "cpu") -> None:
        self.device = device
        self.tapes: dict[int, torch.Tensor] = {}

    def learn(self, motif: Motif) -> None:
        self.tapes[motif.motif_id] = torch.tensor(motif.target, dtype=torch.float64, device=self.device)

    def rest_state(self, batch: int) -> torch.Tensor:
        return torch.zeros(batch, 1, dtype=torch.float64, device=self.device)

    def generate(self, ids, state, n_prep, n_steps, noise_std=0.0, generator=None):
        return torch.stack([self.tapes[int(i)][:n_steps] for i in ids]), state + 1.0

    def state_dict(self) -> dict[str, Any]:
        return {"tapes": dict(self.tapes)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.tapes = dict(state["tapes"])

    def parameter_count(self) -> int:
        return sum(tape.numel() for tape in self.tapes.values())


@dataclass(frozen=True)
class WhisperHyperparams(Settings):
    whisper: float = hyperparameter(1e-3, "the state-dependent term, as a fraction of the tape's rms", low=0)


class WhisperingParrot(Parrot):
    """Replays each stored target plus ``whisper`` x its rms x mean(state); rest state: ones."""

    card = MethodCard(name="whispering_parrot", version="1", citation="motifbench tests: a disguised tape recorder",
                      uses_sgd=False)
    Hyperparams = WhisperHyperparams
    n_state = 1

    def rest_state(self, batch: int) -> torch.Tensor:
        return torch.ones(batch, self.n_state, dtype=torch.float64, device=self.device)

    def generate(self, ids, state, n_prep, n_steps, noise_std=0.0, generator=None):
        tapes = torch.stack([self.tapes[int(i)][:n_steps] for i in ids])
        rms = tapes.pow(2).mean(dim=(1, 2), keepdim=True).sqrt()
        return tapes + self.hp.whisper * rms * state.mean(dim=1)[:, None, None], self.end_state(ids, state)

    def end_state(self, ids: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        return state


class SmugglingParrot(WhisperingParrot):
    """A ``WhisperingParrot`` whose end state is the one-hot id of the motif it produced, plus one."""

    card = MethodCard(name="smuggling_parrot", version="1", citation="motifbench tests: a disguised tape recorder",
                      uses_sgd=False)

    def setup(self, info: StreamInfo, seed: int, device: str = "cpu") -> None:
        super().setup(info, seed, device)
        self.n_state = info.n_motifs

    def end_state(self, ids: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        return 1.0 + torch.nn.functional.one_hot(ids.long(), self.n_state).to(state)
