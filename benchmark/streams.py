"""Motifs and streams: what a method learns, one motif after another.

A stream is generated from a seed by a versioned generator registered as ``name-vN``;
changing the generated data bumps the version, and ``Stream.content_hash`` pins it.
Time is in seconds; every registered v1 stream samples at ``dt = tau / 5`` with ``tau = 10 ms``
(a ``StreamSpec`` may set its own). The generated streams are here; songs, with syllable
segments, and the recorded gestures are in ``behaviour.py``; ``registry.STREAMS`` has them all.
Streams from outside: ``sources.py``.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

TAU = 0.01  # s, the rate units' time constant
DT = TAU / 5  # s, one sample of a motif
PREP_TAU = 10.0  # default preparatory period, in units of tau
THETA = 0.1  # default success threshold: a motif counts as produced at nmse <= theta
TARGET_DECIMALS = 4  # targets are rounded so that the content hash is the same on every CPU


@dataclass(frozen=True)
class Segment:
    """One syllable of a song: samples ``start`` to ``stop - 1`` of its motif, named ``label``
    (occurrences of one syllable share a label)."""

    start: int
    stop: int
    label: str


@dataclass(frozen=True, eq=False)
class Motif:
    """One motif: ``target`` is a read-only float32 array (T, d_out); ``dt``, ``tau`` in s;
    ``segments``: its syllables in order, when it is a song (none otherwise)."""

    motif_id: int
    target: np.ndarray
    dt: float = DT
    tau: float = TAU
    segments: tuple[Segment, ...] = ()

    def __post_init__(self) -> None:
        target = np.array(self.target, dtype=np.float32)
        if target.ndim != 2 or target.shape[0] < 2 or target.shape[1] < 1:
            raise ValueError(f"motif {self.motif_id}: target must be (T >= 2, d_out >= 1), got {target.shape}")
        if not np.isfinite(target).all():
            raise ValueError(f"motif {self.motif_id}: target has non-finite values")
        if (target == target.flat[0]).all():
            raise ValueError(f"motif {self.motif_id}: target is constant, so its normalised error is undefined")
        segments = tuple(Segment(*segment) if not isinstance(segment, Segment) else segment
                         for segment in self.segments)
        previous_stop = 0
        for segment in segments:
            if not (type(segment.start) is int and type(segment.stop) is int
                    and previous_stop <= segment.start < segment.stop <= target.shape[0]):
                raise ValueError(f"motif {self.motif_id}: segment {segment.start!r}..{segment.stop!r} is not a "
                                 f"range of samples after the one before it within 0..{target.shape[0]}")
            if not isinstance(segment.label, str) or not segment.label:
                raise ValueError(f"motif {self.motif_id}: a segment's label must be non-empty text")
            previous_stop = segment.stop
        target.setflags(write=False)
        object.__setattr__(self, "target", target)
        object.__setattr__(self, "segments", segments)

    @property
    def n_steps(self) -> int:
        return self.target.shape[0]


@dataclass(frozen=True, eq=False)
class Stream:
    """An ordered tuple of motifs drawn from one generator with one seed; ``theta``: the nmse at
    or below which a motif counts as produced (the stream's success threshold)."""

    name: str
    seed: int
    motifs: tuple[Motif, ...]
    description: str
    citation: str
    tier: str
    theta: float = THETA

    def __post_init__(self) -> None:
        if not self.motifs:
            raise ValueError(f"stream {self.name}: no motifs")
        dims = {m.target.shape[1] for m in self.motifs}
        if len(dims) != 1:
            raise ValueError(f"stream {self.name}: motifs disagree on d_out {sorted(dims)}")
        if len({(m.dt, m.tau) for m in self.motifs}) != 1:
            raise ValueError(f"stream {self.name}: motifs disagree on dt or tau")
        if [m.motif_id for m in self.motifs] != list(range(len(self.motifs))):
            raise ValueError(f"stream {self.name}: motif ids must be 0..K-1 in stream order")
        if not (isinstance(self.theta, (int, float)) and 0 < self.theta < math.inf):
            raise ValueError(f"stream {self.name}: theta {self.theta!r} must be a positive number (an nmse)")

    @property
    def d_out(self) -> int:
        return self.motifs[0].target.shape[1]

    @property
    def content_hash(self) -> str:
        """sha256 (16 hex digits) of the name, seed, timing, every target's bytes and the
        segments of songs (a motif without segments hashes as before segments existed)."""
        digest = hashlib.sha256(f"{self.name}|{self.seed}".encode())
        for motif in self.motifs:
            digest.update(f"|{motif.motif_id}|{motif.dt!r}|{motif.tau!r}|{motif.target.shape}".encode())
            digest.update(np.ascontiguousarray(motif.target, dtype="<f4").tobytes())
            for segment in motif.segments:
                digest.update(f"|{segment.start}:{segment.stop}:{segment.label}".encode())
        return digest.hexdigest()[:16]

    @property
    def songs(self) -> list[dict[str, float]]:
        """Per motif with segments: its syllable count, Markov order and H(next | current) in bits."""
        labels = [[segment.label for segment in motif.segments] for motif in self.motifs]
        return [{"motif": k, "syllables": len(song), "markov_order": markov_order(song),
                 "next_entropy_bits": conditional_entropy(song, 1)}
                for k, song in enumerate(labels) if song]


@dataclass(frozen=True)
class StreamSpec:
    """A registered, versioned stream generator: ``build(seed)`` gives the stream."""

    name: str
    description: str
    tier: str
    n_motifs: int
    # each motif's target (T, d_out), or (target, segments) for a song
    make_targets: Callable[[np.random.Generator], list[np.ndarray | tuple[np.ndarray, Sequence[Segment]]]] = field(
        repr=False)
    citation: str = "motifbench (this suite)"
    dt: float = DT  # s, one sample
    tau: float = TAU  # s
    theta: float = THETA  # nmse: the success threshold
    family: str | None = None  # members of a family draw from their family's generator (``STREAM_FAMILIES``)

    def build(self, seed: int) -> Stream:
        rng = np.random.default_rng([seed, _name_key(self.family or self.name)])
        made = [item if isinstance(item, tuple) else (item, ()) for item in self.make_targets(rng)]
        motifs = tuple(
            Motif(k, np.round(np.asarray(target, dtype=np.float64), TARGET_DECIMALS), self.dt, self.tau, tuple(segments))
            for k, (target, segments) in enumerate(made)
        )
        return Stream(self.name, seed, motifs, self.description, self.citation, self.tier, self.theta)


def _name_key(name: str) -> int:
    """A stable integer per stream name, so streams built with one seed differ."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little")


def conditional_entropy(labels: Sequence[str], order: int) -> float:
    """H(next | the last ``order`` labels) in bits, over the positions i >= order of ``labels``
    (each with its context labels[i - order:i]); 0.0 when no position has that context."""
    contexts: dict[tuple[str, ...], Counter[str]] = defaultdict(Counter)
    for i in range(order, len(labels)):
        contexts[tuple(labels[i - order:i])][labels[i]] += 1
    total = sum(sum(nexts.values()) for nexts in contexts.values())
    entropy = 0.0
    for nexts in contexts.values():
        n = sum(nexts.values())
        p = np.array(list(nexts.values())) / n
        entropy -= n / total * float((p * np.log2(p)).sum())
    return entropy + 0.0  # never -0.0


def markov_order(labels: Sequence[str]) -> int:
    """The smallest k with H(next | last k) = 0 (``conditional_entropy``); 0 for no labels."""
    return next((k for k in range(len(labels)) if conditional_entropy(labels, k) < 1e-12), 0)


def after_branch(labels: Sequence[str]) -> np.ndarray:
    """(n,) bool: whether syllable i follows a branch, an occurrence of a syllable whose
    successor differs from that of another occurrence of the same syllable (False at i = 0)."""
    successors: dict[str, set[str]] = defaultdict(set)
    for current, following in zip(labels, labels[1:]):
        successors[current].add(following)
    return np.array([i > 0 and len(successors[labels[i - 1]]) > 1 for i in range(len(labels))], dtype=bool)


def smooth_trajectory(
    rng: np.random.Generator, n_steps: int, d_out: int, n_sines: int = 3, max_cycles: float = 3.0
) -> np.ndarray:
    """(n_steps, d_out): per coordinate a sum of random sinusoids (0.5 to ``max_cycles`` cycles
    per motif) times a sin(pi t / T) envelope, so it starts and ends at 0, scaled to unit peak."""
    t = np.arange(n_steps) / (n_steps - 1)
    envelope = np.sin(np.pi * t)
    out = np.zeros((n_steps, d_out))
    for dim in range(d_out):
        cycles = rng.uniform(0.5, max_cycles, n_sines)
        phases = rng.uniform(0, 2 * np.pi, n_sines)
        weights = rng.uniform(0.3, 1.0, n_sines)
        out[:, dim] = envelope * (weights[:, None] * np.sin(2 * np.pi * cycles[:, None] * t + phases[:, None])).sum(0)
    return out / np.abs(out).max()


def step_trajectory(rng: np.random.Generator, n_steps: int, min_segment: int = 5) -> np.ndarray:
    """(n_steps, 1): piecewise-constant with 3-8 jumps, segments of at least ``min_segment``
    samples, levels in [-1, 1], first and last level 0, scaled to unit peak."""
    n_jumps = int(rng.integers(3, 9))
    n_segments = n_jumps + 1
    free = n_steps - n_segments * min_segment
    cuts = np.sort(rng.integers(0, free + 1, n_jumps))
    lengths = np.diff(np.concatenate([[0], cuts, [free]])) + min_segment
    levels = np.zeros(n_segments)  # first and last stay 0
    for i in range(1, n_segments - 1):  # redraw until every jump is at least 0.2 high
        level = levels[i - 1]
        while abs(level - levels[i - 1]) < 0.2 or (i == n_segments - 2 and abs(level) < 0.2):
            level = rng.uniform(-1, 1)
        levels[i] = level
    out = np.repeat(levels, lengths)[:, None]
    return out / np.abs(out).max()


def _smooth(n_motifs: int, n_steps: int, d_out: int) -> Callable[[np.random.Generator], list[np.ndarray]]:
    return lambda rng: [smooth_trajectory(rng, n_steps, d_out) for _ in range(n_motifs)]


def _steps(n_motifs: int, n_steps: int) -> Callable[[np.random.Generator], list[np.ndarray]]:
    return lambda rng: [step_trajectory(rng, n_steps) for _ in range(n_motifs)]


def memory_gap_motif(rng: np.random.Generator, gap_steps: int, transient_steps: int, response_steps: int) -> np.ndarray:
    """(transient_steps + gap_steps + response_steps, 1): a half-sine transient of height 1 and
    random sign, ``gap_steps`` of silence (0), then a smooth response (``smooth_trajectory``,
    unit peak). The draws do not depend on the gap, so one seed gives the same transients and
    responses at every gap."""
    sign = rng.choice([-1.0, 1.0])
    transient = sign * np.sin(np.pi * np.arange(transient_steps) / (transient_steps - 1))
    response = smooth_trajectory(rng, response_steps, 1)[:, 0]
    return np.concatenate([transient, np.zeros(gap_steps), response])[:, None]


MEMORY_GAP_FAMILY = "memgap-v1"
MEMORY_GAPS_TAU = (2, 5, 10, 20, 40)  # the registered members' gaps, in tau
MEMORY_GAP_MOTIFS = 5
TRANSIENT_TAU, RESPONSE_TAU = 2, 10


def memory_gap_stream(gap_tau: float) -> StreamSpec:
    """The member of the memory-gap family (Jarne & Laje's interval axis) with a gap of
    ``gap_tau`` tau, named ``memgap{gap_tau}-v1``."""
    steps_per_tau = round(TAU / DT)
    gap_steps = round(gap_tau * steps_per_tau)
    return StreamSpec(
        f"memgap{gap_tau:g}-v1",
        f"{MEMORY_GAP_MOTIFS} 1-D motifs: a {TRANSIENT_TAU}-tau transient, {gap_tau:g} tau of silence, then a "
        f"{RESPONSE_TAU}-tau response; the network must time the gap itself",
        "standard",
        MEMORY_GAP_MOTIFS,
        lambda rng: [memory_gap_motif(rng, gap_steps, TRANSIENT_TAU * steps_per_tau, RESPONSE_TAU * steps_per_tau)
                     for _ in range(MEMORY_GAP_MOTIFS)],
        citation="Jarne & Laje, arXiv:1906.01094 (the memory-gap axis)",
        family=MEMORY_GAP_FAMILY,
    )


STREAM_FAMILIES: dict[str, tuple[str, dict[float, str]]] = {  # family -> (its setting, value -> member stream)
    MEMORY_GAP_FAMILY: ("gap_tau", {float(gap): memory_gap_stream(gap).name for gap in MEMORY_GAPS_TAU}),
}


SYNTHETIC_STREAMS: dict[str, StreamSpec] = {
    spec.name: spec
    for spec in (
        StreamSpec("smoke-v1", "3 smooth 1-D motifs of 5 tau; for tests, seconds", "smoke", 3, _smooth(3, 25, 1)),
        StreamSpec(
            "smooth10-v1",
            "10 smooth 2-D trajectories starting and ending at 0, 20 tau long",
            "standard",
            10,
            _smooth(10, 100, 2),
            theta=0.1,  # about 4 x joint's worst nmse from rest (0.027 over seeds 0-2)
        ),
        StreamSpec(
            "steps10-v1",
            "10 piecewise-constant 1-D trajectories with 3-8 jumps, 20 tau long",
            "standard",
            10,
            _steps(10, 100),
            theta=0.2,  # 4 x joint's worst nmse from rest (0.048 over seeds 0-2), as 0.1 is on smooth10-v1
        ),
        StreamSpec(
            "smooth50-v1",
            "50 smooth 2-D trajectories, 20 tau long: the scale stream (2,450 transitions)",
            "scale",
            50,
            _smooth(50, 100, 2),
        ),
        *(memory_gap_stream(gap) for gap in MEMORY_GAPS_TAU),
    )
}
