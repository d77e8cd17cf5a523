"""Slow, obviously-correct reference implementations the kernels are tested against.

Plain Python over lists; no cleverness. Each function states the rule it
implements in the simplest terms.
"""

from __future__ import annotations

from collections import defaultdict


def suffix_array(s: list[int]) -> list[int]:
    """Positions sorted by the suffix that starts there."""
    return sorted(range(len(s)), key=lambda i: s[i:])


def lcp_array(s: list[int], sa: list[int]) -> list[int]:
    """``lcp[i]`` = length of the common prefix of suffixes ``sa[i-1]`` and ``sa[i]``; ``lcp[0] = 0``."""
    out = [0] * len(sa)
    for i in range(1, len(sa)):
        a, b = s[sa[i - 1] :], s[sa[i] :]
        k = 0
        while k < min(len(a), len(b)) and a[k] == b[k]:
            k += 1
        out[i] = k
    return out


def lcp_intervals(s: list[int], min_lcp: int) -> set[tuple[int, tuple[int, ...]]]:
    """Every right-maximal repeat of length >= min_lcp, as ``(length, sorted positions)``.

    A repeat ``u`` is right-maximal when it occurs at least twice and its
    occurrences are not all followed by the same symbol (the end counts as a
    distinct symbol per occurrence).
    """
    out = set()
    n = len(s)
    for length in range(min_lcp, n):
        groups = defaultdict(list)
        for p in range(n - length + 1):
            groups[tuple(s[p : p + length])].append(p)
        for positions in groups.values():
            if len(positions) < 2:
                continue
            following = {s[p + length] if p + length < n else ("end", p) for p in positions}
            if len(following) > 1:
                out.add((length, tuple(positions)))
    return out


def count_greedy(s: list[int], replaced: list[bool], gram: tuple[int, ...]) -> list[int]:
    """Start positions of ``gram``'s non-overlapping occurrences over unreplaced positions, left to right."""
    length = len(gram)
    taken = []
    p = 0
    while p + length <= len(s):
        if tuple(s[p : p + length]) == gram and not any(replaced[p : p + length]):
            taken.append(p)
            p += length
        else:
            p += 1
    return taken


def paper_select(s: list[int], max_len: int) -> list[tuple[tuple[int, ...], list[int]]]:
    """The paper's greedy, recomputing everything at every step.

    For L = max_len .. 2: repeatedly pick the L-gram (over unreplaced positions)
    with the most non-overlapping occurrences, ties broken by the earliest
    first occurrence, and replace those occurrences while L*K > 1 + L + K.

    Returns:
        The entries in selection order: ``(definition, occurrence starts)``.
    """
    replaced = [False] * len(s)
    entries = []
    for length in range(max_len, 1, -1):
        while True:
            grams = {tuple(s[p : p + length]) for p in range(len(s) - length + 1) if not any(replaced[p : p + length])}
            best = None
            for gram in grams:
                occ = count_greedy(s, replaced, gram)
                key = (len(occ), -occ[0])
                if best is None or key > best[0]:
                    best = (key, gram, occ)
            if best is None:
                break
            _, gram, occ = best
            k = len(occ)
            if length * k <= 1 + length + k:
                break
            for p in occ:
                for i in range(p, p + length):
                    replaced[i] = True
            entries.append((gram, occ))
    return entries


def savings_exhaustive(s: list[int], max_len: int, pool: int) -> list[tuple[tuple[int, ...], list[int]]]:
    """Savings-ordered greedy over *every* substring of length 2..max_len, recomputed each step.

    The yardstick for the kernel's candidate set: the kernel only scores suffix
    tree nodes at a few lengths, this scores everything.
    """
    replaced = [False] * len(s)
    entries = []
    while len(entries) < pool:
        best = None
        for length in range(2, max_len + 1):
            grams = {tuple(s[p : p + length]) for p in range(len(s) - length + 1) if not any(replaced[p : p + length])}
            for gram in grams:
                occ = count_greedy(s, replaced, gram)
                gain = (length - 1) * len(occ) - (length + 1)
                key = (gain, length, -occ[0])
                if best is None or key > best[0]:
                    best = (key, gram, occ)
        if best is None or best[0][0] <= 0:
            break
        _, gram, occ = best
        for p in occ:
            for i in range(p, p + len(gram)):
                replaced[i] = True
        entries.append((gram, occ))
    return entries


def dissolve(s: list[int], entries: list[tuple[int, list[int]]], pool: int) -> list[tuple[int, list[int]]]:
    """Dissolve entries of a flat parse that other entries and new gap entries serve better.

    ``entries`` are ``(length, sorted start positions)``; the result has the same form
    (the entries kept in their order, then the new ones). Each original entry,
    in order, used K >= 2 times, has its definition D re-parsed by an exhaustive
    dynamic program over its positions i: a plain token (value unchanged), a gap
    [j, i) of g tokens that pays as a new entry, (g - 1) * K - (g + 1) > 0 (value
    (g - 1) * K - (g + 1)), or another live entry ending at i (value K * (len - 1)).
    Ties keep the first of: plain token, the gap with the smallest j, entries by
    ascending length. When the best value beats D's own gain (L - 1) * K - (L + 1),
    every occurrence of D is rewritten that way (equal gaps share one new entry,
    an existing entry with the gap's text is reused), unless more than ``pool``
    entries, or more than 2 * m + 16 ever, would exist.
    """
    text = lambda length, p: tuple(s[p : p + length])  # noqa: E731
    ents = [[length, list(starts), True] for length, starts in entries]  # length, starts, live
    m = len(ents)
    for e in range(m):
        length, starts, _ = ents[e]
        k = len(starts)
        if k < 2:
            continue
        d = text(length, starts[0])
        live = [j for j in range(len(ents)) if ents[j][2] and j != e]
        by_text = {}
        for j in live:
            by_text.setdefault(text(ents[j][0], ents[j][1][0]), j)
        lengths = sorted({ents[j][0] for j in live} | {length})
        f = [0] * (length + 1)
        how: list = [None] * (length + 1)
        for i in range(1, length + 1):
            f[i], how[i] = f[i - 1], None
            gaps = [(f[j] + (i - j - 1) * k - (i - j + 1), j) for j in range(i) if (i - j - 1) * k - (i - j + 1) > 0]
            if gaps:
                value = max(v for v, _ in gaps)
                j = min(j for v, j in gaps if v == value)
                if value > f[i]:
                    f[i], how[i] = value, ("gap", j, i)
            for piece in lengths:
                if piece > i:
                    break
                a = by_text.get(d[i - piece : i])
                if a is not None and f[i - piece] + k * (piece - 1) > f[i]:
                    f[i], how[i] = f[i - piece] + k * (piece - 1), ("entry", i - piece, a)
        if f[length] <= (length - 1) * k - (length + 1):
            continue
        parts = []
        i = length
        while i > 0:
            if how[i] is None:
                i -= 1
            else:
                parts.append(how[i])
                i = how[i][1]
        parts.reverse()
        gaps = sum(part[0] == "gap" for part in parts)
        live_count = sum(x[2] for x in ents)
        if live_count - 1 + gaps > pool or len(ents) + gaps > 2 * m + 16:
            continue
        ents[e][2] = False
        for part in parts:
            at = part[1]
            if part[0] == "entry":
                a = part[2]
            else:
                end = part[2]
                same = [j for j in range(len(ents)) if ents[j][2] and text(ents[j][0], ents[j][1][0]) == d[at:end]]
                if same:
                    a = same[0]
                else:
                    a = len(ents)
                    ents.append([end - at, [], True])
            ents[a][1] = sorted(ents[a][1] + [p + at for p in starts])
    return [(length, starts) for length, starts, live in ents if live]


def reparse(s: list[int], definitions: list[tuple[int, ...]]) -> list[tuple[int, list[int]]]:
    """The optimal placement of a fixed flat dictionary, dropping entries until every one pays.

    Right to left, each position takes nothing or the entry (earliest on ties) that saves the most
    ``len - 1`` tokens plus what follows it; entries whose uses ``K`` do not pay, ``(L - 1) * K <= L + 1``,
    are dropped and the placement is redone. Returns ``(length, starts)`` per remaining entry, in order.
    """
    defs = list(definitions)
    while True:
        n = len(s)
        f = [0] * (n + 2)
        choice = [-1] * (n + 1)
        for i in range(n - 2, -1, -1):
            f[i], choice[i] = f[i + 1], -1
            for j, d in enumerate(defs):
                if tuple(s[i : i + len(d)]) == d and len(d) - 1 + f[i + len(d)] > f[i]:
                    f[i], choice[i] = len(d) - 1 + f[i + len(d)], j
        starts: list[list[int]] = [[] for _ in defs]
        i = 0
        while i < n:
            if choice[i] >= 0:
                starts[choice[i]].append(i)
                i += len(defs[choice[i]])
            else:
                i += 1
        keep = [j for j, d in enumerate(defs) if (len(d) - 1) * len(starts[j]) > len(d) + 1]
        if len(keep) == len(defs):
            return [(len(d), starts[j]) for j, d in enumerate(defs)]
        defs = [defs[j] for j in keep]


def run_tiling(prefix: int | None, run: int, family: list[tuple[int, ...]], t: int) -> int:
    """Most tokens the entries ``family`` save covering ``[prefix] + [t] * run``, by trying every tiling."""
    seq = ([prefix] if prefix is not None else []) + [t] * run

    def best(i: int) -> int:
        if i >= len(seq):
            return 0
        v = best(i + 1)
        for d in family:
            if tuple(seq[i : i + len(d)]) == d:
                v = max(v, len(d) - 1 + best(i + len(d)))
        return v

    return best(0)


def serialize(s: list[int], entries, meta_ids: list[int], base: int) -> list[int]:
    """Format v1 from a selection: dictionary in entry order, then the body."""
    if sum((len(g) - 1) * len(o) - (len(g) + 1) for g, o in entries) <= 2:
        return list(s)
    starts = {p: (e, len(g)) for e, (g, occ) in enumerate(entries) for p in occ}
    out = [base]
    for e, (gram, _) in enumerate(entries):
        out += [meta_ids[e], *gram]
    out.append(base + 1)
    p = 0
    while p < len(s):
        if p in starts:
            e, length = starts[p]
            out.append(meta_ids[e])
            p += length
        else:
            out.append(s[p])
            p += 1
    return out


def decompress(seq: list[int], base: int, pool: int, hierarchical: bool = False) -> list[int]:
    """Expand a format-v1 record; raises ValueError on anything malformed."""
    if not seq or seq[0] != base:
        if any(v < 0 or v >= base for v in seq):
            raise ValueError("reserved or negative id in a record without dictionary")
        return list(seq)
    close = base + 1
    defs: dict[int, list[int]] = {}
    current = None
    i = 1
    while True:
        if i >= len(seq):
            raise ValueError("missing close")
        v = seq[i]
        if v < 0 or v == base or v >= base + 2 + pool:
            raise ValueError("bad id in dictionary")
        is_new_entry = v >= base + 2 and (v not in defs or not hierarchical)
        if v == close or is_new_entry:
            if current is not None and not defs[current]:
                raise ValueError("empty definition")
            if v == close:
                if current is None:
                    raise ValueError("empty dictionary")
                i += 1
                break
            if v in defs:
                raise ValueError("redefined")
            defs[v] = []
            current = v
        else:
            if current is None:
                raise ValueError("token before entry")
            if v == current:
                raise ValueError("self reference")
            defs[current].extend(defs[v] if v >= base + 2 else [v])
        i += 1
    out = []
    for v in seq[i:]:
        if v < 0 or v in (base, close) or v >= base + 2 + pool:
            raise ValueError("bad id in body")
        if v >= base + 2:
            if v not in defs:
                raise ValueError("undefined meta")
            out.extend(defs[v])
        else:
            out.append(v)
    return out
