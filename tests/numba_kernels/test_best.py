"""How ``best`` (numba_kernels.codec._select) composes its parses."""

from __future__ import annotations

import numpy as np

from numba_kernels import codec as K
from numba_kernels.refine import _with_run_family
from numba_kernels.select import _savings_run, _workspace
from numba_kernels.suffix import _lcp_intervals, _repeat_suffix_array

NEWLINE, SPACE = 198, 220  # GPT-2's "\n" and " " (one token per space of indentation)


def _code_like(seed: int, lines: int) -> np.ndarray:
    """Lines of 1-4 words from a 12-word vocabulary, indented 4 spaces per level, the level drifting by -1..1."""
    rng = np.random.default_rng(seed)
    words = rng.integers(1000, 1040, 12)
    out: list[int] = []
    level = 0
    for _ in range(lines):
        level = max(0, min(5, level + int(rng.integers(-1, 2))))
        out += [NEWLINE] + [SPACE] * (4 * level) + list(rng.choice(words, int(rng.integers(1, 5))))
    return np.array(out, np.int64)


def _composed(w: np.ndarray, one_phase: bool):
    """``best`` spelled out stage by stage, with or without the one-phase parse."""
    sa, lcp = _repeat_suffix_array(w)
    iv = _lcp_intervals(sa, lcp, 2)
    ws = _workspace(w.shape[0])
    occ, lens, src, gain, _, work = _savings_run(w, 0, 4096, 1, sa, iv, K._BEST_TIERS, K._NO_BAN, -1, ws, True)
    best = K._refined(w, occ.copy(), lens, src, gain, 4096)
    tiers = K._BEST_TIERS
    if one_phase:
        o_occ, o_len, o_src, o_gain, _, o_work = _savings_run(
            w, 0, 4096, 1, sa, iv, K._SAVINGS_TIERS, K._NO_BAN, -1, ws, True
        )
        o_best = K._refined(w, o_occ.copy(), o_len, o_src, o_gain, 4096)
        if o_gain.sum() >= gain.sum():
            occ, lens, src, gain, work, tiers = o_occ, o_len, o_src, o_gain, o_work, K._SAVINGS_TIERS
        if o_best[3].sum() >= best[3].sum():
            best = o_best
    s = K._search_step(w, 0, 4096, 1, sa, iv, tiers, occ, lens, src, gain, work, ws, 1, True, best)
    return _with_run_family(w, s[0], s[1], s[2], s[3], 4096, K._refine_budget(w))


def test_best_gives_up_the_one_phase_parse_past_its_budget():
    # Nested indentation runs make the one-phase greedy re-score its largest candidates after
    # nearly every pick: 14 positions per token here, past the budget of 6 (+ 4096).
    w = _code_like(0, 100)
    sa, lcp = _repeat_suffix_array(w)
    iv = _lcp_intervals(sa, lcp, 2)
    args = (w, 0, 4096, 1, sa, iv, K._SAVINGS_TIERS, K._NO_BAN)
    ws = _workspace(w.shape[0])
    unbounded = _savings_run(*args, -1, ws, True)
    assert unbounded[5] > K._one_phase_budget(w)
    assert _savings_run(*args, K._one_phase_budget(w), ws, True)[5] == -1
    got = K._select(w, K.STRATEGY_BEST, 0, 4096, 1, 1)
    without, with_one = _composed(w, False), _composed(w, True)
    assert not np.array_equal(without[0], with_one[0])  # the one-phase parse would have changed the result
    assert np.array_equal(got[0], without[0])
    assert np.array_equal(got[1], without[1])
    assert got[3].sum() == without[3].sum() == 948  # 6 tokens more than with it (942)


def test_best_keeps_the_one_phase_parse_within_its_budget():
    # Three units of 8 and 4 tokens: the long-repeat phase takes the 8-token ones first, the
    # one-phase greedy does better here and stays far within its budget.
    a, b, c = [10, 4, 2, 27, 17, 1, 7, 19], [28, 6, 23, 10], [19, 25, 11, 28, 26, 0, 2, 3]
    units = [a, a, a, b, [10], a, c, b, b, c, a, a, b, b, c, c, b, b]
    w = np.array([t for u in units for t in u], np.int64)
    sa, lcp = _repeat_suffix_array(w)
    iv = _lcp_intervals(sa, lcp, 2)
    ws = _workspace(w.shape[0])
    assert _savings_run(w, 0, 4096, 1, sa, iv, K._BEST_TIERS, K._NO_BAN, -1, ws, True)[4] > 0  # phase 1 took some
    work = _savings_run(w, 0, 4096, 1, sa, iv, K._SAVINGS_TIERS, K._NO_BAN, -1, ws, True)[5]
    assert 0 <= work <= K._one_phase_budget(w)
    got = K._select(w, K.STRATEGY_BEST, 0, 4096, 1, 1)
    without, with_one = _composed(w, False), _composed(w, True)
    assert (without[3].sum(), with_one[3].sum()) == (64, 68)
    assert np.array_equal(got[0], with_one[0])
    assert got[3].sum() == 68
