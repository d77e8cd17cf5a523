"""Suffix array, LCP and LCP intervals against the naive references."""

from __future__ import annotations

import numpy as np
import pytest

from numba_kernels.suffix import _NAIVE_LIMIT, lcp_array, lcp_intervals, repeat_suffix_array, suffix_array
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


@pytest.mark.parametrize("n", range(_NAIVE_LIMIT - 3, _NAIVE_LIMIT + 4))
def test_suffix_array_on_both_sides_of_the_direct_sort_limit(n):
    """Below ``_NAIVE_LIMIT`` suffixes SA-IS sorts directly; at and above it, by induced sorting."""
    rng = np.random.default_rng(n)
    for s in (
        [4] * n,
        ([2, 1] * n)[:n],
        ([1, 1, 0] * n)[:n],
        list(range(n, 0, -1)),
        rng.integers(0, 2, n).tolist(),
        rng.integers(0, 50_257, n).tolist(),
    ):
        assert suffix_array(np.array(s, np.int64)).tolist() == naive.suffix_array(s)


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


def _in_repeat(s: list[int]) -> list[bool]:
    """Naive: whether each position lies in a bigram that occurs twice."""
    grams = [tuple(s[i : i + 2]) for i in range(len(s) - 1)]
    repeated = [grams.count(g) >= 2 for g in grams]
    return [(i > 0 and repeated[i - 1]) or (i < len(grams) and repeated[i]) for i in range(len(s))]


SPARSE_CASES = [
    [9, 1, 2, 8, 7, 1, 2, 6],  # one repeated bigram among unique tokens
    list(range(50)),  # no repeat at all: one collapsed run
    [1, 2, 3, 4, 100, 1, 2, 3, 4, 101, 102, 1, 2, 3, 4],
    [5, 5, 5, 9, 8, 5, 5, 5, 7],  # a run of one id between unique tokens
    [3, 1, 2, 3, 1, 4, 2, 3, 1],  # repeated tokens whose bigrams do not repeat
]


def _sparse_cases(count: int, seed: int) -> list[list[int]]:
    """Repeats planted among mostly unique ids, so some positions can and some cannot be in a repeat."""
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(count):
        unit = rng.integers(0, 4, int(rng.integers(2, 6))).tolist()
        s: list[int] = []
        for _ in range(int(rng.integers(1, 6))):
            noise = rng.integers(100, 10_000, int(rng.integers(0, 6))).tolist()
            s += noise + unit[: int(rng.integers(1, len(unit) + 1))]
        cases.append(s)
    return cases


@pytest.mark.parametrize("s", CASES + SPARSE_CASES + _sparse_cases(80, seed=3))
def test_repeat_suffix_array_keeps_every_repeat(s):
    """Same LCP intervals of length >= 2 as the full arrays; positions in no repeated bigram are cut out."""
    sa, lcp = repeat_suffix_array(np.array(s, np.int64))
    positions = sa.tolist()
    assert len(set(positions)) == len(positions)
    live = _in_repeat(s)
    # every position that can be in a repeat is there, plus only the first position of each run that cannot
    runs = [i for i in range(len(s)) if not live[i] and (i == 0 or live[i - 1])]
    assert sorted(positions) == sorted([i for i in range(len(s)) if live[i]] + runs)
    for i in range(1, len(positions)):
        k = int(lcp[i])
        a, b = s[positions[i - 1] :], s[positions[i] :]
        assert a[:k] == b[:k]
        if k >= 2 or naive_common(a, b) >= 2:
            assert k == naive_common(a, b)
    got = set()
    ell, _, lb, rb, pmin, pmax = lcp_intervals(sa, lcp, min_lcp=2)
    for i in range(len(ell)):
        occ = sorted(positions[lb[i] : rb[i] + 1])
        assert (pmin[i], pmax[i]) == (occ[0], occ[-1])
        got.add((int(ell[i]), tuple(occ)))
    assert got == naive.lcp_intervals(s, 2)
    if all(live):
        assert positions == naive.suffix_array(s)


def naive_common(a: list[int], b: list[int]) -> int:
    k = 0
    while k < min(len(a), len(b)) and a[k] == b[k]:
        k += 1
    return k


def test_repeat_suffix_array_collapses_repeat_free_input():
    sa, lcp = repeat_suffix_array(np.random.default_rng(0).permutation(5000))
    assert sa.tolist() == [0] and lcp.tolist() == [0]


def _long_inputs() -> list[np.ndarray]:
    """Long records whose repeats are sparse, dense or absent."""
    rng = np.random.default_rng(11)
    planted = rng.integers(0, 200_000, 60_000)
    for start in rng.integers(0, 59_990, 400):  # copies of a few short phrases among random ids
        k = int(rng.integers(2, 7))
        planted[start : start + k] = [7, 8, 9, 10, 11, 12][:k]
    sentinels = rng.integers(0, 3, 40_000)
    sentinels[::5] = -np.arange(1, 8001)  # distinct negatives, as the savings rounds' compacted records have
    return [
        rng.permutation(50_000),
        rng.integers(0, 50_000, 70_000),
        rng.integers(0, 4, 30_000),
        np.full(20_000, 3),
        planted,
        sentinels,
        rng.integers(-(1 << 40), 1 << 40, 20_000) // (1 << 28) * (1 << 28),  # wide values: ranks are packed
        # Past _SORT_LIMIT (131072): hashed, by one table (few distinct bigrams, or a table that grows) or by
        # hash partitions (many), after the pre-filter.
        rng.permutation(200_000),
        rng.integers(0, 50_000, 150_000),
        rng.integers(0, 4, 140_000),
        np.resize(np.tile(rng.integers(0, 50_000, 60), 2) + rng.integers(0, 2, 120), 140_000),
        np.concatenate([rng.integers(0, 120, 140_000), planted]),
        np.concatenate([rng.integers(-(1 << 40), 1 << 40, 140_000), [5, 6, 5, 6]]),
        # 12K bigrams seen once before the table grows and once after: counts must survive the rehash
        np.concatenate([once := rng.integers(0, 1 << 20, 12_000), rng.integers(0, 2, 120_000) + (1 << 21), once]),
        # many unique bigrams (most dropped by the pre-filter, some kept with a repeated one in their cell) among
        # many repeated ones
        np.concatenate([rng.permutation(100_000) + 1000, np.tile(rng.integers(0, 1000, 20_000), 2)]),
    ]


@pytest.mark.parametrize("index", range(15))
def test_repeat_suffix_array_filter_on_long_inputs(index):
    """Both filters (from the ranks, or hashed) keep exactly the positions in a repeated bigram (numpy reference)."""
    s = _long_inputs()[index]
    pairs = np.stack([s[:-1], s[1:]], axis=1)
    _, inverse, counts = np.unique(pairs, axis=0, return_inverse=True, return_counts=True)
    repeated = counts[inverse.ravel()] >= 2
    live = np.zeros(s.size, bool)
    live[:-1] |= repeated
    live[1:] |= repeated
    runs = np.flatnonzero(~live & np.concatenate([[True], live[:-1]]))
    sa, lcp = repeat_suffix_array(s)
    assert np.array_equal(np.sort(sa), np.sort(np.concatenate([np.flatnonzero(live), runs])))
    if live.all():
        assert np.array_equal(sa, suffix_array(s))
    # Adjacent suffixes agree on their stated common prefix (spot-checked).
    for i in range(1, sa.size, max(1, sa.size // 500)):
        k = int(lcp[i])
        assert np.array_equal(s[sa[i - 1] : sa[i - 1] + k], s[sa[i] : sa[i] + k])


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
