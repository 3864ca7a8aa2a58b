"""Where a stream comes from, and the stream file format for recorded motifs.

``resolve(ref)`` takes what ``--stream`` (and a targets file's ``stream`` column) names:

- a stream motifbench registers (``motifbench ls streams``);
- a plugin's stream, by the name an installed package gives it in the entry-point group
  ``motifbench.streams`` (its value is ``package.module:attr``, as below);
- ``package.module:attr``: a ``StreamSpec``, or a function seed -> ``Stream``;
- the path of a stream file.

Outside code that makes a stream (a plugin's or a module's) runs in a method process of its
own (``server.py``'s ``stream`` call), never in this trusted one: what comes back is text and
one array per motif, checked here like every stream (``Motif``, ``Stream``) and rounded to
``TARGET_DECIMALS``. Each is made before any method runs, so bad data stops a command at
once with one line.

A stream file is JSON (UTF-8, at most ``MAX_FILE_BYTES``)::

    {"format": "motifbench-stream", "format_version": 1,
     "name": "gestures-v1", "description": "...", "citation": "...",
     "dt": 0.004,                      # s per sample; or "sampling_rate": 250 (Hz)
     "tau": 0.01,                      # s, the networks' time constant; dt / tau in (0, 1]
     "tier": "standard",               # optional: smoke, standard (default) or scale
     "theta": 0.1,                     # optional (default 0.1): nmse at which a motif counts as produced
     "motifs": [[[0.0, 0.1], ...], ...],   # K motifs, each T_k samples x d_out numbers
     "segments": [[[0, 15, "A"], ...], ...]}  # optional: per motif its syllables [start, stop, label]

Every motif has the same ``d_out``, at least 2 samples, finite values and is not constant.
A song's segments (``streams.Segment``) are ranges of its samples in order; with them the
evaluator scores its branches (``metrics.branch_success``, ``nonbranch_success``); ``[]`` for a motif without.
A file's stream is the same for every seed: the seed varies the methods' initialisation and
the evaluation's noise. Records name a stream's ``source``: its kind, the reference as given
and, for a file, the sha256 of its bytes; ``content_hash`` pins the data itself.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .registry import PLUGIN_NAME, STREAMS, UnknownNameError, is_import_path, plugins
from .streams import TARGET_DECIMALS, THETA, Motif, Stream

FILE_FORMAT = "motifbench-stream"
FILE_FORMAT_VERSION = 1
MAX_FILE_BYTES = 256 * 2**20
MAX_STREAM_BYTES = 256 * 2**20  # of targets a stream from outside code may send
MAX_TEXT = 2000  # characters of a stream's description or citation
TIERS = ("smoke", "standard", "scale")
STREAM_LIMITS_S, STREAM_LIMITS_MB = 600.0, 8192.0  # the process that makes a stream from outside code


class StreamError(ValueError):
    """A stream that cannot be made or whose data is bad (one line naming the stream)."""


@dataclass(frozen=True)
class StreamSource:
    """A stream as named: where it comes from and how to make it for a seed (made once per seed)."""

    ref: str  # as given: a name, package.module:attr or a file's path
    kind: str  # "registered", "plugin", "module" or "file"
    name: str  # the stream's own name: its records go under it
    description: str
    tier: str
    n_motifs: int
    make: Callable[[int], Stream] = field(repr=False, compare=False)
    sha256: str | None = None  # of a file's bytes
    made: dict[int, Stream] = field(default_factory=dict, repr=False, compare=False)

    def build(self, seed: int) -> Stream:
        if seed not in self.made:
            stream = self.make(seed)
            if stream.name != self.name:
                raise StreamError(f"stream {self.ref}: seed {seed} made a stream named {stream.name!r}, "
                                  f"seed 0 one named {self.name!r}")
            self.made[seed] = stream
        return self.made[seed]

    @property
    def origin(self) -> dict[str, str]:
        """What a record says of where its stream came from."""
        return {"kind": self.kind, "ref": self.ref, **({"sha256": self.sha256} if self.sha256 else {})}


def resolve(ref: str) -> StreamSource:
    """The stream ``ref`` names (see the module's docstring); an UnknownNameError if it names
    none, a StreamError if it cannot be made or its data is bad. A file is read at each call;
    a stream from code is made once per process and seed."""
    if ref in STREAMS:
        spec = STREAMS[ref]
        return StreamSource(ref, "registered", spec.name, spec.description, spec.tier, spec.n_motifs,
                            functools.partial(_build_registered, spec))
    if ref in plugins("stream"):
        return _from_code(ref, plugins("stream")[ref], "plugin")
    if is_import_path(ref):
        return _from_code(ref, ref, "module")
    if Path(ref).is_file():
        return _from_file(ref)
    known = sorted([*STREAMS, *plugins("stream")])
    close = difflib.get_close_matches(ref, known, n=1)
    hint = (f"did you mean {close[0]!r}?" if close else
            f"known: {', '.join(known)} (or package.module:attr, or the path of a stream file)")
    raise UnknownNameError(f"unknown stream {ref!r}; {hint}")


def _build_registered(spec: Any, seed: int) -> Stream:
    """``spec.build(seed)``; its data errors (a packaged data file that changed) as a StreamError."""
    try:
        return spec.build(seed)
    except ValueError as error:
        raise StreamError(str(error)) from None


def _checked_name(name: Any, ref: str) -> str:
    if not isinstance(name, str) or not PLUGIN_NAME.fullmatch(name):
        raise StreamError(f"stream {ref}: its name {name!r} is not plain (letters, digits, _ and -)")
    if name in STREAMS:
        raise StreamError(f"stream {ref}: its name {name!r} is that of a stream motifbench registers")
    return name


def _text(value: Any, what: str, ref: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise StreamError(f"stream {ref}: {what} must be text of at most {MAX_TEXT} characters")
    return " ".join(value.split())


def _tier(value: Any, ref: str) -> str:
    if value not in TIERS:
        raise StreamError(f"stream {ref}: tier {value!r} is not one of {', '.join(TIERS)}")
    return value


def _theta(value: Any, ref: str) -> float:
    if type(value) not in (int, float) or not 0 < value < math.inf:
        raise StreamError(f"stream {ref}: theta {value!r} must be a positive number (an nmse)")
    return float(value)


def _motifs(targets: list[Any], dt: float, tau: float, ref: str, segments: Any = None) -> tuple[Motif, ...]:
    """Checked motifs of ``targets`` (each (T, d_out)), rounded as every stream's are, with
    ``segments`` (per motif a list of [start, stop, label]) if given."""
    if not (math.isfinite(dt) and math.isfinite(tau) and tau > 0 and 0 < dt <= tau):
        raise StreamError(f"stream {ref}: dt {dt!r} s and tau {tau!r} s must be finite with 0 < dt <= tau")
    if not targets:
        raise StreamError(f"stream {ref}: no motifs")
    if segments is None:
        segments = [[] for _ in targets]
    if not (isinstance(segments, list) and len(segments) == len(targets)
            and all(isinstance(song, list) and all(isinstance(s, list) and len(s) == 3 for s in song)
                    for song in segments)):
        raise StreamError(f"stream {ref}: segments must be one list of [start, stop, label] per motif")
    try:
        motifs = tuple(Motif(k, np.round(np.asarray(target, dtype=np.float64), TARGET_DECIMALS), dt, tau, tuple(song))
                       for k, (target, song) in enumerate(zip(targets, segments)))
        Stream(ref, 0, motifs, "", "", "standard")  # the checks across motifs
    except (ValueError, TypeError) as error:
        raise StreamError(f"stream {ref}: {' '.join(str(error).split())}") from None
    return motifs


def _from_file(ref: str) -> StreamSource:
    path = Path(ref)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise StreamError(f"stream file {ref}: larger than {MAX_FILE_BYTES} bytes")
        data = path.read_bytes()
        content = json.loads(data.decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as error:
        if isinstance(error, StreamError):
            raise
        raise StreamError(f"stream file {ref} is unreadable or not JSON ({type(error).__name__}: "
                          f"{' '.join(str(error).split())})") from None
    if not isinstance(content, dict) or content.get("format") != FILE_FORMAT:
        raise StreamError(f"stream file {ref}: not a {FILE_FORMAT} file (its \"format\" must be {FILE_FORMAT!r})")
    if content.get("format_version") != FILE_FORMAT_VERSION:
        raise StreamError(f"stream file {ref}: format_version {content.get('format_version')!r}; "
                          f"this motifbench reads {FILE_FORMAT_VERSION}")
    missing = [key for key in ("name", "description", "citation", "tau", "motifs") if key not in content]
    if missing or ("dt" in content) == ("sampling_rate" in content):
        what = f"lacks {', '.join(missing)}" if missing else "needs exactly one of dt and sampling_rate"
        raise StreamError(f"stream file {ref}: {what}")
    numbers = {key: content[key] for key in ("dt", "sampling_rate", "tau") if key in content}
    if not all(type(value) in (int, float) and math.isfinite(value) and value > 0 for value in numbers.values()):
        raise StreamError(f"stream file {ref}: dt, sampling_rate and tau must be positive numbers (seconds, Hz)")
    dt = float(numbers["dt"]) if "dt" in numbers else 1.0 / numbers["sampling_rate"]
    if not isinstance(content["motifs"], list):
        raise StreamError(f"stream file {ref}: motifs must be a list of (T, d_out) arrays")
    name = _checked_name(content["name"], ref)
    description = _text(content["description"], "description", ref)
    citation = _text(content["citation"], "citation", ref)
    tier, theta = _tier(content.get("tier", "standard"), ref), _theta(content.get("theta", THETA), ref)
    motifs = _motifs(content["motifs"], dt, float(numbers["tau"]), ref, content.get("segments"))

    def make(seed: int) -> Stream:
        return Stream(name, seed, motifs, description, citation, tier, theta)

    return StreamSource(ref, "file", name, description, tier, len(motifs), make, hashlib.sha256(data).hexdigest())


@functools.cache
def _from_code(ref: str, path: str, kind: str) -> StreamSource:
    """A stream that outside code (``path``, package.module:attr) makes, each seed in a method
    process of its own (once per process: cached)."""

    def make(seed: int) -> Stream:
        from .method import MethodError
        from .remote import Endpoint
        from .worker import Limits

        try:
            with Endpoint(path, Limits(STREAM_LIMITS_S, STREAM_LIMITS_MB), kind="stream") as endpoint:
                fields, arrays = endpoint.call("stream", max_bytes=MAX_STREAM_BYTES, ref=path, seed=seed)
        except MethodError as error:
            raise StreamError(str(error)) from None
        keys = [f"target{k}" for k in range(len(arrays))]
        if sorted(arrays) != sorted(keys) or not all(isinstance(fields.get(key), (int, float))
                                                     for key in ("dt", "tau")):
            raise StreamError(f"stream {ref}: sent no targets target0..target(K-1), dt and tau")
        name = _checked_name(fields.get("name"), ref)
        motifs = _motifs([arrays[key] for key in keys], float(fields["dt"]), float(fields["tau"]), ref,
                         fields.get("segments"))
        return Stream(name, seed, motifs, _text(fields.get("description"), "description", ref),
                      _text(fields.get("citation"), "citation", ref), _tier(fields.get("tier"), ref),
                      _theta(fields.get("theta"), ref))

    first = make(0)
    source = StreamSource(ref, kind, first.name, first.description, first.tier, len(first.motifs), make)
    source.made[0] = first
    return source
