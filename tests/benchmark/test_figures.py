"""Leaderboard figures (motifbench.figures): five PNGs per stream, byte-identical for the same
records, refused for records of another version of the stream.

Two real records (the zero method on smoke-v1, a cheap evaluation) are written once; the other
entries are edited copies of them: NaN in R, one motif, no damage curve, no traces, a spectrum.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
import torch

from motifbench import leaderboard, metrics, results
from motifbench.cli import main
from motifbench.figures import stream_figures
from motifbench.results import RecordError

STREAM = "smoke-v1"
KINDS = ["R", "transitions", "traces", "robustness", "spectra"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SMALL_EVAL = ["--set", "eval.n_sequences=3", "--set", "eval.sequence_length=3", "--set", "eval.transition_repeats=2"]


@pytest.fixture(scope="module")
def records(tmp_path_factory) -> list[dict]:
    """The zero method's records on smoke-v1, seeds 0 and 1."""
    out = tmp_path_factory.mktemp("results")
    threads = torch.get_num_threads()  # ``run`` sets torch's thread count for the whole process
    try:
        assert main(["run", "--stream", STREAM, "--method", "zero", "--seeds", "0,1", "--out", str(out), *SMALL_EVAL]) == 0
    finally:
        torch.set_num_threads(threads)
    paths = sorted((out / STREAM / "zero").glob("seed*.json"))
    return [results.read_record(path) for path in paths]


def edited(records: list[dict], **fields) -> list[dict]:
    """Copies of ``records`` with ``fields`` replaced (a field set to None is removed)."""
    copies = copy.deepcopy(records)
    for record in copies:
        for key, value in fields.items():
            if value is None:
                del record[key]
            else:
                record[key] = value
    return copies


@pytest.fixture(scope="module")
def entries(records) -> dict[str, list[dict]]:
    """Six entries that exercise the edge cases, over two rows of heat maps."""
    no_damage = edited(records)
    for record in no_damage:
        record["curves"].pop("final_r2_vs_damage", None)
    nan_r = edited(records)
    nan_r[0]["R"][2][0] = None
    return {
        leaderboard.entry_name(records[0]): records,
        "nan in R": nan_r,
        "all nan [x=1]": edited(records, R=[[None] * 3 for _ in range(3)]),
        "one motif": edited(records, R=[[0.5]], transition_matrix=[[None]]),
        "no damage curve": no_damage,
        "no traces": edited(records, traces=None),
        "a spectrum": with_spectra(records),
    }


def with_spectra(records: list[dict]) -> list[dict]:
    """Copies of ``records`` with the spectrum of a random 12 x 12 matrix each."""
    rng = np.random.default_rng(0)
    return [{**record, "spectrum": metrics.spectrum_summary(rng.normal(0, 0.4, (12, 12)))} for record in records]


def draw(entries: dict[str, list[dict]], out: Path) -> dict[str, bytes]:
    names = stream_figures(entries, STREAM, out)
    assert names == [f"{STREAM}-{kind}.png" for kind in KINDS]
    return {name: (out / name).read_bytes() for name in names}


def test_five_valid_pngs_byte_identical_when_drawn_twice(entries, tmp_path):
    first = draw(entries, tmp_path / "a")
    for name, content in first.items():
        assert content[:8] == PNG_SIGNATURE, name
        image = matplotlib.image.imread(tmp_path / "a" / name)
        assert image.ndim == 3 and min(image.shape[:2]) >= 80, (name, image.shape)
        assert image.std() > 0.01, f"{name} is blank"
        assert len(content) < 400_000, name
    assert draw(entries, tmp_path / "b") == first


def test_an_entry_without_traces_gets_no_row(records, tmp_path):
    with_traces = {"a": records, "b": records}
    one_without = {"a": records, "b": edited(records, traces=None)}
    height = {}
    for label, entries in [("both", with_traces), ("one", one_without)]:
        draw(entries, tmp_path / label)
        height[label] = matplotlib.image.imread(tmp_path / label / f"{STREAM}-traces.png").shape[0]
    assert height["one"] < height["both"]


def test_spectra_get_a_row_per_entry_that_keeps_them(records, tmp_path):
    height = {}
    for label, entries in [("one", {"a": with_spectra(records), "b": records}),
                           ("two", {"a": with_spectra(records), "b": with_spectra(records)})]:
        draw(entries, tmp_path / label)
        height[label] = matplotlib.image.imread(tmp_path / label / f"{STREAM}-spectra.png").shape[0]
    assert height["one"] < height["two"]


def test_no_traces_at_all_still_writes_the_figure(records, tmp_path):
    draw({"old": edited(records, traces=None)}, tmp_path)
    assert (tmp_path / f"{STREAM}-traces.png").read_bytes()[:8] == PNG_SIGNATURE


def test_a_record_of_another_stream_version_is_refused_in_one_line(records, tmp_path):
    stale = edited(records)
    stale[1]["stream"]["content_hash"] = "0123456789abcdef"
    with pytest.raises(RecordError, match="content hash 0123456789abcdef") as error:
        stream_figures({"zero": records, "stale": stale}, STREAM, tmp_path)
    assert "stale seed 1" in str(error.value) and "\n" not in str(error.value)
    assert not list(tmp_path.glob("*.png"))


def test_importing_the_module_does_not_import_matplotlib():
    code = "import sys, motifbench.figures; assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
