"""What every benchmark script shares: the repository paths, the corpus names, and the label of the code measured."""

from __future__ import annotations

import argparse
import os
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TOKENIZER = REPO / "pipelines" / "assets" / "tokenizers" / "gpt2" / "tokenizer.json"
CORPORA = ("html_docs", "json_data", "prose", "py_code", "tree_qa")
STRATEGIES = ("best", "savings", "paper")


def code_version(repo: Path = REPO, *, paths: tuple[str, ...] = ("ltsc", "numba_kernels", "pipelines")) -> str:
    """The commit measured, and whether ``paths`` differ from it (``LTSC_CODE_LABEL`` overrides).

    Benchmarks may run from a ``git archive`` export while others edit the checkout; the label says which code the
    figures belong to.
    """
    label = os.environ.get("LTSC_CODE_LABEL")
    if label:
        return label
    try:
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--", *paths],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"commit {head}" + (f" with uncommitted changes in {', '.join(paths)}" if dirty else "")


def wait_for_load(limit: float | None, max_wait: float) -> float:
    """On a shared machine, wait (at most ``max_wait`` s) until the 1-minute load average is below ``limit``.

    Returns:
        The load average when the wait ended, to record beside the run it precedes.
    """
    deadline = time.monotonic() + max_wait
    while limit is not None and os.getloadavg()[0] >= limit and time.monotonic() < deadline:
        time.sleep(5)
    return os.getloadavg()[0]


def add_corpus_dir_argument(parser: argparse.ArgumentParser) -> None:
    """``--corpus-dir``: the benchmark corpora, by default ``../shared/corpus`` beside the repository."""
    parser.add_argument(
        "--corpus-dir",
        type=Path,
        default=REPO.parent / "shared" / "corpus",
        help="directory of the corpus *.parquet files (default: ../shared/corpus beside the repo)",
    )
