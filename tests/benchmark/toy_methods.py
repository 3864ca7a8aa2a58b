"""Small hand-written methods for the evaluator, CLI and record tests (not a test file).

Each toy is a tiny, exactly predictable dynamical system, so a test can state the evaluator's
result in advance:

- ``Oracle(targets)``: produces every target exactly whatever its state (a tape recorder that
  is handed the stream's targets by the test).
- ``RestOnly(targets)``: produces the target only when started from its own rest state (all
  zeros); from any other state it outputs garbage. Its end state is never the rest state.
- ``Memory(targets, offset)``: its end state remembers which motif it produced last
  (``id + 1``); it outputs ``target[b] + offset * state``, so the error of motif b tells which
  state it was started from.
- misbehaving methods (``Crashing``, ``GenerateRaises``, ``NaNOutput``, ``SleepsForever``,
  ``AllocatesWithoutBound``, ``Dies``, ``OversizedOutput``, ``GarbageOnTheWire``, ...), each
  broken in exactly one way; the CLI tests
  name them as ``toy_methods:Crashing`` and so on.
- methods that break one conformance check each (``ChangesOnGenerate``, ``Unseeded``,
  ``ForgetsOnLoad``, ``WritesIntoState``), and ``DegradedFinetune`` for score regression.
- ``Attracting(targets)`` and ``NeverRecovers(targets)``, for the disruption probe: state
  (B, 2 + d_out) = (cos phi, sin phi, e), rest (1, 0, 0, ...). Preparation changes nothing;
  each production step outputs target[id] at time phi / (2 pi) * T (linearly interpolated,
  clipped to the motif) plus e, then advances phi by 2 pi / T on the unit circle. Attracting
  multiplies e by 0.3 every step (a disruption of e dies out), NeverRecovers keeps it forever.
  Both produce every motif exactly from rest and are back at rest after a whole motif.
- ``Memoryless()``, for the branch scores: learns each song's syllables from
  ``motif.segments`` (a label's waveform and its successor, both as first seen) and produces
  syllable 0 as is and every later one as the first-seen successor of the true syllable before
  it: it knows the current syllable but no history, so it errs only after branch points. A
  motif without segments it produces exactly. A tape: its output ignores the state.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from motifbench.baselines.finetune import Finetune
from motifbench.method import Method, MethodCard, Settings, StreamInfo, hyperparameter
from motifbench.streams import Motif


class Toy(Method):
    """Learns nothing, outputs zeros; rest state (B, n_state) of zeros, end state unchanged."""

    card = MethodCard(name="toy", version="0", citation="motifbench tests", uses_sgd=False)
    n_state = 2

    def setup(self, info: StreamInfo, seed: int, device: str = "cpu") -> None:
        self.info = info
        self.seed = seed
        self.learned: list[int] = []

    def learn(self, motif: Motif) -> None:
        self.learned.append(motif.motif_id)

    def rest_state(self, batch: int) -> torch.Tensor:
        return torch.zeros(batch, self.n_state)

    def generate(
        self,
        ids: torch.Tensor,
        state: torch.Tensor,
        n_prep: int,
        n_steps: int,
        noise_std: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.zeros(len(ids), n_steps, self.info.d_out), state.clone()

    def state_dict(self) -> dict[str, Any]:
        return {"learned": list(self.learned)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.learned = list(state["learned"])

    def parameter_count(self) -> int:
        return 0


class _KnowsTargets(Toy):
    """A toy that the test hands the stream's targets (only the test does that)."""

    def __init__(self, targets: Sequence[np.ndarray], **hyperparams: Any) -> None:
        super().__init__(**hyperparams)
        self.targets = [torch.as_tensor(np.array(t, dtype=np.float32)) for t in targets]

    def _targets(self, ids: torch.Tensor, n_steps: int) -> torch.Tensor:
        rows = [self.targets[int(i)][:n_steps] for i in ids]  # the first n_steps, as a tape does
        assert all(len(t) == n_steps for t in rows), "rows of one generate call must share a length"
        return torch.stack(rows) if rows else torch.zeros(0, n_steps, self.info.d_out)


class Oracle(_KnowsTargets):
    card = MethodCard(name="oracle", version="0", citation="motifbench tests", uses_sgd=False)

    def generate(self, ids, state, n_prep, n_steps, noise_std=0.0, generator=None):
        return self._targets(ids, n_steps), state + 1.0


class RestOnly(_KnowsTargets):
    """Correct only from the all-zero rest state; its end state is (id + 1, 1), never rest."""

    card = MethodCard(name="rest_only", version="0", citation="motifbench tests", uses_sgd=False)

    def generate(self, ids, state, n_prep, n_steps, noise_std=0.0, generator=None):
        target = self._targets(ids, n_steps)
        at_rest = (state == 0).all(dim=1)[:, None, None]
        y = torch.where(at_rest, target, 3.0 - 2.0 * target)
        end = torch.stack([ids.to(torch.float32) + 1.0, torch.ones(len(ids))], dim=1)
        return y, end


class Memory(_KnowsTargets):
    """State (B, 1): its end state is id + 1, its output target[b] + offset * state[b]."""

    card = MethodCard(name="memory", version="0", citation="motifbench tests", uses_sgd=False)
    n_state = 1

    def __init__(self, targets: Sequence[np.ndarray], offset: float = 0.1) -> None:
        super().__init__(targets)
        self.offset = offset

    def generate(self, ids, state, n_prep, n_steps, noise_std=0.0, generator=None):
        y = self._targets(ids, n_steps) + self.offset * state[:, :1, None]
        end = ids.to(torch.float32)[:, None] + 1.0
        return y, end


# --- misbehaving methods: each broken in one way ------------------------------------------------


class Crashing(Toy):
    card = MethodCard(name="crashing", version="0", citation="motifbench tests", uses_sgd=False)

    def learn(self, motif: Motif) -> None:
        raise RuntimeError("deliberate failure in learn")


class SleepsForever(Toy):
    card = MethodCard(name="sleeps_forever", version="0", citation="motifbench tests", uses_sgd=False)

    def learn(self, motif: Motif) -> None:
        while True:
            time.sleep(1)


class AllocatesWithoutBound(Toy):
    card = MethodCard(name="allocates_without_bound", version="0", citation="motifbench tests", uses_sgd=False)

    def learn(self, motif: Motif) -> None:
        hoard = []
        while True:
            hoard.append(torch.ones(2**25))  # 128 MB a step, touched


class Dies(Toy):
    card = MethodCard(name="dies", version="0", citation="motifbench tests", uses_sgd=False)

    def learn(self, motif: Motif) -> None:
        os._exit(3)


class GenerateRaises(Toy):
    card = MethodCard(name="generate_raises", version="0", citation="motifbench tests", uses_sgd=False)

    def generate(self, ids, state, n_prep, n_steps, noise_std=0.0, generator=None):
        raise ValueError("deliberate failure in generate")


class NaNOutput(Toy):
    card = MethodCard(name="nan_output", version="0", citation="motifbench tests", uses_sgd=False)

    def generate(self, ids, state, n_prep, n_steps, noise_std=0.0, generator=None):
        y, end = super().generate(ids, state, n_prep, n_steps)
        y[:, -1] = float("nan")
        return y, end


class WrongOutputShape(Toy):
    """One step too few."""

    card = MethodCard(name="wrong_output_shape", version="0", citation="motifbench tests", uses_sgd=False)

    def generate(self, ids, state, n_prep, n_steps, noise_std=0.0, generator=None):
        y, end = super().generate(ids, state, n_prep, n_steps)
        return y[:, :-1], end


class WrongStateShape(Toy):
    """End state with one unit too many."""

    card = MethodCard(name="wrong_state_shape", version="0", citation="motifbench tests", uses_sgd=False)

    def generate(self, ids, state, n_prep, n_steps, noise_std=0.0, generator=None):
        y, _ = super().generate(ids, state, n_prep, n_steps)
        return y, torch.zeros(len(ids), self.n_state + 1)


class WrongRestShape(Toy):
    """rest_state(B) returns (B + 1, n_state)."""

    card = MethodCard(name="wrong_rest_shape", version="0", citation="motifbench tests", uses_sgd=False)

    def rest_state(self, batch: int) -> torch.Tensor:
        return torch.zeros(batch + 1, self.n_state)


class NotAPair(Toy):
    """generate returns the outputs alone instead of (outputs, end state)."""

    card = MethodCard(name="not_a_pair", version="0", citation="motifbench tests", uses_sgd=False)

    def generate(self, ids, state, n_prep, n_steps, noise_std=0.0, generator=None):
        y, _ = super().generate(ids, state, n_prep, n_steps)
        return y


class ParameterCountRaises(Toy):
    card = MethodCard(name="parameter_count_raises", version="0", citation="motifbench tests", uses_sgd=False)

    def parameter_count(self) -> int:
        raise RuntimeError("deliberate failure in parameter_count")


class BadDiagnostics(Toy):
    """Runs fine, but its diagnostics hold a tensor (not JSON-serialisable)."""

    card = MethodCard(name="bad_diagnostics", version="0", citation="motifbench tests", uses_sgd=False)

    def diagnostics(self) -> dict[str, Any]:
        return {"loss": torch.tensor(0.5)}


@dataclass(frozen=True)
class _LrHyperparams(Settings):
    lr: float = hyperparameter(0.1, "a learning rate nobody uses", low=0)


class WithLr(Toy):
    """A toy with one hyperparameter, ``lr``."""

    card = MethodCard(name="with_lr", version="0", citation="motifbench tests", uses_sgd=False)
    Hyperparams = _LrHyperparams


# --- methods that break one conformance check each (motifbench check) --------------------------


class ChangesOnGenerate(Toy):
    """Remembers every generate call in its learned state."""

    card = MethodCard(name="changes_on_generate", version="0", citation="motifbench tests", uses_sgd=False)

    def generate(self, ids, state, n_prep, n_steps, noise_std=0.0, generator=None):
        self.learned.append(-1)
        return super().generate(ids, state, n_prep, n_steps)


class Unseeded(Toy):
    """Outputs a small level drawn at setup from an unseeded generator."""

    card = MethodCard(name="unseeded", version="0", citation="motifbench tests", uses_sgd=False)

    def setup(self, info: StreamInfo, seed: int, device: str = "cpu") -> None:
        super().setup(info, seed, device)
        self.level = 1e-3 * float(np.random.default_rng().normal())  # small: scores stay unclipped

    def generate(self, ids, state, n_prep, n_steps, noise_std=0.0, generator=None):
        return torch.full((len(ids), n_steps, self.info.d_out), self.level), state.clone()


class ForgetsOnLoad(Toy):
    """Outputs how many motifs it learned; ``load_state_dict`` ignores what it is given."""

    card = MethodCard(name="forgets_on_load", version="0", citation="motifbench tests", uses_sgd=False)

    def generate(self, ids, state, n_prep, n_steps, noise_std=0.0, generator=None):
        return torch.full((len(ids), n_steps, self.info.d_out), float(len(self.learned))), state.clone()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


class WritesIntoState(Toy):
    """Adds to the start state it is given, in place."""

    card = MethodCard(name="writes_into_state", version="0", citation="motifbench tests", uses_sgd=False)

    def generate(self, ids, state, n_prep, n_steps, noise_std=0.0, generator=None):
        state.add_(1.0)
        return super().generate(ids, state, n_prep, n_steps)


class DegradedFinetune(Finetune):
    """``finetune`` made deliberately worse: a twentieth of its Adam steps per motif."""

    card = MethodCard(name="finetune_degraded", version="0", citation="motifbench tests")

    def learn(self, motif: Motif) -> None:
        self.fit([motif], max_iterations=self.hp.max_iterations // 20)


class StateDictRaises(Toy):
    """Runs fine (the evaluation never asks for its state), but ``state_dict`` raises: the
    checks that need it fail, the others still run."""

    card = MethodCard(name="state_dict_raises", version="0", citation="motifbench tests", uses_sgd=False)

    def state_dict(self) -> dict[str, Any]:
        raise RuntimeError("deliberate failure in state_dict")


class EscapingName(Toy):
    """A card whose name would put its records outside the results folder."""

    card = MethodCard(name="../../escaped", version="0", citation="motifbench tests", uses_sgd=False)


class ZeroAgain(Toy):
    """A second method whose card claims the name ``zero``."""

    card = MethodCard(name="zero", version="0", citation="motifbench tests", uses_sgd=False)


class OversizedOutput(Toy):
    """``generate`` returns a thousand times more steps than asked: more bytes than the call
    can need, so the trusted side refuses the reply before reading it."""

    card = MethodCard(name="oversized_output", version="0", citation="motifbench tests", uses_sgd=False)

    def generate(self, ids, state, n_prep, n_steps, noise_std=0.0, generator=None):
        return torch.zeros(len(ids), 1000 * n_steps, self.info.d_out), state


class GarbageOnTheWire(Toy):
    """``learn`` writes garbage into every pipe its process holds open: the method process's
    side of the wire among them."""

    card = MethodCard(name="garbage_on_the_wire", version="0", citation="motifbench tests", uses_sgd=False)

    def learn(self, motif: Motif) -> None:
        for fd in map(int, os.listdir("/proc/self/fd")):
            if fd > 2:
                try:
                    os.write(fd, b"\xff" * 64)
                except OSError:
                    pass


# --- the disruption probe and the branch scores ------------------------------------------------


class _Cycling(_KnowsTargets):
    """A phase oscillator that reads its motif off the phase, plus an offset e in its state."""

    card = MethodCard(name="cycling", version="0", citation="motifbench tests", uses_sgd=False)
    decay = 1.0  # e's factor per production step

    def rest_state(self, batch: int) -> torch.Tensor:
        state = torch.zeros(batch, 2 + self.info.d_out, dtype=torch.float64)
        state[:, 0] = 1.0
        return state

    def generate(self, ids, state, n_prep, n_steps, noise_std=0.0, generator=None):
        lengths = torch.tensor([len(self.targets[int(i)]) for i in ids], dtype=torch.float64)
        table = torch.nn.utils.rnn.pad_sequence([self.targets[int(i)].double() for i in ids], batch_first=True)
        rows = torch.arange(len(ids))
        cos, sin, e = state[:, 0].double(), state[:, 1].double(), state[:, 2:].double()
        y = torch.zeros(len(ids), n_steps, self.info.d_out, dtype=torch.float64)
        for step in range(n_steps):
            phi = torch.atan2(sin, cos)  # wrapped to [0, 2 pi); a rounding error below 0 is 0
            phi = torch.where(phi < -1e-9, phi + 2 * math.pi, phi.clamp(min=0.0))
            t = torch.minimum(phi / (2 * math.pi) * lengths, lengths - 1)
            before = t.floor().long()
            after = torch.minimum(before + 1, lengths.long() - 1)
            w = (t - before)[:, None]
            y[:, step] = (1 - w) * table[rows, before] + w * table[rows, after] + e
            phi = phi + 2 * math.pi / lengths
            cos, sin, e = torch.cos(phi), torch.sin(phi), e * self.decay
        return y, torch.cat([cos[:, None], sin[:, None], e], dim=1).to(state.dtype)


class Attracting(_Cycling):
    """A disruption of its state dies out: e shrinks by 0.3 a step, the phase stays where it is put."""

    card = MethodCard(name="attracting", version="0", citation="motifbench tests", uses_sgd=False)
    decay = 0.3


class NeverRecovers(_Cycling):
    """A disruption of its state stays: e is added to every output forever."""

    card = MethodCard(name="never_recovers", version="0", citation="motifbench tests", uses_sgd=False)
    decay = 1.0


class Memoryless(Toy):
    """Knows the current syllable, not the history: after a branch point it sings the syllable
    that first followed the current one (its songs' syllables of one label share one length)."""

    card = MethodCard(name="memoryless", version="0", citation="motifbench tests", uses_sgd=False)

    def setup(self, info: StreamInfo, seed: int, device: str = "cpu") -> None:
        super().setup(info, seed, device)
        self.songs: dict[int, np.ndarray] = {}

    def learn(self, motif: Motif) -> None:
        super().learn(motif)
        target = np.array(motif.target, dtype=np.float32)
        waveform: dict[str, np.ndarray] = {}
        successor: dict[str, str] = {}
        for before, segment in zip((None, *motif.segments), motif.segments):
            waveform.setdefault(segment.label, target[segment.start:segment.stop])
            if before is not None:
                successor.setdefault(before.label, segment.label)
        song = target.copy()
        for before, segment in zip(motif.segments, motif.segments[1:]):
            song[segment.start:segment.stop] = waveform[successor[before.label]]
        self.songs[motif.motif_id] = song

    def generate(self, ids, state, n_prep, n_steps, noise_std=0.0, generator=None):
        y = torch.zeros(len(ids), n_steps, self.info.d_out)
        for row, i in enumerate(ids):
            y[row] = torch.as_tensor(self.songs[int(i)][:n_steps])
        return y, state.clone()

    def state_dict(self) -> dict[str, Any]:
        return {"learned": list(self.learned), "songs": {k: song.copy() for k, song in self.songs.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.learned = list(state["learned"])
        self.songs = {k: song.copy() for k, song in state["songs"].items()}


class OldStyleDamage(Toy):
    """A ``damage`` without ``mode`` (as before damage modes existed): it serves "random" alone."""

    card = MethodCard(name="old_style_damage", version="0", citation="motifbench tests", uses_sgd=False)

    def damage(self, fraction: float, generator: torch.Generator) -> None:
        torch.rand(1, generator=generator)


class NonSquareRecurrence(Toy):
    """Claims a recurrent matrix and sends one that is not square."""

    card = MethodCard(name="non_square_recurrence", version="0", citation="motifbench tests", uses_sgd=False)

    def recurrent_matrix(self) -> np.ndarray:
        return np.zeros((2, 3))
