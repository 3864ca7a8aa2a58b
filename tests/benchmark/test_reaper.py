"""The keeper of a method process without the sandbox (motifbench.reaper): it exits as its
command did, and nothing its command started outlives it."""

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from motifbench.worker import PARENT_VARIABLE

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc"), reason="the reaper finds processes in /proc")


def sleeping(tag: str) -> list[int]:
    """Live ``sleep TAG`` processes (zombies are dead)."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline, open(f"/proc/{entry}/stat") as stat:
                if cmdline.read().split(b"\0")[:2] == [b"sleep", tag.encode()] and stat.read().split(")")[-1].split()[0] != "Z":
                    found.append(int(entry))
        except OSError:
            continue
    return found


def reaper(*command: str) -> subprocess.Popen:
    env = {**os.environ, PARENT_VARIABLE: str(os.getpid())}
    return subprocess.Popen([sys.executable, "-m", "motifbench.reaper", *command], env=env)


@pytest.mark.parametrize("script", ["sleep TAG & exit 3", "setsid -f sleep TAG; exit 3"],
                         ids=["in its group", "left its session"])
def test_it_exits_as_its_command_did_and_kills_what_the_command_left(script):
    tag = str(random.randrange(10**8, 10**9))
    process = reaper("sh", "-c", script.replace("TAG", tag))
    assert process.wait(timeout=30) == 3
    assert sleeping(tag) == []


def test_on_sigterm_it_kills_everything_under_it():
    tag = str(random.randrange(10**8, 10**9))
    process = reaper("sh", "-c", f"sleep {tag} & sleep {tag}")
    deadline = time.monotonic() + 30
    while len(sleeping(tag)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(sleeping(tag)) == 2
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    assert sleeping(tag) == []
