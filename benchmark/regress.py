"""Regression of scores: targets that re-runs must not fall short of.

``leaderboard/targets.csv`` has one row per (stream, method, metric): the ``target`` score (the
mean over ``seeds``), the ``tolerance`` by which a re-run may be worse, and the ``seeds`` it is
the mean over ("0,1,2"). A stream's tier (``motifbench ls streams``) is the row's tier. A
score fails only when it is worse than its target by more than the tolerance, in the
direction the metric counts as worse; an improvement never fails. A run that failed or a
score that is NaN fails its rows.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, replace
from pathlib import Path

from . import registry

COLUMNS = ["stream", "method", "metric", "target", "tolerance", "seeds"]


class TargetsError(Exception):
    """A targets file that cannot be read, or a bad row in it (one line, naming file and line)."""


@dataclass(frozen=True)
class Target:
    """One row of the targets file."""

    stream: str
    method: str  # a registered name or package.module:Class
    metric: str
    target: float
    tolerance: float
    seeds: tuple[int, ...]


@dataclass(frozen=True)
class Verdict:
    """A target against what was measured: the mean over its seeds (NaN if a run failed)."""

    target: Target
    measured: float
    passed: bool
    note: str  # "" when passed; why not otherwise


def read_targets(path: Path) -> list[Target]:
    """Every row of ``path``, validated; a bad file or value is a one-line TargetsError naming
    the file and line."""
    try:
        text = Path(path).read_text()
    except OSError as error:
        raise TargetsError(f"targets file {path}: {error.strerror or error}") from None
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames != COLUMNS:
        raise TargetsError(f"targets file {path}: expected the columns {','.join(COLUMNS)}, got {reader.fieldnames}")
    targets = []
    for line, row in enumerate(reader, start=2):
        try:
            target = _parse(row)
        except (ValueError, registry.UnknownNameError) as error:
            raise TargetsError(f"targets file {path}, line {line}: {error}") from None
        targets.append(target)
    return targets


def in_tier(targets: list[Target], tier: str) -> list[Target]:
    """The targets whose stream is in ``tier`` (a stream's tier: ``motifbench ls streams``)."""
    return [t for t in targets if registry.get_stream(t.stream).tier == tier]


def _parse(row: dict[str, str]) -> Target:
    registry.get_stream(row["stream"])
    if row["metric"] not in registry.METRICS:
        raise ValueError(f"unknown metric {row['metric']!r}")
    target, tolerance = float(row["target"]), float(row["tolerance"])
    if not math.isfinite(target) or not tolerance >= 0:
        raise ValueError(f"target {row['target']!r} must be a number and tolerance {row['tolerance']!r} >= 0")
    seeds = tuple(int(seed) for seed in row["seeds"].split(","))
    if not row["method"] or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise ValueError(f"expected a method and distinct non-negative seeds, got {row['method']!r}, {row['seeds']!r}")
    return Target(row["stream"], row["method"], row["metric"], target, tolerance, seeds)


def write_targets(path: Path, targets: list[Target]) -> None:
    from .results import write_text

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for t in targets:
        writer.writerow([t.stream, t.method, t.metric, f"{t.target:.4f}", f"{t.tolerance:g}", ",".join(map(str, t.seeds))])
    write_text(Path(path), out.getvalue(), force=True)


def runs(targets: list[Target]) -> list[tuple[str, str, int]]:
    """The distinct (stream, method, seed) runs the targets need, in file order."""
    return list(dict.fromkeys((t.stream, t.method, seed) for t in targets for seed in t.seeds))


def mean_score(target: Target, scores: dict[tuple[str, str, int], dict[str, float]]) -> float:
    """The mean of the target's metric over its seeds; NaN if a run is missing or scored NaN."""
    values = [scores.get((target.stream, target.method, seed), {}).get(target.metric) for seed in target.seeds]
    return math.nan if any(v is None for v in values) else float(sum(values) / len(values))


def judge(targets: list[Target], scores: dict[tuple[str, str, int], dict[str, float]]) -> list[Verdict]:
    """Each target against ``scores`` ((stream, method, seed) -> that run's metrics)."""
    verdicts = []
    for t in targets:
        value = mean_score(t, scores)
        worse_by = (t.target - value) if registry.METRICS[t.metric].higher_is_better else (value - t.target)
        if math.isnan(value):
            verdicts.append(Verdict(t, value, False, "no score: a run failed or scored NaN"))
        elif worse_by > t.tolerance:
            verdicts.append(Verdict(t, value, False, f"worse than the target by {worse_by:.4f} > {t.tolerance:g}"))
        else:
            verdicts.append(Verdict(t, value, True, ""))
    return verdicts


def updated(all_targets: list[Target], verdicts: list[Verdict]) -> list[Target]:
    """``all_targets`` with the judged rows' targets set to what was measured (tolerances kept)."""
    measured = {v.target: v.measured for v in verdicts if not math.isnan(v.measured)}
    return [replace(t, target=round(measured[t], 4)) if t in measured else t for t in all_targets]


def report(verdicts: list[Verdict]) -> str:
    from tabulate import tabulate

    rows = [
        (v.target.stream, v.target.method, v.target.metric, f"{v.target.target:.4f}", f"{v.target.tolerance:g}",
         f"{v.measured:.4f}", "pass" if v.passed else f"FAIL: {v.note}")
        for v in verdicts
    ]
    headers = ["stream", "method", "metric", "target", "tolerance", "measured", "verdict"]
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)
