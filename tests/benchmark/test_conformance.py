"""`motifbench check`: every registered method passes every conformance check (or fails it for a
declared reason), each check catches the fault it names, and a method defined outside the
package (tests/benchmark/submitted_methods.py) is checked, run and ranked as ``module:Class``
without editing motifbench."""

import os
from pathlib import Path

import pytest

from motifbench import cli, registry
from motifbench.conformance import CHECK_SEED, CHECK_STREAM, CHECKS, NOT_RUN, CheckContext, CheckJob, in_process, run_checks
from motifbench.worker import Limits

HERE = Path(__file__).parent

# Small settings, so that checking every method stays fast in CI: each method is evaluated
# twice (the first evaluation, shared by its checks, and "deterministic"'s) and set up twice
# more, where setup may pre-train. They are large enough that every method learns better than
# zero (LEARNS_MARGIN) unless DECLARED says why not; the sizes were found by trying.
RNN = dict(n_hidden=32, max_iterations=200, lr=1e-2)
AVALANCHE = dict(RNN, trials_per_motif=32, train_epochs=100)  # 2 mini-batches an epoch: 200 iterations
ANN = dict(n_hidden=32, pretrain_iterations=100, max_iterations=100)
LOCAL = dict(n_hidden=32, max_iterations=400)  # the local rules, at their own learning rates
SMALL = {
    "zero": {},
    "finetune": RNN,
    "joint": RNN,
    "ewc": RNN,
    "context_gating": RNN,
    "ann_additive": ANN,
    "ann_multiplicative": ANN,
    "ann_prep": ANN,
    # max_frequency 5: the 5-tau motifs of smoke-v1 need about 5 rad per tau (see its docstring)
    "thalamocortical": dict(n_cortex=60, prep_iterations=20, fit_restarts=2, max_frequency=5.0),
    "elise": dict(n_latent=50, cycles=1000),
    "orthogonal": RNN,
    "owm": RNN,
    "gpm": RNN,
    "rflo": LOCAL,
    "eprop": LOCAL,
    "node_perturbation": LOCAL,
    "weight_perturbation": LOCAL,
    "avalanche_naive": AVALANCHE,
    "avalanche_ewc": AVALANCHE,
    "avalanche_si": AVALANCHE,
    "avalanche_lwf": AVALANCHE,
    "avalanche_replay": AVALANCHE,
}

# Expected failures (method, check id) -> why; each runs as a strict xfail of the assertion, so
# one that starts passing fails the test until its entry goes.
DECLARED = {
    ("zero", "learns"): "zero outputs 0 whatever it is taught: it is the floor that 'learns' measures against",
    ("zero", "uses_start_state"): "zero outputs 0 whatever its state: a tape recorder by construction",
}


def expected(method: str, check_id: str) -> list:
    reason = DECLARED.get((method, check_id))
    return [pytest.mark.xfail(strict=True, raises=AssertionError, reason=reason)] if reason else []


@pytest.fixture(scope="module")
def contexts():
    """A method's CheckContext (its one evaluation with SMALL settings), made on first use and
    shared by its checks; an evaluation that raised is raised again for each of them."""
    stream = registry.get_stream(CHECK_STREAM).build(CHECK_SEED)
    made: dict = {}

    def context(method: str) -> CheckContext:
        if method not in made:
            try:
                made[method] = CheckContext.evaluate(in_process, method, SMALL[method], stream)
            except Exception as error:
                made[method] = error
        if isinstance(made[method], Exception):
            raise made[method]
        return made[method]

    return context


@pytest.mark.parametrize(
    "method, check_id",
    [pytest.param(method, check_id, marks=expected(method, check_id))
     for method in registry.METHODS for check_id in CHECKS],
)
def test_every_method_passes_every_check(method, check_id, contexts):
    check = CHECKS[check_id](contexts(method))
    assert check.passed, f"{method} fails {check_id}: {check.detail}"


def test_every_method_has_small_settings_and_every_exception_names_a_method_and_check():
    assert list(SMALL) == list(registry.METHODS)
    assert all(method in registry.METHODS and check_id in CHECKS for method, check_id in DECLARED)


# --- each check catches its fault ---------------------------------------------------------------


@pytest.fixture
def outside_methods(monkeypatch):
    """``toy_methods:Class`` and ``submitted_methods:Class`` importable here and in workers."""
    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))


def results(method, checks=()):
    return {check.name: check for check in run_checks(CheckJob(method, {}, checks=checks), Limits(time_s=600))}


@pytest.mark.parametrize(
    "toy, failing",
    [
        ("ChangesOnGenerate", {"generate leaves learned state unchanged"}),
        ("Unseeded", {"same seed, same scores", "state round-trip"}),  # a fresh instance draws anew
        ("ForgetsOnLoad", {"state round-trip"}),
        ("WritesIntoState", {"inputs read-only"}),
        ("StateDictRaises", {"generate leaves learned state unchanged", "state round-trip"}),
    ],
)
def test_each_check_catches_its_fault(toy, failing, outside_methods):
    checks = results(f"toy_methods:{toy}")
    assert list(checks) == [spec.title for spec in CHECKS.values()]
    # the toys output constants: none learns, and none uses its state
    failing |= {"learns better than zero", "uses its start state"}
    assert {name for name, check in checks.items() if not check.passed} == failing
    assert all(checks[name].detail for name in failing)


def test_a_check_that_raises_fails_alone_with_the_exception_on_one_line(outside_methods):
    checks = results("toy_methods:StateDictRaises")
    assert checks["state round-trip"].detail == ("raised method toy_methods.StateDictRaises: state_dict raised "
                                                 "RuntimeError: deliberate failure in state_dict")
    assert checks["same seed, same scores"].passed and checks["inputs read-only"].passed


def test_a_crashing_method_fails_outputs_and_the_other_checks_are_not_run(outside_methods):
    checks = results("toy_methods:NaNOutput")
    assert list(checks) == [spec.title for spec in CHECKS.values()]
    outputs = checks.pop("outputs: shapes, finite, no crash")
    assert not outputs.passed and "NaN" in outputs.detail
    assert all(not check.passed and check.detail == NOT_RUN for check in checks.values())


def test_some_checks_run_in_the_order_of_all_and_an_unknown_one_is_refused():
    checks = results("zero", checks=("uses_start_state", "outputs"))
    assert list(checks) == ["outputs: shapes, finite, no crash", "uses its start state"]
    with pytest.raises(ValueError, match="unknown check 'learn'; known: outputs, generate_read_only, "):
        CheckJob("zero", {}, checks=("outputs", "learn"))


def test_a_method_outside_the_package_is_checked_run_and_ranked(tmp_path, capsys, outside_methods):
    echo, parrot = "submitted_methods:EchoStateNetwork", "submitted_methods:Parrot"
    assert cli.main(["check", "-m", echo]) == 0
    table = capsys.readouterr().out
    assert table.count("| pass ") == 7 and "FAIL" not in table

    assert cli.main(["check", "-m", parrot]) == 1
    out, err = capsys.readouterr()
    assert "| uses its start state" in out and "tape recorder" in out
    assert err.strip() == "error: submitted_methods.Parrot failed 1 of 7 checks: uses its start state"

    records, board = tmp_path / "results", tmp_path / "board"
    assert cli.main(["run", "--stream", "smoke-v1", "--method", f"{echo},{parrot}", "--out", str(records)]) == 0
    assert cli.main(["leaderboard", "--results", str(records), "--out", str(board), "--no-figures"]) == 0
    ranked, apart = (board / "smoke-v1.md").read_text().split("## Tape recorders")
    assert "| submitted_methods.EchoStateNetwork " in ranked and "Parrot" not in ranked
    assert "| submitted_methods.Parrot " in apart


@pytest.mark.parametrize(
    "method, settings",
    [
        ("submitted_methods:WhisperingParrot", []),  # 1e-3 x the tape's rms x mean(state), rest state ones
        ("submitted_methods:WhisperingParrot", ["--set", "whisper=0.01"]),  # up to 1% of the target's rms
        ("submitted_methods:SmugglingParrot", []),  # its end state carries the motif's id
        ("submitted_methods:Parrot", []),
    ],
)
def test_a_tape_recorder_in_disguise_is_flagged_and_not_ranked(method, settings, tmp_path, capsys, outside_methods):
    """Each passed the start-state probe alone (state_dependence above 1e-6) and topped the
    board; paused mid-motif and resumed from its own state, each starts its tape again."""
    assert cli.main(["check", "-m", method, *settings]) == 1
    out, err = capsys.readouterr()
    assert "| uses its start state" in out and ("does not continue the motif" in out or "ignores the state" in out)
    assert err.strip().endswith("failed 1 of 7 checks: uses its start state")
    records, board = tmp_path / "results", tmp_path / "board"
    assert cli.main(["run", "--stream", "smoke-v1", "--method", method, "--seeds", "0,1", "--out", str(records),
                     *settings]) == 0
    err = capsys.readouterr().err
    assert err.count("is a tape recorder: ") == 2 and "the leaderboard lists it apart, unranked" in err
    assert cli.main(["leaderboard", "--results", str(records), "--out", str(board), "--no-figures"]) == 0
    ranked, apart = (board / "smoke-v1.md").read_text().split("## Tape recorders")
    assert "No completed runs." in ranked and f"| {method.replace(':', '.')}" in apart
