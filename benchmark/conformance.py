"""Conformance checks every method must pass (``motifbench check -m NAME|package.module:Class``).

Each check runs the method on ``smoke-v1`` (seed 0, the default evaluation):

- outputs: a whole evaluation completes; the evaluator refuses wrong shapes, NaN and crashes.
- generate leaves learned state unchanged: ``state_dict`` is equal before and after test calls.
- same seed, same scores: a second evaluation from a fresh instance gives identical scores
  (a method whose card declares ``nondeterministic`` passes with a note).
- state round-trip: a fresh instance given ``load_state_dict(state_dict())`` generates the
  same outputs.
- inputs read-only: ``learn`` leaves the motif's arrays, and ``generate`` its id and state
  tensors, unchanged.
- learns better than zero: final_r2 above the ``zero`` baseline's by ``LEARNS_MARGIN``.
- uses its start state: the output depends on the state it is started from
  (``metrics.state_dependence``); a method that ignores it is a tape recorder.

The checks run in a worker process under the same limits as a run (``worker.isolated``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

CHECK_STREAM = "smoke-v1"
CHECK_SEED = 0
LEARNS_MARGIN = 0.1  # final_r2 above zero's by at least this much


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class CheckJob:
    """What the worker needs to check one method."""

    method: str  # a registered name or package.module:Class
    hyperparams: dict[str, Any]
    device: str = "cpu"


def run_checks(job: CheckJob, cap_memory: Callable[[], None]) -> list[Check]:
    """A worker task: every check of ``job.method``, in the order of the module docstring."""
    import torch

    from . import registry
    from .evaluator import Evaluator
    from .metrics import TAPE_RECORDER_LIMIT, is_tape_recorder

    cls = registry.get_method(job.method)
    stream = registry.get_stream(CHECK_STREAM).build(CHECK_SEED)
    cap_memory()

    def evaluator(method: Any) -> Evaluator:
        return Evaluator(method, stream, CHECK_SEED, device=job.device)

    first = evaluator(cls(**job.hyperparams))
    try:
        scores = first.run().metrics
    except Exception as error:  # nothing else can be checked without one evaluation
        return [Check("outputs: shapes, finite, no crash", False, " ".join(str(error).split()))]
    method = first.method
    checks = [Check("outputs: shapes, finite, no crash", True, f"final_r2 {scores['final_r2']:.3f}")]

    K = len(stream.motifs)
    ids = np.arange(K)
    before = copy.deepcopy(method.state_dict())
    reference, _ = first.produce(ids, method.rest_state(K), first.n_prep)
    first.produce(ids, method.rest_state(K), first.n_prep, 0.1, torch.Generator().manual_seed(1))
    checks.append(_verdict("generate leaves learned state unchanged", _same(before, method.state_dict()),
                           "state_dict changed during generate"))

    if method.card.nondeterministic:
        checks.append(Check("same seed, same scores", True, "skipped: the card declares the method nondeterministic"))
    else:
        again = evaluator(cls(**job.hyperparams)).run().metrics
        differing = [name for name in scores if not _same(scores[name], again[name])]
        checks.append(_verdict("same seed, same scores", not differing, f"scores differ: {', '.join(differing)}"))

    restored = cls(**job.hyperparams)
    restored.setup(first.info, CHECK_SEED, job.device)
    restored.load_state_dict(copy.deepcopy(method.state_dict()))
    replayed, _ = evaluator(restored).produce(ids, restored.rest_state(K), first.n_prep)
    checks.append(_verdict("state round-trip", _same(reference, replayed),
                           "a fresh instance loaded with state_dict() generates different outputs"))

    checks.append(_inputs_read_only(cls(**job.hyperparams), stream, first))

    zero = evaluator(registry.get_method("zero")()).run().metrics["final_r2"]
    versus = f"final_r2 {scores['final_r2']:.3f} vs zero's {zero:.3f}"
    checks.append(_verdict("learns better than zero", scores["final_r2"] >= zero + LEARNS_MARGIN,
                           f"{versus} (+{LEARNS_MARGIN} needed)", versus))

    dependence = scores["state_dependence"]
    checks.append(_verdict("uses its start state", not is_tape_recorder(scores),
                           f"tape recorder: its output ignores the state it starts from "
                           f"(state_dependence {dependence:.2g} <= {TAPE_RECORDER_LIMIT:g})",
                           f"state_dependence {dependence:.3g}"))
    return checks


def _inputs_read_only(method: Any, stream: Any, reference: Any) -> Check:
    """Learn the first motif and generate once, on copies kept to compare afterwards."""
    import torch

    method.setup(reference.info, CHECK_SEED, reference.device)
    motif = stream.motifs[0]
    target = motif.target.copy()
    method.learn(motif)
    ids, state = torch.zeros(2, dtype=torch.long), method.rest_state(2)
    ids_copy, state_copy = ids.clone(), state.clone()
    method.generate(ids, state, reference.n_prep, motif.n_steps)
    changed = [name for name, same in (("the motif's target", np.array_equal(target, motif.target)),
                                       ("generate's ids", torch.equal(ids, ids_copy)),
                                       ("generate's start state", torch.equal(state, state_copy))) if not same]
    return _verdict("inputs read-only", not changed, f"changed {', '.join(changed)}")


def _verdict(name: str, passed: bool, failure: str, success: str = "") -> Check:
    return Check(name, bool(passed), success if passed else failure)


def _same(a: Any, b: Any) -> bool:
    """Equal state: tensors and arrays element for element (NaN equal to NaN), containers alike."""
    import torch

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
