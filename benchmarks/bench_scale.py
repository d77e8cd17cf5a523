"""Scale benchmark: ltsc-pipeline on N Dask workers versus the single-process direct runner, same corpus, one run.

Usage::

    python benchmarks/bench_scale.py [--corpus ../shared/corpus] [--copies 10] [--workers 2] [--repeats 2]
                                     [--wait-load 1.0] [--out benchmarks/results/scale.md] [--json raw.json]
    python benchmarks/bench_scale.py --quick      # one copy, one repeat, no cold-JIT measurement: a smoke test

What it measures, in this order:

1. **Worker setup** (what ``DoFn.setup`` costs a new worker: tokenizer load plus codec JIT warm-up), in fresh
   processes: *cold* (an empty ``NUMBA_CACHE_DIR``, so every kernel compiles), *warm* (the same cache again, so the
   kernels load from disk), and *hot* (a second setup in the same process, as Beam's DaskRunner does for every bundle
   after the first: the tokenizer comes from the per-process cache and the kernels are already compiled).
2. **The job**, alternately (so slow phases of a shared machine hit both): the CLI with the default in-process
   FnApiRunner (one process: what DirectRunner falls back to offline), and the CLI with ``--runner DaskRunner`` on a
   ``LocalCluster`` of ``--workers`` processes with one thread each (started once, before the first Dask run, its
   start-up time reported apart). The corpus is ``--copies`` copies of every shard of ``--corpus``. Wall time is
   measured around the CLI process; CPU time is the CLI's own (single process) or the CLI's plus the workers'
   (Dask). Per stage: seconds summed over workers, measured inside the DoFns (``stats.json``).
3. The two outputs are compared file by file (they must be byte-identical).

Every run records the machine's load average when it started (``--wait-load L`` waits, up to ``--max-wait`` seconds,
until the 1-minute load is below L: the machine may be shared).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import code_version, wait_for_load

_ROOT = Path(__file__).resolve().parents[1]
STAGES = ("read", "tokenize", "compress", "verify", "write")

_SETUP_PROBE = """
import json, time
t0 = time.perf_counter()
from ltsc import Codec
from pipelines.tokenizer import vocab_size
from pipelines.transforms import _warm, _worker_tokenizer
t1 = time.perf_counter()
tok = _worker_tokenizer(None)
t2 = time.perf_counter()
_warm(Codec(base_id=vocab_size(tok)))
t3 = time.perf_counter()
_worker_tokenizer(None)
_warm(Codec(base_id=vocab_size(tok)))
t4 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "tokenizer_s": t2 - t1, "jit_s": t3 - t2, "hot_setup_s": t4 - t3}))
"""


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_ROOT), env.get("PYTHONPATH", "")) if p)
    env.update(extra)
    return env


def measure_setup(cold: bool) -> dict:
    """Worker setup in fresh processes: cold (empty Numba cache) and warm (same cache again), plus hot."""
    with tempfile.TemporaryDirectory(prefix="ltsc-numba-") as cache:
        out = {}
        for label in ("cold", "warm") if cold else ("warm",):
            env = _env(NUMBA_CACHE_DIR=cache) if cold else _env()  # quick: the project's own (warm) cache
            proc = subprocess.run(
                [sys.executable, "-c", _SETUP_PROBE], env=env, capture_output=True, text=True, check=True
            )
            out[label] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def make_corpus(src: Path, dst: Path, copies: int) -> list[Path]:
    """Copy every Parquet shard of ``src`` ``copies`` times into ``dst``; returns the source shards."""
    dst.mkdir(parents=True, exist_ok=True)
    shards = sorted(src.glob("*.parquet"))
    if not shards:
        raise SystemExit(f"no Parquet shards in {src}")
    for k in range(copies):
        for shard in shards:
            shutil.copyfile(shard, dst / f"{shard.stem}-{k:03d}.parquet")
    return shards


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _worker_cpu(client) -> float:
    def cpu() -> float:
        import psutil

        t = psutil.Process().cpu_times()
        return t.user + t.system

    return sum(client.run(cpu).values())


def run_job(corpus: Path, out: Path, extra: list[str], client=None) -> dict:
    """Run the CLI once (in a subprocess) and return its wall and CPU time and its stats."""
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "pipelines.run", "--input", str(corpus), "--output", str(out), "--no-report"]
    cpu0, wcpu0 = _children_cpu(), (_worker_cpu(client) if client else 0.0)
    t0 = time.perf_counter()
    proc = subprocess.run([*cmd, *extra], cwd=_ROOT, env=_env(), capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd + extra)} failed:\n{proc.stderr[-4000:]}")
    cli_cpu = _children_cpu() - cpu0
    worker_cpu = (_worker_cpu(client) - wcpu0) if client else 0.0
    stats = json.loads((out / "stats.json").read_text())
    return {
        "wall_s": wall,
        "pipeline_wall_s": stats["wall_time_s"],
        "cpu_s": cli_cpu + worker_cpu,
        "cli_cpu_s": cli_cpu,
        "worker_cpu_s": worker_cpu,
        "records": stats["records_in"],
        "tokens_in": stats["tokens_in"],
        "tokens_out": stats["tokens_out"],
        "units": stats["units"],
        "stage_seconds": stats["stage_seconds"],
        "stage_cpu_seconds": stats["stage_cpu_seconds"],
    }


def _files(out: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(out)): p.read_bytes()
        for sub in ("data", "rejects", "tokenizer")
        for p in sorted((out / sub).rglob("*"))
        if p.is_file()
    }


def _best(runs: list[dict]) -> dict:
    return min(runs, key=lambda r: r["wall_s"])


def report_markdown(rep: dict) -> str:
    """The markdown report of the best run of each runner."""
    single, dask = _best(rep["runs"]["single"]), _best(rep["runs"]["dask"])
    w = rep["workers"]
    lines = [
        "# Scale: Dask workers versus the single-process direct runner",
        "",
        f"Measured by `benchmarks/bench_scale.py` on {rep['cpus']} CPUs ({rep['code']}); corpus: {rep['copies']} "
        f"copies of every shard of `{rep['corpus']}` = {single['records']:,} records, {single['tokens_in']:,} tokens "
        f"in {single['units']} work units (default unit sizing); {rep['threads']}; best of {rep['repeats']} "
        "alternating runs each; "
        f"1-minute load average at each run's start: single {rep['start_loads']['single']}, "
        f"dask {rep['start_loads']['dask']}.",
        "",
        f"| | single process (FnApiRunner) | Dask, {w} workers x 1 thread | ratio |",
        "|---|---|---|---|",
        f"| wall time of the CLI (s) | {single['wall_s']:.1f} | {dask['wall_s']:.1f} | "
        f"**{single['wall_s'] / dask['wall_s']:.2f}x** speedup |",
        f"| pipeline wall time, stats.json (s) | {single['pipeline_wall_s']:.1f} | {dask['pipeline_wall_s']:.1f} | "
        f"{single['pipeline_wall_s'] / dask['pipeline_wall_s']:.2f}x |",
        f"| CPU time, all processes (s) | {single['cpu_s']:.1f} | {dask['cpu_s']:.1f} | "
        f"{dask['cpu_s'] / single['cpu_s']:.2f}x |",
        f"| tokens in per wall second | {single['tokens_in'] / single['wall_s']:,.0f} | "
        f"{dask['tokens_in'] / dask['wall_s']:,.0f} | |",
        f"| tokens in per CPU second (= per busy vCPU) | {single['tokens_in'] / single['cpu_s']:,.0f} | "
        f"{dask['tokens_in'] / dask['cpu_s']:,.0f} | |",
        "",
        "Where the time goes (seconds summed over workers, measured inside the DoFns; CPU in brackets):",
        "",
        "| stage | single process | Dask |",
        "|---|---|---|",
    ]
    for s in STAGES:
        lines.append(
            f"| {s} | {single['stage_seconds'][s]:.2f} ({single['stage_cpu_seconds'][s]:.2f}) | "
            f"{dask['stage_seconds'][s]:.2f} ({dask['stage_cpu_seconds'][s]:.2f}) |"
        )
    busy1, busyd = sum(single["stage_seconds"].values()), sum(dask["stage_seconds"].values())
    lines += [
        f"| all stages | {busy1:.2f} | {busyd:.2f} |",
        "",
        f"Single process: of {single['wall_s']:.1f} s of CLI wall time, {busy1:.1f} s are inside the stages and "
        f"{single['wall_s'] - busy1:.1f} s outside (interpreter start, imports, planning from footers, building and "
        f"starting the Beam job, JIT load, finalize). Dask: {busyd:.1f} s of stage time over {w} workers = "
        f"{busyd / w:.1f} s each if perfectly balanced, against {dask['wall_s']:.1f} s of CLI wall time: parallel "
        f"efficiency {busyd / (w * dask['wall_s']):.0%} (the rest: the driver's start-up and planning, task "
        f"scheduling and the shuffle, worker warm-up, the tail where one worker finishes the last unit, finalize).",
    ]
    lines += [
        "",
        f"Dask cluster start-up (scheduler + {w} worker processes, not in the job's time): "
        f"{rep['cluster_start_s']:.1f} s. Outputs of the two runners byte-identical: "
        f"**{'yes' if rep['identical'] else 'NO'}** ({rep['n_files']} files compared).",
        "",
        "## Worker setup (`DoFn.setup`: tokenizer load + codec JIT warm-up), fresh processes",
        "",
        "| | tokenizer load (s) | codec kernels ready (s) | imports (s) |",
        "|---|---|---|---|",
    ]
    for label, s in rep["setup"].items():
        lines.append(f"| {label} | {s['tokenizer_s']:.2f} | {s['jit_s']:.2f} | {s['import_s']:.2f} |")
    hot = rep["setup"].get("warm", next(iter(rep["setup"].values())))["hot_setup_s"]
    lines += [
        f"| hot (a second setup in the same process) | | {hot * 1000:.1f} ms (both) | |",
        "",
        "*cold*: empty `NUMBA_CACHE_DIR`, every kernel compiles (a new worker's first bundle, once per machine "
        "image); *warm*: kernels loaded from Numba's on-disk cache; *hot*: Beam's DaskRunner calls `DoFn.setup` "
        "for every bundle, and the tokenizer (per-process cache) and compiled kernels are reused.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the markdown report, optionally write it."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", default=str(_ROOT.parent / "shared" / "corpus"))
    p.add_argument("--copies", type=int, default=10)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--wait-load", type=float, default=None, metavar="L")
    p.add_argument("--max-wait", type=float, default=300)
    p.add_argument(
        "--one-thread",
        action="store_true",
        help="One thread per process in both runs (--codec-threads 1, RAYON_NUM_THREADS=1 for the tokenizer): the "
        "single process then uses one core and each Dask worker one core, so the speedup is the scaling alone.",
    )
    p.add_argument("--quick", action="store_true", help="One copy, one repeat, no cold JIT: a smoke test.")
    p.add_argument("--out", default=None, help="Write the markdown report here (e.g. benchmarks/results/scale.md).")
    p.add_argument("--json", default=None, help="Write the raw figures here.")
    args = p.parse_args(argv)
    if args.quick:
        args.copies, args.repeats = 1, 1

    import distributed

    extra = []
    if args.one_thread:
        # Set before the cluster starts: its worker processes and every CLI subprocess inherit it.
        os.environ["RAYON_NUM_THREADS"] = "1"
        extra = ["--codec-threads", "1"]
    rep: dict = {
        "corpus": args.corpus,
        "copies": args.copies,
        "workers": args.workers,
        "repeats": args.repeats,
        "cpus": os.cpu_count(),
        "code": code_version(),
        "threads": "one thread per process"
        if args.one_thread
        else "default threads (codec and tokenizer use all CPUs)",
    }
    wait_for_load(args.wait_load, args.max_wait)
    rep["setup"] = measure_setup(cold=not args.quick)
    print("setup:", json.dumps(rep["setup"]), flush=True)

    with tempfile.TemporaryDirectory(prefix="ltsc-scale-") as tmp:
        corpus = Path(tmp) / "in"
        make_corpus(Path(args.corpus), corpus, args.copies)
        t0 = time.perf_counter()
        with (
            distributed.LocalCluster(
                n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            client.wait_for_workers(args.workers)
            rep["cluster_start_s"] = time.perf_counter() - t0
            dask_args = ["--runner", "DaskRunner", "--dask_client_address", cluster.scheduler_address]
            runs: dict[str, list[dict]] = {"single": [], "dask": []}
            loads: dict[str, list[float]] = {"single": [], "dask": []}
            for _ in range(args.repeats):
                for name in ("single", "dask"):
                    loads[name].append(round(wait_for_load(args.wait_load, args.max_wait), 2))
                    out = Path(tmp) / f"out-{name}"
                    r = run_job(
                        corpus,
                        out,
                        [*extra, *(dask_args if name == "dask" else [])],
                        client if name == "dask" else None,
                    )
                    runs[name].append(r)
                    print(f"{name}: wall {r['wall_s']:.1f} s, CPU {r['cpu_s']:.1f} s, stages "
                          f"{ {k: round(v, 2) for k, v in r['stage_seconds'].items()} }", flush=True)  # fmt: skip
            a, b = _files(Path(tmp) / "out-single"), _files(Path(tmp) / "out-dask")
            rep["identical"] = a == b
            rep["n_files"] = len(a)
    rep["runs"] = runs
    rep["start_loads"] = loads
    rep["median_wall_s"] = {k: statistics.median(r["wall_s"] for r in v) for k, v in runs.items()}
    md = report_markdown(rep)
    print(md)
    if args.out:
        Path(args.out).write_text(md)
    if args.json:
        Path(args.json).write_text(json.dumps(rep, indent=2) + "\n")
    return 0 if rep["identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
