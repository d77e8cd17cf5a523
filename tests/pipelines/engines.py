"""Helpers for running ltsc-pipeline on several engines and comparing their outputs byte for byte.

Used by test_dask.py, test_multiprocess.py and test_faults.py: a small corpus split into enough work units to spread
over two workers, a reference output from the in-process FnApiRunner (what DirectRunner falls back to offline), the
CLI run in a subprocess, and comparisons that ignore only what legitimately differs between runs (timings and the
output path).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from tests.pipelines.conftest import corpus_table, write_parquet_shards

REPO = Path(__file__).resolve().parents[2]

#: Split the corpus so that a run has UNITS work units (row groups of 3 rows, one per unit with --unit-rows 3).
N_COPIES = 3
N_FILES = 3
UNIT_ARGS = ("--unit-rows", "3", "--no-report")
#: stats.json fields that measure time, and so differ between any two runs.
TIMING_FIELDS = (
    "wall_time_s",
    "records_per_s",
    "tokens_per_s",
    "stage_seconds",
    "stage_share",
    "stage_cpu_seconds",
    "driver_wall_time_s",
)


def make_corpus(directory: Path) -> pa.Table:
    """Write the test corpus (with a null and an empty text, which become rejects) and return it."""
    table = corpus_table(N_COPIES)
    write_parquet_shards(directory, table, n_files=N_FILES, row_group_size=3)
    return table


def cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 240):
    """Run ``python -m pipelines.run ARGS`` in a subprocess; returns the CompletedProcess (output captured)."""
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    return subprocess.run(
        [sys.executable, "-m", "pipelines.run", *args],
        cwd=cwd or REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def check_ok(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 0, (
        f"exit {proc.returncode}\nstdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-6000:]}"
    )


def part_files(out: Path) -> dict[str, bytes]:
    """Every file under OUT/data and OUT/rejects (hidden ones included), by relative path."""
    files = {}
    for sub in ("data", "rejects"):
        for path in sorted((out / sub).rglob("*")):
            if path.is_file():
                files[str(path.relative_to(out))] = path.read_bytes()
    return files


def comparable_stats(out: Path) -> dict:
    """stats.json without timing fields and without the output path."""
    stats = json.loads((out / "stats.json").read_text())
    for name in TIMING_FIELDS:
        stats.pop(name, None)
    stats["config"] = {k: v for k, v in stats["config"].items() if k != "output"}
    return stats


def assert_same_output(out: Path, ref: Path) -> None:
    """OUT holds exactly the reference's part files, byte for byte, the same tokenizer and equal stats."""
    assert (out / "_SUCCESS").exists(), f"{out} is incomplete"
    got, want = part_files(out), part_files(ref)
    assert sorted(got) == sorted(want), "different part files (or leftover temporary files)"
    for name in want:
        assert got[name] == want[name], f"{name} differs from the reference run"
    for name in ("tokenizer.json", "tokenizer_config.json"):
        assert (out / "tokenizer" / name).read_bytes() == (ref / "tokenizer" / name).read_bytes()
    assert comparable_stats(out) == comparable_stats(ref)
    card = (out / "README.md").read_text().replace(str(out), "OUT")
    assert card == (ref / "README.md").read_text().replace(str(ref), "OUT")


_REFERENCE: list[tuple[Path, Path, pa.Table]] = []


def reference_run(tmp_path_factory) -> tuple[Path, Path, pa.Table]:
    """(input dir, reference output, input table): the corpus run in-process on the default FnApiRunner.

    Computed once per test session and shared by the modules that compare against it (wrap it in a fixture).
    """
    if not _REFERENCE:
        from pipelines.run import run

        root = tmp_path_factory.mktemp("engines")
        inp = root / "in"
        table = make_corpus(inp)
        ref = root / "ref"
        summary = run(["--input", str(inp), "--output", str(ref), *UNIT_ARGS], print_summary=False)
        assert summary["records_in"] == table.num_rows
        assert summary["units"] >= 6, "too few work units to spread over two workers"
        _REFERENCE.append((inp, ref, table))
    return _REFERENCE[0]


@contextlib.contextmanager
def dask_cluster(*, silence_logs: int = 40) -> Iterator[tuple]:
    """A LocalCluster of 2 worker processes with 1 thread each, no dashboard, and a client on it."""
    import distributed

    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=silence_logs
        ) as lc,
        distributed.Client(lc) as client,
    ):
        client.wait_for_workers(2, timeout=60)
        yield lc, client
