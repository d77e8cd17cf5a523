"""Token reduction of flat and hierarchical dictionaries, side by side, per corpus.

Usage::

    PYTHONPATH=. python benchmarks/bench_hierarchical.py [--corpus-dir DIR] [--out benchmarks/results/hierarchical.md]

Every record of every corpus, tokenized with the bundled GPT-2 tokenizer, compressed with each strategy flat and
hierarchical (pool 512) in one process; every output is decompressed and checked.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from _common import CORPORA, STRATEGIES, TOKENIZER, add_corpus_dir_argument, code_version
from tokenizers import Tokenizer

from ltsc import Codec


def main(argv: list[str] | None = None) -> None:
    """Print (and optionally write) the reduction and single-thread speed table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_corpus_dir_argument(parser)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    tok = Tokenizer.from_file(str(TOKENIZER))
    base = tok.get_vocab_size(with_added_tokens=True)
    lines = [
        "# Flat vs hierarchical dictionaries",
        "",
        f"Code: {code_version()}. Reduction = 1 - Σcompressed / Σoriginal (dictionary included); speed = original "
        "tokens per wall second, one thread, JIT warm.",
        "",
        "| corpus | strategy | flat | hierarchical | flat tok/s | hierarchical tok/s |",
        "|---|---|---|---|---|---|",
    ]
    for name in CORPORA:
        texts = pq.read_table(args.corpus_dir / f"{name}.parquet").column("text").to_pylist()
        enc = tok.encode_batch(texts, add_special_tokens=False)
        values = np.concatenate([np.asarray(e.ids, np.int32) for e in enc])
        offsets = np.concatenate([[0], np.cumsum([len(e.ids) for e in enc])]).astype(np.int64)
        for strategy in STRATEGIES:
            cells = []
            for hierarchical in (False, True):
                codec = Codec(base_id=base, strategy=strategy, hierarchical=hierarchical)
                codec.compress_batch(values[: offsets[1]], offsets[:2])  # JIT warm
                start = time.perf_counter()
                out, out_offsets = codec.compress_batch(values, offsets)
                seconds = time.perf_counter() - start
                back, _ = codec.decompress_batch(out, out_offsets)
                assert np.array_equal(back, values)
                cells.append((1 - out.size / values.size, values.size / seconds))
            row = (
                f"| {name} | {strategy} | {100 * cells[0][0]:.2f}% | {100 * cells[1][0]:.2f}% | "
                f"{cells[0][1] / 1e6:.2f}M | {cells[1][1] / 1e6:.2f}M |"
            )
            print(row, flush=True)
            lines.append(row)
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
