"""Streams from outside motifbench (motifbench.sources): a stream file of recorded motifs and
``package.module:attr`` work in ``run`` (with ``-j 2``), ``check``, ``regress`` and
``leaderboard`` with figures; records name the source; bad data is one line before any method
runs; a stream carries its own timebase."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from motifbench import registry
from motifbench.cli import main
from motifbench.evaluator import EvalConfig, stream_info
from motifbench.sources import StreamError, resolve
from motifbench.streams import Motif, Stream

HERE = Path(__file__).parent


@pytest.fixture
def outside(monkeypatch):
    """``outside_streams:ATTR`` importable here and in method processes."""
    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.delitem(sys.modules, "outside_streams", raising=False)


def recorded(**changes):
    """The content of a stream file: 3 recorded 2-D motifs of 30, 40 and 35 samples at 250 Hz."""
    t = [np.linspace(0, 1, n) for n in (30, 40, 35)]
    motifs = [np.stack([np.sin(np.pi * x) * (k + 1) / 3, np.sin(2 * np.pi * x) * 0.5], axis=1).round(4).tolist()
              for k, x in enumerate(t)]
    content = {"format": "motifbench-stream", "format_version": 1, "name": "gestures-test-v1",
               "description": "three recorded 2-D gestures (a test file)", "citation": "motifbench tests",
               "sampling_rate": 250, "tau": 0.01, "tier": "smoke", "motifs": motifs}
    return {key: value for key, value in {**content, **changes}.items() if value is not None}


def write(path: Path, content) -> str:
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


def test_a_stream_file_gives_its_motifs_timebase_and_metadata(tmp_path):
    ref = write(tmp_path / "gestures.json", recorded())
    source = resolve(ref)
    assert (source.kind, source.name, source.tier, source.n_motifs) == ("file", "gestures-test-v1", "smoke", 3)
    assert source.origin == {"kind": "file", "ref": ref, "sha256": hashlib.sha256(Path(ref).read_bytes()).hexdigest()}
    zero, one = source.build(0), source.build(1)
    assert [m.n_steps for m in zero.motifs] == [30, 40, 35] and zero.d_out == 2
    assert zero.motifs[0].dt == pytest.approx(0.004) and zero.motifs[0].tau == 0.01
    assert stream_info(zero, EvalConfig()).n_prep == 25  # 10 tau of preparation at dt = 0.4 tau
    assert zero.citation == "motifbench tests" and (zero.seed, one.seed) == (0, 1)
    assert all(np.array_equal(a.target, b.target) for a, b in zip(zero.motifs, one.motifs))


@pytest.mark.parametrize(
    "content, words",
    [
        ("{not json", "is unreadable or not JSON"),
        (recorded(format="csv"), "not a motifbench-stream file"),
        (recorded(format_version=2), "format_version 2"),
        (recorded(sampling_rate=None), "needs exactly one of dt and sampling_rate"),
        (recorded(dt=0.004), "needs exactly one of dt and sampling_rate"),
        (recorded(citation=None), "lacks citation"),
        (recorded(tau=-1), "must be positive numbers"),
        (recorded(sampling_rate=10), "0 < dt <= tau"),  # dt = 0.1 s > tau: the Euler step would blow up
        (recorded(name="my gestures"), "is not plain"),
        (recorded(name="smooth10-v1"), "that of a stream motifbench registers"),
        (recorded(tier="gold"), "tier 'gold' is not one of"),
        (recorded(motifs=[]), "no motifs"),
        (recorded(motifs=[[[0.0, 1.0], [1.0, 0.0]], [[0.0], [1.0]]]), "disagree on d_out"),
        (recorded(motifs=[[[1.0], [1.0], [1.0]]]), "target is constant"),
        (recorded(motifs=[[[0.0], [1.0], ["high"]]]), "could not convert"),
        (recorded(motifs=[[[0.0], [1e400]]]), "non-finite"),
        (recorded(motifs=[[0.0, 1.0, 2.0]]), "must be (T >= 2, d_out >= 1)"),
    ],
)
def test_a_bad_stream_file_is_one_line_and_nothing_runs(tmp_path, capsys, content, words):
    ref = write(tmp_path / "bad.json", content)
    with pytest.raises(StreamError) as error:
        resolve(ref)
    assert words in str(error.value) and ref in str(error.value) and "\n" not in str(error.value)
    capsys.readouterr()
    assert main(["run", "--stream", ref, "--method", "zero", "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.startswith("error: ") and not (tmp_path / "out").exists()


def test_an_unknown_stream_names_what_a_stream_can_be():
    with pytest.raises(registry.UnknownNameError, match="unknown stream 'walking'; known: birdsong-v1, .* "
                                                         r"\(or package.module:attr, or the path of a stream file\)"):
        resolve("walking")


def test_a_stream_from_code_is_made_in_a_process_of_its_own_with_its_timebase(outside):
    spec, function = resolve("outside_streams:WAVES"), resolve("outside_streams:waves_for_seed")
    assert (spec.kind, spec.name, spec.n_motifs, spec.tier) == ("module", "outside-waves-v1", 3, "smoke")
    assert spec.build(2).content_hash == function.build(2).content_hash != spec.build(0).content_hash
    motif = spec.build(0).motifs[0]
    assert (motif.dt, motif.tau, motif.n_steps) == (0.002, 0.02, 40)
    assert "outside_streams" not in sys.modules  # its code ran elsewhere, not in this trusted process


@pytest.mark.parametrize(
    "attr, words",
    [
        ("raises", "stream outside_streams:raises: stream raised RuntimeError: no data for this seed"),
        ("not_a_stream", "made list, expected a motifbench Stream"),
        ("constant_motif", "target is constant"),
        ("named_like_a_registered_stream", "that of a stream motifbench registers"),
        ("no_such_attr", "has no attribute 'no_such_attr'"),
    ],
)
def test_a_broken_stream_from_code_is_one_line(outside, attr, words):
    with pytest.raises(StreamError) as error:
        resolve(f"outside_streams:{attr}")
    assert words in str(error.value) and "\n" not in str(error.value)


def test_a_stream_from_code_must_keep_its_name_across_seeds(outside, tmp_path, capsys):
    assert main(["run", "--stream", "outside_streams:name_depends_on_seed", "--method", "zero", "--seeds", "0,1",
                 "--out", str(tmp_path / "out")]) == 2
    assert "seed 1 made a stream named 'outside-seed1'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_recorded_stream_file_runs_checks_regresses_and_draws(tmp_path, capsys):
    """The issue's must-show: a stream file written here, through ``run -j 2``, ``check``,
    ``regress`` and ``leaderboard`` with figures, with no wrapper script."""
    ref = write(tmp_path / "gestures.json", recorded())
    records, board = tmp_path / "records", tmp_path / "board"
    assert main(["run", "--stream", ref, "--method", "zero,thalamocortical", "--seeds", "0,1", "-j", "2",
                 "--out", str(records)]) == 0
    record = json.loads((records / "gestures-test-v1" / "thalamocortical" / "seed1.json").read_text())
    assert record["stream"]["source"] == resolve(ref).origin and record["stream"]["dt"] == pytest.approx(0.004)
    assert record["metrics"]["final_r2"] > 0.9  # it learned the recorded motifs
    zero = json.loads((records / "gestures-test-v1" / "zero" / "seed0.json").read_text())["metrics"]["final_r2"]
    capsys.readouterr()
    assert main(["check", "-m", "zero", "--stream", ref]) == 1  # zero learns nothing: it is its own bar
    assert f"final_r2 {zero:.3f}" in capsys.readouterr().out  # checked on the file's stream
    targets = tmp_path / "targets.csv"
    targets.write_text(f'stream,method,metric,seeds,n,mean,sem\n{ref},thalamocortical,final_r2,"0,1",2,0.9,0.01\n')
    assert main(["regress", "--tier", "smoke", "--targets", str(targets), "--from-records", str(records)]) == 0
    capsys.readouterr()
    assert main(["leaderboard", "--results", str(records), "--out", str(board)]) == 0
    assert {p.name for p in (board / "figures").glob("*.png")} == {f"gestures-test-v1-{kind}.png"
                                                     for kind in ("R", "transitions", "traces", "robustness", "spectra")}
    Path(ref).write_text(json.dumps(recorded(tau=0.02)))  # other data under the same path: the figures refuse
    assert main(["leaderboard", "--results", str(records), "--out", str(tmp_path / "b2")]) == 2
    assert "now makes" in capsys.readouterr().err


def test_a_stream_from_code_runs_and_draws(outside, tmp_path):
    records, board = tmp_path / "records", tmp_path / "board"
    assert main(["run", "--stream", "outside_streams:WAVES", "--method", "zero", "--seeds", "0,1", "-j", "2",
                 "--out", str(records)]) == 0
    record = json.loads((records / "outside-waves-v1" / "zero" / "seed0.json").read_text())
    assert record["stream"]["source"] == {"kind": "module", "ref": "outside_streams:WAVES"}
    assert (record["stream"]["dt"], record["stream"]["tau"]) == (0.002, 0.02)
    assert main(["leaderboard", "--results", str(records), "--out", str(board)]) == 0
    assert (board / "figures" / "outside-waves-v1-traces.png").exists()


# ----------------------------------------------------------------------------------------------
# songs: syllable segments in a stream file and from outside code
# ----------------------------------------------------------------------------------------------

SEGMENTS = [[[0, 10, "A"], [10, 30, "B"]], [[0, 40, "A"]], []]  # motif 2 is not a song


def test_a_stream_files_segments_arrive_with_its_motifs(tmp_path):
    stream = resolve(write(tmp_path / "songs.json", recorded(segments=SEGMENTS))).build(0)
    assert [[[s.start, s.stop, s.label] for s in motif.segments] for motif in stream.motifs] == SEGMENTS
    assert [song["motif"] for song in stream.songs] == [0, 1]
    plain = resolve(write(tmp_path / "plain.json", recorded())).build(0)
    assert plain.content_hash != stream.content_hash  # the segments are part of the data


def test_a_stream_file_without_segments_hashes_as_a_stream_made_without_them(tmp_path):
    content = recorded()
    stream = resolve(write(tmp_path / "plain.json", content)).build(0)
    dt = 1.0 / content["sampling_rate"]
    motifs = tuple(Motif(k, np.round(np.asarray(target, dtype=np.float64), 4), dt, content["tau"])
                   for k, target in enumerate(content["motifs"]))
    assert stream.content_hash == Stream(content["name"], 0, motifs, "", "", "smoke").content_hash
    assert all(motif.segments == () for motif in stream.motifs)
    assert resolve(write(tmp_path / "empty.json", recorded(segments=[[], [], []]))).build(0).content_hash == \
        stream.content_hash  # no syllables listed is no segments


@pytest.mark.parametrize(
    "segments, words",
    [
        pytest.param([[[0, 10, "A"]], []], "one list of [start, stop, label] per motif", id="too-few-motifs"),
        pytest.param({"0": []}, "one list of [start, stop, label] per motif", id="not-a-list"),
        pytest.param([[[0, 10]], [], []], "one list of [start, stop, label] per motif", id="not-a-triple"),
        pytest.param([[{"start": 0}], [], []], "one list of [start, stop, label] per motif", id="an-object"),
        pytest.param([[[0, 10, "A"], [5, 15, "B"]], [], []], "motif 0: segment 5..15 is not a range", id="overlapping"),
        pytest.param([[], [[0, 41, "A"]], []], "motif 1: segment 0..41", id="past-the-end"),
        pytest.param([[[0, 10.5, "A"]], [], []], "motif 0: segment 0..10.5", id="not-an-integer"),
        pytest.param([[[0, 10, ""]], [], []], "label must be non-empty text", id="empty-label"),
        pytest.param([[[0, 10, 3]], [], []], "label must be non-empty text", id="label-not-text"),
    ],
)
def test_bad_segments_in_a_stream_file_are_one_line(tmp_path, segments, words):
    ref = write(tmp_path / "bad.json", recorded(segments=segments))
    with pytest.raises(StreamError) as error:
        resolve(ref)
    assert words in str(error.value) and ref in str(error.value) and "\n" not in str(error.value)


def test_a_stream_from_code_sends_its_segments_from_its_own_process(outside):
    spec = importlib.util.spec_from_file_location("outside_streams_here", HERE / "outside_streams.py")
    here = importlib.util.module_from_spec(spec)  # loaded under another name, not in sys.modules
    spec.loader.exec_module(here)
    stream = resolve("outside_streams:SONGS").build(0)
    assert [motif.segments for motif in stream.motifs] == list(here.SONG_SEGMENTS)
    assert stream.content_hash == here.SONGS.build(0).content_hash
    assert "outside_streams" not in sys.modules
