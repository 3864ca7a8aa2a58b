"""The committed gestures stream is the one ``scripts/make_gestures.py`` makes, byte for byte."""

import hashlib
import importlib.util
from pathlib import Path

import pytest

from motifbench.behaviour import GESTURES_SHA256

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "make_gestures.py"
DATA = ROOT / "benchmark" / "data" / "gestures10-v1.json"


def test_committed_file_has_the_pinned_sha256():
    assert hashlib.sha256(DATA.read_bytes()).hexdigest() == GESTURES_SHA256


def test_script_rebuilds_the_committed_file():
    pytest.importorskip("aeon")
    spec = importlib.util.spec_from_file_location("make_gestures", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.build() == DATA.read_bytes()
