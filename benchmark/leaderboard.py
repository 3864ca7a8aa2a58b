"""Leaderboard tables, built only from run records.

For each stream found under a results folder (``RESULTS/STREAM/METHOD/seedN[-tag].json``):
``STREAM.md`` (Markdown, mean ± s.e.m. over seeds) and ``STREAM.csv`` (the same numbers,
mean and sem in separate columns), one row per method and setting, ranked by
``sequence_success``, then ``final_r2``, with what each costs beside its scores (card flags,
``isolated``, parameters added and learning time per motif); tape recorders
(``metrics.tape_recorder_reason``) and failed runs are listed apart. ``index.html`` shows every stream's
tables with its figures (``figures.py``). The text output depends on the records alone, so
``--check`` can tell whether committed tables are what the records give.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .results import RecordError, read_record
from .tables import aggregate, as_text, csv_text

if TYPE_CHECKING:
    from .sweep import SweepSpec

RANKED_BY = "sequence_success"
LEADERBOARD_COLUMNS = [
    "sequence_success",
    "transition_success_abs",
    "transition_success",
    "unseen_transition_success",
    "final_r2",
    "plasticity",
    "forgetting",
    "interference",
]
DISRUPTION_COLUMNS = ["disruption_r2", "recovery_tau"]  # in records of schema 5 on
SONG_COLUMNS = ["branch_success", "nonbranch_success", "channel_correlation"]  # on streams with songs
# What a score costs, beside the scores: the card's flags (per entry) and, per run, whether
# learning never changed an old motif's output, parameters added per motif and learning time.
ENTRY_KEYS = ("method", "stores_past_data", "uses_sgd")
CONTEXT_COLUMNS = ["isolated", "params_per_motif", "learn_s_per_motif"]


def entry_name(record: dict[str, Any]) -> str:
    """The method's name, with its non-default settings if any: ``gpm [gpm_threshold=0.99]``."""
    overrides = record.get("overrides") or {}
    settings = ", ".join(f"{key}={value}" for key, value in sorted(overrides.items()))
    return f"{record['method']['name']} [{settings}]" if settings else record["method"]["name"]


@dataclass
class StreamBoard:
    """What the records of one stream give: ranked entries, tape recorders, failures.

    ``ranked`` and ``tape_recorders`` are ``aggregate`` rows; ``records`` maps each entry name
    to its records in seed order; ``failures`` are one line per failed run."""

    stream: str
    ranked: list[dict[str, Any]]
    tape_recorders: list[dict[str, Any]]
    records: dict[str, list[dict[str, Any]]]
    failures: list[str]
    theta: float = math.nan  # the stream's success threshold, as its records give it
    scores: list[str] = field(default_factory=lambda: list(LEADERBOARD_COLUMNS))  # the score columns shown

    @property
    def columns(self) -> list[str]:
        return self.scores + CONTEXT_COLUMNS

    def legend(self) -> str:
        """What the table's columns mean (one paragraph)."""
        text = (f"Ranked by {RANKED_BY}: the fraction of random sequences in which every motif reaches nmse <= "
                f"theta = {self.theta:g}, the stream's success threshold; transition_success_abs uses the same "
                "threshold, transition_success and unseen_transition_success a relative one. Mean ± s.e.m. over "
                "seeds.")
        if "disruption_r2" in self.scores:
            text += (" disruption_r2: r2 of the rest of a motif after its state was hit by noise (by default half-way, "
                     "of half the state's rms; best shift within 1 tau); recovery_tau: tau until its output is back "
                     "within theta of its undisturbed course (the rest of the motif if never).")
        if "branch_success" in self.scores:
            text += (" branch_success and nonbranch_success: fraction of song syllables produced within theta, "
                     "after a syllable that has different successors in the song (a branch) and after one that "
                     "has not; channel_correlation: per-channel Pearson correlation with the target, summed over "
                     "channels (d_out is perfect).")
        return text + (" stores_past_data and uses_sgd: the method's card; isolated: fraction of runs in which "
                       "learning never changed an old motif's output; params_per_motif: parameters added per motif; "
                       "learn_s_per_motif: seconds of learning per motif (one thread).")


def collect(results: Path) -> list[StreamBoard]:
    """Every stream's board from the records under ``results``, by stream name. An entry with
    any run whose output ignored its start state (``metrics.is_tape_recorder``) is not ranked."""
    from .metrics import is_tape_recorder

    records: dict[str, dict[str, list[dict[str, Any]]]] = {}
    failures: dict[str, list[str]] = {}
    for path in sorted(Path(results).glob("*/*/seed*.json")):
        if path.name.endswith(".failed.json"):
            failure = read_record(path, failed=True, located=True)
            line = f"{entry_name(failure)}, seed {failure['seed']}: {failure['reason']}"
            failures.setdefault(failure["stream"]["name"], []).append(line)
            continue
        record = read_record(path, located=True)
        records.setdefault(record["stream"]["name"], {}).setdefault(entry_name(record), []).append(record)
    if not records and not failures:
        raise RecordError(f"no records under {results} (expected STREAM/METHOD/seedN.json)")
    boards = []
    for stream in sorted(records.keys() | failures.keys()):
        entries = {name: sorted(runs, key=lambda r: r["seed"]) for name, runs in sorted(records.get(stream, {}).items())}
        every = [r for runs in entries.values() for r in runs]
        scores = (LEADERBOARD_COLUMNS
                  + DISRUPTION_COLUMNS * any(r["metrics"]["disruption_r2"] is not None for r in every)
                  + SONG_COLUMNS * any(r["stream"].get("songs") for r in every))
        tables: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
        for name, runs in entries.items():
            rows = [{"method": name, "seed": r["seed"], **r["metrics"], **context(r)} for r in runs]
            tables[any(is_tape_recorder(r["metrics"]) for r in runs)] += aggregate(rows, scores + CONTEXT_COLUMNS,
                                                                                   ENTRY_KEYS)
        for table in tables.values():
            table.sort(key=lambda row: (-row[RANKED_BY], -row["final_r2"], row["method"]))
        order = [row["method"] for row in tables[False] + tables[True]]
        theta = next((runs[0]["stream"]["theta"] for runs in entries.values()), math.nan)
        boards.append(StreamBoard(stream, tables[False], tables[True], {name: entries[name] for name in order},
                                  sorted(failures.get(stream, [])), theta, scores))
    return boards


def context(record: dict[str, Any]) -> dict[str, Any]:
    """A record's cost beside its scores: the card's flags ("yes"/"no"), parameters added per
    motif ((count after the last motif - after the first) / (K - 1); NaN if unknown or K = 1)
    and the mean learning time per motif (s). ``read_record`` has checked their types."""
    card, counts, learn = record["method"], record["parameter_counts"], record["timings"]["learn"]
    known = len(counts) > 1 and counts[0] is not None and counts[-1] is not None
    return {"stores_past_data": "yes" if card["stores_past_data"] else "no",
            "uses_sgd": "yes" if card["uses_sgd"] else "no",
            "params_per_motif": (counts[-1] - counts[0]) / (len(counts) - 1) if known else math.nan,
            "learn_s_per_motif": sum(learn) / len(learn) if learn else math.nan}


TAPE_RECORDERS = "Tape recorders (flagged by the start-state or the pause-and-resume probe; not ranked)"


def as_markdown(board: StreamBoard) -> str:
    text = f"# {board.stream}\n\n{board.legend()}\n\n"
    text += (as_text(board.ranked, board.columns, ENTRY_KEYS) if board.ranked else "No completed runs.") + "\n"
    if board.tape_recorders:
        text += f"\n## {TAPE_RECORDERS}\n\n" + as_text(board.tape_recorders, board.columns, ENTRY_KEYS) + "\n"
    if board.failures:
        text += "\n## Failed runs\n\n" + "\n".join(f"- {line}" for line in board.failures) + "\n"
    return text


def as_csv(board: StreamBoard) -> str:
    """One row per entry, ranked first; ``tape_recorder`` tells the unranked ones."""
    return csv_text([{**row, "tape_recorder": tape}
                     for tape, table in ((False, board.ranked), (True, board.tape_recorders)) for row in table])


def as_html(boards: list[StreamBoard], sweeps: list[tuple[SweepSpec, list[dict[str, Any]]]] = ()) -> str:
    """The static page: per stream its tables, failed runs, and the four figures; then each
    sweep's table and figure."""
    from html import escape

    from .figures import figure_names
    from .sweep import DEFAULT_SCORES

    def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
        return as_text(rows, columns, ENTRY_KEYS, style="html")

    parts = ["<!DOCTYPE html>", '<html><head><meta charset="utf-8"><title>motifbench leaderboard</title>',
             "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}img{max-width:100%}</style></head><body>",
             "<h1>motifbench leaderboard</h1>",
             "<p>Built from run records alone by <code>motifbench leaderboard</code>.</p>"]
    for board in boards:
        stream = escape(board.stream)
        parts.append(f'<h2 id="{stream}">{stream}</h2>')
        parts.append(f'<p><a href="{stream}.md">{stream}.md</a> · <a href="{stream}.csv">{stream}.csv</a></p>')
        parts.append(f"<p>{escape(board.legend())}</p>")
        parts.append(table(board.ranked, board.columns) if board.ranked else "<p>No completed runs.</p>")
        if board.tape_recorders:
            parts += [f"<h3>{escape(TAPE_RECORDERS)}</h3>", table(board.tape_recorders, board.columns)]
        if board.failures:
            parts += ["<h3>Failed runs</h3>", "<ul>", *(f"<li>{escape(line)}</li>" for line in board.failures), "</ul>"]
        if board.records:
            parts += [f'<p><img src="figures/{name}" alt="{name}"></p>' for name in figure_names(board.stream)]
    if sweeps:
        parts.append('<h2 id="sweeps">Sweeps</h2>')
    for spec, sweep_rows in sweeps:
        name = escape(spec.name)
        parts += [f'<h3 id="{name}">{escape(spec.key)} on {escape(spec.stream)}: {escape(", ".join(spec.methods))}</h3>',
                  f'<p><a href="{SWEEPS}/{name}.md">{name}.md</a> · <a href="{SWEEPS}/{name}.csv">{name}.csv</a></p>',
                  as_text(sweep_rows, list(DEFAULT_SCORES), ("method", "value"), style="html"),
                  f'<p><img src="{SWEEPS}/{name}.png" alt="{name}.png"></p>',
                  f'<p><img src="{SWEEPS}/{name}-spectra.png" alt="{name}-spectra.png"></p>']
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


SWEEPS = "sweeps"  # OUT/sweeps: the committed sweeps' specs (NAME.json), tables and figures
SWEEP_RECORDS = "results"  # OUT/sweeps/results: the sweeps' records, apart from the boards'


def build(results: Path, out: Path | None = None) -> dict[str, str]:
    """Path under ``out`` -> content of every text file the records give: per stream under
    ``results`` ``STREAM.md`` and ``STREAM.csv``, per sweep in ``out/sweeps`` (none without
    ``out``) its ``sweeps/NAME.md`` and ``sweeps/NAME.csv``, and the page ``index.html``."""
    return text_files(collect(results), sweep_tables(out) if out else [])


def sweep_tables(out: Path) -> list[tuple[SweepSpec, list[dict[str, Any]]]]:
    """Each committed sweep (``out/sweeps/NAME.json``) with its table (``sweep.sweep_table`` of
    the default scores) from its records in ``out/sweeps/results``."""
    from .sweep import committed_sweeps, sweep_table

    folder = Path(out) / SWEEPS
    return [(spec, sweep_table(spec, folder / SWEEP_RECORDS)) for spec in committed_sweeps(folder)]


def text_files(boards: list[StreamBoard], sweeps: list[tuple[SweepSpec, list[dict[str, Any]]]]) -> dict[str, str]:
    from .sweep import sweep_texts

    files = {"index.html": as_html(boards, sweeps)}
    for board in boards:
        files[f"{board.stream}.md"] = as_markdown(board)
        files[f"{board.stream}.csv"] = as_csv(board)
    for spec, table in sweeps:
        files.update({f"{SWEEPS}/{name}": text for name, text in sweep_texts(spec, table).items()})
    return files


def differences(results: Path, out: Path) -> list[str]:
    """The text files under ``out`` that are missing or differ from what the records give (not
    the figures: their bytes depend on the matplotlib build)."""
    return [name for name, text in build(results, out).items()
            if not (out / name).is_file() or (out / name).read_text() != text]


def write(results: Path, out: Path, figures: bool = True) -> list[Path]:
    """Write every text file and, if ``figures``, every stream's and sweep's figures; returns the
    paths written."""
    from .figures import stream_figures
    from .results import write_text
    from .sweep import spectra_figure, sweep_figure

    boards, sweeps = collect(results), sweep_tables(out)
    paths = []
    for name, text in text_files(boards, sweeps).items():
        write_text(out / name, text, force=True)
        paths.append(out / name)
    if figures:
        for board in boards:
            if board.records:
                paths += [out / "figures" / name for name in stream_figures(board.records, board.stream, out / "figures")]
        for spec, table in sweeps:
            paths += [sweep_figure(spec, table, out / SWEEPS),
                      spectra_figure(spec, out / SWEEPS / SWEEP_RECORDS, out / SWEEPS)]
    return paths
