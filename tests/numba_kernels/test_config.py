"""Importing the kernels never fails for want of a writable Numba cache directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from numba_kernels import config

ROOT = Path(__file__).resolve().parents[2]

_SNIPPET = """
import os
import ltsc  # imports every kernel module, each decorated with cache=True
from numba_kernels.suffix import suffix_array
assert suffix_array([3, 1, 2, 1]).tolist() == [3, 1, 2, 0]  # compiles and caches one kernel
print("CACHE=" + os.environ.get("NUMBA_CACHE_DIR", "<unset>"))
"""


def test_unwritable_cache_locations_fall_back_to_a_temp_dir(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file, so nothing can be created below it")
    env = {
        **os.environ,
        "NUMBA_CACHE_DIR": str(blocker / "cache"),
        "XDG_CACHE_HOME": str(blocker / "xdg"),
        "TMPDIR": str(tmp_path / "tmp"),
        "PYTHONPATH": str(ROOT),
    }
    (tmp_path / "tmp").mkdir()
    result = subprocess.run([sys.executable, "-c", _SNIPPET], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"CACHE={tmp_path / 'tmp'}" in result.stdout


def test_read_only_package_dir_selects_a_writable_cache(monkeypatch, tmp_path):
    import numba.core.config as numba_config

    monkeypatch.setattr(numba_config, "CACHE_DIR", numba_config.CACHE_DIR)  # restored after the test
    # ensure_cache_dir sets NUMBA_CACHE_DIR. delenv of an unset variable records nothing, so setenv first: the
    # variable is then removed again afterwards, and later subprocesses keep using the in-tree cache (left set,
    # every later subprocess test compiled every kernel again, about 90 s each).
    monkeypatch.setenv("NUMBA_CACHE_DIR", "")
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    real_access = os.access
    package_dir = Path(config.__file__).parent
    monkeypatch.setattr(config.os, "access", lambda p, mode: False if Path(p) == package_dir else real_access(p, mode))
    chosen = config.ensure_cache_dir()
    assert chosen == str(tmp_path / "xdg" / "ltsc" / "numba")
    assert os.environ["NUMBA_CACHE_DIR"] == chosen
    assert (tmp_path / "xdg" / "ltsc" / "numba").is_dir()


def test_writable_package_dir_keeps_numbas_default(monkeypatch):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setattr(config.os, "access", lambda p, mode: True)
    assert config.ensure_cache_dir() is None


def test_stale_kernels_are_dropped_when_any_kernel_source_changes(tmp_path):
    ours = tmp_path / "site-packages" / "numba_kernels" / "codec._compress-1.py311.nbi"
    theirs = tmp_path / "other_project" / "kernel-1.py311.nbi"
    for path in (ours, theirs):
        path.parent.mkdir(parents=True)
        path.write_bytes(b"stale")
    (tmp_path / "ltsc-kernels.fingerprint").write_text("from an older version")
    assert config.drop_stale_cache(tmp_path) is True
    assert not ours.exists() and theirs.exists()  # a shared cache dir keeps other projects' kernels
    ours.write_bytes(b"fresh, compiled after the check")
    assert config.drop_stale_cache(tmp_path) is False  # fingerprint now current
    assert ours.exists()
