"""The trusted side of the request boundary: a method in its own process, seen as a Method.

``RemoteMethod`` implements the Method protocol by sending each call to a method process
(``worker.MethodProcess`` running ``server.py``) and checking each reply before the evaluator
sees it: arrays of float32 or float64 only, no more bytes than the call can need (the
evaluator then checks shapes and finiteness as for any method), JSON of the expected kind for
the card, settings, counts and diagnostics, and an error as one line. The evaluator, the
stream and its targets, the scores and the record stay in this process; the method process
gets a copy of one motif per ``learn`` and never a test target.

``Catalogue`` answers what the command line must know before anything runs (each method's
card and settings, and whether ``--set`` values are valid): for a method from outside, from a
method process of its own; a registered method, part of motifbench, is described in this one.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from .method import DAMAGE_MODES, HyperparameterError, MethodCard, MethodError, StreamInfo
from .registry import is_registered, method_label
from .worker import Limits, MethodProcess, MethodProcessError

MAX_TEXT = 2000  # characters of an error, a citation or a version from a method process
MAX_JSON = 2**20  # bytes of settings or diagnostics from a method process


@dataclass(frozen=True)
class SealedState:
    """A method's ``state_dict`` as bytes the trusted side never unpickles: it compares them
    and hands them back to a method process."""

    blob: bytes


def _json_object(value: Any, what: str, label: str) -> dict[str, Any]:
    """``value`` if it is a JSON object of at most MAX_JSON bytes, else a MethodError."""
    if not isinstance(value, dict) or len(json.dumps(value)) > MAX_JSON:
        raise MethodError(f"method {label}: {what} are not a JSON object of at most {MAX_JSON} bytes")
    return value


def _text(value: Any) -> str:
    return " ".join(str(value).split())[:MAX_TEXT]


class Endpoint:
    """A method process, and how its replies become results or MethodErrors. One process may
    serve several instances (``RemoteMethod(..., endpoint=...)``)."""

    def __init__(self, label: str, limits: Limits, threads: int = 1, device: str = "cpu", kind: str = "method"):
        self.label, self.limits, self.kind = label, limits, kind  # errors name "{kind} {label}"
        self.process = MethodProcess(limits, threads, device)
        self.budget = int(limits.memory_mb * 2**20) if limits.memory_mb else 2**34  # bytes of one reply at most

    def exchange(self, call: str, fields: dict[str, Any], arrays: dict[str, np.ndarray] | None,
                 max_bytes: int) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        try:
            return self.process.request(call, fields, arrays, max_bytes)
        except MethodProcessError as error:
            raise MethodError(f"{self.kind} {self.label}: {error}") from None

    def call(self, call: str, what: str | None = None, max_bytes: int = 0, arrays: dict[str, np.ndarray] | None = None,
             **fields: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The reply to one call; a MethodError naming the method and the call (``what``) if it failed."""
        reply, out = self.exchange(call, fields, arrays, max_bytes)
        if "error" in reply:
            raise MethodError(f"{self.kind} {self.label}: {what or call} raised {_text(reply['error'])}")
        return reply, out

    def __enter__(self) -> Endpoint:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self.process.close()


class _LocalEndpoint(Endpoint):
    """The same calls answered in this process: only for the registered methods, which are part
    of motifbench, to describe them without starting a process."""

    def __init__(self) -> None:
        from .server import Server

        self.label, self.kind, self.server = "registered methods", "method", Server()

    def exchange(self, call: str, fields: dict[str, Any], arrays: dict[str, np.ndarray] | None,
                 max_bytes: int) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        from .server import answer

        return answer(self.server, {"call": call, **fields}, arrays or {})

    def close(self) -> None:
        pass


class RemoteMethod:
    """The Method protocol for ``spec`` (a registered name or ``package.module:Class``) made
    with ``hyperparams`` (JSON values), served by a method process of its own, or by
    ``endpoint``'s if given. Use as a context manager, or ``close`` it: that kills the process
    it started and all the process started."""

    def __init__(self, spec: str, hyperparams: dict[str, Any], limits: Limits, threads: int = 1, device: str = "cpu",
                 endpoint: Endpoint | None = None):
        self.spec, self.label, self._configured = spec, method_label(spec), hyperparams
        self.owns_endpoint = endpoint is None
        self.endpoint = endpoint or Endpoint(self.label, limits, threads, device)
        try:
            description, _ = self.endpoint.call("load", spec=spec)
            self.card = card_from(description.get("card"), self.label)
            reply, _ = self.endpoint.call("configure", spec=spec, hyperparams=hyperparams)
            self._hyperparameters = _json_object(reply.get("hyperparameters"), "its hyperparameters", self.label)
            self.instance = reply.get("instance")
            if type(self.instance) is not int:
                raise MethodError(f"method {self.label}: configure sent no instance number")
            modes = description.get("damage_modes")
            if not (isinstance(modes, list) and set(modes) <= set(DAMAGE_MODES)):
                raise MethodError(f"method {self.label}: load described its damage modes as {_text(modes)[:60]}")
        except BaseException:
            self.close()
            raise
        self.damage_modes = tuple(modes)
        if modes:
            self.damage = self._damage  # only a method that can be damaged has ``damage``
        if description.get("has_recurrent_matrix") is True:
            self.recurrent_matrix = self._recurrent_matrix
        self.info: StreamInfo | None = None

    def __enter__(self) -> RemoteMethod:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        if self.owns_endpoint:
            self.endpoint.close()

    def _call(self, call: str, what: str | None = None, max_bytes: int = 0,
              arrays: dict[str, np.ndarray] | None = None, **fields: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return self.endpoint.call(call, what, max_bytes, arrays, instance=self.instance, **fields)

    def hyperparameters(self) -> dict[str, Any]:
        return self._hyperparameters

    def setup(self, info: StreamInfo, seed: int, device: str = "cpu") -> None:
        self.info = info
        self._call("setup", info=dataclasses.asdict(info), seed=seed, device=device)

    def learn(self, motif: Any) -> None:
        self._call("learn", f"learn(motif {motif.motif_id})", arrays={"target": motif.target},
                   motif_id=motif.motif_id, dt=motif.dt, tau=motif.tau)

    def rest_state(self, batch: int) -> Any:
        import torch

        _, out = self._call("rest_state", max_bytes=self.endpoint.budget, batch=batch)
        return torch.from_numpy(_array(out, "state", self.label))

    def generate(self, ids: Any, state: Any, n_prep: int, n_steps: int, noise_std: float = 0.0,
                 generator: Any = None) -> tuple[Any, Any]:
        import torch

        arrays = {"ids": ids.cpu().numpy().astype(np.int64), "state": state.detach().cpu().numpy()}
        if generator is not None:
            arrays["generator"] = generator.get_state().numpy()
        batch, d_out = len(ids), self.info.d_out if self.info else 0
        max_bytes = 8 * batch * (n_steps * d_out + state.shape[1]) + 2 * arrays.get("generator", np.empty(0)).nbytes
        _, out = self._call("generate", max_bytes=max_bytes, arrays=arrays, n_prep=n_prep, n_steps=n_steps,
                            noise_std=noise_std)
        if generator is not None:
            generator.set_state(torch.from_numpy(_generator_state(out, arrays["generator"], self.label)))
        return torch.from_numpy(_array(out, "y", self.label)), torch.from_numpy(_array(out, "state_end", self.label))

    def state_dict(self) -> SealedState:
        _, out = self._call("state_dict", max_bytes=self.endpoint.budget)
        blob = out.get("blob")
        if blob is None or blob.dtype != np.uint8 or blob.ndim != 1:
            raise MethodError(f"method {self.label}: state_dict sent no state")
        return SealedState(blob.tobytes())

    def load_state_dict(self, state: SealedState) -> None:
        self._call("load_state_dict", arrays={"blob": np.frombuffer(state.blob, dtype=np.uint8)})

    def _damage(self, fraction: float, generator: Any, mode: str = "random") -> None:
        import torch

        sent = generator.get_state().numpy()
        _, out = self._call("damage", f"damage({mode})", max_bytes=2 * sent.nbytes, arrays={"generator": sent},
                            fraction=fraction, mode=mode)
        generator.set_state(torch.from_numpy(_generator_state(out, sent, self.label)))

    def _recurrent_matrix(self) -> np.ndarray:
        _, out = self._call("recurrent_matrix", max_bytes=self.endpoint.budget)
        matrix = _array(out, "matrix", self.label)
        if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
            raise MethodError(f"method {self.label}: recurrent_matrix returned shape {matrix.shape}, expected (N, N)")
        return matrix

    def parameter_count(self) -> int | None:
        reply, _ = self._call("parameter_count")
        value = reply.get("value")
        if value is not None and (type(value) is not int or value < 0):
            raise MethodError(f"method {self.label}: parameter_count returned {_text(value)[:40]}, not a count")
        return value

    def diagnostics(self) -> dict[str, Any]:
        reply, _ = self._call("diagnostics")
        return _json_object(reply.get("value"), "its diagnostics", self.label)

    def changed_inputs(self, info: StreamInfo, seed: int, device: str, motif: Any) -> list[str]:
        """The conformance check ``inputs_read_only``, run in the method process on a fresh
        instance: the names of the inputs that ``learn`` or ``generate`` changed."""
        reply, _ = self.endpoint.call("inputs_read_only", arrays={"target": motif.target}, spec=self.spec,
                                      hyperparams=self._configured, info=dataclasses.asdict(info), seed=seed,
                                      device=device, motif_id=motif.motif_id, dt=motif.dt, tau=motif.tau)
        changed = reply.get("changed")
        if not isinstance(changed, list) or not all(isinstance(name, str) for name in changed):
            raise MethodError(f"method {self.label}: inputs_read_only sent no list of names")
        return [_text(name) for name in changed]


def card_from(fields: Any, label: str) -> MethodCard:
    """A MethodCard from a method process's description, named ``label`` (the name the trusted
    side gives the records); a MethodError if the card is malformed."""
    if not isinstance(fields, dict):
        raise MethodError(f"method {label}: its card is not an object")
    texts = {key: fields.get(key) for key in ("version", "citation")}
    flags = {key: fields.get(key) for key in ("stores_past_data", "uses_sgd", "nondeterministic")}
    if not all(isinstance(value, str) for value in texts.values()) or not all(type(v) is bool for v in flags.values()):
        raise MethodError(f"method {label}: its card needs a version and a citation (text) and three true/false flags")
    return MethodCard(name=label, **{key: _text(value) for key, value in texts.items()}, **flags)


def _array(out: dict[str, np.ndarray], name: str, label: str) -> np.ndarray:
    array = out.get(name)
    if array is None or array.dtype not in (np.float32, np.float64):
        raise MethodError(f"method {label}: sent no float32 or float64 array {name!r}")
    return array


def _generator_state(out: dict[str, np.ndarray], sent: np.ndarray, label: str) -> np.ndarray:
    """The random generator's state the method process sent back, of the same size and kind as the one it got."""
    state = out.get("generator")
    if state is None or state.dtype != sent.dtype or state.shape != sent.shape:
        raise MethodError(f"method {label}: sent back no random generator state")
    return state


class Catalogue:
    """Cards and settings of methods, read before anything runs: a registered method's in this
    process (it is part of motifbench), one from outside in a method process of its own. A
    context manager."""

    def __init__(self, specs: list[str], limits: Limits, threads: int = 1):
        self.endpoints: dict[str, Endpoint] = {}
        self.descriptions: dict[str, dict[str, Any]] = {}
        try:
            local = _LocalEndpoint()
            for spec in specs:  # outside methods: processes started at once, so they import side by side
                self.endpoints[spec] = local if is_registered(spec) else Endpoint(method_label(spec), limits, threads)
            for spec, endpoint in self.endpoints.items():
                description, _ = endpoint.call("load", spec=spec)
                card_from(description.get("card"), method_label(spec))
                fields = description.get("fields")
                if not isinstance(fields, list) or not all(isinstance(f, dict) and isinstance(f.get("name"), str)
                                                           for f in fields):
                    raise MethodError(f"method {method_label(spec)}: its settings are not described")
                self.descriptions[spec] = description
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Catalogue:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        for endpoint in set(self.endpoints.values()):
            endpoint.close()

    def setting_names(self, spec: str) -> list[str]:
        return sorted(field["name"] for field in self.descriptions[spec]["fields"])

    def parse(self, spec: str, settings: dict[str, str], info: StreamInfo) -> dict[str, Any]:
        """``--set`` texts for ``spec`` -> its settings as JSON values, checked against each other
        and against the stream (a HyperparameterError naming the problem)."""
        reply, _ = self.endpoints[spec].call("parse", spec=spec, settings=settings, info=dataclasses.asdict(info))
        if "invalid" in reply:
            raise HyperparameterError(_text(reply["invalid"]))
        return _json_object(reply.get("hyperparams"), "its settings", self.endpoints[spec].label)
