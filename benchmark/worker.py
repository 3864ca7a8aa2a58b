"""A task in a worker process of its own, with a time limit and a memory limit.

Submitted methods are untrusted code. A task (a run, ``runner.evaluate``; the conformance
checks) that raises, returns NaN or a wrong shape, runs out of its memory, dies or overstays
its time ends with a one-line reason instead of a result; the parent process is untouched
(``runner.execute`` then leaves a failed record). Workers are started with "spawn", so nothing
of the parent's state leaks into them. This module knows nothing of runs.
"""

from __future__ import annotations

import multiprocessing
import resource
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Limits:
    """Seconds a run may take and megabytes it may allocate beyond what importing needs (0: no limit)."""

    time_s: float = 0.0
    memory_mb: float = 0.0


def isolated(task: Callable[[Any, Callable[[], None]], Any], argument: Any, limits: Limits, threads: int = 1) -> tuple[Any, str | None]:
    """``task(argument, cap_memory)`` in a spawned worker process with ``threads`` CPU threads:
    (what it returned, None), or (None, a one-line reason). The task calls ``cap_memory()``
    once its imports are done; from then on the memory limit holds. ``task`` must be a
    module-level function and its result picklable."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    worker = context.Process(target=_work, args=(task, argument, limits, threads, sender), daemon=True)
    worker.start()
    sender.close()
    try:
        if not receiver.poll(limits.time_s or None):
            return None, f"timed out after {limits.time_s:g} s"
        status, payload = receiver.recv()
        return (payload, None) if status == "ok" else (None, payload)
    except EOFError:
        worker.join()
        return None, f"the worker process died (exit code {worker.exitcode})"
    finally:
        if worker.is_alive():
            worker.kill()
        worker.join()
        receiver.close()


def _work(task: Callable[[Any, Callable[[], None]], Any], argument: Any, limits: Limits, threads: int, sender: Any) -> None:
    """The worker's body: set threads, run the task, report its result or why it failed."""
    try:
        import torch
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(threads)
        threadpool_limits(threads)
        sender.send(("ok", task(argument, lambda: _cap_memory(limits.memory_mb) if limits.memory_mb else None)))
    except BaseException as error:  # everything the method can do wrong ends here, as one line
        sender.send(("failed", _reason(error, limits)))
    finally:
        sender.close()


def one_line(error: BaseException) -> str:
    """What went wrong, on one line: the message of a MethodError or RecordError (it names the
    method and the call, or the file), else the exception's type and message."""
    from .method import MethodError
    from .results import RecordError

    text = str(error) if isinstance(error, (MethodError, RecordError)) else f"{type(error).__name__}: {error}"
    return " ".join(text.split())


def _reason(error: BaseException, limits: Limits) -> str:
    text = one_line(error)
    if isinstance(error, MemoryError) or "can't allocate memory" in text or "out of memory" in text.lower():
        text = f"exceeded its memory limit of {limits.memory_mb:g} MB ({text[:200]})"
    return text


def _cap_memory(megabytes: float) -> None:
    """Lets the process allocate at most ``megabytes`` more data than it holds now (Linux;
    elsewhere, where /proc is missing, there is no cap)."""
    try:
        with open("/proc/self/status") as status:
            held_kb = next(int(line.split()[1]) for line in status if line.startswith("VmData:"))
    except (OSError, StopIteration):
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    cap = held_kb * 1024 + int(megabytes * 2**20)
    resource.setrlimit(resource.RLIMIT_DATA, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))
