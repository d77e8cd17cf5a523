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
"""

from __future__ import annotations

import numpy as np
from numba import njit

from numba_kernels.config import JIT_OPTIONS

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


@njit(**JIT_OPTIONS)
def _span_hash(w, src, length):
    """Polynomial hash of ``w[src:src + length]`` (mod 2**64), the one :func:`_prefix_hashes` slices."""
    h = _U(0)
    for i in range(length):
        h = h * _MUL + _U(w[src + i] + 1)
    return h


@njit(**JIT_OPTIONS)
def _prefix_hashes(w, src, length, out):
    """``out[i]`` = hash of ``w[src:src + i]`` for ``0 <= i <= length``."""
    h = _U(0)
    out[0] = h
    for i in range(length):
        h = h * _MUL + _U(w[src + i] + 1)
        out[i + 1] = h


@njit(**JIT_OPTIONS)
def _same(w, a, b, length):
    """Whether ``w[a:a + length] == w[b:b + length]``."""
    for i in range(length):
        if w[a + i] != w[b + i]:
            return False
    return True


@njit(**JIT_OPTIONS)
def _lookup(table, ehash, entry_len, entry_src, removed, w, h, src, length, mask):
    """The live entry whose definition equals ``w[src:src + length]`` (hash ``h``), or -1."""
    k = _slot(h, length, mask)
    while table[k] >= 0:
        j = table[k]
        if ehash[j] == h and entry_len[j] == length and not removed[j] and _same(w, entry_src[j], src, length):
            return j
        k = (k + 1) & mask
    return -1


@njit(**JIT_OPTIONS)
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
    new_index = np.full(total, -1, np.int64)
    k = 0
    for j in range(total):
        if not removed[j]:
            new_index[j] = k
            k += 1
    out_len = np.empty(k, np.int64)
    out_src = np.empty(k, np.int64)
    out_gain = np.empty(k, np.int64)
    for j in range(total):
        if not removed[j]:
            out_len[new_index[j]] = e_len[j]
            out_src[new_index[j]] = e_src[j]
            out_gain[new_index[j]] = (e_len[j] - 1) * uses[j] - (e_len[j] + 1)
    for p in range(n):
        if occ[p] >= 0:
            occ[p] = new_index[occ[p]]
    return occ, out_len, out_src, out_gain
