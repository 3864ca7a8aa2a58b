"""``scripts/degradation.py``: the damage drops of a record, and the committed sweeps' summary."""

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def degradation():
    sys.path.insert(0, str(ROOT / "scripts"))  # it imports board_cost, as when run as a script
    try:
        spec = importlib.util.spec_from_file_location("degradation", ROOT / "scripts" / "degradation.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(ROOT / "scripts"))


def test_a_drop_is_final_r2_intact_minus_damaged_by_increasing_fraction(degradation):
    record = {"curves": {"final_r2_vs_damage_magnitude": {"x": [0.0, 0.2, 0.05], "y": [0.9, 0.1, 0.8]}}}
    assert degradation.damage_drops(record, "magnitude") == pytest.approx([0.1, 0.8])
    assert degradation.damage_drops(record, "random") is None


def test_the_committed_sweeps_give_a_table_each_and_the_worst_mode(degradation, tmp_path):
    out = tmp_path / "degradation.md"
    assert degradation.main(["--sweeps", str(ROOT / "leaderboard" / "sweeps"),
                             "--results", str(ROOT / "leaderboard" / "sweeps" / "results"), "--out", str(out)]) == 0
    text = out.read_text()
    assert text.count("\n## ") == len(list((ROOT / "leaderboard" / "sweeps").glob("*.json")))
    assert "No records found" not in text and "hurts most: random" in text


def test_no_records_is_an_error_in_one_line(degradation, tmp_path, capsys):
    assert degradation.main(["--sweeps", str(ROOT / "leaderboard" / "sweeps"), "--results", str(tmp_path),
                             "--out", str(tmp_path / "out.md")]) == 2
    assert "none of the sweeps' records" in capsys.readouterr().err
    assert not (tmp_path / "out.md").exists()
