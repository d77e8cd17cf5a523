"""Run part of the test suite again in a subprocess under other Numba settings (JIT off, bounds checks on)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_pytest(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """``python -m pytest -q -x ARGS`` from the repository root with ``env`` added to this process's environment."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=900,
    )
