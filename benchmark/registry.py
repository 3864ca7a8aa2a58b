"""Registries of streams, methods and metrics, looked up by name with "did you mean" errors.

Methods are registered as import paths and imported only when used, so listing them or
importing motifbench stays fast. A method outside the package is named ``package.module:Class``.
"""

from __future__ import annotations

import difflib
import importlib

from .method import PLAIN_NAME, Method
from .metrics import METRICS
from .streams import STREAMS, StreamSpec

__all__ = ["METHODS", "METRICS", "STREAMS", "UnknownNameError", "get_method", "get_stream", "is_registered",
           "method_label"]

METHODS: dict[str, str] = {
    "zero": "motifbench.baselines.zero:Zero",
    "finetune": "motifbench.baselines.finetune:Finetune",
    "joint": "motifbench.baselines.joint:Joint",
    "ewc": "motifbench.baselines.ewc:EWC",
    "context_gating": "motifbench.baselines.context_gating:ContextGating",
    "ann_additive": "motifbench.baselines.ann_additive:ANNAdditive",
    "ann_multiplicative": "motifbench.baselines.ann_multiplicative:ANNMultiplicative",
    "ann_prep": "motifbench.baselines.ann_prep:ANNPrep",
    "thalamocortical": "motifbench.methods.thalamocortical:Thalamocortical",
    "orthogonal": "motifbench.methods.orthogonal:Orthogonal",
    "owm": "motifbench.methods.orthogonal:OWM",
    "gpm": "motifbench.methods.orthogonal:GPM",
    "avalanche_naive": "motifbench.baselines.avalanche_strategies:AvalancheNaive",
    "avalanche_ewc": "motifbench.baselines.avalanche_strategies:AvalancheEWC",
    "avalanche_si": "motifbench.baselines.avalanche_strategies:AvalancheSI",
    "avalanche_lwf": "motifbench.baselines.avalanche_strategies:AvalancheLwF",
    "avalanche_replay": "motifbench.baselines.avalanche_strategies:AvalancheReplay",
}


class UnknownNameError(LookupError):
    """A stream, method or metric name that is not registered."""


def _lookup(kind: str, name: str, table: dict) -> object:
    if name in table:
        return table[name]
    close = difflib.get_close_matches(name, list(table), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(sorted(table))}"
    raise UnknownNameError(f"unknown {kind} {name!r}{hint}")


def get_stream(name: str) -> StreamSpec:
    return _lookup("stream", name, STREAMS)


def is_registered(spec: str) -> bool:
    """Whether ``spec`` is a registered method, by name or by its import path."""
    return spec in METHODS or spec in METHODS.values()


def method_label(spec: str) -> str:
    """The name a method's records go under, known without importing it: a registered method's
    name (also when given by its import path), else ``package.module.Class`` for
    ``package.module:Class``, which always has a dot and so is never a registered name."""
    if ":" not in spec:
        _lookup("method", spec, METHODS)
        return spec
    registered = [name for name, path in METHODS.items() if path == spec]
    if registered:
        return registered[0]
    module, _, cls = spec.partition(":")
    label = f"{module}.{cls}"
    if not (all(part.isidentifier() for part in module.split(".")) and cls.isidentifier()
            and PLAIN_NAME.fullmatch(label)):
        raise UnknownNameError(f"method {spec!r}: expected a registered name or package.module:Class "
                               "(Python identifiers, not starting with '_')")
    return label


def get_method(name: str) -> type[Method]:
    """A registered method's class, or ``package.module:Class`` for one outside motifbench."""
    path = name if ":" in name else _lookup("method", name, METHODS)
    module_name, _, class_name = path.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as error:
        raise UnknownNameError(f"cannot load method {name!r}: {error}") from None
    if not isinstance(cls, type) or not hasattr(cls, "card"):
        raise UnknownNameError(f"{name!r} is not a method class (it has no card)")
    return cls
