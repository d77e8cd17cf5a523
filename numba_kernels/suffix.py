"""Suffix array, LCP array and LCP-interval enumeration over integer sequences.

Array contract: sequences are 1-D ``int64`` arrays of arbitrary values (token
ids are non-negative; callers use distinct negative values as sentinels that
must never match). Positions, ranks, LCP values and intervals are ``int32``
(records are shorter than ``2**31`` tokens): half the memory of ``int64``, so
half the pages a long record faults in and twice the entries per cache line in
the random accesses of induced sorting and Kasai's scan.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from numba_kernels.config import JIT_OPTIONS, LEAF_JIT_OPTIONS

__all__ = ["suffix_array", "lcp_array", "lcp_intervals", "repeat_suffix_array"]


_RADIX_BITS = 11


@njit(**JIT_OPTIONS)
def _dense_ranks(s):
    """Map arbitrary int64 values to ``0..upper`` preserving order; returns ``(ranks, upper)``."""
    _, ranks, upper = _dense_order(s)
    return ranks, upper


@njit(**JIT_OPTIONS)
def _dense_order(s):
    """Positions sorted by value, and :func:`_dense_ranks`; returns ``(order, ranks, upper)``.

    Token ids span a small range, so an LSD radix sort of ``s - min`` orders
    them in linear time: as few passes of at most 11-bit digits as the range
    needs, its bits split evenly between them (two 8-bit passes for GPT-2's
    16-bit ids: a short record clears 2 x 257 counters, not 2 x 2049; every
    pass is stable, so the order is the same for any digit width). Wide
    ranges fall back to a comparison sort.
    """
    n = s.shape[0]
    lo = s.min()
    span = s.max() - lo
    if span >= 1 << (3 * _RADIX_BITS):
        order = np.argsort(s).astype(np.int32)
    else:
        width = 1
        while span >> width:
            width += 1
        passes = (width + _RADIX_BITS - 1) // _RADIX_BITS
        digit = (width + passes - 1) // passes
        radix = 1 << digit
        mask = radix - 1
        order = np.arange(n, dtype=np.int32)
        spare = np.empty(n, np.int32)
        count = np.empty(radix + 1, np.int64)
        shift = 0
        while shift < width:
            count[:] = 0
            for i in range(n):
                count[((s[i] - lo) >> shift & mask) + 1] += 1
            for d in range(radix):
                count[d + 1] += count[d]
            for j in range(n):
                i = order[j]
                d = (s[i] - lo) >> shift & mask
                spare[count[d]] = i
                count[d] += 1
            order, spare = spare, order
            shift += digit
    ranks = np.empty(n, np.int32)
    r = 0
    ranks[order[0]] = 0
    for i in range(1, n):
        if s[order[i]] != s[order[i - 1]]:
            r += 1
        ranks[order[i]] = r
    return order, ranks, r


@njit(**JIT_OPTIONS)
def _suffix_array(s):
    """Suffix array of arbitrary int64 values: dense ranks, then SA-IS in O(n)."""
    n = s.shape[0]
    if n == 0:
        return np.empty(0, np.int32)
    ranks, upper = _dense_ranks(s)
    return _sa_is(ranks, upper)


#: Records up to this long find their repeated bigrams from the dense ranks the
#: suffix sort needs anyway (a counting pass, cache-resident at this size);
#: longer ones hash them first, so repeat-free stretches are never sorted.
_SORT_LIMIT = 1 << 17

#: Distinct bigrams a single hash table may hold (2x slots, 9 bytes each: it
#: stays in L2). Records with more are partitioned by hash into tables of
#: ``_PARTITION`` bigrams each, so that random or repeat-free text streams
#: through memory instead of missing the cache on every bigram.
_DIRECT_LIMIT = 1 << 15
_PARTITION = 1 << 13

#: Pre-filter cells per bigram in :func:`_partitioned_live` (two bits each): a
#: unique bigram shares its cell with another about once in ``_SKETCH_BITS``.
_SKETCH_BITS = 8

#: The empty slot of the bigram hash tables (no packed bigram of values spanning less than 2**32 - 1 is all ones).
_EMPTY = np.uint64(0xFFFFFFFFFFFFFFFF)


@njit(inline="always", **JIT_OPTIONS)
def _bigram_hash(key):
    """A 64-bit finalizer (MurmurHash3's fmix64) over a packed bigram."""
    key ^= key >> np.uint64(33)
    key *= np.uint64(0xFF51AFD7ED558CCD)
    key ^= key >> np.uint64(33)
    key *= np.uint64(0xC4CEB9FE1A85EC53)
    key ^= key >> np.uint64(33)
    return key


@njit(inline="always", **JIT_OPTIONS)
def _sketch_cell(key, cell_shift):
    """A bigram's pre-filter cell: Fibonacci (multiply-shift) hashing, the top bits of one product.

    Weaker than :func:`_bigram_hash` but a third of its cost on the two passes every token makes;
    a collision only lets a unique bigram through to the exact count.
    """
    return (key * np.uint64(0x9E3779B97F4A7C15)) >> cell_shift


@njit(inline="always", **JIT_OPTIONS)
def _bigram_key(s, i, lo):
    return np.uint64(s[i] - lo) << np.uint64(32) | np.uint64(s[i + 1] - lo)


@njit(inline="always", **JIT_OPTIONS)
def _slot(tkey, key, mask):
    """The slot of ``key`` in an open-addressing table: where it is, or the empty slot where it goes."""
    h = _bigram_hash(key) & mask
    while tkey[h] != key and tkey[h] != _EMPTY:
        h = (h + np.uint64(1)) & mask
    return h


@njit(**JIT_OPTIONS)
def _in_repeated_bigram(s):
    """Per position, whether it lies in a bigram that occurs at least twice.

    A position outside every repeated bigram lies in no repeat of two or more
    tokens, so no strategy can ever replace it. Each bigram is packed into one
    64-bit key and counted (up to 2) in an open-addressing hash table, then
    looked up again to mark both of its positions: exact, linear for any
    alphabet, and no sort, so repeat-free text costs a few passes over memory.
    """
    n = s.shape[0]
    if n < 3:
        return np.zeros(n, np.bool_)
    if s.max() - s.min() >= 0xFFFFFFFF:  # keys would not fit: pack order-preserving ranks instead
        ranks, _ = _dense_ranks(s)
        return _bigram_live(ranks)
    return _bigram_live(s)


@njit(**JIT_OPTIONS)
def _bigram_live(s):
    """:func:`_in_repeated_bigram` for ``n >= 3`` values spanning less than ``2**32 - 1``.

    One table grows with the distinct bigrams (few in repetitive text, so it
    stays in cache); past ``_DIRECT_LIMIT`` of them the record is handed to
    :func:`_partitioned_live`.
    """
    n = s.shape[0]
    k = n - 1
    lo = s.min()
    size = 16
    while size < 2 * min(k, _PARTITION):
        size *= 2
    tkey = np.full(size, _EMPTY, np.uint64)
    tcnt = np.zeros(size, np.uint8)
    slot = np.empty(k, np.uint32)
    i, used = _count_bigrams(s, lo, tkey, tcnt, slot, 0, 0)
    grown = False
    while i < k:
        if used >= _DIRECT_LIMIT:
            return _partitioned_live(s, lo)
        tkey, tcnt = _rehash(tkey, tcnt)
        grown = True
        i, used = _count_bigrams(s, lo, tkey, tcnt, slot, i, used)
    if grown:  # slots found before the last growth moved
        mask = np.uint64(tkey.shape[0] - 1)
        for j in range(k):
            slot[j] = _slot(tkey, _bigram_key(s, j, lo), mask)
    live = np.zeros(n, np.bool_)
    for j in range(k):
        if tcnt[slot[j]] >= 2:
            live[j] = True
            live[j + 1] = True
    return live


@njit(**LEAF_JIT_OPTIONS)
def _count_bigrams(s, lo, tkey, tcnt, slot, i, used):
    """Count bigrams ``i, i + 1, ...`` into the table, noting each one's slot.

    Stops before a new key would fill more than half of the table.

    Returns:
        ``(first bigram not counted, distinct keys in the table)``.
    """
    mask = np.uint64(tkey.shape[0] - 1)
    for j in range(i, s.shape[0] - 1):
        key = _bigram_key(s, j, lo)
        h = _slot(tkey, key, mask)
        if tkey[h] == _EMPTY:
            if 2 * (used + 1) > tkey.shape[0]:
                return j, used
            tkey[h] = key
            used += 1
        if tcnt[h] < 2:
            tcnt[h] += 1
        slot[j] = h
    return s.shape[0] - 1, used


@njit(**JIT_OPTIONS)
def _rehash(tkey, tcnt):
    """The table with twice the slots, every key and count moved over."""
    size = 2 * tkey.shape[0]
    new_key = np.full(size, _EMPTY, np.uint64)
    new_cnt = np.zeros(size, np.uint8)
    mask = np.uint64(size - 1)
    for j in range(tkey.shape[0]):
        if tkey[j] != _EMPTY:
            h = _slot(new_key, tkey[j], mask)
            new_key[h] = tkey[j]
            new_cnt[h] = tcnt[j]
    return new_key, new_cnt


@njit(**JIT_OPTIONS)
def _partitioned_live(s, lo):
    """:func:`_bigram_live` for records with many distinct bigrams.

    First a pre-filter: two bitmaps over ``_SKETCH_BITS`` hash cells per
    bigram, "hit" and "hit twice". A bigram whose cell was hit only once
    occurs once (a cell never undercounts), so only the bigrams in cells hit
    twice go on: every repeated bigram, and the few unique ones that share a
    cell. Those candidates are scattered into partitions by the hash's top
    bits (every occurrence of a bigram lands in one partition), and each
    partition is counted exactly in its own cache-resident table. Random or
    repeat-free text thus touches a few bytes per token, not a copy of every
    bigram.
    """
    n = s.shape[0]
    k = n - 1
    cell_bits = 7
    while (1 << cell_bits) < _SKETCH_BITS * k:
        cell_bits += 1
    cell_shift = np.uint64(64 - cell_bits)
    low = np.uint64(63)
    one = np.uint64(1)
    # "hit" and "hit twice" words side by side: one cache line per bigram.
    sketch = np.zeros(2 * ((1 << cell_bits) >> 6), np.uint64)
    for i in range(k):
        c = _sketch_cell(_bigram_key(s, i, lo), cell_shift)
        w = 2 * (c >> np.uint64(6))
        bit = one << (c & low)
        sketch[w + 1] |= sketch[w] & bit
        sketch[w] |= bit
    candidates = np.empty(k, np.int32)
    m = 0
    for i in range(k):
        c = _sketch_cell(_bigram_key(s, i, lo), cell_shift)
        candidates[m] = i  # kept when its cell was hit twice (branch-free: the test is a coin flip)
        m += (sketch[2 * (c >> np.uint64(6)) + 1] >> (c & low)) & one
    live = np.zeros(n, np.bool_)
    bits = 0
    while (_PARTITION << bits) < m:
        bits += 1
    parts = 1 << bits
    shift = np.uint64(63 - bits)  # then one more: the top ``bits`` bits, and 0 when there is one partition
    start = np.zeros(parts + 1, np.int64)
    for j in range(m):
        start[(_bigram_hash(_bigram_key(s, candidates[j], lo)) >> shift >> one) + 1] += 1
    largest = 0
    for b in range(parts):
        largest = max(largest, start[b + 1])
        start[b + 1] += start[b]
    fill = start[:parts].copy()
    keys = np.empty(m, np.uint64)
    pos = np.empty(m, np.int32)
    for j in range(m):
        i = candidates[j]
        key = _bigram_key(s, i, lo)
        b = _bigram_hash(key) >> shift >> one
        keys[fill[b]] = key
        pos[fill[b]] = i
        fill[b] += 1
    size = 16
    while size < 2 * largest:
        size *= 2
    tkey = np.empty(size, np.uint64)
    tcnt = np.empty(size, np.uint8)
    slot = np.empty(largest, np.uint64)
    for b in range(parts):
        lo_b, hi_b = start[b], start[b + 1]
        part_size = 16
        while part_size < 2 * (hi_b - lo_b):
            part_size *= 2
        mask = np.uint64(part_size - 1)
        tkey[:part_size] = _EMPTY
        tcnt[:part_size] = 0
        for j in range(lo_b, hi_b):
            h = _slot(tkey, keys[j], mask)
            tkey[h] = keys[j]
            if tcnt[h] < 2:
                tcnt[h] += 1
            slot[j - lo_b] = h
        for j in range(lo_b, hi_b):
            if tcnt[slot[j - lo_b]] >= 2:
                live[pos[j]] = True
                live[pos[j] + 1] = True
    return live


@njit(**JIT_OPTIONS)
def _sorted_repeated_bigram(order, ranks, upper):
    """:func:`_in_repeated_bigram` from the record's dense ranks, for records up to ``_SORT_LIMIT`` tokens.

    ``ranks`` are dense in ``0..upper`` and ``order`` lists the positions by
    rank. A position outside every repeated bigram lies in no repeat of two or
    more tokens, so no strategy can ever replace it. Bigrams ``(i, i + 1)``
    come out ordered by their second token when read through ``order``; one
    stable counting pass on the first token then groups equal bigrams, linear
    for any alphabet.
    """
    n = ranks.shape[0]
    live = np.zeros(n, np.bool_)
    if n < 3 or upper == n - 1:  # every token distinct: nothing repeats
        return live
    count = np.zeros(upper + 2, np.int32)
    for i in range(n - 1):
        count[ranks[i] + 1] += 1
    for d in range(upper + 1):
        count[d + 1] += count[d]
    k = n - 1
    by_pair = np.empty(k, np.int32)
    for t in range(n):
        j = order[t]
        if j > 0:
            r = ranks[j - 1]
            by_pair[count[r]] = j - 1
            count[r] += 1
    for t in range(1, k):
        a = by_pair[t - 1]
        b = by_pair[t]
        if ranks[a] == ranks[b] and ranks[a + 1] == ranks[b + 1]:
            live[a] = True
            live[a + 1] = True
            live[b] = True
            live[b + 1] = True
    return live


@njit(**JIT_OPTIONS)
def _repeat_suffix_array(s):
    """Suffix array and LCP array of ``s`` restricted to where repeats can be.

    Positions in no repeated bigram can be in no repeat of two or more tokens
    (the strategies' only candidates). Each run of them is collapsed to one
    unique sentinel before suffix sorting, so random or repeat-free stretches
    cost a hash-table pass instead of a sort. Returns ``(sa, lcp)``:
    ``sa`` holds positions of ``s`` (every position that can start a repeat,
    and the first of each collapsed run), ordered by their suffixes with the
    runs cut out, and ``lcp[i]`` is the common prefix of ``sa[i - 1]`` and
    ``sa[i]`` there. Common prefixes of two or more tokens are exactly those
    of ``s``, so the LCP intervals of length >= 2 (every repeat, with all of its
    occurrences) are the same as from the full arrays; only their order differs.
    When every position can be in a repeat the result is the full arrays.
    """
    n = s.shape[0]
    if n == 0:
        return np.empty(0, np.int32), np.zeros(0, np.int32)
    # Short records rank every token first (the suffix sort needs it) and read the
    # repeated bigrams off that order; long ones hash, and rank only what they keep.
    hashed = n > _SORT_LIMIT
    if hashed:
        live = _in_repeated_bigram(s)
        ranks, upper = np.empty(0, np.int32), -1
    else:
        order, ranks, upper = _dense_order(s)
        live = _sorted_repeated_bigram(order, ranks, upper)
    runs = 0
    kept = 0
    for i in range(n):
        if live[i]:
            kept += 1
        elif i == 0 or live[i - 1]:
            runs += 1
    if runs == 0:
        if hashed:
            ranks, upper = _dense_ranks(s)
        sa = _sa_is(ranks, upper)
        return sa, _lcp_array(ranks, sa)
    if hashed and kept > 0:
        # An order-preserving renumbering of the kept tokens: the suffix order is the same.
        ranks, upper = _dense_ranks(s[live])
    # Sentinels are 0..runs-1 (each used once), tokens keep their order above them.
    compact = np.empty(kept + runs, np.int32)
    where = np.empty(kept + runs, np.int32)
    m = 0
    run = 0
    j = 0
    for i in range(n):
        if live[i]:
            compact[m] = runs + (ranks[j] if hashed else ranks[i])
            where[m] = i
            j += 1
            m += 1
        elif i == 0 or live[i - 1]:
            compact[m] = run
            where[m] = i
            run += 1
            m += 1
    csa = _sa_is(compact, runs + upper)
    lcp = _lcp_array(compact, csa)
    sa = np.empty(m, np.int32)
    for i in range(m):
        sa[i] = where[csa[i]]
    return sa, lcp


@njit(**JIT_OPTIONS)
def _induce(ts, sum_l, sum_s, lms, sa, buf):
    """Induced sorting (SA-IS's core): place the LMS suffixes in order, then induce L and S suffixes.

    ``ts[i]`` is ``2 * s[i] + (1 if suffix i is S-type else 0)``: one random read
    gives both the bucket and the type of the suffix being induced.
    """
    n = ts.shape[0]
    sa[:] = -1
    buf[:] = sum_s
    for d in lms:
        if d == n:
            continue
        c = ts[d] >> 1
        sa[buf[c]] = d
        buf[c] += 1
    buf[:] = sum_l
    c = ts[n - 1] >> 1
    sa[buf[c]] = n - 1
    buf[c] += 1
    for i in range(n):
        v = sa[i] - 1
        if v >= 0:
            x = ts[v]
            if not x & 1:
                c = x >> 1
                sa[buf[c]] = v
                buf[c] += 1
    buf[:] = sum_l
    for i in range(n - 1, -1, -1):
        v = sa[i] - 1
        if v >= 0:
            x = ts[v]
            if x & 1:
                c = (x >> 1) + 1
                buf[c] -= 1
                sa[buf[c]] = v


#: Inputs of fewer suffixes than this are sorted directly (:func:`_sort_suffixes_directly`), at
#: every level of SA-IS's recursion: below it the type and bucket arrays, two induced sorts
#: and their allocations cost more than comparing the suffixes. The repeat suffix array of
#: the benchmark corpora cut into 32-token records went from 1.93-1.96 to 1.51-1.56 us a
#: record (64-token records: 3.65 to 3.24-3.29), side by side.
_NAIVE_LIMIT = 32


@njit(**LEAF_JIT_OPTIONS)
def _sort_suffixes_directly(s, sa):
    """Write the suffix array of a short ``s`` into ``sa`` by insertion sort of its suffixes.

    A suffix that is a prefix of another sorts first (the implicit smallest
    sentinel after the end, as in :func:`_sa_is`). Quadratic comparisons, each
    up to the record's length: for ``_NAIVE_LIMIT`` suffixes at most a few
    thousand steps, whatever the input.
    """
    n = s.shape[0]
    for i in range(n):
        sa[i] = i
    for i in range(1, n):
        cur = i  # sa[i] still; sa[:i] holds the suffixes before it, sorted
        j = i
        while j > 0:
            prev = sa[j - 1]
            a = prev
            b = cur
            while b < n and s[a] == s[b]:  # prev < cur: cur's suffix is the shorter one
                a += 1
                b += 1
            # prev's suffix is larger than cur's iff cur's ended first or is smaller at the first difference.
            if b < n and s[a] < s[b]:
                break
            sa[j] = prev
            j -= 1
        sa[j] = cur


@njit(**JIT_OPTIONS)
def _sa_is(s, upper):
    """SA-IS (Nong, Zhang and Chan 2009) over values ``0..upper``, no sentinel needed.

    Follows the AtCoder Library's formulation: L/S types with an implicit
    smallest sentinel after the end, one induced sort to order the LMS
    substrings, a recursive call on their names when two are equal, and a
    final induced sort from the ordered LMS suffixes.
    """
    n = s.shape[0]
    sa = np.empty(n, np.int32)
    if n < _NAIVE_LIMIT:
        _sort_suffixes_directly(s, sa)
        return sa
    # ts[i] = 2 * s[i] + type, type 1 for S (suffix i smaller than suffix i + 1), 0 for L;
    # the last suffix is L (an implicit smallest sentinel follows). Bucket sizes on the way.
    # uint32: ranks up to 2**31 - 1 (the longest record's) still fit doubled, plus the type bit.
    ts = np.empty(n, np.uint32)
    sum_l = np.zeros(upper + 2, np.int32)
    sum_s = np.zeros(upper + 2, np.int32)
    ts[n - 1] = 2 * s[n - 1]
    sum_s[s[n - 1]] += 1
    for i in range(n - 2, -1, -1):
        a = s[i]
        b = s[i + 1]
        t = ts[i + 1] & 1 if a == b else (1 if a < b else 0)
        ts[i] = 2 * a + t
        if t:
            sum_l[a + 1] += 1
        else:
            sum_s[a] += 1
    for i in range(upper + 1):
        sum_s[i] += sum_l[i]
        if i < upper:
            sum_l[i + 1] += sum_s[i]
    buf = np.empty(upper + 2, np.int32)
    lms_map = np.full(n + 1, -1, np.int32)
    lms = np.empty(n >> 1, np.int32)  # LMS positions: an L before each, so at most n / 2
    m = 0
    for i in range(1, n):
        if ts[i] & 1 and not ts[i - 1] & 1:
            lms_map[i] = m
            lms[m] = i
            m += 1
    lms = lms[:m]
    _induce(ts, sum_l, sum_s, lms, sa, buf)
    if m == 0:
        return sa
    sorted_lms = np.empty(m, np.int32)
    k = 0
    for i in range(n):
        v = sa[i]
        if lms_map[v] != -1:
            sorted_lms[k] = v
            k += 1
    rec_s = np.empty(m, np.int32)
    rec_upper = np.int64(0)  # not the literal 0: the recursive call would compile for that type too
    rec_s[lms_map[sorted_lms[0]]] = 0
    for i in range(1, m):
        left = sorted_lms[i - 1]
        right = sorted_lms[i]
        end_l = lms[lms_map[left] + 1] if lms_map[left] + 1 < m else n
        end_r = lms[lms_map[right] + 1] if lms_map[right] + 1 < m else n
        same = True
        if end_l - left != end_r - right:
            same = False
        else:
            while left < end_l:
                if s[left] != s[right]:
                    break
                left += 1
                right += 1
            if left == n or s[left] != s[right]:
                same = False
        if not same:
            rec_upper += 1
        rec_s[lms_map[sorted_lms[i]]] = rec_upper
    if rec_upper + 1 == m:  # every LMS substring distinct: their order is final
        for i in range(m):
            sorted_lms[rec_s[i]] = lms[i]
    else:
        rec_sa = _sa_is(rec_s, rec_upper)
        for i in range(m):
            sorted_lms[i] = lms[rec_sa[i]]
    _induce(ts, sum_l, sum_s, sorted_lms, sa, buf)
    return sa


@njit(**JIT_OPTIONS)
def _lcp_array(s, sa):
    """Kasai et al.: ``lcp[i]`` = common prefix of suffixes ``sa[i-1]``, ``sa[i]``; ``lcp[0] = 0``."""
    n = s.shape[0]
    lcp = np.zeros(n, np.int32)
    rank = np.empty(n, np.int32)
    for i in range(n):
        rank[sa[i]] = i
    h = 0
    for i in range(n):
        if rank[i] > 0:
            j = sa[rank[i] - 1]
            while i + h < n and j + h < n and s[i + h] == s[j + h]:
                h += 1
            lcp[rank[i]] = h
            if h > 0:
                h -= 1
        else:
            h = 0
    return lcp


@njit(**JIT_OPTIONS)
def _lcp_intervals(sa, lcp, min_lcp):
    """Bottom-up traversal of the LCP-interval tree (Abouelhoda et al. 2004).

    Reports every interval ``[lb, rb]`` of the suffix array whose common prefix
    length ``ell >= min_lcp``, i.e. every internal node of the suffix tree, with
    its parent's prefix length and the smallest and largest text positions it
    holds (propagated bottom-up in O(n)).

    Returns:
        ``(ell, parent_ell, lb, rb, min_pos, max_pos)``, six int32 arrays.
    """
    n = sa.shape[0]
    cap = max(n, 1)
    out_ell = np.empty(cap, np.int32)
    out_parent = np.empty(cap, np.int32)
    out_lb = np.empty(cap, np.int32)
    out_rb = np.empty(cap, np.int32)
    out_min = np.empty(cap, np.int32)
    out_max = np.empty(cap, np.int32)
    m = 0
    st_lcp = np.empty(n + 1, np.int32)
    st_lb = np.empty(n + 1, np.int32)
    st_min = np.empty(n + 1, np.int32)
    st_max = np.empty(n + 1, np.int32)
    top = 0
    st_lcp[0] = 0
    st_lb[0] = 0
    st_min[0] = np.iinfo(np.int32).max
    st_max[0] = -1
    for i in range(1, n + 1):
        leaf = sa[i - 1]
        if leaf < st_min[top]:
            st_min[top] = leaf
        if leaf > st_max[top]:
            st_max[top] = leaf
        ell = lcp[i] if i < n else 0
        lb = i - 1
        carry_min = leaf
        carry_max = leaf
        while ell < st_lcp[top]:
            node_lcp = st_lcp[top]
            node_lb = st_lb[top]
            node_min = st_min[top]
            node_max = st_max[top]
            top -= 1
            parent = ell if ell > st_lcp[top] else st_lcp[top]
            if node_lcp >= min_lcp:
                out_ell[m] = node_lcp
                out_parent[m] = parent
                out_lb[m] = node_lb
                out_rb[m] = i - 1
                out_min[m] = node_min
                out_max[m] = node_max
                m += 1
            lb = node_lb
            if ell <= st_lcp[top]:
                if node_min < st_min[top]:
                    st_min[top] = node_min
                if node_max > st_max[top]:
                    st_max[top] = node_max
            else:
                carry_min = node_min
                carry_max = node_max
        if ell > st_lcp[top]:
            top += 1
            st_lcp[top] = ell
            st_lb[top] = lb
            st_min[top] = carry_min
            st_max[top] = carry_max
    return out_ell[:m], out_parent[:m], out_lb[:m], out_rb[:m], out_min[:m], out_max[:m]


def _as_sequence(s: np.ndarray) -> np.ndarray:
    s = np.asarray(s)
    if s.ndim != 1:
        raise ValueError(f"expected a 1-D sequence, got shape {s.shape}")
    if not np.issubdtype(s.dtype, np.integer):
        raise TypeError(f"expected an integer sequence, got dtype {s.dtype}")
    return s.astype(np.int64, copy=False)


def suffix_array(s: np.ndarray) -> np.ndarray:
    """Return the suffix array of ``s`` (int32 positions, lexicographic order of suffixes)."""
    s = _as_sequence(s)
    sa = _suffix_array(s)
    assert sa.shape == s.shape
    return sa


def lcp_array(s: np.ndarray, sa: np.ndarray) -> np.ndarray:
    """Return Kasai's LCP array for ``s`` and its suffix array ``sa``."""
    s = _as_sequence(s)
    sa = np.asarray(sa, dtype=np.int32)
    if sa.shape != s.shape:
        raise ValueError(f"suffix array shape {sa.shape} does not match sequence shape {s.shape}")
    return _lcp_array(s, sa)


def repeat_suffix_array(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(sa, lcp)`` over the positions of ``s`` that can be in a repeat (see :func:`_repeat_suffix_array`)."""
    return _repeat_suffix_array(_as_sequence(s))


def lcp_intervals(sa: np.ndarray, lcp: np.ndarray, *, min_lcp: int = 1) -> tuple[np.ndarray, ...]:
    """Enumerate LCP intervals (suffix-tree internal nodes) with prefix length >= ``min_lcp``.

    Returns:
        ``(ell, parent_ell, lb, rb, min_pos, max_pos)`` int32 arrays, one entry per interval.
    """
    sa = np.asarray(sa, dtype=np.int32)
    lcp = np.asarray(lcp, dtype=np.int32)
    if sa.ndim != 1 or sa.shape != lcp.shape:
        raise ValueError(f"sa and lcp must be 1-D of equal shape, got {sa.shape} and {lcp.shape}")
    if min_lcp < 1:
        raise ValueError(f"min_lcp must be >= 1, got {min_lcp}")
    return _lcp_intervals(sa, lcp, min_lcp)
