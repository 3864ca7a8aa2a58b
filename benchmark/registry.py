"""Registries of streams, methods and metrics, looked up by name with "did you mean" errors.

Methods are registered as import paths and imported only when used, so listing them or
importing motifbench stays fast. A method outside the package is named ``package.module:Class``.
Installed packages add methods and streams by name through the entry-point groups
``motifbench.methods`` and ``motifbench.streams`` (``plugins``); their code runs in method
processes like any other outside code.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import re
import sys
from typing import Any

from .behaviour import BEHAVIOUR_STREAMS
from .method import PLAIN_NAME, Method
from .metrics import METRICS
from .streams import SYNTHETIC_STREAMS, StreamSpec

__all__ = ["METHODS", "METRICS", "STREAMS", "UnknownNameError", "all_methods", "get_method", "get_stream",
           "is_import_path", "is_registered", "load_attribute", "method_label", "plugins"]

STREAMS: dict[str, StreamSpec] = {**SYNTHETIC_STREAMS, **BEHAVIOUR_STREAMS}  # every registered stream
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
    "elise": "motifbench.methods.elise:Elise",
    "orthogonal": "motifbench.methods.orthogonal:Orthogonal",
    "owm": "motifbench.methods.orthogonal:OWM",
    "gpm": "motifbench.methods.orthogonal:GPM",
    "rflo": "motifbench.methods.traces:RFLO",
    "eprop": "motifbench.methods.traces:EProp",
    "node_perturbation": "motifbench.methods.perturbation:NodePerturbation",
    "weight_perturbation": "motifbench.methods.perturbation:WeightPerturbation",
    "avalanche_naive": "motifbench.baselines.avalanche_strategies:AvalancheNaive",
    "avalanche_ewc": "motifbench.baselines.avalanche_strategies:AvalancheEWC",
    "avalanche_si": "motifbench.baselines.avalanche_strategies:AvalancheSI",
    "avalanche_lwf": "motifbench.baselines.avalanche_strategies:AvalancheLwF",
    "avalanche_replay": "motifbench.baselines.avalanche_strategies:AvalancheReplay",
}


PLUGIN_GROUPS = {"method": "motifbench.methods", "stream": "motifbench.streams"}  # entry-point groups
PLUGIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")  # no dot: never a package.module.Class label


class UnknownNameError(LookupError):
    """A stream, method or metric name that is not registered."""


@functools.cache
def plugins(kind: str) -> dict[str, str]:
    """Name -> ``package.module:attr`` of the ``kind`` ("method" or "stream") that installed
    packages register through the entry-point group ``PLUGIN_GROUPS[kind]``, by name. Nothing
    is imported. An entry whose name is not plain or is taken by motifbench, a name that two
    packages claim, and a value that is not ``package.module:attr`` are left out with a
    warning on stderr."""
    from importlib.metadata import entry_points

    builtin = METHODS if kind == "method" else STREAMS
    claims: dict[str, dict[str, str]] = {}  # name -> value -> the package that registers it
    for entry in entry_points(group=PLUGIN_GROUPS[kind]):
        problem = ("its name is not plain (letters, digits, _ and -)" if not PLUGIN_NAME.fullmatch(entry.name) else
                   "motifbench has one of that name" if entry.name in builtin else
                   "its value is not package.module:attr" if not is_import_path(entry.value) else "")
        source = entry.dist.name if entry.dist else "an installed package"
        if problem:
            print(f"warning: ignored the {kind} {entry.name!r} = {entry.value!r} of {source}: {problem}",
                  file=sys.stderr)
        else:
            claims.setdefault(entry.name, {})[entry.value] = source
    for name, values in claims.items():
        if len(values) > 1:
            print(f"warning: ignored the {kind} {name!r}: {' and '.join(sorted(set(values.values())))} both register "
                  "it", file=sys.stderr)
    return {name: next(iter(values)) for name, values in claims.items() if len(values) == 1}


def is_import_path(text: str) -> bool:
    """Whether ``text`` is ``package.module:attr``: dotted identifiers, a colon, an identifier."""
    module, colon, attr = text.partition(":")
    return bool(colon) and all(part.isidentifier() for part in module.split(".")) and attr.isidentifier()


def all_methods() -> dict[str, str]:
    """Motifbench's methods and the installed plugins' (name -> package.module:Class)."""
    return {**METHODS, **plugins("method")}


def _lookup(kind: str, name: str, table: dict) -> object:
    if name in table:
        return table[name]
    close = difflib.get_close_matches(name, list(table), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(sorted(table))}"
    raise UnknownNameError(f"unknown {kind} {name!r}{hint}")


def get_stream(name: str) -> StreamSpec:
    """A stream that motifbench itself registers (``sources.resolve`` also finds the others)."""
    return _lookup("stream", name, STREAMS)


def is_registered(spec: str) -> bool:
    """Whether ``spec`` is one of motifbench's own methods, by name or by its import path: code
    that may run in the trusted process. A plugin's method is outside code, like any other."""
    return spec in METHODS or spec in METHODS.values()


def method_label(spec: str) -> str:
    """The name a method's records go under, known without importing it: a registered or plugin
    method's name (also when given by its import path), else ``package.module.Class`` for
    ``package.module:Class``, which always has a dot and so is never such a name."""
    methods = all_methods()
    if ":" not in spec:
        _lookup("method", spec, methods)
        return spec
    registered = [name for name, path in methods.items() if path == spec]
    if registered:
        return registered[0]
    label = spec.replace(":", ".", 1)
    if not (is_import_path(spec) and PLAIN_NAME.fullmatch(label)):
        raise UnknownNameError(f"method {spec!r}: expected a registered name or package.module:Class "
                               "(Python identifiers, not starting with '_')")
    return label


def load_attribute(path: str, kind: str) -> Any:
    """The object ``package.module:attr`` names, importing its module; an UnknownNameError
    naming the ``kind`` ("method", "stream") if it cannot be loaded."""
    module_name, _, attr = path.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError) as error:
        raise UnknownNameError(f"cannot load {kind} {path!r}: {error}") from None


def get_method(name: str) -> type[Method]:
    """A registered or plugin method's class, or ``package.module:Class`` for one outside motifbench."""
    cls = load_attribute(name if ":" in name else _lookup("method", name, all_methods()), "method")
    if not isinstance(cls, type) or not hasattr(cls, "card"):
        raise UnknownNameError(f"{name!r} is not a method class (it has no card)")
    return cls
