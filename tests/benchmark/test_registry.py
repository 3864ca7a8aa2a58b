"""Plugins (motifbench.registry.plugins): an installed package adds a method and a stream by
entry points, without editing motifbench; ``ls`` lists them and ``run`` runs them by name, the
method in a method process like any outside code. A bad entry is left out with a warning."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from motifbench import registry
from motifbench.cli import main

PLUGIN = Path(__file__).parent / "plugin"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The test plugin package, installed with pip into a folder of its own (built offline)."""
    source, target = tmp_path_factory.mktemp("plugin-source"), tmp_path_factory.mktemp("site")
    shutil.copytree(PLUGIN, source, dirs_exist_ok=True)  # the build writes beside its sources
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(target), str(source)], check=True, capture_output=True)
    return target


@pytest.fixture
def plugin(installed, monkeypatch):
    monkeypatch.syspath_prepend(str(installed))  # method processes inherit sys.path
    registry.plugins.cache_clear()
    yield installed
    registry.plugins.cache_clear()


def test_an_installed_plugin_is_listed(plugin, capsys):
    assert registry.plugins("method") == {"demo_mean": "motifbench_demo_plugin:MeanOfMotifs"}
    assert registry.plugins("stream") == {"demo-ramps": "motifbench_demo_plugin:RAMPS"}
    assert main(["ls", "methods"]) == 0
    assert "| demo_mean " in capsys.readouterr().out
    assert main(["ls", "streams"]) == 0
    assert any(line.startswith("| demo-ramps ") and "| plugin " in line for line in capsys.readouterr().out.splitlines())


def test_a_plugin_runs_by_name_as_outside_code(plugin, tmp_path):
    assert not registry.is_registered("demo_mean")  # not motifbench's: it never runs in the trusted process
    out = tmp_path / "records"
    assert main(["run", "--stream", "demo-ramps", "--method", "demo_mean,zero", "--seeds", "0,1", "--out", str(out)]) == 0
    scores = {name: json.loads((out / "demo-ramps" / name / "seed1.json").read_text()) for name in ("demo_mean", "zero")}
    assert scores["demo_mean"]["metrics"]["plasticity"] > scores["zero"]["metrics"]["plasticity"]  # it learns
    assert scores["demo_mean"]["provenance"]["method"] == "motifbench_demo_plugin:MeanOfMotifs"
    assert scores["zero"]["stream"]["source"] == {"kind": "plugin", "ref": "demo-ramps"}
    assert "motifbench_demo_plugin" not in sys.modules


def test_a_plugin_entry_that_would_shadow_or_is_malformed_is_left_out(plugin, monkeypatch, tmp_path, capsys):
    info = tmp_path / "bad_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: bad-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[motifbench.methods]\nfinetune = bad_plugin:Finetune\n"
                                           "demo_mean = bad_plugin:Other\nno.dots = bad_plugin:X\nbroken = bad_plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.plugins.cache_clear()
    assert registry.plugins("method") == {}  # demo_mean is claimed twice: neither is meant more than the other
    err = capsys.readouterr().err
    for name, words in (("finetune", "motifbench has one of that name"), ("no.dots", "is not plain"),
                        ("broken", "not package.module:attr"),
                        ("demo_mean", "bad-plugin and motifbench-demo-plugin both register it")):
        assert f"warning: ignored the method {name!r}" in err and words in err
