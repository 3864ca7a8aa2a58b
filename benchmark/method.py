"""The Method protocol, the base class that supplies its helpers, and typed hyperparameters.

A method is a dynamical system. The evaluator drives it only through:

- ``setup(info, seed, device)``: dimensions and timing, no motifs.
- ``learn(motif)``: one experience; only this motif's data is available.
- ``rest_state(batch)`` -> state (B, n_state), a torch tensor on the method's device.
- ``generate(ids, state, n_prep, n_steps, noise_std=0, generator=None)`` -> ``(y, state_end)``:
  row b starts at ``state[b]``, runs ``n_prep`` preparatory steps cued with motif ``ids[b]``
  (output not scored), then produces motif ``ids[b]`` for ``n_steps`` steps; ``y`` is
  (B, n_steps, d_out) and ``state_end`` (B, n_state). Rows may carry different ids.
  ``noise_std`` is process noise: every step, each state unit gets Gaussian noise of standard
  deviation ``noise_std * sqrt(dt / tau) * rms(state row)`` (see ``state_noise``).
- ``state_dict()`` / ``load_state_dict(state)``; optionally ``damage(fraction, generator,
  mode="random")`` (remove that fraction of the recurrent weights, chosen as ``damaged_weights``
  says for each of ``DAMAGE_MODES``; a ``damage`` without ``mode`` serves "random" alone),
  ``recurrent_matrix()`` (W (N, N) of the continuous-time form tau dx/dt = -x + W f(x) + ...,
  f'(0) = 1, so that eigenvalues of W with real part above 1 are unstable modes at rest),
  ``parameter_count()`` (trainable numbers) and ``diagnostics()`` (a JSON-serialisable dict
  recorded with the run).

Test-time calls never carry targets. ``generate`` must not change what was learned.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
import typing
from dataclasses import dataclass
from typing import Any, ClassVar

if typing.TYPE_CHECKING:
    import torch

    from .streams import Motif


PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")  # a card's or stream's name: a safe folder name


class MethodError(Exception):
    """A method misbehaved: it raised, or returned NaN or a wrong shape."""


class HyperparameterError(ValueError):
    """A hyperparameter is unknown or has a bad value."""


@dataclass(frozen=True)
class MethodCard:
    """What a method is; recorded in every run."""

    name: str
    version: str
    citation: str
    stores_past_data: bool = False
    uses_sgd: bool = True
    nondeterministic: bool = False


@dataclass(frozen=True)
class StreamInfo:
    """What ``setup`` may know: sizes and timing, never the motifs themselves.

    dt and tau in s; ``motif_steps[k]`` is the length of motif k in steps; ``n_prep`` the
    default preparatory period in steps."""

    n_motifs: int
    d_out: int
    dt: float
    tau: float
    motif_steps: tuple[int, ...]
    n_prep: int

    def steps(self, duration_tau: float) -> int:
        """A duration in units of tau as a whole number of steps of dt."""
        return duration_steps(duration_tau, self.tau, self.dt)


def hyperparameter(
    default: Any,
    doc: str,
    low: float | None = None,
    high: float | None = None,
    choices: tuple[str, ...] | None = None,
) -> Any:
    """A hyperparameter field: its default, what it means (with units), inclusive bounds, and
    for a string the values it may take."""
    return dataclasses.field(default=default, metadata={"doc": doc, "low": low, "high": high, "choices": choices})


@dataclass(frozen=True)
class Settings:
    """Typed, documented, bounded settings (a method's ``Hyperparams``, the evaluator's config).

    Subclasses are frozen dataclasses whose fields are declared with ``hyperparameter``; rules
    across fields go in ``check``, which runs whenever settings are made, so a bad ``--set`` is
    a usage error before anything runs."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            values = getattr(self, f.name)
            low, high, choices = f.metadata.get("low"), f.metadata.get("high"), f.metadata.get("choices")
            for value in values if isinstance(values, tuple) else (values,):
                if isinstance(value, float) and not math.isfinite(value):
                    raise HyperparameterError(f"{f.name}={values!r} is not a finite number")
                if (low is not None and value < low) or (high is not None and value > high):
                    raise HyperparameterError(f"{f.name}={values!r} is outside [{low}, {high}]")
                if choices is not None and value not in choices:
                    raise HyperparameterError(f"{f.name}={value!r}: expected one of {', '.join(choices)}")
        self.check()

    def check(self) -> None:
        """Rules across fields; raise a HyperparameterError. None here."""


def ordered_pair(name: str, values: tuple[float, ...], strict: bool = False) -> tuple[float, float]:
    """A setting that is a range: (low, high) with low <= high (low < high if ``strict``), or a
    HyperparameterError."""
    if len(values) != 2 or values[0] > values[1] or (strict and values[0] == values[1]):
        relation = "<" if strict else "<="
        text = ",".join(map(str, values))
        raise HyperparameterError(f"{name}={text}: expected two values, low,high with low {relation} high")
    return values[0], values[1]


def setting_names(settings_type: type) -> list[str]:
    """The names of a ``Settings`` class's fields, sorted."""
    return sorted(f.name for f in dataclasses.fields(settings_type))


def settings_from_json(settings_type: type, values: dict[str, Any]) -> dict[str, Any]:
    """Settings sent as JSON -> the types a ``Settings`` class declares (lists become tuples)."""
    hints = typing.get_type_hints(settings_type)
    return {key: tuple(value) if isinstance(value, list) and typing.get_origin(hints.get(key)) is tuple else value
            for key, value in values.items()}


def parse_hyperparameter(hyperparams_type: type, key: str, text: str) -> Any:
    """Convert ``--set key=text`` to the type that the field of a ``Settings`` class declares."""
    hints = typing.get_type_hints(hyperparams_type)
    kind = hints[key]
    try:
        if typing.get_origin(kind) is tuple:
            item = typing.get_args(kind)[0]
            return tuple(item(part) for part in text.split(",") if part.strip())
        if kind is bool:
            lowered = text.strip().lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return lowered in ("true", "1", "yes")
        return kind(text)
    except ValueError:
        raise HyperparameterError(f"{key}={text!r}: expected {getattr(kind, '__name__', str(kind))}") from None


class Method:
    """Base class: stores validated hyperparameters and supplies the protocol's helpers."""

    card: ClassVar[MethodCard]
    Hyperparams: ClassVar[type] = Settings

    def __init__(self, **hyperparams: Any) -> None:
        names = setting_names(self.Hyperparams)
        unknown = sorted(set(hyperparams) - set(names))
        if unknown:
            raise HyperparameterError(
                f"method {self.card.name} has no hyperparameter {unknown[0]!r} (it has: {', '.join(names) or 'none'})"
            )
        self.hp = self.Hyperparams(**hyperparams)

    def hyperparameters(self) -> dict[str, Any]:
        return dataclasses.asdict(self.hp)

    def setup(self, info: StreamInfo, seed: int, device: str = "cpu") -> None:
        raise NotImplementedError

    def learn(self, motif: Motif) -> None:
        raise NotImplementedError

    def rest_state(self, batch: int) -> torch.Tensor:
        raise NotImplementedError

    def generate(
        self,
        ids: torch.Tensor,
        state: torch.Tensor,
        n_prep: int,
        n_steps: int,
        noise_std: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def load_state_dict(self, state: dict[str, Any]) -> None:
        raise NotImplementedError

    def parameter_count(self) -> int | None:
        """Trainable numbers the method holds now; None when it cannot say."""
        return None

    def diagnostics(self) -> dict[str, Any]:
        """Whatever the method wants recorded about its learning (JSON-serialisable)."""
        return {}

    def check_stream(self, info: StreamInfo) -> None:
        """Rules between the hyperparameters and a stream's sizes; raise a HyperparameterError.
        The command line calls it before anything runs. None here."""


DAMAGE_MODES = ("random", "magnitude", "positive", "negative")  # what ``damaged_weights`` can remove


def damaged_weights(weights: torch.Tensor, fraction: float, mode: str, generator: torch.Generator) -> torch.Tensor:
    """Which entries of ``weights`` (any shape, on the CPU) a damage of ``fraction`` removes: a
    boolean tensor of the same shape, True where the weight goes. As Jarne & Laje (arXiv
    1906.01094) damage a trained network:

    - "random": each entry independently with probability ``fraction`` (one uniform draw per
      entry from ``generator``, of the weights' dtype; so the removed sets of a seed are nested);
    - "magnitude": the round(fraction * n) connections (nonzero entries; n of them) of smallest |w|;
    - "positive" / "negative": the same count among the positive / negative weights, smallest
      |w| first, or all of them if there are fewer.

    So every mode removes ``fraction`` of the connections (random in expectation). Ties in |w|
    are broken by position: no mode but "random" draws anything."""
    import torch

    if mode == "random":
        return torch.rand(weights.shape, generator=generator, dtype=weights.dtype) < fraction
    if mode not in DAMAGE_MODES:
        raise ValueError(f"damage mode {mode!r}: expected one of {', '.join(DAMAGE_MODES)}")
    flat = weights.reshape(-1)
    count = int(round(fraction * int(torch.count_nonzero(flat))))
    eligible = {"magnitude": flat != 0, "positive": flat > 0, "negative": flat < 0}[mode]
    candidates = torch.nonzero(eligible).squeeze(1)
    order = torch.argsort(flat[candidates].abs(), stable=True)
    removed = torch.zeros_like(flat, dtype=torch.bool)
    removed[candidates[order[:count]]] = True
    return removed.reshape(weights.shape)


def damage_modes(method: Any) -> tuple[str, ...]:
    """The ``DAMAGE_MODES`` that ``method`` (a class or an instance) serves: none without
    ``damage``, "random" alone for a ``damage`` that takes no ``mode``, else all. A method in a
    method process (``remote.RemoteMethod``) says what its process found."""
    declared = getattr(method, "damage_modes", None)
    if isinstance(declared, tuple):
        return declared
    damage = getattr(method, "damage", None)
    if damage is None:
        return ()
    try:
        takes_mode = "mode" in inspect.signature(damage).parameters
    except (TypeError, ValueError):  # not a function whose signature can be read
        takes_mode = False
    return DAMAGE_MODES if takes_mode else ("random",)


def duration_steps(duration_tau: float, tau: float, dt: float) -> int:
    """A duration in units of tau as a whole number of steps of dt (both in s)."""
    return int(round(duration_tau * tau / dt))


def relative_noise(states: torch.Tensor, std: float, generator: torch.Generator | None) -> torch.Tensor:
    """Gaussian noise (B, n) for states (B, n): std ``std * rms(row)``, no gradient through the rms.

    Drawn on the CPU so that a seed gives the same noise on every device."""
    import torch

    rms = states.detach().pow(2).mean(dim=1, keepdim=True).sqrt()
    z = torch.randn(states.shape, generator=generator, dtype=states.dtype).to(states.device)
    return z * std * rms


def state_noise(
    state: torch.Tensor, noise_std: float, dt_over_tau: float, generator: torch.Generator | None
) -> torch.Tensor:
    """Process noise for one step: (B, n) -> (B, n), std ``noise_std * sqrt(dt/tau) * rms(row)``."""
    return relative_noise(state, noise_std * math.sqrt(dt_over_tau), generator)


def changed_inputs(method: Method, motif: Motif, n_prep: int) -> list[str]:
    """``method`` (set up) learns ``motif`` and generates it from rest, a batch of two: the
    names of the inputs it changed (the motif's target, generate's ids or start state)."""
    import numpy as np
    import torch

    target = motif.target.copy()
    method.learn(motif)
    ids, state = torch.full((2,), motif.motif_id, dtype=torch.long), method.rest_state(2)
    ids_copy, state_copy = ids.clone(), state.clone()
    method.generate(ids, state, n_prep, motif.n_steps)
    return [name for name, same in (("the motif's target", np.array_equal(target, motif.target)),
                                    ("generate's ids", torch.equal(ids, ids_copy)),
                                    ("generate's start state", torch.equal(state, state_copy))) if not same]
