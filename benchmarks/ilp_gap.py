"""How far the codec's greedy parses are from the optimum of the flat problem, on short windows.

For windows of at most 384 tokens cut deterministically from each benchmark corpus, the exact optimum of the flat
LTSC problem is computed with ``scipy.optimize.milp`` (HiGHS) and compared with what each codec strategy achieves on
the same windows.

The integer program (flat format: definitions hold base tokens only, occurrences never overlap):

- candidates ``u``: every distinct substring of length ``L_u >= 2`` whose greedy non-overlapping occurrence count
  ``K_u`` is at least 2; ``P_u`` = all of its start positions (overlapping ones included);
- binaries ``x_{u,p}`` (occurrence ``p`` of ``u`` is replaced) and ``y_u`` (``u`` is in the dictionary);
- maximize ``sum_u (L_u - 1) * sum_p x_{u,p} - (L_u + 1) * y_u``;
- subject to ``x_{u,p} <= y_u`` and, for every position ``i``, ``sum of x_{u,p} whose window covers i <= 1``
  (which also forbids two overlapping occurrences of the same ``u``).

The two delimiters cost 2 once when the dictionary is not empty, and a record that would not get strictly shorter is
stored unchanged, so the optimal compressed length is ``n - z + 2`` when the optimum ``z > 2``, else ``n``.

Pruning (provably safe, nothing else is pruned): an entry that saves nothing, ``(L - 1) * K - (L + 1) <= 0``, can be
dropped from any solution without lowering the objective (its occurrences turn back into plain tokens, which
violates no constraint), so some optimal solution uses only entries with positive savings. A candidate whose *maximum*
number of disjoint occurrences ``K_u`` cannot make it pay (``L = 2`` needs ``K >= 4``, ``L = 3`` needs ``K >= 3``) is
therefore never needed and is left out.

Every optimal parse is checked: it is serialized in format v1 and decoded with ``Codec.decompress`` (the product's
own decoder); the result must equal the window, and the serialized length must equal ``n - z + 2``.

Run from the repository root::

    PYTHONPATH=. python benchmarks/ilp_gap.py            # full run, writes benchmarks/results/ilp_gap.md
    PYTHONPATH=. python benchmarks/ilp_gap.py --quick    # 3 windows per corpus, 10 s limit, no file written
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from scipy.optimize import Bounds, LinearConstraint, milp  # noqa: E402
from scipy.sparse import csr_array  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from _common import CORPORA, STRATEGIES, TOKENIZER, add_corpus_dir_argument, code_version  # noqa: E402

from ltsc import Codec  # noqa: E402

GOAL_POINTS = 0.5


# ----------------------------------------------------------------------------------------------- windows


def load_windows(
    corpus_dir: Path, tok: Tokenizer, name: str, count: int, size: int
) -> list[tuple[int, int, np.ndarray]]:
    """``count`` windows of at most ``size`` tokens from evenly spaced records of one corpus.

    Even picks take the record's first ``size`` tokens, odd picks the ``size`` tokens in its middle, so both
    record heads (often boilerplate) and bodies are represented. Deterministic: no randomness at all.

    Returns:
        ``(record index, start token, ids)`` per window.
    """
    texts = pq.read_table(corpus_dir / f"{name}.parquet", columns=["text"]).column("text").to_pylist()
    picks = np.unique(np.linspace(0, len(texts) - 1, num=min(count, len(texts))).round().astype(int))
    windows = []
    for j, r in enumerate(picks.tolist()):
        ids = np.asarray(tok.encode(texts[r], add_special_tokens=False).ids, dtype=np.int64)
        start = 0 if j % 2 == 0 or ids.size <= size else (ids.size - size) // 2
        windows.append((r, start, ids[start : start + size]))
    return windows


# ----------------------------------------------------------------------------------------------- candidates


@dataclass
class Candidate:
    """A repeated substring: its length, all start positions and its greedy disjoint count."""

    length: int
    positions: np.ndarray
    max_disjoint: int
    tokens: tuple[int, ...] = field(default=())


def _disjoint_count(positions: np.ndarray, length: int) -> int:
    """Maximum number of pairwise disjoint windows (left-to-right greedy is optimal for equal lengths)."""
    count, end = 0, -1
    for p in positions.tolist():
        if p >= end:
            count += 1
            end = p + length
    return count


def _min_uses(length: int) -> int:
    """Fewest uses with which an entry of this length saves anything: (L - 1) * K - (L + 1) > 0."""
    return (length + 1) // (length - 1) + 1


def candidates(s: np.ndarray) -> tuple[list[Candidate], int]:
    """Every substring of length >= 2 occurring at least twice without overlap, minus provably useless ones.

    Returns:
        ``(kept, enumerated)``: the candidates kept and how many repeated substrings were enumerated.
    """
    n = s.size
    lst = s.tolist()
    sa = sorted(range(n), key=lambda i: lst[i:])
    lcp = [0] * n
    for i in range(1, n):
        a, b = sa[i - 1], sa[i]
        k = 0
        while a + k < n and b + k < n and lst[a + k] == lst[b + k]:
            k += 1
        lcp[i] = k
    lcp_np = np.asarray(lcp)
    sa_np = np.asarray(sa)
    out: list[Candidate] = []
    enumerated = 0
    max_l = int(lcp_np.max()) if n else 0
    for length in range(2, max_l + 1):
        # Distinct substrings of this length occurring twice or more = maximal runs of lcp >= length.
        i = 1
        while i < n:
            if lcp[i] >= length:
                j = i
                while j + 1 < n and lcp[j + 1] >= length:
                    j += 1
                positions = np.sort(sa_np[i - 1 : j + 1])
                k = _disjoint_count(positions, length)
                if k >= 2:
                    enumerated += 1
                    if k >= _min_uses(length):
                        p0 = int(positions[0])
                        out.append(Candidate(length, positions, k, tuple(lst[p0 : p0 + length])))
                i = j + 1
            else:
                i += 1
    del lcp_np
    return out, enumerated


# ----------------------------------------------------------------------------------------------- the ILP


@dataclass
class IlpResult:
    """Outcome of one window's integer program."""

    n: int
    objective: int  # best objective found (optimal unless hit_limit)
    bound: float  # the solver's upper bound on the objective
    hit_limit: bool
    seconds: float
    n_candidates: int
    n_enumerated: int
    n_vars: int
    entries: list[tuple[tuple[int, ...], list[int]]]  # (tokens, used positions)

    @property
    def compressed(self) -> int:
        """Compressed length of the parse found."""
        return self.n - self.objective + 2 if self.objective > 2 else self.n

    @property
    def compressed_bound(self) -> int:
        """Lower bound on the optimal compressed length (from the solver's bound; = compressed when solved)."""
        z = int(np.floor(self.bound + 1e-6)) if self.hit_limit else self.objective
        return self.n - z + 2 if z > 2 else self.n


def solve(s: np.ndarray, time_limit: float) -> IlpResult:
    """Exact optimum of the flat problem on ``s`` (or the best found within ``time_limit`` seconds)."""
    n = s.size
    t0 = time.perf_counter()
    cands, enumerated = candidates(s)
    if not cands:
        return IlpResult(n, 0, 0.0, False, time.perf_counter() - t0, 0, enumerated, 0, [])
    nx = sum(c.positions.size for c in cands)
    ny = len(cands)
    nv = nx + ny
    cost = np.empty(nv)
    link_rows, link_cols, link_vals = [], [], []
    cov_rows, cov_cols = [], []
    owner = np.empty(nx, np.int64)
    start = np.empty(nx, np.int64)
    v = 0
    for u, c in enumerate(cands):
        yv = nx + u
        cost[yv] = c.length + 1  # milp minimizes: negate the savings
        for p in c.positions.tolist():
            cost[v] = -(c.length - 1)
            link_rows += [v, v]
            link_cols += [v, yv]
            link_vals += [1.0, -1.0]
            cov_rows.extend(range(p, p + c.length))
            cov_cols.extend([v] * c.length)
            owner[v] = u
            start[v] = p
            v += 1
    link = csr_array((link_vals, (link_rows, link_cols)), shape=(nx, nv))
    cover = csr_array((np.ones(len(cov_rows)), (cov_rows, cov_cols)), shape=(n, nv))
    # Per candidate: K_min(L) * y_u <= sum_p x_{u,p} <= K_u * y_u. The right side is valid for every solution
    # (at most K_u disjoint occurrences); the left side holds in some optimal solution (see the module docstring:
    # entries that do not pay can be dropped), so adding it keeps the optimum. Both tighten the LP relaxation.
    agg_rows = np.concatenate([owner, np.arange(ny)])
    agg_cols = np.arange(nv)
    k_max = np.array([c.max_disjoint for c in cands], float)
    k_min = np.array([_min_uses(c.length) for c in cands], float)
    upper = csr_array((np.concatenate([np.ones(nx), -k_max]), (agg_rows, agg_cols)), shape=(ny, nv))
    lower = csr_array((np.concatenate([np.ones(nx), -k_min]), (agg_rows, agg_cols)), shape=(ny, nv))
    res = milp(
        cost,
        integrality=np.ones(nv),
        bounds=Bounds(0, 1),
        constraints=[
            LinearConstraint(link, -np.inf, 0),
            LinearConstraint(cover, -np.inf, 1),
            LinearConstraint(upper, -np.inf, 0),
            LinearConstraint(lower, 0, np.inf),
        ],
        options={"time_limit": time_limit, "mip_rel_gap": 0.0, "presolve": True},
    )
    seconds = time.perf_counter() - t0
    if res.x is None:
        raise RuntimeError(f"milp found no solution: {res.message}")
    x = np.round(res.x[:nx]).astype(bool)
    used: dict[int, list[int]] = {}
    for var in np.flatnonzero(x).tolist():
        used.setdefault(int(owner[var]), []).append(int(start[var]))
    # Recompute the objective from the rounded solution; drop entries that do not pay (never optimal anyway).
    entries = []
    objective = 0
    for u, plist in sorted(used.items(), key=lambda kv: min(kv[1])):
        gain = (cands[u].length - 1) * len(plist) - (cands[u].length + 1)
        if gain > 0:
            entries.append((cands[u].tokens, sorted(plist)))
            objective += gain
    bound = -float(res.mip_dual_bound) if res.mip_dual_bound is not None else np.inf
    # Stopped by the time limit without proof, unless the solution found already meets the bound.
    hit = res.status != 0 and objective < int(np.floor(bound + 1e-6))
    return IlpResult(n, objective, bound, hit, seconds, len(cands), enumerated, nv, entries)


def serialize(s: np.ndarray, result: IlpResult, base: int) -> np.ndarray:
    """The optimal parse in format v1 (meta-token k = the k-th entry), or ``s`` when nothing pays."""
    if result.objective <= 2:
        return s.copy()
    out = [base]
    occ = {}
    for k, (tokens, plist) in enumerate(result.entries):
        out.append(base + 2 + k)
        out.extend(tokens)
        for p in plist:
            occ[p] = k
    out.append(base + 1)
    p = 0
    lst = s.tolist()
    while p < s.size:
        if p in occ:
            k = occ[p]
            out.append(base + 2 + k)
            p += len(result.entries[k][0])
        else:
            out.append(lst[p])
            p += 1
    return np.asarray(out, np.int64)


def check(s: np.ndarray, result: IlpResult, codec: Codec) -> None:
    """The ILP parse must be a valid format-v1 record that decodes to ``s`` with the claimed length."""
    lst = s.tolist()
    covered = np.zeros(s.size, bool)
    for tokens, plist in result.entries:
        for p in plist:
            assert tuple(lst[p : p + len(tokens)]) == tokens, "occurrence does not match its definition"
            assert not covered[p : p + len(tokens)].any(), "overlapping occurrences"
            covered[p : p + len(tokens)] = True
    enc = serialize(s, result, codec.base_id)
    assert enc.size == result.compressed, f"serialized {enc.size} != n - z + 2 = {result.compressed}"
    dec = codec.decompress(enc)
    assert np.array_equal(dec, s), "ILP parse does not decode to the window"


# ----------------------------------------------------------------------------------------------- report


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def _show(tok: Tokenizer, ids) -> str:
    text = tok.decode(list(ids), skip_special_tokens=False)
    return repr(text)[1:-1].replace("|", "\\|").replace("`", "'")


def _solve_job(job: tuple[np.ndarray, float]) -> IlpResult:
    return solve(*job)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns the exit code."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_corpus_dir_argument(ap)
    ap.add_argument("--windows", type=int, default=24, help="windows per corpus (default 24)")
    ap.add_argument("--size", type=int, default=384, help="window length in tokens, at most 384 (default 384)")
    ap.add_argument("--time-limit", type=float, default=60.0, help="milp time limit per window, seconds (default 60)")
    ap.add_argument("--jobs", type=int, default=2, help="windows solved in parallel processes (default 2)")
    ap.add_argument("--quick", action="store_true", help="smoke mode: 3 windows per corpus, 10 s limit, no file")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "ilp_gap.md")
    args = ap.parse_args(argv)
    if args.quick:
        args.windows, args.time_limit = 3, 10.0
    if not 2 <= args.size <= 384:
        ap.error("--size must be in [2, 384]")

    t_start = time.perf_counter()
    tok = Tokenizer.from_file(str(TOKENIZER))
    base = tok.get_vocab_size(with_added_tokens=True)
    codecs = {st: Codec(base_id=base, pool_size=4096, strategy=st) for st in STRATEGIES}
    windows = {name: load_windows(args.corpus_dir, tok, name, args.windows, args.size) for name in CORPORA}

    # Every window's ILP, solved in parallel (HiGHS runs one thread per solve here).
    jobs = [(name, i) for name in CORPORA for i in range(len(windows[name]))]
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {key: pool.submit(_solve_job, (windows[key[0]][key[1]][2], args.time_limit)) for key in jobs}
        results: dict[tuple[str, int], IlpResult] = {}
        for key in jobs:
            results[key] = futures[key].result()
    ilp_seconds = time.perf_counter() - t_start

    rows = []
    limit_hits = []
    examples = []
    detail = []
    for name in CORPORA:
        ws = [w for _, _, w in windows[name]]
        lens = np.array([w.size for w in ws])
        offsets = np.zeros(len(ws) + 1, np.int64)
        offsets[1:] = np.cumsum(lens)
        values = np.concatenate(ws).astype(np.int32)
        strat_lens = {}
        for st, codec in codecs.items():
            cv, co = codec.compress_batch(values, offsets)
            if not codec.verify_batch(values, offsets, cv, co).all():
                raise AssertionError(f"{name}: strategy {st} does not round-trip")
            strat_lens[st] = np.diff(co)
        ilp_lens = np.empty(len(ws), np.int64)
        ilp_bound_lens = np.empty(len(ws), np.int64)
        worst = (0.0, -1)
        for i, (rec, start, w) in enumerate(windows[name]):
            r = results[(name, i)]
            check(w, r, codecs["best"])
            # Best known flat parse: the ILP's, or a strategy's where the solver stopped at its time limit with
            # something worse (every strategy's output is a valid flat parse, so it is a lower bound too).
            ilp_lens[i] = min(r.compressed, *(int(strat_lens[st][i]) for st in STRATEGIES))
            ilp_bound_lens[i] = r.compressed_bound
            if not r.hit_limit and ilp_lens[i] != r.compressed:
                raise AssertionError(f"{name} window {i}: a strategy beats the proven optimum {r.compressed}")
            for st in STRATEGIES:
                if strat_lens[st][i] < r.compressed_bound:
                    raise AssertionError(
                        f"{name} window {i}: {st} ({strat_lens[st][i]}) beats the ILP bound ({r.compressed_bound})"
                    )
            if r.hit_limit:
                limit_hits.append((name, i, r.n, r.objective, r.bound, r.n_vars))
            gap_i = (strat_lens["best"][i] - ilp_lens[i]) / r.n
            if gap_i > worst[0]:
                worst = (gap_i, i)
            detail.append(
                (
                    name,
                    i,
                    rec,
                    start,
                    r.n,
                    r.n_enumerated,
                    r.n_candidates,
                    r.n_vars,
                    r.seconds,
                    r.hit_limit,
                    int(ilp_lens[i]),
                    *(int(strat_lens[st][i]) for st in STRATEGIES),
                )
            )
        total = int(lens.sum())
        ilp_red = 1 - ilp_lens.sum() / total
        ilp_bound_red = 1 - ilp_bound_lens.sum() / total
        reds = {st: 1 - strat_lens[st].sum() / total for st in STRATEGIES}
        better = {st: int(np.sum(strat_lens[st] > ilp_lens)) for st in STRATEGIES}
        rows.append((name, len(ws), total, ilp_red, ilp_bound_red, reds, better))
        if worst[1] >= 0:
            examples.append((name, worst[1]))
        print(
            f"{name}: ILP {_pct(ilp_red)} (bound {_pct(ilp_bound_red)})  "
            + "  ".join(f"{st} {_pct(reds[st])}" for st in STRATEGIES),
            flush=True,
        )

    lines = []
    lines.append("# ILP gap: exact flat optimum vs the codec's strategies\n")
    lines.append(f"Code: {code_version(REPO)}.\n")
    lines.append(
        f"Windows of at most {args.size} GPT-2 tokens, {args.windows} per corpus: evenly spaced records, alternately "
        "the record's first tokens and the tokens in its middle (records shorter than the window are taken whole). "
        "Reduction = 1 - sum(compressed) / sum(original) over the windows, dictionary and delimiters included. "
        "Codec: pool_size 4096 (non-binding), default max_len. ILP: every substring of length >= 2 with >= 2 "
        "non-overlapping occurrences, minus those that can never pay; scipy.optimize.milp (HiGHS), time limit "
        f"{args.time_limit:g} s per window. Gap = ILP reduction - strategy reduction, in points (goal for the "
        f"default: <= {GOAL_POINTS}). ILP bound = the reduction the solver could not rule out (equal to ILP when "
        "every window was solved to optimality). windows worse = windows where the strategy is longer than the ILP.\n"
    )
    hdr = [
        "corpus",
        "windows",
        "tokens",
        "ILP",
        "ILP bound",
        "best (default)",
        "savings",
        "paper",
        "gap best",
        "gap savings",
        "gap paper",
        "windows worse (best/savings/paper)",
        f"default within {GOAL_POINTS}",
    ]
    if limit_hits:
        hdr[8] = "gap best (vs bound)"
    lines.append("| " + " | ".join(hdr) + " |")
    lines.append("|" + "---|" * len(hdr))
    for name, nw, total, ilp_red, ilp_bound_red, reds, better in rows:
        gaps = {st: 100 * (ilp_red - reds[st]) for st in STRATEGIES}
        gap_hi = 100 * (ilp_bound_red - reds["best"])
        ok = "yes" if gap_hi <= GOAL_POINTS else ("**no**" if gaps["best"] > GOAL_POINTS else "unknown")
        gap_best = f"{gaps['best']:.2f}" + (f" ({gap_hi:.2f})" if limit_hits else "")
        lines.append(
            f"| {name} | {nw} | {total:,} | {_pct(ilp_red)} | {_pct(ilp_bound_red)} | {_pct(reds['best'])} | "
            f"{_pct(reds['savings'])} | {_pct(reds['paper'])} | {gap_best} | {gaps['savings']:.2f} | "
            f"{gaps['paper']:.2f} | {better['best']}/{better['savings']}/{better['paper']} of {nw} | {ok} |"
        )
    lines.append("")
    if limit_hits:
        lines.append(
            f"Windows that hit the {args.time_limit:g} s time limit without a proof of optimality. There the "
            "ILP column uses the best parse known (the solver's or, when shorter, a strategy's), a lower "
            "bound on the optimum, and ILP bound the solver's upper bound; the gap lies between the two:\n"
        )
        lines.append("| corpus | window | tokens | objective found | upper bound | variables |")
        lines.append("|---|---|---|---|---|---|")
        for name, i, n, obj, bound, nv in limit_hits:
            lines.append(f"| {name} | {i} | {n} | {obj} | {bound:.1f} | {nv} |")
    else:
        lines.append(f"No window hit the {args.time_limit:g} s time limit: every ILP value is a proven optimum.")
    lines.append("")
    lines.append(
        "Every ILP parse was checked: its occurrences match their definitions and do not overlap, and, "
        "serialized in format v1, it decodes with `Codec.decompress` back to its window, with the serialized "
        "length equal to n - objective + 2. No strategy beat the ILP bound on any window.\n"
    )
    if examples:
        lines.append("## Where the optimum differs: the window with the largest default-vs-ILP gap per corpus\n")
        lines.append(
            "Entries as length x uses: decoded text (GPT-2 splits indentation into one token per space, "
            "so a run of spaces is several tokens).\n"
        )
        for name, i in examples:
            rec, start, w = windows[name][i]
            r = results[(name, i)]
            comp = codecs["best"].compress(w)
            ents = codecs["best"].dictionary(comp)
            lines.append(
                f"### {name}, window {i} (record {rec}, tokens {start}..{start + r.n}): ILP {r.compressed} "
                f"vs default {comp.size} tokens\n"
            )
            lines.append("ILP dictionary, in order of first use:\n")
            for tokens, plist in r.entries:
                lines.append(f"- {len(tokens)} x {len(plist)}: `{_show(tok, tokens)}`")
            lines.append("\nDefault dictionary:\n")
            for e in ents:
                lines.append(f"- {len(e.expansion)} x {e.uses}: `{_show(tok, e.expansion)}`")
            lines.append("")
    lines.append("## Per window\n")
    lines.append(
        "repeats = distinct substrings with >= 2 non-overlapping occurrences; candidates = those that can "
        "pay; variables = x + y; seconds = candidate enumeration + milp, wall time (2 solves ran in "
        "parallel on a shared machine). ILP and strategy columns are compressed lengths.\n"
    )
    lines.append(
        "| corpus | window | record | start | n | repeats | candidates | variables | seconds | hit limit | "
        "ILP | best | savings | paper |"
    )
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for d in detail:
        lines.append(
            f"| {d[0]} | {d[1]} | {d[2]} | {d[3]} | {d[4]} | {d[5]} | {d[6]} | {d[7]} | {d[8]:.2f} | "
            f"{'yes' if d[9] else ''} | {d[10]} | {d[11]} | {d[12]} | {d[13]} |"
        )
    lines.append("")
    lines.append(
        f"Total runtime {time.perf_counter() - t_start:.0f} s (ILP solves {ilp_seconds:.0f} s with "
        f"{args.jobs} parallel jobs)."
    )
    text = "\n".join(lines) + "\n"
    print()
    print("\n".join(lines[: lines.index("## Per window\n")]))
    if not args.quick:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
