"""Figures of one stream's leaderboard entries, drawn from run records alone.

``stream_figures`` writes five PNGs: the mean R matrix and the mean transition nmse matrix of
every entry (heat maps on fixed colour scales, so panels compare), the first motifs each entry
produces from rest after the whole stream against their targets, the robustness curves, and
the eigenvalues of each seed's recurrent matrix side by side (Jarne & Laje's diversity of
solutions).
Targets are not stored in records: they are made again from the stream's source (a registered
name, package.module:attr, or a stream file, as the records say), whose content hash must match
the records'. The same records give byte-identical files on one machine.
matplotlib is imported only here, inside the function, so importing motifbench stays fast.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import registry
from .results import RecordError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    from .streams import Stream

PANEL_INCHES = 2.0
TRACE_INCHES = 1.2  # height of a row of traces
DPI = 80
MAX_COLUMNS = 5
TITLE_CHARACTERS = 28  # entry names are wrapped to this width above a panel
NMSE_RANGE = (1e-6, 1e1)  # transition nmse colour scale (log), wide enough for every method on the page
MARKERS = "os^vD"


def figure_names(stream: str) -> list[str]:
    """The file names of one stream's figures, in the order ``stream_figures`` draws them."""
    return [f"{stream}-{kind}.png" for kind in ("R", "transitions", "traces", "robustness", "spectra")]


def stream_figures(entries: dict[str, list[dict[str, Any]]], stream: str, out: Path) -> list[str]:
    """Write ``STREAM-R.png``, ``STREAM-transitions.png``, ``STREAM-traces.png``,
    ``STREAM-robustness.png`` and ``STREAM-spectra.png`` into ``out``; returns those file names,
    in that order.

    entries: leaderboard entry name (``leaderboard.entry_name``) -> the entry's records, in
    seed order; entries are drawn in the dict's order. A RecordError if a record is of another
    stream or of another version of it (content hash)."""
    from matplotlib.colors import LogNorm, Normalize

    if not entries:
        raise ValueError(f"no entries to draw for stream {stream}")
    streams = _check_streams(entries, stream)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    names = figure_names(stream)
    figures = [
        _heat_maps(
            _entry_means(entries, "R"),
            Normalize(-1.0, 1.0, clip=True), "RdBu", ("motif j", "after learning k"),
            f"{stream}: R (r2 of motif j after learning motifs 0..k, clipped at -1), mean over seeds",
        ),
        _heat_maps(
            _entry_means(entries, "transition_matrix"),
            LogNorm(*NMSE_RANGE, clip=True), "viridis_r", ("to motif b", "from motif a"),
            f"{stream}: nmse of motif b started from motif a's end (log scale, clipped), mean over seeds",
        ),
        _traces(entries, streams, stream),
        _robustness(entries, stream),
        _spectra(entries, stream),
    ]
    for name, figure in zip(names, figures):
        figure.savefig(out / name, dpi=DPI, metadata={"Software": None})
    return names


def _check_streams(entries: dict[str, list[dict[str, Any]]], stream: str) -> dict[int, Stream]:
    """Stream seed -> the stream as made from where the records say it came from (a record
    written before records named a source: the registered stream of its name), for every
    record's stream seed; a RecordError if a record is of another stream, the stream cannot be
    made, or its content hash differs."""
    from .sources import StreamError, StreamSource, resolve

    built: dict[int, Stream] = {}
    sources: dict[str, StreamSource] = {}  # each ref resolved once: a file's is read and validated
    for name, records in entries.items():
        for record in records:
            info, which = record["stream"], f"record of {name} seed {record['seed']}"
            if info["name"] != stream:
                raise RecordError(f"{which} is of stream {info['name']!r}, not {stream!r}")
            source = info["source"] if isinstance(info.get("source"), dict) else {"ref": stream}
            if info["seed"] not in built:
                ref = str(source.get("ref"))
                try:
                    if ref not in sources:
                        sources[ref] = resolve(ref)
                    built[info["seed"]] = sources[ref].build(info["seed"])
                except (registry.UnknownNameError, StreamError) as error:
                    raise RecordError(f"{which}: cannot make its stream to draw the targets ({error})") from None
            if built[info["seed"]].content_hash != info["content_hash"]:
                raise RecordError(
                    f"{which}: stream {stream} seed {info['seed']} has content hash {info['content_hash']}, "
                    f"but {source.get('ref')} now makes {built[info['seed']].content_hash}; re-run it"
                )
    return built


def _seed_mean(values: list[list[Any]]) -> np.ma.MaskedArray:
    """Mean over seeds of equally shaped nested lists with nulls, (seeds, ...) -> (...), masked
    where every seed is null."""
    return np.ma.masked_invalid(np.array(values, dtype=float)).mean(axis=0)


def _entry_means(entries: dict[str, list[dict[str, Any]]], key: str) -> dict[str, np.ma.MaskedArray]:
    """Entry name -> the mean over its records of ``record[key]``, a (K, K) matrix."""
    return {name: _seed_mean([record[key] for record in records]) for name, records in entries.items()}


def _wrap(name: str) -> str:
    """An entry name broken into lines that fit above a panel."""
    return textwrap.fill(name, TITLE_CHARACTERS)


def _grid(n_panels: int, width: float = PANEL_INCHES, height: float = PANEL_INCHES) -> tuple[Figure, list[Axes]]:
    """A figure with ``n_panels`` axes in rows of at most MAX_COLUMNS; unused cells are hidden."""
    from matplotlib.figure import Figure

    columns = min(n_panels, MAX_COLUMNS)
    rows = -(-n_panels // columns)
    figure = Figure(figsize=(width * columns + 1.0, height * rows + 0.6), layout="constrained")
    axes = list(figure.subplots(rows, columns, squeeze=False).flat)
    for unused in axes[n_panels:]:
        unused.set_axis_off()
    return figure, axes[:n_panels]


def _heat_maps(
    matrices: dict[str, np.ma.MaskedArray], norm: Normalize, cmap: str, labels: tuple[str, str], title: str
) -> Figure:
    """One heat map per entry of its (K, K) matrix, masked cells blank, one shared colour bar;
    labels: (x axis, y axis)."""
    from matplotlib.ticker import MaxNLocator

    figure, axes = _grid(len(matrices))
    for ax, (name, matrix) in zip(axes, matrices.items()):
        image = ax.imshow(matrix, norm=norm, cmap=cmap, interpolation="nearest")
        ax.set_title(_wrap(name), fontsize=7)
        ax.tick_params(labelsize=6)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    figure.colorbar(image, ax=axes, shrink=0.8)
    figure.supxlabel(labels[0], fontsize=8)
    figure.supylabel(labels[1], fontsize=8)
    figure.suptitle(title, fontsize=9)
    return figure


def _traces(entries: dict[str, list[dict[str, Any]]], streams: dict[int, Stream], stream: str) -> Figure:
    """One row per entry whose first record has traces, one column per traced motif: target
    (T, d_out) dashed black against produced (T, d_out), one colour per output dimension."""
    from matplotlib.figure import Figure

    traced = {name: records[0] for name, records in entries.items() if "traces" in records[0]}
    if not traced:
        figure = Figure(figsize=(4.0, 1.0))
        figure.text(0.5, 0.5, f"{stream}: no record has traces", ha="center", va="center")
        return figure
    columns = max(len(record["traces"]["ids"]) for record in traced.values())
    size = (PANEL_INCHES * columns + 0.8, TRACE_INCHES * len(traced) + 0.8)
    figure = Figure(figsize=size, layout="constrained")
    axes = figure.subplots(len(traced), columns, squeeze=False, sharex="col")
    for row, (name, record) in zip(axes, traced.items()):
        ids, produced = record["traces"]["ids"], record["traces"]["produced"]
        for ax in row[len(ids):]:
            ax.set_axis_off()
        for ax, motif, output in zip(row, ids, produced):
            target = streams[record["stream"]["seed"]].motifs[motif].target
            for dim in range(target.shape[1]):
                ax.plot(target[:, dim], color="black", linestyle="--", linewidth=0.8)
                ax.plot(np.asarray(output, dtype=float)[:, dim], color=f"C{dim}", linewidth=0.8)
            ax.set_title(f"motif {motif}", fontsize=7)
            ax.tick_params(labelsize=6)
        row[0].set_ylabel(_wrap(name), fontsize=7)
    figure.supxlabel("step", fontsize=8)
    figure.suptitle(f"{stream}: first motifs from rest after the whole stream (first seed);\n"
                    "dashed black: target, coloured: produced (one colour per output)", fontsize=9)
    return figure


def _robustness(entries: dict[str, list[dict[str, Any]]], stream: str) -> Figure:
    """One panel per curve ("Y_vs_X"), one line per entry: mean over the seeds that have it."""
    import matplotlib

    curves = list(dict.fromkeys(
        name for records in entries.values() for record in records for name in record.get("curves", {})
    ))
    figure, axes = _grid(max(len(curves), 1), width=3.0, height=2.4)
    colours = matplotlib.colormaps["tab10" if len(entries) <= 10 else "tab20"]
    handles: dict[str, Any] = {}  # entry name -> its first line, for the legend
    for ax, curve in zip(axes, curves):
        for index, (name, records) in enumerate(entries.items()):
            points = [record["curves"][curve] for record in records if curve in record.get("curves", {})]
            if not points:
                continue
            if any(p["x"] != points[0]["x"] for p in points):
                raise RecordError(f"records of {name} disagree on the x values of curve {curve}")
            (handles[name],) = ax.plot(
                points[0]["x"], _seed_mean([p["y"] for p in points]), color=colours(index % colours.N),
                marker=MARKERS[index % len(MARKERS)], markersize=3, linewidth=1.0, label=name,
            )
        y_label, _, x_label = curve.partition("_vs_")
        ax.set_xlabel(x_label, fontsize=8)
        ax.set_ylabel(y_label, fontsize=8)
        ax.tick_params(labelsize=6)
    if not curves:
        axes[0].set_axis_off()
        axes[0].text(0.5, 0.5, "no record has curves", ha="center", va="center", transform=axes[0].transAxes)
    if handles:
        legend = [handles[name] for name in entries if name in handles]
        figure.legend(handles=legend, loc="outside lower center", ncols=min(len(legend), 3), fontsize=7)
    figure.suptitle(f"{stream}: robustness, mean over seeds", fontsize=9)
    return figure


def draw_spectra(entries: dict[str, list[dict[str, Any]]], label: str, path: Path) -> None:
    """Writes ``_spectra``'s figure of ``entries`` (name -> records) to ``path``, titled by ``label``."""
    _spectra(entries, label).savefig(path, dpi=DPI, metadata={"Software": None})


def _spectra(entries: dict[str, list[dict[str, Any]]], stream: str) -> Figure:
    """One row per entry whose records keep eigenvalues, one panel per seed: the eigenvalues of
    its recurrent matrix after the whole stream in the complex plane, with the unit circle
    (dotted) and Re = 1 (dashed: modes to its right grow at rest), the leading one marked."""
    from matplotlib.figure import Figure

    rows = {name: [r for r in records if (r.get("spectrum") or {}).get("eigenvalues")]
            for name, records in entries.items()}
    rows = {name: records for name, records in rows.items() if records}
    columns = max((len(records) for records in rows.values()), default=1)
    figure = Figure(figsize=(1.8 * columns + 1.0, 1.8 * max(len(rows), 1) + 0.6), layout="constrained")
    axes = figure.subplots(max(len(rows), 1), columns, squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    if not rows:
        axes[0, 0].text(0.5, 0.5, "no record keeps a spectrum", ha="center", va="center",
                        transform=axes[0, 0].transAxes)
    circle = np.exp(1j * np.linspace(0, 2 * np.pi, 200))
    for row_axes, (name, records) in zip(axes, rows.items()):
        for ax, record in zip(row_axes, records):
            spectrum = record["spectrum"]
            eigenvalues = np.array(spectrum["eigenvalues"], dtype=float)
            ax.set_axis_on()
            ax.plot(circle.real, circle.imag, ":", color="grey", linewidth=0.8)
            ax.axvline(1.0, linestyle="--", color="grey", linewidth=0.8)
            ax.scatter(eigenvalues[:, 0], eigenvalues[:, 1], s=3, color="tab:blue")
            ax.scatter(*spectrum["leading"], s=14, facecolors="none", edgecolors="tab:red")
            ax.set_aspect("equal", adjustable="datalim")
            ax.set_title(_wrap(f"{name}, seed {record['seed']}: {spectrum['unstable']} with Re > 1"), fontsize=6)
            ax.tick_params(labelsize=5)
    figure.suptitle(f"{stream}: eigenvalues of the recurrent matrix\nafter the whole stream, per seed "
                    "(red: the leading one)", fontsize=8)
    return figure
