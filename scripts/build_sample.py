#!/usr/bin/env python3
"""Build the bundled sample corpus (``pipelines/assets/sample/``) from the benchmark corpora, deterministically.

Reads ``/work/shared/corpus/*.parquet`` (columns ``id``, ``source``, ``text``), picks a fixed number of records per
source (ordered by sha256 of the id, skipping records longer than ``--max-chars``), deals them round-robin into
three Parquet shards (zstd, several row groups each, so row-group work units are exercised) and writes a README
with provenance and licences. The same inputs always give byte-identical shards (for a given pyarrow version).

The product never reads ``/work/shared``: only the committed copies under ``pipelines/assets/sample/`` ship.

Usage::

    python scripts/build_sample.py [--corpus '/work/shared/corpus/*.parquet'] [--out pipelines/assets/sample]
"""

from __future__ import annotations

import argparse
import glob
import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "pipelines" / "assets" / "sample"
DEFAULT_CORPUS = "/work/shared/corpus/*.parquet"
# Records per source: 40 in all, mixing code, structure, prose, data and markup.
PER_SOURCE = {"py_code": 10, "tree_qa": 10, "html_docs": 8, "json_data": 6, "prose": 6}
NUM_SHARDS = 3
ROW_GROUP_SIZE = 5
MAX_TOTAL_BYTES = 400_000
SCHEMA = pa.schema([("id", pa.string()), ("source", pa.string()), ("text", pa.string())])

LICENCES = {
    "py_code": ("Python 3.11 standard library source", "PSF License (Python Software Foundation License v2)"),
    "tree_qa": ("textualized trees with parent/child questions, generated (seed 20261122)", "generated; no rights"),
    "html_docs": ("PostgreSQL 15 HTML documentation (Debian package postgresql-doc-15)", "PostgreSQL Licence"),
    "json_data": ("JSON/CSV data files from PyPI package vega_datasets 0.9.0", "BSD-3-Clause"),
    "prose": ("fortune cookies (Debian package fortunes)", "public domain / various (see Debian copyright file)"),
}


def _key(record_id: str) -> str:
    return hashlib.sha256(record_id.encode("utf-8")).hexdigest()


def select(corpus: str, *, max_chars: int) -> list[dict[str, str]]:
    """Picks ``PER_SOURCE[source]`` records per source, in a fixed pseudo-random order (sha256 of the id)."""
    by_source: dict[str, list[dict[str, str]]] = {}
    for path in sorted(glob.glob(corpus)):
        for row in pq.read_table(path, columns=["id", "source", "text"]).to_pylist():
            by_source.setdefault(row["source"], []).append(row)
    missing = sorted(set(PER_SOURCE) - set(by_source))
    if missing:
        raise SystemExit(f"no records for sources {missing} in {corpus!r}")
    picked = []
    for source, count in PER_SOURCE.items():
        rows = sorted((r for r in by_source[source] if len(r["text"]) <= max_chars), key=lambda r: _key(r["id"]))
        if len(rows) < count:
            raise SystemExit(f"{source}: only {len(rows)} records of at most {max_chars} characters")
        picked.extend(rows[:count])
    return picked


def write_shards(records: list[dict[str, str]], out: Path) -> list[Path]:
    """Deals records round-robin (sources interleaved) into ``NUM_SHARDS`` zstd Parquet files."""
    # Interleave sources so every shard mixes kinds of text.
    queues = {s: [r for r in records if r["source"] == s] for s in PER_SOURCE}
    mixed = []
    while any(queues.values()):
        for source in PER_SOURCE:
            if queues[source]:
                mixed.append(queues[source].pop(0))
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.parquet"):
        stale.unlink()
    paths = []
    for shard in range(NUM_SHARDS):
        rows = mixed[shard::NUM_SHARDS]
        table = pa.Table.from_pylist(rows, schema=SCHEMA)
        path = out / f"sample-{shard:05d}-of-{NUM_SHARDS:05d}.parquet"
        pq.write_table(table, path, compression="zstd", row_group_size=ROW_GROUP_SIZE)
        paths.append(path)
    return paths


def readme(records: list[dict[str, str]], paths: list[Path], *, max_chars: int) -> str:
    """The sample's README: what is in it, where it comes from, under which licence."""
    counts = {s: sum(r["source"] == s for r in records) for s in PER_SOURCE}
    chars = {s: sum(len(r["text"]) for r in records if r["source"] == s) for s in PER_SOURCE}
    rows = "\n".join(f"| {s} | {counts[s]} | {chars[s]:,} | {LICENCES[s][0]} | {LICENCES[s][1]} |" for s in PER_SOURCE)
    shards = "\n".join(
        f"- `{p.name}`: {pq.ParquetFile(p).metadata.num_rows} records, "
        f"{pq.ParquetFile(p).metadata.num_row_groups} row groups, sha256 `{hashlib.sha256(p.read_bytes()).hexdigest()}`"
        for p in paths
    )
    return f"""# Bundled sample corpus

{len(records)} real text records in {len(paths)} Parquet shards (columns `id`, `source`, `text`; zstd; row groups of
{ROW_GROUP_SIZE} records) so that `ltsc-pipeline` and the tests run offline with no other data. Default input of
`ltsc-pipeline`: `pipelines.assets.default_sample_input()`.

Generated by `scripts/build_sample.py` from the project's benchmark corpora (records cut at line boundaries, at most
16,000 characters each; here only records of at most {max_chars:,} characters, chosen by sha256 of their id).
Do not edit by hand: re-run the script.

| source | records | characters | what | licence |
|---|---|---|---|---|
{rows}

{shards}
"""


def main(argv: list[str] | None = None) -> None:
    """Builds the sample shards and README."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=DEFAULT_CORPUS, help="glob of Parquet shards with id/source/text")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--max-chars", type=int, default=8000)
    args = parser.parse_args(argv)

    records = select(args.corpus, max_chars=args.max_chars)
    paths = write_shards(records, args.out)
    (args.out / "README.md").write_text(readme(records, paths, max_chars=args.max_chars), "utf-8")
    total = sum(p.stat().st_size for p in args.out.iterdir())
    if total > MAX_TOTAL_BYTES:
        raise SystemExit(f"sample is {total} bytes, over the {MAX_TOTAL_BYTES} byte budget; lower --max-chars")
    print(f"wrote {len(records)} records in {len(paths)} shards to {args.out} ({total:,} bytes)")


if __name__ == "__main__":
    main()
