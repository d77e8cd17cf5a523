"""A binary max-heap of candidate indices whose keys travel with them.

Order: larger ``key`` first, then smaller ``first`` (the earlier occurrence).
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
def _above(key_a, first_a, key_b, first_b):
    """True when an entry with keys ``(key_a, first_a)`` ranks strictly before one with ``(key_b, first_b)``."""
    return key_a > key_b or (key_a == key_b and first_a < first_b)


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
        if not _above(key, first, hk[parent], hf[parent]):
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
        if right < n and _above(hk[right], hf[right], hk[child], hf[child]):
            child = right
        if not _above(hk[child], hf[child], key, first):
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
