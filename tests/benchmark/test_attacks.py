"""Submitted methods that attack the benchmark (hostile_methods.py) get their honest scores and
nothing else: they cannot forge scores, touch other records, rewrite the stream, take another
method's name or a path out of --out, hang or kill the command at import, leave processes or
/dev/shm files behind, or write outside their scratch folder; a killed command leaves no
process of theirs and resumes.

Each test runs the ``motifbench`` console script on smoke-v1 with one seed and a cheap
evaluation, with ``hostile_methods:Class`` importable through PYTHONPATH. Attacks that only the
sandbox contains (writes outside scratch, /dev/shm) are skipped where it is unavailable, with
the reason.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from motifbench.evaluator import EvalConfig, Evaluator
from motifbench.results import _jsonable
from motifbench.registry import STREAMS
from motifbench.worker import sandbox_problem

HERE = Path(__file__).parent
REPO = HERE.parent.parent
SCRIPT = Path(sys.executable).parent / "motifbench"
QUICK = ["--set", "eval.n_sequences=1", "--set", "eval.sequence_length=2", "--set", "eval.transition_repeats=1",
         "--set", "eval.prep_sweep_tau=10"]
QUICK_CONFIG = EvalConfig(n_sequences=1, sequence_length=2, transition_repeats=1, prep_sweep_tau=(10.0,))
SANDBOX_OFF = {"MOTIFBENCH_SANDBOX": "off"}

pytestmark = pytest.mark.skipif(not SCRIPT.exists(), reason=f"no console script at {SCRIPT}")


@pytest.fixture
def hostile(monkeypatch):
    """The module hostile_methods, imported here for its honest methods (never with HOSTILE_AT_IMPORT)."""
    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.delenv("HOSTILE_AT_IMPORT", raising=False)
    return importlib.import_module("hostile_methods")


@pytest.fixture
def unique_tag():
    """A number no other process on this machine has as the argument of ``sleep``."""
    return str(random.randrange(10**8, 10**9))


def needs_sandbox() -> None:
    problem = sandbox_problem()
    if problem is not None:
        pytest.skip(f"the method sandbox is unavailable here ({problem}); without it this attack is not contained")


def environment(**extra: str) -> dict[str, str]:
    """The command's environment: hostile_methods importable, the attackers armed, ``extra``."""
    path = os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])
    env = {key: value for key, value in os.environ.items() if not key.startswith("HOSTILE_")}
    return {**env, "PYTHONPATH": path, "HOSTILE_ARMED": "1", **extra}


def motifbench(*args: str, cwd: Path, timeout: float = 120, **extra: str) -> subprocess.CompletedProcess:
    """``motifbench ARGS`` as a console script, its output piped (as into ``| cat``)."""
    return subprocess.run([str(SCRIPT), *args], cwd=cwd, env=environment(**extra), capture_output=True, text=True,
                          timeout=timeout)


def run_method(method: str, out: Path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    return motifbench("run", "--stream", "smoke-v1", "--method", method, "--out", str(out), *QUICK, *args,
                      cwd=out.parent, **extra)


def the_record(folder: Path) -> dict:
    """The one record (not a failed one) in a method's folder."""
    paths = [path for path in folder.glob("seed0*.json") if not path.name.endswith(".failed.json")]
    assert len(paths) == 1, f"expected one record in {folder}, found {sorted(p.name for p in paths)}"
    return json.loads(paths[0].read_text())


def files_under(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


def digests(folder: Path) -> dict[str, str]:
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in files_under(folder)}


def honest(hostile, name: str) -> dict:
    """The metrics and R of ``hostile_methods.name`` evaluated here, in this process, as JSON
    gives them back."""
    evaluation = Evaluator(getattr(hostile, name)(), STREAMS["smoke-v1"].build(0), 0, QUICK_CONFIG).run()
    return json.loads(json.dumps(_jsonable({"metrics": evaluation.metrics, "R": evaluation.R})))


def one_line_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if not line.startswith("warning: ")]
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    return lines[0]


# --- /proc -----------------------------------------------------------------------------------------


def processes() -> dict[int, tuple[int, str, str, list[str]]]:
    """pid -> (ppid, state, start time, command line) of every process /proc shows."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                args = [arg.decode(errors="replace") for arg in cmdline.read().split(b"\0") if arg]
        except OSError:
            continue
        table[int(entry)] = (int(fields[1]), fields[0], fields[19], args)
    return table


def sleepers(tag: str) -> list[int]:
    """Live processes ``sleep TAG`` or ``sleep TAG.5`` (zombies are dead)."""
    return [pid for pid, (_, state, _, args) in processes().items()
            if args[:1] == ["sleep"] and args[1:2] in ([tag], [f"{tag}.5"]) and state != "Z"]


def descendants(root: int, table: dict) -> set[int]:
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, (ppid, *_) in table.items() if ppid in frontier} - found
        found |= frontier
    return found


def kill(pids: list[int]) -> None:
    """Cleans up after a failed test: the processes an attacker left."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


# --- the attacks -------------------------------------------------------------------------------------


def test_a_forger_is_recorded_with_its_honest_scores(tmp_path, hostile):
    """Forger walks the stack and the gc for the evaluator, patches motifbench's scoring in its
    process, and (under the sandbox) writes forged records into the results folder: its record
    holds exactly the scores of the honest Mumbler it is, and no forged file exists."""
    out = tmp_path / "out"
    sandboxed = sandbox_problem() is None
    files = [] if sandboxed else ["--set", "forge_files=false"]  # without the sandbox, writes are not contained
    result = run_method("hostile_methods:Forger", out, *files, HOSTILE_TARGET_DIR=str(out))
    assert result.returncode == 0, result.stderr
    folder = out / "smoke-v1" / "hostile_methods.Forger"
    record = the_record(folder)
    expected = honest(hostile, "Mumbler")
    assert record["metrics"] == expected["metrics"] and record["R"] == expected["R"]
    assert record["metrics"]["final_r2"] == pytest.approx(0.7328, abs=1e-4)
    assert record["metrics"]["sequence_success"] == 0.0 and record["metrics"]["transition_success"] == 0.0
    assert len(files_under(out)) == 1, files_under(out)  # the record alone: no forged file
    attempts = record["diagnostics"]  # the attack ran, and found nothing that scores it
    assert attempts["scoring_objects"] == [] and attempts["forged_files"] == []
    assert attempts["patched"] and (not sandboxed or attempts["errors"])


def test_a_vandal_changes_no_file_in_the_results_folder(tmp_path):
    """Vandal overwrites every record and deletes every other file of the results folders it
    finds: every file there before its run is unchanged after it, and its own record is the only
    new one."""
    needs_sandbox()
    out = tmp_path / "out"
    committed = REPO / "leaderboard" / "results" / "smooth10-v1"
    methods = sorted(path.name for path in committed.iterdir())[:2]
    for name in methods:
        shutil.copytree(committed / name, out / "smooth10-v1" / name)
    for table in ("smooth10-v1.csv", "smooth10-v1.md"):
        shutil.copy(REPO / "leaderboard" / table, out / table)
    before = digests(out)
    assert len(before) >= 4

    result = run_method("hostile_methods:Vandal", out, HOSTILE_TARGET_DIR=str(out))
    assert result.returncode == 0, result.stderr
    after = digests(out)
    new = sorted(set(after) - set(before))
    assert len(new) == 1 and new[0].startswith("smoke-v1/hostile_methods.Vandal/seed0"), new
    assert {name: after.get(name) for name in before} == before
    attempts = the_record(out / "smoke-v1" / "hostile_methods.Vandal")["diagnostics"]
    assert attempts["folders"] == [str(out)] and attempts["damaged"] == 0 and attempts["refused"] >= len(before)


def test_a_rewritten_target_changes_neither_the_scores_nor_the_stream(tmp_path, hostile):
    """TargetRewriter makes its motif's target writable and overwrites it with the ramp it
    produces (and every motif it reaches through gc): it is scored against the real targets, as
    the honest Ramp is, and its record names the real stream."""
    out = tmp_path / "out"
    result = run_method("hostile_methods:TargetRewriter", out)
    assert result.returncode == 0, result.stderr
    record = the_record(out / "smoke-v1" / "hostile_methods.TargetRewriter")
    expected = honest(hostile, "Ramp")
    assert record["metrics"] == expected["metrics"] and record["R"] == expected["R"]
    assert record["metrics"]["final_r2"] < 0
    assert record["stream"]["content_hash"] == STREAMS["smoke-v1"].build(0).content_hash
    attempts = record["diagnostics"]  # it rewrote its own copies, one per learn, and reached no stream
    assert attempts["targets_rewritten"] >= 3 and attempts["streams_found"] == 0


def test_card_names_cannot_take_a_registered_name_or_leave_the_results_folder(tmp_path):
    """ClaimsFinetune's card says "finetune", EscapingCard's "../../escaped": their records go
    under hostile_methods.ClassName, named so, and nothing is written elsewhere."""
    out = tmp_path / "a" / "b" / "out"
    out.parent.mkdir(parents=True)
    result = run_method("hostile_methods:ClaimsFinetune,hostile_methods:EscapingCard", out, "-j", "2")
    assert result.returncode == 0, result.stderr
    assert not (out / "smoke-v1" / "finetune").exists()
    for name in ("ClaimsFinetune", "EscapingCard"):
        record = the_record(out / "smoke-v1" / f"hostile_methods.{name}")
        assert record["method"]["name"] == f"hostile_methods.{name}"
        assert record["provenance"]["method"] == f"hostile_methods:{name}"
    everything = files_under(tmp_path)
    assert len(everything) == 2 and all(name.startswith("a/b/out/smoke-v1/hostile_methods.") for name in everything)
    assert not any(line.startswith("| finetune ") for line in result.stdout.splitlines()), result.stdout


def import_attack(tmp_path: Path, attack: str, cls: str, *limits: str) -> dict[str, tuple[int, str, float]]:
    """``run``, ``check`` and ``regress`` (a targets file naming ``hostile_methods:cls``), started
    together with HOSTILE_AT_IMPORT=attack: name -> (exit status, stderr, seconds)."""
    method = f"hostile_methods:{cls}"
    targets = tmp_path / "targets.csv"
    targets.write_text(f'stream,method,metric,seeds,n,mean,sem\nsmoke-v1,{method},final_r2,"0,1",2,0.5,0.1\n')
    commands = {
        "run": ["run", "--stream", "smoke-v1", "--method", method, "--out", str(tmp_path / "out"), *QUICK],
        "check": ["check", "-m", method],
        "regress": ["regress", "--targets", str(targets), "--out", str(tmp_path / "regress"), "-j", "2"],
    }
    start = time.monotonic()
    started = {name: subprocess.Popen([str(SCRIPT), *args, *limits], cwd=tmp_path, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True,
                                      env=environment(HOSTILE_AT_IMPORT=attack))
               for name, args in commands.items()}
    results = {}
    try:
        for name, process in started.items():
            _, err = process.communicate(timeout=max(1.0, 90 - (time.monotonic() - start)))
            results[name] = (process.returncode, err, time.monotonic() - start)
    finally:
        for process in started.values():
            process.kill()
            process.wait()
    return results


def check_import_attack(results: dict, tmp_path: Path, label: str, words: str) -> None:
    for name in ("run", "check"):
        code, err, _ = results[name]
        assert code == 2, (name, err)
        line = one_line_error(err)
        assert f"method {label}" in line and words in line, (name, line)
    code, err, _ = results["regress"]
    assert code != 0, err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert errors and all(words in line for line in errors[:-1]), err  # each run's failure, then the verdict
    assert errors[-1].startswith("error: 1 of 1 targets missed"), err
    assert not (tmp_path / "out").exists() or files_under(tmp_path / "out") == []
    regress = files_under(tmp_path / "regress")
    assert regress and all(name.endswith(".failed.json") for name in regress), regress


def test_a_method_that_exits_at_import_is_an_error_not_a_success(tmp_path):
    """Importing ExitsAtImport's module calls os._exit(0): run and check exit 2 with one line
    saying so, regress fails its target; none of them exits 0."""
    results = import_attack(tmp_path, "exit", "ExitsAtImport")
    check_import_attack(results, tmp_path, "hostile_methods.ExitsAtImport",
                        "the method process died during load (exit code 0)")


def test_a_method_that_hangs_at_import_is_stopped_by_the_time_limit(tmp_path):
    """Importing SleepsAtImport's module sleeps 1000 s: with --time-limit 10, run and check exit
    2 and regress fails, each within seconds of the limit."""
    results = import_attack(tmp_path, "sleep", "SleepsAtImport", "--time-limit", "10")
    check_import_attack(results, tmp_path, "hostile_methods.SleepsAtImport", "timed out after 10 s")
    assert max(seconds for _, _, seconds in results.values()) < 45, {k: v[2] for k, v in results.items()}


@pytest.mark.parametrize("sandbox", [True, False], ids=["sandbox", "no-sandbox"])
def test_no_process_of_a_method_outlives_its_run(sandbox, tmp_path, unique_tag):
    """Orphaner starts ``sleep`` in a session of its own and another through a double fork, both
    holding the command's output open: the command's piped output still ends, and no process
    of the method survives it."""
    if sandbox:
        needs_sandbox()
    out = tmp_path / "out"
    try:
        try:
            result = run_method("hostile_methods:Orphaner", out, HOSTILE_TAG=unique_tag,
                                **({} if sandbox else SANDBOX_OFF))
        except subprocess.TimeoutExpired:
            pytest.fail("motifbench run did not end: a process of the method holds its output open")
        assert result.returncode == 0, result.stderr
        assert the_record(out / "smoke-v1" / "hostile_methods.Orphaner")["diagnostics"]["children_started"] == 2
        assert sleepers(unique_tag) == [], "processes the method started outlived its run"
    finally:
        kill(sleepers(unique_tag))


def test_dev_shm_is_private_and_bounded_by_the_memory_limit(tmp_path, unique_tag):
    """ShmFiller writes 1.5 GB into /dev/shm and leaves its file there: with --memory-limit 512
    it could write at most 512 MB, and the host's /dev/shm has no file of it afterwards."""
    needs_sandbox()
    out = tmp_path / "out"
    try:
        result = run_method("hostile_methods:ShmFiller", out, "--memory-limit", "512", HOSTILE_TAG=unique_tag)
        assert result.returncode == 0, result.stderr
        attempts = the_record(out / "smoke-v1" / "hostile_methods.ShmFiller")["diagnostics"]
        assert 0 < attempts["shm_bytes_written"] <= 512 * 2**20 and attempts["shm_error"] == "ENOSPC", attempts
        assert not list(Path("/dev/shm").glob(f"*{unique_tag}*"))
    finally:
        for leftover in Path("/dev/shm").glob(f"*{unique_tag}*"):
            leftover.unlink()


@pytest.mark.parametrize("sandbox", [True, False], ids=["sandbox", "no-sandbox"])
def test_a_killed_command_leaves_no_process_of_its_method_and_resumes(sandbox, tmp_path, unique_tag):
    """SIGKILL the command while Blocker blocks in learn with a ``sleep`` child: every process
    under the command ends within 10 s (in the sandbox's PID namespace, or killed by the
    reaper); then ``--resume`` runs it again: exit 0, the record and nothing else (no failed
    record, no temporary file)."""
    if sandbox:
        needs_sandbox()
    out, marker = tmp_path / "out", tmp_path / "marker"
    marker.touch()
    command = [str(SCRIPT), "run", "--stream", "smoke-v1", "--method", "hostile_methods:Blocker", "--out", str(out),
               *QUICK]
    env = environment(HOSTILE_TAG=unique_tag, HOSTILE_MARKER=str(marker), **({} if sandbox else SANDBOX_OFF))
    with open(tmp_path / "stderr.txt", "w") as stderr:
        process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    under: dict[int, str] = {}  # pid -> start time of every process under the command
    try:
        deadline = time.monotonic() + 90
        while True:
            table = processes()
            under = {pid: table[pid][2] for pid in descendants(process.pid, table)}
            if any(table[pid][3][:2] == ["sleep", unique_tag] for pid in under):
                break
            assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "stderr.txt").read_text()
            time.sleep(0.1)
        process.send_signal(signal.SIGKILL)
        process.wait()
        deadline = time.monotonic() + 10
        while True:
            table = processes()
            alive = {pid: table[pid][3] for pid, started in under.items()
                     if pid in table and table[pid][2] == started and table[pid][1] != "Z"}
            if not alive or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert not alive, f"processes of the killed command's method are still running: {alive}"
    finally:  # after a failure: end what the attack left running
        process.kill()
        process.wait()
        table = processes()
        kill([pid for pid, started in under.items() if pid in table and table[pid][2] == started])
        kill(sleepers(unique_tag))

    marker.unlink()
    result = subprocess.run([*command, "--resume"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    folder = out / "smoke-v1" / "hostile_methods.Blocker"
    the_record(folder)
    assert len(files_under(out)) == 1, files_under(out)  # no failed record, no half-written file


def test_a_method_cannot_write_outside_its_scratch_folder(tmp_path, unique_tag):
    """OutsideWriter tries to write a file in this test's folder and one in /tmp: neither exists."""
    needs_sandbox()
    out, outside = tmp_path / "out", tmp_path / "outside.txt"
    in_tmp = Path(f"/tmp/hostile-outside-{unique_tag}")
    try:
        result = run_method("hostile_methods:OutsideWriter", out, HOSTILE_OUTSIDE=str(outside), HOSTILE_TAG=unique_tag)
        assert result.returncode == 0, result.stderr
        assert not outside.exists() and not in_tmp.exists()
        attempts = the_record(out / "smoke-v1" / "hostile_methods.OutsideWriter")["diagnostics"]
        assert attempts["written"] == [] and sorted(attempts["refused"]) == sorted([str(outside), str(in_tmp)])
    finally:
        in_tmp.unlink(missing_ok=True)
