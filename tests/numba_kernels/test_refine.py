"""The refinement of a finished parse (numba_kernels.refine) against its naive reference."""

from __future__ import annotations

import numpy as np
import pytest

from numba_kernels.refine import _dissolve
from numba_kernels.select import _savings_select
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


@pytest.mark.parametrize("pool", [2, 4096])
def test_dissolve_matches_the_naive_reference(pool):
    """Exactly the naive reference's parse on greedy parses of varied data; valid, and never a smaller gain."""
    moved = 0
    for s in CASES + _PHRASES:
        arr = np.array(s, np.int64)
        sa, iv = _suffix_data(arr)
        occ, lengths, src, gain, _, _ = _savings_select(arr, 0, pool, 1, sa, iv, TIERS, NO_BAN, -1)
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
