"""Sweeps: the same runs at each value of one setting, and a table and a figure of scores against it.

``motifbench sweep --stream S --method M[,M2] --grid KEY=v1,v2,... --seeds 0,1,2`` plans, for each
value, the runs that ``motifbench run --set KEY=v`` would (same runner, workers, limits,
``--resume``), so its records are normal records with the override suffix. KEY is a method's
hyperparameter (``KEY``: every selected method must have it, or ``METHOD.KEY``), an evaluator
setting (``eval.KEY``) or a stream family's setting (``stream.KEY`` with ``--stream FAMILY``;
``streams.STREAM_FAMILIES``), whose values name the family's member streams: their records go
under each member's name.

A sweep leaves a spec, ``SWEEPS/NAME.json``: what was swept and the path, under the records
folder, of every record it made (``SweepSpec.records``). From the spec and the records alone
``sweep_table`` gives the mean and s.e.m. over seeds of every score at every value, which
``write_sweep`` writes as ``NAME.md`` and ``NAME.csv`` and draws as ``NAME.png``, with each
seed's spectrum in ``NAME-spectra.png``;
``motifbench leaderboard`` does the same for the committed sweeps in ``leaderboard/sweeps``,
whose records are kept apart from the boards' in ``leaderboard/sweeps/results`` (a sweep run
with ``--out leaderboard/sweeps/results --sweep-out leaderboard/sweeps``).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .results import RecordError, read_record, write_text

SWEEP_FORMAT = "motifbench-sweep"
SWEEP_FORMAT_VERSION = 1
DEFAULT_SCORES = ("final_r2", "plasticity", "forgetting", "transition_success", "sequence_success")
MIN_Y_SPAN = 0.1  # the least range of a panel's y axis
NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.+=,-]+")


@dataclass(frozen=True)
class SweepSpec:
    """What a sweep ran: ``key`` over ``values`` (as given) for ``methods`` (their record
    names) on ``stream`` with ``seeds``, besides the fixed ``sets`` (``--set`` items); and
    ``records``: method -> value -> the records' paths relative to the records folder, in seed
    order."""

    stream: str
    methods: tuple[str, ...]
    key: str
    values: tuple[str, ...]
    seeds: tuple[int, ...]
    sets: tuple[str, ...]
    records: dict[str, dict[str, list[str]]]

    @property
    def name(self) -> str:
        """A file-safe name: ``STREAM--KEY--METHOD+METHOD[--SET+SET]`` (the fixed settings, if any)."""
        fixed = f"--{'+'.join(self.sets)}" if self.sets else ""
        return NAME_UNSAFE.sub("_", f"{self.stream}--{self.key}--{'+'.join(self.methods)}{fixed}")

    def to_json(self) -> str:
        return json.dumps({"format": SWEEP_FORMAT, "format_version": SWEEP_FORMAT_VERSION, **asdict(self)},
                          indent=1) + "\n"


def read_sweep(path: Path) -> SweepSpec:
    """The sweep spec in ``path``, or a RecordError naming the file and what is wrong with it."""
    try:
        data = json.loads(Path(path).read_text())
        if not isinstance(data, dict) or data.get("format") != SWEEP_FORMAT:
            raise ValueError(f"not a {SWEEP_FORMAT} file")
        if data.get("format_version") != SWEEP_FORMAT_VERSION:
            raise ValueError(f"format_version {data.get('format_version')!r}; this motifbench reads "
                             f"{SWEEP_FORMAT_VERSION}")
        spec = SweepSpec(str(data["stream"]), tuple(map(str, data["methods"])), str(data["key"]),
                         tuple(map(str, data["values"])), tuple(int(seed) for seed in data["seeds"]),
                         tuple(map(str, data["sets"])), data["records"])
        for method in spec.methods:
            for value in spec.values:
                paths = spec.records[method][value]
                if not (isinstance(paths, list) and all(isinstance(p, str) and not Path(p).is_absolute()
                                                        and ".." not in Path(p).parts for p in paths)):
                    raise ValueError(f"the records of {method} at {value} are not relative paths")
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as error:
        raise RecordError(f"sweep {path} is unreadable or corrupt ({type(error).__name__}: {error})") from None
    return spec


def swept_number(values: tuple[str, ...]) -> list[float] | None:
    """The values as numbers if every one is a finite number, else None (a categorical sweep)."""
    try:
        numbers = [float(value) for value in values]
    except ValueError:
        return None
    return numbers if all(math.isfinite(n) for n in numbers) else None


def sweep_records(spec: SweepSpec, results: Path) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """(method, value) -> the records that exist of it, in seed order, in the spec's order. A
    RecordError if a record is corrupt or is not of the sweep's method."""
    found = {}
    for method in spec.methods:
        for value in spec.values:
            found[method, value] = []
            for relative in spec.records[method][value]:
                path = Path(results) / relative
                if not path.exists():
                    continue
                record = read_record(path, located=True)
                if record["method"]["name"] != method:
                    raise RecordError(f"sweep {spec.name}: {path} is a record of {record['method']['name']}, "
                                      f"not {method}")
                found[method, value].append(record)
    return found


def sweep_table(spec: SweepSpec, results: Path, scores: tuple[str, ...] = DEFAULT_SCORES) -> list[dict[str, Any]]:
    """One row per (method, value), in the spec's order: ``method``, ``value``, ``seeds`` (those
    whose record exists) and per score its mean and s.e.m. over them (``SCORE``, ``SCORE_sem``;
    NaN where no seed has it); as ``sweep_records`` reads them."""
    from .tables import aggregate

    table = []
    for (method, value), records in sweep_records(spec, results).items():
        rows = [{"method": method, "value": value, "seed": record["seed"],
                 **{score: record["metrics"].get(score) for score in scores}} for record in records]
        if rows:
            table += aggregate(rows, list(scores), ("method", "value"))
        else:
            table.append({"method": method, "value": value, "seeds": "",
                          **{column: math.nan for score in scores for column in (score, f"{score}_sem")}})
    return table


def spectra_figure(spec: SweepSpec, results: Path, out: Path) -> Path:
    """Draws ``out/NAME-spectra.png``, and returns its path: each seed's eigenvalues after the
    stream, a row per (method, value) (``figures.draw_spectra``)."""
    from .figures import draw_spectra

    entries = {f"{method} [{spec.key}={value}]": records
               for (method, value), records in sweep_records(spec, results).items()}
    path = Path(out) / f"{spec.name}-spectra.png"
    draw_spectra(entries, f"{spec.stream}, {spec.key}", path)
    return path


def as_markdown(spec: SweepSpec, table: list[dict[str, Any]], scores: tuple[str, ...]) -> str:
    from .tables import as_text

    fixed = f" with {', '.join(spec.sets)}" if spec.sets else ""
    return (f"# Sweep of {spec.key} on {spec.stream}\n\n"
            f"Methods {', '.join(spec.methods)}{fixed}; seeds {','.join(map(str, spec.seeds))}. Each score is the "
            "mean ± s.e.m. over the seeds whose record exists (`seeds`). Made by `motifbench sweep`; rebuilt from "
            "the records by `motifbench leaderboard`.\n\n"
            + as_text(table, list(scores), ("method", "value")) + "\n")


def sweep_texts(spec: SweepSpec, table: list[dict[str, Any]], scores: tuple[str, ...] = DEFAULT_SCORES
                ) -> dict[str, str]:
    """File name -> content of the sweep's ``NAME.md`` and ``NAME.csv``, from its ``sweep_table``."""
    from .tables import csv_text

    return {f"{spec.name}.md": as_markdown(spec, table, scores), f"{spec.name}.csv": csv_text(table)}


def sweep_figure(spec: SweepSpec, table: list[dict[str, Any]], out: Path, scores: tuple[str, ...] = DEFAULT_SCORES
                 ) -> Path:
    """Draws ``out/NAME.png``, and returns its path: one panel per score against the swept
    value, one line per method, with the s.e.m. over seeds as error bars; a numeric sweep on a
    log axis when its positive values span a factor of 8 or more, a categorical one at evenly
    spaced positions."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    numbers = swept_number(spec.values)
    positions = numbers if numbers is not None else list(range(len(spec.values)))
    figure, axes = plt.subplots(1, len(scores), figsize=(2.8 * len(scores), 2.6), squeeze=False,
                                layout="constrained")
    colours = matplotlib.colormaps["tab10"]
    for ax, score in zip(axes[0], scores):
        for index, method in enumerate(spec.methods):
            rows = {row["value"]: row for row in table if row["method"] == method}
            means = [rows[value][score] for value in spec.values]
            errors = [0.0 if math.isnan(rows[value][f"{score}_sem"]) else rows[value][f"{score}_sem"]
                      for value in spec.values]
            ax.errorbar(positions, means, yerr=errors, color=colours(index % colours.N), marker="os^vD"[index % 5],
                        markersize=3, linewidth=1.0, capsize=2, label=method)
        if numbers is not None and min(numbers) > 0 and max(numbers) >= 8 * min(numbers):
            ax.set_xscale("log")
        if numbers is None or ax.get_xscale() == "log":
            ax.set_xticks(positions, spec.values)
            ax.minorticks_off()
        low, high = ax.get_ylim()
        if high - low < MIN_Y_SPAN:  # a flat score drawn flat, not as noise in its last digits
            ax.set_ylim((low + high - MIN_Y_SPAN) / 2, (low + high + MIN_Y_SPAN) / 2)
        ax.ticklabel_format(axis="y", useOffset=False)
        ax.set_xlabel(spec.key, fontsize=8)
        ax.set_ylabel(score, fontsize=8)
        ax.tick_params(labelsize=6)
    axes[0][0].legend(fontsize=6)
    figure.suptitle(f"{spec.stream}: scores against {spec.key} (mean ± s.e.m. over seeds)", fontsize=9)
    path = Path(out) / f"{spec.name}.png"
    figure.savefig(path, dpi=80, metadata={"Software": None})
    plt.close(figure)
    return path


def write_sweep(spec: SweepSpec, results: Path, out: Path, scores: tuple[str, ...] = DEFAULT_SCORES) -> list[Path]:
    """Writes the sweep's ``NAME.md``, ``NAME.csv`` and ``NAME.png`` into ``out``, from the
    records under ``results``; returns their paths."""
    table = sweep_table(spec, results, scores)
    paths = []
    for name, text in sweep_texts(spec, table, scores).items():
        write_text(Path(out) / name, text, force=True)
        paths.append(Path(out) / name)
    return [*paths, sweep_figure(spec, table, out, scores), spectra_figure(spec, results, out)]


def committed_sweeps(folder: Path) -> list[SweepSpec]:
    """The sweep specs ``folder/*.json``, by file name (none if the folder does not exist)."""
    return [read_sweep(path) for path in sorted(Path(folder).glob("*.json"))]
