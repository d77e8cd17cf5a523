"""Selection kernels against the naive references."""

from __future__ import annotations

import numpy as np
import pytest

from numba_kernels.heap import (
    _RUN_LIMIT,
    KEY_SHIFT,
    _heap_first,
    _heap_pop,
    _heap_push,
    _heapify,
    _heapsort,
    _queued_above,
    _radix_sort,
    _run_entry,
    _sorted_run,
)
from numba_kernels.select import (
    _count_greedy,
    _first_replaced,
    _interval_children,
    _mark_window,
    _paper_select,
    _savings_select,
    _sorted_copy,
    _window_free,
)
from numba_kernels.suffix import lcp_array, lcp_intervals, repeat_suffix_array, suffix_array
from tests import naive

TIERS = np.array([2], np.int64)
NO_BAN = np.zeros(0, np.int64)


def _random_cases(count: int, seed: int, max_n: int = 70) -> list[list[int]]:
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(count):
        n = int(rng.integers(0, max_n))
        kind = rng.integers(0, 3)
        if kind == 0:
            s = rng.integers(0, int(rng.integers(1, 5)), n)
        elif kind == 1:  # periodic with noise
            period = int(rng.integers(1, 7))
            s = np.tile(rng.integers(0, 4, period), n // period + 1)[:n]
            noise = rng.random(n) < 0.1
            s[noise] = rng.integers(0, 4, int(noise.sum()))
        else:  # phrases drawn from a small set
            phrases = [rng.integers(0, 9, int(rng.integers(2, 6))) for _ in range(4)]
            s = np.concatenate([phrases[i] for i in rng.integers(0, 4, n // 3 + 1)])[:n]
        cases.append([int(v) for v in s])
    return cases


def _sparse_cases(count: int, seed: int) -> list[list[int]]:
    """Phrases between ids that occur once: many positions are in no repeat, the suffix array leaves them out."""
    rng = np.random.default_rng(seed)
    phrases = [rng.integers(0, 9, int(rng.integers(2, 7))).tolist() for _ in range(3)]
    unique = iter(range(100, 100_000))
    cases = []
    for _ in range(count):
        s: list[int] = []
        for _ in range(int(rng.integers(1, 9))):
            s += [next(unique) for _ in range(int(rng.integers(0, 5)))] + phrases[int(rng.integers(0, 3))]
        cases.append(s)
    return cases


EDGE = [[], [1], [1, 1, 1], [1] * 9, [1, 2] * 8, [1, 2, 3] * 6, [4, 4, 5, 4, 4, 5, 4, 4, 5, 4, 4]]
CASES = EDGE + _random_cases(150, seed=3) + _sparse_cases(40, seed=4)


def _bits_from(replaced: list[bool]) -> np.ndarray:
    bits = np.zeros(len(replaced) // 64 + 1, np.uint64)
    for p, r in enumerate(replaced):
        if r:
            bits[p >> 6] |= np.uint64(1) << np.uint64(p & 63)
    return bits


@pytest.mark.parametrize(
    ("count", "span"),
    [
        (0, 10),
        (1, 1),
        (24, 100),
        (25, 25),
        (64, 64),
        (300, 4000),
        (200, 100_000),
        (25, 100_000),
        (101, 40_000),
        (1000, 1000),
        (100, 6400),
        (25, 500_000),
        (40, 1_000_000),
    ],
)
def test_sorted_copy_sorts_every_path(count, span):
    """Every path sorts exactly: insertion sort (count <= 24), the bitmap pass (span / 64 <= 4 count: 25/25,
    64/64, 300/4000, 1000/1000, 100/6400), the bitmap with a summary of its words (span / 4096 <= 4 count:
    200/100000, 25/100000, 101/40000) and the heapsort (sparser: 25/500000, 40/1000000)."""
    rng = np.random.default_rng(count * 7 + span)
    n = span + 130
    offset = int(rng.integers(0, 130))
    positions = offset + rng.choice(span, size=count, replace=False) if count else np.zeros(0, np.int64)
    src = np.concatenate([[-5, -6], positions, [-7]]).astype(np.int64)
    dst = np.full(count + 3, -1, np.int64)
    marks = np.zeros((2, (n >> 6) + 1), np.uint64)
    lo_pos = int(positions.min()) if count else 0
    hi_pos = int(positions.max()) if count else 0
    _sorted_copy(src, 2, count, dst, lo_pos, hi_pos, marks)
    assert dst[:count].tolist() == sorted(positions.tolist())
    assert dst[count:].tolist() == [-1, -1, -1]  # nothing written past count
    assert not marks.any()  # the scratch bitmap comes back clean for the next candidate


def _queue_order(keys, firsts):
    """The queue's total order, spelled out: larger key, then smaller first, then smaller candidate index."""
    return lambda c: (-int(keys[c]), int(firsts[c]), c)


@pytest.mark.parametrize("seed", range(5))
def test_candidate_heap_pops_in_key_order(seed):
    """Heapify, then interleaved pushes and pops: every pop is the largest key, ties by the smaller first,
    then by the smaller candidate index.

    Keys and firsts both repeat (equal pairs are broken by the index), and the index travels with its keys.
    """
    rng = np.random.default_rng(seed)
    n = 300
    keys = rng.integers(0, 40, size=n).astype(np.int64)
    firsts = rng.integers(0, 30, size=n).astype(np.int32)
    hk = np.zeros(n, np.int64)
    hf = np.zeros(n, np.int32)
    hc = np.zeros(n, np.int32)
    start = 120
    order = rng.permutation(start)  # heap slots do not follow the index order
    hk[:start], hf[:start], hc[:start] = keys[order], firsts[order], order
    _heapify(hk, hf, hc, start)
    size, pending, popped = start, list(range(start, n)), []
    live = set(range(start))
    while size:
        if pending and rng.random() < 0.5:
            c = pending.pop()
            size = _heap_push(hk, hf, hc, size, keys[c], firsts[c], c)
            live.add(c)
            continue
        expected = min(live, key=_queue_order(keys, firsts))
        assert (hk[0], hf[0], hc[0]) == (keys[expected], firsts[expected], expected)
        size = _heap_pop(hk, hf, hc, size)
        live.remove(expected)
        popped.append(expected)
    assert len(popped) == start + (n - start - len(pending))


def _packed_keys(rng, n, gain_hi, len_hi):
    gains = rng.integers(1, gain_hi, size=n)
    lengths = rng.integers(2, len_hi, size=n)
    return (gains.astype(np.int64) << KEY_SHIFT) | lengths


@pytest.mark.parametrize("seed", range(4))
def test_sorted_run_is_the_heap_order(seed):
    """Every packed entry decodes to its own (key, first, c), in the queue's order; ties in key and first included."""
    rng = np.random.default_rng(seed)
    n = 500
    keys = _packed_keys(rng, n, 12, 9)  # few distinct keys: many ties
    firsts = rng.integers(0, 40, size=n).astype(np.int32)
    slots = rng.permutation(n)
    hk, hf, hc = keys[slots].copy(), firsts[slots].copy(), slots.astype(np.int32)
    out = np.zeros(n + 3, np.uint64)
    count, layout = _sorted_run(hk, hf, hc, n, n, out)
    assert count == n
    decoded = [tuple(int(v) for v in _run_entry(out, i, layout)) for i in range(n)]
    expected = sorted(range(n), key=_queue_order(keys, firsts))
    assert decoded == [(int(keys[c]), int(firsts[c]), c) for c in expected]
    assert out[n:].tolist() == [0, 0, 0]  # nothing written past the entries


@pytest.mark.parametrize("bits", [0, 1, 8, 9, 16, 23, 64])
def test_radix_sort_sorts_a_prefix_by_its_low_bits(bits):
    """An even and an odd number of passes (the result ends in the scratch, then is copied back), duplicates,
    all 64 bits; nothing past ``count`` moves."""
    rng = np.random.default_rng(bits)
    count = 700
    top = (1 << bits) - 1 if bits < 64 else (1 << 64) - 1
    a = (rng.integers(0, 1 << 62, size=count + 5).astype(np.uint64) * np.uint64(5)) & np.uint64(top)
    a[:40] = a[40:80]  # duplicates
    expected = sorted(a[:count].tolist()) + a[count:].tolist()
    _radix_sort(a, count, np.zeros(count, np.uint64), np.zeros(257, np.int64), bits)
    assert a.tolist() == expected


def test_sorted_run_declines_fields_wider_than_64_bits():
    """Gains, lengths, firsts and indices that need more than 64 bits together stay in the heap arrays."""
    rng = np.random.default_rng(0)
    n = 64
    big = 1 << 20
    keys = _packed_keys(rng, n, big, big)  # 20 + 20 bits
    firsts = rng.integers(0, 1 << 30, size=n).astype(np.int32)  # + 30 bits, + 7 for the index
    hk, hf, hc = keys.copy(), firsts.copy(), np.arange(n, dtype=np.int32)
    out = np.zeros(n, np.uint64)
    assert _sorted_run(hk, hf, hc, n, n, out)[0] == 0
    assert hk.tolist() == keys.tolist() and hf.tolist() == firsts.tolist()  # left for the heap
    assert not out.any()
    assert _sorted_run(hk, hf, hc, n, n, out)[0] == 0
    assert _sorted_run(hk[:0], hf[:0], hc[:0], 0, n, out)[0] == 0  # and nothing to sort


def test_sorted_run_leaves_huge_queues_to_the_heap():
    """Past ``_RUN_LIMIT`` entries the heap takes them all (a linear heapify; degenerate records stop early)."""
    n = _RUN_LIMIT + 1
    hk = (np.arange(n, dtype=np.int64) % 7 + 1) << KEY_SHIFT | 2
    hf = np.zeros(n, np.int32)
    hc = np.arange(n, dtype=np.int32)
    out = np.zeros(n, np.uint64)
    assert _sorted_run(hk, hf, hc, n, n, out)[0] == 0
    assert _sorted_run(hk, hf, hc, n - 1, n, out)[0] == n - 1  # the same entries, one fewer: sorted
    assert _run_entry(out, 0, _sorted_run(hk, hf, hc, n - 1, n, out)[1])[2] == 6  # key 7, the smallest index


@pytest.mark.parametrize("seed", range(5))
def test_sorted_run_with_heap_pops_like_one_heap(seed):
    """The greedy's queue: the run's head or the heap's top, whichever ranks first; re-scored entries are pushed
    back with a key no larger than their popped one. The pop sequence is that of a single heap holding everything,
    and ``_queued_above`` answers as that heap's top would."""
    rng = np.random.default_rng(seed)
    n = 400
    keys = _packed_keys(rng, n, 30, 6)
    firsts = rng.integers(0, 50, size=n).astype(np.int32)
    hk, hf, hc = keys.copy(), firsts.copy(), np.arange(n, dtype=np.int32)
    run = np.zeros(n, np.uint64)
    count, layout = _sorted_run(hk, hf, hc, n, n, run)
    assert count == n
    head, size = 0, 0
    current = {c: (int(keys[c]), int(firsts[c])) for c in range(n)}  # each candidate's live entry
    pushes = 0
    while head < count or size:
        live = min(current, key=lambda c: (-current[c][0], current[c][1], c))
        if _heap_first(run, head, count, layout, hk, hf, hc, size):
            c = int(hc[0])
            size = _heap_pop(hk, hf, hc, size)
        else:
            c = int(_run_entry(run, head, layout)[2])
            head += 1
        assert c == live
        key, first = current.pop(c)
        if rng.random() < 0.3 and key > 0:  # re-scored lower and pushed back
            key -= int(rng.integers(0, 3)) << KEY_SHIFT
            first += int(rng.integers(0, 2))
            top = min(current, key=lambda d: (-current[d][0], current[d][1], d)) if current else None
            expected = top is not None and (-current[top][0], current[top][1], top) < (-key, first, c)
            assert _queued_above(run, head, count, layout, hk, hf, hc, size, key, first, c) == expected
            size = _heap_push(hk, hf, hc, size, key, first, c)
            current[c] = (key, first)
            pushes += 1
    assert pushes > 50  # the heap part was exercised


@pytest.mark.parametrize("count", [0, 1, 2, 3, 4, 7, 8, 25, 64, 257])
def test_heapsort_sorts_a_prefix_in_place(count):
    """Duplicates and negative values included; nothing past ``count`` moves."""
    rng = np.random.default_rng(count)
    a = rng.integers(-5, 6 if count % 2 else 10_000, size=count + 4).astype(np.int32)
    expected = sorted(a[:count].tolist()) + a[count:].tolist()
    _heapsort(a, count)
    assert a.tolist() == expected


def test_bitmap_windows_match_a_boolean_list():
    rng = np.random.default_rng(11)
    n = 300
    replaced = [False] * n
    bits = _bits_from(replaced)
    for _ in range(60):
        p = int(rng.integers(0, n - 70))
        length = int(rng.integers(1, 70))
        want_free = not any(replaced[p : p + length])
        assert _window_free(bits, p, length) == want_free
        assert _first_replaced(bits, p, p + length) == next((p + i for i in range(length) if replaced[p + i]), -1)
        if want_free and rng.random() < 0.5:
            _mark_window(bits, p, length)
            replaced[p : p + length] = [True] * length
    assert np.array_equal(bits, _bits_from(replaced))


@pytest.mark.parametrize("s", CASES[:60])
def test_count_greedy_matches_naive(s):
    rng = np.random.default_rng(len(s))
    replaced = (rng.random(len(s)) < 0.2).tolist()
    bits = _bits_from(replaced)
    for length in (2, 3, 5):
        for p0 in range(0, max(len(s) - length + 1, 0), 7):
            gram = tuple(s[p0 : p0 + length])
            positions = np.array([p for p in range(len(s) - length + 1) if tuple(s[p : p + length]) == gram], np.int64)
            count, first = _count_greedy(positions, 0, len(positions), length, bits)
            want = naive.count_greedy(s, replaced, gram)
            assert count == len(want)
            assert first == (want[0] if want else -1)


def _kernel_entries(s, occ, entry_len, entry_src):
    entries = []
    for e in range(len(entry_len)):
        gram = tuple(s[entry_src[e] : entry_src[e] + entry_len[e]])
        entries.append((gram, [int(p) for p in np.flatnonzero(occ == e)]))
    return entries


@pytest.mark.parametrize("s", CASES)
@pytest.mark.parametrize("max_len", [8, 4])
@pytest.mark.parametrize("full", [True, False], ids=["full-sa", "repeat-sa"])
def test_paper_select_matches_naive_exactly(s, max_len, full):
    arr = np.array(s, np.int64)
    if len(s) < 4:
        return
    if full:
        sa = suffix_array(arr)
        lcp = lcp_array(arr, sa)
    else:
        sa, lcp = repeat_suffix_array(arr)
    occ, entry_len, entry_src, entry_gain = _paper_select(arr, max_len, sa, lcp)
    got = _kernel_entries(s, occ, entry_len, entry_src)
    assert got == naive.paper_select(s, max_len)
    for (gram, positions), gain in zip(got, entry_gain, strict=True):
        assert gain == (len(gram) - 1) * len(positions) - (len(gram) + 1)


def _suffix_data(arr: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """What the codec hands the savings greedy: the repeat suffix array and its LCP intervals of length >= 2."""
    sa, lcp = repeat_suffix_array(arr)
    return sa, lcp_intervals(sa, lcp, min_lcp=2)


def _check_parse(s, occ, entry_len, entry_src, entry_gain):
    """A selection is valid: occurrences match their definition, never overlap, and every entry pays."""
    covered = np.zeros(len(s), bool)
    for e in range(len(entry_len)):
        starts = np.flatnonzero(occ == e)
        length = int(entry_len[e])
        definition = s[entry_src[e] : entry_src[e] + length]
        assert entry_src[e] in starts
        for p in starts:
            assert s[p : p + length] == definition
            assert not covered[p : p + length].any()
            covered[p : p + length] = True
        assert entry_gain[e] == (length - 1) * len(starts) - (length + 1)
        assert entry_gain[e] > 0


@pytest.mark.parametrize("s", CASES)
def test_savings_select_is_a_valid_parse(s):
    arr = np.array(s, np.int64)
    sa, iv = _suffix_data(arr)
    for pool in (1, 3, 64):
        occ, entry_len, entry_src, entry_gain, _, _ = _savings_select(arr, 0, pool, 3, sa, iv, TIERS, NO_BAN, -1)
        assert len(entry_len) <= pool
        _check_parse(s, occ, entry_len, entry_src, entry_gain)


@pytest.mark.parametrize("s", [c for c in CASES if len(c) >= 8][:60])
def test_banned_region_is_never_retaken(s):
    """With the region of the first pick banned, no entry has all of its windows inside that region."""
    arr = np.array(s, np.int64)
    sa, iv = _suffix_data(arr)
    occ, entry_len, _, _, _, _ = _savings_select(arr, 0, 64, 1, sa, iv, TIERS, NO_BAN, -1)
    if len(entry_len) == 0:
        return
    inside = np.zeros(len(s), bool)
    for p in np.flatnonzero(occ == 0):
        inside[p : p + entry_len[0]] = True
    banned = np.concatenate([[0], np.cumsum(inside)]).astype(np.int64)
    occ2, len2, src2, gain2, _, work = _savings_select(arr, 0, 64, 1, sa, iv, TIERS, banned, -1)
    assert work >= 0
    _check_parse(s, occ2, len2, src2, gain2)
    for e in range(len(len2)):
        windows = [(p, p + len2[e]) for p in np.flatnonzero(occ2 == e)]
        assert not all(inside[a:b].all() for a, b in windows), (e, windows)


def test_work_cap_stops_the_run_and_says_so():
    rng = np.random.default_rng(9)
    arr = np.tile(rng.integers(0, 50, 7), 60).astype(np.int64)
    sa, iv = _suffix_data(arr)
    *_, work = _savings_select(arr, 0, 64, 1, sa, iv, TIERS, NO_BAN, -1)
    assert work > 0
    assert _savings_select(arr, 0, 64, 1, sa, iv, TIERS, NO_BAN, work)[5] == work  # enough: runs to the end
    assert _savings_select(arr, 0, 64, 1, sa, iv, TIERS, NO_BAN, work // 2)[5] == -1  # stopped, and reported


def test_savings_select_is_close_to_the_exhaustive_greedy():
    """On random phrase data the node-based candidates lose little against scoring every substring."""
    cases = [c for c in _random_cases(40, seed=5, max_n=60) if len(c) >= 8]
    kernel_gain = exhaustive_gain = 0
    for s in cases:
        arr = np.array(s, np.int64)
        sa, iv = _suffix_data(arr)
        _, _, _, gains, _, _ = _savings_select(arr, 0, 64, 3, sa, iv, TIERS, NO_BAN, -1)
        kernel_gain += int(gains.sum())
        exhaustive_gain += sum((len(g) - 1) * len(o) - (len(g) + 1) for g, o in naive.savings_exhaustive(s, 60, 64))
    assert exhaustive_gain > 100
    assert kernel_gain >= 0.95 * exhaustive_gain


def test_savings_first_pick_on_a_hand_worked_example():
    # "1 2 3 4" appears 3 times (gain 3*3-5 = 4); "7 8" appears 5 times (gain 1*5-3 = 2).
    s = [1, 2, 3, 4, 7, 8, 1, 2, 3, 4, 7, 8, 9, 1, 2, 3, 4, 0, 7, 8, 5, 7, 8, 6, 7, 8]
    arr = np.array(s, np.int64)
    sa, iv = _suffix_data(arr)
    occ, entry_len, entry_src, entry_gain, _, _ = _savings_select(arr, 0, 8, 3, sa, iv, TIERS, NO_BAN, -1)
    # "1 2 3 4 7 8" twice gains 5*2-7 = 3 < "1 2 3 4" thrice (4), so the 4-gram goes first.
    assert entry_len.tolist() == [4, 2]
    assert entry_gain.tolist() == [4, 2]
    assert np.flatnonzero(occ == 0).tolist() == [0, 6, 13]
    assert np.flatnonzero(occ == 1).tolist() == [4, 10, 18, 21, 24]


def test_long_phase_places_only_repeats_seen_three_times():
    """Phase one of ``[8, 2]`` takes a 10-token repeat seen 3 times, but leaves one seen twice to phase two."""
    q = list(range(1, 11))
    tiers = np.array([8, 2], np.int64)
    for copies, first_phase in ((2, 0), (3, 1)):
        arr = np.array([v for k in range(copies) for v in q + [100 + k]], np.int64)
        sa, iv = _suffix_data(arr)
        occ, entry_len, _, entry_gain, first, _ = _savings_select(arr, 0, 8, 1, sa, iv, tiers, NO_BAN, -1)
        assert first == first_phase
        assert entry_len.tolist() == [10]  # phase two takes the twice-seen repeat all the same
        assert entry_gain.tolist() == [9 * copies - 11]
        assert np.flatnonzero(occ == 0).tolist() == [11 * k for k in range(copies)]


def test_no_strategy_finds_anything_when_no_repeat_pays():
    """The codec skips selection when no LCP interval could pay; then neither greedy may find an entry."""
    from numba_kernels.codec import _any_repeat_pays

    rng = np.random.default_rng(11)
    cases = CASES + [rng.integers(0, 40, int(rng.integers(4, 60))).tolist() for _ in range(200)]
    skipped = 0
    for s in cases:
        arr = np.array(s, np.int64)
        if len(s) < 4:
            continue
        sa, iv = _suffix_data(arr)
        paper = _paper_select(arr, 8, *repeat_suffix_array(arr))
        savings = _savings_select(arr, 0, 64, 3, sa, iv, np.array([8, 2], np.int64), NO_BAN, -1)
        if not _any_repeat_pays(iv):
            skipped += 1
            assert len(paper[1]) == 0 and len(savings[1]) == 0, s
        else:
            ell, _, lb, rb, _, _ = iv
            assert max((e - 1) * (r - b + 1) - (e + 1) for e, b, r in zip(ell, lb, rb, strict=True)) > 0
    assert skipped >= 30


@pytest.mark.parametrize("s", [c for c in CASES if len(c) >= 4])
def test_interval_children_are_the_nearest_containing_intervals(s):
    """Each interval's parent is the smallest other interval whose suffix-array range contains its own."""
    arr = np.array(s, np.int64)
    _, (ell, _, lb, rb, _, _) = _suffix_data(arr)
    ncand = len(ell)
    first_child = np.empty(ncand, np.int32)
    next_sibling = np.empty(ncand, np.int32)
    _interval_children(lb, rb, first_child, next_sibling, np.empty(ncand + 1, np.int32))
    got = {c: set() for c in range(ncand)}
    for c in range(ncand):
        d = first_child[c]
        while d >= 0:
            got[c].add(int(d))
            d = next_sibling[d]
    want = {c: set() for c in range(ncand)}
    for d in range(ncand):
        around = [c for c in range(ncand) if c != d and lb[c] <= lb[d] and rb[d] <= rb[c]]
        if around:
            parent = min(around, key=lambda c: rb[c] - lb[c])
            assert ell[parent] < ell[d]  # a child extends its parent
            want[parent].add(d)
    assert got == want


def test_savings_defers_a_shared_prefix_to_its_extensions():
    """A prefix used 18 times wins on gain alone, but its 6 extensions save more together.

    ``1 2 3`` starts 18 lines (gain 2 * 18 - 4 = 32); each line is ``1 2 3`` and one of 6 two-token
    endings, 3 times each, then a separator seen once. Each full line gains 4 * 3 - 6 = 6, less than the
    prefix, but the six together gain 36, so the greedy defers the prefix, takes the lines, and the
    prefix has nothing left to replace.
    """
    s = []
    for i in range(18):
        j = i % 6
        s += [1, 2, 3, 10 + 2 * j, 11 + 2 * j, 100 + i]
    arr = np.array(s, np.int64)
    sa, iv = _suffix_data(arr)
    occ, entry_len, entry_src, entry_gain, _, _ = _savings_select(arr, 0, 64, 1, sa, iv, TIERS, NO_BAN, -1)
    _check_parse(s, occ, entry_len, entry_src, entry_gain)
    assert entry_len.tolist() == [5] * 6
    assert entry_gain.tolist() == [6] * 6
    assert sorted(s[p + 3] for p in entry_src) == [10, 12, 14, 16, 18, 20]
    for e in range(6):
        assert np.flatnonzero(occ == e).tolist() == [6 * (entry_src[e] // 6 + 6 * k) for k in range(3)]


def test_the_long_phase_takes_a_long_repeat_whole_while_one_phase_defers_it():
    """A 10-token repeat R ends 6 lines, each R + one of 2 three-token tails + a unique id.

    R gains 9 * 6 - 11 = 43, each whole line 12 * 3 - 14 = 22. One phase defers R to the two lines (44 > 43) and the
    tails go with them: 44. The long phase takes R whole, and phase two then finds the tails (2 * 3 - 4 = 2 each): 47.
    """
    r = list(range(1, 11))
    tails = [[20, 21, 22], [30, 31, 32]]
    arr = np.array([v for i in range(6) for v in r + tails[i % 2] + [100 + i]], np.int64)
    sa, iv = _suffix_data(arr)
    _, entry_len, _, entry_gain, first, _ = _savings_select(arr, 0, 64, 1, sa, iv, TIERS, NO_BAN, -1)
    assert (entry_len.tolist(), entry_gain.tolist(), first) == ([13, 13], [22, 22], 2)
    tiers = np.array([8, 2], np.int64)
    _, entry_len, _, entry_gain, first, _ = _savings_select(arr, 0, 64, 1, sa, iv, tiers, NO_BAN, -1)
    assert (entry_len.tolist(), entry_gain.tolist(), first) == ([10, 3, 3], [43, 2, 2], 1)
