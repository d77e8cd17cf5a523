"""The greedy's candidate queue: a binary max-heap behind a sorted run of the initial entries.

In the heap, each candidate index travels with its keys.

Order: larger ``key`` first, then smaller ``first`` (the earlier occurrence), then
the smaller candidate index: a total order, so the pop sequence does not depend
on the heap's shape (or on whether the entries came from a heap at all).
Each slot holds its candidate's keys inline (three parallel arrays), so a sift
compares values already in hand instead of chasing candidate indices into
per-candidate key arrays; sifts move a hole instead of swapping.

:func:`_heapsort` is the plain in-place heapsort of one array, for leaf kernels
that must not allocate (``ndarray.sort`` does).

Callers pack several orderings into ``key``: the savings greedy uses
``gain << 31 | length`` (records are shorter than 2**31 tokens, so both fit).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from numba_kernels.config import JIT_OPTIONS, LEAF_JIT_OPTIONS

#: Bits reserved for the secondary key in a packed ``primary << _KEY_SHIFT | secondary`` key.
KEY_SHIFT = 31

_U = np.uint64


@njit(inline="always", **JIT_OPTIONS)
def _above(key_a, first_a, c_a, key_b, first_b, c_b):
    """True when entry ``(key_a, first_a, c_a)`` ranks strictly before ``(key_b, first_b, c_b)``."""
    return key_a > key_b or (key_a == key_b and (first_a < first_b or (first_a == first_b and c_a < c_b)))


@njit(inline="always", **JIT_OPTIONS)
def _put(hk, hf, hc, i, key, first, c):
    hk[i] = key
    hf[i] = first
    hc[i] = c


@njit(**LEAF_JIT_OPTIONS)
def _heap_push(hk, hf, hc, size, key, first, c):
    """Insert candidate ``c`` with its keys; returns the new size."""
    # Unsigned slots: no negative-index wraparound code in the loop (see _sift_down).
    h = _U(size)
    while h > _U(0):
        parent = (h - _U(1)) >> _U(1)
        if not _above(key, first, c, hk[parent], hf[parent], hc[parent]):
            break
        _put(hk, hf, hc, h, hk[parent], hf[parent], hc[parent])
        h = parent
    _put(hk, hf, hc, h, key, first, c)
    return size + 1


@njit(**LEAF_JIT_OPTIONS)
def _sift_down(hk, hf, hc, size, i):
    """Move the entry in slot ``i`` down the heap ``[:size]`` to its place.

    Slots are unsigned, so Numba emits no negative-index wraparound for the
    five array reads per level (a signed index costs a shift, a mask and an
    add each); the greedy pops nearly every candidate it pushes, so this loop
    is a good part of its time.
    """
    n = _U(size)
    h = _U(i)
    key = hk[h]
    first = hf[h]
    c = hc[h]
    while True:
        child = h + h + _U(1)
        if child >= n:
            break
        right = child + _U(1)
        if right < n and _above(hk[right], hf[right], hc[right], hk[child], hf[child], hc[child]):
            child = right
        if not _above(hk[child], hf[child], hc[child], key, first, c):
            break
        _put(hk, hf, hc, h, hk[child], hf[child], hc[child])
        h = child
    _put(hk, hf, hc, h, key, first, c)


@njit(**LEAF_JIT_OPTIONS)
def _heap_pop(hk, hf, hc, size):
    """Remove the top; returns the new size (read ``hc[0]`` and its keys before the call)."""
    size -= 1
    if size > 0:
        _put(hk, hf, hc, 0, hk[size], hf[size], hc[size])
        _sift_down(hk, hf, hc, size, 0)
    return size


@njit(**LEAF_JIT_OPTIONS)
def _heapify(hk, hf, hc, size):
    for i in range((size >> 1) - 1, -1, -1):
        _sift_down(hk, hf, hc, size, i)


@njit(inline="always", **LEAF_JIT_OPTIONS)
def _sift(a, i, end):
    """Move ``a[i]`` down the max-heap ``a[:end]`` to its place."""
    v = a[i]
    while True:
        child = 2 * i + 1
        if child >= end:
            break
        if child + 1 < end and a[child + 1] > a[child]:
            child += 1
        if a[child] <= v:
            break
        a[i] = a[child]
        i = child
    a[i] = v


@njit(**LEAF_JIT_OPTIONS)
def _heapsort(a, count):
    """Sort ``a[:count]`` in place, ascending, without allocating."""
    for start in range((count >> 1) - 1, -1, -1):
        _sift(a, start, count)
    for end in range(count - 1, 0, -1):
        t = a[0]
        a[0] = a[end]
        a[end] = t
        _sift(a, 0, end)


# --------------------------------------------------------------------------------------
# A sorted run in front of the heap
# --------------------------------------------------------------------------------------
#
# The savings greedy pushes every candidate once, then pops nearly all of them and
# pushes back only a few (re-scored ones, 10-15% of the initial count on the benchmark
# corpora): most of the heap's work is a heapsort of the initial entries. Instead they
# are packed into 64-bit values and sorted once, and the few re-pushed entries go to the
# heap. Popping takes the better of the run's head and the heap's top; with the total
# order of _above, the sequence is exactly the heap's alone. The sort is an LSD radix sort
# on only the bits the entries use (4-6 passes of 8 bits for records of thousands of
# tokens): branch-free, where a quicksort's comparisons of packed keys mispredict about
# half the time (side by side on 5000 entries: 13 vs 41 ns each).

#: Digit of :func:`_radix_sort`, in bits, and its bucket count.
_DIGIT = 8
_RADIX = 1 << _DIGIT

#: Most entries a sorted run takes. Past it the heap takes them all, as before the run existed: its
#: heapify is one linear pass, and the degenerate records that have that many candidates (one id
#: repeated a million times) stop after a few pops, where a sort would pass over every entry 6-8
#: times (side by side on a 1M-token run of one id: 80 ns/token with the heap, 135 with the run).
_RUN_LIMIT = 1 << 16

#: The layout of an empty run (no entries, or fields too wide to pack).
_NO_RUN = (np.int64(0),) * 8


@njit(inline="always", **JIT_OPTIONS)
def _bit_width(x):
    """Bits needed for the non-negative integer ``x`` (0 for 0)."""
    b = 0
    while x > 0:
        b += 1
        x >>= 1
    return b


@njit(**LEAF_JIT_OPTIONS)
def _radix_sort(a, count, buf, counts, bits):
    """Sort the uint64 values ``a[:count]`` in place by their low ``bits`` bits (the others must be 0).

    LSD radix sort, ``_DIGIT`` bits per stable counting pass; ``buf`` holds ``count`` values of
    scratch, ``counts`` ``_RADIX + 1``.
    """
    src = a
    dst = buf
    passes = 0
    for shift in range(0, bits, _DIGIT):
        counts[:] = 0
        for i in range(count):
            counts[((src[i] >> _U(shift)) & _U(_RADIX - 1)) + _U(1)] += 1
        for d in range(_RADIX):
            counts[d + 1] += counts[d]
        for i in range(count):
            v = src[i]
            d = (v >> _U(shift)) & _U(_RADIX - 1)
            dst[counts[d]] = v
            counts[d] += 1
        src, dst = dst, src
        passes += 1
    if passes & 1:  # the sorted values are in buf
        for i in range(count):
            a[i] = buf[i]


@njit(**JIT_OPTIONS)
def _sorted_run(hk, hf, hc, size, ncand, out):
    """Sort the entries ``hk/hf/hc[:size]`` into ``out`` as packed values, ascending in heap order.

    Keys are ``primary << KEY_SHIFT | secondary`` with both parts non-negative; candidate
    indices are below ``ncand``. Each value packs ``(pmax - primary, smax - secondary, first,
    c)`` in as few bits as the entries need, so ascending order is ``_above``'s order.

    Returns:
        ``(count, layout)``: the entries in ``out[:count]`` and the field layout for
        :func:`_run_entry`; ``count`` is 0 (and the entries stay in ``hk/hf/hc``) when ``size`` is 0
        or above ``_RUN_LIMIT``, or when the fields need more than 64 bits together.
    """
    if size == 0 or size > _RUN_LIMIT:
        return 0, _NO_RUN
    low = (np.int64(1) << KEY_SHIFT) - 1
    pmin = pmax = hk[0] >> KEY_SHIFT
    smin = smax = hk[0] & low
    fmax = np.int64(0)
    for i in range(size):
        p = hk[i] >> KEY_SHIFT
        s = hk[i] & low
        pmin = min(pmin, p)
        pmax = max(pmax, p)
        smin = min(smin, s)
        smax = max(smax, s)
        fmax = max(fmax, np.int64(hf[i]))
    bc = _bit_width(np.int64(ncand))
    bf = _bit_width(fmax)
    bs = _bit_width(smax - smin)
    bp = _bit_width(pmax - pmin)
    if bc + bf + bs + bp > 64:
        return 0, _NO_RUN
    f_shift = bc
    s_shift = bc + bf
    p_shift = bc + bf + bs
    for i in range(size):
        out[i] = (
            (_U(pmax - (hk[i] >> KEY_SHIFT)) << _U(p_shift))
            | (_U(smax - (hk[i] & low)) << _U(s_shift))
            | (_U(hf[i]) << _U(f_shift))
            | _U(hc[i])
        )
    _radix_sort(out, size, np.empty(size, np.uint64), np.empty(_RADIX + 1, np.int64), bc + bf + bs + bp)
    one = np.int64(1)
    masks = ((one << bf) - 1, (one << bs) - 1, (one << bc) - 1)
    return size, (pmax, np.int64(p_shift), smax, np.int64(s_shift), np.int64(f_shift), masks[0], masks[1], masks[2])


@njit(inline="always", **LEAF_JIT_OPTIONS)
def _run_entry(run, i, layout):
    """``(key, first, c)`` of the packed entry ``run[i]``."""
    pmax, p_shift, smax, s_shift, f_shift, f_mask, s_mask, c_mask = layout
    v = run[i]
    primary = pmax - np.int64(v >> _U(p_shift))
    secondary = smax - np.int64((v >> _U(s_shift)) & _U(s_mask))
    first = np.int64((v >> _U(f_shift)) & _U(f_mask))
    return primary << KEY_SHIFT | secondary, first, np.int64(v & _U(c_mask))


@njit(**LEAF_JIT_OPTIONS)
def _heap_first(run, head, count, layout, hk, hf, hc, size):
    """Whether the next entry to pop is the heap's top (else the run's ``head``); the queue must not be empty."""
    if head >= count:
        return True
    if size == 0:
        return False
    key, first, c = _run_entry(run, head, layout)
    return _above(hk[0], hf[0], hc[0], key, first, c)


@njit(**LEAF_JIT_OPTIONS)
def _queued_above(run, head, count, layout, hk, hf, hc, size, key, first, c):
    """Whether some queued entry, in the run or the heap, ranks strictly before ``(key, first, c)``."""
    if size > 0 and _above(hk[0], hf[0], hc[0], key, first, c):
        return True
    if head < count:
        k, f, d = _run_entry(run, head, layout)
        return _above(k, f, d, key, first, c)
    return False


@njit(inline="always", **JIT_OPTIONS)
def _run_candidate(run, i, layout):
    """The candidate index of the packed entry ``run[i]``."""
    return np.int64(run[i] & _U(layout[7]))
