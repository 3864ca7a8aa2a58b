"""Regression of scores: statistical targets that re-runs must not fall short of.

``leaderboard/targets.csv`` has one row per (stream, method, metric): the ``seeds`` a target
was measured on, their number ``n`` (at least 2), and the ``mean`` and standard error ``sem``
of the metric over them. A stream's tier (``motifbench ls streams``) is the row's tier.

A re-run of the same seeds fails a target only when its mean is worse than the target's, in
the metric's direction, by more than

    allowed = max(FLOOR, K * sqrt(sem_target^2 + min(sem_rerun, sem_target)^2))

so an improvement never fails, and neither does a shift within the seed-to-seed spread. SGD
training of chaotic networks turns last-bit differences between CPUs, BLAS kernels and torch
builds into a different trajectory, which on another machine behaves like a fresh draw of the
same seed: the difference of two means over n seeds then has the combined standard error of
the two. The re-run's share counts only up to the target's own: a re-run whose seeds scatter
more than the target's did has changed, and must not buy itself a wider allowance (a
finetune with a twentieth of its Adam steps scatters its plasticity twenty times wider).

- ``K = 4``. The difference over the combined standard error is roughly Student's t with
  between n - 1 and 2(n - 1) degrees of freedom; one-sided, t > 4 has probability 0.2% to
  0.8% at n = 5 (8 and 4 degrees of freedom). Most smoke targets sit at the floor instead, so
  across a tier a false alarm stays rare, while a degradation of 5 combined standard errors or
  more is caught.
- ``FLOOR = 0.02`` in the metric's own units (r2, a fraction of transitions or sequences).
  It covers metrics whose seeds all agree, so that sem is 0 (an isolated method forgets
  exactly 0, a deterministic one scores alike on every machine up to rounding). It is the
  smallest change treated as real: about one flipped transition (1/54 = 0.0185) in a 3-seed
  run on smoke-v1, and 2% of the range of an r2 between 0 and 1.

A target that no re-run can fail is reported (``cannot_fail``): its mean minus the smallest
allowance (``max(FLOOR, K * sem_target)``) is already at the metric's worst possible value,
e.g. a transition success of 0.0. A run that failed or a score that is NaN fails its rows.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from dataclasses import dataclass, replace
from pathlib import Path

from . import registry

COLUMNS = ["stream", "method", "metric", "seeds", "n", "mean", "sem"]
K = 4.0  # allowed: K combined standard errors ...
FLOOR = 0.02  # ... but never less than this, in the metric's units


class TargetsError(Exception):
    """A targets file that cannot be read, or a bad row in it (one line, naming file and line)."""


@dataclass(frozen=True)
class Target:
    """One row of the targets file: the mean and standard error of ``metric`` over ``seeds``."""

    stream: str
    method: str  # a registered name or package.module:Class
    metric: str
    seeds: tuple[int, ...]
    mean: float
    sem: float

    @property
    def n(self) -> int:
        return len(self.seeds)

    def worse_by(self, value: float) -> float:
        """How much worse ``value`` is than the target's mean, in the metric's direction."""
        return (self.mean - value) if registry.METRICS[self.metric].higher_is_better else (value - self.mean)

    def cannot_fail(self) -> bool:
        """Whether no re-run can fail this target: even the metric's worst value is allowed."""
        spec = registry.METRICS[self.metric]
        worst = spec.low if spec.higher_is_better else spec.high
        return self.worse_by(worst) <= allowance(self.sem, 0.0)


def allowance(sem_target: float, sem_rerun: float) -> float:
    """How much worse than its target a re-run's mean may be: max(FLOOR, K * combined sem), the
    re-run's sem counted up to the target's."""
    return max(FLOOR, K * math.hypot(sem_target, min(sem_rerun, sem_target)))


def mean_and_sem(values: list[float]) -> tuple[float, float]:
    """The mean of ``values`` and its standard error (sample std / sqrt(n)); n >= 2."""
    return statistics.fmean(values), statistics.stdev(values) / math.sqrt(len(values))


@dataclass(frozen=True)
class Verdict:
    """A target against a re-run of its seeds: their mean and sem (NaN if a run failed)."""

    target: Target
    measured: float
    measured_sem: float
    allowed: float
    passed: bool
    note: str  # "" when passed; why not otherwise


def read_targets(path: Path) -> list[Target]:
    """Every row of ``path``, validated; a bad file or value is a one-line TargetsError naming
    the file and line."""
    from .runner import parse_seeds
    from .sources import resolve

    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise TargetsError(f"targets file {path}: {getattr(error, 'strerror', None) or error}") from None
    reader = csv.reader(io.StringIO(text))
    targets: dict[tuple[str, str, str], Target] = {}
    streams: set[str] = set()  # each stream is checked once: a file's is read and validated
    try:
        header = next(reader, None)
        if header != COLUMNS:
            raise TargetsError(f"targets file {path}: expected the columns {','.join(COLUMNS)}, got {header}")
        for cells in reader:
            if not cells:
                continue
            try:
                if len(cells) != len(COLUMNS):
                    raise ValueError(f"expected {len(COLUMNS)} fields, got {len(cells)}")
                row = dict(zip(COLUMNS, cells))
                if row["stream"] not in streams:
                    resolve(row["stream"])
                    streams.add(row["stream"])
                target = _parse(row, parse_seeds(row["seeds"]))
                if (target.stream, target.method, target.metric) in targets:
                    raise ValueError(f"a second row for {target.stream} {target.method} {target.metric}")
            except (ValueError, registry.UnknownNameError) as error:
                raise TargetsError(f"targets file {path}, line {reader.line_num}: {error}") from None
            targets[target.stream, target.method, target.metric] = target
    except csv.Error as error:
        raise TargetsError(f"targets file {path}, line {reader.line_num}: {error}") from None
    return list(targets.values())


def _parse(row: dict[str, str], seeds: tuple[int, ...]) -> Target:
    spec = registry.METRICS.get(row["metric"])
    if spec is None:
        raise ValueError(f"unknown metric {row['metric']!r}")
    if not row["method"]:
        raise ValueError("no method")
    if row["n"] != str(len(seeds)) or len(seeds) < 2:
        raise ValueError(f"n={row['n']} must be the number of seeds ({len(seeds)}) and at least 2, "
                         "so that the target has a standard error")
    mean, sem = float(row["mean"]), float(row["sem"])
    if not spec.low <= mean <= spec.high or not 0 <= sem < math.inf:
        raise ValueError(f"mean {row['mean']!r} must be a number in [{spec.low:g}, {spec.high:g}] (the range of "
                         f"{spec.name}) and sem {row['sem']!r} a finite number >= 0")
    return Target(row["stream"], row["method"], row["metric"], seeds, mean, sem)


def in_tier(targets: list[Target], tier: str) -> list[Target]:
    """The targets whose stream is in ``tier`` (a stream's tier: ``motifbench ls streams``)."""
    from .sources import resolve

    tiers = {ref: resolve(ref).tier for ref in {t.stream for t in targets}}
    return [t for t in targets if tiers[t.stream] == tier]


def write_targets(path: Path, targets: list[Target]) -> None:
    from .results import write_text

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for t in targets:
        writer.writerow([t.stream, t.method, t.metric, ",".join(map(str, t.seeds)), t.n, f"{t.mean:.4f}", f"{t.sem:.4f}"])
    write_text(Path(path).resolve(), out.getvalue(), force=True)  # through a link, not over it


def runs(targets: list[Target]) -> list[tuple[str, str, int]]:
    """The distinct (stream, method, seed) runs the targets need, in file order."""
    return list(dict.fromkeys((t.stream, t.method, seed) for t in targets for seed in t.seeds))


def measured(target: Target, scores: dict[tuple[str, str, int], dict[str, float]]) -> tuple[float, float]:
    """The mean and sem of the target's metric over its seeds; NaN if a run is missing or its
    score is not a finite number (``results.read_record`` has checked that scores are numbers)."""
    values = [scores.get((target.stream, target.method, seed), {}).get(target.metric) for seed in target.seeds]
    if any(v is None or not math.isfinite(v) for v in values):
        return math.nan, math.nan
    return mean_and_sem([float(v) for v in values])


def judge(targets: list[Target], scores: dict[tuple[str, str, int], dict[str, float]]) -> list[Verdict]:
    """Each target against ``scores`` ((stream, method, seed) -> that run's metrics)."""
    verdicts = []
    for t in targets:
        value, sem = measured(t, scores)
        if math.isnan(value):
            verdicts.append(Verdict(t, value, sem, math.nan, False, "no score: a run failed or scored NaN"))
            continue
        allowed = allowance(t.sem, sem)
        worse_by = t.worse_by(value)
        note = f"worse than the target by {worse_by:.4f} > {allowed:.4f}" if worse_by > allowed else ""
        verdicts.append(Verdict(t, value, sem, allowed, not note, note))
    return verdicts


def updated(all_targets: list[Target], verdicts: list[Verdict]) -> list[Target]:
    """``all_targets`` with the judged rows set to what was measured (mean and sem). A judged row
    that then cannot fail is left out: it would test nothing."""
    new = {v.target: (v.measured, v.measured_sem) for v in verdicts if not math.isnan(v.measured)}
    rows = [replace(t, mean=round(new[t][0], 4), sem=round(new[t][1], 4)) if t in new else t for t in all_targets]
    return [row for row, old in zip(rows, all_targets) if old not in new or not row.cannot_fail()]


def report(verdicts: list[Verdict]) -> str:
    """The verdicts as a table; a target that cannot fail says so in its verdict."""
    from tabulate import tabulate

    def verdict(v: Verdict) -> str:
        text = "pass" if v.passed else f"FAIL: {v.note}"
        return f"{text} (cannot fail)" if v.target.cannot_fail() else text

    rows = [
        (v.target.stream, v.target.method, v.target.metric, v.target.n, f"{v.target.mean:.4f} ± {v.target.sem:.4f}",
         f"{v.measured:.4f} ± {v.measured_sem:.4f}", f"{v.allowed:.4f}", verdict(v))
        for v in verdicts
    ]
    headers = ["stream", "method", "metric", "n", "target", "measured", "allowed", "verdict"]
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)
