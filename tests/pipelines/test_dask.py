"""ltsc-pipeline on Dask for real: a LocalCluster of 2 worker processes, the CLI with ``--runner DaskRunner``.

The output must be byte-identical to the in-process FnApiRunner's, and the work must really spread over both
workers (Beam's DaskRunner would otherwise pack every work unit of a small job into one partition).
Slow-ish (a cluster and subprocess runs: ~15 s), but part of the default suite.
"""

from __future__ import annotations

import json

import pytest

from tests.pipelines.engines import UNIT_ARGS, assert_same_output, check_ok, cli, dask_cluster, reference_run

pytest.importorskip("distributed")
pytest.importorskip("apache_beam.runners.dask.dask_runner")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return reference_run(tmp_path_factory)


@pytest.fixture(scope="module")
def cluster():
    """One LocalCluster per module: 2 worker processes with 1 thread each, no dashboard."""
    with dask_cluster() as lc_client:
        yield lc_client


def _tokenizer_loaded() -> int:
    """On a worker: 1 if this process tokenized a work unit (the per-process tokenizer cache is filled), else 0."""
    import sys

    module = sys.modules.get("pipelines.transforms")
    return int(bool(module and module._TOKENIZERS))


def _forget_tokenizer() -> None:
    import sys

    module = sys.modules.get("pipelines.transforms")
    if module:
        module._TOKENIZERS.clear()


def test_dask_runner_output_is_byte_identical_to_direct(tmp_path, cluster, reference):
    lc, client = cluster
    inp, ref, table = reference
    client.run(_forget_tokenizer)
    out = tmp_path / "out"
    proc = cli("--input", str(inp), "--output", str(out), *UNIT_ARGS,
               "--runner", "DaskRunner", "--dask_client_address", lc.scheduler_address)  # fmt: skip
    check_ok(proc)
    assert_same_output(out, ref)
    stats = json.loads((out / "stats.json").read_text())
    assert stats["records_in"] == table.num_rows == stats["records_out"] + stats["records_rejected"]
    assert stats["units"] == json.loads((ref / "stats.json").read_text())["units"]

    # Both worker processes tokenized work units (with Beam's default partitioning only one would: every unit of
    # a small job lands in one partition).
    assert client.run(_tokenizer_loaded) == {w: 1 for w in client.scheduler_info()["workers"]}


def test_dask_partitioning_does_not_change_the_output(tmp_path, cluster, reference):
    """Explicit --dask_npartitions (here: 2 units per partition) gives the same bytes: output depends on units only."""
    lc, _ = cluster
    inp, ref, _ = reference
    out = tmp_path / "out"
    proc = cli("--input", str(inp), "--output", str(out), *UNIT_ARGS, "--runner", "DaskRunner",
               "--dask_client_address", lc.scheduler_address, "--dask_npartitions", "3")  # fmt: skip
    check_ok(proc)
    assert_same_output(out, ref)


def test_pipeline_graph_has_no_side_inputs(tmp_path, reference):
    """Beam's DaskRunner evaluates a side input as a nested compute inside a worker task, without the driver's retry
    settings; the pipeline must not use one (CombineGlobally's default injection did)."""
    from apache_beam.pipeline import PipelineVisitor
    from apache_beam.testing import test_pipeline

    from pipelines import run as run_mod

    class SideInputs(PipelineVisitor):
        def __init__(self):
            self.found: list[str] = []
            self.labels: list[str] = []

        def visit_transform(self, node):
            self.labels.append(node.full_label)
            if node.side_inputs:
                self.found.append(node.full_label)

    inp, _, _ = reference
    config, _ = run_mod.parse_args(["--input", str(inp), "--output", str(tmp_path / "o")])
    p = test_pipeline.TestPipeline(runner="FnApiRunner")
    run_mod.build_pipeline(p, config)
    v = SideInputs()
    p.visit(v)
    assert "finalize_dataset/finalize" in v.labels
    assert v.found == []
