"""Streams with the structure of behaviour: songs with history, a piece of music, recorded gestures.

- ``birdsong-v1``: K songs built from one shared repertoire of syllables. A song's next syllable
  depends on more than the current one (its Markov order is at least 2), as in the songs that
  Völk, Kriener et al. 2024 (arXiv 2402.16763, "Order from chaos"; ELiSe) learn.
- ``elise-v1``: that paper's one-song demonstration, the opening of Beethoven's "Für Elise"
  (encoding: ``fur_elise``).
- ``gestures10-v1``: ten recorded human pick-up gestures: the UCR archive's
  PickupGestureWiimoteZ, whose ten classes are ten people picking up a Wiimote; each motif is
  one person's mean z-axis acceleration. The derived file ``data/gestures10-v1.json``, in the
  stream-file format (``sources.py``), is made by ``scripts/make_gestures.py``, which gives the
  preprocessing. Its sha256 is pinned here, so it is read without further checks.

Each syllable of a song (each 10 ms note step of "Für Elise") is a ``Segment`` of its motif,
so the evaluator can score the branches: syllables that follow an ambiguous predecessor.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from .streams import Segment, StreamSpec, after_branch, markov_order, smooth_trajectory

SYLLABLES = "ABCDEF"  # the birdsong repertoire
SYLLABLE_STEPS = 15  # samples per syllable: 3 tau
SONG_SYLLABLES = 10  # syllables per song
SONGS = 4  # K
BRANCH_FRACTION = 0.3  # at least this fraction of a song's syllables (with a successor) are branches


def birdsong(rng: np.random.Generator) -> list[tuple[np.ndarray, list[Segment]]]:
    """``SONGS`` songs, each (SONG_SYLLABLES * SYLLABLE_STEPS, 3) with its syllable segments.

    The repertoire: one smooth 3-channel trajectory of 3 tau per syllable (per channel two
    sinusoids of 0.5-1.5 cycles under a sine envelope: ``smooth_trajectory``), starting and
    ending at 0, so that syllables join smoothly. A song is a random sequence of
    syllables without immediate repeats, redrawn until at least ``BRANCH_FRACTION`` of its
    syllables that have a successor are branches (another occurrence of the same syllable has a
    different successor), which makes H(next | current) > 0 and the Markov order >= 2; songs
    are distinct. Every syllable has unit peak, so every song has too."""
    repertoire = {label: smooth_trajectory(rng, SYLLABLE_STEPS, 3, n_sines=2, max_cycles=1.5) for label in SYLLABLES}
    songs: list[list[str]] = []
    while len(songs) < SONGS:
        labels = [str(rng.choice(list(SYLLABLES)))]
        while len(labels) < SONG_SYLLABLES:
            labels.append(str(rng.choice([s for s in SYLLABLES if s != labels[-1]])))
        if after_branch(labels)[1:].mean() >= BRANCH_FRACTION and markov_order(labels) >= 2 and labels not in songs:
            songs.append(labels)
    made = []
    for labels in songs:
        target = np.concatenate([repertoire[label] for label in labels])
        segments = [Segment(i * SYLLABLE_STEPS, (i + 1) * SYLLABLE_STEPS, label) for i, label in enumerate(labels)]
        made.append((target, segments))
    return made


# "Für Elise" (WoO 59), bars 0-4 from the score: the pick-up, bar 1, and bars 2-4 up to the E5
# before the repeat, one step per sixteenth note (25 steps). Each step lists the notes sounding.
# The 13 channels are the pitches that occur, low to high; the left hand's E2 of bar 3 is played
# on the E3 channel (an octave apart; 13 channels, as in the paper).
ELISE_PITCHES = ("A2", "E3", "G#3", "A3", "C4", "E4", "G#4", "A4", "B4", "C5", "D5", "D#5", "E5")
ELISE_STEPS = (
    "E5", "D#5",                                                      # pick-up
    "E5", "D#5", "E5", "B4", "D5", "C5",                              # bar 1
    "A4 A2", "A4 E3", "A3", "C4", "E4", "A4",                         # bar 2: A minor
    "B4 E3", "B4 E3", "G#3", "E4", "G#4", "B4",                       # bar 3: E major (E2 on E3)
    "C5 A2", "C5 E3", "A3", "E4", "E5",                               # bar 4, to the repeat
)
ELISE_STEP_SAMPLES = 5  # 10 ms per note step at dt = 2 ms, as in the paper
ELISE_RAMP = (0.5 - 0.5 * np.cos(np.pi * np.arange(1, 4) / 4))  # a channel's first 3 samples after a change


def fur_elise(rng: np.random.Generator | None = None) -> list[tuple[np.ndarray, list[Segment]]]:
    """One motif (125, 13): channel c is on (1) while its pitch sounds and off (0) otherwise.

    The paper's target potentials are -70 mV off and -50 mV on (u = E_l + 20 mV * level). A
    change of level ramps over the first 3 of a step's 5 samples by a raised cosine (0.15, 0.5,
    0.85 of the way), then holds; a note held into the next step (on to on) stays at 1. Each
    10-ms step is a segment labelled by its notes. The same for every seed."""
    levels = np.array([[pitch in step.split() for pitch in ELISE_PITCHES] for step in ELISE_STEPS], dtype=float)
    target = np.repeat(levels, ELISE_STEP_SAMPLES, axis=0)
    previous = np.vstack([np.zeros(len(ELISE_PITCHES)), levels[:-1]])
    for i, (before, after) in enumerate(zip(previous, levels)):
        start = i * ELISE_STEP_SAMPLES
        target[start:start + len(ELISE_RAMP)] = before + np.outer(ELISE_RAMP, after - before)
    segments = [Segment(i * ELISE_STEP_SAMPLES, (i + 1) * ELISE_STEP_SAMPLES, step.replace(" ", "+"))
                for i, step in enumerate(ELISE_STEPS)]
    return [(target, segments)]


DATA = Path(__file__).parent / "data"
GESTURES_FILE = DATA / "gestures10-v1.json"
GESTURES_SHA256 = "e7bffda546c5cc1c98119de2150b2070b0c8e220d0fe2c07c3d467e15feee847"
GESTURES_DT, GESTURES_TAU = 0.0243, 0.1215  # s, as the file states them: 100 Hz recordings, see the script
GESTURES_THETA = 0.2  # as the file states it: 4 x joint's worst nmse from rest (0.052 over seeds 0-2)


def gestures(rng: np.random.Generator | None = None) -> list[np.ndarray]:
    """The ten gesture motifs (60, 1) of the packaged stream file; a ValueError if the file is
    not the one pinned by ``GESTURES_SHA256`` (whose dt, tau and theta are the constants above:
    a test checks that they agree)."""
    data = GESTURES_FILE.read_bytes() if GESTURES_FILE.is_file() else b""
    if hashlib.sha256(data).hexdigest() != GESTURES_SHA256:
        raise ValueError(f"stream gestures10-v1: the packaged file {GESTURES_FILE.name} is missing or changed "
                         f"(its sha256 is not the pinned one); reinstall motifbench")
    return [np.array(motif, dtype=np.float64) for motif in json.loads(data)["motifs"]]


SONG_CITATION = ("Völk, Kriener, von Hünerbein, Benitez, Senn & Petrovici 2024, Order from chaos / ELiSe, "
                 "arXiv:2402.16763")
BEHAVIOUR_STREAMS: dict[str, StreamSpec] = {
    spec.name: spec
    for spec in (
        StreamSpec(
            "birdsong-v1",
            f"{SONGS} non-Markovian songs of {SONG_SYLLABLES} syllables (3 tau each, 3-D) from one repertoire of "
            f"{len(SYLLABLES)}",
            "standard",
            SONGS,
            birdsong,
            citation=SONG_CITATION,
            theta=0.2,  # 4 x joint's worst nmse from rest (0.052 over seeds 0-2)
        ),
        StreamSpec(
            "gestures10-v1",
            "ten people's Wiimote pick-up gestures (UCR PickupGestureWiimoteZ), one class mean each: z-axis "
            "acceleration in g minus gravity, 60 samples over 1.46 s",
            "standard",
            10,
            gestures,
            citation="Guna, Humar & Pogačnik 2012, Intuitive gesture based user identification system, TSP 2012; "
                     "Dau et al. 2019, The UCR time series archive, IEEE/CAA J. Autom. Sinica 6(6):1293-1305",
            dt=GESTURES_DT,
            tau=GESTURES_TAU,
            theta=GESTURES_THETA,
        ),
        StreamSpec(
            "elise-v1",
            "the opening of Für Elise: 13 pitch channels, 25 note steps of 10 ms, on/off with smooth ramps",
            "standard",
            1,
            fur_elise,
            citation=f"{SONG_CITATION}; L. van Beethoven, Für Elise, WoO 59",
            theta=0.04,  # 4 x finetune's (= joint's, with one motif) worst nmse from rest (0.0099 over seeds 0-2)
        ),
    )
}
