"""Run records: one JSON file per (stream, method, seed, hyperparameter overrides).

Records are written atomically: to a temporary file in the target folder, then linked into
place (refusing an existing record) or, with ``force``, renamed over it. A reader never sees
half a record, and a record that exists is never lost to a refused run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import platform
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .evaluator import EvalConfig, Evaluation
    from .method import Method
    from .streams import Stream

SCHEMA_VERSION = 6  # 2: state_dependence, traces; 3: provenance; 4: stream source, timebase and theta,
# resumption_error, and sequence_success against the stream's theta alone; 5: the disruption probe,
# branch scores, channel_correlation and the stream's songs; 6: damage curves by mode, the spectrum
READABLE_SCHEMAS = (4, 5, 6)  # versions ``read_record`` accepts: sequence_success meant another thing before 4
SCORES_SINCE = {5: ("branch_success", "nonbranch_success", "channel_correlation", "disruption_r2", "recovery_tau")}
TRACED_MOTIFS = 3  # motifs whose final output from rest a record keeps, for the figures


class RecordError(Exception):
    """A record cannot be written or read."""


class RecordExists(RecordError):
    """A record is already where a run that may not replace it would write."""


@dataclass
class RunResult:
    """Everything one run measured and everything needed to re-run it."""

    schema_version: int
    package_version: str
    git_sha: str | None  # the checkout's commit, "-dirty" when it has changes
    dirty_files: list[str]  # the checkout's changed files (git status), relative to its root
    provenance: dict[str, str]  # what ran: "method" (package.module:Class) and its "source_sha256"
    stream: dict[str, Any]  # name, seed, content_hash, n_motifs, tier, source (kind, ref[, sha256]), dt, tau (s),
    # theta, songs (per song: syllables, markov_order, next_entropy_bits)
    method: dict[str, Any]  # card fields and hyperparameters
    overrides: dict[str, Any]  # hyperparameters set on the command line
    seed: int
    device: str
    eval_config: dict[str, Any]
    metrics: dict[str, Any]
    R: list[list[float | None]]
    transition_matrix: list[list[float | None]]  # mean nmse over repeats; null on the diagonal
    rest_nmse: list[float]
    traces: dict[str, Any]  # ids (M,) and produced (M, T, d_out): the first motifs from rest at the end
    sequences: dict[str, Any]  # ids and nmse, (S, L)
    curves: dict[str, Any]
    timings: dict[str, Any]
    parameter_counts: list[int | None]
    diagnostics: dict[str, Any]
    spectrum: dict[str, Any] | None  # metrics.spectrum_summary of the recurrent matrix; None: the method has none
    environment: dict[str, str]

    def to_json(self) -> str:
        return json.dumps(_jsonable(dataclasses.asdict(self)), indent=1, allow_nan=False) + "\n"


def _jsonable(value: Any) -> Any:
    """NaN and infinities become null; numpy scalars and arrays become plain Python."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    return value


def checkout(most_files: int = 50) -> dict[str, Any]:
    """Which code ran: ``git_sha``, the commit of the checkout motifbench runs from ("-dirty"
    when it has changes; None outside a git checkout), and ``dirty_files``, its changed and
    untracked files (an untracked folder as one entry) relative to its root, at most
    ``most_files`` of them and then a count of the rest."""

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout if out.returncode == 0 else None

    sha, status = (git("rev-parse", "HEAD") or "").strip(), git("status", "--porcelain")
    if status is None:  # a checkout whose state cannot be read is not known to be clean
        status = "" if not sha else "?? (git status failed: the changes are unknown)\n"
    files = sorted(line[3:] for line in status.splitlines() if line.strip())
    dirty = files[:most_files] + ([f"... and {len(files) - most_files} more"] if len(files) > most_files else [])
    return {"git_sha": (f"{sha}-dirty" if files else sha) or None, "dirty_files": dirty}


def method_provenance(spec: str) -> dict[str, str]:
    """What ran: the method class as ``package.module:Class`` and the sha256 of its module's
    source file (the file, not the module's imports; "unknown" where it cannot be found).
    The file is found on ``sys.path`` without importing anything, so no method code runs here."""
    from .registry import all_methods

    path = all_methods().get(spec, spec)
    module = path.partition(":")[0]
    try:
        digest = hashlib.sha256(Path(module_source(module)).read_bytes()).hexdigest()
    except (OSError, TypeError, ValueError, ImportError):
        digest = "unknown"
    return {"method": path, "source_sha256": digest}


def module_source(module: str) -> str | None:
    """The source file of ``module`` (dotted), looked up by the import system's finders package
    by package, without executing any of them; None if there is none."""
    import sys

    locations, spec = None, None
    for depth in range(1, module.count(".") + 2):
        name = ".".join(module.split(".")[:depth])
        finders = (finder.find_spec for finder in sys.meta_path if hasattr(finder, "find_spec"))
        spec = next((found for find in finders if (found := find(name, locations)) is not None), None)
        if spec is None:
            return None
        locations = spec.submodule_search_locations
    return spec.origin if spec is not None and spec.has_location else None


def environment() -> dict[str, str]:
    import torch

    return {"python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__}


def overrides_tag(overrides: dict[str, Any]) -> str:
    """'' for default hyperparameters, else 8 hex digits that name the overrides."""
    if not overrides:
        return ""
    text = json.dumps(_jsonable(overrides), sort_keys=True)
    return "-" + hashlib.sha256(text.encode()).hexdigest()[:8]


def record_path(out: Path, stream: str, method: str, seed: int, overrides: dict[str, Any]) -> Path:
    return Path(out) / stream / method / f"seed{seed}{overrides_tag(overrides)}.json"


def default_records(folder: Path) -> list[Path]:
    """A method folder's records with default settings (``seedN.json``; not ``seedN-<tag>.json``
    nor failed records), by seed."""
    paths = [path for path in Path(folder).glob("seed*.json") if path.stem[4:].isdigit()]
    return sorted(paths, key=lambda path: int(path.stem[4:]))


def failed_record_path(path: Path) -> Path:
    """Where a run that failed leaves its reason: ``seedN[-tag].failed.json`` beside ``path``."""
    return path.with_name(f"{path.stem}.failed.json")


def write_failed_record(path: Path, stream: str, method: str, seed: int, overrides: dict[str, Any], reason: str) -> Path:
    """Record why the run that would have written ``path`` failed; ``path`` itself is untouched."""
    from . import __version__

    failure = {
        "schema_version": SCHEMA_VERSION,
        "status": "failed",
        "reason": reason,
        "package_version": __version__,
        **checkout(),
        "stream": {"name": stream},
        "method": {"name": method},
        "overrides": _jsonable(overrides),
        "seed": seed,
    }
    failed = failed_record_path(path)
    write_text(failed, json.dumps(failure, indent=1) + "\n", force=True)
    return failed


def read_record(path: Path, failed: bool = False, located: bool = False) -> dict[str, Any]:
    """A record's JSON (a failed record's with ``failed``), or a RecordError naming the file and
    what is wrong with it: unreadable, not JSON, a schema version this motifbench cannot read,
    a stream or method name that is not a plain name, a missing field, a score that is not a
    number (a score newer than the record's schema reads as null), or a field the leaderboard
    shows beside the scores of the wrong type. With ``located``, the record must also be where
    ``record_path`` puts it: its stream, method, seed and overrides give its folder and file
    name."""
    from .method import PLAIN_NAME
    from .metrics import METRICS

    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError, RecursionError) as error:
        raise RecordError(f"record {path} is unreadable or corrupt ({type(error).__name__}: {error})") from None
    if not isinstance(record, dict):
        raise RecordError(f"record {path} is corrupt (not a JSON object)")
    version = record.get("schema_version")
    if version not in READABLE_SCHEMAS:
        raise RecordError(f"record {path} has schema_version {version!r}; this motifbench reads "
                          f"{', '.join(map(str, READABLE_SCHEMAS))}")
    try:
        stream, method, seed = record["stream"]["name"], record["method"]["name"], record["seed"]
        for kind, name in (("stream", stream), ("method", method)):
            if not isinstance(name, str) or not PLAIN_NAME.fullmatch(name):
                raise ValueError(f"its {kind} name {name!r} is not a plain name")
        if type(seed) is not int or seed < 0:
            raise ValueError(f"its seed {seed!r} is not a non-negative integer")
        if failed:
            str(record["reason"])
        else:
            scores = record["metrics"]
            if not isinstance(scores, dict):
                raise TypeError("metrics is not an object")
            for since, names in SCORES_SINCE.items():  # an older record lacks them: they read as null
                if version < since:
                    scores.update({name: None for name in names if name not in scores})
            for name in METRICS:
                if scores[name] is not None and type(scores[name]) not in (int, float, bool):
                    raise TypeError(f"metric {name} is {scores[name]!r}, not a number")
            _check_context(record)
        if located:
            expected = record_path(Path(path).parents[2], stream, method, seed, record.get("overrides") or {})
            if failed:
                expected = failed_record_path(expected)
            if Path(path).name != expected.name or Path(path).parent.parts[-2:] != expected.parent.parts[-2:]:
                raise ValueError(f"it is the record of {stream} {method} seed {seed}, which belongs at {expected}")
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise RecordError(f"record {path} is corrupt ({type(error).__name__}: {error})") from None
    return record


def _check_context(record: dict[str, Any]) -> None:
    """A TypeError unless the fields the leaderboard shows beside the scores have their types:
    the card's flags, ``parameter_counts`` and ``timings.learn``, and the stream's theta."""
    flags = [record["method"][flag] for flag in ("stores_past_data", "uses_sgd")]
    counts, learn, theta = record["parameter_counts"], record["timings"]["learn"], record["stream"]["theta"]
    if not all(type(flag) is bool for flag in flags):
        raise TypeError("the method's stores_past_data and uses_sgd are not true/false")
    if not isinstance(counts, list) or not all(count is None or type(count) is int for count in counts):
        raise TypeError("parameter_counts is not a list of integers or nulls")
    if not isinstance(learn, list) or not all(type(seconds) in (int, float) for seconds in learn):
        raise TypeError("timings.learn is not a list of numbers")
    if type(theta) not in (int, float):
        raise TypeError("the stream's theta is not a number")


def write_record(path: Path, record: RunResult, force: bool = False) -> None:
    """Write atomically; an existing record is kept unless ``force``. A stale failed record of
    the same run is removed."""
    write_text(path, record.to_json(), force)
    failed_record_path(path).unlink(missing_ok=True)


def write_text(path: Path, text: str, force: bool = False) -> None:
    """Write atomically; an existing file is kept unless ``force``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        os.chmod(tmp, 0o644)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if force:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise RecordExists(f"record {path} exists; pass --force to replace it") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)



def build_record(
    stream: Stream,
    origin: dict[str, str],
    method: Method,
    seed: int,
    device: str,
    config: EvalConfig,
    overrides: dict[str, Any],
    evaluation: Evaluation,
    provenance: dict[str, str],
) -> RunResult:
    """The record of one run; ``origin`` is where the stream came from (``StreamSource.origin``),
    ``provenance`` is ``method_provenance`` of the class that ran."""
    from . import __version__

    K = len(stream.motifs)
    return RunResult(
        schema_version=SCHEMA_VERSION,
        package_version=__version__,
        **checkout(),
        provenance=provenance,
        stream={"name": stream.name, "seed": stream.seed, "content_hash": stream.content_hash, "n_motifs": K,
                "tier": stream.tier, "source": origin, "dt": stream.motifs[0].dt, "tau": stream.motifs[0].tau,
                "theta": stream.theta, "songs": stream.songs},
        method={**dataclasses.asdict(method.card), "hyperparameters": method.hyperparameters()},
        overrides=overrides,
        seed=seed,
        device=device,
        eval_config=dataclasses.asdict(config),
        metrics=evaluation.metrics,
        R=evaluation.R,
        transition_matrix=mean_transition_nmse(evaluation.transition_nmse),
        rest_nmse=evaluation.rest_nmse,
        traces={
            "ids": list(range(min(K, TRACED_MOTIFS))),
            "produced": [np.round(y, 5) for y in evaluation.final_outputs[:TRACED_MOTIFS]],
        },
        sequences={"ids": evaluation.sequence_ids, "nmse": evaluation.sequence_nmse},
        curves=evaluation.curves,
        timings=evaluation.timings,
        parameter_counts=evaluation.parameter_counts,
        diagnostics=evaluation.diagnostics,
        spectrum=evaluation.spectrum,
        environment=environment(),
    )


def mean_transition_nmse(transition_nmse: np.ndarray) -> np.ndarray:
    """(K, K, repeats) -> (K, K) mean over repeats, NaN on the diagonal."""
    K = transition_nmse.shape[0]
    matrix = np.full((K, K), np.nan)
    off_diagonal = ~np.eye(K, dtype=bool)
    matrix[off_diagonal] = transition_nmse[off_diagonal].mean(axis=-1)
    return matrix
