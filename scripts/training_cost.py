"""What a slice of the leaderboard costs to train, before and after a change: core-hours and iterations.

What it measures: the core-hours of a representative slice of the board, every method whose
card says ``uses_sgd`` (in the ``--after`` version's registry), on streams ``smooth10-v1`` and
``steps10-v1``, seed 0, for two versions of motifbench given as git revisions, in one run,
with the training iterations that went into them and the headline scores they got.

How: each version is exported from this repository with ``git archive REV | tar -x -C
TMP/VERSION/src`` and installed with ``python -m pip install --quiet --no-deps
--no-build-isolation --target TMP/VERSION/site TMP/VERSION/src`` (this interpreter,
``sys.executable``: same torch, numpy and Python for both), so nothing runs from the working
tree, which may be changing under us. Each (version, stream, method) is one process,
``PYTHONPATH=TMP/VERSION/site python -m motifbench run --stream S --method M --seeds SEED --out
TMP/VERSION/records --threads 1 --force``, started in TMP/VERSION (so that ``python -m`` puts no
``motifbench`` of the working tree on ``sys.path``; the method process it starts inherits the
same ``sys.path``). All the runs of both versions go into one list, the before and after run of
one (stream, method) next to each other (which of the two comes first flips from one pair to
the next), run by a pool of ``--jobs`` processes (default 2): with two jobs the two versions of
a method run side by side, and a change of machine load hits both alike.

From each run's record (``TMP/VERSION/records/STREAM/METHOD/seedSEED.json``) it reads:

- ``timings.total``, the run's wall seconds from the method's setup to the end of the
  evaluation; one thread per run, so wall seconds are core-seconds; core-h = s / 3600.
- ``diagnostics.training``: one entry per training phase with its ``iterations`` (and
  ``train_nmse``); some methods log more entries than motifs (``ann_*`` log their pre-training
  first). Iterations are summed over all entries; "at cap" counts the entries whose iterations
  equal the record's ``method.hyperparameters.max_iterations`` (written k/n, n = entries; a
  pre-training entry, capped by ``pretrain_iterations`` instead, is never at cap).
- the headline scores in ``metrics``: ``final_r2``, ``plasticity``, ``forgetting``,
  ``transition_success`` (seed 0 alone: one draw, not a mean over seeds).

A run that exits non-zero (or leaves no record) is shown as failed with the last line of its
stderr; the script goes on and exits 1 at the end. Totals per stream and overall count only
the methods whose two runs both succeeded.

Run from the repository root (the whole slice, 15 SGD methods x 2 streams x 2 versions = 60
runs of 0.5-11 min, is about 1.8 core-h per version by the leaderboard's records: about two
hours with ``--jobs 2`` on a quiet 2-core machine; ``--methods finetune --streams smooth10-v1``
takes about 2 minutes):

    .venv/bin/python scripts/training_cost.py --before REV [--after REV]

Options: ``--before REV`` (required), ``--after REV`` (default ``HEAD``), ``--streams a,b``
(default ``smooth10-v1,steps10-v1``), ``--methods a,b`` (default: every SGD method of the after
version), ``--seed S`` (default 0), ``--jobs J`` (default 2), ``--out PATH``, ``--keep`` (keep the
temporary folder with both installs, the records and the runs' logs, and say where it is). The
table is printed and written, with the command, date, both commits, torch version, nproc, jobs
and load average, to ``scripts/results/training_cost.md``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tabulate import tabulate

import board_cost  # scripts/ is on sys.path when a script runs
from run_info import command_line, git_commit, nproc

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "scripts" / "results" / "training_cost.md"
DEFAULT_STREAMS = ("smooth10-v1", "steps10-v1")
VERSIONS = ("before", "after")
# The headline scores shown before -> after, as the record's ``metrics`` names them.
SCORES = ("final_r2", "plasticity", "forgetting", "transition_success")

# Run with PYTHONPATH=<site> in the after version: its registered streams, and its methods with their cards'
# uses_sgd, as JSON on the last line of stdout; also where motifbench was imported from, to check it is <site>.
REGISTRY_QUERY = """
import json
import motifbench
from motifbench import registry
methods = [[name, bool(registry.get_method(name).card.uses_sgd)] for name in registry.METHODS]
print(json.dumps({"file": motifbench.__file__, "streams": list(registry.STREAMS), "methods": methods}))
"""


class InputError(Exception):
    """Bad input: reported in one line, exit status 2, nothing written."""


@dataclass
class Version:
    label: str  # "before" or "after"
    rev: str  # as given
    commit: str = ""  # resolved, full hash
    folder: Path = Path()

    @property
    def site(self) -> Path:
        return self.folder / "site"

    @property
    def records(self) -> Path:
        return self.folder / "records"

    def env(self) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": str(self.site)}


@dataclass
class Run:
    version: Version
    stream: str
    method: str
    seed: int
    returncode: int | None = None
    wall_s: float = 0.0  # the process's wall time, start-up and record writing included
    error: str = ""
    record: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and bool(self.record)

    @property
    def log(self) -> Path:
        return self.version.folder / "logs" / f"{self.stream}.{self.method}"


def git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)


def resolve(rev: str) -> str:
    """The full commit hash of ``rev`` (an InputError if it names no commit)."""
    found = git("rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}")
    if found.returncode != 0 or not found.stdout.strip():
        raise InputError(f"unknown revision {rev!r}")
    return found.stdout.strip()


def install(version: Version) -> None:
    """``git archive COMMIT | tar -x -C FOLDER/src``, then pip install --target FOLDER/site."""
    src = version.folder / "src"
    src.mkdir(parents=True)
    archive = subprocess.Popen(["git", "archive", version.commit], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    untar = subprocess.run(["tar", "-x", "-C", str(src)], stdin=archive.stdout, capture_output=True, text=True)
    archive.stdout.close()
    archive_err = archive.stderr.read().decode(errors="replace")
    archive.stderr.close()
    if archive.wait() != 0 or untar.returncode != 0:
        raise RuntimeError(f"cannot export {version.rev}: {last_line(archive_err or untar.stderr)}")
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                          "--target", str(version.site), str(src)], capture_output=True, text=True)
    if pip.returncode != 0:
        raise RuntimeError(f"cannot install {version.rev} ({version.commit[:12]}): "
                           f"{last_line(pip.stderr or pip.stdout)}")


def registry_of(version: Version) -> dict[str, Any]:
    """The version's registered streams and methods (name, uses_sgd), imported from its install."""
    query = subprocess.run([sys.executable, "-c", REGISTRY_QUERY], cwd=version.folder, env=version.env(),
                           capture_output=True, text=True)
    if query.returncode != 0:
        raise RuntimeError(f"cannot read the registry of {version.rev}: {last_line(query.stderr)}")
    found = json.loads(query.stdout.strip().splitlines()[-1])
    if not Path(found["file"]).resolve().is_relative_to(version.site.resolve()):
        raise RuntimeError(f"motifbench of {version.rev} was imported from {found['file']}, not from {version.site}")
    return found


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


class Pool:
    """The runs' processes, each in its own process group, so that an interrupted script stops them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.live: set[subprocess.Popen[bytes]] = set()
        self.stopping = False

    def execute(self, run: Run) -> Run:
        run.log.parent.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "motifbench", "run", "--stream", run.stream, "--method", run.method,
                   "--seeds", str(run.seed), "--out", str(run.version.records), "--threads", "1", "--force"]
        with open(f"{run.log}.out", "wb") as out, open(f"{run.log}.err", "wb") as err:
            with self.lock:
                if self.stopping:
                    run.error = "not run (interrupted)"
                    return run
                tic = time.perf_counter()
                process = subprocess.Popen(command, cwd=run.version.folder, env=run.version.env(), stdout=out,
                                           stderr=err, start_new_session=True)
                self.live.add(process)
            run.returncode = process.wait()
            run.wall_s = time.perf_counter() - tic
            with self.lock:
                self.live.discard(process)
        path = run.version.records / run.stream / run.method / f"seed{run.seed}.json"
        if run.returncode == 0 and path.exists():
            run.record = json.loads(path.read_text())
        else:
            stderr = Path(f"{run.log}.err").read_text(errors="replace")
            reason = last_line(stderr) if stderr.strip() else last_line(Path(f"{run.log}.out").read_text(errors="replace"))
            run.error = f"exit {run.returncode}: {reason}" if run.returncode else f"no record {path.name}"
        return run

    def stop(self) -> None:
        with self.lock:
            self.stopping = True
            for process in self.live:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass


# --- what a record says -------------------------------------------------------------------------------------

def core_hours(run: Run) -> float:
    return board_cost.core_hours(run.record)


def iterations(run: Run) -> int:
    return board_cost.iterations(run.record)


def at_cap(run: Run) -> tuple[int, int]:
    return board_cost.at_cap(run.record)


def score(run: Run, name: str) -> str:
    value = run.record.get("metrics", {}).get(name) if run.ok else None
    return "-" if value is None else f"{value:.3f}"


# --- the table -----------------------------------------------------------------------------------------------

def ratio(after: float, before: float) -> str:
    return f"{after / before:.2f}x" if before > 0 else "-"


def failed(run: Run, width: int = 0) -> str:
    """The text "failed (reason)", the reason cut to ``width`` characters if given, "|" escaped for Markdown."""
    reason = run.error if not width or len(run.error) <= width else run.error[:width - 3] + "..."
    return f"failed ({reason})".replace("|", "\\|")


def method_row(before: Run, after: Run) -> list[str]:
    def iters(run: Run) -> str:
        return str(iterations(run)) if run.ok else "failed"

    def capped(run: Run) -> str:
        return "{}/{}".format(*at_cap(run)) if run.ok else "failed"

    return [
        before.method,
        f"{core_hours(before):.4f}" if before.ok else failed(before, 80),
        f"{core_hours(after):.4f}" if after.ok else failed(after, 80),
        ratio(core_hours(after), core_hours(before)) if before.ok and after.ok else "-",
        iters(before),
        iters(after),
        f"{capped(before)} / {capped(after)}",
        *(f"{score(before, name)} -> {score(after, name)}" for name in SCORES),
    ]


def total_row(label: str, pairs: list[tuple[Run, Run]]) -> list[str]:
    complete = [(b, a) for b, a in pairs if b.ok and a.ok]
    before_h = sum(core_hours(b) for b, _ in complete)
    after_h = sum(core_hours(a) for _, a in complete)
    capped = [sum(at_cap(run)[i] for run in runs) for runs in ([b for b, _ in complete], [a for _, a in complete])
              for i in (0, 1)]
    missing = len(pairs) - len(complete)
    return [
        f"**{label}**" + (f" ({len(complete)} of {len(pairs)} methods; {missing} with a failed run left out)"
                          if missing else ""),
        f"**{before_h:.4f}**",
        f"**{after_h:.4f}**",
        f"**{ratio(after_h, before_h)}**",
        str(sum(iterations(b) for b, _ in complete)),
        str(sum(iterations(a) for _, a in complete)),
        f"{capped[0]}/{capped[1]} / {capped[2]}/{capped[3]}",
        *("" for _ in SCORES),
    ]


def load_average() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "unknown"


def torch_version() -> str:
    """This interpreter's torch, which both versions' runs import."""
    import torch

    return torch.__version__


def parse_list(text: str) -> list[str]:
    return list(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))  # in order, once each


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, metavar="REV", help="the version before: a git revision")
    parser.add_argument("--after", default="HEAD", metavar="REV", help="the version after: a git revision (default HEAD)")
    parser.add_argument("--streams", default=",".join(DEFAULT_STREAMS),
                        help=f"comma-separated streams (default {','.join(DEFAULT_STREAMS)})")
    parser.add_argument("--methods", help="comma-separated methods, among the after version's SGD methods (default: all of them)")
    parser.add_argument("--seed", type=int, default=0, help="the seed of every run (default 0)")
    parser.add_argument("--jobs", type=int, default=2, help="runs at once, each a process with one thread (default 2)")
    parser.add_argument("--out", type=Path, default=RESULT, help=f"Markdown file to write (default {RESULT.relative_to(ROOT)})")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (installs, records, logs)")
    args = parser.parse_args(argv)
    prog = Path(sys.argv[0]).name if argv is None else "training_cost.py"

    sys.stdout.reconfigure(line_buffering=True)
    started = datetime.datetime.now().astimezone()
    tmp = Path(tempfile.mkdtemp(prefix="motifbench-training-cost-"))
    pool = Pool()
    try:
        try:
            if args.jobs < 1:
                raise InputError(f"--jobs {args.jobs}: must be at least 1")
            streams = parse_list(args.streams)
            if not streams:
                raise InputError("--streams: no stream named")
            versions = {label: Version(label, rev) for label, rev in zip(VERSIONS, (args.before, args.after))}
            for version in versions.values():
                version.commit = resolve(version.rev)
                version.folder = tmp / version.label
            # The after version first: its registry decides the methods and checks the names.
            for label in ("after", "before"):
                print(f"installing {label} = {versions[label].rev} ({versions[label].commit[:12]}) ...", flush=True)
                install(versions[label])
                if label == "after":
                    found = registry_of(versions["after"])
                    for stream in streams:
                        if stream not in found["streams"]:
                            raise InputError(f"unknown stream {stream!r}; registered: {', '.join(found['streams'])}")
                    sgd = [name for name, uses_sgd in found["methods"] if uses_sgd]
                    methods = sgd if args.methods is None else parse_list(args.methods)
                    for name in methods:
                        if name not in sgd:
                            what = "not an SGD method" if name in dict(found["methods"]) else "unknown method"
                            raise InputError(f"{what} {name!r}; SGD methods of {args.after}: {', '.join(sgd)}")
                    if not methods:
                        raise InputError("--methods: no method named")
        except InputError as error:
            print(f"{prog}: error: {error}", file=sys.stderr)
            return 2
        except RuntimeError as error:
            print(f"{prog}: error: {error}", file=sys.stderr)
            return 1

        # One list, before and after of the same (stream, method) adjacent, the first of the two flipping.
        runs: list[Run] = []
        for index, (stream, method) in enumerate((s, m) for s in streams for m in methods):
            order = VERSIONS if index % 2 == 0 else VERSIONS[::-1]
            runs.extend(Run(versions[label], stream, method, args.seed) for label in order)
        print(f"{len(runs)} runs ({len(methods)} methods x {len(streams)} streams x 2 versions, seed {args.seed}), "
              f"{args.jobs} at a time; torch {torch_version()}, nproc {nproc()}", flush=True)

        def terminate(signum: int, frame: Any) -> None:
            raise SystemExit(128 + signum)  # so that ``pool.stop()`` runs and the runs do not outlive the script

        signal.signal(signal.SIGTERM, terminate)
        tic = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as executor:
            futures = [executor.submit(pool.execute, run) for run in runs]
            try:
                for done, future in enumerate(concurrent.futures.as_completed(futures), 1):
                    run = future.result()
                    what = (f"{run.record['timings']['total']:7.1f} s, {iterations(run)} iterations" if run.ok
                            else failed(run))
                    print(f"  [{done}/{len(runs)}] {run.version.label:6} {run.stream:12} {run.method:20} {what} "
                          f"(process {run.wall_s:.1f} s)", flush=True)
            except BaseException:
                pool.stop()
                raise
        elapsed = time.perf_counter() - tic
        load_end = load_average()

        pairs: dict[str, list[tuple[Run, Run]]] = {stream: [] for stream in streams}
        by_key = {(run.version.label, run.stream, run.method): run for run in runs}
        for stream in streams:
            for method in methods:
                pairs[stream].append((by_key["before", stream, method], by_key["after", stream, method]))
        tables = []
        for stream in streams:
            rows = [method_row(b, a) for b, a in pairs[stream]]
            rows.append(total_row(f"total {stream}", pairs[stream]))
            tables.append((stream, tabulate(rows, headers=[
                "method", "before core-h", "after core-h", "after / before", "iterations before", "iterations after",
                "at cap before / after", *(f"{name} before -> after" for name in SCORES),
            ], tablefmt="github", disable_numparse=True)))
        every = [pair for stream in streams for pair in pairs[stream]]
        grand = total_row("total", every)
        grand_line = (f"{grand[0]}: before {grand[1]} core-h, after {grand[2]} core-h, after / before {grand[3]}; "
                      f"iterations {grand[4]} -> {grand[5]}; entries at cap {grand[6]}")
        failures = [run for run in runs if not run.ok]
        process_h = {label: sum(run.wall_s for run in runs if run.version.label == label and run.ok) / 3600
                     for label in VERSIONS}

        for stream, table in tables:
            print(f"\n{stream}\n\n{table}")
        print(f"\n{grand_line}")
        v = versions
        document = "\n".join([
            "# Training cost of the SGD methods: before and after",
            "",
            "Written by `scripts/training_cost.py`; do not edit by hand.",
            "",
            f"- command: `{command_line()}` (from the repository root; the script at commit {git_commit()})",
            f"- date: {started.isoformat(timespec='seconds')}; the runs took {elapsed / 60:.1f} min of wall time",
            f"- before: `{v['before'].rev}` = {v['before'].commit}; after: `{v['after'].rev}` = {v['after'].commit}",
            f"- torch {torch_version()}, Python {sys.version.split()[0]}, both versions installed into this "
            f"interpreter's environment (`pip install --target`, `PYTHONPATH`); nproc {nproc()}; "
            f"{args.jobs} jobs; load average (1, 5, 15 min) at the end {load_end}",
            f"- slice: streams {', '.join(f'`{s}`' for s in streams)}, seed {args.seed}, "
            + ("every method of the after version whose card has `uses_sgd`" if args.methods is None
               else "methods " + ", ".join(f"`{m}`" for m in methods)) + ", default settings; each run "
            "`motifbench run --stream S --method M --seeds SEED --threads 1 --force`, one process",
            "- the two versions' runs were interleaved in one pool (before and after of each (stream, method) "
            "adjacent in the queue, which first alternating), so a change of machine load hits both alike",
            *(["- a failed run's reason is cut short in the table; the list below the tables has it whole"]
              if failures else []),
            "",
            "core-h: the record's `timings.total` / 3600 (one thread per run: wall seconds = core-seconds). "
            "Iterations: `diagnostics.training[*].iterations` summed over all entries (`ann_*` log their "
            "pre-training as an extra first entry). At cap: entries whose iterations equal the method's "
            "`max_iterations`, of all entries. Scores: the record's `metrics`, seed "
            f"{args.seed} alone. Totals count only the methods whose two runs both succeeded.",
            "",
            *(part for stream, table in tables for part in (f"## `{stream}`", "", table, "")),
            grand_line,
            "",
            f"Wall time of the runs' processes (start-up, imports and record writing included), successful runs: "
            f"before {process_h['before']:.4f} h, after {process_h['after']:.4f} h.",
            "",
            *([f"Failed runs ({len(failures)}):", ""] + [f"- {r.version.label} {r.stream} {r.method}: {r.error}"
                                                         for r in failures] + [""] if failures else []),
        ])
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(document)
        print(f"\nwrote {args.out} (the runs took {elapsed / 60:.1f} min)")
        if failures:
            print(f"{prog}: error: {len(failures)} of {len(runs)} runs failed", file=sys.stderr)
        return 1 if failures else 0
    finally:
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print(f"{Path(sys.argv[0]).name}: interrupted; the runs were stopped, nothing written", file=sys.stderr)
        sys.exit(130)
