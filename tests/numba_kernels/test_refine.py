"""The refinement of a finished parse (numba_kernels.refine) against its naive reference."""

from __future__ import annotations

import numpy as np
import pytest

from numba_kernels.refine import (
    _best_move,
    _dissolve,
    _family_value,
    _occurrences,
    _reparse,
    _run_family,
    _with_run_family,
)
from numba_kernels.select import _savings_select
from numba_kernels.suffix import _repeat_suffix_array
from tests import naive
from tests.numba_kernels.test_select import CASES, NO_BAN, TIERS, _check_parse, _random_cases, _suffix_data


def _parse_of(entries: list[tuple[int, list[int]]], n: int):
    """``(occ, entry_len, entry_src, entry_gain)`` of a parse given as ``(length, starts)`` per entry."""
    occ = np.full(n, -1, np.int32)
    for e, (_, starts) in enumerate(entries):
        occ[starts] = e
    lengths = np.array([length for length, _ in entries], np.int64)
    src = np.array([starts[0] for _, starts in entries], np.int64)
    gain = np.array([(length - 1) * len(starts) - (length + 1) for length, starts in entries], np.int64)
    return occ, lengths, src, gain


def _entries_of(occ, entry_len) -> list[tuple[int, list[int]]]:
    return [(int(entry_len[e]), np.flatnonzero(occ == e).tolist()) for e in range(len(entry_len))]


def _split_case():
    """H (3 tokens) + R (17 tokens) as one entry used twice, H alone 4 more times: ``(s, entries, parse)``."""
    h, rest = [1, 2, 3], list(range(10, 27))
    s = h + rest + [90] + h + [91] + h + [92] + h + rest + [93] + h + [94] + h
    before = [(20, [0, 26]), (3, [21, 25, 47, 51])]
    return s, before, _parse_of(before, len(s))


def test_a_long_entry_splits_at_a_piece_used_more_often():
    """The html case: 'H' (3 tokens) is used 4 times alone and twice at the head of a 20-token entry.

    Splitting the long entry into H + its 17-token rest: H saves 2 per use instead of 3 inside the long
    entry (-2 over its 2 uses), the definition gets 3 tokens shorter (+3): one token in total.
    """
    s, _, (occ, lengths, src, gain) = _split_case()
    occ, lengths, src, gain = _dissolve(np.array(s, np.int64), occ, lengths, src, gain, 64, -1)
    assert _entries_of(occ, lengths) == [(3, [0, 21, 25, 26, 47, 51]), (17, [3, 29])]
    assert src.tolist() == [0, 3]
    assert gain.tolist() == [2 * 6 - 4, 16 * 2 - 18]
    assert gain.sum() == (19 * 2 - 21) + (2 * 4 - 4) + 1


def test_an_entry_no_piece_serves_better_is_kept():
    """Splitting pays only when the piece is longer than the long entry's use count: 3 uses of H + rest do not."""
    h = [1, 2, 3]
    rest = list(range(10, 27))
    s = (h + rest + [90]) * 3 + h + [91] + h
    entries = [(20, [0, 21, 42]), (3, [63, 67])]
    occ, lengths, src, gain = _parse_of(entries, len(s))
    out = _dissolve(np.array(s, np.int64), occ.copy(), lengths, src, gain, 64, -1)
    assert _entries_of(out[0], out[1]) == entries
    assert out[3].tolist() == gain.tolist()


def test_no_room_in_the_pool_means_no_new_entry():
    """Dissolving E into an entry and a new gap entry needs one more slot than E frees."""
    s, before, (occ, lengths, src, gain) = _split_case()
    out = _dissolve(np.array(s, np.int64), occ, lengths, src, gain, 2, -1)
    assert _entries_of(out[0], out[1]) == [(3, [0, 21, 25, 26, 47, 51]), (17, [3, 29])]  # 2 live: fits
    _, _, (occ, lengths, src, gain) = _split_case()
    out = _dissolve(np.array(s, np.int64), occ, lengths, src, gain, 1, -1)
    assert _entries_of(out[0], out[1]) == before


def test_a_zero_budget_leaves_the_parse_alone():
    """Past its work budget the refinement stops and leaves the remaining entries as they were."""
    s, before, (occ, lengths, src, gain) = _split_case()
    out = _dissolve(np.array(s, np.int64), occ, lengths, src, gain, 64, 0)
    assert _entries_of(out[0], out[1]) == before


_PHRASES = [c for c in _random_cases(300, seed=11, max_n=120) if len(c) >= 8]


def _greedy_parses(pool: int):
    """``(s, arr, (occ, entry_len, entry_src, entry_gain))``: the savings greedy's parse of every test case."""
    for s in CASES + _PHRASES:
        arr = np.array(s, np.int64)
        sa, iv = _suffix_data(arr)
        yield s, arr, _savings_select(arr, 0, pool, 1, sa, iv, TIERS, NO_BAN, -1)[:4]


@pytest.mark.parametrize("pool", [2, 4096])
def test_dissolve_matches_the_naive_reference(pool):
    """Exactly the naive reference's parse on greedy parses of varied data; valid, and never a smaller gain."""
    moved = 0
    for s, arr, (occ, lengths, src, gain) in _greedy_parses(pool):
        before = _entries_of(occ, lengths)
        expected = naive.dissolve(s, before, pool)
        out = _dissolve(arr, occ.copy(), lengths, src, gain, pool, -1)
        assert _entries_of(out[0], out[1]) == expected, s
        _check_parse(s, *out)
        assert len(out[1]) <= pool
        assert out[3].sum() >= gain.sum()
        moved += out[3].sum() > gain.sum()
    # the move finds something on this data, so a refinement that did nothing would fail here
    assert moved >= {2: 5, 4096: 12}[pool], moved  # 8 (pool 2) and 19 (pool 4096) of 460 here


# ----------------------------------------------------------------- re-placing a dictionary, run families


@pytest.mark.parametrize("pool", [4096])
def test_reparse_matches_the_naive_reference(pool):
    """The optimal placement of a greedy parse's own dictionary: the naive DP's, never a smaller gain."""
    improved = 0
    for s, arr, (_occ, lengths, src, gain) in _greedy_parses(pool):
        if len(lengths) == 0:
            continue
        definitions = [tuple(s[a : a + b]) for a, b in zip(src.tolist(), lengths.tolist(), strict=True)]
        r_occ, r_len, r_src, r_gain, ok = _reparse(arr, *_repeat_suffix_array(arr), lengths, src, -1)
        assert ok
        kept = naive.reparse(s, definitions)
        assert _entries_of(r_occ, r_len) == kept, s
        if r_len.size:
            _check_parse(s, r_occ, r_len, r_src, r_gain)
        assert r_gain.sum() >= gain.sum()
        improved += r_gain.sum() > gain.sum()
    assert improved >= 5, improved


def test_reparse_drops_an_entry_that_stops_paying():
    """'1 2' used twice saves 1 * 2 - 3 < 0 once '1 2 3 4' takes its three places: it leaves, the rest stays."""
    s = [1, 2, 3, 4, 9, 1, 2, 3, 4, 8, 1, 2, 3, 4, 7, 1, 2, 6, 1, 2]
    arr = np.array(s, np.int64)
    r_occ, r_len, r_src, r_gain, ok = _reparse(
        arr, *_repeat_suffix_array(arr), np.array([2, 4], np.int64), np.array([15, 0], np.int64), -1
    )
    assert ok
    assert _entries_of(r_occ, r_len) == [(4, [0, 5, 10])] == naive.reparse(s, [(1, 2), (1, 2, 3, 4)])
    assert r_src.tolist() == [0] and r_gain.tolist() == [3 * 3 - 5]


def test_reparse_reports_a_budget_it_ran_out_of():
    """'1 2 3' occurs three times: a budget of 3 occurrences suffices, 2 does not."""
    s = np.array([1, 2, 3, 1, 2, 3, 1, 2, 3], np.int64)
    arrays = _repeat_suffix_array(s)
    assert _reparse(s, *arrays, np.array([3], np.int64), np.array([0], np.int64), -1)[4]
    assert _reparse(s, *arrays, np.array([3], np.int64), np.array([0], np.int64), 3)[4]
    assert not _reparse(s, *arrays, np.array([3], np.int64), np.array([0], np.int64), 2)[4]


def _naive_occurrences(s: list[int], lengths: list[int], sources: list[int]) -> list[list[int]]:
    """For each position, the entries whose text starts there, in index order."""
    texts = [s[a : a + b] for a, b in zip(sources, lengths, strict=True)]
    return [[j for j, t in enumerate(texts) if s[p : p + len(t)] == t] for p in range(len(s))]


@pytest.mark.parametrize("seed", range(6))
def test_occurrences_lists_every_overlapping_occurrence(seed):
    """Against a scan of every position: overlaps, nested entries, and sources outside the suffix array.

    The records mix a few repeated pieces with a repeat-free stretch (ids 100+, collapsed out of the suffix
    array), and one entry is taken from that stretch: it occurs only at its source.
    """
    rng = np.random.default_rng(seed)
    pieces = [rng.integers(0, 4, size=int(rng.integers(2, 6))).tolist() for _ in range(4)]
    s = [t for _ in range(12) for t in pieces[int(rng.integers(0, 4))]] + list(range(100, 120)) + [1, 1, 1, 1]
    arr = np.array(s, np.int64)
    sa, lcp = _repeat_suffix_array(arr)
    assert sa.size < arr.size  # the repeat-free stretch is collapsed: the single-occurrence path is exercised
    lengths, sources = [], []
    for _ in range(8):
        length = int(rng.integers(2, 7))
        sources.append(int(rng.integers(0, 40)))
        lengths.append(length)
    lengths += [3, 2, 2]
    sources += [s.index(105), len(s) - 2, len(s) - 4]  # from the stretch; '1 1' at the end overlaps itself
    start, entry = _occurrences(
        sa, lcp, _rank(sa, arr.size), np.array(lengths, np.int64), np.array(sources, np.int64), -1
    )
    got = [entry[start[p] : start[p + 1]].tolist() for p in range(len(s))]
    assert got == _naive_occurrences(s, lengths, sources)
    assert start[-1] == sum(len(x) for x in got)
    bounded = _occurrences(sa, lcp, _rank(sa, arr.size), np.array(lengths), np.array(sources), start[-1] - 1)
    assert bounded[0].size == 0  # one occurrence over the budget: nothing listed


def _rank(sa: np.ndarray, n: int) -> np.ndarray:
    rank = np.full(n, -1, np.int32)
    rank[sa] = np.arange(sa.size)
    return rank


def test_family_value_is_the_exhaustive_tiling():
    """The knapsack objective of a run family equals trying every tiling of every run in the histogram."""
    t, nl = 7, 9
    rng = np.random.default_rng(5)
    pure = np.array([2, 3, 4, 5, 7, 8], np.int64)
    pre_cls = np.array([0, 0, 0], np.int64)
    pre_len = np.array([1, 3, 7], np.int64)
    pat_cls = np.array([0, 0, 0, -1, -1], np.int64)
    pat_r = np.array([3, 7, 11, 4, 15], np.int64)
    pat_count = np.array([5, 9, 4, 2, 3], np.int64)
    best = np.empty(33, np.int64)
    picked = np.empty(9, np.int64)
    for _ in range(40):
        chosen = rng.random(9) < 0.35
        family = [(t,) * int(k) for k, c in zip(pure, chosen[:6], strict=True) if c]
        family += [(nl,) + (t,) * int(k) for k, c in zip(pre_len, chosen[6:], strict=True) if c]
        expected = sum(
            int(n) * naive.run_tiling(nl if c == 0 else None, int(r), family, t)
            for c, r, n in zip(pat_cls, pat_r, pat_count, strict=True)
        ) - sum(1 + len(d) for d in family)
        got = _family_value(pure, pre_cls, pre_len, chosen, pat_cls, pat_r, pat_count, best, picked)
        assert got == expected, family


@pytest.mark.parametrize("seed", range(4))
def test_best_move_is_the_best_single_toggle(seed):
    """The move the family search takes: the first toggle of largest value, by calling _family_value per toggle.

    Two prefix classes and unclassed runs, random families (prefix entries chosen and not), so both the add
    and the remove branch of a prefix entry are compared, including entries no run is long enough for.
    """
    rng = np.random.default_rng(seed)
    pure = np.array([2, 3, 4, 6, 8], np.int64)
    pre_cls = np.array([0, 0, 0, 1, 1, 1, 1], np.int64)
    pre_len = np.array([1, 3, 7, 2, 4, 9, 40], np.int64)
    pat_cls = np.array([0, 0, 0, 1, 1, -1, -1, 1], np.int64)
    pat_r = np.array([3, 7, 11, 4, 12, 4, 15, 30], np.int64)
    n = pure.size + pre_len.size
    best = np.empty(33, np.int64)
    picked = np.empty(n, np.int64)
    moved = 0
    for _ in range(30):
        pat_count = rng.integers(1, 12, size=pat_r.size).astype(np.int64)
        chosen = rng.random(n) < 0.4
        args = (pure, pre_cls, pre_len)
        rest = (pat_cls, pat_r, pat_count, best, picked)
        values = []
        for e in range(n):
            flip = chosen.copy()
            flip[e] = not flip[e]
            values.append(_family_value(*args, flip, *rest))
        current = _family_value(*args, chosen.copy(), *rest)
        top = max(values)
        expected = (values.index(top), top) if top > current else (-1, current)
        before = chosen.copy()
        assert _best_move(*args, chosen, *rest, np.empty(pat_r.size, np.int64)) == expected
        assert chosen.tolist() == before.tolist()  # toggles are undone
        moved += expected[0] >= pure.size
    assert moved >= 5, moved  # prefix entries win often enough for their branch to be what is compared


def _indented(levels: list[int], t: int = 0, nl: int = 1) -> list[int]:
    """Lines of code: a newline, ``level`` run tokens, then a word of its own."""
    s: list[int] = []
    for i, level in enumerate(levels):
        s += [nl] + [t] * level + [100 + i]
    return s


def test_run_family_tiles_the_levels_from_shared_pieces():
    """Indentation levels 3, 7, 11, 15 (GPT-2 code: newline, then one token per space).

    Three entries cover all four levels: newline + 3 and newline + 7 start every line and one 8-token block
    covers the rest (11 = 3 + 8, 15 = 7 + 8), and the family the search picks saves at least that much.
    """
    levels = [3, 7, 11, 15, 11, 7, 11, 15, 15, 11, 7, 3, 7, 11, 15, 11, 7, 11, 15, 15] * 2
    s = np.array(_indented(levels), np.int64)
    lengths, sources = _run_family(s, 0)
    family = sorted(tuple(s[a : a + b].tolist()) for a, b in zip(sources, lengths, strict=True))
    for d in family:  # every entry is a run, or the newline and a run
        assert set(d[1:]) == {0} and d[0] in (0, 1)
    hist = {}
    for level in levels:
        hist[level] = hist.get(level, 0) + 1

    def value(fam):
        return sum(n * naive.run_tiling(1, r, fam, 0) for r, n in hist.items()) - sum(1 + len(d) for d in fam)

    shared = [(1,) + (0,) * 3, (1,) + (0,) * 7, (0,) * 8]
    assert value(family) >= value(shared) > 0


def test_with_run_family_improves_the_greedy_on_indentation_and_stays_valid():
    levels = [3, 7, 11, 15, 11, 7, 11, 15, 15, 11, 7, 3, 7, 11, 15, 11, 7, 11, 15, 15] * 3
    s = _indented(levels)
    arr = np.array(s, np.int64)
    sa, iv = _suffix_data(arr)
    occ, lengths, src, gain, _, _ = _savings_select(arr, 0, 4096, 1, sa, iv, TIERS, NO_BAN, -1)
    arrays = _repeat_suffix_array(arr)
    out = _with_run_family(arr, *arrays, occ.copy(), lengths, src, gain, 4096, -1)
    _check_parse(s, *out)
    assert out[3].sum() > gain.sum()
    # with no room for the family the parse comes back as it was
    same = _with_run_family(arr, *arrays, occ.copy(), lengths, src, gain, 1, -1)
    assert same[3].tolist() == gain.tolist()
