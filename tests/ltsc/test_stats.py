"""Tests for ltsc.stats: exact values, merge algebra, serialization."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ltsc.stats import LENGTH_BINS, REDUCTION_BINS, CompressionStats


def test_from_batch_exact_values():
    s = CompressionStats.from_batch([10, 4, 0], [6, 4, 0], [2, 0, 0], sources=["a", "b", "a"])
    assert s.records_out == 3
    assert s.records_in == 3
    assert s.tokens_in == 14
    assert s.tokens_out == 10
    assert s.squares_in == 116
    assert s.squares_out == 52
    assert s.dictionary_entries == 2
    assert s.records_compressed == 1
    assert s.max_length_in == 10 and s.max_length_out == 6
    assert s.token_reduction == pytest.approx(1 - 10 / 14)
    assert s.attention_reduction == pytest.approx(1 - 52 / 116)
    # Reduction 0.4 -> bin 8 of 20; reduction 0 -> bin 0; the empty record is not binned.
    expected = [0] * REDUCTION_BINS
    expected[8] = 1
    expected[0] = 1
    assert list(s.reduction_hist) == expected
    # Lengths 10 (bit length 4), 4 (bit length 3), 0 (bin 0).
    hist = [0] * LENGTH_BINS
    hist[4] += 1
    hist[3] += 1
    hist[0] += 1
    assert list(s.length_in_hist) == hist
    assert s.per_source["a"] == {
        "records_out": 2,
        "records_rejected": 0,
        "tokens_in": 10,
        "tokens_out": 6,
        "squares_in": 100,
        "squares_out": 36,
        "dictionary_entries": 2,
    }
    assert s.per_source["b"]["tokens_in"] == 4


def test_length_hist_powers_of_two_fall_on_lower_edge():
    s = CompressionStats.from_batch([1, 2, 3, 4, 1023, 1024], [1, 2, 3, 4, 1023, 1024], [0] * 6)
    h = s.length_in_hist
    assert (h[1], h[2], h[3], h[10], h[11]) == (1, 2, 1, 1, 1)


def test_rejects_and_counts_add_up():
    s = CompressionStats.from_batch([3], [3], [0]).merge(
        CompressionStats.from_rejects(["empty_text", "null_text", "empty_text"], sources=["x", "x", None])
    )
    assert s.records_in == 4
    assert s.records_out == 1
    assert s.records_rejected == 3
    assert s.reject_reasons == {"empty_text": 2, "null_text": 1}
    assert s.per_source["x"]["records_rejected"] == 2
    assert s.per_source[""]["records_rejected"] == 1


def test_zero_stats_ratios_are_zero():
    z = CompressionStats()
    assert z.token_reduction == 0.0
    assert z.attention_reduction == 0.0
    assert CompressionStats.merge_all([]) == z


@pytest.mark.parametrize(
    "kwargs",
    [
        {"records_out": -1},
        {"tokens_in": 1.5},
        {"records_out": True},
        {"reduction_hist": (0,) * 3},
        {"length_in_hist": (0,) * 5},
        {"records_rejected": 2, "reject_reasons": {"x": 1}},
        {"records_out": 1, "records_compressed": 2},
    ],
)
def test_bad_values_raise(kwargs):
    with pytest.raises(ValueError):
        CompressionStats(**kwargs)


@pytest.mark.parametrize(
    "args",
    [
        ([1, 2], [1], [0, 0]),
        ([-1], [1], [0]),
        ([[1]], [[1]], [[0]]),
    ],
)
def test_bad_batches_raise(args):
    with pytest.raises(ValueError):
        CompressionStats.from_batch(*args)


def test_float_lengths_raise_type_error():
    with pytest.raises(TypeError):
        CompressionStats.from_batch(np.array([1.0]), np.array([1.0]), np.array([0]))


_record = st.tuples(st.integers(0, 5000), st.integers(0, 100), st.sampled_from(["a", "b", "c"])).map(
    lambda t: (t[0], max(0, t[0] - t[1]), t[1] % 7, t[2])
)
_records = st.lists(_record, max_size=20)
_rejects = st.lists(st.tuples(st.sampled_from(["null_text", "empty_text", "too_long"]), st.sampled_from(["a", "d"])))


def _stats(records, rejects) -> CompressionStats:
    o = [r[0] for r in records]
    c = [r[1] for r in records]
    e = [r[2] for r in records]
    src = [r[3] for r in records]
    return CompressionStats.from_batch(o, c, e, sources=src).merge(
        CompressionStats.from_rejects([r[0] for r in rejects], sources=[r[1] for r in rejects])
    )


@settings(max_examples=60, deadline=None)
@given(_records, _records, _records, _rejects, _rejects)
def test_merge_is_associative_and_commutative(r1, r2, r3, j1, j2):
    a, b, c = _stats(r1, j1), _stats(r2, j2), _stats(r3, [])
    assert a.merge(b) == b.merge(a)
    assert a.merge(b).merge(c) == a.merge(b.merge(c))
    assert a.merge(CompressionStats()) == a


@settings(max_examples=60, deadline=None)
@given(_records, _records)
def test_merge_equals_stats_of_concatenation(r1, r2):
    assert _stats(r1, []).merge(_stats(r2, [])) == _stats(r1 + r2, [])


@settings(max_examples=40, deadline=None)
@given(_records, _rejects)
def test_dict_round_trip_through_json(records, rejects):
    s = _stats(records, rejects)
    d = json.loads(json.dumps(s.to_dict()))
    assert CompressionStats.from_dict(d) == s
    assert d["records_in"] == d["records_out"] + d["records_rejected"]
