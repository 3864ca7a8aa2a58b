"""Leaderboard tables, built only from run records.

For each stream found under a results folder (``RESULTS/STREAM/METHOD/seedN[-tag].json``):
``STREAM.md`` (Markdown, mean ± s.e.m. over seeds) and ``STREAM.csv`` (the same numbers,
mean and sem in separate columns), one row per method and setting, ranked by
``sequence_success``, then ``final_r2``. The output depends on the records alone, so
``check`` can tell whether committed tables are what the records give.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from .results import RecordError

RANKED_BY = "sequence_success"
LEADERBOARD_COLUMNS = [
    "sequence_success",
    "transition_success",
    "unseen_transition_success",
    "final_r2",
    "plasticity",
    "forgetting",
    "interference",
]


def aggregate(rows: list[dict[str, Any]], columns: list[str], keys: tuple[str, ...] = ("method",)) -> list[dict[str, Any]]:
    """Rows of (keys..., seed, scores...) -> one row per distinct ``keys``, in first-seen order:
    its seeds and, per column, the mean and the s.e.m. over seeds (``COLUMN`` and
    ``COLUMN_sem``; the sem is NaN for one seed)."""
    import pandas as pd

    table = []
    for values, group in pd.DataFrame(rows).groupby(list(keys), sort=False):
        row: dict[str, Any] = {**dict(zip(keys, values)), "seeds": ",".join(map(str, group["seed"]))}
        for column in columns:
            scores = group[column].astype(float)
            row[column], row[f"{column}_sem"] = scores.mean(), scores.sem() if len(scores) > 1 else math.nan
        table.append(row)
    return table


def as_text(table: list[dict[str, Any]], columns: list[str], keys: tuple[str, ...] = ("method",)) -> str:
    """A GitHub Markdown table of ``aggregate``'s rows, each score as "mean ± sem"."""
    from tabulate import tabulate

    def cell(row: dict[str, Any], column: str) -> str:
        text = f"{row[column]:.3f}"
        return text if math.isnan(row[f"{column}_sem"]) else f"{text} ± {row[f'{column}_sem']:.3f}"

    rows = [{**{k: row[k] for k in (*keys, "seeds")}, **{c: cell(row, c) for c in columns}} for row in table]
    return tabulate(rows, headers="keys", tablefmt="github", disable_numparse=True)


def read_record(path: Path, required: tuple[str, ...] = ("metrics",)) -> dict[str, Any]:
    """A record's JSON (or a failed record's, with ``required=("reason",)``), or a RecordError
    naming the file and what is wrong with it."""
    try:
        record = json.loads(Path(path).read_text())
        record["method"]["name"], record["stream"]["name"], record["seed"]
        for key in required:
            record[key]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise RecordError(f"record {path} is unreadable or corrupt ({type(error).__name__}: {error})") from None
    return record


def entry_name(record: dict[str, Any]) -> str:
    """The method's name, with its non-default settings if any: ``gpm [gpm_threshold=0.99]``."""
    overrides = record.get("overrides") or {}
    settings = ", ".join(f"{key}={value}" for key, value in sorted(overrides.items()))
    return f"{record['method']['name']} [{settings}]" if settings else record["method"]["name"]


def build(results: Path) -> dict[str, str]:
    """File name -> content of every table the records under ``results`` give. Failed runs
    (``*.failed.json``) are listed under their stream's table, not ranked."""
    rows_by_stream: dict[str, list[dict[str, Any]]] = {}
    failures_by_stream: dict[str, list[str]] = {}
    for path in sorted(Path(results).glob("*/*/seed*.json")):
        if path.name.endswith(".failed.json"):
            failure = read_record(path, required=("reason",))
            line = f"- {entry_name(failure)}, seed {failure['seed']}: {failure['reason']}"
            failures_by_stream.setdefault(failure["stream"]["name"], []).append(line)
            continue
        record = read_record(path)
        row = {"method": entry_name(record), "seed": record["seed"], **record["metrics"]}
        rows_by_stream.setdefault(record["stream"]["name"], []).append(row)
    if not rows_by_stream and not failures_by_stream:
        raise RecordError(f"no records under {results} (expected STREAM/METHOD/seedN.json)")
    files = {}
    for stream in sorted(rows_by_stream.keys() | failures_by_stream.keys()):
        rows = sorted(rows_by_stream.get(stream, []), key=lambda row: (row["method"], row["seed"]))
        table = aggregate(rows, LEADERBOARD_COLUMNS) if rows else []
        table.sort(key=lambda row: (-row[RANKED_BY], -row["final_r2"], row["method"]))
        text = f"# {stream}\n\nRanked by {RANKED_BY}; mean ± s.e.m. over seeds.\n\n"
        text += (as_text(table, LEADERBOARD_COLUMNS) if table else "No completed runs.") + "\n"
        if stream in failures_by_stream:
            text += "\n## Failed runs\n\n" + "\n".join(sorted(failures_by_stream[stream])) + "\n"
        files[f"{stream}.md"] = text
        files[f"{stream}.csv"] = as_csv(table)
    return files


def as_csv(table: list[dict[str, Any]]) -> str:
    import pandas as pd

    return pd.DataFrame(table).to_csv(index=False, float_format="%.6f", lineterminator="\n")


def differences(results: Path, out: Path) -> list[str]:
    """The tables under ``out`` that are missing or differ from what the records give."""
    return [name for name, text in build(results).items() if not (out / name).is_file() or (out / name).read_text() != text]


def write(results: Path, out: Path) -> list[Path]:
    """Write every table; returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in build(results).items():
        (out / name).write_text(text)
        paths.append(out / name)
    return paths
