"""Test-only fault injection: make part-file writes fail, to show that retries and re-runs leave a clean output.

Never set this in production. The hook is off unless the environment variable ``LTSC_FAULT_INJECT`` is set in the
worker processes; it is checked once per part file (not per record), right after the part's temporary file is
written and before it is renamed into place, which is where a crash leaves the most mess behind (an orphan
``.tmp-*`` file, some parts of the run committed, others not). Values:

- ``raise:DIR``: the first attempt to commit each part file raises :class:`InjectedFault`; later attempts (the
  engine's retry) succeed. ``DIR`` holds one marker file per injected fault, so the test can count them.
- ``kill:DIR`` or ``kill@N:DIR``: once N part files have reached this point (default 0), the next process to get
  there kills itself with ``SIGKILL``, as a preempted worker or an OOM kill would; only one process is killed per
  ``DIR``.

Markers are claimed with ``O_EXCL`` creates, so concurrent workers agree on who fails.
"""

from __future__ import annotations

import os
import signal

__all__ = ["ENV_VAR", "InjectedFault", "maybe_inject"]

ENV_VAR = "LTSC_FAULT_INJECT"


class InjectedFault(RuntimeError):
    """The failure raised by ``LTSC_FAULT_INJECT=raise:DIR``."""


def _claim(directory: str, name: str) -> bool:
    """Create ``directory/name`` if absent; True for the one caller that created it."""
    os.makedirs(directory, exist_ok=True)
    try:
        fd = os.open(os.path.join(directory, name), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def maybe_inject(path: str) -> None:
    """Fail here if ``LTSC_FAULT_INJECT`` asks for it and ``path`` is a part file (``.../part-*``).

    Args:
        path: The final path of the file about to be committed.

    Raises:
        InjectedFault: In ``raise`` mode, on the first attempt for this file.
        ValueError: If the variable is malformed.
    """
    spec = os.environ.get(ENV_VAR)
    if not spec:
        return
    parts = path.replace("\\", "/").rstrip("/").split("/")
    if not parts[-1].startswith("part-"):
        return
    key = "-".join(parts[-2:])  # "data-part-00000-00001.parquet": data and rejects parts are distinct
    mode, sep, directory = spec.partition(":")
    if not sep or not directory:
        raise ValueError(f"{ENV_VAR} must be 'raise:DIR', 'kill:DIR' or 'kill@N:DIR', got {spec!r}")
    if mode == "raise":
        if _claim(directory, f"raised-{key}"):
            raise InjectedFault(f"injected fault ({ENV_VAR}) before committing {path}")
        return
    if mode == "kill" or mode.startswith("kill@"):
        after = int(mode.partition("@")[2] or 0)
        seen = sum(1 for n in os.listdir(directory) if n.startswith("seen-")) if os.path.isdir(directory) else 0
        if seen >= after and _claim(directory, "killed"):
            os.kill(os.getpid(), signal.SIGKILL)
        _claim(directory, f"seen-{key}")
        return
    raise ValueError(f"{ENV_VAR} must be 'raise:DIR', 'kill:DIR' or 'kill@N:DIR', got {spec!r}")
