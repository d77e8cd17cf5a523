"""JIT configuration shared by every kernel.

Compiled code is cached on disk (``cache=True``) so that a worker pays the
compilation cost once. Numba writes its cache next to the sources, or in the
user's cache directory; on a read-only site-packages with an unwritable home
(a locked-down container, a Dataflow worker running as another user) the first
``cache=True`` decoration raises at import. We therefore make sure a writable
``NUMBA_CACHE_DIR`` exists before any kernel is compiled.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["JIT_OPTIONS", "ensure_cache_dir"]


def _writable(path: Path) -> bool:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".ltsc-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError:
        return False
    return True


def ensure_cache_dir() -> str | None:
    """Point Numba's cache at a writable directory when the default is not.

    Returns:
        The cache directory that was configured, or ``None`` when Numba's own
        default (next to the sources) is writable and left untouched.
    """
    configured = os.environ.get("NUMBA_CACHE_DIR")
    if configured and _writable(Path(configured)):
        return configured
    if not configured and os.access(Path(__file__).parent, os.W_OK):
        return None
    candidates = [
        Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ltsc" / "numba",
        Path(tempfile.gettempdir()) / f"ltsc-numba-cache-{os.getuid() if hasattr(os, 'getuid') else 0}",
    ]
    for candidate in candidates:
        if _writable(candidate):
            os.environ["NUMBA_CACHE_DIR"] = str(candidate)
            try:  # Numba may already be imported; its config is read at import time.
                import numba.core.config as numba_config

                numba_config.CACHE_DIR = str(candidate)
            except ImportError:  # pragma: no cover - numba is a hard dependency
                pass
            return str(candidate)
    # Nothing writable: disable on-disk caching rather than fail at import.
    os.environ["NUMBA_CACHE_DIR"] = ""
    return None


_CACHE_DIR = ensure_cache_dir()

#: Options for every kernel: cached, GIL released (Beam's threaded workers
#: can overlap kernels), no fastmath (integer code; keep IEEE semantics).
JIT_OPTIONS = {"cache": _CACHE_DIR is not None or os.access(Path(__file__).parent, os.W_OK), "nogil": True}
