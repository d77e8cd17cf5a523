"""How ``best`` (numba_kernels.codec._select) composes its parses."""

from __future__ import annotations

import numpy as np
import pytest

from numba_kernels import codec as K
from numba_kernels.refine import _with_run_family
from numba_kernels.select import _savings_run, _workspace
from numba_kernels.suffix import _lcp_intervals, _repeat_suffix_array

#: No banned positions: what ``_select`` passes to ``_savings_run`` outside the local search.
NO_BAN = np.zeros(0, np.int64)

NEWLINE, SPACE = 198, 220  # GPT-2's "\n" and " " (one token per space of indentation)


def _code_like(seed: int, lines: int, max_level: int) -> np.ndarray:
    """Lines of 1-4 words from a 12-word vocabulary, indented 4 spaces per level, the level drifting by -1..1."""
    rng = np.random.default_rng(seed)
    words = rng.integers(1000, 1040, 12)
    out: list[int] = []
    level = 0
    for _ in range(lines):
        level = max(0, min(max_level, level + int(rng.integers(-1, 2))))
        out += [NEWLINE] + [SPACE] * (4 * level) + list(rng.choice(words, int(rng.integers(1, 5))))
    return np.array(out, np.int64)


def _composed(w: np.ndarray, one_phase: bool, pool: int = 4096, search: int = 1):
    """``best`` spelled out stage by stage, with or without the one-phase parse (run to its end) and the search."""
    sa, lcp = _repeat_suffix_array(w)
    iv = _lcp_intervals(sa, lcp, 2)
    ws = _workspace(w.shape[0])
    occ, lens, src, gain, _, work = _savings_run(w, 0, pool, 1, sa, iv, K._BEST_TIERS, NO_BAN, -1, ws, True)
    best = K._refined(w, occ.copy(), lens, src, gain, pool)
    tiers = K._BEST_TIERS
    if one_phase:
        o_occ, o_len, o_src, o_gain, _, o_work = _savings_run(
            w, 0, pool, 1, sa, iv, K._SAVINGS_TIERS, NO_BAN, -1, ws, True
        )
        o_best = K._refined(w, o_occ.copy(), o_len, o_src, o_gain, pool)
        if o_gain.sum() >= gain.sum():
            occ, lens, src, gain, work, tiers = o_occ, o_len, o_src, o_gain, o_work, K._SAVINGS_TIERS
        if o_best[3].sum() >= best[3].sum():
            best = o_best
    s = K._search_step(w, 0, pool, 1, sa, iv, tiers, occ, lens, src, gain, work, ws, search, True, best)
    return _with_run_family(w, sa, lcp, s[0], s[1], s[2], s[3], pool, K._refine_budget(w))


def _runs(w: np.ndarray):
    """The two-phase run's work and the unbounded one-phase run's work on ``w``."""
    sa, lcp = _repeat_suffix_array(w)
    iv = _lcp_intervals(sa, lcp, 2)
    ws = _workspace(w.shape[0])
    two = _savings_run(w, 0, 4096, 1, sa, iv, K._BEST_TIERS, NO_BAN, -1, ws, True)
    one = _savings_run(w, 0, 4096, 1, sa, iv, K._SAVINGS_TIERS, NO_BAN, -1, ws, True)
    capped = _savings_run(w, 0, 4096, 1, sa, iv, K._SAVINGS_TIERS, NO_BAN, K._one_phase_budget(w), ws, True)
    assert two[4] > 0  # the long-repeat phase took something: without a rule, the one-phase run would happen
    return two[5], one[5], capped[5]


def _assert_best_is(w: np.ndarray, expected) -> None:
    got = K._select(w, K.STRATEGY_BEST, 0, 4096, 1, 1)
    assert np.array_equal(got[0], expected[0])
    assert np.array_equal(got[1], expected[1])
    assert got[3].sum() == expected[3].sum()


@pytest.mark.parametrize(
    ("seed", "lines", "max_level", "skipped", "gains"),
    [
        # 2009 tokens: the two-phase run scanned 12878 > 2n + 1024, the one-phase one would stay within 6n + 4096
        (10, 100, 8, True, (1553, 1543)),
        # 1314 tokens: the two-phase run within 2n + 1024, the one-phase run past 6n + 4096
        (3, 120, 5, False, (864, 861)),
    ],
)
def test_best_drops_the_one_phase_parse_on_indentation_heavy_code(seed, lines, max_level, skipped, gains):
    # Nested indentation runs make the one-phase greedy re-score its largest candidates after
    # nearly every pick (8-14 positions per token here, against 0.5-2.5 on prose and JSON).
    w = _code_like(seed, lines, max_level)
    two, one, capped = _runs(w)
    assert K._one_phase_pays(w, two) != skipped
    assert (one <= K._one_phase_budget(w)) == skipped  # each case exercises one rule alone
    assert (capped == -1) != skipped
    # Where the one-phase run is skipped from the start, so is the search (code-like records).
    without, with_one = _composed(w, False, search=int(not skipped)), _composed(w, True)
    assert not np.array_equal(without[0], with_one[0])  # the one-phase parse would have changed the result
    assert (without[3].sum(), with_one[3].sum()) == gains
    _assert_best_is(w, without)


@pytest.mark.parametrize(
    ("seed", "lines", "max_level", "gains"),
    [
        (0, 150, 6, (1536, 1557)),  # the search would have saved 21 tokens more
        (16, 100, 8, (1076, 1095)),
        (22, 150, 6, (2550, 2495)),  # ... or 55 fewer (the run family is re-chosen after it)
    ],
)
def test_best_skips_the_search_on_code_like_records(seed, lines, max_level, gains):
    """Where the two-phase run marks a record code-like, ``best`` is that parse refined, without the search."""
    w = _code_like(seed, lines, max_level)
    two, _, _ = _runs(w)
    assert not K._one_phase_pays(w, two)
    plain, searched = _composed(w, False, search=0), _composed(w, False, search=1)
    assert (plain[3].sum(), searched[3].sum()) == gains
    _assert_best_is(w, plain)
    wide = K._select(w, K.STRATEGY_BEST, 0, 4096, 1, 4)  # any width: still no search
    assert np.array_equal(wide[0], plain[0])


def test_best_keeps_the_one_phase_parse_within_its_budget():
    # Three units of 8 and 4 tokens: the long-repeat phase takes the 8-token ones first, the
    # one-phase greedy does better here and stays far within its budget.
    a, b, c = [10, 4, 2, 27, 17, 1, 7, 19], [28, 6, 23, 10], [19, 25, 11, 28, 26, 0, 2, 3]
    units = [a, a, a, b, [10], a, c, b, b, c, a, a, b, b, c, c, b, b]
    w = np.array([t for u in units for t in u], np.int64)
    two, one, _ = _runs(w)
    assert K._one_phase_pays(w, two) and 0 <= one <= K._one_phase_budget(w)
    without, with_one = _composed(w, False), _composed(w, True)
    assert (without[3].sum(), with_one[3].sum()) == (64, 68)
    _assert_best_is(w, with_one)


def test_best_compares_both_parses_where_the_two_phase_run_fills_the_pool():
    # Three symbols, a pool of 16: the long-repeat phase takes 14 entries, the pool fills up, and the
    # one-phase parse saves twice as much. The two-phase run's work (4.6 per token) would mark the
    # record code-like.
    w = np.random.default_rng(0).integers(0, 3, 2000).astype(np.int64)
    sa, lcp = _repeat_suffix_array(w)
    iv = _lcp_intervals(sa, lcp, 2)
    two = _savings_run(w, 0, 16, 1, sa, iv, K._BEST_TIERS, NO_BAN, -1, _workspace(w.shape[0]), True)
    assert two[4] == 14 and two[1].shape[0] == 16 and not K._one_phase_pays(w, two[5])
    without, with_one = _composed(w, False, 16), _composed(w, True, 16)
    assert (without[3].sum(), with_one[3].sum()) == (496, 1035)
    got = K._select(w, K.STRATEGY_BEST, 0, 16, 1, 1)
    assert np.array_equal(got[0], with_one[0])
    assert got[3].sum() == 1035


def _banned_around(occ: np.ndarray, lens: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """The search step's ban of the largest entry: a prefix count of the positions its occurrences cover."""
    j = int(np.argmax(gains))
    covered = np.zeros(occ.shape[0], np.int64)
    for p in np.flatnonzero(occ == j):
        covered[p : p + lens[j]] = 1
    return np.concatenate([[0], np.cumsum(covered)])


@pytest.mark.parametrize("seed", range(3))
def test_runs_sharing_a_workspace_match_runs_on_fresh_ones(seed):
    """``best``'s runs share one workspace, whose memo keeps each tier's initial queue over the record's own
    intervals: every run, bans included, gives what it gives on a workspace of its own."""
    w = _code_like(seed, 150, 5)
    sa, lcp = _repeat_suffix_array(w)
    iv = _lcp_intervals(sa, lcp, 2)
    shared = _workspace(w.shape[0])
    first = _savings_run(w, 0, 4096, 1, sa, iv, K._BEST_TIERS, NO_BAN, -1, shared, True)
    ban = _banned_around(first[0], first[1], first[3])
    runs = [
        (K._SAVINGS_TIERS, NO_BAN),
        (K._BEST_TIERS, ban),
        (K._SAVINGS_TIERS, ban),
        (K._BEST_TIERS, NO_BAN),
    ]
    for tiers, banned in runs:
        got = _savings_run(w, 0, 4096, 1, sa, iv, tiers, banned, -1, shared, True)
        fresh = _savings_run(w, 0, 4096, 1, sa, iv, tiers, banned, -1, _workspace(w.shape[0]), True)
        for a, b in zip(got, fresh, strict=True):
            assert np.array_equal(a, b)
    assert len(first[1]) > 10 and first[4] > 0  # both tiers placed entries
    meta = shared[5][3]
    assert sorted(meta[:2, 0].tolist()) == [2, 8]  # both tiers' queues were kept ...
    assert meta[:2, 1].min() > 0  # ... as sorted runs
    assert meta[2, 0] == 1  # and the children lists of the deferring tier
