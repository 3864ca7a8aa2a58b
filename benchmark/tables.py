"""Tables of scores over seeds: mean and s.e.m. per group of runs, as text and as CSV (shared by
the leaderboard, sweeps and the run summary)."""

from __future__ import annotations

import math
from typing import Any


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


def cells(table: list[dict[str, Any]], columns: list[str], keys: tuple[str, ...] = ("method",)) -> list[dict[str, str]]:
    """``aggregate``'s rows as text: the keys, the seeds and each score as "mean ± sem"."""

    def cell(row: dict[str, Any], column: str) -> str:
        text = f"{row[column]:.3f}"
        return text if math.isnan(row[f"{column}_sem"]) else f"{text} ± {row[f'{column}_sem']:.3f}"

    return [{**{k: row[k] for k in (*keys, "seeds")}, **{c: cell(row, c) for c in columns}} for row in table]


def as_text(table: list[dict[str, Any]], columns: list[str], keys: tuple[str, ...] = ("method",), style: str = "github") -> str:
    """A table of ``aggregate``'s rows, each score as "mean ± sem"; ``style`` is tabulate's
    (GitHub Markdown, or "html", which escapes the cells)."""
    from tabulate import tabulate

    return tabulate(cells(table, columns, keys), headers="keys", tablefmt=style, disable_numparse=True)


def csv_text(rows: list[dict[str, Any]]) -> str:
    """Rows as CSV, numbers to 6 decimals."""
    import pandas as pd

    return pd.DataFrame(rows).to_csv(index=False, float_format="%.6f", lineterminator="\n")
