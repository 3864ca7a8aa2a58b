"""The method process: started contained, limited, and killed with everything it started.

Submitted methods are untrusted code, and a method's module is imported only in a method
process of its own (``server.py``), never in the process that scores it. ``MethodProcess``
starts one and holds the wire to it:

- **Sandbox** (``sandbox_problem`` says at run time whether this machine allows it): under
  bubblewrap, the process sees the filesystem read-only except a private scratch folder
  (its working directory, ``HOME`` and ``TMPDIR``), a private ``/dev/shm`` of at most
  the memory limit, no network, no capabilities, and its own PID namespace: when the sandbox
  ends, every process the method started ends with it.
- **Without the sandbox** (no bwrap, or ``MOTIFBENCH_SANDBOX=off``) the process still runs in
  its own session in a scratch working directory, under a keeper (``reaper.py``) that is the
  subreaper of all it starts and kills them all when the run ends or the ``motifbench``
  process dies. Writes outside scratch, ``/dev/shm`` and the network are then not contained;
  the command says so in one line.
- **Limits**: the memory cap (``cap_memory``) is set in the method process before the
  method's module is imported, as a hard limit the method cannot lift; time is a deadline on
  every message (``wire``), so a process that stops answering is killed when it passes.

``close`` kills the process and all it started, and removes the scratch folder; ``close_all``
does it for every method process still running (on an interrupt).
"""

from __future__ import annotations

import glob
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .wire import Arrays, Channel, WireClosed, WireError, WireTimeout

SANDBOX_VARIABLE = "MOTIFBENCH_SANDBOX"  # "off": run method processes without the sandbox
PARENT_VARIABLE = "MOTIFBENCH_PARENT_PID"
REAPER_GRACE_S = 5.0  # seconds the reaper gets to end the processes under it before it is killed
SCRATCH_PREFIX = "motifbench-method-"  # then the pid of the motifbench process, and a random part  # set without the sandbox: the pid the method process must outlive


@dataclass(frozen=True)
class Limits:
    """Seconds a run may take and megabytes its method process may allocate beyond what
    importing torch needs (0: no limit)."""

    time_s: float = 0.0
    memory_mb: float = 0.0


class MethodProcessError(Exception):
    """The method process broke the protocol, overstayed its time, or died; one line."""


@lru_cache(maxsize=None)
def sandbox_problem() -> str | None:
    """None if bubblewrap can sandbox a process on this machine (tried once, at run time),
    else why not, in a few words."""
    if os.environ.get(SANDBOX_VARIABLE, "").lower() == "off":
        return f"{SANDBOX_VARIABLE}=off"
    if shutil.which("bwrap") is None:
        return "bwrap (Debian's bubblewrap) is not installed"
    trial = subprocess.run(["bwrap", *_SANDBOX_OPTIONS, "--dev", "/dev", "--proc", "/proc", "--", "true"],
                           capture_output=True, text=True)
    if trial.returncode != 0:
        return f"bwrap cannot make a sandbox here ({' '.join(trial.stderr.split())[:160]})"
    return None


_SANDBOX_OPTIONS = ["--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
_warned: set[str] = set()


def _sandboxed(command: list[str], scratch: str, limits: Limits, device: str) -> list[str]:
    """``command`` under bubblewrap: everything read-only but ``scratch``, a private /dev/shm of
    at most the memory limit, no network, its own PID namespace."""
    devices = [arg for path in sorted(glob.glob("/dev/nvidia*") + glob.glob("/dev/dri/*")) if device == "cuda"
               for arg in ("--dev-bind", path, path)]
    shm_size = ["--size", str(int(limits.memory_mb * 2**20))] if limits.memory_mb else []
    return ["bwrap", *_SANDBOX_OPTIONS, "--dev", "/dev", *devices, "--proc", "/proc", "--bind", scratch, scratch,
            *shm_size, "--tmpfs", "/dev/shm", "--", *command]


_live: set[MethodProcess] = set()
_live_lock = threading.Lock()


class MethodProcess:
    """One method process and the wire to it. Its time limit runs from its start."""

    def __init__(self, limits: Limits, threads: int = 1, device: str = "cpu"):
        self.limits = limits
        self.deadline = time.monotonic() + limits.time_s if limits.time_s else None
        remove_stale_scratch()
        self.scratch = tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-")
        command = [sys.executable, "-m", "motifbench.server", str(limits.memory_mb), str(threads)]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(os.path.abspath(p or os.curdir) for p in sys.path),
               "HOME": self.scratch, "TMPDIR": self.scratch,  # set before the method's BLAS libraries load:
               **{name: str(threads) for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}}
        problem = sandbox_problem()
        self.sandboxed = problem is None
        if self.sandboxed:
            command = _sandboxed(command, self.scratch, limits, device)
        else:
            if problem not in _warned:
                _warned.add(problem)
                print(f"warning: method processes run without a sandbox ({problem}): they can write outside their "
                      "scratch folder, use /dev/shm and the network", file=sys.stderr)
            env[PARENT_VARIABLE] = str(os.getpid())
            command = [sys.executable, "-m", "motifbench.reaper", *command]  # ends all the method starts
        requests, self._request_end = os.pipe()
        self._reply_end, replies = os.pipe()
        try:
            self.process = subprocess.Popen(command, stdin=requests, stdout=replies, cwd=self.scratch, env=env,
                                            start_new_session=True)
            with _live_lock:
                _live.add(self)
        finally:
            os.close(requests)
            os.close(replies)
        self.channel = Channel(self._reply_end, self._request_end)

    def request(self, call: str, fields: dict[str, Any] | None = None, arrays: Arrays | None = None,
                max_bytes: int = 0) -> tuple[dict[str, Any], Arrays]:
        """Sends one call and returns the reply (its fields, its arrays of at most ``max_bytes``);
        a MethodProcessError if the process broke the protocol, overstayed or died (it is then
        killed), or a reply whose ``error`` the caller reports."""
        try:
            self.channel.send({"call": call, **(fields or {})}, arrays, self.deadline)
            return self.channel.receive(max_bytes, self.deadline)
        except WireTimeout:
            self.close()
            raise MethodProcessError(f"timed out after {self.limits.time_s:g} s") from None
        except WireClosed:
            status = self.exit_status()
            self.close()
            raise MethodProcessError(f"the method process died during {call} ({status})") from None
        except WireError as error:
            self.close()
            raise MethodProcessError(f"the method process broke the protocol during {call}: {error}") from None

    def exit_status(self) -> str:
        """How the process ended, once it has (it closed the wire: it is ending or has ended)."""
        try:
            code = self.process.wait(timeout=REAPER_GRACE_S)
        except subprocess.TimeoutExpired:
            return "it closed the wire but did not exit"
        return f"killed by signal {-code}" if code < 0 else f"exit code {code}"

    def close(self) -> None:
        """Kills the method process and everything it started; removes its scratch folder."""
        with _live_lock:
            if self not in _live:
                return
            _live.discard(self)
        if not self.sandboxed:  # the reaper kills everything under it, then exits
            self.process.terminate()
            try:
                self.process.wait(timeout=REAPER_GRACE_S)
            except subprocess.TimeoutExpired:
                pass
        for kill in (lambda: os.killpg(self.process.pid, signal.SIGKILL), self.process.kill):
            try:
                kill()
            except (ProcessLookupError, PermissionError):
                pass
        self.process.wait()
        self.channel.close()
        shutil.rmtree(self.scratch, ignore_errors=True)


def remove_stale_scratch() -> None:
    """Removes the scratch folders of method processes whose ``motifbench`` process is gone
    (killed before it could remove them); each folder's name holds that process's pid."""
    for folder in glob.glob(os.path.join(tempfile.gettempdir(), f"{SCRATCH_PREFIX}*-*")):
        owner = os.path.basename(folder)[len(SCRATCH_PREFIX):].split("-", 1)[0]
        if owner.isdigit() and not os.path.exists(f"/proc/{owner}") and os.path.isdir("/proc"):
            shutil.rmtree(folder, ignore_errors=True)


def close_all() -> None:
    """Kills every method process still running (after an interrupt)."""
    with _live_lock:
        running = list(_live)
    for process in running:
        process.close()


def cap_memory(megabytes: float) -> None:
    """Lets this process allocate at most ``megabytes`` more data than it holds now, as a hard
    limit it cannot lift (Linux; elsewhere, where /proc is missing, there is no cap; 0: none)."""
    if not megabytes:
        return
    try:
        with open("/proc/self/status") as status:
            held_kb = next(int(line.split()[1]) for line in status if line.startswith("VmData:"))
    except (OSError, StopIteration):
        return
    hard = resource.getrlimit(resource.RLIMIT_DATA)[1]
    cap = held_kb * 1024 + int(megabytes * 2**20)
    cap = cap if hard == resource.RLIM_INFINITY else min(cap, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))


def one_line(error: BaseException) -> str:
    """What went wrong, on one line: the message of a MethodError or RecordError (it names the
    method and the call, or the file), else the exception's type and message."""
    from .method import MethodError
    from .results import RecordError

    text = str(error) if isinstance(error, (MethodError, RecordError)) else f"{type(error).__name__}: {error}"
    return " ".join(text.split())


def failure_reason(error: BaseException, memory_mb: float) -> str:
    """``one_line``, worded as a broken memory limit where it was one."""
    text = one_line(error)
    if isinstance(error, MemoryError) or "can't allocate memory" in text or "out of memory" in text.lower():
        text = f"exceeded its memory limit of {memory_mb:g} MB ({text[:200]})"
    return text
