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

__all__ = ["METHODS", "METRICS", "STREAMS", "UnknownNameError", "get_method", "get_stream"]

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
    card_name = getattr(cls.card, "name", None)
    if not isinstance(card_name, str) or not PLAIN_NAME.fullmatch(card_name):
        raise UnknownNameError(f"{name!r}: its card's name {card_name!r} is not a plain name (letters, digits, "
                               "'_', '.', '+', '-'), so it cannot name a records folder")
    return cls
