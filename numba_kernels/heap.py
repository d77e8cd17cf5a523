"""A binary max-heap of candidate indices ordered by three integer keys.

Order: larger ``k1`` first, then larger ``k2``, then smaller ``k3``. Keys live
in caller-owned arrays indexed by candidate, so updating a candidate's key and
re-pushing it is cheap (lazy greedy).
"""

from __future__ import annotations

from numba import njit

from numba_kernels.config import JIT_OPTIONS


@njit(inline="always", **JIT_OPTIONS)
def _before(a, b, k1, k2, k3):
    """True when candidate ``a`` ranks strictly before candidate ``b``."""
    if k1[a] != k1[b]:
        return k1[a] > k1[b]
    if k2[a] != k2[b]:
        return k2[a] > k2[b]
    return k3[a] < k3[b]


@njit(**JIT_OPTIONS)
def _heap_push(heap, size, c, k1, k2, k3):
    i = size
    heap[i] = c
    while i > 0:
        parent = (i - 1) >> 1
        if _before(heap[i], heap[parent], k1, k2, k3):
            tmp = heap[i]
            heap[i] = heap[parent]
            heap[parent] = tmp
            i = parent
        else:
            break
    return size + 1


@njit(**JIT_OPTIONS)
def _sift_down(heap, size, i, k1, k2, k3):
    while True:
        left = 2 * i + 1
        if left >= size:
            return
        best = left
        right = left + 1
        if right < size and _before(heap[right], heap[left], k1, k2, k3):
            best = right
        if _before(heap[best], heap[i], k1, k2, k3):
            tmp = heap[i]
            heap[i] = heap[best]
            heap[best] = tmp
            i = best
        else:
            return


@njit(**JIT_OPTIONS)
def _heap_pop(heap, size, k1, k2, k3):
    """Remove the top; returns the new size (the popped index was ``heap[0]`` before the call)."""
    size -= 1
    heap[0] = heap[size]
    _sift_down(heap, size, 0, k1, k2, k3)
    return size


@njit(**JIT_OPTIONS)
def _heapify(heap, size, k1, k2, k3):
    for i in range((size >> 1) - 1, -1, -1):
        _sift_down(heap, size, i, k1, k2, k3)
