"""Suite-wide scheduling: the tests that run the kernels in subprocesses of their own go first.

A cold Numba compilation of the codec costs 80-215 s of one core on the 2-core CI machine
(``benchmarks/results/compile.md``), and every process with an empty cache pays it. Under
``pytest -n 2`` both workers would compile the same kernels at the same time. Tests marked
``isolated`` need none of this process's compiled kernels (JIT off, bounds checks with a cache of
their own, a fresh install), so they are collected first, in the order of their marker's
argument: xdist's ``worksteal`` hands the first half of the collection to one worker, which
spends its first minutes waiting on those subprocesses while the other worker compiles once and
fills the on-disk cache that both then load. Without xdist the order changes nothing but the order.
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "isolated(order): runs the kernels only in subprocesses of its own (none of this process's compiled code "
        "before its last step); scheduled first, by order",
    )


def _schedule_key(item: pytest.Item) -> tuple[int, int]:
    """Isolated tests first, by their marker's order; the rest keep collection order (the sort is stable)."""
    marker = item.get_closest_marker("isolated")
    return (1, 0) if marker is None else (0, int(marker.args[0]))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=_schedule_key)
