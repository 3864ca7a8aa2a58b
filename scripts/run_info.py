"""What the timing scripts record about how and where they ran: the command, the commit, the cores.

Imported by the scripts in this folder (``python scripts/NAME.py`` puts it on ``sys.path``).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def command_line() -> str:
    """The command as typed, with the interpreter relative to the working directory where it lies under it."""
    executable = os.path.relpath(sys.executable) if Path(sys.executable).is_relative_to(Path.cwd()) else sys.executable
    return shlex.join([executable, *sys.argv])


def git_commit() -> str:
    """The checked-out commit, with "+ local changes" when the working tree differs from it."""
    try:
        run = lambda *cmd: subprocess.run(["git", *cmd], cwd=ROOT, capture_output=True, text=True, check=True).stdout
        commit = run("rev-parse", "--short", "HEAD").strip()
        dirty = run("status", "--porcelain", "--untracked-files=no").strip()
        return commit + (" + local changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def nproc() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0
