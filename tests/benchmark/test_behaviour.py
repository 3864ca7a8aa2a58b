"""Streams with the structure of behaviour (motifbench.behaviour): songs with history
(birdsong-v1), the opening of Für Elise (elise-v1) and the packaged recorded gestures
(gestures10-v1); and the song primitives of motifbench.streams they are built on (``Segment``,
``conditional_entropy``, ``markov_order``, ``after_branch``, ``Stream.songs``), against small
hand-computed examples.

A song's history is checked here from its segments' labels with the primitives, not taken from
the generator's own bookkeeping.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path

import numpy as np
import pytest

from motifbench import behaviour
from motifbench.registry import STREAMS
from motifbench.sources import StreamError, resolve
from motifbench.streams import Motif, Segment, Stream, after_branch, conditional_entropy, markov_order

BIRDSONG_SEEDS = (0, 1, 2)
NEW_STREAMS = ("birdsong-v1", "elise-v1", "gestures10-v1")


@functools.cache
def built(name: str, seed: int = 0) -> Stream:
    """A registered stream, built once per test session."""
    return STREAMS[name].build(seed)


def labels_of(motif: Motif) -> list[str]:
    return [segment.label for segment in motif.segments]


SONGS = [pytest.param("birdsong-v1", seed, k, id=f"birdsong-v1-seed{seed}-song{k}")
         for seed in BIRDSONG_SEEDS for k in range(behaviour.SONGS)]
SONGS.append(pytest.param("elise-v1", 0, 0, id="elise-v1"))


# ----------------------------------------------------------------------------------------------
# the primitives of streams.py
# ----------------------------------------------------------------------------------------------

# A B A C: after A comes B once and C once, after B comes A. So H(next | current) is 1 bit at the
# 2 positions with context A and 0 at the 1 with context B: 2/3 bit. With two labels of context
# (A B -> A, B A -> C) the next label is fixed: Markov order 2.
ABAC = ["A", "B", "A", "C"]


def test_conditional_entropy_of_a_hand_worked_song():
    assert conditional_entropy(ABAC, 1) == pytest.approx(2 / 3)
    # no context: A twice, B and C once each: 0.5 * 1 + 2 * 0.25 * 2 = 1.5 bits
    assert conditional_entropy(ABAC, 0) == pytest.approx(1.5)
    assert conditional_entropy(ABAC, 2) == 0.0
    assert conditional_entropy(["A", "B"], 2) == 0.0  # no position has two labels before it


@pytest.mark.parametrize("labels, order", [(ABAC, 2), (["A", "B", "C"], 1), (["A", "B", "A", "B"], 1),
                                           (["A"], 0)])
def test_markov_order_is_the_shortest_context_that_fixes_the_next_label(labels: list[str], order: int):
    assert markov_order(labels) == order


def test_after_branch_marks_the_syllables_that_follow_an_ambiguous_one():
    # A is followed by B and by C: a branch point; B always by A
    np.testing.assert_array_equal(after_branch(ABAC), [False, True, False, True])
    np.testing.assert_array_equal(after_branch(["A", "B", "A", "B"]), [False, False, False, False])
    assert after_branch(ABAC).dtype == bool


def ramp(n: int = 10) -> np.ndarray:
    """A non-constant 1-D target of n samples."""
    return np.linspace(0.0, 1.0, n)[:, None]


@pytest.mark.parametrize(
    "segments",
    [
        pytest.param([(0, 4, "A"), (3, 6, "B")], id="overlapping"),
        pytest.param([(4, 6, "A"), (0, 4, "B")], id="out-of-order"),
        pytest.param([(0, 11, "A")], id="past-the-end"),
        pytest.param([(-1, 4, "A")], id="negative-start"),
        pytest.param([(3, 3, "A")], id="empty-range"),
        pytest.param([(0.0, 4, "A")], id="start-not-an-integer"),
        pytest.param([(0, 4, "")], id="empty-label"),
        pytest.param([(0, 4, 7)], id="label-not-text"),
    ],
)
def test_a_bad_segment_is_a_value_error(segments: list[tuple]):
    with pytest.raises(ValueError, match="motif 0: .*segment"):
        Motif(0, ramp(10), segments=tuple(segments))


def test_good_segments_become_segments_in_order_and_need_not_tile_the_motif():
    motif = Motif(0, ramp(10), segments=((0, 4, "A"), Segment(6, 10, "B")))
    assert motif.segments == (Segment(0, 4, "A"), Segment(6, 10, "B"))
    assert Motif(1, ramp(10)).segments == ()


def song_stream(labels: list[str], seed: int = 0) -> Stream:
    """A one-motif stream whose syllables of 5 samples are named ``labels``."""
    segments = tuple(Segment(5 * i, 5 * i + 5, label) for i, label in enumerate(labels))
    return Stream("songs-test", seed, (Motif(0, ramp(5 * len(labels)), segments=segments),), "", "", "smoke")


def test_content_hash_changes_when_only_a_label_changes():
    first = song_stream(["A", "B", "A", "C"]).content_hash
    assert song_stream(["A", "B", "A", "C"]).content_hash == first
    assert song_stream(["A", "B", "A", "D"]).content_hash != first
    plain = Stream("songs-test", 0, (Motif(0, ramp(20)),), "", "", "smoke")
    assert plain.content_hash != first  # the segments themselves count


def test_stream_songs_reports_each_song_and_skips_motifs_without_segments():
    song = song_stream(ABAC).motifs[0]
    stream = Stream("songs-test", 0, (Motif(0, ramp(7)), dataclasses.replace(song, motif_id=1)), "", "", "smoke")
    assert stream.songs == [{"motif": 1, "syllables": 4, "markov_order": 2,
                             "next_entropy_bits": pytest.approx(2 / 3)}]
    assert built("smoke-v1").songs == []


# ----------------------------------------------------------------------------------------------
# every song: history, branches, segments
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, seed, k", SONGS)
def test_a_song_needs_more_than_the_current_syllable_to_go_on(name: str, seed: int, k: int):
    labels = labels_of(built(name, seed).motifs[k])
    assert markov_order(labels) >= 2
    assert conditional_entropy(labels, 1) > 0


@pytest.mark.parametrize("name, seed, k", SONGS)
def test_at_least_30_percent_of_a_songs_syllables_with_a_successor_are_branch_points(name: str, seed: int, k: int):
    labels = labels_of(built(name, seed).motifs[k])
    # syllable i (of those with a successor, i < n - 1) is a branch point iff syllable i + 1 is after one
    assert after_branch(labels)[1:].mean() >= 0.3


@pytest.mark.parametrize("name, seed, k", SONGS)
def test_a_songs_segments_tile_its_motif(name: str, seed: int, k: int):
    motif = built(name, seed).motifs[k]
    starts = [segment.start for segment in motif.segments]
    stops = [segment.stop for segment in motif.segments]
    assert starts == [0, *stops[:-1]] and stops[-1] == motif.n_steps


@pytest.mark.parametrize("name, seed, k", SONGS)
def test_stream_songs_reports_what_the_labels_give(name: str, seed: int, k: int):
    labels = labels_of(built(name, seed).motifs[k])
    song = built(name, seed).songs[k]
    assert song == {"motif": k, "syllables": len(labels), "markov_order": markov_order(labels),
                    "next_entropy_bits": pytest.approx(conditional_entropy(labels, 1))}


@pytest.mark.parametrize("name", ["birdsong-v1", "elise-v1"])
def test_a_song_stream_has_at_least_three_channels(name: str):
    assert built(name).d_out >= 3


# ----------------------------------------------------------------------------------------------
# birdsong-v1
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", BIRDSONG_SEEDS)
def test_birdsong_has_its_songs_of_8_to_16_syllables(seed: int):
    stream = built("birdsong-v1", seed)
    assert len(stream.motifs) == behaviour.SONGS == 4
    assert all(8 <= len(motif.segments) <= 16 for motif in stream.motifs)
    assert [song["syllables"] for song in stream.songs] == [len(motif.segments) for motif in stream.motifs]


@pytest.mark.parametrize("seed", BIRDSONG_SEEDS)
def test_birdsong_songs_share_one_repertoire(seed: int):
    """Every occurrence of a label, in every song of the stream, has one waveform, and two
    labels never share theirs."""
    repertoire: dict[str, np.ndarray] = {}
    for motif in built("birdsong-v1", seed).motifs:
        for segment in motif.segments:
            waveform = motif.target[segment.start:segment.stop]
            np.testing.assert_array_equal(repertoire.setdefault(segment.label, waveform), waveform,
                                          err_msg=segment.label)
    assert len(repertoire) >= 2
    waveforms = list(repertoire.values())
    assert all(not np.array_equal(a, b) for i, a in enumerate(waveforms) for b in waveforms[i + 1:])


@pytest.mark.parametrize("seed", BIRDSONG_SEEDS)
def test_birdsong_syllables_start_and_end_near_zero(seed: int):
    for motif in built("birdsong-v1", seed).motifs:
        for segment in motif.segments:
            ends = motif.target[[segment.start, segment.stop - 1]]
            assert np.abs(ends).max() <= 1e-3, (motif.motif_id, segment)


# ----------------------------------------------------------------------------------------------
# elise-v1
# ----------------------------------------------------------------------------------------------


def elise_target() -> np.ndarray:
    return built("elise-v1").motifs[0].target


def test_elise_is_one_motif_of_13_channels_each_on_somewhere():
    stream = built("elise-v1")
    assert len(stream.motifs) == 1 and elise_target().shape == (125, 13)
    assert elise_target().min() >= 0.0 and elise_target().max() <= 1.0
    np.testing.assert_array_equal(elise_target().max(axis=0), 1.0)


def test_elise_is_the_same_stream_for_every_seed():
    zero, one = built("elise-v1", 0), built("elise-v1", 1)
    np.testing.assert_array_equal(one.motifs[0].target, zero.motifs[0].target)
    assert one.motifs[0].segments == zero.motifs[0].segments
    assert dataclasses.replace(one, seed=0).content_hash == zero.content_hash  # only the seed differs


def test_elise_has_25_note_steps_of_5_samples_named_by_their_notes():
    segments = built("elise-v1").motifs[0].segments
    assert len(segments) == len(behaviour.ELISE_STEPS) == 25
    assert all(segment.stop - segment.start == 5 for segment in segments)
    assert [segment.label for segment in segments] == [step.replace(" ", "+") for step in behaviour.ELISE_STEPS]


def test_elise_holds_each_steps_notes_on_and_the_others_off_at_the_end_of_the_step():
    levels = elise_target()[4::5]  # the last sample of each step, after its ramp
    for i, step in enumerate(behaviour.ELISE_STEPS):
        expected = [float(pitch in step.split()) for pitch in behaviour.ELISE_PITCHES]
        np.testing.assert_array_equal(levels[i], expected, err_msg=f"step {i}: {step}")


def test_elise_ramps_a_change_over_three_samples_and_holds_a_repeated_note():
    e5, b4 = behaviour.ELISE_PITCHES.index("E5"), behaviour.ELISE_PITCHES.index("B4")
    # step 0 is E5, step 1 D#5: E5 rises by a raised cosine over 3 samples and holds, then falls
    np.testing.assert_allclose(elise_target()[:10, e5], [0.1464, 0.5, 0.8536, 1, 1, 0.8536, 0.5, 0.1464, 0, 0],
                               atol=1e-4)
    assert elise_target()[2, e5] < 1.0  # the middle sample of step 0 is still rising
    # steps 14 and 15 both sound B4 (with E3): it stays on across the change of step
    assert behaviour.ELISE_STEPS[14] == behaviour.ELISE_STEPS[15] == "B4 E3"
    np.testing.assert_array_equal(elise_target()[73:80, b4], 1.0)


# ----------------------------------------------------------------------------------------------
# determinism of the three new streams
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NEW_STREAMS)
def test_a_new_stream_is_the_same_when_built_twice(name: str):
    assert STREAMS[name].build(0).content_hash == STREAMS[name].build(0).content_hash


def test_another_seed_gives_other_birdsong():
    zero, one = built("birdsong-v1", 0), built("birdsong-v1", 1)
    assert zero.content_hash != one.content_hash
    assert not all(np.array_equal(a.target, b.target) for a, b in zip(zero.motifs, one.motifs))
    assert [labels_of(m) for m in zero.motifs] != [labels_of(m) for m in one.motifs]


# ----------------------------------------------------------------------------------------------
# gestures10-v1: the packaged file, pinned
# ----------------------------------------------------------------------------------------------


def test_gestures_are_the_files_ten_one_channel_motifs_on_its_timebase_and_threshold():
    stream = built("gestures10-v1")
    content = json.loads(behaviour.GESTURES_FILE.read_text())
    assert len(stream.motifs) == 10 and all(m.target.shape == (60, 1) for m in stream.motifs)
    for motif, recorded in zip(stream.motifs, content["motifs"]):
        np.testing.assert_allclose(motif.target, recorded, rtol=0, atol=1e-6)
    # the spec states the file's fields again: they must agree
    timebase = (behaviour.GESTURES_DT, behaviour.GESTURES_TAU)
    assert (content["dt"], content["tau"]) == timebase
    assert all((motif.dt, motif.tau) == timebase for motif in stream.motifs)
    assert content["theta"] == behaviour.GESTURES_THETA == stream.theta
    assert content["name"] == stream.name and stream.songs == []


def one_byte_changed(data: bytes) -> bytes:
    """``data`` with its last digit replaced by another (still a valid stream file)."""
    i = max(i for i, byte in enumerate(data) if chr(byte).isdigit())
    return data[:i] + (b"2" if data[i:i + 1] == b"1" else b"1") + data[i + 1:]


@pytest.mark.parametrize("change", ["one byte changed", "missing"])
def test_a_changed_or_missing_gestures_file_is_a_one_line_stream_error(tmp_path: Path, monkeypatch, change: str):
    copy = tmp_path / behaviour.GESTURES_FILE.name
    if change != "missing":
        copy.write_bytes(one_byte_changed(behaviour.GESTURES_FILE.read_bytes()))
        assert len(copy.read_bytes()) == len(behaviour.GESTURES_FILE.read_bytes())
    monkeypatch.setattr(behaviour, "GESTURES_FILE", copy)
    with pytest.raises(StreamError, match="gestures10-v1") as error:
        resolve("gestures10-v1").build(0)
    assert "\n" not in str(error.value)

