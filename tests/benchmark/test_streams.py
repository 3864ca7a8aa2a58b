"""Streams and motifs: the registered v1 streams match their spec, and their data is pinned."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest

from motifbench.registry import STREAMS
from motifbench.streams import DT, MEMORY_GAP_FAMILY, STREAM_FAMILIES, TAU, Motif, Stream, StreamSpec

# name: (n_motifs, d_out, T, kind)
SPEC = {
    "smoke-v1": (3, 1, 25, "smooth"),
    "smooth10-v1": (10, 2, 100, "smooth"),
    "steps10-v1": (10, 1, 100, "steps"),
    "smooth50-v1": (50, 2, 100, "smooth"),
}

# PINNED: STREAMS[name].build(0).content_hash. If one of these fails, the generated data of a
# released stream changed. Do not just update the literal: a change of generated data (or of
# timing, or of the hashing) must bump the stream's version (name-vN -> name-vN+1) and pin
# the new stream's hash here, so that results recorded on the old data stay comparable.
PINNED_HASHES = {
    "smoke-v1": "95d3265e0467e7f0",
    "smooth10-v1": "db037925f67d96ea",
    "steps10-v1": "0fbe4832e06d2607",
    "smooth50-v1": "edd4d2267cfdaf49",
    "birdsong-v1": "71f95d300e5a9935",
    "elise-v1": "14cd14017909fdfa",
    "gestures10-v1": "7f80c93663b9b1a6",
    "memgap2-v1": "592f23ab1dbffb04",
    "memgap5-v1": "1f801aeb4be13c24",
    "memgap10-v1": "8476e7e580d8acf3",
    "memgap20-v1": "37ebe4d6714fde8c",
    "memgap40-v1": "1623c4f6bda3e28c",
}


@lru_cache(maxsize=None)
def built(name: str, seed: int = 0) -> Stream:
    return STREAMS[name].build(seed)


def test_every_registered_stream_is_specified_and_pinned():
    missing = set(STREAMS) - set(PINNED_HASHES)
    assert not missing, f"pin the content hash (and spec) of new streams: {sorted(missing)}"
    assert set(SPEC) <= set(STREAMS)


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_every_registered_stream_builds_with_seed_0(name):
    stream = built(name)
    assert isinstance(stream, Stream)
    assert stream.name == name == STREAMS[name].name
    assert stream.seed == 0
    assert len(stream.motifs) == STREAMS[name].n_motifs
    assert stream.tier == STREAMS[name].tier and stream.tier in {"smoke", "standard", "scale"}
    assert stream.description


@pytest.mark.parametrize("name", sorted(SPEC))
def test_stream_shape_and_timing_match_spec(name):
    n_motifs, d_out, n_steps, _ = SPEC[name]
    stream = built(name)
    assert len(stream.motifs) == n_motifs
    assert stream.d_out == d_out
    assert [m.motif_id for m in stream.motifs] == list(range(n_motifs))
    for m in stream.motifs:
        assert m.target.shape == (n_steps, d_out)
        assert m.n_steps == n_steps
        assert m.tau == pytest.approx(0.01)
        assert m.dt == pytest.approx(0.002)  # dt = tau / 5
    assert TAU == pytest.approx(0.01) and DT == pytest.approx(TAU / 5)


@pytest.mark.parametrize("name", sorted(SPEC))
def test_targets_are_float32_read_only_unit_peak(name):
    for m in built(name).motifs:
        assert m.target.dtype == np.float32
        assert not m.target.flags.writeable
        with pytest.raises(ValueError):
            m.target[0, 0] = 0.5
        assert abs(float(np.abs(m.target).max()) - 1.0) <= 1e-3
        assert np.isfinite(m.target).all()


@pytest.mark.parametrize("name", [n for n, s in SPEC.items() if s[3] == "smooth"])
def test_smooth_motifs_start_and_end_at_zero(name):
    for m in built(name).motifs:
        assert np.abs(m.target[0]).max() <= 1e-3, m.motif_id
        assert np.abs(m.target[-1]).max() <= 1e-3, m.motif_id


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_step_motifs_are_piecewise_constant_with_3_to_8_jumps(seed):
    for m in built("steps10-v1", seed).motifs:
        x = m.target[:, 0]
        jumps = np.flatnonzero(np.diff(x) != 0)
        assert 3 <= len(jumps) <= 8, (m.motif_id, len(jumps))
        assert x[0] == 0.0 and x[-1] == 0.0
        # every jump is a real jump (>= 0.2 before scaling to unit peak), never a wobble
        assert np.abs(np.diff(x)[jumps]).min() >= 0.2
        # segments are at least 5 samples long
        bounds = np.concatenate([[0], jumps + 1, [len(x)]])
        assert np.diff(bounds).min() >= 5
        # few distinct levels: constant within segments
        assert len(np.unique(x)) <= len(jumps) + 1


@pytest.mark.parametrize("name", sorted(SPEC))
def test_same_seed_same_content_different_seed_different(name):
    a = STREAMS[name].build(0)
    b = STREAMS[name].build(0)
    assert a.content_hash == b.content_hash == built(name).content_hash
    for ma, mb in zip(a.motifs, b.motifs):
        np.testing.assert_array_equal(ma.target, mb.target)
    other = built(name, 1)
    assert other.content_hash != a.content_hash
    assert not np.array_equal(other.motifs[0].target, a.motifs[0].target)


def test_streams_with_one_seed_differ_between_names():
    hashes = {built(name).content_hash for name in SPEC}
    assert len(hashes) == len(SPEC)
    # smooth10 and smooth50 share a generator shape but not their data
    assert not np.array_equal(built("smooth10-v1").motifs[0].target, built("smooth50-v1").motifs[0].target)


@pytest.mark.parametrize("name", sorted(PINNED_HASHES))
def test_content_hash_is_pinned(name):
    # see PINNED_HASHES: a failure here means the data changed -> bump the stream version
    h = built(name).content_hash
    assert len(h) == 16 and all(c in "0123456789abcdef" for c in h)
    assert h == PINNED_HASHES[name]


def _motif(motif_id: int, d_out: int = 1, n_steps: int = 6, scale: float = 1.0) -> Motif:
    return Motif(motif_id, scale * np.sin(np.linspace(0, 3, n_steps * d_out)).reshape(n_steps, d_out))


def _stream(motifs, name="test-v1", seed=0) -> Stream:
    return Stream(name, seed, tuple(motifs), "test", "none", "smoke")


def test_content_hash_changes_with_any_target_value():
    base = _stream([_motif(0), _motif(1)])
    same = _stream([_motif(0), _motif(1)])
    assert base.content_hash == same.content_hash
    changed = _stream([_motif(0), _motif(1, scale=0.999)])
    assert changed.content_hash != base.content_hash
    assert _stream([_motif(0), _motif(1)], seed=1).content_hash != base.content_hash
    assert _stream([_motif(0), _motif(1)], name="test-v2").content_hash != base.content_hash


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_motif_copies_its_target(dtype):
    source = np.array([[0.0], [1.0], [0.5]], dtype=dtype)
    m = Motif(0, source)
    source[1, 0] = 7.0
    assert m.target[1, 0] == 1.0
    assert source.flags.writeable  # the caller's array is left alone


@pytest.mark.parametrize("value", [0.0, 0.5, -1.0])
def test_motif_rejects_constant_target(value):
    with pytest.raises(ValueError, match="constant"):
        Motif(0, np.full((10, 2), value))


@pytest.mark.parametrize("value", [0.3, 0.7])
def test_motif_rejects_constant_target_not_exact_in_binary(value):
    with pytest.raises(ValueError, match="constant"):
        Motif(0, np.full((10, 2), value))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_motif_rejects_non_finite_target(bad):
    target = np.sin(np.linspace(0, 3, 10))[:, None]
    target[4, 0] = bad
    with pytest.raises(ValueError):
        Motif(0, target)


@pytest.mark.parametrize("shape", [(10,), (1, 3), (10, 0), (2, 3, 4)])
def test_motif_rejects_bad_shapes(shape):
    target = np.arange(int(np.prod(shape)), dtype=float).reshape(shape)
    with pytest.raises(ValueError):
        Motif(0, target)


def test_motif_accepts_minimal_target():
    m = Motif(0, [[0.0], [1.0]])
    assert m.target.shape == (2, 1) and m.target.dtype == np.float32


def _spec(targets) -> StreamSpec:
    return StreamSpec("bad-v1", "test", "smoke", len(targets), lambda rng: targets)


def test_stream_build_rejects_constant_target():
    good = np.sin(np.linspace(0, 3, 10))[:, None]
    with pytest.raises(ValueError, match="constant"):
        _spec([good, np.zeros((10, 1))]).build(0)


def test_stream_build_rejects_target_constant_after_rounding():
    # varies only below the 4 rounding decimals: constant once built
    with pytest.raises(ValueError, match="constant"):
        _spec([0.3 + 1e-7 * np.arange(10.0)[:, None]]).build(0)


def test_stream_build_rejects_nan_and_1d_targets():
    good = np.sin(np.linspace(0, 3, 10))[:, None]
    with pytest.raises(ValueError):
        _spec([good, np.full((10, 1), np.nan)]).build(0)
    with pytest.raises(ValueError):
        _spec([good[:, 0]]).build(0)


def test_stream_build_of_a_valid_spec():
    good = np.sin(np.linspace(0, 3, 10))[:, None]
    stream = _spec([good, -good]).build(3)
    assert [m.motif_id for m in stream.motifs] == [0, 1]
    assert stream.seed == 3 and stream.d_out == 1


@pytest.mark.parametrize("ids", [(1, 0), (0, 2), (1, 2), (0, 0)])
def test_stream_rejects_motif_ids_that_are_not_0_to_k_minus_1(ids):
    with pytest.raises(ValueError, match="ids"):
        _stream([_motif(i) for i in ids])


def test_stream_accepts_ids_in_order():
    stream = _stream([_motif(0), _motif(1), _motif(2)])
    assert stream.d_out == 1 and len(stream.motifs) == 3


def test_stream_rejects_motifs_of_different_d_out():
    with pytest.raises(ValueError, match="d_out"):
        _stream([_motif(0, d_out=1), _motif(1, d_out=2)])


def test_stream_rejects_motifs_of_different_timing():
    slow = Motif(1, np.sin(np.linspace(0, 3, 10))[:, None], dt=0.004)
    with pytest.raises(ValueError, match="dt or tau"):
        _stream([_motif(0), slow])


def test_stream_rejects_no_motifs():
    with pytest.raises(ValueError):
        _stream([])


# ----------------------------------------------------------------------------------------------
# the memory-gap family (Jarne & Laje's interval axis)
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("gap", [2, 5, 10, 20, 40])
def test_a_memory_gap_motif_is_a_transient_a_silent_gap_and_a_response(gap):
    """2 tau (10 steps) of half-sine, gap x 5 steps of exact silence, 10 tau (50 steps) of response."""
    stream = built(f"memgap{gap}-v1")
    assert STREAM_FAMILIES[MEMORY_GAP_FAMILY][1][float(gap)] == stream.name
    for motif in stream.motifs:
        target = motif.target[:, 0]
        assert motif.target.shape == (10 + 5 * gap + 50, 1)
        assert np.abs(target[:10]).max() == pytest.approx(0.9848, abs=1e-4)  # the peak of a 10-sample half-sine
        assert not target[10 : 10 + 5 * gap].any()  # the gap is silent
        assert np.abs(target[10 + 5 * gap :]).max() == pytest.approx(1.0)  # the response, at unit peak


def test_the_family_differs_only_in_the_gap():
    short, long = built("memgap2-v1"), built("memgap40-v1")
    for a, b in zip(short.motifs, long.motifs):
        np.testing.assert_array_equal(a.target[:10], b.target[:10])
        np.testing.assert_array_equal(a.target[-50:], b.target[-50:])
