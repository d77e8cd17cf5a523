"""Shared fixtures for the pipeline tests: tiny corpora written in tmp_path and the bundled tokenizer."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

logging.getLogger("apache_beam").setLevel(logging.ERROR)

#: Texts with repeats (so the codec has work), a unicode one, and short ones.
TEXTS = [
    "def f(x):\n    return x + 1\n\n" * 6,
    "<ul><li>alpha</li><li>beta</li><li>gamma</li><li>alpha</li><li>beta</li><li>gamma</li></ul>\n" * 3,
    "Plain prose without much repetition, just one sentence.",
    "+aa\n++ab\n+++ac\n++ad\n+++ae\n" * 8 + "Q: parent of ae? A: ad",
    "naïve café ☕ — ünïcödé " * 5,
    "x",
]


@pytest.fixture(scope="session")
def tokenizer_path() -> str:
    from pipelines.tokenizer import default_tokenizer_path

    return default_tokenizer_path()


@pytest.fixture(scope="session")
def tokenizer(tokenizer_path):
    from pipelines.tokenizer import load_tokenizer

    return load_tokenizer(tokenizer_path)


@pytest.fixture(scope="session")
def tok():
    """The bundled tokenizer, loaded by ``load_tokenizer()`` with no argument (the product's default path)."""
    from pipelines.tokenizer import load_tokenizer

    return load_tokenizer()


@pytest.fixture(scope="session")
def sample_texts() -> list[str]:
    """Every text of the bundled sample corpus."""
    import glob

    import pyarrow.parquet as pq

    from pipelines.assets import default_sample_input

    paths = sorted(glob.glob(default_sample_input()))
    return [text for path in paths for text in pq.read_table(path, columns=["text"]).column("text").to_pylist()]


@pytest.fixture(scope="session")
def sample_lines(sample_texts: list[str]) -> list[str]:
    """Every line of the bundled sample corpus, line ends kept: short texts that start and end anywhere."""
    return [line for text in sample_texts for line in text.splitlines(keepends=True)]


def corpus_table(n_copies: int = 1, *, bad: bool = True) -> pa.Table:
    """Records with ids ``r0``, ``r1``, ...; with ``bad``, a null and an empty text are appended."""
    texts: list[str | None] = [t for _ in range(n_copies) for t in TEXTS]
    sources = [("code", "html", "prose", "tree", "prose", "prose")[i % len(TEXTS)] for i in range(len(texts))]
    if bad:
        texts += [None, ""]
        sources += ["prose", "prose"]
    ids = [f"r{i}" for i in range(len(texts))]
    return pa.table(
        {
            "id": pa.array(ids, pa.string()),
            "source": pa.array(sources, pa.string()),
            "text": pa.array(texts, pa.string()),
            "score": pa.array(np.arange(len(texts), dtype=np.float64) / 2),
        }
    )


def write_parquet_shards(directory: Path, table: pa.Table, *, n_files: int, row_group_size: int) -> list[Path]:
    """Split ``table`` into ``n_files`` Parquet files with small row groups."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    bounds = np.linspace(0, table.num_rows, n_files + 1).astype(int)
    for i in range(n_files):
        path = directory / f"shard-{i:02d}.parquet"
        pq.write_table(table.slice(bounds[i], bounds[i + 1] - bounds[i]), path, row_group_size=row_group_size)
        paths.append(path)
    return paths


@pytest.fixture
def parquet_dir(tmp_path) -> Path:
    write_parquet_shards(tmp_path / "in", corpus_table(2), n_files=2, row_group_size=3)
    return tmp_path / "in"
