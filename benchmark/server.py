"""The method process: serves one method's calls over the wire (``python -m motifbench.server``).

This is the only process that imports a method's module, and everything in it is untrusted:
the method can change anything here, this module included. It therefore holds nothing that
decides a score: it receives a copy of one motif per ``learn``, states and ids to ``generate``
from, and answers with arrays that the trusted side checks (``remote.RemoteMethod``). It
never sees a test target, a record or the stream.

Requests are messages (``wire``) with a ``call``: ``load`` (import a method class, describe
it), ``parse`` (turn ``--set`` texts into checked settings), ``configure`` (make an
instance; a process may hold several, by number), then the protocol's calls ``setup``, ``learn``, ``rest_state``, ``generate``,
``state_dict``, ``load_state_dict``, ``damage``, ``recurrent_matrix``, ``parameter_count``, ``diagnostics``, and
``inputs_read_only`` (the conformance check of that name, run here on a fresh instance), and
``stream``: a stream from outside code, made here and sent back as arrays and text.
Each reply holds the result, or ``error``: one line.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import sys
from typing import Any

import numpy as np

from .wire import Arrays, Channel


def _protocol_channel() -> Channel:
    """The wire on the standard input and output this process was started with; from then on
    the method's own prints go to standard error and it reads nothing."""
    channel = Channel(os.dup(0), os.dup(1))
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return channel


class Server:
    """The method classes loaded so far and the instances made of them, by number. Also used
    in the trusted process to describe the registered methods (``remote.Catalogue``)."""

    def __init__(self, memory_mb: float = 0.0):
        self.memory_mb = memory_mb
        self.classes: dict[str, type] = {}
        self.instances: dict[int, Any] = {}
        self.devices: dict[int, str] = {}

    def load(self, spec: str) -> tuple[dict[str, Any], Arrays]:
        """Imports the class ``spec`` names and describes it."""
        from . import registry
        from .method import damage_modes

        cls = registry.get_method(spec)
        self.classes[spec] = cls
        return {"card": dataclasses.asdict(cls.card), "fields": describe_settings(cls.Hyperparams),
                "damage_modes": list(damage_modes(cls)), "has_recurrent_matrix": hasattr(cls, "recurrent_matrix")}, {}

    def parse(self, spec: str, settings: dict[str, str], info: dict[str, Any]) -> tuple[dict[str, Any], Arrays]:
        """``--set`` texts -> typed settings, checked by making an instance and against the stream."""
        from .method import HyperparameterError, parse_hyperparameter
        from .results import _jsonable

        cls = self.classes[spec]
        try:
            typed = {key: parse_hyperparameter(cls.Hyperparams, key, text) for key, text in settings.items()}
            cls(**typed).check_stream(_stream_info(info))
        except HyperparameterError as error:
            return {"invalid": str(error)}, {}
        return {"hyperparams": _jsonable(typed)}, {}

    def configure(self, spec: str, hyperparams: dict[str, Any]) -> tuple[dict[str, Any], Arrays]:
        """A new instance of a loaded class: its number and its hyperparameters."""
        from .method import settings_from_json
        from .results import _jsonable

        cls = self.classes[spec]
        method = cls(**settings_from_json(cls.Hyperparams, hyperparams))
        instance = len(self.instances)
        self.instances[instance] = method
        return {"instance": instance, "hyperparameters": _jsonable(method.hyperparameters())}, {}

    def setup(self, instance: int, info: dict[str, Any], seed: int, device: str) -> tuple[dict[str, Any], Arrays]:
        self.instances[instance].setup(_stream_info(info), seed, device)
        self.devices[instance] = device
        return {}, {}

    def learn(self, instance: int, motif_id: int, dt: float, tau: float,
              target: np.ndarray) -> tuple[dict[str, Any], Arrays]:
        from .streams import Motif

        self.instances[instance].learn(Motif(motif_id, target, dt, tau))
        return {}, {}

    def rest_state(self, instance: int, batch: int) -> tuple[dict[str, Any], Arrays]:
        return {}, {"state": _array(self.instances[instance].rest_state(batch), "rest_state")}

    def generate(self, instance: int, ids: np.ndarray, state: np.ndarray, n_prep: int, n_steps: int,
                 noise_std: float, generator: np.ndarray | None = None) -> tuple[dict[str, Any], Arrays]:
        import torch

        rng = _generator(generator)
        start = torch.from_numpy(state).to(self.devices.get(instance, "cpu"))
        result = self.instances[instance].generate(torch.from_numpy(ids), start, n_prep, n_steps, noise_std, rng)
        if not isinstance(result, tuple) or len(result) != 2:
            raise TypeError(f"generate returned {type(result).__name__}, expected (y, state_end)")
        arrays = {"y": _array(result[0], "generate's outputs"), "state_end": _array(result[1], "generate's state")}
        if rng is not None:
            arrays["generator"] = rng.get_state().numpy()
        return {}, arrays

    def state_dict(self, instance: int) -> tuple[dict[str, Any], Arrays]:
        import torch

        buffer = io.BytesIO()
        torch.save(self.instances[instance].state_dict(), buffer)
        return {}, {"blob": np.frombuffer(buffer.getvalue(), dtype=np.uint8)}

    def load_state_dict(self, instance: int, blob: np.ndarray) -> tuple[dict[str, Any], Arrays]:
        import torch

        self.instances[instance].load_state_dict(torch.load(io.BytesIO(blob.tobytes()), weights_only=False))
        return {}, {}

    def damage(self, instance: int, fraction: float, generator: np.ndarray, mode: str = "random"
               ) -> tuple[dict[str, Any], Arrays]:
        from .method import DAMAGE_MODES

        if mode not in DAMAGE_MODES:
            raise ValueError(f"damage mode {mode!r}: expected one of {', '.join(DAMAGE_MODES)}")
        rng = _generator(generator)
        method = self.instances[instance]
        method.damage(fraction, rng) if mode == "random" else method.damage(fraction, rng, mode=mode)
        return {}, {"generator": rng.get_state().numpy()}

    def recurrent_matrix(self, instance: int) -> tuple[dict[str, Any], Arrays]:
        import torch

        matrix = self.instances[instance].recurrent_matrix()
        if isinstance(matrix, torch.Tensor):
            matrix = matrix.detach().cpu().numpy()
        return {}, {"matrix": np.asarray(matrix, dtype=np.float64)}

    def parameter_count(self, instance: int) -> tuple[dict[str, Any], Arrays]:
        return {"value": self.instances[instance].parameter_count()}, {}

    def diagnostics(self, instance: int) -> tuple[dict[str, Any], Arrays]:
        from .results import _jsonable

        return {"value": _jsonable(self.instances[instance].diagnostics())}, {}

    def inputs_read_only(self, spec: str, hyperparams: dict[str, Any], info: dict[str, Any], seed: int, device: str,
                         motif_id: int, dt: float, tau: float, target: np.ndarray) -> tuple[dict[str, Any], Arrays]:
        """The conformance check of that name, on an instance made for it."""
        from .method import changed_inputs, settings_from_json
        from .streams import Motif

        cls = self.classes[spec]
        method = cls(**settings_from_json(cls.Hyperparams, hyperparams))
        method.setup(_stream_info(info), seed, device)
        return {"changed": changed_inputs(method, Motif(motif_id, target, dt, tau), info["n_prep"])}, {}


    def stream(self, ref: str, seed: int) -> tuple[dict[str, Any], Arrays]:
        """The stream that ``ref`` (``package.module:attr``: a StreamSpec, or a function seed ->
        Stream) makes with ``seed``: its text fields, and each motif's target as ``target{k}``."""
        from .registry import load_attribute
        from .streams import Stream

        maker = load_attribute(ref, "stream")
        stream = maker.build(seed) if hasattr(maker, "build") else maker(seed)
        if not isinstance(stream, Stream):
            raise TypeError(f"{ref} made {type(stream).__name__}, expected a motifbench Stream")
        fields = {key: getattr(stream, key) for key in ("name", "description", "citation", "tier", "theta")}
        fields["segments"] = [[[s.start, s.stop, s.label] for s in motif.segments] for motif in stream.motifs]
        first = stream.motifs[0]
        return ({**fields, "dt": first.dt, "tau": first.tau},
                {f"target{motif.motif_id}": np.asarray(motif.target) for motif in stream.motifs})


CALLS = ("load", "parse", "configure", "setup", "learn", "rest_state", "generate", "state_dict", "load_state_dict",
         "damage", "recurrent_matrix", "parameter_count", "diagnostics", "inputs_read_only", "stream")


def describe_settings(settings_type: type) -> list[dict[str, Any]]:
    """A Settings class's fields as JSON, as the command line uses them: name, default, choices."""
    from .results import _jsonable

    return [{"name": f.name, "default": _jsonable(f.default), "choices": f.metadata.get("choices")}
            for f in dataclasses.fields(settings_type)]


def _stream_info(fields: dict[str, Any]) -> Any:
    from .method import StreamInfo

    return StreamInfo(**{**fields, "motif_steps": tuple(fields["motif_steps"])})


def _generator(state: np.ndarray | None) -> Any:
    import torch

    if state is None:
        return None
    generator = torch.Generator()
    generator.set_state(torch.from_numpy(state))
    return generator


def _array(value: Any, what: str) -> np.ndarray:
    """A tensor the method returned, as a CPU array of float32 or float64."""
    import torch

    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{what} is {type(value).__name__}, expected a tensor")
    value = value.detach().cpu()
    if value.dtype not in (torch.float32, torch.float64):
        value = value.to(torch.float64)
    return value.numpy()


def answer(server: Server, request: dict[str, Any], arrays: Arrays) -> tuple[dict[str, Any], Arrays]:
    """One request's reply: the call's result, or ``error``, one line, if it raised."""
    from .worker import failure_reason

    try:
        fields, out = getattr(server, request.pop("call"))(**request, **arrays)
        json.dumps(fields)  # what cannot cross the wire is the method's failure, reported as such
    except Exception as error:  # a method's failure is reported as one line
        fields, out = {"error": failure_reason(error, server.memory_mb)}, {}
    return fields, out


def serve(channel: Channel, server: Server) -> None:
    """Answers requests until one that is not a call, or until the other side hangs up."""
    from .wire import WireClosed

    while True:
        try:
            request, arrays = channel.receive(max_bytes=2**40)
        except WireClosed:
            return
        if request.get("call") not in CALLS:
            return
        channel.send(*answer(server, request, arrays))


def main() -> None:
    """Started by ``worker.MethodProcess`` with the memory cap (MB) and CPU threads as arguments."""
    from .worker import cap_memory

    channel = _protocol_channel()
    memory_mb, threads = float(sys.argv[1]), int(sys.argv[2])
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    threadpool_limits(threads)
    cap_memory(memory_mb)  # before any method's module runs, so that it cannot lift the cap
    serve(channel, Server(memory_mb))


if __name__ == "__main__":
    main()
