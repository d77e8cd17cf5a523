"""Suffix array, LCP array and LCP-interval enumeration over integer sequences.

Array contract: sequences are 1-D ``int64`` arrays of arbitrary values (token
ids are non-negative; callers use distinct negative values as sentinels that
must never match). Indices are ``int64``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from numba_kernels.config import JIT_OPTIONS

__all__ = ["suffix_array", "lcp_array", "lcp_intervals"]


@njit(**JIT_OPTIONS)
def _suffix_array(s):
    """Prefix doubling with two stable counting sorts per round: O(n log n)."""
    n = s.shape[0]
    sa = np.empty(n, np.int64)
    if n == 0:
        return sa
    order = np.argsort(s, kind="mergesort")
    rank = np.empty(n, np.int64)
    r = 0
    rank[order[0]] = 0
    for i in range(1, n):
        if s[order[i]] != s[order[i - 1]]:
            r += 1
        rank[order[i]] = r
    for i in range(n):
        sa[i] = order[i]
    tmp = np.empty(n, np.int64)
    by_second = np.empty(n, np.int64)
    count = np.empty(n + 1, np.int64)
    k = 1
    while r < n - 1:
        # Order by the second key rank[i + k]; suffixes shorter than k sort first.
        p = 0
        for i in range(n - k, n):
            by_second[p] = i
            p += 1
        for j in range(n):
            if sa[j] >= k:
                by_second[p] = sa[j] - k
                p += 1
        # Stable counting sort on the first key.
        count[:] = 0
        for i in range(n):
            count[rank[i] + 1] += 1
        for i in range(1, r + 2):
            count[i] += count[i - 1]
        for j in range(n):
            i = by_second[j]
            sa[count[rank[i]]] = i
            count[rank[i]] += 1
        tmp[sa[0]] = 0
        r = 0
        for j in range(1, n):
            a = sa[j - 1]
            b = sa[j]
            ra = rank[a + k] if a + k < n else -1
            rb = rank[b + k] if b + k < n else -1
            if rank[a] != rank[b] or ra != rb:
                r += 1
            tmp[b] = r
        for i in range(n):
            rank[i] = tmp[i]
        k *= 2
    return sa


@njit(**JIT_OPTIONS)
def _lcp_array(s, sa):
    """Kasai et al.: ``lcp[i]`` = common prefix of suffixes ``sa[i-1]``, ``sa[i]``; ``lcp[0] = 0``."""
    n = s.shape[0]
    lcp = np.zeros(n, np.int64)
    rank = np.empty(n, np.int64)
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
        ``(ell, parent_ell, lb, rb, min_pos, max_pos)``, six int64 arrays.
    """
    n = sa.shape[0]
    cap = max(n, 1)
    out_ell = np.empty(cap, np.int64)
    out_parent = np.empty(cap, np.int64)
    out_lb = np.empty(cap, np.int64)
    out_rb = np.empty(cap, np.int64)
    out_min = np.empty(cap, np.int64)
    out_max = np.empty(cap, np.int64)
    m = 0
    st_lcp = np.empty(n + 1, np.int64)
    st_lb = np.empty(n + 1, np.int64)
    st_min = np.empty(n + 1, np.int64)
    st_max = np.empty(n + 1, np.int64)
    top = 0
    st_lcp[0] = 0
    st_lb[0] = 0
    st_min[0] = n
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
    """Return the suffix array of ``s`` (int64 positions, lexicographic order of suffixes)."""
    s = _as_sequence(s)
    sa = _suffix_array(s)
    assert sa.shape == s.shape
    return sa


def lcp_array(s: np.ndarray, sa: np.ndarray) -> np.ndarray:
    """Return Kasai's LCP array for ``s`` and its suffix array ``sa``."""
    s = _as_sequence(s)
    sa = np.asarray(sa, dtype=np.int64)
    if sa.shape != s.shape:
        raise ValueError(f"suffix array shape {sa.shape} does not match sequence shape {s.shape}")
    return _lcp_array(s, sa)


def lcp_intervals(sa: np.ndarray, lcp: np.ndarray, *, min_lcp: int = 1) -> tuple[np.ndarray, ...]:
    """Enumerate LCP intervals (suffix-tree internal nodes) with prefix length >= ``min_lcp``.

    Returns:
        ``(ell, parent_ell, lb, rb, min_pos, max_pos)`` int64 arrays, one entry per interval.
    """
    sa = np.asarray(sa, dtype=np.int64)
    lcp = np.asarray(lcp, dtype=np.int64)
    if sa.ndim != 1 or sa.shape != lcp.shape:
        raise ValueError(f"sa and lcp must be 1-D of equal shape, got {sa.shape} and {lcp.shape}")
    if min_lcp < 1:
        raise ValueError(f"min_lcp must be >= 1, got {min_lcp}")
    return _lcp_intervals(sa, lcp, min_lcp)
