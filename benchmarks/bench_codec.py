"""Codec benchmark: token reduction and single-core speed on the benchmark corpora, against the tokenizer's own speed.

Tables (markdown, printed and written to ``benchmarks/results/codec.md``):

1. Per corpus, strategy (best, savings, paper) and pool size (4096, non-binding; 512): token reduction
   (1 - sum(compressed) / sum(original), dictionary and delimiters included), the difference in points from the
   reference numbers in the corpus README, compress and decompress speed on one core (batch API over the whole
   corpus), the bundled GPT-2 tokenizer's single-thread encode speed on the same text in the same run (through
   ``pipelines.tokenizer.encode_batch``, the pipeline's own call: tiktoken, which it proves gives this tokenizer's
   ids), and the ratio compress speed / tokenize speed.
2. Per-token compress time for single records of 1K, 8K, 64K and 128K tokens, cut from one stream of real text
   mixed from all corpora (the same 128K tokens at every size), per strategy, with t(128K) / t(1K), and the time of
   each kernel stage (suffix array, LCP, savings selection, paper selection). 2b: records of 32-512 tokens (the
   size of many fine-tuning examples) from the same stream, next to the tokenizer on their text, with each
   strategy's fixed cost per record.
3. Decompress speed per strategy and record size.
4. The same texts through other tokenizer APIs of the same vocabulary (Hugging Face tokenizers' ``encode_batch_fast``,
   ``encode_batch`` and per-record ``encode``, transformers' fast and pure-Python GPT-2 tokenizers, the pipeline's
   path forced to tokenizers), for context next to the speed target.

Timing: every quantity is measured ``--repeats`` times (default 3) and the best is kept; the repeats are
interleaved (repeat 1 of everything, then repeat 2, ...), so the compared quantities (tokenizer vs codec, strategy vs
strategy) see the same machine load. A measurement loops its call until it lasts at least ``--min-time`` seconds.
Times are process CPU time by default (``--clock cpu``): the machine is shared and everything measured runs on one
thread, so CPU time is the closest to "one dedicated core"; ``--clock wall`` uses wall time instead. The tokenizer
runs single-threaded: ``RAYON_NUM_THREADS=1`` and ``TOKENIZERS_PARALLELISM=false`` are set before ``tokenizers`` is
imported, and the whole corpus goes through ``pipelines.tokenizer.encode_batch`` as the pipeline calls it (one
tiktoken call per record, serial on the calling thread); its cpu/wall ratio is reported to show it. Caches are warm
(best of N on the same text), which favours the tokenizer and so makes the ratio conservative.

Run from the repository root::

    PYTHONPATH=. python benchmarks/bench_codec.py            # full run (~3-5 min), writes benchmarks/results/codec.md
    PYTHONPATH=. python benchmarks/bench_codec.py --quick    # smoke test (~20 s), writes nothing
"""

from __future__ import annotations

import os

# Before tokenizers is imported: one thread, so its speed is a single core's.
os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
import tokenizers  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numba  # noqa: E402
from _common import CORPORA, STRATEGIES, TOKENIZER, add_corpus_dir_argument, code_version  # noqa: E402

from ltsc import PAPER_MAX_LEN, Codec  # noqa: E402
from numba_kernels.codec import (  # noqa: E402
    _one_phase_plan,
    _refine_budget,
    _refined,
    _search_step,
)
from numba_kernels.refine import _with_run_family  # noqa: E402
from numba_kernels.select import _paper_select, _savings_select, _workspace  # noqa: E402
from numba_kernels.suffix import _lcp_intervals, _repeat_suffix_array  # noqa: E402

POOLS = (4096, 512)
SIZES = (1024, 8192, 65536, 131072)
#: Short records (table 2b): fine-tuning examples are often a few hundred tokens, where per-record costs show.
SHORT_SIZES = (32, 64, 128, 256, 512)

# Targets the benchmark reports against.
TARGET_SPEEDUP = 8.0  # default compress speed / single-thread tokenize speed
TARGET_SCALING = 2.0  # per-token time at 128K / at 1K
TARGET_DECOMPRESS = 50e6  # tokens/s


# ----------------------------------------------------------------------------------------------- timing


class Clock:
    """Best-of-N timer over one clock (process CPU time or wall time)."""

    def __init__(self, kind: str, min_time: float) -> None:
        self.now = time.process_time if kind == "cpu" else time.perf_counter
        self.kind = kind
        self.min_time = min_time
        self.best: dict[str, float] = {}
        self.loops: dict[str, int] = {}
        self.cpu_wall: dict[str, float] = {}

    def measure(self, key: str, fn: Callable[[], object]) -> float:
        """Run ``fn`` (looped so one measurement lasts >= min_time), keep the best seconds per call under ``key``."""
        loops = self.loops.get(key)
        if loops is None:  # calibrate once, on the first (warm) measurement
            t0 = self.now()
            fn()
            one = max(self.now() - t0, 1e-6)
            loops = max(1, int(np.ceil(self.min_time / one))) if one < self.min_time else 1
            self.loops[key] = loops
        w0, c0 = time.perf_counter(), time.process_time()
        t0 = self.now()
        for _ in range(loops):
            fn()
        dt = (self.now() - t0) / loops
        w1, c1 = time.perf_counter(), time.process_time()
        if dt < self.best.get(key, np.inf):
            self.best[key] = dt
            self.cpu_wall[key] = (c1 - c0) / max(w1 - w0, 1e-9)
        return dt


# ----------------------------------------------------------------------------------------------- data


@dataclass
class Corpus:
    """One corpus: its texts and their GPT-2 ids as a flat batch."""

    name: str
    texts: list[str]
    values: np.ndarray  # int32
    offsets: np.ndarray  # int64

    @property
    def tokens(self) -> int:
        """Number of tokens in the corpus."""
        return int(self.values.size)


def tokenize(tok: Tokenizer, texts: list[str], backend: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """What the pipeline does: ``pipelines.tokenizer.encode_batch`` (tiktoken for the bundled GPT-2)."""
    from pipelines.tokenizer import encode_batch

    return encode_batch(tok, texts, backend=backend)


def hf_tokenize(tok: Tokenizer, texts: list[str]) -> list:
    """Hugging Face tokenizers' fastest call: ``encode_batch_fast`` (no offsets)."""
    return tok.encode_batch_fast(texts, add_special_tokens=False)


def tokenizer_paths(tok: Tokenizer) -> dict[str, Callable[[list[str]], object]]:
    """Other ways to tokenize the same text with the same GPT-2 vocabulary, for context next to the pipeline's.

    Every path yields the same ids; the pure-Python ``GPT2Tokenizer`` is built from the bundled
    ``tokenizer.json``'s vocabulary and merges (checked id-for-id on the first text by the caller).
    """
    from transformers import GPT2Tokenizer, PreTrainedTokenizerFast

    config = json.loads(TOKENIZER.read_text(encoding="utf-8"))
    model = config["model"]
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    with tempfile.TemporaryDirectory(prefix="ltsc-bench-tok-") as workdir:
        vocab_file, merges_file = Path(workdir) / "vocab.json", Path(workdir) / "merges.txt"
        vocab_file.write_text(json.dumps(model["vocab"]), encoding="utf-8")
        merges_file.write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
        slow = GPT2Tokenizer(str(vocab_file), str(merges_file))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok)
    return {
        "tiktoken `encode_ordinary`, one call per record (same ranks and split pattern)": tiktoken_encoder(tok),
        "`pipelines.tokenizer.encode_batch`, backend auto = tiktoken (the pipeline's; table 1)": lambda texts: tokenize(
            tok, texts
        ),
        "`pipelines.tokenizer.encode_batch`, backend tokenizers": lambda texts: tokenize(tok, texts, "tokenizers"),
        "tokenizers `encode_batch_fast` (the pipeline's before the tiktoken backend)": lambda texts: hf_tokenize(
            tok, texts
        ),
        "tokenizers `encode_batch` (with offsets)": lambda texts: tok.encode_batch(texts, add_special_tokens=False),
        "tokenizers `encode`, one call per record": lambda texts: [
            tok.encode(t, add_special_tokens=False) for t in texts
        ],
        "transformers fast tokenizer, `tok(texts)`": lambda texts: fast(texts, add_special_tokens=False)["input_ids"],
        "transformers `GPT2Tokenizer` (pure Python), per record": lambda texts: [
            slow(t, add_special_tokens=False)["input_ids"] for t in texts
        ],
    }


def tiktoken_encoder(tok: Tokenizer) -> Callable[[list[str]], object]:
    """The bare tiktoken ``encode_ordinary`` over the pipeline's twin of ``tok`` (one call per record, lists of ids).

    The pipeline's own path (``encode_batch``) adds numpy output and its checks on top; this row shows their cost.
    """
    from pipelines.tokenizer import tiktoken_twin

    enc, why = tiktoken_twin(tok)
    if enc is None:
        raise SystemExit(f"no tiktoken twin for the bundled tokenizer: {why}")
    return lambda texts: [enc.encode_ordinary(t) for t in texts]


def load_corpus(corpus_dir: Path, name: str, tok: Tokenizer, limit: int | None) -> Corpus:
    """Read one corpus's texts (the first ``limit`` records when given) and tokenize them."""
    texts = pq.read_table(corpus_dir / f"{name}.parquet", columns=["text"]).column("text").to_pylist()
    if limit is not None:
        texts = texts[:limit]
    values, offsets = tokenize(tok, texts)
    return Corpus(name, texts, values, offsets)


def mixed_stream(corpora: list[Corpus], length: int) -> np.ndarray:
    """``length`` ids of real text mixed from every corpus: whole records taken round-robin, one per corpus in turn."""
    parts: list[np.ndarray] = []
    total = 0
    i = 0
    while total < length:
        took = False
        for c in corpora:
            if i < len(c.offsets) - 1:
                rec = c.values[c.offsets[i] : c.offsets[i + 1]]
                parts.append(rec)
                total += rec.size
                took = True
        if not took:
            break
        i += 1
    stream = np.concatenate(parts)
    if stream.size < length:
        raise SystemExit(f"only {stream.size} tokens available for a {length}-token record")
    return stream[:length]


def read_reference(corpus_dir: Path) -> dict[str, tuple[int, int, float, float]]:
    """The corpus README's reference table: name -> (records, tokens, paper %, savings %)."""
    readme = corpus_dir / "README.md"
    ref: dict[str, tuple[int, int, float, float]] = {}
    if not readme.exists():
        return ref
    row = re.compile(r"^\|\s*(\w+)\s*\|\s*([\d,]+)\s*\|\s*([\d,]+)\s*\|\s*([\d.]+)%\s*\|\s*([\d.]+)%\s*\|\s*$")
    for line in readme.read_text().splitlines():
        m = row.match(line)
        if m:
            ref[m[1]] = (int(m[2].replace(",", "")), int(m[3].replace(",", "")), float(m[4]), float(m[5]))
    return ref


#: The stages strategy "best" runs, in order (the suffix and LCP arrays and their intervals once, shared by every
#: run; refine dissolves entries of both savings parses; search_step re-runs the better savings parse's greedy
#: with its largest entry's region banned, and refines that parse too; run_family re-chooses the run entries of the
#: final parse).
BEST_STAGES = (
    "sa_lcp",
    "lcp_intervals",
    "savings_select",
    "savings_select_2phase",
    "refine",
    "search_step",
    "run_family",
)
STAGES = (*BEST_STAGES, "paper_select")
ONE_PHASE = np.array([2], np.int64)
TWO_PHASES = np.array([8, 2], np.int64)
NO_BAN = np.zeros(0, np.int64)


def stage_prepare(values: np.ndarray, offsets: np.ndarray) -> tuple[list, list, list]:
    """Records as int64 arrays with their suffix arrays and LCP intervals; also compiles the stage kernels."""
    recs = [values[offsets[i] : offsets[i + 1]].astype(np.int64) for i in range(offsets.size - 1)]
    recs = [r for r in recs if r.size >= 4]  # the codec skips shorter records
    arrays = [_repeat_suffix_array(r) for r in recs]
    ivs = [_lcp_intervals(sa, lcp, 2) for sa, lcp in arrays]
    _savings_select(recs[0], 0, 4096, 1, arrays[0][0], ivs[0], ONE_PHASE, NO_BAN, -1)
    _paper_select(recs[0], PAPER_MAX_LEN, *arrays[0])
    return recs, arrays, ivs


def stage_measure(clock: Clock, key: str, inputs: tuple[list, list, list]) -> None:
    """Time each kernel stage over every record of ``inputs`` (records as the codec's default settings see them)."""
    recs, arrays, ivs = inputs
    both = [(r, sa, iv) for r, (sa, _), iv in zip(recs, arrays, ivs, strict=True)]
    clock.measure(f"stage/{key}/sa_lcp", lambda: [_repeat_suffix_array(r) for r in recs])
    clock.measure(f"stage/{key}/lcp_intervals", lambda: [_lcp_intervals(sa, lc, 2) for sa, lc in arrays])
    clock.measure(
        f"stage/{key}/savings_select_2phase",
        lambda: [_savings_select(r, 0, 4096, 1, sa, iv, TWO_PHASES, NO_BAN, -1) for r, sa, iv in both],
    )
    twos = [_savings_select(r, 0, 4096, 1, sa, iv, TWO_PHASES, NO_BAN, -1) for r, sa, iv in both]
    # The one-phase run where "best" runs it, with its work cap (_one_phase_plan).
    plans = [
        _one_phase_plan(r, two[4], two[1].shape[0], 4096, two[5]) for (r, _, _), two in zip(both, twos, strict=True)
    ]
    ones_in = [(r, sa, iv, cap) for (r, sa, iv), (run, cap) in zip(both, plans, strict=True) if run]
    clock.measure(
        f"stage/{key}/savings_select",
        lambda: [_savings_select(r, 0, 4096, 1, sa, iv, ONE_PHASE, NO_BAN, cap) for r, sa, iv, cap in ones_in],
    )
    # The search step starts from the better of the plain parses (prepared untimed, as "best" does).
    starts = []
    for (r, sa, iv), two, (run, cap) in zip(both, twos, plans, strict=True):
        one = _savings_select(r, 0, 4096, 1, sa, iv, ONE_PHASE, NO_BAN, cap) if run else None
        parses = [two] if one is None or one[5] < 0 else [one, two]
        parse, tiers = (one, ONE_PHASE) if len(parses) == 2 and one[3].sum() >= two[3].sum() else (two, TWO_PHASES)
        refined = _refined(r, parse[0].copy(), *parse[1:4], 4096)
        starts.append((r, sa, iv, tiers, *parse[:4], parse[5], refined, parses))
    clock.measure(
        f"stage/{key}/refine",
        lambda: [[_refined(r, p[0].copy(), p[1], p[2], p[3], 4096) for p in parses] for r, *_, parses in starts],
    )
    clock.measure(
        f"stage/{key}/search_step",
        lambda: [
            _search_step(r, 0, 4096, 1, sa, iv, t, o, el, es, eg, wk, _workspace(r.shape[0]), 1, True, b)
            for r, sa, iv, t, o, el, es, eg, wk, b, _ in starts
        ],
    )
    # The run-family pass runs once, on the final parse; timed here on the refined better parse.
    clock.measure(
        f"stage/{key}/run_family",
        lambda: [
            _with_run_family(r, *a, b[0].copy(), b[1], b[2], b[3], 4096, _refine_budget(r))
            for (r, sa, iv, t, o, el, es, eg, wk, b, _), a in zip(starts, arrays, strict=True)
        ],
    )
    clock.measure(
        f"stage/{key}/paper_select",
        lambda: [_paper_select(r, PAPER_MAX_LEN, sa, lc) for r, (sa, lc) in zip(recs, arrays, strict=True)],
    )


def fmt_rate(tokens_per_s: float) -> str:
    """Tokens per second in millions."""
    return f"{tokens_per_s / 1e6:.2f}M"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A markdown table as lines."""
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def verdict(ok: bool) -> str:
    """PASS or a bold FAIL."""
    return "PASS" if ok else "**FAIL**"


# ----------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns the exit code."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_corpus_dir_argument(ap)
    ap.add_argument(
        "--quick",
        action="store_true",
        help="smoke mode: 20 records per corpus, sizes up to 8K, one repeat, nothing written",
    )
    ap.add_argument("--repeats", type=int, default=3, help="best of N (default 3)")
    ap.add_argument(
        "--min-time", type=float, default=0.25, help="seconds one measurement lasts at least (default 0.25)"
    )
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu", help="process CPU time (default) or wall time")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "codec.md")
    args = ap.parse_args(argv)
    limit = None
    sizes = SIZES
    short_sizes = SHORT_SIZES
    if args.quick:
        args.repeats, args.min_time, limit, sizes, short_sizes = 1, 0.02, 20, (1024, 8192), (32, 512)

    t_start = time.perf_counter()
    load_before = os.getloadavg()
    tok = Tokenizer.from_file(str(TOKENIZER))
    base = tok.get_vocab_size(with_added_tokens=True)
    corpora = [load_corpus(args.corpus_dir, name, tok, limit) for name in CORPORA]
    reference = read_reference(args.corpus_dir)
    codecs = {(st, pool): Codec(base_id=base, pool_size=pool, strategy=st) for st in STRATEGIES for pool in POOLS}
    clock = Clock(args.clock, args.min_time)

    # Records of each size, all cut from the same mixed stream.
    stream = mixed_stream(corpora, max(sizes))
    size_batches = {}
    for size in sizes:
        k = stream.size // size
        size_batches[size] = (stream[: k * size].astype(np.int32), np.arange(k + 1, dtype=np.int64) * size)
    # Short records of the same stream, and their text for the tokenizer (decoded windows re-tokenize to about
    # as many tokens; the tokenizer's speed is over the ids it produces).
    short_batches = {}
    for size in short_sizes:
        k = stream.size // size
        v = stream[: k * size].astype(np.int32)
        texts = tok.decode_batch([v[i * size : (i + 1) * size].tolist() for i in range(k)])
        retokenized = int(tokenize(tok, texts)[1][-1])
        short_batches[size] = (v, np.arange(k + 1, dtype=np.int64) * size, texts, retokenized)

    # Warm the JIT (and check round trips and reductions once, untimed).
    reduction: dict[tuple[str, str, int], float] = {}
    compressed: dict[tuple[str, str, int], tuple[np.ndarray, np.ndarray]] = {}
    max_entries: dict[tuple[str, str, int], int] = {}
    for (st, pool), codec in codecs.items():
        for c in corpora:
            cv, co = codec.compress_batch(c.values, c.offsets)
            dv, do = codec.decompress_batch(cv, co)
            if not (np.array_equal(dv, c.values) and np.array_equal(do, c.offsets)):
                raise SystemExit(f"round trip failed: {c.name} {st} pool {pool}")
            reduction[(c.name, st, pool)] = 1 - cv.size / c.values.size
            compressed[(c.name, st, pool)] = (cv, co)
            max_entries[(c.name, st, pool)] = int(codec.dictionary_sizes(cv, co).max(initial=0))
    size_reduction = {}
    size_compressed = {}
    for st in STRATEGIES:
        codec = codecs[(st, 4096)]
        batches = [(size, v, o) for size, (v, o) in size_batches.items()]
        batches += [(size, v, o) for size, (v, o, _, _) in short_batches.items()]
        for size, v, o in batches:
            cv, co = codec.compress_batch(v, o)
            dv, _ = codec.decompress_batch(cv, co)
            if not np.array_equal(dv, v):
                raise SystemExit(f"round trip failed: {size}-token records, {st}")
            size_reduction[(st, size)] = 1 - cv.size / v.size
            size_compressed[(st, size)] = (cv, co)
    # Stage inputs (int64, as the codec's kernels see them), per record size and per corpus.
    stage_inputs = {}
    for size, (v, o) in size_batches.items():
        stage_inputs[f"{size}"] = stage_prepare(v, o)
    for c in corpora:
        stage_inputs[c.name] = stage_prepare(c.values, c.offsets)

    # Other tokenizer paths over all corpora's texts (context for the speed target; same ids).
    all_texts = [t for c in corpora for t in c.texts]
    paths = tokenizer_paths(tok)
    probe = all_texts[0]
    for name, fn in paths.items():
        ids = fn([probe])[0]
        ids = ids.ids if hasattr(ids, "ids") else ids
        if list(ids) != tok.encode(probe, add_special_tokens=False).ids:
            raise SystemExit(f"tokenizer path disagrees with the bundled tokenizer: {name}")

    # Timed runs, interleaved: repeat r of every quantity before repeat r + 1 of any.
    for rep in range(args.repeats):
        for c in corpora:
            clock.measure(f"tok/{c.name}", lambda c=c: tokenize(tok, c.texts))
            for (st, pool), codec in codecs.items():
                clock.measure(f"comp/{c.name}/{st}/{pool}", lambda c=c, k=codec: k.compress_batch(c.values, c.offsets))
                cv, co = compressed[(c.name, st, pool)]
                clock.measure(f"dec/{c.name}/{st}/{pool}", lambda cv=cv, co=co, k=codec: k.decompress_batch(cv, co))
        for name, fn in paths.items():
            if rep == 0 or "pure Python" not in name:  # the pure-Python one takes seconds a pass: measured once
                clock.measure(f"path/{name}", lambda fn=fn: fn(all_texts))
        for size, (v, o) in size_batches.items():
            for st in STRATEGIES:
                codec = codecs[(st, 4096)]
                clock.measure(f"size/{size}/{st}", lambda v=v, o=o, k=codec: k.compress_batch(v, o))
                cv, co = size_compressed[(st, size)]
                clock.measure(f"sizedec/{size}/{st}", lambda cv=cv, co=co, k=codec: k.decompress_batch(cv, co))
        for size, (v, o, texts, _) in short_batches.items():
            clock.measure(f"shorttok/{size}", lambda texts=texts: tokenize(tok, texts))
            for st in STRATEGIES:
                clock.measure(f"short/{size}/{st}", lambda v=v, o=o, k=codecs[(st, 4096)]: k.compress_batch(v, o))
        for key, inputs in stage_inputs.items():
            stage_measure(clock, key, inputs)
        elapsed = time.perf_counter() - t_start
        print(f"repeat {rep + 1}/{args.repeats} done ({elapsed:.0f} s)", file=sys.stderr, flush=True)
    best = clock.best
    load_after = os.getloadavg()

    lines: list[str] = []
    lines.append("# Codec benchmark\n")
    lines.append(
        f"Code: {code_version(REPO)}. "
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared: load average "
        f"{load_before[0]:.1f} before, {load_after[0]:.1f} after the run). Python {platform.python_version()}, "
        f"numba {numba.__version__}, tokenizers {tokenizers.__version__}, numpy {np.__version__}. "
        f"Clock: {'process CPU time' if args.clock == 'cpu' else 'wall time'}, best of {args.repeats} interleaved "
        f"repeats, each looped to >= {args.min_time:g} s. Tokenizer: bundled GPT-2 (base id {base}), "
        "`pipelines.tokenizer.encode_batch` as the pipeline calls it (backend auto: tiktoken, which the pipeline "
        "proves gives this tokenizer's ids; one call per record, serial on the calling thread) over the whole "
        "corpus, warm caches; table 4 has Hugging Face tokenizers' own speed. Codec: batch API "
        "(`compress_batch` / `decompress_batch`) over the whole corpus, one thread. "
        "Speeds are original (uncompressed) tokens per second, for decompression too."
        + (" **Quick mode: 20 records per corpus, one repeat; numbers are only a smoke test.**" if args.quick else "")
        + "\n"
    )

    # ---- Table 1
    lines.append("## 1. Reduction and single-core speed per corpus\n")
    lines.append(
        "ref = the corpus README's reference (paper: 'paper-faithful greedy (max_len 8)'; savings: 'savings-ordered "
        "greedy (any length up to 64)'; best: the larger of the two, which the per-record best must reach). "
        "Δ ref = reduction - ref, in points (pool 4096 only; the reference has no pool limit). For pool 512, "
        "Δ ref shows the change from pool 4096 instead. max entries = the most dictionary entries in one record. "
        "x tok = compress speed / tokenize speed.\n"
    )
    rows = []
    tot_tok_time = 0.0
    tot_comp_time: dict[tuple[str, int], float] = {}
    tot_dec_time: dict[tuple[str, int], float] = {}
    total_tokens = sum(c.tokens for c in corpora)
    for c in corpora:
        t_tok = best[f"tok/{c.name}"]
        tot_tok_time += t_tok
        ref = reference.get(c.name)
        ref_note = ""
        if ref and not args.quick and (ref[0] != len(c.texts) or ref[1] != c.tokens):
            ref_note = f" (ref counts {ref[0]} / {ref[1]:,} differ!)"
        for pool in POOLS:
            for st in STRATEGIES:
                red = reduction[(c.name, st, pool)]
                t_c = best[f"comp/{c.name}/{st}/{pool}"]
                t_d = best[f"dec/{c.name}/{st}/{pool}"]
                tot_comp_time[(st, pool)] = tot_comp_time.get((st, pool), 0.0) + t_c
                tot_dec_time[(st, pool)] = tot_dec_time.get((st, pool), 0.0) + t_d
                if pool == POOLS[0] and ref:
                    r = {"paper": ref[2], "savings": ref[3], "best": max(ref[2], ref[3])}[st]
                    ref_s, delta = f"{r:.1f}%", f"{100 * red - r:+.2f}"
                elif pool != POOLS[0]:
                    ref_s, delta = "(pool 4096)", f"{100 * (red - reduction[(c.name, st, POOLS[0])]):+.2f}"
                else:
                    ref_s, delta = "-", "-"
                rows.append(
                    [
                        c.name + ref_note,
                        f"{len(c.texts)}",
                        f"{c.tokens:,}",
                        st,
                        f"{pool}",
                        f"{max_entries[(c.name, st, pool)]}",
                        f"{100 * red:.2f}%",
                        ref_s,
                        delta,
                        fmt_rate(c.tokens / t_c),
                        fmt_rate(c.tokens / t_d),
                        fmt_rate(c.tokens / t_tok),
                        f"{t_tok / t_c:.2f}",
                    ]
                )
        ref_note = ""
    lines += table(
        [
            "corpus",
            "records",
            "tokens",
            "strategy",
            "pool",
            "max entries",
            "reduction",
            "ref",
            "Δ ref (pts)",
            "compress tok/s",
            "decompress tok/s",
            "tokenize tok/s",
            "x tok",
        ],
        rows,
    )
    lines.append("")
    # Totals
    rows = []
    tok_rate = total_tokens / tot_tok_time
    for pool in POOLS:
        for st in STRATEGIES:
            comp_len = sum(compressed[(c.name, st, pool)][0].size for c in corpora)
            rows.append(
                [
                    st,
                    f"{pool}",
                    f"{100 * (1 - comp_len / total_tokens):.2f}%",
                    fmt_rate(total_tokens / tot_comp_time[(st, pool)]),
                    fmt_rate(total_tokens / tot_dec_time[(st, pool)]),
                    fmt_rate(tok_rate),
                    f"{tot_tok_time / tot_comp_time[(st, pool)]:.2f}",
                ]
            )
    lines.append(f"All corpora together ({total_tokens:,} tokens; speeds = total tokens / total time):\n")
    lines += table(
        ["strategy", "pool", "reduction", "compress tok/s", "decompress tok/s", "tokenize tok/s", "x tok"], rows
    )
    tok_cw = [clock.cpu_wall[f"tok/{c.name}"] for c in corpora]
    lines.append(
        f"\nTokenizer cpu/wall during its best runs: {min(tok_cw):.2f}-{max(tok_cw):.2f} "
        "(<= 1 means it ran on one thread; below 1 the process waited for a core).\n"
    )

    # ---- Table 2
    lines.append("## 2. Per-token compress time by record length\n")
    lines.append(
        f"Records cut from one stream of {stream.size:,} tokens of real text, whole records taken round-robin from "
        f"{', '.join(CORPORA)}; at each size the stream is cut into "
        f"{', '.join(f'{stream.size // s} x {s // 1024}K' for s in sizes)} "
        "records and compressed in one `compress_batch` call (pool 4096), so every size sees the same text. "
        "ns/token = time / tokens.\n"
    )
    rows = []
    for st in STRATEGIES:
        per = {s: best[f"size/{s}/{st}"] / (size_batches[s][0].size) * 1e9 for s in sizes}
        ratio = per[sizes[-1]] / per[sizes[0]]
        rows.append(
            [st]
            + [f"{per[s]:.0f} ({100 * size_reduction[(st, s)]:.1f}%)" for s in sizes]
            + [f"{ratio:.2f}", verdict(ratio <= TARGET_SCALING)]
        )
    lines += table(
        ["strategy"]
        + [f"{s // 1024}K: ns/token (reduction)" for s in sizes]
        + [f"t({sizes[-1] // 1024}K)/t({sizes[0] // 1024}K)", f"<= {TARGET_SCALING:g}x"],
        rows,
    )
    lines.append("")
    lines.append(
        "Kernel stages, ns/token, called directly on the same records (default settings: savings with max_len "
        "unlimited and one suffix-array round per phase, paper with max_len 8). sa_lcp is the suffix and LCP arrays "
        "over the positions that can be in a repeat, lcp_intervals their repeats; both are built once per record "
        "and shared by every run. savings_select_2phase places repeats of 8+ tokens first (and rebuilds the suffix "
        "array for its second phase when the first replaced a quarter of the record). refine dissolves the entries "
        "of both parses that their own pieces serve better (numba_kernels/refine.py). search_step is the local "
        "search 'best' runs from the better of the two: the greedy again with the region of its largest entry "
        "banned, refined too. run_family re-chooses the final parse's entries for runs of one token together and "
        "re-places the dictionary (timed on the refined better parse). 'best' runs sa_lcp + lcp_intervals + both "
        "savings_select + refine + search_step + run_family; savings_select, the one-phase run, is timed only "
        "where 'best' runs it: not when the long-repeat phase took nothing (the result would be the same), nor on "
        "code-like records where the two-phase run scanned over 2 positions per token, and given up past 6 "
        "(numba_kernels/codec.py, _one_phase_plan); sum adds all of those, and the rest of "
        "the codec's time is the int64 copy, the pool cut and serialization (paper_select is the paper strategy's "
        "selection, not part of 'best'):\n"
    )
    rows = []
    for stage in STAGES:
        rows.append(
            [stage]
            + [f"{best[f'stage/{s}/{stage}'] / size_batches[s][0].size * 1e9:.0f}" for s in sizes]
            + [f"{best[f'stage/{sizes[-1]}/{stage}'] / best[f'stage/{sizes[0]}/{stage}']:.2f}"]
        )
    stage_sum = {s: sum(best[f"stage/{s}/{g}"] for g in BEST_STAGES) for s in sizes}
    rows.append(
        ["sum"]
        + [f"{stage_sum[s] / size_batches[s][0].size * 1e9:.0f}" for s in sizes]
        + [f"{stage_sum[sizes[-1]] / stage_sum[sizes[0]]:.2f}"]
    )
    rows.append(
        ["best (codec, for comparison)"]
        + [f"{best[f'size/{s}/best'] / size_batches[s][0].size * 1e9:.0f}" for s in sizes]
        + [f"{best[f'size/{sizes[-1]}/best'] / best[f'size/{sizes[0]}/best']:.2f}"]
    )
    lines += table(["stage"] + [f"{s // 1024}K" for s in sizes] + [f"{sizes[-1] // 1024}K/{sizes[0] // 1024}K"], rows)
    lines.append("")
    lines.append(
        "The same stages per corpus (whole corpus, its own records), ns/token, with each stage's share of "
        "the sum of the stages 'best' runs:\n"
    )
    rows = []
    for c in corpora:
        tot = sum(best[f"stage/{c.name}/{g}"] for g in BEST_STAGES)
        rows.append(
            [c.name]
            + [
                f"{best[f'stage/{c.name}/{g}'] / c.tokens * 1e9:.0f}"
                + (f" ({100 * best[f'stage/{c.name}/{g}'] / tot:.0f}%)" if g in BEST_STAGES else "")
                for g in STAGES
            ]
            + [f"{tot / c.tokens * 1e9:.0f}", f"{best[f'comp/{c.name}/best/4096'] / c.tokens * 1e9:.0f}"]
        )
    lines += table(["corpus", *STAGES, "sum", "best (codec)"], rows)
    lines.append("")

    # ---- Table 2b
    lines.append("### 2b. Short records\n")
    lines.append(
        f"The same stream cut into records of {', '.join(str(s) for s in short_sizes)} tokens (pool 4096), "
        "compressed in one `compress_batch` call per size; the tokenizer encodes the text of the same records "
        "(each decoded from its ids, one `encode_batch` call per size; its speed counts the ids it produces). "
        "us/record = time / records. fixed = the per-record cost and per token = the per-token cost of a "
        "least-squares line through the us/record of all sizes: the fixed part is allocation and setup that "
        "every record pays, whatever its length.\n"
    )
    rows = []
    fits = {}
    for st in STRATEGIES:
        per_rec = np.array([best[f"short/{s}/{st}"] / (short_batches[s][1].size - 1) * 1e6 for s in short_sizes])
        slope, intercept = np.polyfit(np.array(short_sizes, float), per_rec, 1)
        fits[st] = (intercept, slope * 1e3)
    for s in short_sizes:
        v, o, _, retok = short_batches[s]
        records = o.size - 1
        t_tok = best[f"shorttok/{s}"] / retok * 1e9
        cells = []
        for st in STRATEGIES:
            t = best[f"short/{s}/{st}"]
            cells.append(f"{t / v.size * 1e9:.0f} ({t / records * 1e6:.1f}; {100 * size_reduction[(st, s)]:.1f}%)")
        rows.append(
            [str(s), f"{records:,}", f"{t_tok:.0f}", *cells, f"{t_tok / (best[f'short/{s}/best'] / v.size * 1e9):.2f}"]
        )
    lines += table(
        ["tokens/record", "records", "tokenize ns/token"]
        + [f"{st}: ns/token (us/record; reduction)" for st in STRATEGIES]
        + ["best x tok"],
        rows,
    )
    lines.append("")
    lines.append(
        "Per-record cost lines: "
        + "; ".join(f"{st} {a:.1f} us fixed + {b:.0f} ns/token" for st, (a, b) in fits.items())
        + ".\n"
    )

    # ---- Table 3
    lines.append("## 3. Decompress speed\n")
    lines.append(
        "Original tokens produced per second by `decompress_batch` (pool 4096 outputs), per corpus and on "
        "the record-length batches of table 2.\n"
    )
    rows = []
    for c in corpora:
        rows.append([c.name] + [fmt_rate(c.tokens / best[f"dec/{c.name}/{st}/4096"]) for st in STRATEGIES])
    for s in sizes:
        rows.append(
            [f"{s // 1024}K records"]
            + [fmt_rate(size_batches[s][0].size / best[f"sizedec/{s}/{st}"]) for st in STRATEGIES]
        )
    rows.append(["all corpora"] + [fmt_rate(total_tokens / tot_dec_time[(st, 4096)]) for st in STRATEGIES])
    lines += table(["input"] + [f"{st} tok/s" for st in STRATEGIES], rows)
    lines.append("")

    # ---- Table 4
    lines.append("## 4. Tokenizer paths\n")
    comp_best = tot_comp_time[("best", 4096)]
    lines.append(
        "The same texts (all corpora, one list) through other APIs of the same GPT-2 vocabulary, one thread, warm "
        "cache, in the same run (the pure-Python one measured once). The speed target (below) is judged against the "
        "pipeline's path: tiktoken since the tiktoken backend (it matches the issue's 'about 3M tokens/s here'); "
        "Hugging Face tokenizers' fastest call (`encode_batch_fast`, the pipeline's path before) is the fourth "
        "row. The last column is the "
        "default's compress speed over each path's speed. All paths yield the same ids.\n"
    )
    rows = []
    for name in paths:
        t = best[f"path/{name}"]
        rows.append([name, fmt_rate(total_tokens / t), f"{t / total_tokens * 1e9:.0f}", f"{t / comp_best:.2f}x"])
    lines += table(["path", "tok/s", "ns/token", "best compress / path"], rows)
    lines.append("")

    # ---- Targets
    lines.append("## Targets\n")
    sp_best = {c.name: best[f"tok/{c.name}"] / best[f"comp/{c.name}/best/4096"] for c in corpora}
    sp_paper = {c.name: best[f"tok/{c.name}"] / best[f"comp/{c.name}/paper/4096"] for c in corpora}
    all_best = tot_tok_time / tot_comp_time[("best", 4096)]
    all_paper = tot_tok_time / tot_comp_time[("paper", 4096)]
    rows = [
        [
            f"default (best) compresses >= {TARGET_SPEEDUP:g}x faster than single-thread tokenization",
            f"all corpora {all_best:.2f}x; per corpus {min(sp_best.values()):.2f}-{max(sp_best.values()):.2f}x "
            f"(tokenizer {fmt_rate(tok_rate)} tok/s, "
            f"default {fmt_rate(total_tokens / tot_comp_time[('best', 4096)])} tok/s)",
            verdict(all_best >= TARGET_SPEEDUP and min(sp_best.values()) >= TARGET_SPEEDUP),
        ],
        [
            "paper faster still (than the default)",
            f"{all_paper / all_best:.2f}x the default",
            verdict(all_paper > all_best),
        ],
        [
            f"paper >= {TARGET_SPEEDUP:g}x faster than single-thread tokenization",
            f"all corpora {all_paper:.2f}x; per corpus {min(sp_paper.values()):.2f}-{max(sp_paper.values()):.2f}x",
            verdict(all_paper >= TARGET_SPEEDUP and min(sp_paper.values()) >= TARGET_SPEEDUP),
        ],
    ]
    for st in STRATEGIES:
        r = best[f"size/{sizes[-1]}/{st}"] / best[f"size/{sizes[0]}/{st}"]
        rows.append(
            [
                f"{st}: per-token time at {sizes[-1] // 1024}K <= {TARGET_SCALING:g}x that at {sizes[0] // 1024}K",
                f"{r:.2f}x",
                verdict(r <= TARGET_SCALING),
            ]
        )
    dec_rates = [total_tokens / tot_dec_time[(st, 4096)] for st in STRATEGIES]
    rows.append(
        [
            f"decompress >= {TARGET_DECOMPRESS / 1e6:g}M tokens/s",
            f"all corpora {min(dec_rates) / 1e6:.1f}-{max(dec_rates) / 1e6:.1f}M tok/s over strategies",
            verdict(min(dec_rates) >= TARGET_DECOMPRESS),
        ]
    )
    lines += table(["target", "measured", "verdict"], rows)
    lines.append(f"\nTotal runtime {time.perf_counter() - t_start:.0f} s.")

    text = "\n".join(lines) + "\n"
    print(text)
    if not args.quick:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
