"""The wire between the trusted side and a method process: what crosses, and what is refused
before it is read (motifbench.wire)."""

import json
import os
import struct
import time

import numpy as np
import pytest

from motifbench.wire import MAX_HEADER, Channel, WireClosed, WireError, WireTimeout, encode


@pytest.fixture
def pair():
    """Two connected channels: (trusted side, method side)."""
    a_read, b_write = os.pipe()
    b_read, a_write = os.pipe()
    trusted, method = Channel(a_read, a_write), Channel(b_read, b_write)
    yield trusted, method
    trusted.close()
    method.close()


def raw(channel: Channel, data: bytes) -> None:
    os.write(channel.write_fd, data)


def test_fields_and_arrays_cross_unchanged(pair):
    trusted, method = pair
    arrays = {"y": np.arange(12, dtype=np.float32).reshape(2, 3, 2), "ids": np.array([3, 1], dtype=np.int64),
              "blob": np.frombuffer(b"\x00\xffstate", dtype=np.uint8), "empty": np.zeros((0, 4))}
    method.send({"value": [1, 2.5, None, "text"]}, arrays)
    fields, received = trusted.receive(max_bytes=10_000, deadline=time.monotonic() + 5)
    assert fields == {"value": [1, 2.5, None, "text"]}
    for name, array in arrays.items():
        assert received[name].dtype == array.dtype and np.array_equal(received[name], array)
        assert received[name].flags.writeable  # a copy the evaluator may use as a tensor


def test_a_message_of_many_megabytes_crosses_a_pipe_both_ways(pair):
    trusted, method = pair
    big = np.random.default_rng(0).normal(size=(3000, 300))  # 7.2 MB: more than a pipe holds
    import threading

    sender = threading.Thread(target=method.send, args=({}, {"big": big}))
    sender.start()
    _, received = trusted.receive(max_bytes=big.nbytes, deadline=time.monotonic() + 20)
    sender.join()
    assert np.array_equal(received["big"], big)


@pytest.mark.parametrize(
    "header, words",
    [
        ({"arrays": [["y", "float32", [10**9, 10**9]]]}, "more than the 1000 bytes"),
        ({"arrays": [["y", "float32", [100]], ["z", "float64", [100]]]}, "more than the 1000 bytes"),
        ({"arrays": [["y", "object", [1]]]}, "malformed array"),
        ({"arrays": [["y", "float32", [-1]]]}, "malformed array"),
        ({"arrays": [["y", "float32", [True]]]}, "malformed array"),
        ({"arrays": [["y", "float32", [1] * 9]]}, "malformed array"),
        ({"arrays": "y"}, "'arrays' is not a list"),
    ],
)
def test_an_announced_array_that_is_too_big_or_malformed_is_refused_before_it_is_read(pair, header, words):
    trusted, method = pair
    text = json.dumps(header).encode()
    raw(method, struct.pack("<Q", len(text)) + text)  # and no array bytes at all: nothing may wait for them
    with pytest.raises(WireError, match=words):
        trusted.receive(max_bytes=1000, deadline=time.monotonic() + 5)


@pytest.mark.parametrize(
    "data, words",
    [
        (struct.pack("<Q", MAX_HEADER + 1), "over the limit"),
        (struct.pack("<Q", 3) + b"[1]", "not a JSON object"),
        (struct.pack("<Q", 4) + b"\xff\xfe{}", "malformed message"),
        (struct.pack("<Q", 2000) + b"[" * 2000, "malformed message"),
    ],
)
def test_a_header_that_is_too_long_or_not_a_json_object_is_refused(pair, data, words):
    trusted, method = pair
    raw(method, data)
    with pytest.raises(WireError, match=words):
        trusted.receive(max_bytes=0, deadline=time.monotonic() + 5)


def test_a_silent_peer_times_out_and_a_closed_one_is_reported(pair):
    trusted, method = pair
    start = time.monotonic()
    with pytest.raises(WireTimeout):
        trusted.receive(max_bytes=0, deadline=start + 0.3)
    assert time.monotonic() - start < 5
    raw(method, encode({"partial": True})[0])  # the length only, then the peer is gone
    method.close()
    with pytest.raises(WireClosed):
        trusted.receive(max_bytes=0, deadline=time.monotonic() + 5)


def test_a_peer_that_stops_reading_cannot_block_a_send_past_its_deadline(pair):
    trusted, _ = pair
    start = time.monotonic()
    with pytest.raises(WireTimeout):
        trusted.send({}, {"big": np.zeros(2**22)}, deadline=start + 0.5)  # 32 MB into a pipe nobody reads
    assert time.monotonic() - start < 5


def test_arrays_of_other_dtypes_are_not_sent():
    with pytest.raises(WireError, match="dtype complex128"):
        encode({}, {"z": np.zeros(2, dtype=complex)})
