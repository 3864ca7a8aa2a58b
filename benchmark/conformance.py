"""Conformance checks every method must pass (``motifbench check -m NAME|package.module:Class``).

The method is evaluated once on ``smoke-v1`` (seed 0, the default evaluation) into a
``CheckContext``; each check is a function of it, registered in ``CHECKS`` under a short id.
``run_checks`` runs them in this order (the report shows their titles):

- outputs: a whole evaluation completes; the evaluator refuses wrong shapes, NaN and crashes.
- generate_read_only: ``state_dict`` is equal before and after test calls.
- deterministic: a fresh instance scores the same (a card declaring ``nondeterministic`` passes).
- state_round_trip: a fresh instance given ``load_state_dict(state_dict())`` generates the same.
- inputs_read_only: ``learn`` leaves the motif, and ``generate`` its ids and start state, unchanged.
- learns: plasticity (each motif's r2 right after learning it) above the ``zero`` baseline's by
  ``LEARNS_MARGIN``. Forgetting is a score, not a fault: a method that learns each motif and
  then loses it passes.
- uses_start_state: the output depends on the start state, and a motif paused mid-way and
  resumed from its own state goes on; otherwise it is a tape recorder.

A check that raises fails alone, with the exception as its detail. When the evaluation itself
fails, "outputs" fails with the reason and the other checks are reported as not run.
``motifbench check`` runs them on the trusted side with every instance of the method in a
method process of its own under the limits of a run (``remote.RemoteMethod``); tests may make
instances in-process (``in_process``).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import typing
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .worker import Limits, one_line

if typing.TYPE_CHECKING:
    from .evaluator import Evaluator
    from .method import Method
    from .streams import Stream

CHECK_STREAM = "smoke-v1"
CHECK_SEED = 0
LEARNS_MARGIN = 0.1  # plasticity above zero's by at least this much
NOT_RUN = "not run: the method's evaluation failed"


@dataclass(frozen=True)
class Check:
    """One check's result: its title, whether it passed, and a one-line detail."""

    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class CheckJob:
    """What the worker needs to check one method; ``checks``: the ids to run (empty: all)."""

    method: str  # a registered name or package.module:Class
    hyperparams: dict[str, Any]
    device: str = "cpu"
    checks: tuple[str, ...] = ()
    stream: str = CHECK_STREAM  # what --stream names (sources.resolve)

    def __post_init__(self) -> None:
        unknown = [check_id for check_id in self.checks if check_id not in CHECKS]
        if unknown:
            raise ValueError(f"unknown check {unknown[0]!r}; known: {', '.join(CHECKS)}")


MethodMaker = Callable[[str, dict[str, Any]], "Method"]  # (spec, hyperparams) -> a fresh instance, not set up


def in_process(spec: str, hyperparams: dict[str, Any]) -> Method:
    """A MethodMaker for code you trust: the class imported into this process."""
    from . import registry

    return registry.get_method(spec)(**hyperparams)


@dataclass(frozen=True)
class CheckContext:
    """What the checks share: how to make the method (``make(spec, hyperparams)``: in this
    process, or behind the request boundary), the stream, and the first evaluation
    (``first.method`` has learned the whole stream; ``scores`` are its metrics)."""

    make: MethodMaker
    spec: str
    hyperparams: dict[str, Any]
    device: str
    stream: Stream
    first: Evaluator
    scores: dict[str, float | bool]

    @classmethod
    def evaluate(cls, make: MethodMaker, spec: str, hyperparams: dict[str, Any], stream: Stream,
                 device: str = "cpu") -> CheckContext:
        """A fresh method evaluated once; raises what the evaluation raises."""
        from .evaluator import Evaluator

        first = Evaluator(make(spec, hyperparams), stream, CHECK_SEED, device=device)
        return cls(make, spec, hyperparams, device, stream, first, first.run().metrics)

    @property
    def method(self) -> Method:
        return self.first.method

    def fresh(self) -> Method:
        """A new instance with the same hyperparameters, not set up."""
        return self.make(self.spec, self.hyperparams)

    def evaluator(self, method: Method) -> Evaluator:
        from .evaluator import Evaluator

        return Evaluator(method, self.stream, CHECK_SEED, device=self.device)

    def produce_all(self, evaluator: Evaluator) -> list[np.ndarray]:
        """Every motif produced once from rest by ``evaluator``'s method: K arrays (T_k, d_out)."""
        K = len(self.stream.motifs)
        outputs, _ = evaluator.produce(np.arange(K), evaluator.method.rest_state(K), evaluator.n_prep)
        return outputs


CheckFunction = Callable[[CheckContext], tuple[bool, str]]  # context -> (passed, detail)


@dataclass(frozen=True)
class CheckSpec:
    """A registered check: ``fn(context)`` -> (passed, detail); the report names it ``title``."""

    title: str
    fn: CheckFunction

    def __call__(self, context: CheckContext) -> Check:
        """The check's result; an exception it raises fails it, as one line."""
        try:
            passed, detail = self.fn(context)
        except Exception as error:
            return Check(self.title, False, f"raised {one_line(error)}")
        return Check(self.title, bool(passed), detail)


CHECKS: dict[str, CheckSpec] = {}  # in the order of the module docstring


def _check(check_id: str, title: str) -> Callable[[CheckFunction], CheckFunction]:
    """Registers a check function under ``check_id``; the report names it ``title``."""

    def register(fn: CheckFunction) -> CheckFunction:
        CHECKS[check_id] = CheckSpec(title, fn)
        return fn

    return register


def run_checks(job: CheckJob, limits: Limits, threads: int = 1) -> list[Check]:
    """The checks ``job.checks`` of ``job.method`` (all if empty), in the order of ``CHECKS``,
    each run even when another fails. The method's instances live in one method process under
    ``limits``, ``zero``'s in another; both end before this returns."""
    from .registry import method_label
    from .remote import Endpoint, RemoteMethod
    from .sources import resolve

    selected = [check_id for check_id in CHECKS if not job.checks or check_id in job.checks]
    stream = resolve(job.stream).build(CHECK_SEED)
    with contextlib.ExitStack() as processes:
        endpoints = {spec: processes.enter_context(Endpoint(method_label(spec), limits, threads, job.device))
                     for spec in (job.method, "zero")}  # started together, so they import side by side

        def make(spec: str, hyperparams: dict[str, Any]) -> Method:
            return RemoteMethod(spec, hyperparams, limits, threads, job.device, endpoint=endpoints[spec])

        try:
            context = CheckContext.evaluate(make, job.method, job.hyperparams, stream, job.device)
        except Exception as error:  # nothing else can be checked without one evaluation
            failure = {"outputs": one_line(error)}
            return [Check(CHECKS[check_id].title, False, failure.get(check_id, NOT_RUN)) for check_id in selected]
        return [CHECKS[check_id](context) for check_id in selected]


@_check("outputs", "outputs: shapes, finite, no crash")
def outputs(context: CheckContext) -> tuple[bool, str]:
    """The evaluation completed (the evaluator refuses wrong shapes, NaN and crashes)."""
    return True, f"final_r2 {context.scores['final_r2']:.3f}"


@_check("generate_read_only", "generate leaves learned state unchanged")
def generate_read_only(context: CheckContext) -> tuple[bool, str]:
    """``state_dict`` is equal before and after generating every motif, without and with noise."""
    import torch

    method, first = context.method, context.first
    K = len(context.stream.motifs)
    before = copy.deepcopy(method.state_dict())
    context.produce_all(first)
    first.produce(np.arange(K), method.rest_state(K), first.n_prep, 0.1, torch.Generator().manual_seed(1))
    return _verdict(_same(before, method.state_dict()), "state_dict changed during generate")


@_check("deterministic", "same seed, same scores")
def deterministic(context: CheckContext) -> tuple[bool, str]:
    """A second evaluation, from a fresh instance, gives identical scores."""
    if context.method.card.nondeterministic:
        return True, "skipped: the card declares the method nondeterministic"
    again = context.evaluator(context.fresh()).run().metrics
    differing = [name for name in context.scores if not _same(context.scores[name], again[name])]
    return _verdict(not differing, f"scores differ: {', '.join(differing)}")


@_check("state_round_trip", "state round-trip")
def state_round_trip(context: CheckContext) -> tuple[bool, str]:
    """A fresh instance given ``load_state_dict(state_dict())`` generates the same outputs."""
    restored = context.fresh()
    restored.setup(context.first.info, CHECK_SEED, context.device)
    restored.load_state_dict(copy.deepcopy(context.method.state_dict()))
    same = _same(context.produce_all(context.first), context.produce_all(context.evaluator(restored)))
    return _verdict(same, "a fresh instance loaded with state_dict() generates different outputs")


@_check("inputs_read_only", "inputs read-only")
def inputs_read_only(context: CheckContext) -> tuple[bool, str]:
    """A fresh instance learns motif 0 and generates it; the target, ids and start state it got
    are unchanged. Behind the request boundary the inputs are copies, so this runs in the
    method process, where a method that writes into them would corrupt only itself."""
    from .method import changed_inputs
    from .remote import RemoteMethod

    first, motif = context.first, context.stream.motifs[0]
    if isinstance(context.method, RemoteMethod):
        changed = context.method.changed_inputs(first.info, CHECK_SEED, context.device, motif)
    else:
        method = context.fresh()
        method.setup(first.info, CHECK_SEED, context.device)
        changed = changed_inputs(method, motif, first.n_prep)
    return _verdict(not changed, f"changed {', '.join(changed)}")


@_check("learns", "learns better than zero")
def learns(context: CheckContext) -> tuple[bool, str]:
    """plasticity at least the ``zero`` baseline's plus ``LEARNS_MARGIN``."""
    plasticity = context.scores["plasticity"]
    zero = context.evaluator(context.make("zero", {})).run().metrics["plasticity"]
    versus = f"plasticity {plasticity:.3f} vs zero's {zero:.3f}"
    return _verdict(plasticity >= zero + LEARNS_MARGIN, f"{versus} (+{LEARNS_MARGIN} needed)", versus)


@_check("uses_start_state", "uses its start state")
def uses_start_state(context: CheckContext) -> tuple[bool, str]:
    """The output depends on the start state, and a motif paused and resumed from its own state
    goes on: not a tape recorder (``metrics.tape_recorder_reason``)."""
    from .metrics import tape_recorder_reason

    reason = tape_recorder_reason(context.scores)
    return _verdict(reason is None, f"tape recorder: {reason}",
                    f"state_dependence {context.scores['state_dependence']:.3g}, "
                    f"resumption_error {context.scores['resumption_error']:.2g}")


def _verdict(passed: bool, failure: str, success: str = "") -> tuple[bool, str]:
    return bool(passed), success if passed else failure


def _same(a: Any, b: Any) -> bool:
    """Equal state: tensors and arrays element for element (NaN equal to NaN), containers and
    dataclass instances alike."""
    import torch

    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        fields = [field.name for field in dataclasses.fields(a)]
        return type(a) is type(b) and all(_same(getattr(a, name), getattr(b, name)) for name in fields)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, torch.Tensor):
        return (isinstance(b, torch.Tensor) and a.shape == b.shape and torch.equal(a.isnan(), b.isnan())
                and torch.equal(a.nan_to_num(), b.nan_to_num()))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(a, b, equal_nan=True)
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True
    return a == b


def report(checks: list[Check]) -> str:
    from tabulate import tabulate

    rows = [(check.name, "pass" if check.passed else "FAIL", check.detail) for check in checks]
    return tabulate(rows, headers=["check", "result", "detail"], tablefmt="github")
