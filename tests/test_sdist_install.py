"""The sdist is what Dataflow ships to workers (``--setup_file ./setup.py``): it must be self-contained.

Builds the sdist from ``setup.py``, installs it into a fresh virtual environment, and runs a tiny job from that
install alone, as a worker would: from a directory outside the repository, with ``PYTHONPATH`` unset, on the sample
data and tokenizer bundled inside the package.

Honest scope: the environment is created with ``--system-site-packages`` so that the heavy dependencies (Apache Beam,
pyarrow, tokenizers, numba) are not downloaded again (the sandbox reaches PyPI, CI machines may not be fast); so this
proves that *our package* is complete (code, entry points, bundled assets), not that its dependency list resolves.
``ltsc``, ``pipelines`` and ``numba_kernels`` must resolve inside the new environment, not to the repository.

The job from the install runs with ``NUMBA_DISABLE_JIT=1``: a cold compile of the codec costs 80-215 s on a 2-core
machine (``benchmarks/results/compile.md``), the interpreted job on the 40-record sample about 20 s, and the kernels are
the same source either way. Its Parquet files must be byte-identical to those the repository's compiled kernels write
for the same job in this process, so the test also checks that interpreted and compiled kernels agree bit for bit.
What a new worker pays for its first compilation is measured by ``benchmarks/bench_compile.py``, not here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.isolated(2)]  # the in-process run at its end comes last

REPO = Path(__file__).resolve().parents[1]
_IGNORE = shutil.ignore_patterns(
    ".git", "__pycache__", "*.egg-info", "build", "dist", "*.nbi", "*.nbc", ".pytest_cache", ".ruff_cache", "out"
)
_PROBE = """
import json, ltsc, numba_kernels, pipelines
from pipelines.assets import default_sample_input, default_tokenizer_dir
print(json.dumps({"ltsc": ltsc.__file__, "numba_kernels": numba_kernels.__file__, "pipelines": pipelines.__file__,
                  "tokenizer": default_tokenizer_dir(), "sample": default_sample_input()}))
"""


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NUMBA_CACHE_DIR", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INDEX"] = "1"  # nothing may be fetched: the sdist alone is installed
    return env


def _check(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, f"{proc.args}\nstdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-5000:]}"
    return proc


def test_sdist_installs_and_runs_a_job_from_the_install_alone(tmp_path):
    env = _clean_env()
    src = tmp_path / "src"
    shutil.copytree(REPO, src, ignore=_IGNORE)
    dist = tmp_path / "dist"
    _check(subprocess.run([sys.executable, "setup.py", "-q", "sdist", "-d", str(dist)], cwd=src, env=env,
                          capture_output=True, text=True, timeout=120))  # fmt: skip
    (sdist,) = dist.glob("ltsc-*.tar.gz")

    # The sdist carries the bundled tokenizer (with its licence) and the sample shards.
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    for needed in ("setup.py", "pipelines/assets/tokenizers/gpt2/tokenizer.json",
                   "pipelines/assets/tokenizers/gpt2/tokenizer_config.json",
                   "pipelines/assets/tokenizers/gpt2/LICENSE", "pipelines/assets/sample/README.md",
                   "numba_kernels/config.py", "ltsc/codec.py", "pipelines/run.py"):  # fmt: skip
        assert needed in names, f"{needed} missing from {sdist.name}"
    assert len([n for n in names if n.startswith("pipelines/assets/sample/") and n.endswith(".parquet")]) == 3

    venv = tmp_path / "venv"
    _check(subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
                          env=env, capture_output=True, text=True, timeout=120))  # fmt: skip
    py = venv / "bin" / "python"
    # pip comes from the base interpreter's site-packages; it installs into the venv (sys.prefix).
    _check(subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                           "--ignore-installed", str(sdist)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300))  # fmt: skip

    work = tmp_path / "worker"  # a directory with no project files in it
    work.mkdir()
    probe = json.loads(_check(subprocess.run([str(py), "-c", _PROBE], cwd=work, env=env, capture_output=True,
                                             text=True, timeout=120)).stdout)  # fmt: skip
    site = venv.resolve()
    for name, path in probe.items():
        assert Path(path).resolve().is_relative_to(site), f"{name} resolves outside the install: {path}"
        assert not Path(path).resolve().is_relative_to(REPO), f"{name} resolves to the repository: {path}"

    out = work / "out"
    interpreted = {**env, "NUMBA_DISABLE_JIT": "1"}
    _check(subprocess.run([str(venv / "bin" / "ltsc-pipeline"), "--output", str(out), "--no-report"], cwd=work,
                          env=interpreted, capture_output=True, text=True, timeout=600))  # fmt: skip
    stats = json.loads((out / "stats.json").read_text())
    assert (out / "_SUCCESS").exists()
    assert stats["records_in"] == 40 and stats["records_out"] == 40 and stats["verify_mismatches"] == 0
    assert stats["token_reduction"] > 0.2
    assert stats["config"]["inputs"][0].startswith(str(site)), stats["config"]["inputs"]
    assert (out / "tokenizer" / "tokenizer.json").exists()

    # The same job from the repository, compiled, in this process: the same bytes.
    from pipelines.run import run

    compiled = tmp_path / "compiled"
    run(["--output", str(compiled), "--no-report"], print_summary=False)
    parts = sorted(p.relative_to(out) for p in (out / "data").glob("*.parquet"))
    assert parts and parts == sorted(p.relative_to(compiled) for p in (compiled / "data").glob("*.parquet"))
    for part in parts:
        assert (out / part).read_bytes() == (compiled / part).read_bytes(), part
