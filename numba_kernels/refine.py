"""Refinement of a finished flat parse: dissolve entries that their own pieces serve better.

A greedy takes a long repeat used twice, ``" href="`` + ``indexam.html" title="Chapter 64 ...``,
while a piece of it, ``" href="``, is an entry of its own used four more
times. Splitting the long entry at that piece moves two uses to the short
entry (each saves ``len(piece) - 1`` tokens instead of ``len(piece)`` inside
the long one) and shortens the definition by the piece: a net gain of
``len(piece) - K`` tokens. The greedy never finds this, because it judged the
long repeat before the short one's extra uses existed; an exact optimum of
the flat problem does (benchmarks/results/ilp_gap.md, html windows 0, 2, 12, 18).

:func:`_dissolve` tries that move for every entry of a parse: the entry's
definition ``D`` (used ``K`` times) is re-parsed, optimally, into the other
entries plus new entries for the gaps between them, where using an existing
entry inside ``D`` saves ``K * (len - 1)`` and a new gap entry of length ``g``
saves ``(g - 1) * K - (g + 1)``. When that beats ``D``'s own gain, every
occurrence of ``D`` is rewritten that way and ``D`` leaves the dictionary.
The parse stays flat and valid and its total gain strictly grows with every
move; occurrences elsewhere in the record are untouched.

:func:`_with_run_family` targets what is left on source code: indentation.
GPT-2 splits it into one token per space, so every indentation level is a
run of one token after a newline. The greedy takes the most frequent run
lengths one at a time (11 spaces, then 4); the exact optimum covers every
level with a few shared pieces (newline + 3, newline + 7 and an 8-space block
cover levels of 3, 7, 11 and 15). Here the entries for runs of the record's
most run-heavy token are chosen together, by local search over the record's
histogram of (token before the run, run length) with an exact knapsack
objective (:func:`_family_value`), replace the parse's own run entries, and
the whole dictionary is re-placed optimally (:func:`_reparse`); the result
is kept when it saves more.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from numba_kernels.config import JIT_OPTIONS, LEAF_JIT_OPTIONS

_MUL = np.uint64(0x9E3779B97F4A7C15)
_U = np.uint64

#: DP transitions of one position of a definition: a plain token, the end of a gap, the end of an entry.
_RAW = 0
_GAP = 1
_ENTRY = 2


@njit(inline="always", **JIT_OPTIONS)
def _slot(h, length, mask):
    """Hash-table slot of a span hash and its length."""
    x = (h ^ (_U(length) * _U(0xBF58476D1CE4E5B9))) * _MUL
    return np.int64((x >> _U(32)) & _U(mask))


@njit(**LEAF_JIT_OPTIONS)
def _span_hash(w, src, length):
    """Polynomial hash of ``w[src:src + length]`` (mod 2**64), the one :func:`_prefix_hashes` slices."""
    h = _U(0)
    for i in range(length):
        h = h * _MUL + _U(w[src + i] + 1)
    return h


@njit(**LEAF_JIT_OPTIONS)
def _prefix_hashes(w, src, length, out):
    """``out[i]`` = hash of ``w[src:src + i]`` for ``0 <= i <= length``."""
    h = _U(0)
    out[0] = h
    for i in range(length):
        h = h * _MUL + _U(w[src + i] + 1)
        out[i + 1] = h


@njit(**LEAF_JIT_OPTIONS)
def _same(w, a, b, length):
    """Whether ``w[a:a + length] == w[b:b + length]``."""
    for i in range(length):
        if w[a + i] != w[b + i]:
            return False
    return True


@njit(**LEAF_JIT_OPTIONS)
def _lookup(table, ehash, entry_len, entry_src, removed, w, h, src, length, mask):
    """The live entry whose definition equals ``w[src:src + length]`` (hash ``h``), or -1."""
    k = _slot(h, length, mask)
    while table[k] >= 0:
        j = table[k]
        if ehash[j] == h and entry_len[j] == length and not removed[j] and _same(w, entry_src[j], src, length):
            return j
        k = (k + 1) & mask
    return -1


@njit(**LEAF_JIT_OPTIONS)
def _insert(table, ehash, entry_len, j, mask):
    """Add entry ``j`` (hash ``ehash[j]``) to the table."""
    k = _slot(ehash[j], entry_len[j], mask)
    while table[k] >= 0:
        k = (k + 1) & mask
    table[k] = j


@njit(**JIT_OPTIONS)
def _lengths_present(len_count):
    """Ascending distinct lengths with a live entry."""
    out = np.empty(len_count.shape[0], np.int64)
    k = 0
    for length in range(2, len_count.shape[0]):
        if len_count[length] > 0:
            out[k] = length
            k += 1
    return out[:k]


@njit(**JIT_OPTIONS)
def _kept_index(keep):
    """New index of each kept entry (order preserved), -1 for dropped ones."""
    out = np.full(keep.shape[0], -1, np.int64)
    k = 0
    for j in range(keep.shape[0]):
        if keep[j]:
            out[j] = k
            k += 1
    return out


@njit(**JIT_OPTIONS)
def _compacted(keep, lengths, sources, uses):
    """The kept entries in order, each gain recomputed from its uses: ``(new_index, lengths, sources, gains)``."""
    new_index = _kept_index(keep)
    k = 0
    for j in range(keep.shape[0]):
        k += keep[j]
    out_len = np.empty(k, np.int64)
    out_src = np.empty(k, np.int64)
    out_gain = np.empty(k, np.int64)
    for j in range(keep.shape[0]):
        if keep[j]:
            e = new_index[j]
            out_len[e] = lengths[j]
            out_src[e] = sources[j]
            out_gain[e] = (lengths[j] - 1) * uses[j] - (lengths[j] + 1)
    return new_index, out_len, out_src, out_gain


@njit(**JIT_OPTIONS)
def _dissolve(w, occ, entry_len, entry_src, entry_gain, pool, budget):
    """Dissolve every entry whose definition is served better by other entries and new gap entries.

    ``occ``, ``entry_len``, ``entry_src``, ``entry_gain`` describe a flat parse of
    ``w`` (``numba_kernels.select``); the entries are tried once each, in
    order, and a move applies at once, so later ones see its new uses. At most
    ``pool`` entries are live at any time. ``budget`` bounds the definition
    positions times entry lengths examined (-1: none); past it the remaining
    entries are left as they are.

    Returns:
        ``(occ, entry_len, entry_src, entry_gain)`` of the refined parse (``occ``
        rewritten in place): the entries kept in their order, then the new ones,
        each gain recomputed from its uses.
    """
    m = entry_len.shape[0]
    if m == 0:
        return occ, entry_len, entry_src, entry_gain
    n = w.shape[0]
    cap = 2 * m + 16  # entries ever created, the originals included
    e_len = np.zeros(cap, np.int64)
    e_src = np.zeros(cap, np.int64)
    e_len[:m] = entry_len
    e_src[:m] = entry_src
    uses = np.zeros(cap, np.int64)
    removed = np.zeros(cap, np.bool_)
    # Occurrences per entry as linked lists through the positions (order does not matter).
    head = np.full(cap, -1, np.int32)
    nxt = np.full(n, -1, np.int32)
    max_len = 0
    for p in range(n - 1, -1, -1):
        j = occ[p]
        if j >= 0:
            nxt[p] = head[j]
            head[j] = p
            uses[j] += 1
    for j in range(m):
        max_len = max(max_len, e_len[j])
    len_count = np.zeros(max_len + 1, np.int64)
    mask = 1
    while mask < 4 * cap:
        mask <<= 1
    table = np.full(mask, -1, np.int32)
    mask -= 1
    ehash = np.zeros(cap, np.uint64)
    for j in range(m):
        ehash[j] = _span_hash(w, e_src[j], e_len[j])
        _insert(table, ehash, e_len, j, mask)
        len_count[e_len[j]] += 1
    lengths = _lengths_present(len_count)
    prefix = np.empty(max_len + 1, np.uint64)
    power = np.empty(max_len + 1, np.uint64)
    power[0] = _U(1)
    for i in range(max_len):
        power[i + 1] = power[i] * _MUL
    f = np.empty(max_len + 1, np.int64)
    kind = np.empty(max_len + 1, np.int8)
    back = np.empty(max_len + 1, np.int64)
    via = np.empty(max_len + 1, np.int64)
    part_at = np.empty(max_len, np.int64)  # offset of each part of the new parse of a definition
    part_entry = np.empty(max_len, np.int64)
    where = np.empty(n, np.int32)  # one entry's occurrences, copied before they are rewritten
    total = m
    live = m
    spent = 0
    for e in range(m):
        k_uses = uses[e]
        length = e_len[e]
        src = e_src[e]
        if k_uses < 2:
            continue
        n_lengths = 0
        while n_lengths < lengths.shape[0] and lengths[n_lengths] <= length:
            n_lengths += 1
        spent += length * (n_lengths + 1)
        if 0 <= budget < spent:
            break
        _prefix_hashes(w, src, length, prefix)
        # A gap of g tokens pays as a new entry when (g - 1) * K > g + 1.
        min_gap = 2
        while (min_gap - 1) * k_uses <= min_gap + 1:
            min_gap += 1
        lin_best = np.int64(-1)  # argmax over j of f[j] - j * (K - 1), for gaps [j, i)
        f[0] = 0
        for i in range(1, length + 1):
            f[i] = f[i - 1]
            kind[i] = _RAW
            j = i - min_gap
            if j >= 0 and (lin_best < 0 or f[j] - j * (k_uses - 1) > f[lin_best] - lin_best * (k_uses - 1)):
                lin_best = j
            if lin_best >= 0:
                value = f[lin_best] + (i - lin_best) * (k_uses - 1) - (k_uses + 1)
                if value > f[i]:
                    f[i] = value
                    kind[i] = _GAP
                    back[i] = lin_best
            for t in range(n_lengths):
                piece = lengths[t]
                if piece > i:
                    break
                h = prefix[i] - prefix[i - piece] * power[piece]
                a = _lookup(table, ehash, e_len, e_src, removed, w, h, src + i - piece, piece, mask)
                if a < 0 or a == e:
                    continue
                value = f[i - piece] + k_uses * (piece - 1)
                if value > f[i]:
                    f[i] = value
                    kind[i] = _ENTRY
                    back[i] = i - piece
                    via[i] = a
        if f[length] <= (length - 1) * k_uses - (length + 1):
            continue
        # The new parse of the definition, as parts (offset, entry; -1 for a gap to create).
        parts = 0
        gaps = 0
        i = length
        while i > 0:
            if kind[i] == _RAW:
                i -= 1
                continue
            part_at[parts] = back[i]
            part_entry[parts] = via[i] if kind[i] == _ENTRY else -(i - back[i]) - 1  # -(gap length) - 1
            gaps += kind[i] == _GAP
            parts += 1
            i = back[i]
        if live - 1 + gaps > pool or total + gaps > cap:
            continue
        count = 0
        q = head[e]
        while q >= 0:
            where[count] = q
            count += 1
            q = nxt[q]
        removed[e] = True
        live -= 1
        len_count[length] -= 1
        head[e] = -1
        uses[e] = 0
        fresh_length = False
        for t in range(parts - 1, -1, -1):  # left to right: new entries' sources are their first use
            at = part_at[t]
            a = part_entry[t]
            if a < 0:
                g = -a - 1
                h = _span_hash(w, src + at, g)
                a = _lookup(table, ehash, e_len, e_src, removed, w, h, src + at, g, mask)
                if a < 0:  # (two equal gaps share one entry)
                    a = total
                    total += 1
                    live += 1
                    e_len[a] = g
                    e_src[a] = src + at
                    ehash[a] = h
                    _insert(table, ehash, e_len, a, mask)
                    fresh_length = fresh_length or len_count[g] == 0
                    len_count[g] += 1
            part_entry[t] = a
            if src + at < e_src[a]:
                e_src[a] = src + at
            for c in range(count):
                p = where[c] + at
                occ[p] = a
                nxt[p] = head[a]
                head[a] = p
            uses[a] += count
        for c in range(count):
            p = where[c]
            if occ[p] == e:  # no part starts at the definition's first token
                occ[p] = -1
        spent += count * parts
        if fresh_length:
            lengths = _lengths_present(len_count)
    if live == m and total == m:
        return occ, entry_len, entry_src, entry_gain
    new_index, out_len, out_src, out_gain = _compacted(~removed[:total], e_len, e_src, uses)
    for p in range(n):
        if occ[p] >= 0:
            occ[p] = new_index[occ[p]]
    return occ, out_len, out_src, out_gain


# --------------------------------------------------------------------------------------
# Re-placing a fixed dictionary, and choosing the entries for runs of one token together
# --------------------------------------------------------------------------------------


@njit(**JIT_OPTIONS)
def _occurrences(sa, lcp, rank, entry_len, entry_src, budget):
    """Every position where each entry's text occurs (overlaps included), grouped by position.

    An entry's occurrences are the suffixes around its source's rank whose
    common prefix with it is at least its length (every entry has two or more
    tokens, and common prefixes of that many are exact in the arrays of
    :func:`numba_kernels.suffix._repeat_suffix_array`); a source outside the
    suffix array starts no repeated bigram, so it is the entry's only
    occurrence. Within a position the entries are in index order.

    Returns:
        ``(start, entry)``: the entries occurring at position ``p`` are
        ``entry[start[p]:start[p + 1]]``; ``start`` is empty when more than
        ``budget`` occurrences (-1: no bound) would be listed.
    """
    n = rank.shape[0]
    m = entry_len.shape[0]
    lo = np.empty(m, np.int64)
    hi = np.empty(m, np.int64)
    total = 0
    for j in range(m):
        length = entry_len[j]
        r = rank[entry_src[j]]
        if r < 0:
            lo[j] = -1
            total += 1
        else:
            a = r
            while a > 0 and lcp[a] >= length:
                a -= 1
            b = r
            while b + 1 < sa.shape[0] and lcp[b + 1] >= length:
                b += 1
            lo[j] = a
            hi[j] = b
            total += b - a + 1
        if 0 <= budget < total:
            return np.empty(0, np.int64), np.empty(0, np.int32)
    start = np.zeros(n + 2, np.int64)
    for j in range(m):
        if lo[j] < 0:
            start[entry_src[j] + 2] += 1
        else:
            for t in range(lo[j], hi[j] + 1):
                start[sa[t] + 2] += 1
    for p in range(n):
        start[p + 2] += start[p + 1]
    entry = np.empty(total, np.int32)
    for j in range(m):  # start[p + 1] is the fill point of position p
        if lo[j] < 0:
            p = entry_src[j]
            entry[start[p + 1]] = j
            start[p + 1] += 1
        else:
            for t in range(lo[j], hi[j] + 1):
                p = sa[t]
                entry[start[p + 1]] = j
                start[p + 1] += 1
    return start[: n + 1], entry


@njit(**JIT_OPTIONS)
def _reparse(w, sa, lcp, entry_len, entry_src, budget):
    """The optimal placement of a fixed flat dictionary over ``w``, dropping entries until all pay.

    A DP over the positions, right to left: at each, no entry or any entry
    whose text starts there (:func:`_occurrences`, read off ``w``'s suffix and
    LCP arrays ``sa, lcp`` from :func:`numba_kernels.suffix._repeat_suffix_array`),
    maximizing the tokens saved ``len - 1`` per occurrence (ties: no entry, then
    the earlier entry). Entries whose uses then do not pay leave and the DP
    runs again. Each entry's source becomes its first placed occurrence.

    Returns:
        ``(occ, entry_len, entry_src, entry_gain, ok)``; ``ok`` is False (and
        the rest meaningless) when the entries occur more than ``budget`` times
        (overlaps included; -1: no bound).
    """
    m = entry_len.shape[0]
    n = w.shape[0]
    occ = np.full(n, -1, np.int32)
    rank = np.full(n, -1, np.int32)
    for r in range(sa.shape[0]):
        rank[sa[r]] = r
    start, entry = _occurrences(sa, lcp, rank, entry_len, entry_src, budget)
    if start.shape[0] == 0:
        return occ, entry_len, entry_src, entry_len, False
    live = np.ones(m, np.bool_)
    f = np.zeros(n + 1, np.int64)
    choice = np.full(n + 1, -1, np.int32)
    uses = np.zeros(m, np.int64)
    while True:
        for i in range(n - 1, -1, -1):
            best = f[i + 1]
            pick = -1
            for t in range(start[i], start[i + 1]):
                j = entry[t]
                if live[j]:
                    v = entry_len[j] - 1 + f[i + entry_len[j]]
                    if v > best:
                        best = v
                        pick = j
            f[i] = best
            choice[i] = pick
        uses[:] = 0
        i = 0
        while i < n:
            if choice[i] >= 0:
                uses[choice[i]] += 1
                i += entry_len[choice[i]]
            else:
                i += 1
        pruned = False
        for j in range(m):
            if live[j] and (entry_len[j] - 1) * uses[j] <= entry_len[j] + 1:
                live[j] = False
                pruned = True
        if not pruned:
            break
    new_index, out_len, out_src, out_gain = _compacted(live, entry_len, entry_src, uses)
    out_src[:] = -1  # each entry's source becomes its first placed occurrence
    i = 0
    while i < n:
        j = choice[i]
        if j >= 0:
            e = new_index[j]
            occ[i] = e
            if out_src[e] < 0:
                out_src[e] = i
            i += entry_len[j]
        else:
            i += 1
    return occ, out_len, out_src, out_gain, True


#: Longest run entry considered (tokens of the run itself); longer runs count as this long in the objective.
_RUN_MAX = 32
#: Most frequent tokens before a run whose "token + run" entries are candidates (a newline before indentation).
_RUN_PREFIXES = 2
#: Bound on the add/remove steps of the family's local search.
_RUN_STEPS = 12


@njit(**JIT_OPTIONS)
def _run_token(w):
    """The token with the most positions in runs of two or more of itself (ties: the smaller id), and that count."""
    n = w.shape[0]
    ids = np.empty(n, np.int64)
    k = 0
    i = 0
    while i < n:
        j = i + 1
        while j < n and w[j] == w[i]:
            j += 1
        if j - i >= 2:
            ids[k : k + j - i] = w[i]
            k += j - i
        i = j
    best = -1
    best_count = 0
    if k == 0:
        return best, best_count
    ids = np.sort(ids[:k])
    i = 0
    while i < k:
        j = i
        while j < k and ids[j] == ids[i]:
            j += 1
        if j - i > best_count:
            best_count = j - i
            best = ids[i]
        i = j
    return best, best_count


@njit(**LEAF_JIT_OPTIONS)
def _family_value(pure, pre_cls, pre_len, chosen, pat_cls, pat_r, pat_count, best, picked):
    """Tokens the chosen run entries save over the run histogram, minus their definitions.

    Pure entries ``t * k`` tile a run by an unbounded knapsack (``best[x]``: most
    saved in ``x`` run tokens); a "prefix + t * k" entry can only start a run
    preceded by its prefix class. ``picked`` is scratch for the chosen indices.
    """
    n_pure = pure.shape[0]
    cost = 0
    n_picked = 0
    for e in range(n_pure):
        if chosen[e]:
            picked[n_picked] = pure[e]
            n_picked += 1
            cost += 1 + pure[e]
    best[0] = 0
    for x in range(1, best.shape[0]):
        v = best[x - 1]
        for q in range(n_picked):
            k = picked[q]
            if k <= x and best[x - k] + k - 1 > v:
                v = best[x - k] + k - 1
        best[x] = v
    n_picked = 0
    for e in range(pre_len.shape[0]):
        if chosen[n_pure + e]:
            picked[n_picked] = e
            n_picked += 1
            cost += 2 + pre_len[e]
    total = 0
    for p in range(pat_r.shape[0]):
        r = pat_r[p]
        v = best[r]
        c = pat_cls[p]
        if c >= 0:
            for q in range(n_picked):
                e = picked[q]
                k = pre_len[e]
                if pre_cls[e] == c and k <= r and k + best[r - k] > v:
                    v = k + best[r - k]
        total += pat_count[p] * v
    return total - cost


@njit(**LEAF_JIT_OPTIONS)
def _best_move(pure, pre_cls, pre_len, chosen, pat_cls, pat_r, pat_count, best, picked, pat_value):
    """The entry whose toggle (add or remove) gives the family its largest value, and that value.

    Exactly what calling :func:`_family_value` once per toggle gives (ties: the
    first entry), but a prefix entry's toggle leaves the pure entries' knapsack
    as it is, so it is computed once per call and only the patterns of that
    entry's class are re-valued. ``pat_value`` is scratch of one value per
    pattern. Returns ``(-1, value of chosen)`` when no toggle raises the value.
    """
    n_pure = pure.shape[0]
    # Leaves ``best`` as the knapsack of the chosen pure entries, which the prefix toggles share.
    current = _family_value(pure, pre_cls, pre_len, chosen, pat_cls, pat_r, pat_count, best, picked)
    for p in range(pat_r.shape[0]):
        pat_value[p] = _pattern_value(pat_cls[p], pat_r[p], pre_cls, pre_len, chosen, n_pure, -1, best)
    pre_move = -1
    pre_value = current
    for e in range(pre_len.shape[0]):
        c = pre_cls[e]
        k = pre_len[e]
        v = current
        if chosen[n_pure + e]:  # removing it: its class's patterns re-valued without it
            v += 2 + k
            for p in range(pat_r.shape[0]):
                if pat_cls[p] == c and k <= pat_r[p]:
                    without = _pattern_value(c, pat_r[p], pre_cls, pre_len, chosen, n_pure, e, best)
                    v -= pat_count[p] * (pat_value[p] - without)
        else:  # adding it: a run of its class may now start with it
            v -= 2 + k
            for p in range(pat_r.shape[0]):
                if pat_cls[p] == c and k <= pat_r[p] and k + best[pat_r[p] - k] > pat_value[p]:
                    v += pat_count[p] * (k + best[pat_r[p] - k] - pat_value[p])
        if v > pre_value:
            pre_move = n_pure + e
            pre_value = v
    move = -1
    move_value = current
    for e in range(n_pure):  # these recompute the knapsack
        chosen[e] = not chosen[e]
        v = _family_value(pure, pre_cls, pre_len, chosen, pat_cls, pat_r, pat_count, best, picked)
        chosen[e] = not chosen[e]
        if v > move_value:
            move = e
            move_value = v
    if pre_value > move_value:  # ties go to the pure entry, the earlier index
        return pre_move, pre_value
    return move, move_value


@njit(inline="always", **LEAF_JIT_OPTIONS)
def _pattern_value(c, r, pre_cls, pre_len, chosen, n_pure, skip, best):
    """Tokens the chosen family saves in one run of ``r`` after prefix class ``c``, prefix entry ``skip`` left out."""
    v = best[r]
    if c >= 0:
        for e in range(pre_len.shape[0]):
            k = pre_len[e]
            if e != skip and chosen[n_pure + e] and pre_cls[e] == c and k <= r and k + best[r - k] > v:
                v = k + best[r - k]
    return v


@njit(**JIT_OPTIONS)
def _run_family(w, t):
    """Run entries for token ``t`` chosen together by local search over the record's run histogram.

    Returns:
        ``(lengths, sources)`` of the chosen entries (``t * k`` or one prefix token + ``t * k``).
    """
    n = w.shape[0]
    # Maximal runs of t, with the token before each.
    run_start = np.empty(n, np.int64)
    run_len = np.empty(n, np.int64)
    runs = 0
    i = 0
    while i < n:
        if w[i] == t:
            j = i
            while j < n and w[j] == t:
                j += 1
            run_start[runs] = i
            run_len[runs] = j - i
            runs += 1
            i = j
        else:
            i += 1
    # The most frequent tokens before runs of two or more (ties: the smaller id).
    before = np.empty(runs, np.int64)
    nb = 0
    for q in range(runs):
        if run_start[q] > 0 and run_len[q] >= 2:
            before[nb] = w[run_start[q] - 1]
            nb += 1
    before = np.sort(before[:nb])
    prefixes = np.full(_RUN_PREFIXES, -1, np.int64)
    counts = np.zeros(_RUN_PREFIXES, np.int64)
    i = 0
    while i < nb:
        j = i
        while j < nb and before[j] == before[i]:
            j += 1
        c = j - i
        for s in range(_RUN_PREFIXES):
            if c > counts[s]:
                for u in range(_RUN_PREFIXES - 1, s, -1):
                    counts[u] = counts[u - 1]
                    prefixes[u] = prefixes[u - 1]
                counts[s] = c
                prefixes[s] = before[i]
                break
        i = j
    # Histogram of (prefix class, run length), and where each candidate entry occurs first.
    hist = np.zeros((_RUN_PREFIXES + 1, _RUN_MAX + 1), np.int64)
    pure_at = np.full(_RUN_MAX + 1, -1, np.int64)
    pre_at = np.full((_RUN_PREFIXES, _RUN_MAX + 1), -1, np.int64)
    for q in range(runs):
        r = min(run_len[q], _RUN_MAX)
        c = -1
        if run_start[q] > 0:
            for s in range(_RUN_PREFIXES):
                if prefixes[s] >= 0 and w[run_start[q] - 1] == prefixes[s]:
                    c = s
        hist[c + 1, r] += 1
        for k in range(2, r + 1):
            if pure_at[k] < 0:
                pure_at[k] = run_start[q]
        if c >= 0:
            for k in range(1, r + 1):
                if pre_at[c, k] < 0:
                    pre_at[c, k] = run_start[q] - 1
    n_pat = 0
    for c in range(_RUN_PREFIXES + 1):
        for r in range(1, _RUN_MAX + 1):
            n_pat += hist[c, r] > 0
    pat_cls = np.empty(n_pat, np.int64)
    pat_r = np.empty(n_pat, np.int64)
    pat_count = np.empty(n_pat, np.int64)
    p = 0
    for c in range(_RUN_PREFIXES + 1):
        for r in range(1, _RUN_MAX + 1):
            if hist[c, r] > 0:
                pat_cls[p] = c - 1
                pat_r[p] = r
                pat_count[p] = hist[c, r]
                p += 1
    n_pure = 0
    for k in range(2, _RUN_MAX + 1):
        n_pure += pure_at[k] >= 0
    pure = np.empty(n_pure, np.int64)
    p = 0
    for k in range(2, _RUN_MAX + 1):
        if pure_at[k] >= 0:
            pure[p] = k
            p += 1
    n_pre = 0
    for c in range(_RUN_PREFIXES):
        for k in range(1, _RUN_MAX + 1):
            n_pre += pre_at[c, k] >= 0
    pre_cls = np.empty(n_pre, np.int64)
    pre_len = np.empty(n_pre, np.int64)
    p = 0
    for c in range(_RUN_PREFIXES):
        for k in range(1, _RUN_MAX + 1):
            if pre_at[c, k] >= 0:
                pre_cls[p] = c
                pre_len[p] = k
                p += 1
    chosen = np.zeros(n_pure + n_pre, np.bool_)
    best = np.empty(_RUN_MAX + 1, np.int64)
    picked = np.empty(chosen.shape[0], np.int64)
    pat_value = np.empty(n_pat, np.int64)
    for _ in range(_RUN_STEPS):  # add or remove one entry at a time
        move, _ = _best_move(pure, pre_cls, pre_len, chosen, pat_cls, pat_r, pat_count, best, picked, pat_value)
        if move < 0:
            break
        chosen[move] = not chosen[move]
    k = 0
    for e in range(chosen.shape[0]):
        k += chosen[e]
    lengths = np.empty(k, np.int64)
    sources = np.empty(k, np.int64)
    k = 0
    for e in range(n_pure):
        if chosen[e]:
            lengths[k] = pure[e]
            sources[k] = pure_at[pure[e]]
            k += 1
    for e in range(n_pre):
        if chosen[n_pure + e]:
            lengths[k] = pre_len[e] + 1
            sources[k] = pre_at[pre_cls[e], pre_len[e]]
            k += 1
    return lengths, sources


@njit(**JIT_OPTIONS)
def _run_shaped(w, src, length, t):
    """Whether an entry is ``t * k`` or one token + ``t * k`` (the family's shapes)."""
    for i in range(1, length):
        if w[src + i] != t:
            return False
    return True


# Inlined: a thin layer above _run_family and _reparse (compile time; the note above _compress_into).
@njit(inline="always", **JIT_OPTIONS)
def _with_run_family(w, sa, lcp, occ, entry_len, entry_src, entry_gain, pool, budget):
    """The parse with its run entries replaced by a family chosen together, re-placed; the better of the two.

    ``sa, lcp`` are ``w``'s arrays from :func:`numba_kernels.suffix._repeat_suffix_array`.
    Records where runs of one token cover less than a sixteenth are left alone.
    """
    n = w.shape[0]
    t, in_runs = _run_token(w)
    if t < 0 or 16 * in_runs < n:
        return occ, entry_len, entry_src, entry_gain
    fam_len, fam_src = _run_family(w, t)
    m = entry_len.shape[0]
    keep = np.empty(m, np.bool_)
    for j in range(m):
        keep[j] = not _run_shaped(w, entry_src[j], entry_len[j], t)
    if fam_len.shape[0] == 0 or keep.sum() + fam_len.shape[0] > pool:
        return occ, entry_len, entry_src, entry_gain
    new_len = np.concatenate((entry_len[keep], fam_len))
    new_src = np.concatenate((entry_src[keep], fam_src))
    r_occ, r_len, r_src, r_gain, ok = _reparse(w, sa, lcp, new_len, new_src, budget)
    if ok and r_gain.sum() > entry_gain.sum():
        return r_occ, r_len, r_src, r_gain
    return occ, entry_len, entry_src, entry_gain
