"""JIT configuration shared by every kernel.

Compiled code is cached on disk (``cache=True``) so that a worker pays the
compilation cost once. Numba writes its cache next to the sources, or in the
user's cache directory; on a read-only site-packages with an unwritable home
(a locked-down container, a Dataflow worker running as another user) the first
``cache=True`` decoration raises at import. We therefore make sure a writable
``NUMBA_CACHE_DIR`` exists before any kernel is compiled.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

__all__ = ["JIT_OPTIONS", "LEAF_JIT_OPTIONS", "ensure_cache_dir", "drop_stale_cache"]


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


def _kernel_fingerprint() -> str:
    digest = hashlib.sha256()
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


def drop_stale_cache(cache_root: Path) -> bool:
    """Delete this package's cached kernels when any kernel source changed.

    Numba keys a cached function on its own file's timestamp only, so after an
    edit of ``select.py`` a cached caller in ``codec.py`` would keep running the
    old, inlined callee. A fingerprint of all kernel sources guards against
    that (in-place upgrades and development checkouts alike).

    Returns:
        Whether stale cache files were removed.
    """
    marker = cache_root / "ltsc-kernels.fingerprint"
    fingerprint = _kernel_fingerprint()
    try:
        if marker.is_file() and marker.read_text() == fingerprint:
            return False
        removed = False
        for pattern in ("*.nbi", "*.nbc"):
            for stale in cache_root.rglob(pattern):
                if cache_root != _IN_TREE_CACHE and "numba_kernels" not in str(stale):
                    continue  # a shared NUMBA_CACHE_DIR: only touch our own kernels
                stale.unlink(missing_ok=True)
                removed = True
        cache_root.mkdir(parents=True, exist_ok=True)
        marker.write_text(fingerprint)
        return removed
    except OSError:  # a read-only cache is simply not cleaned
        return False


_IN_TREE_CACHE = Path(__file__).parent / "__pycache__"
_CACHE_DIR = ensure_cache_dir()
drop_stale_cache(Path(_CACHE_DIR) if _CACHE_DIR else _IN_TREE_CACHE)

#: Options for every kernel: cached, GIL released (Beam's threaded workers
#: can overlap kernels), no fastmath (integer code; keep IEEE semantics).
JIT_OPTIONS = {"cache": _CACHE_DIR is not None or os.access(Path(__file__).parent, os.W_OK), "nogil": True}

#: Options for leaf kernels: the small helpers called once per candidate, heap
#: pop or window inside the selection loops. Numba increfs every array argument
#: of a compiled function on entry and decrefs it on exit (atomic operations),
#: and its reference-count pruning cannot remove the pair once the function has
#: a loop: for ``_heap_pop`` that was nine atomic operations per pop. Measured
#: with perf on the benchmark corpora, those calls took 17% of the default
#: strategy's time. A function compiled without the runtime (``_nrt=False``)
#: borrows its arguments and does no reference counting at all. It must not
#: allocate, return or store arrays: anything that would (``np.empty``, a sort,
#: an array-to-array slice assignment) fails to compile, not at run time.
LEAF_JIT_OPTIONS = {**JIT_OPTIONS, "_nrt": False}
