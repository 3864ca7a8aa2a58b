"""Methods submitted from outside that attack the benchmark instead of (or as well as) learning
(not a test file): test_attacks.py runs each as ``hostile_methods:Class`` through the command
line and checks that its attack fails while its honest scores are recorded.

Each is otherwise a real method, a tape recorder with known, imperfect scores:

- ``Mumbler``: stores each target and replays it at half its amplitude, upside down unless it
  starts from rest.
- ``Ramp``: produces a ramp from -1 to 1 for every motif, whatever it learned.

The attacks (each class's docstring says what it tries):

- ``Forger``: forges its own scores (stack and gc walking, patching motifbench, forged records).
- ``Vandal``: overwrites and deletes the records and tables of the results folders it finds.
- ``TargetRewriter``: makes its motif's target writable and rewrites it, and every motif it reaches.
- ``ExitsAtImport``, ``SleepsAtImport``: importing this module exits or hangs (HOSTILE_AT_IMPORT).
- ``Orphaner``: starts processes that outlive it and hold the command's output open.
- ``ShmFiller``: fills /dev/shm and leaves its file there.
- ``OutsideWriter``: writes files outside its scratch folder.
- ``ClaimsFinetune``, ``EscapingCard``: card names that are a registered method's, or a path
  out of the results folder.
- ``Blocker``: starts a child and blocks in ``learn`` (for killing the command mid-run).

Environment variables the tests set (a method process inherits the command's environment):

- ``HOSTILE_AT_IMPORT``: ``exit`` or ``sleep``: importing this module calls ``os._exit(0)`` or
  sleeps 1000 s. Never set it in a process that imports this module on purpose.
- ``HOSTILE_ARMED=1``: the safety catch: ``Forger`` and ``Vandal`` write and delete files only
  when it is set, so that running one by hand cannot damage real results.
- ``HOSTILE_TARGET_DIR``: a results folder to attack, besides the ``--out`` folders the
  attackers find on the command lines of their ancestor processes (``/proc/PID/cmdline``).
- ``HOSTILE_TAG``: a unique number naming what a method leaves behind: the argument of the
  ``sleep`` processes it starts (``sleep TAG``, ``sleep TAG.5``), its /dev/shm file.
- ``HOSTILE_OUTSIDE``: the file ``OutsideWriter`` tries to write.
- ``HOSTILE_MARKER``: ``Blocker`` blocks in ``learn`` while this file exists.
"""

from __future__ import annotations

import os
import time

_AT_IMPORT = os.environ.get("HOSTILE_AT_IMPORT", "")
if _AT_IMPORT == "exit":  # ExitsAtImport: whoever imports this module exits, "successfully"
    os._exit(0)
if _AT_IMPORT == "sleep":  # SleepsAtImport: whoever imports this module hangs
    time.sleep(1000)

import errno  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from submitted_methods import Parrot  # noqa: E402

from motifbench.method import MethodCard, Settings, StreamInfo, hyperparameter  # noqa: E402
from motifbench.streams import Motif  # noqa: E402

CITATION = "motifbench tests: a hostile method"
PERFECT = {"final_r2": 1.0, "plasticity": 1.0, "forgetting": 0.0, "interference": 0.0, "transition_success": 1.0,
           "sequence_success": 1.0}
SCORING_TYPES = ("Evaluator", "Evaluation", "RunResult")  # what holds a run's scores in motifbench


def armed() -> bool:
    return os.environ.get("HOSTILE_ARMED") == "1"


def tag() -> str:
    return os.environ.get("HOSTILE_TAG", "4711")


# --- honest methods: what the attackers really are ------------------------------------------------


class Mumbler(Parrot):
    """A tape recorder at half volume, upside down unless it starts from rest: every motif is
    produced from rest (r2 0.73 on smoke-v1), but no transition and no sequence succeeds."""

    card = MethodCard(name="mumbler", version="1", citation=CITATION, uses_sgd=False)

    def setup(self, info: StreamInfo, seed: int, device: str = "cpu") -> None:
        super().setup(info, seed, device)
        self.info, self.seed = info, seed

    def generate(self, ids, state, n_prep, n_steps, noise_std=0.0, generator=None):
        y, end = super().generate(ids, state, n_prep, n_steps, noise_std, generator)
        sign = torch.where((state == 0).all(dim=1), 1.0, -1.0).to(y.dtype)
        return 0.5 * sign[:, None, None] * y, end


class Ramp(Mumbler):
    """Produces a ramp from -1 to 1 in every output for every motif, whatever it learned."""

    card = MethodCard(name="ramp", version="1", citation=CITATION, uses_sgd=False)

    def generate(self, ids, state, n_prep, n_steps, noise_std=0.0, generator=None):
        ramp = torch.linspace(-1.0, 1.0, n_steps, dtype=torch.float64)
        return ramp[None, :, None].expand(len(ids), n_steps, self.info.d_out).clone(), state + 1.0


# --- where the results are: the ancestors' command lines -------------------------------------------


def ancestors() -> list[int]:
    """The pids above this process, as /proc shows them (parent first)."""
    pids, pid = [], os.getppid()
    while pid > 0 and len(pids) < 64:
        pids.append(pid)
        try:
            with open(f"/proc/{pid}/stat") as stat:
                pid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return pids


def command_lines() -> list[tuple[list[str], str]]:
    """(arguments, working directory) of every ancestor whose command line this process can read."""
    lines = []
    for pid in ancestors():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                args = [arg.decode(errors="replace") for arg in cmdline.read().split(b"\0") if arg]
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        lines.append((args, cwd))
    return lines


def option(args: list[str], name: str) -> str | None:
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg[len(name) + 1:]
    return None


def results_folders(existing: bool = True) -> list[Path]:
    """Every results folder this process can name: HOSTILE_TARGET_DIR and the ancestors' --out
    (only those that exist, if ``existing``)."""
    found = [Path(os.environ["HOSTILE_TARGET_DIR"])] if os.environ.get("HOSTILE_TARGET_DIR") else []
    for args, cwd in command_lines():
        out = option(args, "--out")
        if out is not None:
            found.append(Path(cwd, out))
    return [folder for folder in dict.fromkeys(found) if folder.is_dir() or not existing]


def streams_run() -> list[str]:
    """The streams the ancestors were asked to run (smoke-v1 if none can be read)."""
    names = [option(args, "--stream") for args, _ in command_lines()]
    return list(dict.fromkeys(name for name in names if name)) or ["smoke-v1"]


# --- the attacks ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ForgerHyperparams(Settings):
    forge_files: bool = hyperparameter(True, "also write forged records into the results folders it finds")


class Forger(Mumbler):
    """Forges its own scores (final_r2 1.0, sequence_success 1.0), in every way the code that
    scores it could allow, once, in its first ``learn``:

    1. walks the Python stack and the garbage collector's objects for the evaluator (it zeroes
       every error the evaluator computes), an Evaluation or a RunResult (it overwrites their
       metrics);
    2. patches motifbench's ``metrics.compute_metrics`` and ``results.write_record`` in its own
       process, so that whatever scores are computed or written there are perfect;
    3. with ``forge_files`` (and HOSTILE_ARMED=1), writes a forged record where its record would
       go in every results folder it finds (under its card's name and under
       ``hostile_methods.Forger``), and leaves a thread that rewrites its records as they appear.

    Its diagnostics list what it found, patched and wrote."""

    card = MethodCard(name="forger", version="1", citation=CITATION, uses_sgd=False)
    Hyperparams = ForgerHyperparams

    def setup(self, info: StreamInfo, seed: int, device: str = "cpu") -> None:
        super().setup(info, seed, device)
        self.report: dict[str, Any] = {"scoring_objects": [], "patched": [], "forged_files": [], "errors": []}
        self.attacked = False

    def learn(self, motif: Motif) -> None:
        super().learn(motif)
        if not self.attacked:
            self.attacked = True
            self._forge_in_memory(sys._getframe(1))
            if self.hp.forge_files and armed():
                self._forge_files()

    def _forge_in_memory(self, frame: Any) -> None:
        candidates = []
        while frame is not None:  # the stack: the evaluator is ``self`` somewhere up there
            candidates.extend(frame.f_locals.values())
            frame = frame.f_back
        candidates.extend(obj for obj in gc.get_objects() if type(obj).__name__ in SCORING_TYPES)
        seen = set()
        for obj in candidates:
            kind = type(obj).__name__
            if kind not in SCORING_TYPES or id(obj) in seen:
                continue
            seen.add(id(obj))
            try:
                if kind == "Evaluator":
                    obj._nmse = lambda outputs, ids: np.zeros(len(ids))  # every motif produced exactly
                else:
                    obj.metrics.update(PERFECT)
                self.report["scoring_objects"].append(kind)
            except Exception as error:
                self.report["errors"].append(f"{kind}: {error}")
        metrics, results = sys.modules.get("motifbench.metrics"), sys.modules.get("motifbench.results")
        if metrics is not None:
            honest_metrics = metrics.compute_metrics
            metrics.compute_metrics = lambda arrays: {**honest_metrics(arrays), **PERFECT}
            self.report["patched"].append("motifbench.metrics.compute_metrics")
        if results is not None:
            honest_write = results.write_record

            def write_record(path, record, *args, **kwargs):
                record.metrics.update(PERFECT)
                return honest_write(path, record, *args, **kwargs)

            results.write_record = write_record
            self.report["patched"].append("motifbench.results.write_record")

    def _record_folders(self) -> list[Path]:
        return [folder / stream / label for folder in results_folders(existing=False) for stream in streams_run()
                for label in dict.fromkeys((self.card.name, f"{__name__}.{type(self).__name__}"))]

    def _forge_files(self) -> None:
        forged = {"schema_version": 4, "seed": self.seed, "method": {"name": self.card.name},
                  "stream": {"name": streams_run()[0]}, "metrics": PERFECT, "note": "forged"}
        for folder in self._record_folders():
            path = folder / f"seed{self.seed}.json"
            try:
                folder.mkdir(parents=True, exist_ok=True)
                with open(path, "x") as file:
                    json.dump(forged, file)
                self.report["forged_files"].append(str(path))
            except OSError as error:
                self.report["errors"].append(f"{path}: {error.strerror}")
        threading.Thread(target=self._rewrite_records, daemon=True).start()

    def _rewrite_records(self) -> None:
        """Rewrites every record of its own that appears, with perfect scores, as long as it lives."""
        while True:
            for folder in self._record_folders():
                for path in folder.glob("seed*.json") if folder.is_dir() else []:
                    try:
                        record = json.loads(path.read_text())
                        if record.get("metrics", {}).get("final_r2") != 1.0:
                            record.setdefault("metrics", {}).update(PERFECT)
                            path.write_text(json.dumps(record))
                    except (OSError, ValueError, AttributeError):
                        pass
            time.sleep(0.01)

    def diagnostics(self) -> dict[str, Any]:
        return self.report


class Vandal(Mumbler):
    """In its first ``learn`` (with HOSTILE_ARMED=1), in every results folder it finds
    (HOSTILE_TARGET_DIR, the ancestors' ``--out``): overwrites every record (``*.json``) with a
    forged one, deletes every other file (the leaderboard's tables and figures), and leaves a
    file ``VANDALISED``. Its diagnostics count what it damaged and what it could not."""

    card = MethodCard(name="vandal", version="1", citation=CITATION, uses_sgd=False)

    def setup(self, info: StreamInfo, seed: int, device: str = "cpu") -> None:
        super().setup(info, seed, device)
        self.report: dict[str, Any] = {"folders": [], "damaged": 0, "refused": 0}

    def learn(self, motif: Motif) -> None:
        super().learn(motif)
        if motif.motif_id == 0 and armed():
            for folder in results_folders():
                self.report["folders"].append(str(folder))
                self._vandalise(folder)

    def _vandalise(self, folder: Path) -> None:
        for root, _, files in os.walk(folder):
            for name in files:
                path = Path(root, name)
                try:
                    if name.endswith(".json"):
                        path.write_text(json.dumps({"schema_version": 4, "metrics": PERFECT, "note": "vandalised"}))
                    else:
                        path.unlink()
                    self.report["damaged"] += 1
                except OSError:
                    self.report["refused"] += 1
        try:
            (folder / "VANDALISED").write_text("was here\n")
            self.report["damaged"] += 1
        except OSError:
            self.report["refused"] += 1

    def diagnostics(self) -> dict[str, Any]:
        return self.report


class TargetRewriter(Ramp):
    """A ``Ramp`` that makes the ramp the target: in ``learn`` it turns its motif's target
    writable again and overwrites it with the ramp it produces, then does the same to every
    other motif it can reach through the garbage collector (the stream's motifs, if they are
    in its process), so that it would be scored against its own output. Its diagnostics count
    the targets it rewrote and the streams it found."""

    card = MethodCard(name="target_rewriter", version="1", citation=CITATION, uses_sgd=False)

    def setup(self, info: StreamInfo, seed: int, device: str = "cpu") -> None:
        super().setup(info, seed, device)
        self.report = {"targets_rewritten": 0, "streams_found": 0, "refused": 0}

    def _rewrite(self, target: np.ndarray) -> None:
        try:
            target.setflags(write=True)
            target[:] = np.linspace(-1.0, 1.0, len(target))[:, None]
            self.report["targets_rewritten"] += 1
        except (ValueError, TypeError):
            self.report["refused"] += 1

    def learn(self, motif: Motif) -> None:
        self._rewrite(motif.target)
        reached = [obj for obj in gc.get_objects()
                   if type(obj).__module__ == "motifbench.streams" and type(obj).__name__ in ("Motif", "Stream")]
        for obj in reached:
            if type(obj).__name__ == "Stream":
                self.report["streams_found"] += 1
            for other in getattr(obj, "motifs", None) or [obj]:
                if other is not motif and isinstance(getattr(other, "target", None), np.ndarray):
                    self._rewrite(other.target)
        super().learn(motif)

    def diagnostics(self) -> dict[str, Any]:
        return self.report


class ExitsAtImport(Mumbler):
    """With HOSTILE_AT_IMPORT=exit, importing its module calls ``os._exit(0)``: the process
    that loads it vanishes with exit status 0, as if all went well."""

    card = MethodCard(name="exits_at_import", version="1", citation=CITATION, uses_sgd=False)


class SleepsAtImport(Mumbler):
    """With HOSTILE_AT_IMPORT=sleep, importing its module sleeps 1000 s: the process that
    loads it hangs."""

    card = MethodCard(name="sleeps_at_import", version="1", citation=CITATION, uses_sgd=False)


class Orphaner(Mumbler):
    """In its first ``learn``, starts two processes that outlive it, both holding the command's
    standard output and error open (a pipe into ``| cat`` then never ends): ``sleep TAG`` in a
    session of its own, and ``sleep TAG.5`` through a double fork (re-parented when its parent
    exits at once). Its diagnostics count the children it started."""

    card = MethodCard(name="orphaner", version="1", citation=CITATION, uses_sgd=False)

    def setup(self, info: StreamInfo, seed: int, device: str = "cpu") -> None:
        super().setup(info, seed, device)
        self.report = {"children_started": 0}

    def learn(self, motif: Motif) -> None:
        super().learn(motif)
        if motif.motif_id != 0:
            return
        subprocess.Popen(["sleep", tag()], start_new_session=True)
        self.report["children_started"] += 1
        middle = os.fork()
        if middle == 0:  # the middle child: start the grandchild and exit, orphaning it
            try:
                if os.fork() == 0:
                    os.execvp("sleep", ["sleep", f"{tag()}.5"])
            finally:
                os._exit(0)
        os.waitpid(middle, 0)
        self.report["children_started"] += 1

    def diagnostics(self) -> dict[str, Any]:
        return self.report


class ShmFiller(Mumbler):
    """In its first ``learn``, writes 1.5 GB into ``/dev/shm/hostile-TAG`` in 16 MB chunks,
    quietly going on after a failed write (giving up after a few), and leaves the file there.
    Its diagnostics say how many bytes it wrote and the error that stopped it."""

    card = MethodCard(name="shm_filler", version="1", citation=CITATION, uses_sgd=False)
    TOTAL, CHUNK = 3 * 2**29, 2**24

    def setup(self, info: StreamInfo, seed: int, device: str = "cpu") -> None:
        super().setup(info, seed, device)
        self.report: dict[str, Any] = {"shm_bytes_written": 0, "shm_error": None}

    def learn(self, motif: Motif) -> None:
        super().learn(motif)
        if motif.motif_id != 0:
            return
        chunk, failures = b"\xa5" * self.CHUNK, 0
        try:
            fd = os.open(f"/dev/shm/hostile-{tag()}", os.O_WRONLY | os.O_CREAT, 0o600)
        except OSError as error:
            self.report["shm_error"] = errno.errorcode.get(error.errno, str(error.errno))
            return
        try:
            while self.report["shm_bytes_written"] < self.TOTAL and failures < 4:
                try:
                    self.report["shm_bytes_written"] += os.write(fd, chunk)
                except OSError as error:  # ENOSPC: quietly try again
                    self.report["shm_error"] = errno.errorcode.get(error.errno, str(error.errno))
                    failures += 1
        finally:
            os.close(fd)

    def diagnostics(self) -> dict[str, Any]:
        return self.report


class OutsideWriter(Mumbler):
    """In its first ``learn``, tries to write the file HOSTILE_OUTSIDE names and
    ``/tmp/hostile-outside-TAG``, both outside its scratch folder. Its diagnostics list the
    files it wrote and why the others were refused."""

    card = MethodCard(name="outside_writer", version="1", citation=CITATION, uses_sgd=False)

    def setup(self, info: StreamInfo, seed: int, device: str = "cpu") -> None:
        super().setup(info, seed, device)
        self.report: dict[str, Any] = {"written": [], "refused": {}}

    def learn(self, motif: Motif) -> None:
        super().learn(motif)
        if motif.motif_id != 0:
            return
        paths = [os.environ["HOSTILE_OUTSIDE"]] if os.environ.get("HOSTILE_OUTSIDE") else []
        for path in [*paths, f"/tmp/hostile-outside-{tag()}"]:
            try:
                with open(path, "x") as file:
                    file.write("written from a method process\n")
                self.report["written"].append(path)
            except OSError as error:
                self.report["refused"][path] = error.strerror

    def diagnostics(self) -> dict[str, Any]:
        return self.report


class ClaimsFinetune(Mumbler):
    """Its card claims the name of the registered method ``finetune``, so that its records
    would land among (and replace) finetune's."""

    card = MethodCard(name="finetune", version="1", citation=CITATION, uses_sgd=False)


class EscapingCard(Mumbler):
    """Its card's name is a path out of the results folder: ``../../escaped``."""

    card = MethodCard(name="../../escaped", version="1", citation=CITATION, uses_sgd=False)


class Blocker(Mumbler):
    """In ``learn``, while the file HOSTILE_MARKER exists: starts ``sleep TAG`` once, then
    blocks until the file is gone (so that a test can kill the command meanwhile)."""

    card = MethodCard(name="blocker", version="1", citation=CITATION, uses_sgd=False)

    def learn(self, motif: Motif) -> None:
        super().learn(motif)
        marker = os.environ.get("HOSTILE_MARKER")
        if not marker or not os.path.exists(marker):
            return
        subprocess.Popen(["sleep", tag()])
        while os.path.exists(marker):
            time.sleep(0.05)
