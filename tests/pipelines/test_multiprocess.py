"""ltsc-pipeline with Beam's multi-process direct runner gives the same bytes as the in-process run.

``--direct_running_mode multi_processing --direct_num_workers 2`` runs the DoFns in two SDK worker subprocesses
(without ``--runner``, the CLI uses the FnApiRunner, which is what DirectRunner falls back to offline after trying
to download Prism). Slow-ish (~8 s: a subprocess that starts two more), part of the default suite.
"""

from __future__ import annotations

import re

import pytest

from tests.pipelines.engines import UNIT_ARGS, assert_same_output, check_ok, cli, reference_run

pytestmark = pytest.mark.slow

_SETUP_LINE = re.compile(r"worker (\d+): tokenizer loaded in")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return reference_run(tmp_path_factory)


def test_multi_processing_direct_runner_is_byte_identical(tmp_path, reference):
    inp, ref, _ = reference
    out = tmp_path / "out"
    proc = cli("--input", str(inp), "--output", str(out), *UNIT_ARGS,
               "--direct_running_mode", "multi_processing", "--direct_num_workers", "2")  # fmt: skip
    check_ok(proc)
    assert_same_output(out, ref)
    # Two worker processes each loaded the tokenizer once (DoFn.setup), i.e. the units were really split.
    pids = set(_SETUP_LINE.findall(proc.stderr))
    assert len(pids) == 2, f"expected 2 worker processes, saw {sorted(pids)}"
