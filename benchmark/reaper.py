"""Without the sandbox, the keeper of a method process: ``python -m motifbench.reaper COMMAND...``.

Bubblewrap's PID namespace ends every process a method starts when the sandbox ends. Without
it, this small process (motifbench's code; it imports nothing of the method's, nor torch)
stands in: it starts COMMAND (the method process) as its child, becomes the subreaper of
everything COMMAND starts (an orphan comes back to it, not to init), and when COMMAND exits,
when it gets SIGTERM (``worker.MethodProcess.close``), or when the ``motifbench`` process
dies (its parent-death signal is SIGTERM), it kills every process under it and exits as
COMMAND did. It hands the wire (its standard input and output) to COMMAND and keeps no end of
it open. A method running as the same user can still kill this keeper first: only the
sandbox contains a method that means harm.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys

from .worker import PARENT_VARIABLE

PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER = 1, 36  # prctl options (linux/prctl.h)


def prctl(option: int, value: int) -> bool:
    """prctl(2) on Linux; False where it does not exist or fails."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


class Ending(Exception):
    """SIGTERM arrived: the run is over, or the motifbench process died."""


def _end(signum: int, frame: object) -> None:
    raise Ending


def descendants() -> set[int]:
    """The pids of every process under this one (from /proc; none where it is missing)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parents[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = set(), {os.getpid()}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def kill_everything_under_me() -> None:
    """SIGKILLs every process under this one, and reaps them, until none is left."""
    while under := descendants():
        for pid in under:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        while True:
            try:
                if os.waitpid(-1, os.WNOHANG) == (0, 0):
                    break
            except ChildProcessError:
                break


def main() -> None:
    signal.signal(signal.SIGTERM, _end)
    prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    status, child = 1, None
    try:
        if os.getppid() != int(os.environ.pop(PARENT_VARIABLE)):
            return  # the motifbench process died before the parent-death signal was set
        child = subprocess.Popen(sys.argv[1:], start_new_session=True)
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1):  # the wire is the child's alone: its death must be seen at once
            os.dup2(devnull, fd)
        while True:
            pid, wait_status = os.wait()  # orphans of the method come here too
            if pid == child.pid:
                status = os.waitstatus_to_exitcode(wait_status)
                break
    except Ending:
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if child is not None:
            try:
                os.killpg(child.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        kill_everything_under_me()
    if status < 0:  # killed by a signal: end the same way, so the parent reads the same status
        signal.signal(-status, signal.SIG_DFL)
        os.kill(os.getpid(), -status)
    sys.exit(status)


if __name__ == "__main__":
    main()
