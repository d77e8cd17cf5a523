"""Dictionary selection: which repeated subsequences become meta-tokens.

Both strategies return the same description of a parse of the record ``s``
(int64 ids, length n):

- ``occ``: int32[n], the entry index at the start of each replaced
  occurrence, ``-1`` elsewhere;
- ``entry_len``, ``entry_src``, ``entry_gain``: per entry, its length, the
  position of its first occurrence (where its definition is copied from) and
  the tokens it saves, ``(L - 1) * K - (L + 1)``.

Positions, candidate indices and per-candidate scratch are ``int32``, like the
suffix arrays they come from (``numba_kernels.suffix``); gains are computed in
``int64`` scalars, and packed heap keys are ``int64``.

Occurrences never overlap and never contain replaced positions (flat format).
Replaced positions are tracked in a bitmap (uint64 words) so that checking a
window of length L costs O(L / 64).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic, overload

from numba_kernels.config import JIT_OPTIONS, LEAF_JIT_OPTIONS
from numba_kernels.heap import (
    KEY_SHIFT,
    _above,
    _heap_first,
    _heap_pop,
    _heap_push,
    _heapify,
    _heapsort,
    _queued_above,
    _run_candidate,
    _sorted_run,
)
from numba_kernels.suffix import _lcp_intervals, _repeat_suffix_array

_ONE = np.uint64(1)
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)
_U = np.uint64


def _ctz(x):
    """Index of the lowest set bit of a non-zero uint64 (pure Python; compiled code uses ``llvm.cttz``)."""
    x = int(x)
    return (x & -x).bit_length() - 1


@intrinsic
def _cttz(typingctx, x):
    def codegen(context, builder, signature, args):
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.IntType(64), [ir.IntType(64), ir.IntType(1)]), "llvm.cttz.i64"
        )
        return builder.call(fn, [args[0], ir.Constant(ir.IntType(1), 1)])

    return types.int64(types.uint64), codegen


@overload(_ctz, jit_options=JIT_OPTIONS)
def _ctz_overload(x):
    return lambda x: _cttz(x)


@njit(inline="always", **JIT_OPTIONS)
def _span_mask(lo, hi):
    """Bits ``lo & 63 .. (hi-1) & 63`` of one word, for ``lo < hi <= word end``."""
    nb = hi - lo
    if nb >= 64:
        return _ALL
    return ((_ONE << np.uint64(nb)) - _ONE) << np.uint64(lo & 63)


@njit(**LEAF_JIT_OPTIONS)
def _window_free(bits, p, length):
    """True when no position of ``[p, p + length)`` is replaced."""
    end = p + length
    w = _U(p >> 6)  # unsigned: no negative-index wraparound
    lo = p
    while lo < end:
        hi = min(end, np.int64(w + _U(1)) << 6)
        if bits[w] & _span_mask(lo, hi):
            return False
        lo = hi
        w += _U(1)
    return True


@njit(**LEAF_JIT_OPTIONS)
def _mark_window(bits, p, length):
    end = p + length
    w = p >> 6
    lo = p
    while lo < end:
        hi = min(end, (w + 1) << 6)
        bits[w] |= _span_mask(lo, hi)
        lo = hi
        w += 1


@njit(**LEAF_JIT_OPTIONS)
def _count_greedy(pos, lo, hi, length, bits):
    """Left-to-right non-overlapping count of free windows at sorted ``pos[lo:hi]``.

    Returns:
        ``(count, first)``: the number of windows taken and the first one's position (-1 if none).
    """
    count = 0
    first = -1
    last_end = -1
    for j in range(_U(lo), _U(hi)):  # unsigned: no negative-index wraparound
        p = np.int64(pos[j])
        if p >= last_end and _window_free(bits, p, length):
            if first < 0:
                first = p
            count += 1
            last_end = p + length
    return count, first


@njit(**LEAF_JIT_OPTIONS)
def _replace_greedy(pos, lo, hi, length, bits, occ, entry):
    """Replace the windows :func:`_count_greedy` counts; returns how many were replaced."""
    count = 0
    last_end = -1
    for j in range(lo, hi):
        p = pos[j]
        if p >= last_end and _window_free(bits, p, length):
            _mark_window(bits, p, length)
            occ[p] = entry
            count += 1
            last_end = p + length
    return count


@njit(inline="always", **JIT_OPTIONS)
def _gain(length, count):
    # int64 even from int32 array values (interpreted, numpy keeps int32 and would wrap)
    return np.int64(length - 1) * count - (length + 1)


@njit(inline="always", **JIT_OPTIONS)
def _key(gain, length):
    """The savings greedy's packed heap key: gain first, then the longer length."""
    return np.int64(gain) << KEY_SHIFT | length


# --------------------------------------------------------------------------------------
# The paper's strategy
# --------------------------------------------------------------------------------------


@njit(**JIT_OPTIONS)
def _paper_select(s, max_len, sa, lcp):
    """Harvill et al.'s greedy: lengths ``max_len`` down to 2, most frequent first.

    For each length L, repeatedly take the L-gram with the most non-overlapping
    occurrences over not-yet-replaced positions (ties: the earliest first
    occurrence) while ``L * K > 1 + L + K``, replacing all of its counted
    occurrences. Lazy evaluation: counts only fall as positions get replaced,
    so a stale count is an upper bound and a candidate is recounted only when
    it reaches the top of the heap.
    """
    n = s.shape[0]
    occ = np.full(n, -1, np.int32)
    cap = 16
    entry_len = np.empty(cap, np.int64)
    entry_src = np.empty(cap, np.int64)
    entry_gain = np.empty(cap, np.int64)
    m = 0
    if n < 4:
        return occ, entry_len[:0], entry_src[:0], entry_gain[:0]
    bits = np.zeros((n >> 6) + 1, np.uint64)
    gid = np.full(n, -1, np.int32)  # positions the suffix array leaves out start no repeat
    sorted_pos = np.empty(n, np.int32)
    # Per group (an L-gram seen at least twice; at most half the suffixes), allocated once for every L.
    cap_groups = sa.shape[0] // 2 + 1
    start = np.empty(cap_groups + 1, np.int32)
    fill = np.empty(cap_groups, np.int32)
    key_count = np.empty(cap_groups, np.int32)
    key_first = np.empty(cap_groups, np.int32)
    stamp = np.empty(cap_groups, np.int32)
    hk = np.empty(cap_groups, np.int64)
    hf = np.empty(cap_groups, np.int32)
    hc = np.empty(cap_groups, np.int32)
    for length in range(min(max_len, n // 2), 1, -1):
        # Group positions by their L-gram: runs of two or more suffixes with lcp >= L.
        g = -1
        for i in range(sa.shape[0]):
            p = sa[i]
            if i == 0 or lcp[i] < length:
                if i + 1 < sa.shape[0] and lcp[i + 1] >= length and n - p >= length:
                    g += 1
                    gid[p] = g
                else:
                    gid[p] = -1
            else:
                gid[p] = g
        ngroups = g + 1
        if ngroups == 0:  # no L-gram repeats (nor any longer one): skip the passes over the record
            continue
        start[: ngroups + 1] = 0
        for p in range(n):
            if gid[p] >= 0:
                start[gid[p] + 1] += 1
        for k in range(ngroups):
            start[k + 1] += start[k]
        fill[:ngroups] = start[:ngroups]
        for p in range(n):  # ascending, so every group's positions come out sorted
            k = gid[p]
            if k >= 0:
                sorted_pos[fill[k]] = p
                fill[k] += 1
        stamp[:ngroups] = -1
        size = np.int64(0)  # not the literal 0: callees would compile for that type too
        for k in range(ngroups):
            cnt, first = _count_greedy(sorted_pos, start[k], start[k + 1], length, bits)
            if cnt >= 2:
                key_count[k] = cnt
                key_first[k] = first
                stamp[k] = m
                hk[size] = cnt
                hf[size] = first
                hc[size] = k
                size += 1
        _heapify(hk, hf, hc, size)
        while size > 0:
            k = hc[0]
            size = _heap_pop(hk, hf, hc, size)
            if stamp[k] != m:
                cnt, first = _count_greedy(sorted_pos, start[k], start[k + 1], length, bits)
                stamp[k] = m
                if cnt < 2:
                    continue
                key_count[k] = cnt
                key_first[k] = first
                if size > 0 and _above(hk[0], hf[0], hc[0], cnt, first, k):
                    size = _heap_push(hk, hf, hc, size, cnt, first, k)
                    continue
            cnt = key_count[k]
            if length * cnt <= 1 + length + cnt:
                break  # the best count at this length does not pay, so none does
            if m == cap:
                cap *= 2
                entry_len = _grow(entry_len, cap)
                entry_src = _grow(entry_src, cap)
                entry_gain = _grow(entry_gain, cap)
            entry_len[m] = length
            entry_src[m] = key_first[k]
            entry_gain[m] = _gain(length, cnt)
            _replace_greedy(sorted_pos, start[k], start[k + 1], length, bits, occ, m)
            m += 1
    return occ, entry_len[:m], entry_src[:m], entry_gain[:m]


@njit(**JIT_OPTIONS)
def _grow(a, cap):
    out = np.empty(cap, a.dtype)
    out[: a.shape[0]] = a
    return out


# --------------------------------------------------------------------------------------
# The savings-ordered strategy (the default)
# --------------------------------------------------------------------------------------


@njit(**JIT_OPTIONS)
def _compact(s, bits):
    """The record with each run of replaced positions collapsed to one unique sentinel.

    Returns:
        ``(w, where)``: the working sequence (sentinels are distinct negative
        values, so no repeat can span them) and each element's original position.
    """
    n = s.shape[0]
    w = np.empty(n, np.int64)
    where = np.empty(n, np.int32)
    m = 0
    sentinel = -1
    in_run = False
    for p in range(n):
        if bits[p >> 6] & (_ONE << np.uint64(p & 63)):
            if not in_run:
                w[m] = sentinel
                where[m] = p
                sentinel -= 1
                m += 1
                in_run = True
        else:
            w[m] = s[p]
            where[m] = p
            m += 1
            in_run = False
    return w[:m], where[:m]


@njit(**LEAF_JIT_OPTIONS)
def _compact_length(bits, n):
    """Length :func:`_compact` would return: unreplaced positions plus one per run of replaced ones."""
    length = 0
    in_run = False
    for p in range(n):
        if bits[p >> 6] & (_ONE << np.uint64(p & 63)):
            if not in_run:
                length += 1
                in_run = True
        else:
            length += 1
            in_run = False
    return length


@njit(**JIT_OPTIONS)
def _savings_select(s, max_len, pool_size, max_rounds, sa0, iv0, tiers, banned, work_cap, defer=True):
    """:func:`_savings_run` with a scratch space of its own."""
    ws = _workspace(s.shape[0])
    return _savings_run(s, max_len, pool_size, max_rounds, sa0, iv0, tiers, banned, work_cap, ws, defer)


#: Occurrences (overlapping ones included) a repeat needs to be placed in a long-repeat phase (min length > 2).
_LONG_PHASE_MIN_OCCURRENCES = 3


#: Record-sized int32 scratch rows :func:`_savings_tier` takes from a workspace (besides the int64 heap keys).
_SCRATCH_ARRAYS = 12


@njit(**JIT_OPTIONS)
def _workspace(n):
    """Scratch space for the savings greedy over a record of ``n`` tokens (at most ``n`` candidates).

    One workspace serves every run over one record (``best`` makes several): its memo keeps what
    depends only on the record's own intervals.

    Returns:
        ``(scratch, keys, marks, flags, runs, memo)``: ``_SCRATCH_ARRAYS`` rows of ``n + 1`` int32
        values, ``n + 1`` int64 heap keys, an all-zero bitmap over the record and a summary of its
        words (rows 0 and 1; :func:`_sorted_copy` leaves them all zero), two bools per candidate,
        the packed sorted run of a tier's queue (:func:`numba_kernels.heap._sorted_run`), and the
        memo of :func:`_tier_queue` and :func:`_children_lists`: ``_MEMO_SLOTS`` sorted runs, their
        tiers' per-candidate lengths and gain bounds, the children lists, and one metadata row per
        slot (tier, run length, layout) plus one for the lists (built or not).
    """
    return (
        np.empty((_SCRATCH_ARRAYS, n + 1), np.int32),
        np.empty(n + 1, np.int64),
        np.zeros((2, (n >> 6) + 1), np.uint64),
        np.empty((2, n + 1), np.bool_),
        np.empty(n + 1, np.uint64),
        (
            np.empty((_MEMO_SLOTS, n + 1), np.uint64),
            np.empty((_MEMO_SLOTS, 2, n + 1), np.int32),
            np.empty((2, n + 1), np.int32),
            np.zeros((_MEMO_SLOTS + 1, 10), np.int64),
        ),
    )


# Inlined: a thin layer above _savings_tier (compile time; the note above _compress_into).
@njit(inline="always", **JIT_OPTIONS)
def _savings_run(s, max_len, pool_size, max_rounds, sa0, iv0, tiers, banned, work_cap, ws, defer=True):
    """Savings-ordered lazy greedy over every repeat the suffix array finds.

    Each round builds the suffix array of the record with replaced runs
    collapsed to sentinels and takes every LCP interval (a right-maximal repeat
    and all of its occurrences) as a candidate. A candidate is scored at its
    full length and, when its occurrences overlap themselves (periodic text),
    also at the smallest gap between consecutive occurrences. Candidates are
    taken in order of exact gain ``(L - 1) * K - (L + 1)`` (ties: longer, then
    earlier), evaluated lazily: gains only fall as positions are replaced, so a
    stale gain is an upper bound. A new round starts when the candidates of the
    previous one are exhausted, so repeats that only became right-maximal after
    replacements are found too.

    Before a candidate is taken at its full length, its right extensions (its
    children in the LCP-interval tree, which partition its occurrences) are
    scored on the current parse: when together they save more, the candidate
    is pushed back behind the least of them and re-scored once they are placed
    (once per candidate and round). A prefix shared by many longer repeats,
    such as a newline and ``2010/04/`` before the day on every line of a CSV
    column, would otherwise win on gain alone and block all of them: the
    greedy's largest loss against the exact optimum on the JSON/CSV corpus
    (benchmarks/results/ilp_gap.md). A long-repeat phase (min length > 2)
    does not defer: its repeats of 8+ tokens are the structural units the
    phase exists to place whole, and their extensions are rarer still, the
    accidental matches across unit boundaries it already keeps out (deferring
    there too costs 3% of ``best``'s time and widens the ILP gap on JSON from
    0.33 to 0.46 points and on code from 0.95 to 1.06). ``defer=False`` turns
    deferral off: for hierarchical dictionaries, where the prefix taken first
    nests into its extensions later, the plain order saves more.

    ``sa0`` is the record's suffix array (as :func:`_repeat_suffix_array`
    gives it) and ``iv0`` its LCP intervals of length >= 2: every run over
    the whole record starts from them, so ``best``'s several runs share them.

    ``tiers`` lists minimum candidate lengths, one phase each: ``[8, 2]`` first
    places repeats of 8 or more tokens that occur at least
    ``_LONG_PHASE_MIN_OCCURRENCES`` times, then everything else. (A long
    repeat seen only twice is more often an accidental match across unit
    boundaries, such as two lines ending alike and the indentation after them,
    than a structural unit: placed early it blocks the frequent short pieces
    an exact optimum uses; benchmarks/results/ilp_gap.md.)

    ``banned`` is the prefix count of banned positions (``n + 1`` values;
    empty: none) for the local search in ``best``: a candidate all of whose
    windows lie inside banned positions is never taken. Banning the region one
    of the greedy's own picks covered forbids that pick and its near copies
    (its truncations, its suffixes), while pieces of it that also occur
    elsewhere stay available.

    ``work_cap`` bounds the positions scanned in total (-1: no bound); past
    it the run stops and reports ``work = -1``. The local search uses it so
    that its extra run never costs much more than the first.

    ``ws`` is the record's :func:`_workspace`, shared by every run over it: its
    memo keeps each tier's initial queue over ``iv0`` for the next run.

    Returns:
        ``(occ, entry_len, entry_src, entry_gain, first_phase_entries, work)``.
    """
    n = s.shape[0]
    occ = np.full(n, -1, np.int32)
    entry_len = np.empty(pool_size, np.int64)
    entry_src = np.empty(pool_size, np.int64)
    entry_gain = np.empty(pool_size, np.int64)
    m = np.int64(0)  # int64 from the start: typed as the literal 0 first, _savings_tier would compile twice
    bits = np.zeros((n >> 6) + 1, np.uint64)
    first_phase = 0
    spent = np.zeros(1, np.int64)
    for tier in range(tiers.shape[0]):
        m = _savings_tier(
            s,
            max_len,
            pool_size,
            max_rounds,
            sa0,
            iv0,
            tiers[tier],
            occ,
            entry_len,
            entry_src,
            entry_gain,
            m,
            bits,
            banned,
            spent,
            work_cap,
            ws,
            defer,
        )
        if tier == 0:
            first_phase = m
        if 0 <= work_cap < spent[0]:
            return occ, entry_len[:m], entry_src[:m], entry_gain[:m], first_phase, -1
    return occ, entry_len[:m], entry_src[:m], entry_gain[:m], first_phase, spent[0]


#: Tiers whose initial queue over the record's own intervals a workspace keeps (``best`` has two: 8 and 2).
_MEMO_SLOTS = 2


@njit(inline="always", **JIT_OPTIONS)
def _memo_slot(meta, min_len):
    """The memo slot of tier ``min_len``: the one holding it, else a free one, else -1."""
    for slot in range(_MEMO_SLOTS):
        if meta[slot, 0] == min_len or meta[slot, 0] == 0:
            return slot
    return -1


@njit(inline="always", **JIT_OPTIONS)
def _layout_of(meta, slot):
    row = meta[slot]
    return (row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9])


@njit(**JIT_OPTIONS)
def _initial_queue(iv, cand, heap, out, max_len, min_len):
    """Every candidate of a tier with its first gain bound, queued (:func:`_savings_tier`'s setup).

    Writes the per-candidate ``cand_len`` (0: not a candidate), ``key_gain``, ``key_len`` and
    ``key_first``, and queues the candidates as a sorted run in ``out``
    (:func:`numba_kernels.heap._sorted_run`), or, when their fields do not pack, in the heap.

    Returns:
        ``(count, layout, run, size)``: the run (``out[:count]``) and its layout, and the heap's size.
    """
    ell, parent, lb, rb, first_at, last_at = iv
    cand_len, key_gain, key_len, key_first = cand
    hk, hf, hc = heap
    size = np.int64(0)  # not the literal 0: callees would compile for that type too
    for c in range(ell.shape[0]):
        cand_len[c] = 0  # not a candidate this round (its children test skips it)
        length = np.int64(ell[c])
        if max_len > 0:
            if parent[c] >= max_len:
                continue
            length = min(length, max_len)
        if length < min_len or (min_len > 2 and rb[c] - lb[c] + 1 < _LONG_PHASE_MIN_OCCURRENCES):
            continue
        count = np.int64(rb[c] - lb[c] + 1)
        span = np.int64(last_at[c] - first_at[c])
        # At most `count` occurrences, and at most (span + L) / L disjoint windows fit.
        bound = (length - 1) * count - (length + 1)
        # (L-1)(span+L)/L - (L+1) = span - span/L - 2 grows with L, so it also bounds
        # the shorter gap variant; rounded up to stay an upper bound.
        alt = span - span // length - 2
        if alt < bound:
            bound = alt
        if bound <= 0:
            continue
        cand_len[c] = length
        key_gain[c] = bound
        key_len[c] = length
        key_first[c] = first_at[c]
        hk[size] = _key(bound, length)
        hf[size] = key_first[c]
        hc[size] = c
        size += 1
    count, layout = _sorted_run(hk, hf, hc, size, ell.shape[0], out)
    if count > 0:
        return count, layout, out[:count], 0
    _heapify(hk, hf, hc, size)
    return 0, layout, out[:0], size


@njit(**JIT_OPTIONS)
def _children_lists(lb, rb, first_child, next_sibling, stack, memo, shared):
    """The children lists of :func:`_interval_children`: in ``first_child`` / ``next_sibling``, or in ``memo``.

    For the record's own intervals (``shared``) they are the same in every run, so the memo keeps
    them: built by the first run that needs them, read by the others.
    """
    if not shared:
        _interval_children(lb, rb, first_child, next_sibling, stack)
        return first_child, next_sibling
    _, _, tree, meta = memo
    ncand = lb.shape[0]
    if meta[_MEMO_SLOTS, 0] == 0:
        _interval_children(lb, rb, tree[0, :ncand], tree[1, :ncand], stack)
        meta[_MEMO_SLOTS, 0] = 1
    return tree[0, :ncand], tree[1, :ncand]


@njit(**JIT_OPTIONS)
def _tier_queue(iv, cand, heap, out, max_len, min_len, memo):
    """A tier's candidates and initial queue (:func:`_initial_queue`), from the memo when it has them.

    ``memo`` (None: not the record's own intervals) keeps the queue of each tier over the record's
    own intervals, which depends on nothing else: ``best``'s runs all start from it. A hit copies
    the per-candidate values back and reads the sorted run in place (popping never writes it).

    Returns:
        ``(count, layout, run, size)`` as :func:`_initial_queue`.
    """
    ell = iv[0]
    first_at = iv[4]
    cand_len, key_gain, key_len, key_first = cand
    ncand = ell.shape[0]
    if memo is None:
        return _initial_queue(iv, cand, heap, out, max_len, min_len)
    runs, values, _, meta = memo
    slot = _memo_slot(meta, min_len)
    if slot < 0:
        return _initial_queue(iv, cand, heap, out, max_len, min_len)
    if meta[slot, 0] == min_len:
        count = meta[slot, 1]
        cand_len[:] = values[slot, 0, :ncand]
        key_gain[:] = values[slot, 1, :ncand]
        key_len[:] = cand_len
        key_first[:] = first_at
        return count, _layout_of(meta, slot), runs[slot, :count], 0
    count, layout, run, size = _initial_queue(iv, cand, heap, runs[slot, :ncand], max_len, min_len)
    if count > 0:
        meta[slot, 0] = min_len
        meta[slot, 1] = count
        for i in range(8):
            meta[slot, 2 + i] = layout[i]
        values[slot, 0, :ncand] = cand_len
        values[slot, 1, :ncand] = key_gain
    return count, layout, run, size


@njit(**JIT_OPTIONS)
def _savings_tier(
    s,
    max_len,
    pool_size,
    max_rounds,
    sa0,
    iv0,
    min_len,
    occ,
    entry_len,
    entry_src,
    entry_gain,
    m,
    bits,
    banned,
    spent,
    work_cap,
    ws,
    defer,
):
    """Rounds of the savings greedy restricted to candidates of length >= ``min_len``; returns the entry count."""
    rounds = 0
    first_pass = True
    while rounds < max_rounds:
        if m >= pool_size:
            break
        # A tier's first pass reuses the caller's suffix array (over ``s`` itself,
        # replaced positions are skipped by scoring) unless earlier tiers replaced a
        # quarter of the record: then rebuilding over the shorter rest is cheaper.
        rest = s.shape[0] if m == 0 else _compact_length(bits, s.shape[0])
        if rest < 4:
            break
        shared = m == 0 or (first_pass and 4 * rest > 3 * s.shape[0])
        if shared:
            pos = sa0
            ell, parent, lb, rb, pmin, pmax = iv0  # their positions are the record's own
            first_at = pmin
            last_at = pmax
            size_of_w = s.shape[0]
        else:
            w, where = _compact(s, bits)
            sa, lcp = _repeat_suffix_array(w)
            ell, parent, lb, rb, pmin, pmax = _lcp_intervals(sa, lcp, 2)
            # Original positions of every suffix-array entry and candidate: candidates read slices of ``pos``.
            pos = np.empty(sa.shape[0], np.int32)
            for i in range(sa.shape[0]):
                pos[i] = where[sa[i]]
            first_at = np.empty(ell.shape[0], np.int32)
            last_at = np.empty(ell.shape[0], np.int32)
            for c in range(ell.shape[0]):
                first_at[c] = where[pmin[c]]
                last_at[c] = where[pmax[c]]
            size_of_w = w.shape[0]
        first_pass = False
        ncand = ell.shape[0]
        scratch, keys, marks, flags, runs, memo = ws
        dead = flags[0, :ncand]
        deferred = flags[1, :ncand]
        key_gain = scratch[0, :ncand]
        key_len = scratch[1, :ncand]
        key_first = scratch[2, :ncand]
        cand_len = scratch[3, :ncand]
        stamp = scratch[4, :ncand]
        quick = scratch[5, :ncand]
        hf = scratch[6, :ncand]
        hc = scratch[7, :ncand]
        buf = scratch[8, : pos.shape[0]]
        child_buf = scratch[9, : pos.shape[0]]
        first_child = scratch[10, :ncand]
        next_sibling = scratch[11, :ncand]
        hk = keys[:ncand]
        buf_owner = -1
        stamp[:] = -1
        quick[:] = -1
        dead[:] = False
        deferred[:] = False
        defer_here = defer and min_len <= 2  # a long-repeat phase takes its repeats whole (see _savings_run)
        if defer_here:
            first_child, next_sibling = _children_lists(lb, rb, first_child, next_sibling, child_buf, memo, shared)
        trunc = np.zeros(_TRUNCATIONS + 1, np.int64)
        count_run, layout, run, size = _tier_queue(
            (ell, parent, lb, rb, first_at, last_at),
            (cand_len, key_gain, key_len, key_first),
            (hk, hf, hc),
            runs[:ncand],
            max_len,
            min_len,
            memo if shared else None,
        )
        head = np.int64(0)  # not the literal 0: callees would compile for that type too
        taken = 0
        work = 0
        work_budget = 4 * size_of_w + 4096
        exhausted = True
        fallback = -1  # the best exactly scored candidate since the last acceptance
        while (size > 0 or head < count_run) and m < pool_size:
            if 0 <= work_cap < spent[0]:
                return m
            c = -1
            if work > work_budget:
                if taken > 0:
                    # Replacements made most candidates stale (degenerate text: long
                    # runs, periodic data); rebuilding over the compacted record is
                    # cheaper than re-scoring them one by one.
                    exhausted = False
                    break
                if fallback >= 0:
                    # Near-equal bounds on huge, nested occurrence lists: take the
                    # best candidate scored so far instead of scoring them all.
                    c = fallback
                    dead[c] = True
                    deferred[c] = True  # its heap copy is dead: take it or leave it, never push it back
            if c < 0:
                if _heap_first(run, head, count_run, layout, hk, hf, hc, size):
                    c = hc[0]
                    size = _heap_pop(hk, hf, hc, size)
                else:
                    c = _run_candidate(run, head, layout)
                    head += 1
                if dead[c]:
                    continue
            # Candidates nest (a child's positions are a slice of its parent's), so
            # each one's positions are sorted into a scratch buffer, not in place.
            count = rb[c] - lb[c] + 1
            if banned.shape[0] > 0 and stamp[c] < 0 and quick[c] < 0:
                # First look at this candidate under a ban: drop it at once when no
                # window of it (free or not) reaches outside the banned region.
                quick[c] = m
                length = cand_len[c]
                # The first and last occurrences decide most candidates in O(1).
                if _inside(banned, first_at[c], length) and _inside(banned, last_at[c], length):
                    spent[0] += count >> 2
                    if _no_window_outside(pos, lb[c], count, length, banned):
                        continue
            if stamp[c] != m and quick[c] != m and m > 0:
                # Cheap bound first, on the unsorted positions: an occurrence whose
                # first token is replaced counts at no length, so (L - 1) * free - (L + 1)
                # bounds every length _score tries. Most stale candidates die here.
                quick[c] = m
                work += count >> 2
                spent[0] += count >> 2
                free = _free_starts(pos, lb[c], count, bits)
                bound = _gain(cand_len[c], free)
                if bound <= 0:
                    continue
                if bound < key_gain[c]:
                    key_gain[c] = bound
                    key = _key(bound, key_len[c])
                    if _queued_above(run, head, count_run, layout, hk, hf, hc, size, key, key_first[c], c):
                        size = _heap_push(hk, hf, hc, size, key, key_first[c], c)
                        continue
            if buf_owner != c:
                _sorted_copy(pos, lb[c], count, buf, first_at[c], last_at[c], marks)
                buf_owner = c
            if stamp[c] != m:
                work += count
                spent[0] += count
                best_gain, best_len, best_first = _score(buf, 0, count, cand_len[c], bits, trunc, max(min_len, 2))
                stamp[c] = m
                if best_gain <= 0:
                    continue
                key_gain[c] = best_gain
                key_len[c] = best_len
                key_first[c] = best_first
                key = _key(best_gain, best_len)
                if _queued_above(run, head, count_run, layout, hk, hf, hc, size, key, best_first, c):
                    size = _heap_push(hk, hf, hc, size, key, best_first, c)
                    if fallback < 0 or _above(
                        key, best_first, c, _key(key_gain[fallback], key_len[fallback]), key_first[fallback], fallback
                    ):
                        fallback = c
                    continue
            length = key_len[c]
            if banned.shape[0] > 0 and _all_windows_banned(buf, count, length, bits, banned):
                dead[c] = True
                fallback = -1
                continue
            if defer_here and not deferred[c] and length == ell[c] and first_child[c] >= 0:
                # A short repeat can win on gain while its right extensions (the interval's
                # children, a partition of its occurrences) save more together: a date prefix
                # taken once blocks the full dates. Then the children go first, and this one
                # is re-scored on what they leave.
                deferred[c] = True
                total, lowest, scanned = _children_gain(
                    c,
                    (lb, rb, first_at, last_at, cand_len, key_gain, dead),
                    (first_child, next_sibling),
                    pos,
                    bits,
                    (child_buf, marks, trunc),
                    max(min_len, 2),
                )
                work += scanned
                spent[0] += scanned
                if total > key_gain[c]:
                    key = _key(lowest, 0) - 1
                    size = _heap_push(hk, hf, hc, size, key, key_first[c], c)
                    fallback = -1
                    continue
            entry_len[m] = length
            entry_src[m] = key_first[c]
            entry_gain[m] = key_gain[c]
            _replace_greedy(buf, 0, count, length, bits, occ, m)
            m += 1
            taken += 1
            fallback = -1
            dead[c] = True
        if taken == 0:
            break
        if exhausted:
            rounds += 1
    return m


@njit(**LEAF_JIT_OPTIONS)
def _interval_children(lb, rb, first_child, next_sibling, stack):
    """Children lists of the LCP-interval tree, from intervals in bottom-up (post-) order.

    Read backwards, the intervals come in pre-order, so a stack of the open
    ancestors gives each interval its parent: the nearest one that contains it.
    ``first_child[c]`` / ``next_sibling[c]`` link the children (-1: none);
    ``stack`` is scratch of at least ``len(lb)`` values.
    """
    ncand = lb.shape[0]
    first_child[:] = -1
    next_sibling[:] = -1
    top = 0
    for c in range(ncand - 1, -1, -1):
        while top > 0 and not (lb[stack[top - 1]] <= lb[c] and rb[c] <= rb[stack[top - 1]]):
            top -= 1
        if top > 0:
            p = stack[top - 1]
            next_sibling[c] = first_child[p]
            first_child[p] = c
        stack[top] = c
        top += 1


@njit(**LEAF_JIT_OPTIONS)
def _children_gain(c, candidates, tree, pos, bits, scratch, min_len):
    """What the children of candidate ``c`` save on the current parse, each at its best length.

    ``candidates`` are :func:`_savings_tier`'s per-candidate arrays ``(lb, rb, first_at, last_at,
    cand_len, key_gain, dead)``, ``tree`` the children lists of :func:`_interval_children`,
    ``scratch`` a position buffer, the all-zero bitmap and the truncation array of :func:`_score`.
    Children are scored exactly only when their gain bounds (``key_gain``: gains only fall) add up
    to more than ``c``'s own gain; otherwise ``total`` is that sum of bounds.

    Returns:
        ``(total, lowest, scanned)``: the sum of the children's positive gains, the smallest
        of those gains, and the positions scanned.
    """
    lb, rb, first_at, last_at, cand_len, key_gain, dead = candidates
    first_child, next_sibling = tree
    buf, marks, trunc = scratch
    total = 0
    lowest = 0
    scanned = 0
    d = first_child[c]
    while d >= 0:
        if cand_len[d] > 0 and not dead[d]:
            total += np.int64(key_gain[d])
        d = next_sibling[d]
    if total <= key_gain[c]:
        return total, lowest, scanned
    total = 0
    d = first_child[c]
    while d >= 0:
        if cand_len[d] > 0 and not dead[d]:
            count = rb[d] - lb[d] + 1
            _sorted_copy(pos, lb[d], count, buf, first_at[d], last_at[d], marks)
            gain, _, _ = _score(buf, 0, count, cand_len[d], bits, trunc, min_len)
            scanned += count
            if gain > 0:
                total += gain
                lowest = gain if lowest == 0 else min(lowest, gain)
        d = next_sibling[d]
    return total, lowest, scanned


@njit(inline="always", **JIT_OPTIONS)
def _inside(banned, p, length):
    """True when all of ``[p, p + length)`` is banned (``banned`` is a prefix count of banned positions)."""
    return banned[p + length] - banned[p] == length


@njit(**LEAF_JIT_OPTIONS)
def _no_window_outside(pos, lo, count, length, banned):
    """True when every window at ``pos[lo:lo + count]`` lies inside the banned region."""
    for j in range(lo, lo + count):
        if not _inside(banned, pos[j], length):
            return False
    return True


@njit(**LEAF_JIT_OPTIONS)
def _all_windows_banned(pos, count, length, bits, banned):
    """True when every window the greedy would replace at sorted ``pos[:count]`` lies inside the banned region."""
    last_end = -1
    for j in range(count):
        p = pos[j]
        if p >= last_end and _window_free(bits, p, length):
            last_end = p + length
            if not _inside(banned, p, length):
                return False
    return True


@njit(**LEAF_JIT_OPTIONS)
def _free_starts(pos, lo, count, bits):
    """How many of the positions ``pos[lo:lo + count]`` are not replaced."""
    free = 0
    for j in range(_U(lo), _U(lo + count)):  # unsigned: no negative-index wraparound
        p = _U(pos[j])
        if not bits[p >> _U(6)] & (_ONE << (p & _U(63))):
            free += 1
    return free


@njit(**LEAF_JIT_OPTIONS)
def _sorted_copy(src, lo, count, dst, min_pos, max_pos, marks):
    """``dst[:count] = sorted(src[lo:lo + count])`` for distinct positions in ``[min_pos, max_pos]``.

    Insertion sort for the many tiny candidates; otherwise the positions are
    set in a bitmap over the record and read back in order. Dense sets
    (frequent repeats) scan the bitmap's words, O(count + span / 64); sparse
    ones also set a summary bit per word and scan only the words it marks,
    O(count + span / 4096); an in-place heapsort takes the sparsest (a leaf
    kernel cannot call ``ndarray.sort``, which allocates). ``marks`` is the
    all-zero scratch of :func:`_workspace`: the bitmap in row 0, the summary of
    its words in row 1; both are left all zero.
    """
    if count <= 24:
        for i in range(count):
            v = src[lo + i]
            j = i
            while j > 0 and dst[j - 1] > v:
                dst[j] = dst[j - 1]
                j -= 1
            dst[j] = v
        return
    words = marks[0]
    if (max_pos >> 6) - (min_pos >> 6) <= 4 * count:
        for i in range(_U(lo), _U(lo + count)):  # unsigned: no negative-index wraparound
            p = _U(src[i])
            words[p >> _U(6)] |= _ONE << (p & _U(63))
        k = 0
        for wi in range(min_pos >> 6, (max_pos >> 6) + 1):
            k = _drain_word(words, wi, dst, k)
        return
    if (max_pos >> 12) - (min_pos >> 12) > 4 * count:
        for i in range(count):
            dst[i] = src[lo + i]
        _heapsort(dst, count)
        return
    summary = marks[1]
    for i in range(_U(lo), _U(lo + count)):
        p = _U(src[i])
        words[p >> _U(6)] |= _ONE << (p & _U(63))
        summary[p >> _U(12)] |= _ONE << ((p >> _U(6)) & _U(63))
    k = 0
    for si in range(min_pos >> 12, (max_pos >> 12) + 1):
        word = summary[si]
        summary[si] = 0
        while word:
            k = _drain_word(words, (si << 6) + _ctz(word), dst, k)
            word &= word - _ONE


@njit(inline="always", **LEAF_JIT_OPTIONS)
def _drain_word(words, wi, dst, k):
    """Append the positions set in ``words[wi]`` to ``dst[k:]`` in order and clear the word; returns the new ``k``."""
    word = words[wi]
    if word:
        words[wi] = 0
        base = wi << 6
        while word:
            dst[k] = base + _ctz(word)
            k += 1
            word &= word - _ONE
    return k


@njit(**LEAF_JIT_OPTIONS)
def _first_replaced(bits, lo, hi):
    """The first replaced position in ``[lo, hi)``, or -1 when all of it is free."""
    w = lo >> 6
    while lo < hi:
        end = min(hi, (w + 1) << 6)
        hit = bits[w] & _span_mask(lo, end)
        if hit:
            return (w << 6) + _ctz(hit)
        lo = end
        w += 1
    return -1


@njit(**LEAF_JIT_OPTIONS)
def _score(pos, lo, hi, full_len, bits, trunc, min_len):
    """Exact gain of a candidate at its best length among a few natural ones.

    The lengths tried are the full repeat length, the smallest gap between
    consecutive occurrences (periodic text overlaps itself), and the
    ``_TRUNCATIONS`` longest prefixes that fit before an already-replaced
    position in some occurrence (replacements cut occurrences short).

    Returns:
        ``(gain, length, first)`` of the best length (ties: the longer).
    """
    count, first = _count_greedy(pos, lo, hi, full_len, bits)
    best_gain = _gain(full_len, count)
    best_len = full_len
    best_first = first
    gap = full_len
    for j in range(_U(lo + 1), _U(hi)):  # unsigned: no negative-index wraparound
        d = pos[j] - pos[j - _ONE]
        if d < gap:
            gap = d
    # The longest distinct truncations, kept sorted descending in a tiny scratch array.
    trunc[:] = 0
    if count < hi - lo:
        # Free run at each occurrence, in one forward sweep of the bitmap (occurrences overlap
        # in periodic text, so a scan per occurrence would read each word up to L / 64 times).
        hit = -1  # the first replaced position at or after the current occurrence, when known
        free_to = 0  # while none is known: no replaced position in [current occurrence, free_to)
        for j in range(_U(lo), _U(hi)):
            p = pos[j]
            if hit < p:
                hit = _first_replaced(bits, max(p, free_to), p + full_len)
                free_to = p + full_len if hit < 0 else hit
            f = full_len if hit < 0 else min(hit - p, full_len)
            if f < min_len or f >= full_len:
                continue
            k = _TRUNCATIONS
            while k > 0 and trunc[k - 1] < f:
                k -= 1
            if k < _TRUNCATIONS and trunc[k] != f and not (k > 0 and trunc[k - 1] == f):
                for i in range(_TRUNCATIONS - 1, k, -1):
                    trunc[i] = trunc[i - 1]
                trunc[k] = f
    if min_len <= gap < full_len:
        trunc[_TRUNCATIONS] = gap
    for i in range(_TRUNCATIONS + 1):
        length = trunc[i]
        if length < min_len or (i == _TRUNCATIONS and length in trunc[:_TRUNCATIONS]):
            continue
        count, first = _count_greedy(pos, lo, hi, length, bits)
        gain = _gain(length, count)
        if gain > best_gain or (gain == best_gain and length > best_len):
            best_gain = gain
            best_len = length
            best_first = first
    return best_gain, best_len, best_first


_TRUNCATIONS = 3
