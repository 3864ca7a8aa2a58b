"""The wire between the trusted side and a method process: messages of JSON and raw arrays.

A message is an 8-byte little-endian length, that many bytes of UTF-8 JSON (an object), then
the raw bytes of the arrays the JSON lists under ``"arrays"`` as ``[name, dtype, shape]``, in
that order, C-ordered and little-endian. Nothing is ever unpickled: the trusted side parses
JSON and copies bytes into arrays of a few plain dtypes, after checking that they fit in the
bytes it is prepared to read. Reads and writes take a deadline (``time.monotonic()`` seconds),
so a method process that stops reading or writing cannot hang its evaluator.
"""

from __future__ import annotations

import json
import math
import os
import select
import struct
import time
from typing import Any

import numpy as np

LENGTH = struct.Struct("<Q")
MAX_HEADER = 16 * 2**20  # bytes of JSON in one message
DTYPES = {name: np.dtype(name).newbyteorder("<") for name in ("float32", "float64", "int64", "uint8")}


class WireError(Exception):
    """A message could not be sent or received, or is malformed."""


class WireTimeout(WireError):
    """The deadline passed before a message was sent or received."""


class WireClosed(WireError):
    """The other side closed the connection (it exited or died)."""


Arrays = dict[str, np.ndarray]


def encode(fields: dict[str, Any], arrays: Arrays | None = None) -> list[bytes]:
    """A message as the buffers to write: length, JSON, then each array's bytes."""
    arrays = arrays or {}
    specs, buffers = [], []
    for name, array in arrays.items():
        dtype = np.dtype(array.dtype).name
        if dtype not in DTYPES:
            raise WireError(f"array {name!r} has dtype {dtype}; the wire carries {', '.join(DTYPES)}")
        specs.append([name, dtype, list(array.shape)])
        buffers.append(np.ascontiguousarray(array, dtype=DTYPES[dtype]).tobytes())
    header = json.dumps({**fields, "arrays": specs}).encode()
    return [LENGTH.pack(len(header)), header, *buffers]


def _array_specs(header: dict[str, Any], max_bytes: int) -> list[tuple[str, np.dtype, tuple[int, ...]]]:
    """The arrays a header announces, checked: known dtypes, sane shapes, at most ``max_bytes`` in all."""
    specs, total = [], 0
    announced = header.pop("arrays", [])
    if not isinstance(announced, list):
        raise WireError("malformed message: 'arrays' is not a list")
    for spec in announced:
        if not (isinstance(spec, list) and len(spec) == 3 and isinstance(spec[0], str) and spec[1] in DTYPES
                and isinstance(spec[2], list) and len(spec[2]) <= 8
                and all(type(n) is int and n >= 0 for n in spec[2])):
            raise WireError(f"malformed array in message: {str(spec)[:80]}")
        shape = tuple(spec[2])
        total += math.prod(shape) * DTYPES[spec[1]].itemsize
        if total > max_bytes:
            raise WireError(f"message announces more than the {max_bytes} bytes of arrays expected")
        specs.append((spec[0], DTYPES[spec[1]], shape))
    return specs


class Channel:
    """One end of a connection: reads from ``read_fd``, writes to ``write_fd`` (file descriptors it owns)."""

    def __init__(self, read_fd: int, write_fd: int):
        self.read_fd, self.write_fd = read_fd, write_fd
        for fd in (read_fd, write_fd):  # a blocking write of a large message could outlast the deadline
            os.set_blocking(fd, False)

    def send(self, fields: dict[str, Any], arrays: Arrays | None = None, deadline: float | None = None) -> None:
        for buffer in encode(fields, arrays):
            view = memoryview(buffer)
            while view:
                _wait(self.write_fd, select.POLLOUT, deadline)
                try:
                    written = os.write(self.write_fd, view)
                except BlockingIOError:
                    continue
                except BrokenPipeError:
                    raise WireClosed("the other side closed the connection") from None
                view = view[written:]

    def receive(self, max_bytes: int, deadline: float | None = None) -> tuple[dict[str, Any], Arrays]:
        """The next message: (its JSON fields, its arrays), arrays holding at most ``max_bytes``."""
        (length,) = LENGTH.unpack(self._read(LENGTH.size, deadline))
        if length > MAX_HEADER:
            raise WireError(f"message header of {length} bytes is over the limit of {MAX_HEADER}")
        try:
            header = json.loads(self._read(length, deadline))
        except (ValueError, RecursionError) as error:
            raise WireError(f"malformed message ({type(error).__name__})") from None
        if not isinstance(header, dict):
            raise WireError("malformed message: not a JSON object")
        arrays = {}
        for name, dtype, shape in _array_specs(header, max_bytes):
            data = self._read(math.prod(shape) * dtype.itemsize, deadline)
            arrays[name] = np.frombuffer(data, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))
        return header, arrays

    def _read(self, count: int, deadline: float | None) -> bytes:
        chunks, left = [], count
        while left:
            _wait(self.read_fd, select.POLLIN, deadline)
            try:
                chunk = os.read(self.read_fd, min(left, 2**22))
            except BlockingIOError:
                continue
            if not chunk:
                raise WireClosed("the other side closed the connection")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        for fd in {self.read_fd, self.write_fd}:
            try:
                os.close(fd)
            except OSError:
                pass


def _wait(fd: int, event: int, deadline: float | None) -> None:
    """Blocks until ``fd`` is ready for ``event`` (or has hung up), or a WireTimeout at ``deadline``."""
    poller = select.poll()
    poller.register(fd, event)
    while True:
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        if poller.poll(None if timeout is None else math.ceil(timeout * 1000)):
            return
        if deadline is not None and time.monotonic() >= deadline:
            raise WireTimeout("deadline passed")
