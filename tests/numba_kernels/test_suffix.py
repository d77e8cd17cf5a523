"""Suffix array, LCP and LCP intervals against the naive references."""

from __future__ import annotations

import numpy as np
import pytest

from numba_kernels.suffix import lcp_array, lcp_intervals, suffix_array
from tests import naive

EDGE_CASES = [
    [],
    [7],
    [3, 3],
    [1, 2],
    [5] * 40,
    [1, 2] * 20,
    [1, 2, 3] * 13 + [1],
    [2, 1, 2, 1, 2, 1, 3],
    [0, -1, 0, -2, 0, -3],  # distinct negative sentinels never match
    list(range(30, 0, -1)),
]


def _random_cases(count: int, seed: int) -> list[list[int]]:
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(count):
        n = int(rng.integers(0, 80))
        alphabet = int(rng.integers(1, 6))
        cases.append(rng.integers(0, alphabet, n).tolist())
    return cases


def _wide_cases(count: int, seed: int) -> list[list[int]]:
    """Values whose span needs one, two or three radix digits, or a comparison sort (>= 2**33)."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(count):
        n = int(rng.integers(2, 90))
        scale = [1, 3_000, 5_000_000, 1 << 40][i % 4]
        symbols = rng.integers(-scale, scale + 1, int(rng.integers(1, 7)))
        cases.append(symbols[rng.integers(0, symbols.size, n)].tolist())
    return cases


CASES = EDGE_CASES + _random_cases(120, seed=1) + _wide_cases(40, seed=2)


@pytest.mark.parametrize("s", CASES)
def test_suffix_array_matches_naive(s):
    assert suffix_array(np.array(s, np.int64)).tolist() == naive.suffix_array(s)


def test_suffix_array_of_long_periodic_and_recursive_inputs():
    """SA-IS recursion depth grows with nested repeats; check a few thousand ids against the naive sort."""
    rng = np.random.default_rng(5)
    unit = rng.integers(0, 50_000, 7)
    for s in (
        np.tile(unit, 300),
        np.tile(np.concatenate([unit, unit[:3], [9]]), 150),
        rng.integers(0, 3, 2_000),
        np.concatenate([np.tile([4, 4, 5], 400), rng.integers(0, 50_257, 500)]),
    ):
        assert suffix_array(s.astype(np.int64)).tolist() == naive.suffix_array(s.tolist())


@pytest.mark.parametrize("s", CASES)
def test_lcp_matches_naive(s):
    sa = naive.suffix_array(s)
    assert lcp_array(np.array(s, np.int64), np.array(sa, np.int64)).tolist() == naive.lcp_array(s, sa)


@pytest.mark.parametrize("s", CASES)
@pytest.mark.parametrize("min_lcp", [1, 2, 3])
def test_lcp_intervals_are_exactly_the_right_maximal_repeats(s, min_lcp):
    arr = np.array(s, np.int64)
    sa = suffix_array(arr)
    ell, parent, lb, rb, pmin, pmax = lcp_intervals(sa, lcp_array(arr, sa), min_lcp=min_lcp)
    got = set()
    for i in range(len(ell)):
        positions = sorted(sa[lb[i] : rb[i] + 1].tolist())
        assert pmin[i] == positions[0] and pmax[i] == positions[-1]
        assert 0 <= parent[i] < ell[i]
        # every occurrence really starts with the same ell symbols
        first = s[positions[0] : positions[0] + ell[i]]
        assert all(s[p : p + ell[i]] == first for p in positions)
        got.add((int(ell[i]), tuple(positions)))
    assert got == naive.lcp_intervals(s, min_lcp)


def test_parent_length_is_the_enclosing_interval():
    # "abab$": intervals "ab" (positions 0, 2) with parent "b"? no: parent is the root or "b"-free.
    s = np.array([1, 2, 1, 2, 1, 2, 3], np.int64)
    sa = suffix_array(s)
    ell, parent, *_ = lcp_intervals(sa, lcp_array(s, sa), min_lcp=1)
    pairs = sorted(zip(ell.tolist(), parent.tolist(), strict=True))
    # "1"(3 occ) -> "12"(3) is not a separate node; nodes: "1 2 1 2"(len 4, parent 2), "1 2"(len 2, parent 0),
    # "2 1 2"(len 3, parent 1), "2"(len 1, parent 0)
    assert pairs == [(1, 0), (2, 0), (3, 1), (4, 2)]


def test_large_inputs_are_consistent():
    rng = np.random.default_rng(7)
    s = np.concatenate([rng.integers(0, 50, 3000), np.zeros(2000, np.int64), np.tile([4, 5, 6], 700)])
    sa = suffix_array(s)
    assert sorted(sa.tolist()) == list(range(len(s)))
    # consecutive suffixes are in strictly increasing lexicographic order, and lcp is exact
    lcp = lcp_array(s, sa)
    for i in range(1, len(s), 97):
        a, b = s[sa[i - 1] :], s[sa[i] :]
        k = int(lcp[i])
        assert np.array_equal(a[:k], b[:k])
        assert k == min(len(a), len(b)) or a[k] != b[k]
        assert k == len(a) or (k < len(b) and a[k] < b[k])


@pytest.mark.parametrize(
    ("bad", "error"),
    [(np.zeros((2, 2), np.int64), ValueError), (np.zeros(3, np.float64), TypeError)],
)
def test_wrappers_check_shape_and_dtype(bad, error):
    with pytest.raises(error):
        suffix_array(bad)


def test_lcp_wrapper_checks_shapes():
    with pytest.raises(ValueError, match="does not match"):
        lcp_array(np.zeros(3, np.int64), np.zeros(2, np.int64))
    with pytest.raises(ValueError, match="min_lcp"):
        lcp_intervals(np.zeros(2, np.int64), np.zeros(2, np.int64), min_lcp=0)
