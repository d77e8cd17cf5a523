"""Serialization of format v1: substitution (compress) and expansion (decompress).

Array contract: batches are flat ``int32`` values with ``int64`` offsets of
length ``records + 1`` (an Arrow list column's layout). Kernels never raise on
bad data: they return an error code and the offending position per record,
and the Python layer turns those into exceptions.

Reserved ids relative to the base ``B``: ``B`` opens the dictionary, ``B + 1``
closes it, ``B + 2 + k`` is meta-token ``k`` for ``0 <= k < pool``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from numba_kernels.config import JIT_OPTIONS
from numba_kernels.refine import _dissolve, _kept_index, _with_run_family
from numba_kernels.select import _paper_select, _savings_run, _workspace
from numba_kernels.suffix import _lcp_intervals, _repeat_suffix_array

STRATEGY_NONE = 0
STRATEGY_PAPER = 1
STRATEGY_SAVINGS = 2
STRATEGY_BEST = 3

# Error codes of the decoder; ltsc.errors maps them to messages.
OK = 0
E_MISSING_CLOSE = 1
E_UNDEFINED_META = 2
E_REDEFINED_META = 3
E_EMPTY_DEFINITION = 4
E_STRAY_OPEN = 5
E_STRAY_CLOSE = 6
E_META_OUT_OF_POOL = 7
E_NEGATIVE_ID = 8
E_SELF_REFERENCE = 9
E_EMPTY_DICTIONARY = 10
E_TOO_LARGE = 11
E_TOKEN_BEFORE_ENTRY = 12
E_META_OUTSIDE_DICTIONARY = 13

#: The paper's longest candidate length (its strategy's default ``max_len``).
PAPER_MAX_LEN = 8

_U = np.uint64


@njit(inline="always", **JIT_OPTIONS)
def _mix64(x):
    """SplitMix64's finalizer: a fast, well-distributed 64-bit bijection."""
    x = (x ^ (x >> _U(30))) * _U(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> _U(27))) * _U(0x94D049BB133111EB)
    return x ^ (x >> _U(31))


@njit(**JIT_OPTIONS)
def _record_seed(s, seed):
    """FNV-1a over the record's ids, mixed with the global seed: same record, same seed."""
    h = _U(0xCBF29CE484222325) ^ _mix64(_U(seed))
    for i in range(s.shape[0]):
        h = (h ^ _U(s[i] & 0xFFFFFFFF)) * _U(0x100000001B3)
    return _mix64(h ^ _U(s.shape[0]))


@njit(**JIT_OPTIONS)
def _meta_order(count, pool, state):
    """The first ``count`` values of a seeded random permutation of ``range(pool)`` (partial Fisher-Yates)."""
    perm = np.arange(pool)
    for j in range(count):
        state = state + _U(0x9E3779B97F4A7C15)
        r = np.int64(_mix64(state) % _U(pool - j))
        t = perm[j]
        perm[j] = perm[j + r]
        perm[j + r] = t
    return perm[:count]


@njit(**JIT_OPTIONS)
def _keep_most_valuable(occ, entry_len, entry_src, entry_gain, pool):
    """Drop all but the ``pool`` entries with the largest gain (ties: the earlier).

    Flat occurrences are disjoint, so a dropped entry's occurrences simply turn
    back into the tokens they stood for and the other entries' gains hold.
    """
    m = entry_len.shape[0]
    if m <= pool:
        return occ, entry_len, entry_src, entry_gain
    order = np.argsort(-entry_gain, kind="mergesort")
    keep = np.zeros(m, np.bool_)
    for j in range(pool):
        keep[order[j]] = True
    new_index = _kept_index(keep)
    for p in range(occ.shape[0]):
        if occ[p] >= 0:
            occ[p] = new_index[occ[p]]
    return occ, entry_len[keep], entry_src[keep], entry_gain[keep]


#: Bound on each refinement's work per record token (``numba_kernels.refine``), so that
#: degenerate records cannot make it the expensive part.
_REFINE_WORK = 16


@njit(inline="always", **JIT_OPTIONS)
def _refine_budget(w):
    """The work a refinement of a parse of ``w`` may do."""
    return _REFINE_WORK * w.shape[0] + 4096


#: The one-phase run of ``best`` is skipped on code-like records, where it
#: costs most and seldom wins once the run family is re-chosen: nested runs of
#: one token (indentation) are re-scored after most picks, so the one-phase
#: greedy scans 2-4x what the two-phase one does. Skipped when the two-phase run
#: scanned more than ``_TWO_PHASE_WORK`` positions per record token (+1024, so
#: short records always get both), and given up past ``_ONE_PHASE_WORK`` per
#: token (+4096); neither applies where the two-phase run filled the pool. On
#: py_code both cost 506 tokens of 1.37M (0.04 points; 7 of its 300 records are
#: now longer than the savings strategy's, by 310 tokens) and save 29% of
#: ``best``'s time; on the other corpora they changed 3 tokens of 1.86M
#: (json_data's one-phase runs, which the search needs, scan 2.5 per token).
#: The records the first rule skips get no local search either (:func:`_search_step`):
#: its re-run costs them as much as the two-phase run did, and it seldom wins
#: there. On py_code (121 of its 300 records code-like) that changed 28 records
#: (17 longer, 11 shorter, as the run family is re-chosen after it), 487 tokens
#: of 1.37M (0.04 points), for 17-23% of ``best``'s time there and 9-12% over
#: all corpora (side by side). The other corpora's output is the same (two
#: html_docs records are code-like; the search changed neither), as is that of
#: every window of benchmarks/ilp_gap.py.
_TWO_PHASE_WORK = 2
_ONE_PHASE_WORK = 6


@njit(inline="always", **JIT_OPTIONS)
def _one_phase_pays(w, two_phase_work):
    """Whether ``best`` runs the one-phase greedy after a two-phase run that scanned ``two_phase_work`` positions."""
    return two_phase_work <= _TWO_PHASE_WORK * w.shape[0] + 1024


@njit(inline="always", **JIT_OPTIONS)
def _one_phase_budget(w):
    """The work the one-phase run of ``best`` may do on ``w`` (``_savings_run``'s ``work_cap``)."""
    return _ONE_PHASE_WORK * w.shape[0] + 4096


@njit(inline="always", **JIT_OPTIONS)
def _code_like(w, first_phase_entries, entries, pool, work):
    """Whether ``best`` treats ``w`` as code-like after its two-phase run: no one-phase run, no search.

    ``first_phase_entries``, ``entries`` and ``work`` describe the two-phase run: its
    long-repeat phase took something, it left the pool room, and it scanned more than
    :func:`_one_phase_pays` allows (the note above ``_TWO_PHASE_WORK``).
    """
    return first_phase_entries > 0 and entries < pool and not _one_phase_pays(w, work)


@njit(inline="always", **JIT_OPTIONS)
def _one_phase_plan(w, first_phase_entries, entries, pool, work):
    """Whether ``best`` runs its one-phase greedy after the two-phase run, and that run's ``work_cap``.

    ``first_phase_entries``, ``entries`` and ``work`` describe the two-phase run. When its
    long-repeat phase took nothing, the one-phase run would give the same parse: not run.
    When it filled the pool, its parse and the one-phase one differ most (the long-repeat
    phase alone can fill it): always run, unbounded. Otherwise unless :func:`_code_like`,
    bounded by :func:`_one_phase_budget`.
    """
    if first_phase_entries == 0:
        return False, -1
    if entries >= pool:
        return True, -1
    return not _code_like(w, first_phase_entries, entries, pool, work), _one_phase_budget(w)


# Inlined: a thin layer above _dissolve (compile time; the note above _compress_into).
@njit(inline="always", **JIT_OPTIONS)
def _refined(w, occ, entry_len, entry_src, entry_gain, pool):
    """A savings parse after :func:`numba_kernels.refine._dissolve`, with its work bounded by the record's length."""
    return _dissolve(w, occ, entry_len, entry_src, entry_gain, pool, _refine_budget(w))


# Inlined: a thin layer above _savings_tier and _dissolve (compile time; the note above _compress_into).
@njit(inline="always", **JIT_OPTIONS)
def _search_step(
    w, max_len, pool, max_rounds, sa, iv, tiers, occ, entry_len, entry_src, entry_gain, work, ws, width, defer, best
):
    """Local search around a savings parse; returns the best of ``best`` and the new parses, refined.

    The greedy's costliest mistakes are its first, biggest picks: a long
    repeat used 3 times can block pieces of it that would be used 4 times,
    a frequent short one can split longer units. Re-running with the region
    of one of its entries banned (that entry and its near copies are never
    taken, pieces of it that also occur elsewhere are), and keeping the
    better parse, recovers much of that (benchmarks/results/ilp_gap.md).
    The ``width`` entries of largest gain are tried in turn (ties: the
    earlier entry), each ban applied to the original parse, at the price of
    one more run each, bounded by the first run's ``work``. ``occ`` ..
    ``entry_gain`` is the plain greedy parse the bans come from, ``best``
    the best refined parse so far (:func:`_refined`); each new parse is
    refined before it is compared.
    """
    r_occ, r_len, r_src, r_gain = best
    order = np.argsort(-entry_gain, kind="mergesort")
    banned = np.zeros(w.shape[0] + 1, np.int64)  # prefix count of the positions the banned entry covers
    for t in range(min(width, order.shape[0])):
        j = order[t]
        end = 0
        for p in range(w.shape[0]):
            if occ[p] == j:
                end = p + entry_len[j]
            banned[p + 1] = banned[p] + (1 if p < end else 0)
        # Bounded like the first run, so degenerate input (a periodic record whose first
        # pick covers it all) cannot make the search the expensive part.
        b_occ, b_len, b_src, b_gain, _, b_work = _savings_run(
            w, max_len, pool, max_rounds, sa, iv, tiers, banned, 2 * work + w.shape[0], ws, defer
        )
        if b_work < 0:
            continue
        b_occ, b_len, b_src, b_gain = _refined(w, b_occ, b_len, b_src, b_gain, pool)
        if b_gain.sum() > r_gain.sum():
            r_occ, r_len, r_src, r_gain = b_occ, b_len, b_src, b_gain
    return r_occ, r_len, r_src, r_gain


@njit(**JIT_OPTIONS)
def _any_repeat_pays(iv):
    """Whether some repeat could pay, even with all of its occurrences disjoint: ``(L - 1) * K > L + 1``.

    Every L-gram any strategy considers occurs where some LCP interval of
    length >= L does, and an interval's bound grows with its length, so when no
    interval pays, no strategy finds anything (text without repeats).
    """
    ell, _, lb, rb, _, _ = iv
    for c in range(ell.shape[0]):
        if (ell[c] - 1) * (rb[c] - lb[c] + 1) > ell[c] + 1:
            return True
    return False


@njit(**JIT_OPTIONS)
def _select(w, strategy, max_len, pool, max_rounds, search, defer=True):
    """One flat parse of ``w`` by the chosen strategy.

    ``best`` runs the two-phase and the one-phase savings greedy over the
    same suffix array (the one-phase run as :func:`_one_phase_plan` says),
    searches around the better parse
    (:func:`_search_step`, ``search`` bans; none on code-like records, where
    the one-phase run is skipped for its cost), and keeps the largest total gain
    (ties: in that order).
    It no longer runs the paper's greedy as well: where that used to win (a
    short prefix shared by many longer repeats, such as the dates of a CSV
    column, which the paper's longest-first order takes whole), the savings
    greedy now defers the prefix to its right extensions (``_savings_tier``),
    and the paper's parse added 0.02 points on the benchmark corpora for 13%
    of the time. Every parse ``best`` compares is refined first
    (:func:`_refined`: entries better served by their own pieces are
    dissolved), and the search still bans the entries of the plain greedy
    parse. The final parse then gets its entries for runs of one token
    (indentation) re-chosen together (:func:`numba_kernels.refine._with_run_family`,
    kept when it saves more). ``defer``: that deferral (off for hierarchical passes).
    """
    sa, lcp = _repeat_suffix_array(w)
    occ = np.full(0, -1, np.int32)
    entry_gain = np.zeros(0, np.int64)
    entry_len = entry_gain
    entry_src = entry_gain
    # Every repeat with all of its occurrences; the savings runs share them (the paper's greedy does not use them).
    iv = _lcp_intervals(sa if strategy != STRATEGY_PAPER else sa[:0], lcp, 2)
    if strategy != STRATEGY_PAPER and not _any_repeat_pays(iv):
        return occ, entry_len, entry_src, entry_gain
    if strategy == STRATEGY_PAPER and lcp.max() < 2:  # no bigram repeats: nothing to group at any length
        return occ, entry_len, entry_src, entry_gain
    ws = _workspace(w.shape[0]) if strategy != STRATEGY_PAPER else _workspace(0)
    # Every _savings_run call passes the same argument types (a writable ban array, an int64 cap): Numba
    # compiles a function once per distinct signature, and a constant (-1, a global array) is a type of its own.
    no_ban = np.zeros(0, np.int64)
    no_cap = np.int64(-1)
    if strategy == STRATEGY_SAVINGS:
        selected = _savings_run(w, max_len, pool, max_rounds, sa, iv, _SAVINGS_TIERS, no_ban, no_cap, ws, defer)
        occ, entry_len, entry_src, entry_gain = selected[0], selected[1], selected[2], selected[3]
    if strategy == STRATEGY_BEST:
        occ, entry_len, entry_src, entry_gain, first, work = _savings_run(
            w, max_len, pool, max_rounds, sa, iv, _BEST_TIERS, no_ban, no_cap, ws, defer
        )
        best = _refined(w, occ.copy(), entry_len, entry_src, entry_gain, pool)
        tiers = _BEST_TIERS
        run_one, one_cap = _one_phase_plan(w, first, entry_len.shape[0], pool, work)
        width = 0 if _code_like(w, first, entry_len.shape[0], pool, work) else search
        o_work = -1
        if run_one:
            o_occ, o_len, o_src, o_gain, _, o_work = _savings_run(
                w, max_len, pool, max_rounds, sa, iv, _SAVINGS_TIERS, no_ban, one_cap, ws, defer
            )
        if o_work >= 0:  # the one-phase parse, unless it ran past its budget
            o_best = _refined(w, o_occ.copy(), o_len, o_src, o_gain, pool)
            if o_gain.sum() >= entry_gain.sum():  # the search starts from the better greedy parse
                occ, entry_len, entry_src, entry_gain, work = o_occ, o_len, o_src, o_gain, o_work
                tiers = _SAVINGS_TIERS
            if o_best[3].sum() >= best[3].sum():
                best = o_best
        occ, entry_len, entry_src, entry_gain = _search_step(
            w,
            max_len,
            pool,
            max_rounds,
            sa,
            iv,
            tiers,
            occ,
            entry_len,
            entry_src,
            entry_gain,
            work,
            ws,
            width,
            defer,
            best,
        )
        occ, entry_len, entry_src, entry_gain = _with_run_family(
            w, sa, lcp, occ, entry_len, entry_src, entry_gain, pool, _refine_budget(w)
        )
    if strategy == STRATEGY_PAPER:
        paper_len = max_len if max_len > 0 else PAPER_MAX_LEN
        occ, entry_len, entry_src, entry_gain = _paper_select(w, paper_len, sa, lcp)
        occ, entry_len, entry_src, entry_gain = _keep_most_valuable(occ, entry_len, entry_src, entry_gain, pool)
    return occ, entry_len, entry_src, entry_gain


@njit(**JIT_OPTIONS)
def _apply(w, occ, entry_len, entry_src, first_symbol):
    """Rewrite ``w`` with a parse: definitions (flat windows of ``w``) and the new body.

    Entry ``e`` becomes the symbol ``first_symbol + e``.

    Returns:
        ``(def_vals, def_off, body)``.
    """
    m = entry_len.shape[0]
    def_off = np.zeros(m + 1, np.int64)
    for e in range(m):
        def_off[e + 1] = def_off[e] + entry_len[e]
    def_vals = np.empty(def_off[m], np.int64)
    for e in range(m):
        def_vals[def_off[e] : def_off[e + 1]] = w[entry_src[e] : entry_src[e] + entry_len[e]]
    body = np.empty(w.shape[0], np.int64)
    b = 0
    p = 0
    while p < w.shape[0]:
        e = occ[p] if occ.shape[0] > 0 else -1
        if e >= 0:
            body[b] = first_symbol + e
            p += entry_len[e]
        else:
            body[b] = w[p]
            p += 1
        b += 1
    return def_vals, def_off, body[:b]


@njit(**JIT_OPTIONS)
def _inline_unprofitable(def_vals, def_off, body, first_symbol):
    """Inline every entry that no longer pays, until all remaining ones do.

    In a hierarchical dictionary a later entry can absorb an earlier one's uses,
    leaving it used once or twice. An entry of length L used U times (in the
    body and in other definitions) pays only when ``(L - 1) * U > L + 1``.
    Inlining one never lowers another's gain: its uses move into more places
    and definitions that contained it get longer.
    """
    while True:
        m = def_off.shape[0] - 1
        uses = np.zeros(m, np.int64)
        for v in body:
            if v >= first_symbol:
                uses[v - first_symbol] += 1
        for v in def_vals:
            if v >= first_symbol:
                uses[v - first_symbol] += 1
        keep = np.ones(m, np.bool_)
        dropped = 0
        for e in range(m):
            length = def_off[e + 1] - def_off[e]
            if (length - 1) * uses[e] - (length + 1) <= 0:
                keep[e] = False
                dropped += 1
        if dropped == 0:
            return def_vals, def_off, body
        # Each entry's replacement: itself renumbered if kept, else its (recursively inlined) definition.
        new_index = _kept_index(keep)
        k = m - dropped
        rep_off = np.zeros(m + 1, np.int64)
        rep_vals = np.empty(def_vals.shape[0] + m, np.int64)
        r = 0
        for e in range(m):
            if keep[e]:
                r, rep_vals = _append(rep_vals, r, first_symbol + new_index[e])
            else:
                for i in range(def_off[e], def_off[e + 1]):
                    v = def_vals[i]
                    if v < first_symbol:
                        r, rep_vals = _append(rep_vals, r, v)
                    else:  # an earlier entry: its replacement is already final
                        for q in range(rep_off[v - first_symbol], rep_off[v - first_symbol + 1]):
                            r, rep_vals = _append(rep_vals, r, rep_vals[q])
            rep_off[e + 1] = r
        new_off = np.zeros(k + 1, np.int64)
        new_vals = np.empty(def_vals.shape[0], np.int64)
        n_vals = 0
        j = 0
        for e in range(m):
            if keep[e]:
                for i in range(def_off[e], def_off[e + 1]):
                    n_vals, new_vals = _append_symbol(new_vals, n_vals, def_vals[i], rep_vals, rep_off, first_symbol)
                j += 1
                new_off[j] = n_vals
        new_body = np.empty(body.shape[0], np.int64)
        n_body = 0
        for v in body:
            n_body, new_body = _append_symbol(new_body, n_body, v, rep_vals, rep_off, first_symbol)
        def_vals, def_off, body = new_vals[:n_vals], new_off, new_body[:n_body]


@njit(**JIT_OPTIONS)
def _append(dst, n, v):
    """Append ``v`` at ``dst[n]``, growing ``dst`` when full; returns ``(n + 1, dst)``."""
    if n >= dst.shape[0]:
        grown = np.empty(max(16, 2 * dst.shape[0]), dst.dtype)
        grown[:n] = dst[:n]
        dst = grown
    dst[n] = v
    return n + 1, dst


@njit(**JIT_OPTIONS)
def _append_symbol(dst, n, v, rep_vals, rep_off, first_symbol):
    """Append ``v``, or for an entry symbol its replacement ``rep_vals[rep_off[e]:rep_off[e + 1]]``."""
    if v < first_symbol:
        return _append(dst, n, v)
    e = v - first_symbol
    for i in range(rep_off[e], rep_off[e + 1]):
        n, dst = _append(dst, n, rep_vals[i])
    return n, dst


# _program and _compress_into are inlined into _compress_batch (Numba IR inlining). Every separately compiled
# function links in and re-emits the machine code of all it calls, so each level of this call chain
# (_compress_batch > _compress_into > _program > _select > ...) paid for the whole codec again: cold compile of
# the pipeline's kernels 103 s -> 72 s without these two levels, same speed. Inlining the big functions below
# (_select, _savings_tier) makes one huge function instead, which LLVM optimizes far more slowly (99 s).
# The thin layers between them are inlined as well (_savings_run, _search_step, _refined, _with_run_family):
# each of _savings_tier, _dissolve and _run_family is then emitted by itself, _select and _compress_batch only
# (3 times, not 5): cold compile 0.88-0.93x the time in three side-by-side runs (e.g. 191 s -> 179 s on a slow
# day of the CI machine), same output. _select inlined too: 239 s against 187 s.
@njit(inline="always", **JIT_OPTIONS)
def _program(s, strategy, first_symbol, pool, max_len, max_rounds, search, hierarchical):
    """Dictionary and body of one record with entries as symbols ``first_symbol + e``.

    Flat: one parse of the record. Hierarchical: parse again and again, each
    time over the previous body with its meta-tokens as ordinary symbols, so a
    later entry may contain earlier ones; then inline entries that stopped paying.

    Returns:
        ``(def_vals, def_off, body)``.
    """
    def_vals = np.zeros(0, np.int64)
    def_off = np.zeros(1, np.int64)
    body = s
    if strategy == STRATEGY_NONE or s.shape[0] < 4:
        return def_vals, def_off, body
    for _ in range(_HIERARCHY_PASSES if hierarchical else 1):
        m = def_off.shape[0] - 1
        if m >= pool or body.shape[0] < 4:
            break
        # Flat parses defer a prefix to its longer extensions; nested ones keep it to nest them later.
        occ, entry_len, entry_src, entry_gain = _select(
            body, strategy, max_len, pool - m, max_rounds, search, not hierarchical
        )
        if entry_len.shape[0] == 0:
            break
        new_vals, new_off, body = _apply(body, occ, entry_len, entry_src, first_symbol + m)
        def_vals = np.concatenate((def_vals, new_vals))
        def_off = np.concatenate((def_off, def_off[m] + new_off[1:]))
    if hierarchical:
        def_vals, def_off, body = _inline_unprofitable(def_vals, def_off, body, first_symbol)
    return def_vals, def_off, body


@njit(inline="always", **JIT_OPTIONS)
def _compress_into(s, out, base, pool, strategy, max_len, seed, max_rounds, search, hierarchical):
    """Compress one record ``s`` (int64) into ``out`` (int32, at least ``len(s)`` long).

    Returns:
        ``(length, entries)``: the number of values written and of dictionary entries.
    """
    n = s.shape[0]
    first_symbol = base + 2
    if hierarchical and strategy == STRATEGY_BEST:
        # Nesting changes which flat parse is the better start, so compare whole programs.
        # Derived from the int64 argument, not constants: Numba compiles a callee once per argument type, and a
        # constant has a literal type of its own (_program and everything below it compiled twice more).
        savings = strategy + (STRATEGY_SAVINGS - STRATEGY_BEST)
        paper = strategy + (STRATEGY_PAPER - STRATEGY_BEST)
        def_vals, def_off, body = _program(s, savings, first_symbol, pool, max_len, max_rounds, search, hierarchical)
        p_vals, p_off, p_body = _program(s, paper, first_symbol, pool, max_len, max_rounds, search, hierarchical)
        if p_off.shape[0] + p_vals.shape[0] + p_body.shape[0] < def_off.shape[0] + def_vals.shape[0] + body.shape[0]:
            def_vals, def_off, body = p_vals, p_off, p_body
    else:
        def_vals, def_off, body = _program(s, strategy, first_symbol, pool, max_len, max_rounds, search, hierarchical)
    m = def_off.shape[0] - 1
    total = 2 + m + def_vals.shape[0] + body.shape[0]
    if m == 0 or total >= n:  # emit unchanged unless strictly shorter
        for i in range(n):
            out[i] = s[i]
        return n, 0
    meta = _meta_order(m, pool, _record_seed(s, seed))
    w = 0
    out[w] = base
    w += 1
    for e in range(m):
        out[w] = first_symbol + meta[e]
        w += 1
        for i in range(def_off[e], def_off[e + 1]):
            v = def_vals[i]
            out[w] = first_symbol + meta[v - first_symbol] if v >= first_symbol else v
            w += 1
    out[w] = base + 1
    w += 1
    for v in body:
        out[w] = first_symbol + meta[v - first_symbol] if v >= first_symbol else v
        w += 1
    return w, m


#: Minimum candidate length of each phase of the savings greedy. The plain
#: strategy is one phase over every repeat. "best" also tries placing long
#: repeats (>= 8 tokens) first and only then the rest: on long records a short,
#: very frequent repeat (three spaces, a quote and a newline) taken first splits
#: the longer structural units an exact optimum keeps whole; on short records
#: the one-phase order usually wins (benchmarks/results/ilp_gap.md).
_SAVINGS_TIERS = np.array([2], np.int64)
_BEST_TIERS = np.array([8, 2], np.int64)

#: Upper bound on re-parses of the body in hierarchical mode (each adds a level of nesting).
_HIERARCHY_PASSES = 8


@njit(**JIT_OPTIONS)
def _compress_batch(values, offsets, base, pool, strategy, max_len, seed, max_rounds, search, hierarchical):
    """Compress every record of a batch; output is never longer than the input."""
    nrec = offsets.shape[0] - 1
    out = np.empty(values.shape[0], np.int32)
    out_offsets = np.zeros(nrec + 1, np.int64)
    entries = np.zeros(nrec, np.int32)
    w = 0
    for r in range(nrec):
        s = values[offsets[r] : offsets[r + 1]].astype(np.int64)
        length, m = _compress_into(s, out[w:], base, pool, strategy, max_len, seed, max_rounds, search, hierarchical)
        w += length
        out_offsets[r + 1] = w
        entries[r] = m
    return out[:w], out_offsets, entries


@njit(**JIT_OPTIONS)
def _first_invalid(values, offsets, base):
    """Per record, the position of the first id outside ``[0, base)``, or -1."""
    nrec = offsets.shape[0] - 1
    bad = np.full(nrec, -1, np.int64)
    for r in range(nrec):
        for i in range(offsets[r], offsets[r + 1]):
            v = values[i]
            if v < 0 or v >= base:
                bad[r] = i - offsets[r]
                break
    return bad


@njit(inline="always", **JIT_OPTIONS)
def _body_error(v, base, pool):
    """Error code of a value outside the dictionary: delimiters, negatives and ids past the pool."""
    if v < 0:
        return E_NEGATIVE_ID
    if v == base:
        return E_STRAY_OPEN
    if v == base + 1:
        return E_STRAY_CLOSE
    if v >= base + 2 + pool:
        return E_META_OUT_OF_POOL
    return OK


@njit(**JIT_OPTIONS)
def _parse(seq, base, pool, hierarchical, limit, def_limit, def_lo, def_hi, exp_len, defined_at, by_order):
    """Validate one record and compute its decompressed length.

    Fills ``def_lo/def_hi`` (definition span in ``seq``), ``exp_len`` (expanded
    length) and ``defined_at`` (entry order, -1 when undefined) per meta index;
    ``by_order[:by_order[pool]]`` lists the defined metas in dictionary order.
    ``limit`` bounds the decompressed length, ``def_limit`` the total expanded
    length of all definitions.

    Returns:
        ``(error, position, out_len, body_start)``.
    """
    n = seq.shape[0]
    close = base + 1
    first_meta = base + 2
    end_meta = base + 2 + pool
    # Forget the previous record's entries (only those: O(entries), not O(pool)).
    for j in range(by_order[pool]):
        defined_at[by_order[j]] = -1
    by_order[pool] = 0
    if n == 0 or seq[0] != base:
        # A record stored unchanged: nothing reserved may appear in it.
        for i in range(n):
            err = _body_error(seq[i], base, pool)
            if err != OK:
                return err, i, 0, 0
            if seq[i] >= first_meta:
                return E_META_OUTSIDE_DICTIONARY, i, 0, 0
        return OK, 0, n, 0
    current = -1
    order = 0
    i = 1
    closed = False
    dict_total = 0
    while i < n:
        v = seq[i]
        if v < 0:
            return E_NEGATIVE_ID, i, 0, 0
        if v == base:
            return E_STRAY_OPEN, i, 0, 0
        if v >= end_meta:
            return E_META_OUT_OF_POOL, i, 0, 0
        if v == close or (v >= first_meta and (defined_at[v - first_meta] < 0 or not hierarchical)):
            if v != close and defined_at[v - first_meta] >= 0:
                return E_REDEFINED_META, i, 0, 0
            # End of the current entry (if any).
            if current >= 0 and def_hi[current] == def_lo[current]:
                return E_EMPTY_DEFINITION, i, 0, 0
            if v == close:
                if current < 0:
                    return E_EMPTY_DICTIONARY, i, 0, 0
                closed = True
                i += 1
                break
            k = v - first_meta
            defined_at[k] = order
            by_order[order] = k
            order += 1
            by_order[pool] = order
            def_lo[k] = i + 1
            def_hi[k] = i + 1
            exp_len[k] = 0
            current = k
        else:
            if current < 0:
                return E_TOKEN_BEFORE_ENTRY, i, 0, 0
            if v >= first_meta:
                k = v - first_meta
                if k == current:
                    return E_SELF_REFERENCE, i, 0, 0
                exp_len[current] += exp_len[k]
            else:
                exp_len[current] += 1
            added = exp_len[k] if v >= first_meta else 1
            dict_total += added
            # Nested definitions can double at every entry: bound what expanding them would allocate.
            if dict_total > def_limit:
                return E_TOO_LARGE, i, 0, 0
            def_hi[current] = i + 1
        i += 1
    if not closed:
        return E_MISSING_CLOSE, n, 0, 0
    body_start = i
    total = 0
    for j in range(body_start, n):
        v = seq[j]
        err = _body_error(v, base, pool)
        if err != OK:
            return err, j, 0, 0
        if v >= first_meta:
            k = v - first_meta
            if defined_at[k] < 0:
                return E_UNDEFINED_META, j, 0, 0
            total += exp_len[k]
        else:
            total += 1
        if total > limit:
            return E_TOO_LARGE, j, 0, 0
    return OK, 0, total, body_start


@njit(**JIT_OPTIONS)
def _expand_into(seq, out, base, pool, def_lo, def_hi, exp_len, by_order, body_start, scratch, exp_at):
    """Write the expansion of a record that :func:`_parse` accepted; returns its length."""
    first_meta = base + 2
    if seq.shape[0] == 0 or seq[0] != base:
        for i in range(seq.shape[0]):
            out[i] = seq[i]
        return seq.shape[0]
    # Expand definitions in dictionary order into scratch: a reference always
    # points to an earlier entry, whose expansion is already there.
    nent = by_order[pool]
    w = 0
    for j in range(nent):
        k = by_order[j]
        exp_at[k] = w
        for i in range(def_lo[k], def_hi[k]):
            v = seq[i]
            if v >= first_meta:
                src = exp_at[v - first_meta]
                for t in range(exp_len[v - first_meta]):
                    scratch[w] = scratch[src + t]
                    w += 1
            else:
                scratch[w] = v
                w += 1
    o = 0
    for i in range(body_start, seq.shape[0]):
        v = seq[i]
        if v >= first_meta:
            k = v - first_meta
            src = exp_at[k]
            for t in range(exp_len[k]):
                out[o] = scratch[src + t]
                o += 1
        else:
            out[o] = v
            o += 1
    return o


@njit(**JIT_OPTIONS)
def _decoder_state(pool):
    """Per-meta scratch arrays :func:`_parse` and :func:`_expand_into` reuse from record to record."""
    def_lo = np.zeros(pool, np.int64)
    def_hi = np.zeros(pool, np.int64)
    exp_len = np.zeros(pool, np.int64)
    defined_at = np.full(pool, -1, np.int64)
    by_order = np.zeros(pool + 1, np.int64)
    exp_at = np.zeros(pool, np.int64)
    return def_lo, def_hi, exp_len, defined_at, by_order, exp_at


@njit(**JIT_OPTIONS)
def _decompress_batch(values, offsets, base, pool, hierarchical, limit):
    """Decompress a batch; on the first malformed record, stop and report it.

    Returns:
        ``(out_values, out_offsets, bad_record, error, position)``; ``bad_record`` is -1 when all parsed.
    """
    nrec = offsets.shape[0] - 1
    def_lo, def_hi, exp_len, defined_at, by_order, exp_at = _decoder_state(pool)
    lengths = np.zeros(nrec, np.int64)
    total = 0
    for r in range(nrec):
        seq = values[offsets[r] : offsets[r + 1]]
        err, pos, length, _ = _parse(
            seq, base, pool, hierarchical, limit, limit, def_lo, def_hi, exp_len, defined_at, by_order
        )
        if err != OK:
            return values[:0], offsets[:1], r, err, pos
        lengths[r] = length
        total += length
    out = np.empty(total, np.int32)
    out_offsets = np.zeros(nrec + 1, np.int64)
    scratch = np.empty(16, np.int32)
    o = 0
    for r in range(nrec):
        seq = values[offsets[r] : offsets[r + 1]]
        _, _, _, body_start = _parse(
            seq, base, pool, hierarchical, limit, limit, def_lo, def_hi, exp_len, defined_at, by_order
        )
        need = 0
        for j in range(by_order[pool]):
            need += exp_len[by_order[j]]
        if need > scratch.shape[0]:
            scratch = np.empty(need, np.int32)
        o += _expand_into(seq, out[o:], base, pool, def_lo, def_hi, exp_len, by_order, body_start, scratch, exp_at)
        out_offsets[r + 1] = o
    return out, out_offsets, -1, OK, 0


@njit(**JIT_OPTIONS)
def _verify_batch(orig_values, orig_offsets, values, offsets, base, pool, hierarchical, max_output):
    """Per record: 0 when ``decompress(compressed) == original``, else an error code (-1: content mismatch)."""
    nrec = offsets.shape[0] - 1
    status = np.zeros(nrec, np.int64)
    def_lo, def_hi, exp_len, defined_at, by_order, exp_at = _decoder_state(pool)
    scratch = np.empty(16, np.int32)
    out = np.empty(16, np.int32)
    for r in range(nrec):
        seq = values[offsets[r] : offsets[r + 1]]
        want = orig_values[orig_offsets[r] : orig_offsets[r + 1]]
        # The body may not expand beyond the original; unused definitions may be longer, within max_output.
        err, _, length, body_start = _parse(
            seq, base, pool, hierarchical, want.shape[0], max_output, def_lo, def_hi, exp_len, defined_at, by_order
        )
        if err != OK:
            status[r] = err
            continue
        if length != want.shape[0]:
            status[r] = -1
            continue
        need = 0
        for j in range(by_order[pool]):
            need += exp_len[by_order[j]]
        if need > scratch.shape[0]:
            scratch = np.empty(need, np.int32)
        if length > out.shape[0]:
            out = np.empty(length, np.int32)
        _expand_into(seq, out, base, pool, def_lo, def_hi, exp_len, by_order, body_start, scratch, exp_at)
        for i in range(length):
            if out[i] != want[i]:
                status[r] = -1
                break
    return status


@njit(**JIT_OPTIONS)
def _dictionary_sizes(values, offsets, base, pool):
    """Per record, the number of dictionary entries (0 for records stored unchanged).

    Counts distinct meta ids inside the dictionary, so hierarchical references
    to earlier entries are not counted twice.
    """
    nrec = offsets.shape[0] - 1
    sizes = np.zeros(nrec, np.int32)
    seen = np.full(pool, -1, np.int64)
    for r in range(nrec):
        lo = offsets[r]
        hi = offsets[r + 1]
        if hi > lo and values[lo] == base:
            for i in range(lo + 1, hi):
                v = values[i]
                if v == base + 1:
                    break
                k = v - base - 2
                if 0 <= k < pool and seen[k] != r:
                    seen[k] = r
                    sizes[r] += 1
    return sizes
