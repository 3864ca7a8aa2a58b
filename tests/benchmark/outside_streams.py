"""Streams from outside motifbench, named ``outside_streams:ATTR`` by the tests (not a test file).

- ``WAVES``: a StreamSpec of 3 smooth 1-D motifs, 4 tau long, with a timebase of its own
  (dt = tau / 10, where every registered stream has tau / 5).
- ``waves_for_seed``: a function seed -> Stream (the same motifs).
- ``SONGS``: a StreamSpec of 2 songs (1-D, 40 samples) with the syllable segments ``SONG_SEGMENTS``.
- broken makers, each in exactly one way: ``raises``, ``not_a_stream``, ``constant_motif``,
  ``named_like_a_registered_stream``, ``name_depends_on_seed``.
"""

from __future__ import annotations

import numpy as np

from motifbench import Motif, Stream, StreamSpec
from motifbench.streams import Segment, smooth_trajectory

TAU = 0.02  # s
DT = TAU / 10

WAVES = StreamSpec("outside-waves-v1", "3 smooth 1-D motifs, 4 tau at dt = tau / 10 (a test stream)", "smoke", 3,
                   lambda rng: [smooth_trajectory(rng, 40, 1) for _ in range(3)], citation="motifbench tests",
                   dt=DT, tau=TAU)


def waves_for_seed(seed: int) -> Stream:
    return WAVES.build(seed)


SONG_SEGMENTS = ((Segment(0, 20, "A"), Segment(20, 40, "B")), (Segment(0, 10, "B"), Segment(10, 25, "A")))
SONGS = StreamSpec("outside-songs-v1", "2 smooth 1-D songs of 40 samples with syllables (a test stream)", "smoke", 2,
                   lambda rng: [(smooth_trajectory(rng, 40, 1), segments) for segments in SONG_SEGMENTS],
                   citation="motifbench tests")


def raises(seed: int) -> Stream:
    raise RuntimeError("no data for this seed")


def not_a_stream(seed: int) -> list:
    return [np.zeros((5, 1))]


def _stream(name: str, targets: list[np.ndarray], seed: int = 0) -> Stream:
    return Stream(name, seed, tuple(Motif(k, t) for k, t in enumerate(targets)), "a test stream", "tests", "smoke")


def constant_motif(seed: int) -> Stream:
    stream = _stream("outside-flat-v1", [np.linspace(0, 1, 10)[:, None]])
    object.__setattr__(stream.motifs[0], "target", np.ones((10, 1), dtype=np.float32))  # past Motif's own check
    return stream


def named_like_a_registered_stream(seed: int) -> Stream:
    return _stream("smoke-v1", [np.linspace(0, 1, 10)[:, None]])


def name_depends_on_seed(seed: int) -> Stream:
    return _stream(f"outside-seed{seed}", [np.linspace(0, 1, 10)[:, None]], seed)
