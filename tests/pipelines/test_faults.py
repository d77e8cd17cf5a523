"""Faults: failed work units are retried, and an interrupted run re-run with the same arguments completes the output.

Faults are injected with the test-only hook of :mod:`pipelines.faults` (``LTSC_FAULT_INJECT``), between a part
file's temporary write and its rename, so each fault leaves a partial ``.tmp-*`` file and a run with some units
committed and others not. Every test then requires the output to equal the clean reference run byte for byte: no
duplicate rows, no partial or temporary files, stats counting each record once. Slow-ish (a Dask cluster and
subprocess runs: ~30 s), part of the default suite.
"""

from __future__ import annotations

import json
import os
import signal

import pytest

from pipelines.faults import ENV_VAR, InjectedFault
from tests.pipelines.engines import (
    UNIT_ARGS,
    assert_same_output,
    check_ok,
    cli,
    dask_cluster,
    part_files,
    reference_run,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return reference_run(tmp_path_factory)


def _setenv(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


@pytest.fixture(scope="module")
def cluster():
    """One LocalCluster for this module: 2 worker processes with 1 thread each, no dashboard."""
    pytest.importorskip("distributed")
    pytest.importorskip("apache_beam.runners.dask.dask_runner")
    with dask_cluster(silence_logs=50) as lc_client:
        yield lc_client


def _n_parts(ref) -> int:
    return sum(1 for name in part_files(ref) if os.path.basename(name).startswith("part-"))


def test_dask_retries_every_failed_unit_without_duplicates(tmp_path, cluster, reference):
    lc, client = cluster
    inp, ref, table = reference
    markers = tmp_path / "markers"
    client.run(_setenv, ENV_VAR, f"raise:{markers}")  # every part file fails on its first attempt
    try:
        out = tmp_path / "out"
        proc = cli("--input", str(inp), "--output", str(out), *UNIT_ARGS,
                   "--runner", "DaskRunner", "--dask_client_address", lc.scheduler_address)  # fmt: skip
    finally:
        client.run(_setenv, ENV_VAR, None)
    check_ok(proc)
    # Each part file failed once (so each unit's task ran at least twice) ...
    assert len(list(markers.glob("raised-*"))) == _n_parts(ref)
    # ... and the output is exactly the clean run's: no duplicate rows, no orphan .tmp files, records counted once.
    assert_same_output(out, ref)
    stats = json.loads((out / "stats.json").read_text())
    assert stats["records_in"] == table.num_rows == stats["records_out"] + stats["records_rejected"]


def test_dask_survives_a_killed_worker(tmp_path, cluster, reference):
    lc, client = cluster
    inp, ref, _ = reference
    markers = tmp_path / "markers"
    client.run(_setenv, ENV_VAR, f"kill:{markers}")  # the first worker to commit a part file is SIGKILLed
    try:
        out = tmp_path / "out"
        proc = cli("--input", str(inp), "--output", str(out), *UNIT_ARGS,
                   "--runner", "DaskRunner", "--dask_client_address", lc.scheduler_address)  # fmt: skip
    finally:
        client.wait_for_workers(2, timeout=60)  # the nanny restarts the killed worker (without the variable)
        client.run(_setenv, ENV_VAR, None)
    check_ok(proc)
    assert (markers / "killed").exists(), "no worker was killed: the test proved nothing"
    assert_same_output(out, ref)


def test_interrupted_run_rerun_with_same_arguments_completes(tmp_path, reference):
    inp, ref, table = reference
    out = tmp_path / "out"
    args = ("--input", str(inp), "--output", str(out), *UNIT_ARGS)
    markers = tmp_path / "markers"
    # The whole (in-process) run is SIGKILLed while committing its third part file.
    first = cli(*args, env={ENV_VAR: f"kill@2:{markers}"})
    assert first.returncode == -signal.SIGKILL, first.stderr[-3000:]
    left = part_files(out)
    assert not (out / "_SUCCESS").exists() and not (out / "stats.json").exists()
    assert len([n for n in left if os.path.basename(n).startswith("part-")]) == 2
    assert len([n for n in left if os.path.basename(n).startswith(".tmp-")]) == 1

    second = cli(*args)  # same arguments, no --overwrite: an output without _SUCCESS is redone
    check_ok(second)
    assert_same_output(out, ref)
    stats = json.loads((out / "stats.json").read_text())
    assert stats["records_in"] == table.num_rows == stats["records_out"] + stats["records_rejected"]


def test_runner_without_retries_fails_cleanly_and_rerun_completes(tmp_path, reference, monkeypatch):
    """The in-process FnApiRunner does not retry: the run fails, leaves no _SUCCESS, and the re-run repairs it."""
    from pipelines.run import run

    inp, ref, _ = reference
    out = tmp_path / "out"
    args = ["--input", str(inp), "--output", str(out), *UNIT_ARGS]
    monkeypatch.setenv(ENV_VAR, f"raise:{tmp_path / 'markers'}")
    with pytest.raises(Exception, match="injected fault") as info:
        run(args, print_summary=False)
    assert isinstance(info.value, InjectedFault) or "InjectedFault" in repr(info.value) or "injected" in str(info.value)
    assert not (out / "_SUCCESS").exists()
    assert any(os.path.basename(n).startswith(".tmp-") for n in part_files(out))
    monkeypatch.delenv(ENV_VAR)
    run(args, print_summary=False)
    assert_same_output(out, ref)
