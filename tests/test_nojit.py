"""The kernel and codec suites once more with the JIT off, so the kernels' Python is covered and checked too.

Numba compiles the same source; running it as plain Python catches code that
only works compiled (or only interpreted) and lets coverage see kernel lines.
"""

from __future__ import annotations

import os

import pytest

from tests.subsuite import run_pytest


@pytest.mark.isolated(0)
@pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT") == "1", reason="already running without the JIT")
def test_core_suites_pass_with_numba_disable_jit():
    result = run_pytest(
        "tests/numba_kernels",
        "tests/ltsc/test_codec.py",
        # Two invariants over thousands of records (70% of this run interpreted, 84 s): the compiled suite checks
        # them, and every kernel line they reach is also reached by the smaller tests that run here.
        "-k",
        "not test_best_is_never_longer_than_savings and not test_wider_search_is_never_longer",
        env={"NUMBA_DISABLE_JIT": "1", "PYTHONWARNINGS": "ignore::RuntimeWarning"},
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout
